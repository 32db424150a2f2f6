"""Untrusted prompt-set files: safe YAML/JSON loading with bounds, validation (Pydantic at the edge),
migrations, and canonical writing (export -> import -> export is byte-identical).
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from workbench.data import Example, sample_pools
from workbench.decoding import DecodingConfig
from workbench.errors import DataError, WorkbenchError
from workbench.prompts.files import demo_file_model, shipped_prompts_dir, spec_file_model, written_threshold
from workbench.prompts.rendering import demo_text
from workbench.prompts.spec import PromptSpec
from workbench.promptsets.model import (
    DEFAULT_LIMITS,
    MAX_SELECT_K,
    SCHEMA_VERSION,
    Limits,
    PromptSet,
    SelectorSpec,
    Step,
    TestCase,
)
from workbench.retrieval.orders import ORDERS
from workbench.retrieval.selectors.registry import SELECTORS
from workbench.safeload import Bounds, check_tree, load_document, read_file
from workbench.safeload import path as _path
from workbench.store import check_name

if TYPE_CHECKING:
    pass

#: File formats a set is read from and written to.
FORMATS = ("yaml", "json")
#: Classroom demo sets shipped with the workbench (prompts/classroom/).
CLASSROOM_DIR = shipped_prompts_dir() / "classroom"
_YAML_BREAKS = re.compile("[\r\x85\u2028\u2029]")
_SERVER_URL = re.compile(r"^\s*https?://", re.IGNORECASE)


def _list_hint(hint: Any) -> Any:
    """tuple[str, ...] -> list[str]: files hold lists; the dataclasses turn them into tuples."""
    return list[str] if hint == tuple[str, ...] else hint


@cache
def _models():
    """The Pydantic models of schema version 1 (built once; extra keys forbidden, types strict)."""
    from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model, model_validator

    forbid = ConfigDict(extra="forbid", strict=True)
    #: a pass threshold: a number from 0 to 1 (never a bool or text), by the judging's own rule
    Threshold = typing.Annotated[float | None, BeforeValidator(_threshold)]

    def from_dataclass(name: str, cls: type) -> type[BaseModel]:
        hints = typing.get_type_hints(cls)
        fields = {}
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            fields[f.name] = (_list_hint(hints[f.name]), list(default) if isinstance(default, tuple) else default)
        return create_model(name, __config__=forbid, **fields)

    spec_model = spec_file_model(forbid)
    decoding_model = from_dataclass("DecodingModel", DecodingConfig)

    DemoModel = demo_file_model(forbid)

    class SelectModel(BaseModel):
        model_config = forbid
        name: Literal[tuple(SELECTORS)]  # type: ignore[valid-type]
        k: int = Field(ge=0, le=MAX_SELECT_K)
        pool: str
        order: Literal[tuple(ORDERS)] = "similar_last"  # type: ignore[valid-type]
        seed: int = Field(default=0, ge=0)
        mmr_lambda: float = Field(default=0.5, ge=0, le=1)
        indices: list[int] = Field(default_factory=list)

    class StepModel(BaseModel):
        model_config = forbid
        title: str = Field(min_length=1)
        notes: str = ""
        model: str = ""
        spec: spec_model = Field(default_factory=spec_model)  # type: ignore[valid-type]
        demos: list[DemoModel] = Field(default_factory=list)
        select: SelectModel | None = None
        decoding: decoding_model = Field(default_factory=decoding_model)  # type: ignore[valid-type]
        assert_: list[dict[str, Any]] | None = Field(default=None, alias="assert")
        threshold: Threshold = None

        @model_validator(mode="after")
        def _one_source(self):
            if self.demos and self.select is not None:
                raise ValueError("give inline demos or a select spec, not both")
            return self

    class TestModel(BaseModel):
        model_config = forbid
        input: str = Field(min_length=1)
        expected: str | None = None
        choices: dict[str, str] | None = None
        assert_: list[dict[str, Any]] | None = Field(default=None, alias="assert")
        threshold: Threshold = None

    class SetModel(BaseModel):
        model_config = forbid
        schema_version: int
        name: str
        description: str = ""
        notes: str = ""
        tags: list[str] = Field(default_factory=list)
        steps: list[StepModel] = Field(min_length=1)
        tests: list[TestModel] = Field(default_factory=list)

    return SetModel


def _threshold(value: Any) -> float | None:
    """A set's ``threshold`` as written, by :func:`workbench.judging.verdicts.check_threshold` (its error as the
    ValueError Pydantic reports at the field, without the final period it adds)."""
    from workbench.errors import ConfigError
    from workbench.judging.verdicts import check_threshold

    try:
        return check_threshold(written_threshold(value))
    except ConfigError as err:
        raise ValueError(str(err).rstrip(".")) from None


def _pydantic_message(err: dict[str, Any]) -> str:
    where = _path(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{where}: unknown field; remove it or check its spelling."
    if kind == "missing":
        return f"{where}: missing; add it."
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return f"{where}: {msg[:1].lower()}{msg[1:]}."


def _field_error(where: str, err: WorkbenchError, fields: Sequence[str]) -> DataError:
    """A spec/decoding error as ``where.field: message`` when it starts with a field name."""
    text = str(err)
    for name in sorted(fields, key=len, reverse=True):
        if text.startswith(name + " "):
            return DataError(f"{where}.{name}: {text[len(name) + 1:]}")
    return DataError(f"{where}: {text}")




def _collection_limit(limits: Limits):
    """The bound of one list or object of a set: demonstrations, steps and tests have their own."""
    def collection_limit(loc: tuple[Any, ...], obj: list | dict) -> tuple[int, str, str]:
        key = loc[-1] if loc else None
        if isinstance(obj, list) and key == "demos":
            return limits.max_demos, "demonstrations", "max_demos"
        if isinstance(obj, list) and key == "steps" and len(loc) == 1:
            return limits.max_steps, "steps", "max_steps"
        if isinstance(obj, list) and key == "tests" and len(loc) == 1:
            return limits.max_tests, "test inputs", "max_tests"
        return limits.max_items, "items", "max_items"

    return collection_limit


def _bounds(limits: Limits) -> Bounds:
    return Bounds(max_depth=limits.max_depth, max_string=limits.max_string, max_items=limits.max_items)


def _check_tree(data: Any, source: str, limits: Limits) -> None:
    """Bound depth, string lengths and list sizes of parsed data (see :func:`workbench.safeload.check_tree`)."""
    check_tree(data, source, _bounds(limits), _collection_limit(limits), holder="a prompt set")


#: Migration v -> v + 1 of a set document (a dict); add one here when SCHEMA_VERSION grows.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def migrate(data: dict[str, Any], source: str = "prompt set") -> dict[str, Any]:
    """Bring an older document up to SCHEMA_VERSION with :data:`MIGRATIONS`; refuse unknown versions."""
    version = data.get("schema_version")
    if version is None:
        raise DataError(f"{source}: schema_version is missing; add 'schema_version: {SCHEMA_VERSION}' at the top.")
    if not isinstance(version, int) or isinstance(version, bool):
        raise DataError(f"{source}: schema_version must be a whole number; this workbench reads {SCHEMA_VERSION}.")
    while version != SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            newer = " (written by a newer workbench; upgrade it)" if version > SCHEMA_VERSION else ""
            raise DataError(f"{source}: schema_version {version} is not supported{newer}; "
                            f"this workbench reads schema_version {SCHEMA_VERSION}.")
        data = step(data)
        version = data["schema_version"]
    return data


def from_dict(data: Any, source: str = "prompt set", limits: Limits = DEFAULT_LIMITS) -> PromptSet:
    """Validate a parsed document into a PromptSet; every problem is a one-line DataError naming the field."""
    from pydantic import ValidationError

    if not isinstance(data, dict):
        raise DataError(f"{source}: expected a mapping with schema_version, name and steps, "
                        f"got {type(data).__name__}.")
    _check_tree(data, source, limits)
    data = migrate(data, source)
    try:
        model = _models().model_validate(data)
    except ValidationError as err:
        raise DataError(f"{source}: {_pydantic_message(err.errors()[0])}") from None
    try:
        name = check_name(model.name)
    except DataError as err:
        raise DataError(f"{source}: name: {str(err)[:1].lower()}{str(err)[1:]}") from None
    steps = tuple(_step(i, s, source) for i, s in enumerate(model.steps))
    tests = tuple(TestCase(t.input, t.expected, t.choices, _checks(t.assert_, f"{source}: tests[{j}]"), t.threshold)
                  for j, t in enumerate(model.tests))
    return PromptSet(name=name, steps=steps, description=model.description, notes=model.notes,
                     tags=tuple(model.tags), tests=tests)


def _step(i: int, s: Any, source: str) -> Step:
    where = f"{source}: steps[{i}]"
    spec_fields = [f.name for f in dataclasses.fields(PromptSpec)]
    dec_fields = [f.name for f in dataclasses.fields(DecodingConfig)]
    try:
        spec = PromptSpec(**s.spec.model_dump())
    except WorkbenchError as err:
        raise _field_error(f"{where}.spec", err, spec_fields) from None
    try:
        decoding = DecodingConfig(**s.decoding.model_dump())
    except WorkbenchError as err:
        raise _field_error(f"{where}.decoding", err, dec_fields) from None
    if _SERVER_URL.match(s.model):
        raise DataError(f"{where}.model: a prompt set may not name a server URL (it would send your prompts "
                        "there); use a registry id or leave it empty and pick the server in the sidebar.")
    demos = tuple(
        Example.from_dict(d.model_dump(), default_id=f"demo-{j + 1}") for j, d in enumerate(s.demos)
    )
    for j, ex in enumerate(demos):
        try:
            demo_text(spec, ex)
        except WorkbenchError as err:
            raise DataError(f"{where}.demos[{j}]: {err}") from None
    select = None
    if s.select is not None:
        sel = s.select
        if sel.pool not in sample_pools():
            raise DataError(f"{where}.select.pool: unknown pool {sel.pool!r}; a prompt set selects from a "
                            f"shipped pool: {', '.join(sample_pools())}.")
        select = SelectorSpec(name=sel.name, k=sel.k, pool=sel.pool, order=sel.order, seed=sel.seed,
                              mmr_lambda=sel.mmr_lambda, indices=tuple(sel.indices))
    return Step(title=s.title, spec=spec, demos=demos, select=select, decoding=decoding, model=s.model,
                notes=s.notes, checks=_checks(s.assert_, where), threshold=s.threshold)


def _checks(written: list[dict[str, Any]] | None, where: str) -> tuple[dict[str, Any], ...]:
    """An entry's ``assert`` list, validated by building every check (a bad type, regex, schema or threshold is
    one line naming the file and the entry) and kept as written, so it exports unchanged. A judge ``provider``
    naming a server is refused as a step's model is: the file would send your outputs there."""
    from workbench.backends.kinds import is_server
    from workbench.errors import ConfigError
    from workbench.judging.registry import build_checks

    if not written:
        return ()
    for n, spec in enumerate(written, start=1):
        provider = spec.get("provider")
        if provider is not None and (not isinstance(provider, str) or is_server(provider)):
            raise DataError(f"{where} assertion {n}: provider must be a model registry id or local model name; "
                            "a prompt set may not name a server (it would send your outputs there).")
    try:
        build_checks(written, where)
    except ConfigError as err:
        raise DataError(str(err)) from None
    return tuple(dict(spec) for spec in written)


