"""Gold answers and choices in the shapes published benchmark files use: a small registry of
:class:`DatasetShape` objects, each detecting its shape from the data and converting a row into the shared
schema (``question``, ``answer`` and, where the file has them, ``rationale`` and ``choices`` lettered A, B, C...).

A :class:`~workbench.data.mapping.ColumnMapping`'s ``shape`` picks one: ``"auto"`` (the default) takes the first
shape the file's rows fit, a shape's name forces it, ``None`` reads the columns as written. A row the shape cannot
read is one :class:`~workbench.errors.DataError` naming the column and showing the value, so a run whose gold
cannot be read for some item never starts.

    >>> row = {"question": "Janet has 3 eggs and buys 2. How many?", "answer": "3+2 = <<3+2=5>>5\\n#### 5"}
    >>> detect(["question", "answer"], [row]).name
    'gsm8k'
    >>> SHAPES["gsm8k"].convert(row)["answer"], SHAPES["gsm8k"].convert(row)["rationale"]
    ('5', '3+2 = 5')
    >>> SHAPES["aqua"].convert({"question": "q", "options": ["A)21", "B)22"], "correct": "B"})["choices"]
    {'A': '21', 'B': '22'}
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.errors import ConfigError, DataError

if TYPE_CHECKING:
    from workbench.data.examples import Pool
    from workbench.data.files import RawTable

#: Detection looks at the first rows only: a shape is detected when more than half of them fit it.
SAMPLE_ROWS = 100
#: Choice letters, in order.
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: The ``shape`` setting that detects the shape from the data.
AUTO = "auto"

Fields = dict[str, Any]


def _nothing(rows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True)
class DatasetShape:
    """One published file shape: which rows fit it and how a row becomes the shared schema."""

    name: str  # what ``ColumnMapping.shape`` names, e.g. "gsm8k"
    description: str  # one line: the files it reads
    gold: str  # how the gold answer is read, for :func:`describe` ("the number after ####")
    columns: tuple[str, ...]  # columns a row of this shape has (detection needs them all)
    fits: Callable[[Mapping[str, Any]], bool]  # one row looks like this shape
    read: Callable[[Mapping[str, Any], Mapping[str, Any]], Fields]  # (row, survey) -> shared-schema fields;
    # raises DataError naming the column and showing the value
    survey: Callable[[Sequence[Mapping[str, Any]]], Mapping[str, Any]] = _nothing  # facts about the whole file
    # that ``read`` needs (BIG-bench: is the right choice listed first in every row?); default: none

    def detect(self, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> bool:
        """Every column of the shape is there and more than half of the first :data:`SAMPLE_ROWS` rows fit."""
        if not set(self.columns) <= set(columns):
            return False
        sample = rows[:SAMPLE_ROWS]
        return sum(1 for row in sample if self.fits(row)) * 2 > len(sample) > 0

    def convert(self, row: Mapping[str, Any], survey: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``row`` with the shape's fields in the shared schema (its other columns kept), or one DataError."""
        return {**row, **self.read(row, survey or {})}


def shown(value: Any, limit: int = 60) -> str:
    """A value for an error line: its text, cut at ``limit`` characters, quoted.

    >>> shown("a" * 70)
    "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'"
    """
    text = value if isinstance(value, str) else repr(value)
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


def _text(row: Mapping[str, Any], column: str, what: str) -> str:
    value = row.get(column)
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"column {column!r} must hold the {what} as text, not {shown(value)}")
    return value.strip()


def _keep_rationale(row: Mapping[str, Any], rationale: str | None) -> Fields:
    """The shape's rationale unless the row already has its own."""
    own = row.get("rationale")
    if isinstance(own, str) and own.strip():
        return {}
    return {"rationale": rationale or None}


