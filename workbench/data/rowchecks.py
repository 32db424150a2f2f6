"""A row's own assertions, pass threshold and human grade, in promptfoo's layouts: CSV columns ``__expected`` /
``__expected1..N`` (a cell such as ``contains: Paris``; a plain value is ``equals``), ``__threshold`` and
``__human``; a JSON/JSONL test case's ``assert`` list (with ``threshold`` and ``human`` beside it) and its
``vars`` object, whose keys are the row's columns.

The assertions are kept as written (cell text or objects) but each is rendered as promptfoo renders it (a template over
the row's own columns) at load (:func:`fill_placeholders`); :mod:`workbench.judging` builds and validates them
before any model call (``workbench.data`` knows no assertion types). Everything else here is checked at load,
one line naming the file, the row and the column.

    >>> read_row_checks({"question": "Capital of France?", "__expected": "icontains: paris", "__human": "pass"}, "f")
    RowChecks(checks=('icontains: paris',), threshold=None, human=True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.errors import DataError

#: promptfoo's CSV columns holding a row's assertions: ``__expected``, ``__expected1``, ... (any name so starting).
EXPECTED = "__expected"
#: The ``__`` columns read besides ``__expected*``.
THRESHOLD, HUMAN = "__threshold", "__human"
#: promptfoo's ``__`` columns that only describe a test case: skipped.
IGNORED = ("__description", "__metadata")
#: The words a human grade may be written in (case ignored).
HUMAN_WORDS = {"true": True, "pass": True, "1": True, "yes": True,
               "false": False, "fail": False, "0": False, "no": False}
#: Fields of a row that belong to its judging, never an input column.
FIELDS = ("assert", "threshold", "human", "vars")
#: The placeholder kept as written when the row has no column of that name: the judging side reads it as the
#: item's gold answer.
GOLD_PLACEHOLDER = "expected"


@dataclass(frozen=True)
class RowChecks:
    """What one row says about its own judging."""

    checks: tuple[dict[str, Any] | str, ...] = ()  # assertions as written; () when the row has none
    threshold: float | None = None  # pass threshold on the weighted score; None: every check must pass
    human: bool | None = None  # a person's pass/fail grade of the expected output; None: not graded


def flatten_vars(row: Mapping[str, Any]) -> Mapping[str, Any]:
    """A promptfoo test case ``{"vars": {...}, "assert": [...]}`` -> its vars as columns beside its other fields.

    >>> flatten_vars({"vars": {"question": "2+2?"}, "assert": []})
    {'question': '2+2?', 'assert': []}
    """
    inner = row.get("vars")
    if not isinstance(inner, Mapping):
        return row
    return {**inner, **{k: v for k, v in row.items() if k != "vars"}}


def carries_checks(columns: Sequence[str]) -> bool:
    """The file holds per-row assertions (``__expected*`` columns or an ``assert`` field)."""
    return any(c.startswith(EXPECTED) or c == "assert" for c in columns)


def check_columns(filename: str, columns: Sequence[str]) -> None:
    """Refuse a promptfoo ``__`` column the workbench does not read (it would change what is asked or judged)."""
    for c in columns:
        if c.startswith("__") and not (c.startswith(EXPECTED) or c in (THRESHOLD, HUMAN) or c.startswith(IGNORED)):
            raise DataError(f"{filename}: column {c!r} is a promptfoo option the workbench does not read; remove it "
                            "(read: __expected, __expected1.., __threshold, __human; skipped: __description, "
                            "__metadata)")


def input_column(columns: Sequence[str]) -> str | None:
    """The input of a file of test cases without a ``question`` column: ``input``, else the first column that is
    neither a ``__`` column nor a judging field nor a schema field (promptfoo names template variables freely).

    >>> input_column(["topic", "__expected"]), input_column(["id", "input", "text"])
    ('topic', 'input')
    """
    if "input" in columns:
        return "input"
    skip = {*FIELDS, "id", "answer", "rationale", "label", "choices"}
    return next((c for c in columns if not c.startswith("__") and c not in skip), None)


def read_row_checks(row: Mapping[str, Any], at: str) -> RowChecks:
    """A row's assertions (placeholders filled from its columns), threshold and grade; ``at`` ("file line 3")
    starts an error line.

    >>> read_row_checks({"vars": {"city": "Paris"}, "assert": [{"type": "icontains", "value": "{{city}}"}]}, "f")
    RowChecks(checks=({'type': 'icontains', 'value': 'Paris'},), threshold=None, human=None)
    """
    row = flatten_vars(row)
    checks: list[dict[str, Any] | str] = []
    for key, value in row.items():
        if key.startswith(EXPECTED) and value is not None:
            text = value if isinstance(value, str) else str(value)
            if text.strip():
                checks.append(fill_placeholders(text.strip(), row, at))
    listed = row.get("assert")
    if listed is not None:
        if not isinstance(listed, list) or not all(isinstance(c, dict | str) for c in listed):
            raise DataError(f"{at}: field 'assert' must be a list of assertions, e.g. "
                            f'[{{"type": "contains", "value": "Paris"}}], not {type(listed).__name__}')
        checks += [fill_placeholders(c, row, at) if isinstance(c, str) else _filled(c, row, at) for c in listed]
    case = listed is not None  # a promptfoo test case: its bare threshold/human fields are read too
    threshold = _threshold(row, THRESHOLD, at) if THRESHOLD in row else (
        _threshold(row, "threshold", at) if case and "threshold" in row else None)
    human = _human(row, HUMAN, at) if HUMAN in row else (_human(row, "human", at) if case and "human" in row
                                                           else None)
    return RowChecks(tuple(checks), threshold, human)


def fill_placeholders(text: str, row: Mapping[str, Any], at: str) -> str:
    """``text`` rendered as a template with the row's columns, as promptfoo renders an assertion's value with the
    test's vars (Nunjucks: filters, blocks, dotted names into an object column), through the one sandbox
    (:func:`workbench.sandbox.render_text`). ``{{expected}}`` is kept as written when the row has no such column
    (the gold answer, read when judging); any other unknown name is one line naming the row and the placeholder
    and listing the row's columns. A CSV cell is rendered whole: its ``type:`` part holds no braces.

    >>> row = {"city": "Paris", "place": {"name": "Louvre"}, "n": 3}
    >>> fill_placeholders("{{ place.name }} is in {{city | upper}} ({{n}}); gold {{expected}}", row, "f line 2")
    'Louvre is in PARIS (3); gold {{expected}}'
    >>> fill_placeholders("{% if city %}{{ city|lower }}{% endif %}", row, "f line 2")
    'paris'
    >>> fill_placeholders("{{town}}", row, "f line 2")
    Traceback (most recent call last):
    workbench.errors.DataError: f line 2: an assertion names {{town}}, which is not a column of this row (columns: city, place, n)
    """
    from workbench.errors import PromptError
    from workbench.sandbox import render_text, variables

    if not any(tag in text for tag in ("{{", "{%", "{#")):
        return text
    columns = [k for k in row if not k.startswith("__") and k not in FIELDS]
    try:
        unknown = [n for n in variables(text, "assertion") if n not in columns and n != GOLD_PLACEHOLDER]
        if unknown:
            raise DataError(f"{at}: an assertion names {{{{{unknown[0]}}}}}, which is not a column of this row "
                            f"(columns: {', '.join(columns) or 'none'})")
        values = {c: "" if row[c] is None else row[c] for c in columns}  # a null var renders empty, as in Nunjucks
        values.setdefault(GOLD_PLACEHOLDER, "{{" + GOLD_PLACEHOLDER + "}}")
        return render_text(text, values, "assertion")
    except PromptError as err:
        raise DataError(f"{at}: {str(err).splitlines()[0]}") from None


def _filled(check: Mapping[str, Any], row: Mapping[str, Any], at: str) -> dict[str, Any]:
    """An assertion object with placeholders filled in its ``value`` (text, or the texts of a list) only."""
    out = dict(check)
    value = out.get("value")
    if isinstance(value, str):
        out["value"] = fill_placeholders(value, row, at)
    elif isinstance(value, list):
        out["value"] = [fill_placeholders(v, row, at) if isinstance(v, str) else v for v in value]
    return out


def _threshold(row: Mapping[str, Any], column: str, at: str) -> float | None:
    value = row.get(column)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or not 0 <= number <= 1:
        shown = repr(value[:40]) if isinstance(value, str) else repr(value)[:40]
        # worded as workbench.judging.verdicts.check_threshold (workbench.data may not import workbench.judging)
        raise DataError(f"{at}: column {column!r}: the pass threshold must be a number from 0 to 1, not {shown}.")
    return number


def _human(row: Mapping[str, Any], column: str, at: str) -> bool | None:
    value = row.get(column)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return value
    key = str(value).strip().casefold()
    if isinstance(value, int | float | str) and key in HUMAN_WORDS:
        return HUMAN_WORDS[key]
    raise DataError(f"{at}: column {column!r} holds {str(value)[:40]!r}; grade the row pass or fail (also "
                    "true/false, yes/no, 1/0)")
