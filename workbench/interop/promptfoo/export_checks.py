"""Our assertions written as promptfoo's: each check built and validated, an answer format's own check as the
nearest promptfoo assertion on the gold answer, and the ``__expected`` cell promptfoo's CSV reader
(src/csv.ts) turns back into exactly that assertion (None when no cell can hold it)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from workbench.errors import DataError
from workbench.judging.registry import build_checks

#: Our assertion types promptfoo knows by the same name (with or without ``not-``).
PROMPTFOO_TYPES = frozenset({"equals", "contains", "icontains", "contains-any", "contains-all", "icontains-any",
                             "icontains-all", "starts-with", "regex", "is-json", "contains-json", "levenshtein",
                             "rouge-n", "bleu", "similar", "latency", "llm-rubric", "factuality",
                             "model-graded-closedqa", "answer-relevance"})
#: Types whose cell without ``(threshold)`` gets promptfoo's CSV default threshold (src/csv.ts): written in YAML.
CSV_DEFAULT_THRESHOLD = frozenset({"answer-relevance", "latency", "levenshtein", "rouge-n", "similar"})
#: Types whose cell value is a comma-separated list in promptfoo's CSV reader.
CSV_LIST_TYPES = frozenset({"contains-any", "contains-all", "icontains-any", "icontains-all"})
#: The answer formats' checks (workbench.judging.formats) and the promptfoo assertion written for each.
FORMAT_TYPES = {"number": "regex", "choice": "regex", "yes_no": "icontains", "label": "icontains",
                "exact": "icontains"}
_NUMBER = re.compile(r"\d+(?:\.\d+)?\Z")  # a threshold promptfoo's cell syntax ``type(0.8):`` reads


def format_assertion(kind: str, gold: str, negate: bool = False) -> dict[str, Any]:
    """The promptfoo assertion nearest to an answer format's check of ``gold``: the number standing alone
    (``regex``), the choice letter as a word (``regex``), else the gold text anywhere, case ignored
    (``icontains``).

    >>> format_assertion("number", "4.5"), format_assertion("label", "positive")
    ({'type': 'regex', 'value': '(?<![0-9.])4\\\\.5(?![0-9])'}, {'type': 'icontains', 'value': 'positive'})
    """
    target = FORMAT_TYPES[kind]
    if kind == "number":
        value = r"(?<![0-9.])" + re.escape(gold.strip()) + r"(?![0-9])"
    elif kind == "choice":
        value = r"\b" + re.escape(gold.strip()) + r"\b"
    else:
        value = gold.strip()
    return {"type": ("not-" if negate else "") + target, "value": value}


def promptfoo_assertions(checks: Sequence[Mapping[str, Any] | str], gold: str, where: str) -> list[dict[str, Any]]:
    """``checks`` (as written: dicts or cells) built and validated, then written as promptfoo assertions; an
    answer format's check becomes :func:`format_assertion` of its value or of ``gold``."""
    out = []
    for check in build_checks(checks, where):
        d = check.to_dict()
        base = check.kind.name
        if base in FORMAT_TYPES:
            value = d.get("value")
            d = {**format_assertion(base, gold if value is None else str(value), check.negate),
                 **{k: v for k, v in d.items() if k in ("weight", "metric")}}
        elif base not in PROMPTFOO_TYPES:
            raise DataError(f"{where}: assertion type {check.type!r} has no promptfoo equivalent.")
        out.append(d)
    return out


def assertion_cell(a: Mapping[str, Any]) -> str | None:
    """The ``__expected`` cell promptfoo's CSV reader (src/csv.ts ``assertionFromString``) turns back into exactly
    ``a``; None when a cell cannot hold it.

    >>> assertion_cell({"type": "contains", "value": "Paris"}), assertion_cell({"type": "similar", "value": "x"})
    ('contains: Paris', None)
    >>> assertion_cell({"type": "icontains-any", "value": ["a", "b"]}), assertion_cell({"type": "is-json"})
    ('icontains-any: a,b', 'is-json')
    """
    if set(a) - {"type", "value", "threshold"}:
        return None
    kind, value, threshold = str(a["type"]), a.get("value"), a.get("threshold")
    base = kind.removeprefix("not-")
    head = kind
    if threshold is not None:
        text = repr(float(threshold)) if isinstance(threshold, int | float) else ""
        if not _NUMBER.match(text) or not math.isfinite(float(threshold)):
            return None
        head = f"{kind}({text.removesuffix('.0') if text.endswith('.0') else text})"
    elif base in CSV_DEFAULT_THRESHOLD:
        return None
    if value is None:
        return head
    if base in CSV_LIST_TYPES:
        items = value if isinstance(value, list) else None
        if not items or not all(isinstance(v, str) and v and v == v.strip() and "," not in v for v in items):
            return None
        value = ",".join(items)
    if not isinstance(value, str) or not value or value != value.strip():
        return None
    return f"{head}:{value}" if base == "llm-rubric" and threshold is None else f"{head}: {value}"
