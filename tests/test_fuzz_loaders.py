"""Fuzzing every untrusted-file loader: data files (workbench.data, each format), prompt-set files
(workbench.promptsets), prompt spec files (workbench.prompts), Auto-CoT demo files, run exports and the
speculative lab's example file.

For random bytes, random JSON/YAML shapes, deep structures, huge and odd numbers and control characters
the only outcomes are a loaded value or one :class:`WorkbenchError` line -- never another exception --
and each test ends in bounded time (pytest-timeout; Hypothesis examples are deterministic).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.autocot.files import demos_from_json
from workbench.data import Pool, load_pool, read_rows
from workbench.errors import WorkbenchError
from workbench.prompts.files import load_spec, loads_spec
from workbench.promptsets.files import dumps, loads
from workbench.promptsets.files import load as load_set
from workbench.promptsets.model import PromptSet
from workbench.report import read_jsonl
from workbench.speculative.examples import examples

# A loader that hangs or goes quadratic on some input fails the test by its timeout (no timing assertions:
# a loaded CI machine must not fail a correct loader).
pytestmark = pytest.mark.timeout(300)

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                derandomize=True)
#: Fewer examples where each one goes through every loader.
EVERY = settings(FUZZ, max_examples=40)
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
        assert "\n" not in str(err) and "\r" not in str(err) and str(err).strip() == str(err) and str(err)
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
    assert isinstance(outcome(lambda: loads(data, source=name)), PromptSet | WorkbenchError)


@FUZZ
@given(value=json_values, dump=st.sampled_from(("json", "yaml")))
def test_prompt_set_loader_on_random_json_shapes(value, dump):
    text = json.dumps(value) if dump == "json" else yaml.safe_dump(value)
    result = outcome(lambda: loads(text, fmt=dump, source=f"s.{dump}"))
    assert isinstance(result, PromptSet | WorkbenchError)


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
    result = outcome(lambda: loads(text, fmt=dump, source=f"s.{dump}"))
    assert isinstance(result, PromptSet | WorkbenchError)
    if isinstance(result, PromptSet):  # what loads round-trips through the canonical form
        assert loads(dumps(result, dump), fmt=dump) == result


# ---- hostile shapes, each in bounded time ---------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("text", [
    deep(200_000), deep(200_000, "{\"a\":", "}"), '{"question": "q", "answer": ' + deep(50_000) + "}",
    '{"question": "q", "answer": ' + "9" * 100_000 + "}", '{"question": "' + "\\ud800" * 1000 + '", "answer": "a"}',
])
@pytest.mark.parametrize("name", ["f.json", "f.jsonl", "s.json", "s.yaml"])
def test_hostile_shapes_are_one_error_in_bounded_time(text, name):
    if name.startswith("f."):
        result = outcome(lambda: load_pool((name, text.encode())))
    else:
        result = outcome(lambda: loads(text, source=name))
    assert isinstance(result, WorkbenchError)


# ---- every file loader (issue 34): one table, the same hostile inputs ------------------------------


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """A folder for the loaders that take a path (module-scoped: Hypothesis reruns the test body)."""
    return tmp_path_factory.mktemp("fuzz")


def _via_file(load, name: str):
    def run(data: bytes, folder: Path):
        path = folder / name
        path.write_bytes(data)
        return load(path)

    return run


#: Every loader of a file the workbench reads, by family: (loader(bytes, folder), the family's document kind).
LOADERS = {
    "spec.yaml": (_via_file(load_spec, "spec.yaml"), "spec"),
    "spec.json": (_via_file(load_spec, "spec.json"), "spec"),
    "spec text": (lambda data, _: loads_spec(data, "spec.yaml"), "spec"),
    "pool.csv": (lambda data, _: load_pool(("f.csv", data)), "rows"),
    "pool.tsv": (lambda data, _: load_pool(("f.tsv", data)), "rows"),
    "pool.json": (lambda data, _: load_pool(("f.json", data)), "rows"),
    "pool.jsonl": (_via_file(load_pool, "f.jsonl"), "rows"),
    "pool.parquet": (lambda data, _: load_pool(("f.parquet", data)), "rows"),
    "preview.csv": (lambda data, _: read_rows(("f.csv", data)), "rows"),
    "set.yaml": (lambda data, _: loads(data, source="s.yaml"), "set"),
    "set.json": (lambda data, _: loads(data, source="s.json"), "set"),
    "set file": (_via_file(load_set, "set.yaml"), "set"),
    "autocot demos": (lambda data, _: demos_from_json(data, "d.json"), "demos"),
    "run export": (_via_file(read_jsonl, "run.jsonl"), "run"),
    "speculative examples": (_via_file(examples, "examples.yaml"), "examples"),
}

#: A valid document of each family; a hostile value is planted at one of its places.
SKELETONS = {
    "spec": {"name": "n", "description": "d", "example": "e", "spec": {"instruction": "i", "stop": ["\n"],
             "labels": ["a"]}, "demos": [{"question": "q", "answer": "a", "choices": {"A": "x"}}]},
    "rows": {"question": "q", "answer": "a", "choices": {"A": "x"}, "label": "l", "id": "1"},
    "set": {"schema_version": 1, "name": "n", "tags": ["t"], "steps": [
        {"title": "t", "spec": {"instruction": "i"}, "demos": [{"question": "q", "answer": "a"}],
         "decoding": {"max_new_tokens": 8, "seed": 1}}], "tests": [{"input": "x", "expected": "y"}]},
    "demos": {"demo": [{"question": "q", "rationale": "r", "pred_ans": "a", "cluster": 0, "distance": 0.5,
                        "choices": {"A": "x"}}]},
    "run": {"type": "run", "id": 1, "meta": {"model": "m"}, "summary": {"strategies": []}},
    "examples": {"examples": [{"id": "a", "kind": "copy-heavy", "title": "t", "prompt": "p",
                               "max_new_tokens": 8}]},
}
PLACEHOLDER = "@@HOSTILE@@"


def places(doc, here=()) -> list[tuple]:
    """Every path to a value of ``doc`` (and a new key in each mapping)."""
    out = [here]
    if isinstance(doc, dict):
        out.append((*here, PLACEHOLDER))
        for k, v in doc.items():
            out += places(v, (*here, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += places(v, (*here, i))
    return out


def plant(doc, where: tuple, value):
    """A copy of ``doc`` with ``value`` at ``where`` (the whole document when ``where`` is empty)."""
    if not where:
        return value
    doc = json.loads(json.dumps(doc))
    target = doc
    for step in where[:-1]:
        target = target[step]
    target[where[-1]] = value
    return doc


def serialize(doc, family: str, loader: str) -> str:
    """The document as the loader's file holds it (JSON is valid YAML; rows as CSV/TSV/JSON/JSONL lines)."""
    if family == "rows":
        items = doc if isinstance(doc, list) else [doc]
        items = [i if isinstance(i, dict) else {"question": i} for i in items]
        if loader.endswith((".csv", ".tsv")):
            return to_csv(items, "\t" if loader.endswith(".tsv") else ",")
        if loader.endswith(".jsonl"):
            return "".join(json.dumps(i) + "\n" for i in items)
        return json.dumps(items)
    if family == "run":
        return json.dumps(doc) + "\n" + json.dumps({"type": "item", "strategy": "s", "answer": doc}) + "\n"
    if loader.endswith(("yaml", "text", "file", "examples")) and not loader.endswith("json"):
        try:
            return yaml.safe_dump(doc, allow_unicode=True)
        except (yaml.YAMLError, UnicodeEncodeError):
            pass  # (lone surrogates: write JSON, which YAML reads too)
    return json.dumps(doc)


