"""Answer extraction, normalisation, majority vote and accuracy intervals.

Two named extraction styles (:data:`EXTRACTION_STYLES`; ``extract(..., style=...)``, ``--extract``):

* ``lenient`` (the default) -- the workbench's own reading, shaped like Kojima et al.'s (2022) cleansing but
  forgiving: the trigger is found in any case; when it occurs, the first candidate after its last occurrence,
  otherwise explicit patterns fire first ("answer is C", a leading "Yes,", a bracketed "(C)"), then the last
  candidate (a label answer: the first label found); candidates must be whole tokens ("B" in "Because" is not
  a choice); numbers are canonical ('1,250.50' -> '1250.5') and compared numerically, labels and yes/no
  case-insensitively.
* ``kojima`` -- Kojima et al.'s ``answer_cleansing`` exactly (:mod:`workbench.kojima_cleansing`): the same
  regexes per dataset family, the first candidate after the trigger (split case-sensitively) or after a prompt
  ending with it, else the last, one trailing "." dropped; the answer is compared with the gold one as the
  reference does (the same string).

Every :class:`Extraction` names the rule that fired, so a record can show why an item was marked wrong.

    >>> extract("I have 3 apples and 5 pears, so 8", AnswerFormat.NUMBER).answer
    '8'
    >>> extract_number("The answer is $1,250.50.")
    '1250.5'
    >>> extract("Because (C) fits", "choice", after_trigger=True, style="kojima").answer  # Kojima's A|B|C|D|E
    'B'
    >>> extract("Because (C) fits", "choice", after_trigger=True).answer
    'C'
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from workbench.errors import ConfigError


class AnswerFormat(StrEnum):
    """What kind of answer a dataset expects; picks the extraction rules."""

    NUMBER = "number"
    YES_NO = "yes_no"
    CHOICE = "choice"
    LABEL = "label"
    FREE = "free"


#: Kojima et al.'s answer-extraction triggers (second prompt of Zero-shot-CoT), per format.
ANSWER_TRIGGERS: dict[AnswerFormat, str] = {
    AnswerFormat.NUMBER: "Therefore, the answer (arabic numerals) is",
    AnswerFormat.CHOICE: "Therefore, among A through E, the answer is",
    AnswerFormat.YES_NO: "Therefore, the answer (Yes or No) is",
    AnswerFormat.LABEL: "Therefore, the answer is",
    AnswerFormat.FREE: "Therefore, the answer is",
}

#: Kojima et al.'s few-shot trigger: demonstrations end with "The answer is X."
FEW_SHOT_TRIGGER = "The answer is"


def answer_trigger(fmt: AnswerFormat | str, letters: str | None = None, direct: bool = False) -> str:
    """Kojima et al.'s answer trigger for a format, with the item's own choice letters.

    ``direct=False``: Zero-shot-CoT's answer step ("Therefore, the answer (arabic numerals) is");
    ``direct=True``: the direct zero-shot baseline, Kojima's same trigger without "Therefore, ".

    >>> answer_trigger("choice", "ABC")
    'Therefore, among A through C, the answer is'
    >>> answer_trigger("number", direct=True)
    'The answer (arabic numerals) is'
    """
    fmt = AnswerFormat(fmt)
    trigger = ANSWER_TRIGGERS[fmt]
    if fmt is AnswerFormat.CHOICE and letters:
        _letters_class(letters)  # capital letters only
        trigger = f"Therefore, among {letters[0]} through {letters[-1]}, the answer is"
    if direct:
        rest = trigger.removeprefix("Therefore, ")
        trigger = rest[0].upper() + rest[1:]
    return trigger

#: Default multiple-choice letters (CommonsenseQA, AQuA).
DEFAULT_LETTERS = "ABCDE"


@dataclass(frozen=True)
class Extraction:
    """The raw model output, the extracted answer (None when nothing matched) and the rule that fired."""

    raw: str
    answer: str | None
    rule: str


@dataclass(frozen=True)
class Vote:
    """Result of a majority vote over sampled answers (self-consistency)."""

    winner: Hashable | None
    counts: tuple[tuple[Hashable, int], ...]  # (answer, count), by count desc then first appearance
    agreement: float  # winner count / number of non-None answers; 0.0 when there were none


# --------------------------------------------------------------------------- helpers

def _after_trigger(text: str, trigger: str | None) -> str | None:
    """Text after the LAST occurrence of ``trigger`` (case-insensitive), or None when absent.

    The search runs on the original text, so a character whose lower case is longer does not move the cut:

    >>> _after_trigger("İİ. The answer is 17.", "The answer is")
    ' 17.'
    """
    if not trigger or not trigger.strip():
        return None
    found = list(re.finditer(re.escape(trigger.strip()), text, re.IGNORECASE))
    return text[found[-1].end():] if found else None


# A number: optional minus sign (not right after a word, so "5-3" is not "-3"), optional "$",
# then thousands groups ("1,250"), a plain integer/decimal, or a bare decimal (".5").
_NUMBER_RE = re.compile(
    r"(?<![\w.])(?P<sign>[-\u2212])?\$?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
)
_NUMBER_ONLY_RE = re.compile(
    r"^\s*(?P<sign>[-\u2212])?\s*\$?\s*"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)\s*%?\s*\.?\s*$"
)


def _canonical_number(sign: str | None, digits: str) -> str | None:
    """'1,250.50' -> '1250.5', '8.00' -> '8', '-0' -> '0'; None when not a number."""
    try:
        value = Decimal(digits.replace(",", ""))
    except InvalidOperation:
        return None
    if sign:
        value = -value
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def _numbers(text: str) -> list[str]:
    return [n for m in _NUMBER_RE.finditer(text) if (n := _canonical_number(m["sign"], m["num"])) is not None]


def _whole_number(answer: str) -> str | None:
    """Canonical number when the whole answer is one number ('$1,250.50' -> '1250.5'), else None."""
    m = _NUMBER_ONLY_RE.match(answer)
    return None if m is None else _canonical_number(m["sign"], m["num"])


# --------------------------------------------------------------------------- numbers

def _number(text: str, tail: str | None) -> tuple[str | None, str]:
    if tail is not None and (found := _numbers(tail)):
        return found[0], "first_number_after_trigger"
    found = _numbers(text)
    if found:
        return found[-1], "last_number"
    return None, "no_number"


def extract_number(text: str, mode: str = "last", trigger: str | None = None) -> str | None:
    """The answer number, canonical ('1,250.50' -> '1250.5', '8.00' -> '8').

    ``mode="last"``: the last number in the text. ``mode="first_after_trigger"``: the
    first number after the last occurrence of ``trigger`` (the whole text when
    ``trigger`` is None); falls back to the last number when the trigger is absent.
    """
    if mode not in ("last", "first_after_trigger"):
        raise ConfigError(f"Unknown number mode {mode!r}; use 'last' or 'first_after_trigger'.")
    if mode == "last":
        return _number(text, None)[0]
    # No trigger given: the text itself is the continuation after a trigger (Kojima's second step).
    return _number(text, text if trigger is None else _after_trigger(text, trigger))[0]


# --------------------------------------------------------------------------- yes / no

_YES_NO_WORD = re.compile(r"(?<![a-z])(yes|no)(?![a-z])", re.IGNORECASE)
_YES_NO_PHRASE = re.compile(r"answer\s*(?:is|:|would be|will be)\s*[\"'*(]*\s*(yes|no)(?![a-z])", re.IGNORECASE)
_YES_NO_LEADING = re.compile(r"^\W*(yes|no)(?![a-z])", re.IGNORECASE)


def _yes_no(text: str, tail: str | None) -> tuple[str | None, str]:
    if tail is not None and (m := _YES_NO_WORD.search(tail)):
        return m[1].lower(), "yes_no_after_trigger"
    phrases = _YES_NO_PHRASE.findall(text)
    if phrases:
        return phrases[-1].lower(), "answer_phrase"
    if m := _YES_NO_LEADING.match(text):
        return m[1].lower(), "leading_yes_no"
    words = _YES_NO_WORD.findall(text)
    if words:
        return words[-1].lower(), "last_yes_no"
    return None, "no_yes_no"


def extract_yes_no(text: str, trigger: str | None = None) -> str | None:
    """'yes' or 'no': after the trigger, else "answer is X", else a leading Yes/No, else the last one."""
    return _yes_no(text, _after_trigger(text, trigger))[0]


# --------------------------------------------------------------------------- choices

#: Words after a capital "A" that still make it a choice ("A is correct"), not the article ("A bank").
_A_NOT_ARTICLE = frozenset({"is", "was", "because", "since", "seems", "would", "and", "or"})


def _letters_class(letters: str) -> str:
    if not letters or not all(ch.isalpha() and ch.isupper() for ch in letters):
        raise ConfigError(f"Choice letters must be capital letters such as 'ABCDE', not {letters!r}.")
    return "[" + re.escape(letters) + "]"


def _standalone_letters(text: str, letters: str) -> list[str]:
    """Capital choice letters that stand alone (not inside a word, not the article 'A')."""
    out = []
    for m in re.finditer(rf"(?<![A-Za-z]){_letters_class(letters)}(?![A-Za-z'’])", text):
        letter = m[0]
        if letter == "A":
            nxt = re.match(r"\s+([a-z]+)", text[m.end():])
            if nxt and nxt[1] not in _A_NOT_ARTICLE:
                continue
        out.append(letter)
    return out


def _choice(text: str, tail: str | None, letters: str) -> tuple[str | None, str]:
    cls = _letters_class(letters)
    if tail is not None:
        found = _standalone_letters(tail, letters)
        if found:
            return found[0], "choice_after_trigger"
    # "answer" in any case, the letter itself capital only ("the answer is a bank" names no choice).
    phrase = re.findall(
        rf"(?i:answer\s*(?:is|:|would be|will be|should be)?\s*(?:option|choice)?)\s*[\"'*(\[]*({cls})(?![A-Za-z])",
        text,
    )
    if phrase:
        return phrase[-1], "answer_phrase"
    if m := re.match(rf"^[\s\"'*(\[]*({cls})(?:[).:\]]|\s*$)", text):
        return m[1], "leading_letter"
    bracketed = re.findall(rf"\(({cls})\)", text)
    if bracketed:
        return bracketed[-1], "bracketed_letter"
    found = _standalone_letters(text, letters)
    if found:
        return found[-1], "last_letter"
    return None, "no_choice"


def extract_choice(text: str, letters: str = DEFAULT_LETTERS, trigger: str | None = None) -> str | None:
    """A choice letter: after the trigger, "answer is C", a leading "C." / "(C)", the last "(C)", the last lone C."""
    return _choice(text, _after_trigger(text, trigger), letters)[0]


# --------------------------------------------------------------------------- labels

def _label(
    text: str, tail: str | None, labels: Sequence[str], synonyms: Mapping[str, str] | None
) -> tuple[str | None, str]:
    if not labels:
        raise ConfigError("A label answer format needs at least one label; set the dataset's labels.")
    canon = {lab.casefold(): lab for lab in labels}
    words = dict(canon)
    for word, label in (synonyms or {}).items():
        if label.casefold() not in canon:
            raise ConfigError(f"Synonym {word!r} maps to {label!r}, which is not one of the labels {list(labels)}.")
        words.setdefault(word.casefold(), canon[label.casefold()])
    # Longest words first so "very positive" wins over "positive" at the same position.
    alternation = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    pattern = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", re.IGNORECASE)

    if tail is not None and (m := pattern.search(tail)):
        return words[m[0].casefold()], "label_after_trigger"
    if m := pattern.search(text):
        return words[m[0].casefold()], "first_label"
    return None, "no_label"


def extract_label(
    text: str, labels: Sequence[str], synonyms: Mapping[str, str] | None = None, trigger: str | None = None
) -> str | None:
    """The first label (or synonym, mapped to its label) that appears as a whole word, case-insensitive."""
    return _label(text, _after_trigger(text, trigger), labels, synonyms)[0]


# --------------------------------------------------------------------------- free text

_STRIP_CHARS = " \t\"'`*_:"


def _clean(text: str) -> str:
    """Without surrounding quotes, markdown emphasis and a trailing full stop."""
    return text.strip(_STRIP_CHARS).rstrip(".!").strip(_STRIP_CHARS)


def _free(text: str, tail: str | None) -> tuple[str | None, str]:
    for source, rule in ((tail, "free_after_trigger"), (text, "free_first_line")):
        for line in (source or "").splitlines():
            answer = _clean(line)
            if answer:
                return answer, rule
    return None, "no_text"


def extract_free_text(text: str, trigger: str | None = None) -> str | None:
    """The first non-empty line (after the trigger when present), without quotes and trailing period."""
    return _free(text, _after_trigger(text, trigger))[0]


# --------------------------------------------------------------------------- dispatch

def _lenient(text: str, fmt: AnswerFormat, labels: Sequence[str] | str | None, trigger: str | None,
             synonyms: Mapping[str, str] | None, after_trigger: bool) -> tuple[str | None, str]:
    tail = text if after_trigger else _after_trigger(text, trigger)
    if fmt is AnswerFormat.NUMBER:
        return _number(text, tail)
    if fmt is AnswerFormat.YES_NO:
        return _yes_no(text, tail)
    if fmt is AnswerFormat.CHOICE:
        return _choice(text, tail, "".join(labels) if labels else DEFAULT_LETTERS)
    if fmt is AnswerFormat.LABEL:
        return _label(text, tail, list(labels or ()), synonyms)
    return _free(text, tail)


def _kojima(text: str, fmt: AnswerFormat, labels: Sequence[str] | str | None, trigger: str | None,
            synonyms: Mapping[str, str] | None, after_trigger: bool) -> tuple[str | None, str]:
    from workbench.kojima_cleansing import cleanse

    letters = "".join(labels) if labels and fmt is AnswerFormat.CHOICE else DEFAULT_LETTERS
    if fmt is AnswerFormat.CHOICE:
        _letters_class(letters)  # capital letters only
    names = list(labels or ()) if fmt is AnswerFormat.LABEL else []
    if fmt is AnswerFormat.LABEL and not names:
        raise ConfigError("A label answer format needs at least one label; set the dataset's labels.")
    return cleanse(text, fmt.value, letters, names, trigger, after_trigger)


def _same_string(pred: str, gold: str, fmt: AnswerFormat) -> bool:
    return pred == gold.strip()  # Kojima's main.py: np.array([pred]) == np.array([y]), y stripped


def _normalised(pred: str, gold: str, fmt: AnswerFormat) -> bool:
    if fmt is AnswerFormat.NUMBER:
        p, g = _whole_number(pred), _whole_number(gold)
        if p is not None and g is not None:
            return Decimal(p) == Decimal(g)
    return normalise(pred, fmt) == normalise(gold, fmt)


@dataclass(frozen=True)
class ExtractionStyle:
    """A named way to read an answer from a model's output and compare it with the gold answer."""

    name: str  # the registry key: ``--extract NAME``, ``extract(..., style=NAME)``, a run's manifest
    description: str  # one line for help texts, the README and the Evaluate page
    read: Callable[..., tuple[str | None, str]]  # (text, fmt, labels, trigger, synonyms, after_trigger) -> (answer, rule)
    same: Callable[[str, str, AnswerFormat], bool]  # (pred, gold, fmt) -> whether the answer is right


