"""promptfoo ``tests`` and ``defaultTest`` -> the run's items, as promptfoo's src/util/testCaseReader.ts and
src/evaluator.ts make them: inline test cases or ``file://tests.csv|yaml|yml|json|jsonl`` (a CSV's columns are
vars, its ``__expected`` / ``__expectedN`` cells assertions, read by :mod:`workbench.data.rowchecks`); each
test's vars over ``defaultTest``'s; a list value (of text) expands into one test per value, crossed with the
other lists (``generateVarCombinations``) unless ``options.disableVarExpansion``; no tests at all is one test
with no vars. Each test's vars are those promptfoo renders a text prompt with (:mod:`.prompt_vars`). Assertions keep promptfoo's ``{{ var }}`` placeholders filled from the test's vars.

    >>> [ex.vars for ex in read_cases([{"vars": {"x": ["a", "b"], "y": "c"}}], None, None)]
    [{'x': 'a', 'y': 'c'}, {'x': 'b', 'y': 'c'}]
    >>> read_cases([{"vars": {"city": "Paris"}, "assert": [{"type": "icontains", "value": "{{city}}"}]}],
    ...            None, None)[0].checks
    ({'type': 'icontains', 'value': 'Paris'},)
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench.data import Example
from workbench.data.files import read_rows
from workbench.data.rowchecks import EXPECTED, check_columns, read_row_checks
from workbench.errors import ConfigError, DataError
from workbench.interop.paths import inside, is_file_ref, read_inside
from workbench.interop.promptfoo.prompt_vars import js_value, prompt_vars
from workbench.interop.promptfoo.schema import TestCase
from workbench.judging.registry import parse_cell
from workbench.safeload import load_document

#: Test files promptfoo reads and the workbench reads too.
TEST_SUFFIXES = (".csv", ".json", ".jsonl", ".yaml", ".yml")
#: The most tests a config may expand to (list vars multiply).
MAX_TESTS = 10_000
#: The longest input summary of a test's vars.
SUMMARY_CHARS = 120


def summary(case: TestCase, variables: Mapping[str, Any], expanded: bool = False) -> str:
    """A test's readable one-line input: its description, else ``name=value`` of its vars (both when the test
    expanded into several).

    >>> summary(TestCase(), {"topic": "bananas", "n": 3})
    'topic=bananas; n=3'
    >>> summary(TestCase(description="fruit"), {"topic": "kiwis"}, expanded=True)
    'fruit (topic=kiwis)'
    """
    listed = "; ".join(f"{k}={v}" for k, v in variables.items())
    if case.description and case.description.strip():
        text = case.description.strip() + (f" ({listed})" if expanded and listed else "")
    else:
        text = listed or "(no vars)"
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def content_id(description: str | None, variables: Mapping[str, Any], taken: set[str]) -> str:
    """A test's stable id from its content (description and vars), so that inserting or removing a test does
    not shift the others' ids (``--fail-if-worse`` pairs items by id); a repeat of the same content gets
    ``-2``, ``-3``, ... in order. ``taken`` collects the ids given so far.

    >>> taken: set[str] = set()
    >>> [content_id(None, {"x": 1}, taken), content_id(None, {"x": 1}, taken), content_id("d", {"x": 1}, taken)]
    ['test-648c7e9c', 'test-648c7e9c-2', 'test-e9993dbf']
    """
    key = json.dumps([(description or "").strip(), variables], sort_keys=True, ensure_ascii=False, default=str)
    base = "test-" + hashlib.sha256(key.encode()).hexdigest()[:8]
    out, n = base, 1
    while out in taken:
        n += 1
        out = f"{base}-{n}"
    taken.add(out)
    return out


def expand(variables: Mapping[str, Any]) -> list[dict[str, Any]]:
    """promptfoo's ``generateVarCombinations``: each var whose value is a list of text gives one test per value,
    crossed with the others (a list of other things stays one value)."""
    keys = list(variables)
    options = [v if isinstance(v, list) and v and isinstance(v[0], str) else [v] for v in variables.values()]
    total = 1
    for o in options:
        total *= len(o)
    if total > MAX_TESTS:
        raise ConfigError(f"the tests' list vars expand to {total:,} tests; the workbench runs at most {MAX_TESTS:,}.")
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*options)]


def _var_value(name: str, value: Any, folder: Path | None) -> Any:
    """A var's value; ``file://`` text files are read (inside the config's folder), code refused."""
    if not is_file_ref(value):
        return value
    ref = value.strip()
    suffix = Path(ref).suffix.lower()
    if folder is None:
        raise ConfigError(f"var {name!r}: file references need a config file's folder.")
    if any(c in ref for c in "*?[") or suffix not in (".txt", ".md", ".json", ".yaml", ".yml"):
        raise ConfigError(f"var {name!r}: {ref} is not a text, JSON or YAML file (code and globs are refused).")
    inside(ref, folder, f"var {name!r}")
    text = read_inside(ref, folder, f"var {name!r}", max_bytes=1_000_000)
    if suffix in (".txt", ".md"):
        return text.strip()  # promptfoo's renderPrompt reads a text var file trimmed
    try:
        return load_document(text, ref, fmt="json" if suffix == ".json" else "yaml", what="var files")
    except DataError as err:
        raise ConfigError(str(err)) from None


def _file_cases(ref: str, folder: Path | None) -> list[tuple[dict[str, Any], str]]:
    """(test case, where) for each test in a tests file."""
    if folder is None:
        raise ConfigError(f"tests {ref}: file references need a config file's folder.")
    name = ref[len("file://"):]
    suffix = Path(name).suffix.lower()
    if any(c in name for c in "*?[") or ":" in name or suffix not in TEST_SUFFIXES:
        raise ConfigError(f"tests {ref}: name one tests file ({', '.join(TEST_SUFFIXES)}); code and globs are "
                          "refused.")
    path = inside(ref, folder, "tests")
    if suffix in (".yaml", ".yml"):
        data = load_document(read_inside(ref, folder, "tests", max_bytes=1_000_000), name, what="test files")
        if not isinstance(data, list):
            raise ConfigError(f"tests {ref}: a tests YAML file must be a list of test cases.")
        return [(case, f"{name} test {n}") for n, case in enumerate(data, start=1)]
    table = read_rows(path)
    if suffix == ".csv":
        check_columns(name, list(table.columns))
        return [({"__row__": dict(row)}, f"{name} {table.where} {line}")
                for row, line in zip(table.rows, table.row_numbers, strict=True)]
    return [(dict(row), f"{name} {table.where} {line}") for row, line in zip(table.rows, table.row_numbers, strict=True)]


def _entries(tests: Any, folder: Path | None) -> list[tuple[Any, str]]:
    if tests is None:
        return [({}, "test 1")]
    items = tests if isinstance(tests, list) else [tests]
    out: list[tuple[Any, str]] = []
    for n, entry in enumerate(items, start=1):
        if is_file_ref(entry):
            out += _file_cases(entry.strip(), folder)
        else:
            out.append((entry, f"test {n}"))
    return out or [({}, "test 1")]


def _csv_case(row: Mapping[str, Any], where: str) -> tuple[TestCase, list[Any], float | None, str]:
    """A CSV row: its vars (the columns not starting ``__``), description, assertions, threshold and gold text."""
    own = read_row_checks(row, where)
    variables = {k: v for k, v in row.items() if not k.startswith("__")}
    gold = next((str(v).strip() for k, v in row.items() if k.startswith(EXPECTED) and str(v or "").strip()), "")
    cell = parse_cell(gold) if gold else {}
    answer = str(cell.get("value", "")) if cell.get("type") == "equals" else ""
    description = str(row.get("__description") or "") or None  # promptfoo's __description column
    return TestCase(vars=variables, description=description), list(own.checks), own.threshold, answer


def read_cases(tests: Any, default: TestCase | None, folder: Path | None,
               default_checks: Sequence[Any] = ()) -> list[Example]:
    """The items of ``tests`` under ``defaultTest`` (its vars first); ``default_checks`` are defaultTest
    assertions that hold ``{{ var }}`` placeholders, filled per test and put before the test's own."""
    default = default or TestCase()
    examples: list[Example] = []
    taken: set[str] = set()
    for entry, where in _entries(tests, folder):
        if isinstance(entry, Mapping) and "__row__" in entry:
            case, checks, threshold, answer = _csv_case(entry["__row__"], where)
        else:
            case = TestCase.read(entry, where)
            checks, threshold, answer = list(case.assert_ or []), case.threshold, ""
        variables = {**(default.vars or {}), **(case.vars or {})}
        variables = {k: _var_value(k, v, folder) for k, v in variables.items()}
        expanding = not ((case.options and case.options.disableVarExpansion)
                         or (default.options and default.options.disableVarExpansion))
        combos = expand(variables) if expanding else [variables]
        for combo in combos:
            shown = {k: js_value(v) for k, v in combo.items()}  # printed as promptfoo prints them
            filled = read_row_checks({"vars": shown, "assert": [*default_checks, *checks]}, where)
            examples.append(Example(id=content_id(case.description, combo, taken), input=summary(case, combo, len(combos) > 1), answer=answer,
                                    vars=prompt_vars(combo, where),
                                    checks=filled.checks or None, threshold=threshold))
            if len(examples) > MAX_TESTS:
                raise ConfigError(f"the config has more than {MAX_TESTS:,} tests; the workbench runs at most "
                                  f"{MAX_TESTS:,}.")
    return examples