def choice_order(keys: Sequence[str]) -> list[str]:
    """Choice keys in the order A, B, C... (single letters), 1, 2, 3... (numbers), else as first seen.

    >>> choice_order(["C", "A", "E", "B"]), choice_order(["10", "2"]), choice_order(["yes", "no"])
    (['A', 'B', 'C', 'E'], ['2', '10'], ['yes', 'no'])
    """
    keys = list(dict.fromkeys(keys))
    if keys and all(len(k) == 1 and k in LETTERS for k in keys):
        return sorted(keys)
    if keys and all(k.isascii() and k.isdigit() for k in keys):
        return sorted(keys, key=int)
    return keys


# ---- GSM8K -----------------------------------------------------------------------------------------------

#: openai/grade-school-math ``dataset.py``: the final answer is the number after "#### " (commas dropped).
_GSM8K_ANSWER = re.compile(r"#### (\-?[0-9\.\,]+)")
#: Calculator annotations; the GSM8K README: "remove any string that starts with << and ends with >>".
_CALCULATOR = re.compile(r"<<.*?>>", re.DOTALL)


def _gsm8k(row: Mapping[str, Any], survey: Mapping[str, Any]) -> Fields:
    solution = row.get("answer")
    match = _GSM8K_ANSWER.search(solution) if isinstance(solution, str) else None
    gold = match.group(1).replace(",", "").rstrip(".") if match else ""
    if not match or not any(c.isdigit() for c in gold):
        raise DataError(f"column 'answer' has no number after '####' (GSM8K's final answer): {shown(solution)}")
    rationale = _CALCULATOR.sub("", solution[: solution.index("####")]).strip()
    return {"question": _text(row, "question", "question"), "answer": gold, **_keep_rationale(row, rationale)}


# ---- AQuA ------------------------------------------------------------------------------------------------

_OPTION = re.compile(r"^\s*\(?([A-Z])\s*\)\s*(.*)$", re.DOTALL)


def _aqua_fits(row: Mapping[str, Any]) -> bool:
    """Options all lettered ("A)21"); with AQuA's ``correct`` column beside them, any list of option texts fits,
    so an option without its letter is named by :func:`_aqua` rather than the file being read as written."""
    options = row.get("options")
    if not isinstance(options, list) or not options or not all(isinstance(o, str) for o in options):
        return False
    return "correct" in row or all(_OPTION.match(o) for o in options)


def _aqua(row: Mapping[str, Any], survey: Mapping[str, Any]) -> Fields:
    options = row.get("options")
    if not isinstance(options, list) or not options:
        raise DataError(f"column 'options' must be a list such as [\"A)21\", \"B)22\"], not {shown(options)}")
    choices: dict[str, str] = {}
    for option in options:
        m = _OPTION.match(option) if isinstance(option, str) else None
        if m is None:
            raise DataError(f"column 'options' entry {shown(option)} has no letter such as 'A)21' before its "
                            f"text: {shown(options)}")
        if m.group(1) in choices:
            raise DataError(f"column 'options' entry {shown(option)} is not a new letter and text such as 'A)21'")
        choices[m.group(1)] = m.group(2).strip()
    gold = row.get("correct")
    gold = gold.strip().upper() if isinstance(gold, str) else gold
    if gold not in choices:
        raise DataError(f"column 'correct' holds {shown(gold)}, not one of the options' letters "
                        f"{', '.join(choice_order(list(choices)))}")
    rationale = row.get("rationale")
    return {"question": _text(row, "question", "question"), "answer": gold,
            "choices": {k: choices[k] for k in choice_order(list(choices))},
            **_keep_rationale(row, rationale.strip() if isinstance(rationale, str) else None)}


# ---- CommonsenseQA (and ARC / OpenBookQA, which share the layout) ------------------------------------------

#: ARC writes some items' labels as 1-4; lm-evaluation-harness reads them as A-D.
_NUMBER_LETTER = {str(i + 1): LETTERS[i] for i in range(9)}


def _csqa_fits(row: Mapping[str, Any]) -> bool:
    q = row.get("question")
    return isinstance(q, Mapping) and "stem" in q and isinstance(q.get("choices"), list)


