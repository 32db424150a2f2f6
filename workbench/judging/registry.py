"""Every way of judging an output, by name: :data:`JUDGES` (the registry), :func:`register_judge` (one line per
kind), and :func:`build_check` -- an assertion as promptfoo writes it (``{"type": "icontains", "value": "Paris",
"weight": 2}``), ``"contains: Paris"`` as a CSV cell or ``--assert contains:Paris`` -> a validated
:class:`~workbench.judging.base.Check`, or one :class:`~workbench.errors.ConfigError` line saying why not.

Types that would run code from a file (promptfoo's ``python``, ``javascript``, ``webhook``) are refused: prompt
and test files are shared and untrusted.

    >>> build_check("icontains: paris").to_dict()
    {'type': 'icontains', 'value': 'paris'}
    >>> build_check({"type": "python", "value": "file://x.py"})
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: Assertion type 'python' runs code from the file; the workbench never runs code from prompt or test files (they are shared and untrusted). Use a built-in type such as regex, is-json or llm-rubric.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from workbench.errors import ConfigError
from workbench.judging.base import Check, JudgeKind

#: Every judge kind by name, in registration order (the page's picker and ``--help`` list them so).
JUDGES: dict[str, JudgeKind] = {}

#: promptfoo types that run code or call out: refused by name, with why.
CODE_TYPES = frozenset({"python", "javascript", "webhook", "ruby", "java", "fn", "file"})
#: The promptfoo ``__expected`` cell prefixes that name a type other than the one before the colon.
CELL_ALIASES = {"grade": "llm-rubric", "similar": "similar", "fn": "javascript", "eval": "javascript"}
#: Keys an assertion may have (promptfoo's, less those that carry code such as ``transform``).
_KEYS = frozenset({"type", "value", "threshold", "weight", "metric", "provider", "rubricPrompt", "config"})
#: promptfoo keys refused because they carry code.
_CODE_KEYS = frozenset({"transform", "contextTransform"})


def register_judge(kind: JudgeKind) -> JudgeKind:
    """Add ``kind`` to :data:`JUDGES`; a second kind under one name, or a name ``not-`` would shadow, is a
    programming error."""
    if kind.name in JUDGES:
        raise ValueError(f"judge kind {kind.name!r} is registered twice")
    if kind.name.startswith("not-"):
        raise ValueError(f"judge kind {kind.name!r}: 'not-' is the negation prefix, not part of a name")
    JUDGES[kind.name] = kind
    return kind


def kinds() -> list[JudgeKind]:
    """The registered kinds, in registration order."""
    _load()
    return list(JUDGES.values())


def names(*, assertions_only: bool = False) -> list[str]:
    """Registered type names (``assertions_only``: without the answer formats' own comparisons)."""
    from workbench.judging.formats import FORMAT_JUDGES

    return [k.name for k in kinds() if k.written and not (assertions_only and k.name in FORMAT_JUDGES.values())]


def _load() -> None:
    """Import the modules that register the built-in kinds (once; importing registers)."""
    for module in ("formats", "assertions", "metrics", "graded"):
        importlib.import_module(f"workbench.judging.{module}")
    # built by a file reader, not written by users: registered so that a stored run's strategies rebuild
    importlib.import_module("workbench.interop.lmeval.scoring")


def _number(name: str, value: Any, type_name: str, at: str = "") -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{at}assertion {type_name!r}: {name} must be a number, not {value!r}.")
    return float(value)


#: promptfoo's Nunjucks placeholder ``{{ name }}``: the workbench fills none in a run-wide value.
_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")
#: ``{{expected}}``, the whole value: the item's gold answer, for the kinds that read it when given no value.
_GOLD = re.compile(r"\{\{\s*expected\s*\}\}")


def _no_template(kind: JudgeKind, value: Any, at: str) -> Any:
    """``value`` with no promptfoo placeholder left in its text (``{{expected}}`` alone is the gold answer, i.e.
    no value, for kinds that read it); one ConfigError line for any other.

    >>> _no_template(JUDGES["similar"], "{{ expected }}", "")
    >>> _no_template(JUDGES["contains"], ["Paris", "{{city}}"], "assertion 'contains'")
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: assertion 'contains' uses {{city}}, a promptfoo template: only a dataset row's own assertions fill {{column}} from that row's columns; write the value itself.
    """
    if kind.reads_gold and isinstance(value, str) and _GOLD.fullmatch(value):
        return None
    texts = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    for text in texts:
        found = _TEMPLATE.search(text) if isinstance(text, str) else None
        if found is not None:
            raise ConfigError(f"{at} uses {{{{{found[1]}}}}}, a promptfoo template: only a dataset row's own "
                              "assertions fill {{column}} from that row's columns; write the value itself.")
    return value


def build_check(spec: Mapping[str, Any] | str, where: str = "") -> Check:
    """A validated check from an assertion as written: a mapping (YAML/JSON ``assert:`` entries) or text
    ``TYPE[:VALUE]`` (CSV ``__expected`` cells, ``--assert``). ``where`` prefixes the error line (a file, a row).

    Text without a known type before its first colon is promptfoo's ``equals`` (``"Paris"`` is
    ``equals: Paris``).
    """
    _load()
    at = f"{where}: " if where else ""
    if isinstance(spec, str):
        spec = parse_cell(spec, at)
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{at}an assertion must be a mapping with a type, e.g. {{type: contains, value: Paris}}, "
                          f"not {type(spec).__name__}.")
    code = sorted(set(spec) & _CODE_KEYS)
    if code:
        raise ConfigError(f"{at}assertion key {code[0]!r} runs code; the workbench never runs code from prompt or "
                          "test files.")
    unknown = sorted(set(map(str, spec)) - _KEYS)
    if unknown:
        raise ConfigError(f"{at}assertion has unknown key {unknown[0]!r}; use {', '.join(sorted(_KEYS))}.")
    type_name = spec.get("type")
    if not isinstance(type_name, str) or not type_name.strip():
        raise ConfigError(f"{at}an assertion needs a type, e.g. contains, regex, is-json, llm-rubric.")
    type_name = type_name.strip()
    negate = type_name.startswith("not-")
    base = type_name.removeprefix("not-")
    if base in CODE_TYPES:
        raise ConfigError(f"{at}Assertion type {type_name!r} runs code from the file; the workbench never runs code "
                          "from prompt or test files (they are shared and untrusted). Use a built-in type such as "
                          "regex, is-json or llm-rubric.")
    kind = JUDGES.get(base)
    if kind is None:
        raise ConfigError(f"{at}unknown assertion type {type_name!r}; use one of {', '.join(names())}.")
    if negate and not kind.negatable:
        raise ConfigError(f"{at}assertion type {base!r} cannot be negated with 'not-'.")
    value = _no_template(kind, spec.get("value"), f"{at}assertion {type_name!r}")
    if kind.value == "required" and (value is None or value == "" or value == []):
        raise ConfigError(f"{at}assertion {type_name!r} needs a value.")
    if kind.value == "none" and value is not None:
        raise ConfigError(f"{at}assertion {type_name!r} takes no value.")
    threshold = _number("threshold", spec.get("threshold"), type_name, at)
    if threshold is not None:
        if kind.threshold_range is None:
            raise ConfigError(f"{at}assertion {type_name!r} takes no threshold.")
        lo, hi = kind.threshold_range
        if not lo <= threshold <= hi:
            raise ConfigError(f"{at}assertion {type_name!r}: threshold {threshold:g} is outside {lo:g}..{hi:g}.")
    weight = _number("weight", spec.get("weight"), type_name, at)
    if weight is not None and weight < 0:
        raise ConfigError(f"{at}assertion {type_name!r}: weight must be 0 or more, not {weight:g}.")
    metric = spec.get("metric")
    if metric is not None and (not isinstance(metric, str) or not metric.strip() or len(metric) > 100):
        raise ConfigError(f"{at}assertion {type_name!r}: metric must be a short name.")
    options = {k: spec[k] for k in ("provider", "rubricPrompt", "config") if spec.get(k) is not None}
    if options and not kind.graded:
        raise ConfigError(f"{at}assertion {type_name!r} takes no {', '.join(options)} (only model-graded types do).")
    try:
        params = kind.prepare(value, threshold, options)
    except ConfigError as err:
        raise ConfigError(f"{at}assertion {type_name!r}: {err}") from None
    return Check(kind=kind, value=value, negate=negate, threshold=threshold,
                 weight=1.0 if weight is None else weight, metric=metric.strip() if metric else None,
                 options=options, params=params)