#: The extraction styles by name; ``lenient`` is the default.
EXTRACTION_STYLES: dict[str, ExtractionStyle] = {
    s.name: s for s in (
        ExtractionStyle("lenient", "the workbench's reading: whole-token candidates, explicit patterns first, "
                        "numbers compared numerically", _lenient, _normalised),
        ExtractionStyle("kojima", "Kojima et al.'s answer_cleansing exactly (zero_shot_cot utils.py): the same "
                        "regexes, first after the trigger else last, compared as the same string", _kojima,
                        _same_string),
    )
}
#: The style used when none is named.
DEFAULT_STYLE = "lenient"


def extraction_style(name: str | None) -> ExtractionStyle:
    """The registered style ``name`` (None: the default); an unknown name is one ConfigError line.

    >>> extraction_style("kojima").name
    'kojima'
    >>> extraction_style("strict")
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: Unknown extraction style 'strict'; use one of: lenient, kojima.
    """
    style = EXTRACTION_STYLES.get(DEFAULT_STYLE if name is None else name)
    if style is None:
        raise ConfigError(f"Unknown extraction style {name!r}; use one of: {', '.join(EXTRACTION_STYLES)}.")
    return style


def extract(
    text: str,
    fmt: AnswerFormat | str,
    labels: Sequence[str] | str | None = None,
    trigger: str | None = None,
    synonyms: Mapping[str, str] | None = None,
    after_trigger: bool = False,
    style: str = DEFAULT_STYLE,
) -> Extraction:
    """Extract an answer of format ``fmt`` and record which rule fired.

    ``labels`` is the label set for LABEL and the letters for CHOICE (default "ABCDE").
    With a ``trigger`` found in the text, the first candidate after its last occurrence
    wins; without one, format rules apply and the last candidate wins.
    ``after_trigger=True`` says the prompt ended with the trigger, so the whole output
    follows it (Zero-shot-CoT's answer step): the first candidate wins.
    ``style`` names an :data:`EXTRACTION_STYLES` entry ("lenient" or "kojima").
    """
    reader = extraction_style(style).read
    answer, rule = reader(text, AnswerFormat(fmt), labels, trigger, synonyms, after_trigger)
    return Extraction(raw=text, answer=answer, rule=rule)