def _detect(source: str, text: str) -> str:
    suffix = Path(source).suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    return "json" if text.lstrip().startswith("{") else "yaml"


def loads(text: str | bytes, fmt: str | None = None, source: str = "prompt set",
          limits: Limits = DEFAULT_LIMITS) -> PromptSet:
    """Parse YAML or JSON text (``fmt`` None: by ``source``'s extension, else by content) into a PromptSet."""
    size = len(text.encode("utf-8") if isinstance(text, str) else text)
    if size > limits.max_bytes:
        raise DataError(f"{source} is {size:,} bytes; prompt-set files are limited to {limits.max_bytes:,} "
                        "bytes (max_bytes).")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise DataError(f"{source} is not UTF-8 text (offset {err.start}); save it as UTF-8.") from None
    text = text.removeprefix("\ufeff")  # a byte-order mark some editors write
    fmt = fmt or _detect(source, text)
    if fmt not in FORMATS:
        raise DataError(f"Unknown prompt-set format {fmt!r}; use one of {', '.join(FORMATS)}.")
    if not text.strip():
        raise DataError(f"{source} is empty.")
    data = load_document(text, source, fmt, _bounds(limits), what="prompt-set files", max_bytes=limits.max_bytes,
                         collection_limit=_collection_limit(limits), holder="a prompt set")
    return from_dict(data, source, limits)


