"""The JSON Schema (draft 2020-12) of the prompt files: spec files, prompt sets (whose ``tests`` are
promptfoo-style: ``input``, ``expected``, ``assert``, ``threshold``), or either -- generated from the very Pydantic
models the loaders validate with (:func:`workbench.prompts.files.parse_spec_file`,
:func:`workbench.promptsets.files.from_dict`), so it cannot drift from them. An editor reads it through a first
line ``# yaml-language-server: $schema=<path or URL of the schema>``.

    >>> schema = json_schema("set")
    >>> schema["$schema"], schema["required"]
    ('https://json-schema.org/draft/2020-12/schema', ['schema_version', 'name', 'steps'])

The schema checks a file's shape (fields, types, required keys, the names a selector or an order may take);
the loaders check more (a template's placeholders, a regex, a threshold's range): a file the schema refuses is
refused by the loader, not always the other way round.
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
        return {**head, **{k: v for k, v in models[kind].model_json_schema().items() if k not in ("title",)}}
    refs, defs = models_json_schema([(models["set"], "validation"), (models["spec"], "validation")])
    return {**head, "anyOf": [refs[(models["set"], "validation")], refs[(models["spec"], "validation")]],
            **defs}