def _csqa(row: Mapping[str, Any], survey: Mapping[str, Any]) -> Fields:
    q = row.get("question")
    if not _csqa_fits(row):
        raise DataError(f"column 'question' must be an object with 'stem' and 'choices', not {shown(q)}")
    choices: dict[str, str] = {}
    for c in q["choices"]:
        label = c.get("label") if isinstance(c, Mapping) else None
        text = c.get("text") if isinstance(c, Mapping) else None
        if not isinstance(label, str) or not isinstance(text, str) or not label.strip():
            raise DataError(f"column 'question' has a choice without a label and text: {shown(c)}")
        key = _NUMBER_LETTER.get(label.strip(), label.strip())
        if key in choices:
            raise DataError(f"column 'question' has two choices labelled {key!r} ({shown(choices[key])} and "
                            f"{shown(text)}); give each choice its own label")
        choices[key] = text.strip()
    if "answerKey" not in row:
        raise DataError("column 'answerKey' is missing, so the item has no gold answer (CommonsenseQA's test "
                        "split has none; use the train or dev file)")
    gold = row["answerKey"].strip() if isinstance(row["answerKey"], str) else row["answerKey"]
    gold = _NUMBER_LETTER.get(gold, gold) if isinstance(gold, str) else gold
    if gold not in choices:
        raise DataError(f"column 'answerKey' holds {shown(row['answerKey'])}, not one of the choices' labels "
                        f"{', '.join(choice_order(list(choices)))}")
    stem = q["stem"]
    if not isinstance(stem, str) or not stem.strip():
        raise DataError(f"column 'question' has an empty 'stem': {shown(q)}")
    return {"question": stem.strip(), "answer": gold, "choices": {k: choices[k] for k in choice_order(list(choices))}}


def _hf_fits(row: Mapping[str, Any]) -> bool:
    c = row.get("choices")
    return (isinstance(c, Mapping) and isinstance(c.get("label"), list) and isinstance(c.get("text"), list)
            and "answerKey" in row)


def _hf_mcq(row: Mapping[str, Any], survey: Mapping[str, Any]) -> Fields:
    c = row.get("choices")
    if not _hf_fits(row) or len(c["label"]) != len(c["text"]):
        raise DataError(f"column 'choices' must hold equal 'label' and 'text' lists, not {shown(c)}")
    stem = "question" if isinstance(row.get("question"), str) else "question_stem"  # OpenBookQA's name
    choices = {"question": {"stem": row.get(stem),
                            "choices": [{"label": la, "text": t} for la, t in zip(c["label"], c["text"], strict=True)]},
               "answerKey": row.get("answerKey")}
    try:
        return _csqa(choices, survey)
    except DataError as err:  # the same checks, worded for this layout's columns
        raise DataError(str(err).replace("column 'question' has an empty 'stem'", f"column {stem!r} is empty")
                        .replace("column 'question'", "column 'choices'")) from None


# ---- BIG-bench task.json -----------------------------------------------------------------------------------

def _bigbench_fits(row: Mapping[str, Any]) -> bool:
    return isinstance(row.get("target_scores"), Mapping) or isinstance(row.get("target"), str | list)


def _scores(row: Mapping[str, Any]) -> dict[str, float] | None:
    ts = row.get("target_scores")
    if ts is None:
        return None
    if not isinstance(ts, Mapping) or not ts or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in ts.values()):
        raise DataError(f"column 'target_scores' must map each choice to a number such as 1 or 0, not {shown(ts)}")
    return {str(k): float(v) for k, v in ts.items()}


def _is_yes_no(scores: Mapping[str, float]) -> bool:
    return sorted(k.strip().casefold() for k in scores) == ["no", "yes"]


