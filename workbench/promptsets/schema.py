"""The JSON Schema (draft 2020-12) of the prompt files: spec files, prompt sets (whose ``tests`` are
promptfoo-style: ``input``, ``expected``, ``assert``, ``threshold``), or either -- generated from the very Pydantic
models the loaders validate with (:func:`workbench.prompts.files.parse_spec_file`,
:func:`workbench.promptsets.files.from_dict`), so it cannot drift from them. An editor reads it through a first
line ``# yaml-language-server: $schema=<path or URL of the schema>``.

    >>> schema = json_schema("set")
    >>> schema["$schema"], schema["required"]
    ('https://json-schema.org/draft/2020-12/schema', ['schema_version', 'name', 'steps'])

The schema checks a file's shape (fields, types, required keys, the names a selector or an order may take, an
assertion's keys and its type among the judging registry's); the loaders check more (a template's placeholders, a
regex, a threshold's range, an assertion's value).
"""

from __future__ import annotations

from typing import Any

#: What ``workbench schema`` prints: one layout, or either of them.
KINDS = ("spec", "set", "all")
#: The JSON Schema dialect Pydantic writes.
DIALECT = "https://json-schema.org/draft/2020-12/schema"
_ABOUT = {
    "spec": ("Prompt Workbench spec file", "A prompt spec with its demonstrations, an example query and the "
             "assertions that judge every item it runs on (prompts/specs/*.yaml)."),
    "set": ("Prompt Workbench prompt set", "Steps (a spec, demonstrations or a selector, decoding, a model) with "
            "notes, tags and promptfoo-style tests (prompts/classroom/*.yaml)."),
    "all": ("Prompt Workbench prompt file", "A prompt set (it has schema_version and steps) or a spec file."),
}


def _models() -> dict[str, Any]:
    from workbench.prompts.files import _file_model
    from workbench.promptsets.files import _models as set_model

    return {"spec": _file_model(), "set": set_model()}


def assertion_schema() -> dict[str, Any]:
    """One ``assert:`` entry as :func:`workbench.judging.registry.build_check` takes it: the keys it allows, a
    registered type or its ``not-`` negation (the models hold assertions as plain mappings; the registry checks them).
    """
    from workbench.judging.registry import _KEYS, kinds

    written = [k for k in kinds() if k.written]
    types = [k.name for k in written] + [f"not-{k.name}" for k in written if k.negatable]
    return {"type": "object", "required": ["type"], "propertyNames": {"enum": sorted(_KEYS)},
            "properties": {"type": {"enum": types, "description": "a judging type (README: Judging); not-TYPE "
                                                                  "negates it"}},
            "description": "a promptfoo-style assertion, e.g. {type: icontains, value: paris}"}


def _with_assertions(node: Any, in_assert: bool = False) -> Any:
    """``node`` with every plain mapping under an ``assert`` property replaced by a reference to the assertion."""
    if isinstance(node, dict):
        if in_assert and node.get("type") == "object" and node.get("additionalProperties") is True:
            return {"$ref": "#/$defs/Assertion"}
        return {k: _with_assertions(v, in_assert or k == "assert") for k, v in node.items()}
    if isinstance(node, list):
        return [_with_assertions(v, in_assert) for v in node]
    return node


def json_schema(kind: str = "all") -> dict[str, Any]:
    """The schema of ``kind`` ("spec", "set" or "all": either) as a JSON-ready dict."""
    from pydantic.json_schema import models_json_schema

    from workbench.errors import ConfigError

    if kind not in KINDS:
        raise ConfigError(f"Unknown schema {kind!r}; choose one of {', '.join(KINDS)}.")
    title, description = _ABOUT[kind]
    head = {"$schema": DIALECT, "title": title, "description": description}
    models = _models()
    if kind != "all":
        body = {k: v for k, v in models[kind].model_json_schema().items() if k != "title"}
    else:
        refs, defs = models_json_schema([(models["set"], "validation"), (models["spec"], "validation")])
        body = {"anyOf": [refs[(models["set"], "validation")], refs[(models["spec"], "validation")]], **defs}
    body = _with_assertions(body)
    body["$defs"] = {**body.get("$defs", {}), "Assertion": assertion_schema()}
    return {**head, **body}
