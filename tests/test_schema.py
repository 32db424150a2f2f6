"""`workbench schema` (#27 item 6): a JSON Schema (draft 2020-12) generated from the models the loaders validate
with; every shipped file in prompts/ is valid, and files the loaders refuse for their shape are refused by it too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from workbench.errors import ConfigError, DataError
from workbench.prompts.files import parse_spec_file
from workbench.promptsets.files import from_dict
from workbench.promptsets.schema import DIALECT, KINDS, json_schema

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "prompts").glob("*/*.yaml"))


def validator(kind: str) -> jsonschema.Draft202012Validator:
    schema = json_schema(kind)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_every_kind_is_a_valid_draft_2020_12_schema():
    for kind in KINDS:
        schema = json_schema(kind)
        assert schema["$schema"] == DIALECT == jsonschema.Draft202012Validator.META_SCHEMA["$id"]
        jsonschema.Draft202012Validator.check_schema(schema)
    assert json_schema("set")["required"] == ["schema_version", "name", "steps"]
    assert json_schema("spec")["required"] == ["name"]
    assert [r["$ref"] for r in json_schema("all")["anyOf"]] == ["#/$defs/SetModel", "#/$defs/FileModel"]
    with pytest.raises(ConfigError, match=r"^Unknown schema 'tests'; choose one of spec, set, all\.$"):
        json_schema("tests")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_file_is_valid(path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    kind = "set" if path.parent.name == "classroom" else "spec"
    assert list(validator(kind).iter_errors(data)) == []
    assert list(validator("all").iter_errors(data)) == []
    other = "spec" if kind == "set" else "set"
    assert list(validator(other).iter_errors(data)), f"{path.name} is also a valid {other}"


def test_the_shipped_folder_holds_both_kinds():
    assert {p.parent.name for p in SHIPPED} == {"classroom", "specs"} and len(SHIPPED) == 15


def _set(**changes) -> dict:
    return {"schema_version": 1, "name": "s", "steps": [{"title": "t"}], **changes}


def _step(**changes) -> dict:
    return _set(steps=[{"title": "t", **changes}])


#: (kind, document, the loader's own message): refused for its shape by both.
REFUSED = [
    ("set", _set(colour="red"), "x.yaml: colour: unknown field; remove it or check its spelling."),
    ("set", {"name": "s", "steps": [{"title": "t"}]}, "x.yaml: schema_version is missing; add 'schema_version: 1' at the top."),
    ("set", _set(steps=[]), "x.yaml: steps: list should have at least 1 item after validation, not 0."),
    ("set", _set(schema_version="1"), "x.yaml: schema_version must be a whole number; this workbench reads 1."),
    ("set", _step(spec={"query_template": 3}), "x.yaml: steps[0].spec.query_template: input should be a valid string."),
    ("set", _step(demos=[{"question": "q"}]), "x.yaml: steps[0].demos[0].answer: missing; add it."),
    ("set", _step(select={"name": "psychic", "k": 2, "pool": "sentiment"}), None),
    ("set", _step(select={"name": "knn", "k": -1, "pool": "sentiment"}), None),
    ("set", _set(tests=[{"input": "x", "expected": 4}]), "x.yaml: tests[0].expected: input should be a valid string."),
    ("spec", {"description": "no name"}, None),
    ("spec", {"name": "s", "temperature": 0.5}, None),
    ("spec", {"name": "s", "threshold": True}, None),
    ("spec", {"name": "s", "demos": [{"question": "q", "answer": "a", "why": "x"}]}, None),
    ("spec", {"name": "s", "spec": {"stop": "\n"}}, None),
    ("set", _set(tests=[{"input": "x", "assert": [{"type": "contain", "value": "x"}]}]), None),
    ("set", _step(**{"assert": [{"value": "x"}]}), None),
    ("spec", {"name": "s", "assert": [{"type": "contains", "value": "x", "transform": "output.trim()"}]}, None),
    ("spec", {"name": "s", "assert": [{"type": "contains", "value": "x", "colour": "red"}]}, None),
]


def test_assertions_take_the_registrys_types_and_negations():
    good = _set(tests=[{"input": "x", "assert": [{"type": "icontains", "value": "x"},
                                                 {"type": "not-contains", "value": "y", "weight": 2}]}])
    assert from_dict(good, "x.yaml").tests[0].checks[1] == {"type": "not-contains", "value": "y", "weight": 2}
    assert list(validator("set").iter_errors(good)) == []
    assert list(validator("spec").iter_errors({"name": "s", "assert": ["contains: Paris"]})) == []
    types = json_schema("all")["$defs"]["Assertion"]["properties"]["type"]["enum"]
    assert {"contains", "not-contains", "llm-rubric", "is-json", "similar"} <= set(types)
    assert not {"python", "javascript", "not-python"} & set(types)


@pytest.mark.parametrize(("kind", "data", "message"), REFUSED)
def test_a_file_the_loader_refuses_for_its_shape_the_schema_refuses_too(kind, data, message):
    with pytest.raises(DataError) as err:
        from_dict(data, "x.yaml") if kind == "set" else parse_spec_file(data, "x.yaml")
    if message is not None:
        assert str(err.value) == message
    assert list(validator(kind).iter_errors(data)), "the schema accepts what the loader refuses"
    assert list(validator("all").iter_errors(data))


def test_the_cli_prints_the_schema_as_json():
    out = subprocess.run([sys.executable, "-m", "workbench", "schema", "spec"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == json_schema("spec")
    bad = subprocess.run([sys.executable, "-m", "workbench", "schema", "tests"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "invalid choice: 'tests'" in bad.stderr


def test_the_committed_schema_file_is_the_generated_one():
    """prompts/workbench.schema.json (what the shipped files' first lines point editors at) is `workbench schema`'s
    output; regenerate it with `python -m workbench schema > prompts/workbench.schema.json`."""
    committed = json.loads((ROOT / "prompts" / "workbench.schema.json").read_text(encoding="utf-8"))
    assert committed == json_schema("all")
    for path in SHIPPED:
        assert path.read_text(encoding="utf-8").startswith("# yaml-language-server: $schema=../workbench.schema.json\n")