def normalise(answer: str | None, fmt: AnswerFormat | str) -> str | None:
    """Canonical form for comparison: numbers as '1250.5', yes/no and labels casefolded, letters upper-case."""
    if answer is None:
        return None
    fmt = AnswerFormat(fmt)
    text = str(answer).strip()
    if fmt is AnswerFormat.NUMBER:
        canon = _whole_number(text)
        return text if canon is None else canon
    if fmt is AnswerFormat.CHOICE:
        return text.strip("()[]. :").upper()
    stripped = " ".join(_clean(text).split())
    return stripped.casefold()


def is_correct(pred: str | None, gold: str | None, fmt: AnswerFormat | str, style: str = DEFAULT_STYLE) -> bool:
    """True when ``pred`` matches ``gold`` as ``style`` compares: ``lenient`` after normalisation (numbers
    numerically, '8.0' == '8'); ``kojima`` the same string (gold stripped), as the reference.

    >>> is_correct("8.0", "8", "number"), is_correct("8.0", "8", "number", style="kojima")
    (True, False)
    """
    if pred is None or gold is None:
        return False
    return extraction_style(style).same(str(pred), str(gold), AnswerFormat(fmt))


# --------------------------------------------------------------------------- aggregation

def majority_vote(answers: Iterable[Hashable | None]) -> Vote:
    """Most frequent non-None answer; ties go to the answer that appeared first."""
    counts: dict[Hashable, int] = {}
    for a in answers:
        if a is not None:
            counts[a] = counts.get(a, 0) + 1  # dicts keep first-appearance order
    if not counts:
        return Vote(winner=None, counts=(), agreement=0.0)
    ranked = tuple(sorted(counts.items(), key=lambda kv: -kv[1]))  # stable: ties keep first appearance
    winner, top = ranked[0]
    return Vote(winner=winner, counts=ranked, agreement=top / sum(counts.values()))


def wilson_interval(correct: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for an accuracy of correct/total (z=1.96: 95%); (0, 1) when total is 0."""
    if total < 0 or correct < 0 or correct > total:
        raise ValueError(f"need 0 <= correct <= total, got correct={correct}, total={total}")
    if total == 0:
        return 0.0, 1.0
    p = correct / total
    z2 = z * z
    denom = 1 + z2 / total
    centre = (p + z2 / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
