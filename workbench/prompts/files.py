"""Spec files: a spec with its demonstrations and an example query, as shipped or saved (YAML or JSON), and
the assertions that judge every item it runs on (promptfoo's ``assert:`` list and ``threshold``).

Files go through the bounded reader and loader every file goes through (:mod:`workbench.safeload`);
their layout is a Pydantic model built from :class:`~workbench.prompts.spec.PromptSpec`'s fields.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.data import Example
from workbench.errors import ConfigError, DataError, PromptError
from workbench.prompts.spec import PromptSpec

if TYPE_CHECKING:
    from workbench.judging.base import Check

#: The package the shipped ``prompts/`` folder rides in (pyproject maps the repository root onto it).
SHIPPED_PACKAGE = "workbench_app"


def shipped_prompts_dir() -> Path:
    """The shipped ``prompts/`` folder (starter specs in ``specs/``, classroom sets in ``classroom/``): the one in
    the installed package's folders (a wheel: site-packages; an editable install: the checkout), else this
    checkout's own. (The package is a namespace package: ``importlib.resources.files`` on Python 3.11 trips over
    an editable install's path hook in its path, so its folders are read from its import spec.)"""
    from importlib.util import find_spec

    spec = find_spec(SHIPPED_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        if (Path(folder) / "prompts").is_dir():
            return Path(folder) / "prompts"
    return Path(__file__).resolve().parents[2] / "prompts"


#: Starter specs shipped with the workbench (prompts/specs/).
STARTER_DIR = shipped_prompts_dir() / "specs"


@dataclass(frozen=True)
class SpecFile:
    """A spec as shipped or saved: a name, the spec, its demonstrations and an example query, and the
    assertions that judge every item it runs on."""

    name: str
    spec: PromptSpec
    demos: tuple[Example, ...] = ()
    description: str = ""  # one line for pickers
    example: str = ""  # a query to try it with
    checks: tuple[Check, ...] = ()  # the file's ``assert:`` list, built and validated (): the format's own check
    threshold: float | None = None  # pass threshold on the checks' weighted score (None: every check must pass)

    def to_dict(self) -> dict[str, Any]:
        """The YAML layout :func:`load_spec` reads (``assert`` and ``threshold`` only when the file has them)."""
        out = {"name": self.name, "description": self.description, "example": self.example,
               "spec": self.spec.to_dict(), "demos": [d.to_dict() for d in self.demos]}
        if self.checks:
            out["assert"] = [c.to_dict() for c in self.checks]
        if self.threshold is not None:
            out["threshold"] = self.threshold
        return out


def demo_file_model(config):
    """One demonstration as files hold it (``question``/``answer``/...), a Pydantic model with the caller's config."""
    from pydantic import create_model

    return create_model(
        "DemoModel", __config__=config,
        id=(str | None, None), question=(str, ...), answer=(str, ...), rationale=(str | None, None),
        label=(str | None, None), choices=(dict[str, str] | None, None),
    )


def spec_file_model(config):
    """:class:`PromptSpec` as files hold it, a Pydantic model with the caller's config built from its fields (so a
    field added there is in every file layout and schema): text lists as lists, a chat prompt's ``messages`` as
    ``{role, content}`` mappings (what :meth:`PromptSpec.to_dict` writes)."""
    from pydantic import create_model

    message = create_model("MessageModel", __config__=config, role=(str, ...), content=(str, ...))
    hints = typing.get_type_hints(PromptSpec)
    fields = {}
    for f in dataclasses.fields(PromptSpec):
        hint = list[message] if f.name == "messages" else hints[f.name]  # type: ignore[valid-type]
        if typing.get_origin(hint) is tuple:
            hint = list[typing.get_args(hint)[0]]  # type: ignore[misc]
        fields[f.name] = (hint, list(f.default) if isinstance(f.default, tuple) else f.default)
    return create_model("PromptSpecModel", __config__=config, **fields)


@cache
def _file_model():
    """Pydantic models of the file layout (extra keys forbidden), built once from PromptSpec's fields."""
    from pydantic import BaseModel, ConfigDict, Field

    forbid = ConfigDict(extra="forbid")
    spec_model = spec_file_model(forbid)

    demo_model = demo_file_model(forbid)

    class FileModel(BaseModel):
        model_config = forbid
        name: str
        description: str = ""
        example: str = ""
        spec: spec_model = Field(default_factory=spec_model)  # type: ignore[valid-type]
        demos: list[demo_model] = Field(default_factory=list)  # type: ignore[valid-type]
        # promptfoo's assertions, as written (mappings or "TYPE: VALUE" text); workbench.judging validates them
        assert_: list[dict[str, Any] | str] = Field(default_factory=list, alias="assert")
        threshold: float | None = Field(default=None, strict=True)  # no bool or text: checked first, by _judging

    return FileModel


def parse_spec_file(data: Any, source: str = "spec") -> SpecFile:
    """Validate an already-parsed mapping (YAML/JSON) into a SpecFile; errors are one-line DataErrors."""
    from pydantic import ValidationError

    from workbench.safeload import validation_error

    if not isinstance(data, Mapping):
        raise DataError(f"{source}: expected a mapping with name, spec and demos, got {type(data).__name__}.")
    _judging([], written_threshold(data.get("threshold")), source)  # `threshold: yes` is a bool, never 1.0
    try:
        model = _file_model().model_validate(dict(data))
    except ValidationError as err:
        raise validation_error(source, err) from None
    try:
        spec = PromptSpec(**model.spec.model_dump())
    except PromptError as err:
        raise DataError(f"{source}: {err}") from None
    stem = Path(source).stem
    demos = tuple(
        Example.from_dict({**d.model_dump(), "id": d.id or None}, default_id=f"{stem}-{i}")
        for i, d in enumerate(model.demos, start=1)
    )
    checks, threshold = _judging(model.assert_, model.threshold, source)
    return SpecFile(name=model.name, spec=spec, demos=demos, description=model.description, example=model.example,
                    checks=checks, threshold=threshold)


def written_threshold(raw: Any) -> Any:
    """A file's ``threshold`` as written, for :func:`~workbench.judging.verdicts.check_threshold` to refuse a
    bool or text before validation could read it as a number: a whole number as a float (``2`` -> ``2.0``, as
    validated), anything but a number cut to 40 characters of text.

    >>> written_threshold(1), written_threshold(True), written_threshold(["x" * 50])
    (1.0, True, "['xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
    """
    if type(raw) is int:
        return float(raw)
    return raw if raw is None or isinstance(raw, int | float) else str(raw)[:40]


def _judging(specs: list, threshold: float | None, source: str) -> tuple[tuple[Check, ...], float | None]:
    """A file's ``assert:`` list built into checks and its ``threshold`` checked, as one DataError line naming the
    file (``a.yaml assertion 2: unknown assertion type 'regexp'; ...``)."""
    from workbench.judging.registry import build_checks
    from workbench.judging.verdicts import check_threshold

    try:
        return build_checks(specs, source), check_threshold(threshold, source)
    except ConfigError as err:
        raise DataError(str(err)) from None


def load_spec(path: str | Path) -> SpecFile:
    """Load a YAML (or ``.json``) spec file with the bounded reader and loader every file goes through
    (:mod:`workbench.safeload`): regular files of at most ``MAX_DOCUMENT_BYTES`` only (a FIFO, a device, a
    folder is one line), then :func:`loads_spec`."""
    from workbench.safeload import MAX_DOCUMENT_BYTES, read_file

    path = Path(path)
    data = read_file(path, missing="give a spec file or a starter name.", folder="give a spec .yaml file.",
                     max_bytes=MAX_DOCUMENT_BYTES)
    return loads_spec(data, path.name, "json" if path.suffix.lower() == ".json" else "yaml")


def loads_spec(text: str | bytes, source: str = "spec", fmt: str = "yaml") -> SpecFile:
    """A spec file's text (``fmt`` "yaml" or "json") parsed by the bounded loader: no tags, anchors or aliases;
    nesting, text lengths, list sizes and numbers bounded; every problem one :class:`DataError` line."""
    from workbench.safeload import Bounds, load_document

    data = load_document(text, source, fmt, Bounds(), what="spec files", holder="a spec file")
    return parse_spec_file(data, source)


def starter_specs() -> dict[str, SpecFile]:
    """The starter specs shipped in prompts/specs/, by file stem."""
    return {p.stem: load_spec(p) for p in sorted(STARTER_DIR.glob("*.yaml"))}