def load(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> PromptSet:
    """Read a YAML or JSON prompt-set file (its size is checked before reading it)."""
    path = Path(path)
    hint = "give a prompt-set .yaml or .json file."
    data = read_file(path, missing=hint, folder=hint, max_bytes=limits.max_bytes,
                     too_big=lambda name, size: f"{name} is {'over' if size is None else f'{size:,} bytes;'} "
                                                f"prompt-set files are limited to {limits.max_bytes:,} bytes "
                                                "(max_bytes).")
    return loads(data, source=path.name, limits=limits)


def classroom_sets() -> dict[str, PromptSet]:
    """The classroom demo sets shipped in prompts/classroom/, by file stem."""
    return {p.stem: load(p) for p in sorted(CLASSROOM_DIR.glob("*.yaml"))}




def _yaml_dumper():
    import yaml

    class Dumper(yaml.SafeDumper):
        """Multi-line text as literal blocks (readable); everything else as PyYAML writes it."""

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        # Literal blocks for multi-line text, "\n" escapes for bare newlines; the emitter falls back when needed.
        # YAML's other line breaks (NEL, LS, PS, CR) are normalised by readers unless escaped: always quote them.
        if _YAML_BREAKS.search(value):
            style: str | None = '"'
        else:
            style = "|" if "\n" in value.strip("\n") else ('"' if "\n" in value else None)
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return Dumper


def to_yaml(pset: PromptSet) -> str:
    """Canonical YAML (block style, key order as in :meth:`PromptSet.to_dict`)."""
    import yaml

    return yaml.dump(pset.to_dict(), Dumper=_yaml_dumper(), sort_keys=False, allow_unicode=True,
                     width=1_000_000, default_flow_style=False)


def to_json(pset: PromptSet) -> str:
    """Canonical JSON (two-space indent, UTF-8, trailing newline)."""
    return json.dumps(pset.to_dict(), ensure_ascii=False, indent=2) + "\n"


def dumps(pset: PromptSet, fmt: str = "yaml") -> str:
    """The set as ``fmt`` ("yaml" or "json") text."""
    if fmt == "yaml":
        return to_yaml(pset)
    if fmt == "json":
        return to_json(pset)
    raise DataError(f"Unknown prompt-set format {fmt!r}; use one of {', '.join(FORMATS)}.")