def _bigbench_survey(rows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """Whether the right choice is listed first in every multiple-choice row (as in BIG-bench's
    date_understanding, where Kojima et al. shuffle the choices "because the original answer is always A")."""
    firsts = []
    for row in rows:
        try:
            scores = _scores(row)
        except DataError:
            continue  # reported when that row is read
        if scores and not _is_yes_no(scores):
            values = list(scores.values())
            firsts.append(values[0] == max(values))
    return {"shuffle": len(firsts) >= 2 and all(firsts)}


def _bigbench(row: Mapping[str, Any], survey: Mapping[str, Any]) -> Fields:
    question = _text(row, "input", "input")
    scores = _scores(row)
    if scores is None:
        target = row.get("target")
        targets = [target] if isinstance(target, str) else target if isinstance(target, list) else []
        first = next((t.strip() for t in targets if isinstance(t, str) and t.strip()), None)
        if first is None:
            raise DataError(f"column 'target' must be the answer text or a list of them, not {shown(target)}")
        return {"question": question, "answer": first}
    top = max(scores.values())
    best = [k for k, v in scores.items() if v == top]
    if len(best) != 1 or top <= 0:
        raise DataError(f"column 'target_scores' must give one choice the highest score, not {shown(scores)}")
    if _is_yes_no(scores):  # StrategyQA: {"Yes": 1, "No": 0} is a yes/no question (Kojima et al.)
        return {"question": question, "answer": best[0].strip().casefold()}
    items = list(scores)
    if len(items) > len(LETTERS):
        raise DataError(f"column 'target_scores' has {len(items)} choices; at most {len(LETTERS)} can be lettered")
    if survey.get("shuffle"):
        seed = int.from_bytes(hashlib.sha256(question.encode("utf-8")).digest()[:8], "big")
        random.Random(seed).shuffle(items)
    choices = {LETTERS[i]: text.strip() for i, text in enumerate(items)}
    return {"question": question, "answer": LETTERS[items.index(best[0])], "choices": choices}


# ---- a choices list with the gold as an index (MMLU, HellaSwag-style label), a letter or the text -------------

def _gold_column(row: Mapping[str, Any]) -> str:
    return "answer" if "answer" in row else "label"


def _list_fits(row: Mapping[str, Any]) -> bool:
    """A choices list is common in other layouts too: a row fits only when its gold reads as one of them."""
    try:
        _choice_list(row, {})
    except DataError:
        return False
    return True


def _choice_list(row: Mapping[str, Any], survey: Mapping[str, Any]) -> Fields:
    choices = row.get("choices")
    if not isinstance(choices, list) or not choices or not all(isinstance(c, str) for c in choices):
        raise DataError(f"column 'choices' must be a list of choice texts, not {shown(choices)}")
    if len(choices) > len(LETTERS):
        raise DataError(f"column 'choices' has {len(choices)} choices; at most {len(LETTERS)} can be lettered")
    column = _gold_column(row)
    gold = row.get(column)
    letters = LETTERS[: len(choices)]
    index: int | None = None
    if isinstance(gold, int) and not isinstance(gold, bool):
        index = gold
    elif isinstance(gold, str) and gold.strip() in [c.strip() for c in choices]:
        index = [c.strip() for c in choices].index(gold.strip())
    elif isinstance(gold, str) and len(gold.strip()) == 1 and gold.strip() in letters:
        index = letters.index(gold.strip())
    elif isinstance(gold, str) and gold.strip().isascii() and gold.strip().isdigit():
        index = int(gold.strip())
    if index is None or not 0 <= index < len(choices):
        raise DataError(f"column {column!r} holds {shown(gold)}, which is not an index 0-{len(choices) - 1}, a "
                        f"letter {letters[0]}-{letters[-1]} or one of the choices")
    return {"question": _text(row, "question", "question"), "answer": letters[index],
            "choices": {letters[i]: c.strip() for i, c in enumerate(choices)}}


# ---- booleans for yes/no (StrategyQA, BoolQ) -----------------------------------------------------------------

def _boolean(row: Mapping[str, Any], survey: Mapping[str, Any]) -> Fields:
    gold = row.get("answer")
    if not isinstance(gold, bool):
        raise DataError(f"column 'answer' holds {shown(gold)}, not true or false")
    return {"answer": "yes" if gold else "no"}


#: Every shape by name, in detection order (the more specific first).
SHAPES: dict[str, DatasetShape] = {s.name: s for s in (
    DatasetShape("commonsenseqa", "CommonsenseQA's official JSONL (also ARC, OpenBookQA): question.stem, "
                 "question.choices [{label, text}], answerKey", "the answerKey letter; choices from question.choices",
                 ("question",), _csqa_fits, _csqa),
    DatasetShape("hf-mcq", "Hugging Face CommonsenseQA / ARC / OpenBookQA: question (or question_stem), choices "
                 "{label: [...], text: [...]}, answerKey", "the answerKey letter; choices from the label and text "
                 "lists", ("choices", "answerKey"), _hf_fits, _hf_mcq),
    DatasetShape("aqua", "AQuA-RAT: question, options [\"A)21\", ...], rationale, correct",
                 "the correct letter; choices from options", ("question", "options"), _aqua_fits, _aqua),
    DatasetShape("gsm8k", "GSM8K: question, answer = a worked solution ending '#### 18'",
                 "the number after ####; the solution before it is the rationale", ("question", "answer"),
                 lambda row: isinstance(row.get("answer"), str) and "####" in row["answer"], _gsm8k),
    DatasetShape("bigbench", "BIG-bench task.json examples: input with target_scores {choice: 1/0} or target",
                 "the choice scoring 1 (Yes/No scores: yes or no), else the target text", ("input",),
                 _bigbench_fits, _bigbench, _bigbench_survey),
    DatasetShape("choice-list", "a choices list and the gold as an index, letter or text (MMLU: integer answer; "
                 "integer label)", "the choice the answer (or label) names", ("choices",), _list_fits, _choice_list),
    DatasetShape("boolean", "true/false answers (StrategyQA, BoolQ)", "yes for true, no for false", ("answer",),
                 lambda row: isinstance(row.get("answer"), bool), _boolean),
)}


def check_name(shape: str | None) -> str | None:
    """A ``shape`` setting checked: ``"auto"``, a shape's name, or None (``"none"``/``"off"`` mean None)."""
    if shape is None or shape.strip().lower() in ("none", "off", ""):
        return None
    name = shape.strip().lower()
    if name != AUTO and name not in SHAPES:
        raise ConfigError(f"Unknown dataset shape {shape!r}; use auto, none or one of {', '.join(SHAPES)}.")
    return name


def detect(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> DatasetShape | None:
    """The first shape the rows fit, or None (the columns are read as written)."""
    return next((s for s in SHAPES.values() if s.detect(columns, rows)), None)


def resolve(shape: str | None, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> DatasetShape | None:
    """The shape a setting picks for these rows: detected (``"auto"``), forced (a name) or none."""
    name = check_name(shape)
    if name is None:
        return None
    if name == AUTO:
        return detect(columns, rows)
    return SHAPES[name]


def describe(data: Pool | RawTable) -> str:
    """One line for the page and the CLI: how the gold answers are read, and what else was found.

    A pool says what its shape read; a raw table (before mapping) says which shape it looks like.
    """
    if hasattr(data, "examples"):
        examples = data.examples
        shape = SHAPES.get(data.shape or "")
        rationales = sum(1 for ex in examples if (ex.rationale or "").strip())
        choices = sum(1 for ex in examples if ex.choices)
        no_gold = sum(1 for ex in examples if not ex.answer)
        gold = f"{shape.name}: gold = {shape.gold}" if shape else "gold as written in the answer column"
        if no_gold == len(examples) and examples:
            gold = "no gold answers: each item is judged by its own assertions"
        parts = [gold, f"{rationales:,} rationale{'s' if rationales != 1 else ''} found"]
        if choices:
            parts.append(f"choices shown for {choices:,} item{'s' if choices != 1 else ''}")
        return "; ".join(parts)
    shape = detect(data.columns, data.rows)
    if shape is None:
        return "no dataset shape detected: the columns are read as mapped"
    return f"looks like {shape.name} ({shape.description}): gold = {shape.gold}"
