"""A row's own assertions, pass threshold and human grade, in promptfoo's layouts: CSV columns ``__expected`` /
``__expected1..N`` (a cell such as ``contains: Paris``; a plain value is ``equals``), ``__threshold`` and
``__human``; a JSON/JSONL test case's ``assert`` list (with ``threshold`` and ``human`` beside it) and its
``vars`` object, whose keys are the row's columns.

The assertions are kept as written (cell text or objects): :mod:`workbench.judging` builds and validates them
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
    """A row's assertions, threshold and grade; ``at`` ("file line 3") starts an error line."""
    checks: list[dict[str, Any] | str] = []
    for key, value in row.items():
        if key.startswith(EXPECTED) and value is not None:
            text = value if isinstance(value, str) else str(value)
            if text.strip():
                checks.append(text.strip())
    listed = row.get("assert")
    if listed is not None:
        if not isinstance(listed, list) or not all(isinstance(c, dict | str) for c in listed):
            raise DataError(f"{at}: field 'assert' must be a list of assertions, e.g. "
                            f'[{{"type": "contains", "value": "Paris"}}], not {type(listed).__name__}')
        checks += [c if isinstance(c, str) else dict(c) for c in listed]
    case = listed is not None  # a promptfoo test case: its bare threshold/human fields are read too
    threshold = _threshold(row, THRESHOLD, at) if THRESHOLD in row else (
        _threshold(row, "threshold", at) if case and "threshold" in row else None)
    human = _human(row, HUMAN, at) if HUMAN in row else (_human(row, "human", at) if case and "human" in row
                                                           else None)
    return RowChecks(tuple(checks), threshold, human)


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
        raise DataError(f"{at}: column {column!r} holds {str(value)[:40]!r}, not a pass threshold from 0 to 1")
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
