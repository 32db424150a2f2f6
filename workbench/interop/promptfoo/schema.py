"""The shape of a ``promptfooconfig.yaml`` the workbench reads (promptfoo's ``UnifiedConfig``, src/types), as
Pydantic models with ``extra="forbid"``: a key we do not read is one line naming it, never silently ignored.

Top-level keys are sorted first (:func:`check_top_keys`): the ones we run, the ones that change nothing here
(noted once), and every other promptfoo key (refused, named).

    >>> check_top_keys({"prompts": [], "sharing": False}, "c.yaml")
    ('c.yaml: sharing is not used here (results stay on this machine); ignored.',)
    >>> check_top_keys({"prompts": [], "scenarios": []}, "c.yaml")
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: c.yaml: promptfoo key 'scenarios' is not supported by the workbench; remove it (supported: description, prompts, providers, tests, defaultTest, evaluateOptions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from workbench.errors import ConfigError
from workbench.safeload import validation_error

#: Top-level keys the workbench runs.
SUPPORTED = ("description", "prompts", "providers", "tests", "defaultTest", "evaluateOptions")
#: Top-level keys that change nothing the workbench computes: each is noted once, with why.
NOTED = {
    "sharing": "results stay on this machine",
    "tags": "tags only label a run in promptfoo's viewer",
    "metadata": "metadata only labels a run in promptfoo's viewer",
    "outputPath": "give --output to write results",
    "writeLatestResults": "every run is stored in the workbench's own store",
}
#: ``evaluateOptions`` keys that change nothing here (noted once).
EVALUATE_NOTED = {
    "maxConcurrency": "the workbench batches a model's calls itself",
    "showProgressBar": "the CLI shows its own progress",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PromptObject(_Strict):
    """One entry of ``prompts`` written as an object: ``{id: file://x.txt, label}`` or ``{raw, label}``."""

    id: str | None = None  # a file:// reference (or the text itself)
    raw: str | None = None  # the prompt text itself
    label: str | None = None  # the name shown for it; None: a short form of its text or file


class ProviderObject(_Strict):
    """One entry of ``providers`` written as an object."""

    id: str | None = None  # the provider id (``workbench:gemma-3-270m``, ``openai:chat:NAME``, ``llama``...)
    label: str | None = None  # the name shown for it; None: a short form of its id
    config: dict[str, Any] | None = None  # the provider's own settings (checked per provider)
    prompts: list[str] | None = None  # the prompt labels it runs (promptfoo's ``prompts``); None: every prompt


class TestOptions(_Strict):
    """A test's ``options`` the workbench honours."""

    __test__ = False  # not a pytest test class (its name is promptfoo's)

    disableVarExpansion: bool | None = None  # promptfoo's name; True: list vars are not crossed


class TestCase(_Strict):
    """One test case (``tests`` entries, ``defaultTest``, rows of a tests YAML/JSON/JSONL file)."""

    __test__ = False  # not a pytest test class (its name is promptfoo's)

    description: str | None = None  # shown as the item's input summary
    vars: dict[str, Any] | None = None  # the template's variables; a list value expands into several tests
    assert_: list[Any] | None = None  # assertions (workbench.judging builds them)
    threshold: float | None = None  # pass threshold on the weighted score (None: every assertion must pass)
    options: TestOptions | None = None  # the options honoured (others are refused)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @classmethod
    def read(cls, data: Any, where: str) -> TestCase:
        """A test case from a config value, or one ConfigError line naming ``where``."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: a test must be a mapping (vars, assert, ...), not {type(data).__name__}.")
        fields = dict(data)
        if "assert" in fields:
            fields["assert_"] = fields.pop("assert")
        options = fields.get("options")
        if isinstance(options, Mapping):
            unknown = sorted(set(map(str, options)) - set(TestOptions.model_fields))
            if unknown:
                raise ConfigError(f"{where}: test option {unknown[0]!r} is not supported by the workbench; remove it "
                                  f"(supported: {', '.join(TestOptions.model_fields)}).")
        unknown = sorted(set(map(str, fields)) - set(cls.model_fields))
        if unknown:
            raise ConfigError(f"{where}: test key {unknown[0]!r} is not supported by the workbench; remove it "
                              "(supported: description, vars, assert, threshold, options).")
        return validated(cls, fields, where)


class EvaluateOptions(_Strict):
    """``evaluateOptions``: ``repeat`` runs; the keys of :data:`EVALUATE_NOTED` change nothing here."""

    repeat: int | None = None  # runs of each test (-> Strategy.repeat)
    maxConcurrency: int | None = None  # noted, harmless
    showProgressBar: bool | None = None  # noted, harmless


def validated(model: type[BaseModel], data: Any, where: str) -> Any:
    """``model`` validated from ``data``; its first problem is one ConfigError line naming ``where``."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(str(validation_error(where, err)).replace("assert_", "assert")) from None


def check_top_keys(config: Mapping[str, Any], source: str) -> tuple[str, ...]:
    """The notes for the harmless top-level keys; any key neither supported nor harmless is refused."""
    notes = []
    for key in config:
        if key in SUPPORTED:
            continue
        if key in NOTED:
            notes.append(f"{source}: {key} is not used here ({NOTED[key]}); ignored.")
            continue
        raise ConfigError(f"{source}: promptfoo key {str(key)[:60]!r} is not supported by the workbench; remove it "
                          f"(supported: {', '.join(SUPPORTED)}).")
    return tuple(notes)