def splice(doc: str, literal: str) -> str:
    """``doc`` with its placeholder, quoted as JSON or YAML wrote it, replaced by raw ``literal`` text."""
    for quoted in (json.dumps(PLACEHOLDER), f"'{PLACEHOLDER}'", PLACEHOLDER):
        doc = doc.replace(quoted, literal)
    return doc


def every_loader(folder: Path, text_of) -> None:
    """Each loader on ``text_of(family, loader)`` (bytes or str): a value or one WorkbenchError line."""
    for loader, (load, family) in LOADERS.items():
        data = text_of(family, loader)
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        outcome(lambda load=load, data=data: load(data, folder))


@EVERY
@given(data=st.binary(max_size=2_000) | st.sampled_from([b"PAR1" + b"\0" * 64 + b"PAR1", b"\xef\xbb\xbf", b"\0"]))
def test_every_loader_on_random_bytes(scratch, data):
    every_loader(scratch, lambda family, loader: data)


#: Control characters, format characters, separators and lone surrogates: what a terminal, a CSV or an
#: encoder may choke on.
NASTY = st.text(st.characters(categories=["Cc", "Cf", "Cs", "Zl", "Zp", "Co"]) | st.sampled_from("\x1b[2J\"'{}:#&*!|>-"),
                min_size=1, max_size=20)