def parse_cell(text: str, at: str = "") -> dict[str, Any]:
    """promptfoo's CSV cell / CLI convention: ``TYPE: VALUE`` (``not-contains: x``, ``grade: polite``,
    ``is-json``), ``TYPE(THRESHOLD): VALUE`` (``similar(0.8): a capital city``), else the whole text is an
    ``equals`` value.

    >>> parse_cell("contains: Paris"), parse_cell("Paris"), parse_cell("not-icontains")
    ({'type': 'contains', 'value': 'Paris'}, {'type': 'equals', 'value': 'Paris'}, {'type': 'not-icontains'})
    >>> parse_cell("similar(0.8): a city")
    {'type': 'similar', 'value': 'a city', 'threshold': 0.8}
    """
    _load()
    m = _CELL.match(text)
    if m is None:
        return {"type": "equals", "value": text}
    negate, base = bool(m["not"]), CELL_ALIASES.get(m["type"], m["type"])
    if base not in JUDGES and base not in CODE_TYPES:
        return {"type": "equals", "value": text}
    out: dict[str, Any] = {"type": ("not-" if negate else "") + base}
    if m["colon"]:
        value = text[m.end():].strip()
        if value:
            out["value"] = value
    if m["threshold"] is not None:
        try:
            out["threshold"] = float(m["threshold"])
        except ValueError:
            raise ConfigError(f"{at}assertion {text[:60]!r}: the threshold in ( ) must be a number.") from None
    return out


_CELL = re.compile(r"^\s*(?P<not>not-)?(?P<type>[a-z][a-z0-9-]*)(?:\((?P<threshold>[^()]*)\))?\s*(?P<colon>:|$)")


def build_checks(specs: Iterable[Mapping[str, Any] | str], where: str = "") -> tuple[Check, ...]:
    """Every assertion of a list built (all or nothing): the first bad one is the error, numbered."""
    out = []
    for n, spec in enumerate(specs, start=1):
        out.append(build_check(spec, f"{where} assertion {n}".strip()))
    return tuple(out)
