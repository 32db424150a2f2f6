"""Fuzzing the two untrusted-file loaders: data files (workbench.data) and prompt-set files (workbench.promptsets).

For random bytes and random JSON/YAML shapes the only outcomes are a loaded result or one
:class:`WorkbenchError` line -- never another exception, and never more than a bounded time
(Hypothesis' per-example deadline).
"""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import timedelta

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import promptsets as ps
from workbench.data import Pool, load_pool
from workbench.errors import WorkbenchError

#: Per-example time limit: a loader that hangs or goes quadratic on some input fails the test.
FUZZ = settings(max_examples=150, deadline=timedelta(seconds=3), suppress_health_check=[HealthCheck.too_slow],
                derandomize=True)
DATA_NAMES = ("f.csv", "f.tsv", "f.json", "f.jsonl")
SET_NAMES = ("s.yaml", "s.json")

# (integers of thousands of digits are in the hostile shapes below: Python itself cannot print them)
TEXT = st.text(st.characters() | st.characters(categories=["Cs"]), max_size=30)  # lone surrogates too
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | TEXT
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(TEXT, inner, max_size=4), max_leaves=25)
#: Rows near the shared schema: the right keys with random values, plus random extra keys.
rows = st.fixed_dictionaries(
    {"question": json_values, "answer": json_values},
    optional={"id": json_values, "choices": json_values, "rationale": json_values, "label": json_values},
).flatmap(lambda row: st.dictionaries(TEXT, json_values, max_size=2).map(lambda extra: {**extra, **row}))


def outcome(load):
    """Run a loader: its result, or the WorkbenchError it raised (checked to be one line)."""
    try:
        return load()
    except WorkbenchError as err:
        assert "\n" not in str(err) and str(err)
        return err


def deep(depth: int, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


def to_csv(items: list[dict], delimiter: str = ",") -> str:
    columns = list(dict.fromkeys(k for row in items for k in row))
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter)
    writer.writerow(columns)
    for row in items:
        writer.writerow([v if isinstance(v, str) else json.dumps(v) for v in (row.get(c, "") for c in columns)])
    return buf.getvalue()


# ---- data files ------------------------------------------------------------------------------


@FUZZ
@given(name=st.sampled_from(DATA_NAMES), data=st.binary(max_size=2_000))
def test_data_loader_on_random_bytes(name, data):
    assert isinstance(outcome(lambda: load_pool((name, data))), Pool | WorkbenchError)


@FUZZ
@given(value=json_values)
def test_data_loader_on_random_json_shapes(value):
    for name, text in (("f.json", json.dumps(value)), ("f.jsonl", json.dumps(value) + "\n")):
        assert isinstance(outcome(lambda n=name, t=text: load_pool((n, t.encode()))), Pool | WorkbenchError)


@FUZZ
@given(items=st.lists(rows, min_size=1, max_size=5), fmt=st.sampled_from(("json", "jsonl", "csv", "tsv")))
def test_data_loader_on_random_rows(items, fmt):
    text = {"json": lambda: json.dumps(items), "jsonl": lambda: "".join(json.dumps(r) + "\n" for r in items),
            "csv": lambda: to_csv(items), "tsv": lambda: to_csv(items, "\t")}[fmt]()
    result = outcome(lambda: load_pool((f"f.{fmt}", text.encode("utf-8", "surrogatepass"))))
    assert isinstance(result, Pool | WorkbenchError)
    if isinstance(result, Pool):  # what loads can be hashed, stored and shown
        assert len(result.content_hash) == 64
        json.dumps([ex.to_dict() for ex in result], ensure_ascii=False).encode("utf-8")


@FUZZ
@given(depth=st.integers(0, 5_000), brackets=st.sampled_from([("[", "]"), ('{"k": ', "}")]),
       column=st.sampled_from(("question", "answer", "choices")), fmt=st.sampled_from(("json", "jsonl", "csv")))
def test_data_loader_on_random_nesting_depths(depth, brackets, column, fmt):
    nested = deep(depth, *brackets) if brackets[0] == "[" else brackets[0] * depth + "1" + brackets[1] * depth
    row = {"question": '"q"', "answer": '"a"', column: nested}
    if fmt == "csv":
        text = "question,answer,choices\n" + ",".join('"' + row.get(c, "").replace('"', '""') + '"'
                                                      for c in ("question", "answer", "choices")) + "\n"
    else:
        text = "{" + ", ".join(f'"{k}": {v}' for k, v in row.items()) + "}"
        text = f"[{text}]" if fmt == "json" else text + "\n"
    assert isinstance(outcome(lambda: load_pool((f"f.{fmt}", text.encode()))), Pool | WorkbenchError)


# ---- prompt-set files ------------------------------------------------------------------------


@FUZZ
@given(name=st.sampled_from(SET_NAMES), data=st.binary(max_size=2_000))
def test_prompt_set_loader_on_random_bytes(name, data):
    assert isinstance(outcome(lambda: ps.loads(data, source=name)), ps.PromptSet | WorkbenchError)


@FUZZ
@given(value=json_values, dump=st.sampled_from(("json", "yaml")))
def test_prompt_set_loader_on_random_json_shapes(value, dump):
    text = json.dumps(value) if dump == "json" else yaml.safe_dump(value)
    result = outcome(lambda: ps.loads(text, fmt=dump, source=f"s.{dump}"))
    assert isinstance(result, ps.PromptSet | WorkbenchError)


#: Where a random value goes in an otherwise valid document.
SET_FIELDS = ("name", "description", "notes", "tags", "tests", "steps", "schema_version")
STEP_FIELDS = ("title", "model", "notes", "spec", "demos", "select", "decoding")


@FUZZ
@given(where=st.sampled_from(SET_FIELDS + STEP_FIELDS), value=json_values, dump=st.sampled_from(("json", "yaml")))
def test_prompt_set_loader_on_random_values_in_a_valid_document(where, value, dump):
    doc = {"schema_version": 1, "name": "tiny", "steps": [{"title": "only"}]}
    if where in SET_FIELDS:
        doc[where] = value
    else:
        doc["steps"][0][where] = value
    try:
        text = json.dumps(doc) if dump == "json" else yaml.safe_dump(doc)
    except ValueError:
        return  # (a value yaml itself cannot write)
    result = outcome(lambda: ps.loads(text, fmt=dump, source=f"s.{dump}"))
    assert isinstance(result, ps.PromptSet | WorkbenchError)
    if isinstance(result, ps.PromptSet):  # what loads round-trips through the canonical form
        assert ps.loads(ps.dumps(result, dump), fmt=dump) == result


# ---- hostile shapes, each in bounded time ---------------------------------------------------------


@pytest.mark.parametrize("text", [
    deep(200_000), deep(200_000, "{\"a\":", "}"), '{"question": "q", "answer": ' + deep(50_000) + "}",
    '{"question": "q", "answer": ' + "9" * 100_000 + "}", '{"question": "' + "\\ud800" * 1000 + '", "answer": "a"}',
])
@pytest.mark.parametrize("name", ["f.json", "f.jsonl", "s.json", "s.yaml"])
def test_hostile_shapes_are_one_error_in_bounded_time(text, name):
    start = time.perf_counter()
    if name.startswith("f."):
        result = outcome(lambda: load_pool((name, text.encode())))
    else:
        result = outcome(lambda: ps.loads(text, source=name))
    assert isinstance(result, WorkbenchError)
    assert time.perf_counter() - start < 5