@EVERY
@given(text=NASTY, value=json_values, as_key=st.booleans(), raw=st.booleans(), where=st.randoms(use_true_random=False))
def test_every_loader_on_control_characters_and_random_values(scratch, text, value, as_key, raw, where):
    """Control characters as text or as a key (of a random value) planted anywhere in a valid document, escaped
    by the writer or raw in the file (YAML refuses most raw ones)."""
    def text_of(family, loader):
        skeleton = SKELETONS[family]
        value_ = {text: value} if as_key else text
        doc = serialize(plant(skeleton, where.choice(places(skeleton)), PLACEHOLDER), family, loader)
        return splice(doc, text if raw else json.dumps(value_))  # (JSON text is a YAML flow value too)

    every_loader(scratch, text_of)


#: Raw number literals: decimal, signed, exponents, YAML 1.1 hex/octal/binary/base-60, underscores.
NUMBER_FORMS = ("{d}", "-{d}", "1e{d}", "-1e-{d}", "0.{d}", "0x{h}", "0o{o}", "0b{b}", "0{o}", "1:{s}", "1_{d}",
                "{d}.5e{d}", "-.{d}e+{d}")


@EVERY
@given(form=st.sampled_from(NUMBER_FORMS), digits=st.sampled_from([1, 20, 30, 400, 4_400, 20_000]),
       quoted_tag=st.booleans(), where=st.randoms(use_true_random=False))
def test_every_loader_on_huge_and_odd_numbers(scratch, form, digits, quoted_tag, where):
    number = form.format(d="9" * digits, h="f" * digits, o="7" * digits, b="1" * digits,
                         s=":".join(["1"] * digits))

    def text_of(family, loader):
        skeleton = SKELETONS[family]
        doc = serialize(plant(skeleton, where.choice(places(skeleton)), PLACEHOLDER), family, loader)
        literal = f"!!int '{number}'" if quoted_tag and "yaml" in loader else number
        return splice(doc, literal)

    every_loader(scratch, text_of)


@EVERY
@given(depth=st.sampled_from([0, 9, 10, 11, 12, 50, 1_000, 5_000]),
       style=st.sampled_from(["flow-list", "flow-map", "json-map", "block-list", "block-map"]),
       where=st.randoms(use_true_random=False))
def test_every_loader_on_deep_structures(scratch, depth, style, where):
    """Nesting of random depth, flow (``[[[...]]]``) and block style (``- - - x``, indented maps)."""
    nested = {"flow-list": deep(depth), "flow-map": "{a: " * depth + "1" + "}" * depth,
              "json-map": '{"a": ' * depth + "1" + "}" * depth}.get(style)

    def text_of(family, loader):
        skeleton = SKELETONS[family]
        if nested is None:  # block style: the whole document (a block cannot sit inside flow text)
            depth_ = min(depth, 600)  # indented maps grow as depth squared
            return ("- " * depth + "x\n" if style == "block-list"
                    else "".join("  " * i + "a:\n" for i in range(depth_)) + "  " * depth_ + "b: 1\n")
        doc = serialize(plant(skeleton, where.choice(places(skeleton)), PLACEHOLDER), family, loader)
        return splice(doc, nested)

    every_loader(scratch, text_of)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("loader", list(LOADERS))
def test_every_loader_on_the_largest_hostile_files(scratch, loader):
    """At each loader's size limit: 1 MB of nesting, of one number, of aliases -- one line, never a hang."""
    load, _ = LOADERS[loader]
    for text in ("[" * 1_000_000, "x: " + ":".join(["1"] * 499_000), "a: &a [1]\n" + "b: [*a" + ", *a" * 200_000
                 + "]\n", "- " * 499_000 + "x", '{"a": ' + "9" * 999_000 + "}"):
        outcome(lambda text=text: load(text.encode(), scratch))
