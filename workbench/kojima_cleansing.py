"""Kojima et al.'s ``answer_cleansing``, exactly: the ``kojima`` extraction style of :mod:`workbench.answers`.

A transcription of kojima-takeshi188/zero_shot_cot ``utils.py`` (``answer_cleansing``), with the reference's
dataset families read from our answer formats:

* ``number`` (MultiArith, AddSub, SingleEq, SVAMP, GSM8K): commas removed, candidates ``-?\\d+\\.?\\d*``;
* ``choice`` (AQuA, CommonsenseQA: ``A|B|C|D|E``; Date: ``A|B|C|D|E|F``; object tracking ``A|B|C``): every
  occurrence of one of the item's capital letters, inside words too (the reference's ``re.findall``);
* ``yes_no`` (StrategyQA, coin flip): lower-cased, ``"`` ``'`` newline ``.`` whitespace ``:`` ``,`` turned into
  spaces, split on " ", the words "yes" and "no";
* ``free`` (last letters): ``"`` ``'`` newline ``.`` and whitespace removed, the whole rest is the one candidate;
* ``label`` (no such family in the reference): the yes/no family's rule with the label set in place of
  yes/no (a label of several words matches those words in a row); the label is returned as the set spells it;
  synonyms are not read (the reference has none).

Which candidate (the reference's ``method``): after a prompt that ends with the answer trigger (``zero_shot``,
``zero_shot_cot``) the first one; with a few-shot trigger ("The answer is"), the text is split on it
(case-sensitive, ``str.split``) and the first candidate after its last occurrence wins, the last candidate of
the whole text when it does not occur. Then one trailing "." is dropped. No candidate: None (the reference's "").

    >>> cleanse("Let's see: 1,250.50 dollars, then 3.", "number", trigger="The answer is")
    ('3', 'kojima_last')
    >>> cleanse("Because of that, The answer is (C).", "choice", trigger="The answer is")
    ('C', 'kojima_first_after_trigger')
    >>> cleanse(" Yes. No doubt.", "yes_no", after_trigger=True)
    ('yes', 'kojima_first')
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: The reference's number candidates (after removing every comma).
NUMBER_RE = re.compile(r"-?\d+\.?\d*")
#: The reference's yes/no separators (each becomes a space before splitting on " ").
YES_NO_SEPARATORS = re.compile("\"|'|\n|\\.|\\s|\\:|\\,")
#: The reference's last-letters cleanup (each is removed).
TEXT_REMOVED = re.compile("\"|'|\n|\\.|\\s")


def number_candidates(text: str) -> list[str]:
    """The gsm8k/addsub/multiarith/svamp/singleeq branch.

    >>> number_candidates("-3 apples, 1,000 pears and 8.")
    ['-3', '1000', '8.']
    """
    return NUMBER_RE.findall(text.replace(",", ""))


def choice_candidates(text: str, letters: str) -> list[str]:
    """The aqua/commonsensqa (``A|B|C|D|E``), bigbench_date and object_tracking branches, with the item's letters.

    >>> choice_candidates("Because (D) is wrong", "ABCDE")
    ['B', 'D']
    """
    return re.findall("|".join(re.escape(ch) for ch in letters), text)


def _words(text: str) -> list[str]:
    return YES_NO_SEPARATORS.sub(" ", text.lower()).split(" ")


def yes_no_candidates(text: str) -> list[str]:
    """The strategyqa/coin_flip branch.

    >>> yes_no_candidates('"Yes," he said: no.')
    ['yes', 'no']
    """
    return [w for w in _words(text) if w in ("yes", "no")]


def label_candidates(text: str, labels: Sequence[str]) -> list[str]:
    """The yes/no branch with a label set (our extension: the reference has no label datasets).

    >>> label_candidates("Not negative: very positive.", ["positive", "negative", "very positive"])
    ['negative', 'very positive']
    """
    spelled = sorted(((tuple(w for w in _words(lab) if w), lab) for lab in labels), key=lambda t: -len(t[0]))
    words = [w for w in _words(text) if w]
    out: list[str] = []
    i = 0
    while i < len(words):
        hit = next(((n, lab) for n, lab in spelled if n and tuple(words[i:i + len(n)]) == n), None)
        if hit is None:
            i += 1
            continue
        out.append(hit[1])
        i += len(hit[0])
    return out


def text_candidates(text: str) -> list[str]:
    """The last_letters branch: one candidate, the text without quotes, newlines, full stops and spaces.

    >>> text_candidates(' "n l y e".')
    ['nlye']
    """
    return [TEXT_REMOVED.sub("", text)]


def candidates(text: str, fmt: str, letters: str = "ABCDE", labels: Sequence[str] = ()) -> list[str]:
    """The candidates of the reference's branch for answer format ``fmt`` (an AnswerFormat value)."""
    if fmt == "number":
        return number_candidates(text)
    if fmt == "choice":
        return choice_candidates(text, letters)
    if fmt == "yes_no":
        return yes_no_candidates(text)
    if fmt == "label":
        return label_candidates(text, labels)
    return text_candidates(text)


def cleanse(text: str, fmt: str, letters: str = "ABCDE", labels: Sequence[str] = (),
            trigger: str | None = None, after_trigger: bool = False) -> tuple[str | None, str]:
    """(answer, rule) as ``answer_cleansing`` reads ``text``; the answer is None where the reference gives "".

    ``after_trigger``: the prompt ended with the answer trigger (zero_shot, zero_shot_cot): the first candidate.
    ``trigger``: the few-shot trigger; present -> the first candidate after its last occurrence, absent (or no
    trigger) -> the last candidate.

    >>> cleanse("The answer is 5. The answer is 7.", "number", trigger="The answer is")
    ('7', 'kojima_first_after_trigger')
    >>> cleanse("the answer is 5, then 7", "number", trigger="The answer is")  # case-sensitive
    ('7', 'kojima_last')
    """
    first = after_trigger
    rule = "kojima_first" if after_trigger else "kojima_last"
    if not after_trigger and trigger:
        pieces = text.split(trigger)
        if len(pieces) > 1:
            first, rule = True, "kojima_first_after_trigger"
        text = pieces[-1]
    found = candidates(text, fmt, letters, labels)
    if not found:
        return None, "kojima_none"
    pred = found[0] if first else found[-1]
    if pred != "" and pred[-1] == ".":  # "(For arithmetic tasks) if a word ends with period, it will be omitted"
        pred = pred[:-1]
    return (pred or None), (rule if pred else "kojima_none")
