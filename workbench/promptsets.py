"""Prompt sets: a versioned, validated file format bundling prompt specs to keep, share and hand out.

A *prompt set* holds one or more **steps**; each step is a prompt spec
(:class:`~workbench.prompts.PromptSpec`) with its demonstrations -- written inline, or
chosen per query by a selector over a shipped pool -- a decoding config and a model
id. The set adds notes, tags and optional test inputs with expected answers::

    schema_version: 1
    name: Zero vs few-shot
    notes: Why demonstrations matter on a base model.
    steps:
      - title: Zero-shot
        model: gemma-3-270m
        spec: {query_template: "Review: {input}\\nSentiment:", ...}
        demos: []                 # or  select: {name: knn, k: 4, order: similar_last, pool: sentiment}
        decoding: {max_new_tokens: 4, ...}
    tests:
      - {input: "A joy from start to finish.", expected: positive}

A shared file is **untrusted**: YAML is read with the safe loader only, after an event
scan that refuses ``!!python/...`` and other custom tags, anchors/aliases (exponential
"billion laughs" expansion) and deep nesting; files, strings and lists are bounded by
:class:`Limits`; templates only ever go through :mod:`workbench.templates` (plain
``{name}`` substitution, nothing evaluated). Every problem is one :class:`DataError`
line naming the field, e.g. ``steps[0].decoding.top_p: must be in (0, 1] (got 1.5)``.

Exports are canonical (every field written, fixed key order), so export -> import ->
export is byte-identical, in YAML and in JSON.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import io
import json
import re
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from workbench.answers import Vote, is_correct
from workbench.consistency import self_consistency
from workbench.data import Example, load_sample, sample_pools
from workbench.decoding import DecodingConfig
from workbench.errors import DataError, WorkbenchError
from workbench.prompts import (
    PromptRun,
    PromptSpec,
    StageRunner,
    demo_file_model,
    demo_text,
    fit_to_window,
    render,
    reserved_tokens,
    run_prompt,
)
from workbench.retrieval import ORDERS, SELECTORS
from workbench.safeload import Bounds, check_tree, load_yaml, parse_json
from workbench.safeload import path as _path
from workbench.store import MAX_NAME_LENGTH, check_name

if TYPE_CHECKING:
    from workbench.backends import Backend
    from workbench.retrieval import PoolIndex
    from workbench.store import Store

#: The schema version this workbench writes and reads.
SCHEMA_VERSION = 1
#: File formats a set is read from and written to.
FORMATS = ("yaml", "json")
#: JSONL export shapes: raw completion text {"prompt"} or chat messages {"messages"}.
JSONL_SHAPES = ("raw", "chat")
#: Most demonstrations a selector may put in one prompt.
MAX_SELECT_K = 64
#: Classroom demo sets shipped with the workbench.
CLASSROOM_DIR = Path(__file__).resolve().parents[1] / "prompts" / "classroom"
_YAML_BREAKS = re.compile("[\r\x85\u2028\u2029]")
_SERVER_URL = re.compile(r"^\s*https?://", re.IGNORECASE)


@dataclass(frozen=True)
class Limits:
    """Bounds for untrusted files; a file beyond one is refused with a message naming the limit."""

    max_bytes: int = 1_000_000  # a classroom set is a few kB; 1 MB holds ~1,000 long demonstrations
    max_depth: int = 10  # the schema itself nests 6 deep (steps[0].demos[0].choices.A)
    max_string: int = 20_000  # characters in any one text (a long instruction or rationale)
    max_demos: int = 1_000  # inline demonstrations per step; more would not fit any context window
    max_steps: int = 50  # steps per set (one concept per step)
    max_tests: int = 1_000  # test inputs per set
    max_items: int = 1_000  # any other list or mapping (tags, stop strings, choices)


DEFAULT_LIMITS = Limits()


# ---- the set -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SelectorSpec:
    """Choose demonstrations per query from a shipped pool (see :data:`workbench.retrieval.SELECTORS`)."""

    name: str  # a selector name: random, knn, bm25, mmr, cluster, label_balanced, fixed
    k: int  # how many demonstrations
    pool: str  # a sample pool shipped with the workbench (workbench/samples/<pool>.jsonl)
    order: str = "similar_last"  # a workbench.retrieval.ORDERS name
    seed: int = 0  # random selector, cluster k-means and random order
    mmr_lambda: float = 0.5  # MMR trade-off, 1 = nearest, 0 = diverse (Carbonell & Goldstein's middle)
    indices: tuple[int, ...] = ()  # pool positions for the "fixed" selector

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "k": self.k, "pool": self.pool, "order": self.order, "seed": self.seed,
                "mmr_lambda": self.mmr_lambda, "indices": list(self.indices)}


@dataclass(frozen=True)
class Step:
    """One prompt of a set: a spec, its demonstrations (inline or selected), decoding and model."""

    title: str
    spec: PromptSpec = field(default_factory=PromptSpec)
    demos: tuple[Example, ...] = ()  # inline demonstrations, in prompt order
    select: SelectorSpec | None = None  # or: choose demonstrations per query (then demos is empty)
    decoding: DecodingConfig = field(default_factory=DecodingConfig)  # n > 1: self-consistency majority vote
    model: str = ""  # a registry id or local model path; "" = whichever model is picked
    notes: str = ""  # what this step shows (Markdown)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"title": self.title, "notes": self.notes, "model": self.model,
                             "spec": self.spec.to_dict(), "demos": [ex.to_dict() for ex in self.demos]}
        if self.select is not None:
            d["select"] = self.select.to_dict()
        d["decoding"] = self.decoding.to_dict()
        return d


@dataclass(frozen=True)
class TestCase:
    """A test input, with the expected answer when known."""

    __test__ = False  # not a pytest class

    input: str
    expected: str | None = None
    choices: dict[str, str] | None = field(default=None, hash=False)  # multiple choice: label -> text

    def query(self, id_: str = "test") -> str | Example:
        """What :func:`workbench.prompts.render` takes: the text, or an Example carrying the choices."""
        if self.choices is None:
            return self.input
        return Example(id=id_, input=self.input, answer=self.expected or "", choices=self.choices)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"input": self.input}
        if self.expected is not None:
            d["expected"] = self.expected
        if self.choices is not None:
            d["choices"] = dict(self.choices)
        return d


@dataclass(frozen=True)
class PromptSet:
    """Prompt specs with demonstrations, decoding and model, plus notes, tags and test inputs."""

    name: str
    steps: tuple[Step, ...]
    description: str = ""  # one line for lists
    notes: str = ""  # the explanation: what the set shows and what to look for (Markdown)
    tags: tuple[str, ...] = ()
    tests: tuple[TestCase, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The canonical document: every field, fixed key order (what the store and exports hold)."""
        return {"schema_version": SCHEMA_VERSION, "name": self.name, "description": self.description,
                "notes": self.notes, "tags": list(self.tags), "steps": [s.to_dict() for s in self.steps],
                "tests": [t.to_dict() for t in self.tests]}

    def renamed(self, name: str) -> PromptSet:
        return dataclasses.replace(self, name=name)


# ---- validation (Pydantic, only here where user files come in) ------------------------------


def _list_hint(hint: Any) -> Any:
    """tuple[str, ...] -> list[str]: files hold lists; the dataclasses turn them into tuples."""
    return list[str] if hint == tuple[str, ...] else hint


@cache
def _models():
    """The Pydantic models of schema version 1 (built once; extra keys forbidden, types strict)."""
    from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

    forbid = ConfigDict(extra="forbid", strict=True)

    def from_dataclass(name: str, cls: type) -> type[BaseModel]:
        hints = typing.get_type_hints(cls)
        fields = {}
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            fields[f.name] = (_list_hint(hints[f.name]), list(default) if isinstance(default, tuple) else default)
        return create_model(name, __config__=forbid, **fields)

    spec_model = from_dataclass("PromptSpecModel", PromptSpec)
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


# ---- safety scans -----------------------------------------------------------------------------


def _check_tree(data: Any, source: str, limits: Limits) -> None:
    """Bound depth, string lengths and list sizes of parsed data (see :func:`workbench.safeload.check_tree`)."""
    def collection_limit(loc: tuple[Any, ...], obj: list | dict) -> tuple[int, str, str]:
        key = loc[-1] if loc else None
        if isinstance(obj, list) and key == "demos":
            return limits.max_demos, "demonstrations", "max_demos"
        if isinstance(obj, list) and key == "steps" and len(loc) == 1:
            return limits.max_steps, "steps", "max_steps"
        if isinstance(obj, list) and key == "tests" and len(loc) == 1:
            return limits.max_tests, "test inputs", "max_tests"
        return limits.max_items, "items", "max_items"

    bounds = Bounds(max_depth=limits.max_depth, max_string=limits.max_string, max_items=limits.max_items)
    check_tree(data, source, bounds, collection_limit, holder="a prompt set")


# ---- reading ----------------------------------------------------------------------------------

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
    tests = tuple(TestCase(t.input, t.expected, t.choices) for t in model.tests)
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
        Example(id=f"demo-{j + 1}" if d.id is None else d.id, input=d.question, answer=d.answer, rationale=d.rationale,
                label=d.label, choices=d.choices)
        for j, d in enumerate(s.demos)
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
                notes=s.notes)


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
    if fmt == "json":
        try:
            data = parse_json(text, source, limits.max_depth)
        except json.JSONDecodeError as err:
            raise DataError(f"{source} line {err.lineno}: not valid JSON ({err.msg}).") from None
    else:
        data = load_yaml(text, source, limits.max_depth, what="prompt-set files")
    return from_dict(data, source, limits)


def load(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> PromptSet:
    """Read a YAML or JSON prompt-set file (its size is checked before reading it)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise DataError(f"{path.name} is {size:,} bytes; prompt-set files are limited to "
                            f"{limits.max_bytes:,} bytes (max_bytes).")
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path} does not exist; give a prompt-set .yaml or .json file.") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a folder; give a prompt-set .yaml or .json file.") from None
    except OSError as err:
        raise DataError(f"Cannot read {path}: {err.strerror}.") from None
    return loads(data, source=path.name, limits=limits)


def classroom_sets() -> dict[str, PromptSet]:
    """The classroom demo sets shipped in prompts/classroom/, by file stem."""
    return {p.stem: load(p) for p in sorted(CLASSROOM_DIR.glob("*.yaml"))}


# ---- writing ----------------------------------------------------------------------------------


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


# ---- demonstrations and rendering ----------------------------------------------------------

#: Builds (or returns a cached) index over a shipped pool, by pool name.
IndexFactory = Callable[[str], "PoolIndex"]


def default_index_factory() -> IndexFactory:
    """Indexes over the shipped sample pools with the default embedder, each built once (heavy: loads MiniLM)."""
    built: dict[str, PoolIndex] = {}
    embedder: list = []  # loaded on first use

    def indexes(pool: str) -> PoolIndex:
        if pool not in built:
            from workbench.retrieval import build_index, load_embedder

            if not embedder:
                embedder.append(load_embedder())
            built[pool] = build_index(pool_by_name(pool), embedder[0])
        return built[pool]

    return indexes


def pool_by_name(name: str):
    """A shipped sample pool (the only pools a shared file may name: it cannot point at your files)."""
    if name not in sample_pools():
        raise DataError(f"Unknown pool {name!r}; a prompt set selects from a shipped pool: "
                        f"{', '.join(sample_pools())}.")
    return load_sample(name)


def step_demos(step: Step, query: str | Example, indexes: IndexFactory | None = None
               ) -> tuple[tuple[Example, ...], tuple[float, ...] | None]:
    """The step's demonstrations for ``query`` in prompt order, and their relevance scores when selected."""
    if step.select is None:
        return step.demos, None
    from workbench.retrieval import make_selector, order

    sel = step.select
    if indexes is None:
        raise DataError(f"Step {step.title!r} selects demonstrations from the {sel.pool!r} pool; "
                        "it needs an index factory (the embedder).")
    index = indexes(sel.pool)
    text = query.input if isinstance(query, Example) else query
    selector = make_selector(sel.name, index, seed=sel.seed, lambda_=sel.mmr_lambda, indices=sel.indices)
    chosen = order(selector.select(text, sel.k), sel.order, seed=sel.seed, labels=index.labels)
    return tuple(index.pool[i] for i in chosen.indices), chosen.scores


class _MessagesOnly:
    """Stands in for a chat model when only the messages are wanted (JSONL chat export)."""

    is_chat = True

    def format_chat(self, messages: Sequence[dict]) -> str:
        return ""

    def count_tokens(self, text: str) -> int:
        return 0


def chat_messages(step: Step, demos: Sequence[Example], query: str | Example) -> list[dict[str, str]]:
    """The step's prompt as chat messages; an answer prefix or CoT trigger becomes a final assistant turn."""
    rendered = render(step.spec, demos, query, _MessagesOnly(), as_chat=True)
    messages = [dict(m) for m in rendered.messages or ()]
    if rendered.text:  # what the answer starts with (prefill); "" for most specs
        messages.append({"role": "assistant", "content": rendered.text})
    return messages


def render_jsonl(pset: PromptSet, inputs: Sequence[TestCase] | None = None, shape: str = "raw",
                 indexes: IndexFactory | None = None, meta: bool = False) -> str:
    """One JSON line per step and input: ``{"prompt": text}`` (raw) or ``{"messages": [...]}`` (chat).

    ``inputs`` default to the set's test inputs. ``meta`` adds a "meta" object (set, step,
    input, expected, model, decoding) for matching results back.
    """
    if shape not in JSONL_SHAPES:
        raise DataError(f"Unknown JSONL shape {shape!r}; use one of {', '.join(JSONL_SHAPES)}.")
    inputs = pset.tests if inputs is None else tuple(inputs)
    if not inputs:
        raise DataError(f"The set {pset.name!r} has no test inputs; give inputs to render.")
    lines = []
    for i, step in enumerate(pset.steps):
        for j, case in enumerate(inputs):
            query = case.query(f"input-{j + 1}")
            demos, _ = step_demos(step, query, indexes)
            if shape == "raw":
                row: dict[str, Any] = {"prompt": render(step.spec, demos, query, as_chat=False).text}
            else:
                row = {"messages": chat_messages(step, demos, query)}
            if meta:
                row["meta"] = {"set": pset.name, "step": i, "title": step.title, "input": case.input,
                               "expected": case.expected, "model": step.model, "decoding": step.decoding.to_dict()}
            lines.append(json.dumps(row, ensure_ascii=False))
    return "\n".join(lines) + "\n"


# ---- running ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepRun:
    """A step run on one input: every sample's prompt run, the (voted) answer and whether it is right."""

    step: int
    title: str
    model: str
    case: TestCase
    runs: tuple[PromptRun, ...]  # one per sample (decoding.n; self-consistency when n > 1)
    answer: str | None  # the answer, or the majority answer over the samples
    vote: Vote | None  # the vote when there were several samples
    correct: bool | None  # None without an expected answer

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.runs)

    @property
    def output(self) -> str:
        """The final-stage output of the first sample."""
        return self.runs[0].stages[-1].output


#: Runs one sample's stage: (sample index, stage name, prompt, config) -> Generation. Pages stream with it.
SampleRunner = Callable[[int, str, str, DecodingConfig], Any]


def run_step(step: Step, case: TestCase, backend: Backend, *, index: int = 0, model: str = "",
             indexes: IndexFactory | None = None, runner: SampleRunner | None = None,
             as_chat: bool | None = None) -> StepRun:
    """Run one step on one input; ``decoding.n`` samples (seeds seed, seed+1, ...) are majority-voted."""
    query = case.query()
    demos, scores = step_demos(step, query, indexes)
    cfg = step.decoding
    fmt = step.spec.answer_format
    if cfg.n == 1:
        stage_runner: StageRunner | None = None
        if runner is not None:
            def stage_runner(name, prompt, c):
                return runner(0, name, prompt, c)
        runs = [run_prompt(step.spec, demos, query, backend, cfg, scores=scores, as_chat=as_chat,
                           runner=stage_runner)]
        vote, answer = None, runs[0].answer
    else:  # self-consistency: the one implementation, on the prompt rendered once
        rendered = fit_to_window(step.spec, demos, query, backend, reserved_tokens(step.spec, cfg, backend, query),
                                 scores, as_chat)
        result = self_consistency(step.spec, rendered.text, backend, cfg, query=query, runner=runner)
        runs = [PromptRun(rendered, p.stages, p.extraction) for p in result.paths]
        vote, answer = result.vote, result.vote.winner
    correct = None if case.expected is None else is_correct(answer, case.expected, fmt)
    return StepRun(step=index, title=step.title, model=model or step.model, case=case, runs=tuple(runs),
                   answer=answer, vote=vote, correct=correct)


def run_set(pset: PromptSet, backends: Callable[[str], Backend], inputs: Sequence[TestCase] | None = None,
            *, default_model: str = "", indexes: IndexFactory | None = None,
            progress: Callable[[int, int], None] | None = None) -> list[StepRun]:
    """Every step on every input (default: the set's tests); ``backends(model_id)`` gives each step's model."""
    inputs = pset.tests if inputs is None else tuple(inputs)
    if not inputs:
        raise DataError(f"The set {pset.name!r} has no test inputs; give an input to run.")
    total, done, out = len(pset.steps) * len(inputs), 0, []
    for i, step in enumerate(pset.steps):
        model = step.model or default_model
        backend = backends(model)
        for case in inputs:
            out.append(run_step(step, case, backend, index=i, model=model, indexes=indexes))
            done += 1
            if progress is not None:
                progress(done, total)
    return out


#: Columns of the results CSV.
RESULT_COLUMNS = ("step", "title", "model", "input", "expected", "answer", "correct", "samples", "seconds",
                  "output")


def result_row(r: StepRun) -> dict[str, Any]:
    """One result as a flat row (CSV, tables); steps are numbered from 1 as the pages and the CLI show them."""
    return {"step": r.step + 1, "title": r.title, "model": r.model, "input": r.case.input,
            "expected": "" if r.case.expected is None else r.case.expected,
            "answer": "" if r.answer is None else r.answer,
            "correct": "" if r.correct is None else r.correct, "samples": len(r.runs),
            "seconds": round(r.seconds, 3), "output": r.output}


def results_csv(results: Sequence[StepRun]) -> str:
    """Results as CSV text, one row per step and input."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(RESULT_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for r in results:
        writer.writerow(result_row(r))
    return buf.getvalue()


# ---- library (the SQLite store) ---------------------------------------------------------------


def free_name(store: Store, name: str) -> str:
    """``name`` if no set holds it, else the first free "name (2)", "name (3)", ... (shortened to fit the limit)."""
    name = " ".join(name.split())[:MAX_NAME_LENGTH].strip()
    if not name or not store.exists(name):
        return name
    base = re.sub(r" \(\d+\)$", "", name)
    n = 2
    while True:
        suffix = f" ({n})"
        candidate = base[: MAX_NAME_LENGTH - len(suffix)].rstrip() + suffix
        if not store.exists(candidate):
            return candidate
        n += 1


def save(store: Store, pset: PromptSet, note: str = "", *, new: bool = False) -> int:
    """Save as the next version of the set named ``pset.name`` (``new``: refuse a taken name); returns it."""
    return store.save_set(pset.name, pset.to_dict(), pset.tags, note, new=new)


def import_set(store: Store, pset: PromptSet, name: str | None = None, note: str = "Imported", *,
               rename: bool = False) -> str:
    """Add an imported set as a new library set and return its name; never overwrites an existing set.

    A taken name is refused with a free one suggested, or with ``rename`` the set is saved
    under that free name ("name (2)") -- the caller says so to the user.
    """
    name = (name or pset.name).strip()
    if store.exists(name):
        if not rename:
            raise DataError(f"A prompt set named {name!r} already exists; import it as {free_name(store, name)!r} "
                            "or choose another name.")
        name = free_name(store, name)
    save(store, pset.renamed(name), note, new=True)
    return name


def get(store: Store, name: str, version: int | None = None) -> tuple[PromptSet, int]:
    """A library set (default: its latest version) and the version number; its name is the library's."""
    document, found = store.get_set(name, version)
    names = [s.name for s in store.list_sets(include_deleted=True)]
    wanted = name.strip()
    # The store compares names as SQLite's NOCASE does: ASCII letters only.
    real = wanted if wanted in names else next((n for n in names if _ascii_fold(n) == _ascii_fold(wanted)), wanted)
    return from_dict(document, f"{real} v{found}").renamed(real), found


def _ascii_fold(text: str) -> str:
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def diff_versions(store: Store, name: str, old: int, new: int) -> str:
    """Unified diff of two versions' YAML ("" when they are equal)."""
    a, _ = get(store, name, old)
    b, _ = get(store, name, new)
    lines = difflib.unified_diff(to_yaml(a).splitlines(keepends=True), to_yaml(b).splitlines(keepends=True),
                                 fromfile=f"{name} v{old}", tofile=f"{name} v{new}")
    return "".join(lines)


def step_models(pset: PromptSet) -> tuple[str, ...]:
    """The distinct model ids the steps name, in order ("" = whichever model is picked)."""
    return tuple(dict.fromkeys(s.model for s in pset.steps))



def find_set(store: Store, ref: str, version: int | None = None) -> tuple[PromptSet, str]:
    """The set ``ref`` names and where it came from: a prompt-set file path, a saved set, or a classroom set.

    A classroom set is named by its file stem (``zero_vs_few_shot``) or its title.
    """
    ref = ref.strip()
    if not ref:
        raise DataError("Name a prompt set: a saved set, a classroom set, or a .yaml/.json file.")
    path = Path(ref)
    if path.suffix.lower() in (".yaml", ".yml", ".json") or (len(ref) < 4096 and path.is_file()):
        if version is not None:
            raise DataError("--version picks a version of a saved set; a file has no versions.")
        return load(path), f"file {path.name}"
    if len(ref) <= MAX_NAME_LENGTH and "\n" not in ref and store.exists(ref):
        pset, found = get(store, ref, version)
        return pset, f"library, version {found}"
    if version is not None:
        raise DataError(f"There is no saved prompt set named {ref!r}; versions belong to saved sets.")
    classroom = classroom_sets()
    for key, pset in classroom.items():
        if ref.casefold() in (key.casefold(), pset.name.casefold()):
            return pset, f"classroom set {key}"
    raise DataError(f"No prompt set named {ref!r} in the library or the classroom sets, and no such file; "
                    "see `python -m workbench sets list`.")


def matches(pset: PromptSet, search: str) -> bool:
    """True when ``search`` is empty or in the set's name or one of its tags (case-insensitive)."""
    needle = search.strip().casefold()
    return not needle or needle in pset.name.casefold() or any(needle in t.casefold() for t in pset.tags)


def library_entries(store: Store, search: str = "", include_deleted: bool = False) -> list[dict[str, Any]]:
    """Classroom sets, then saved sets, whose name or a tag matches ``search``: one plain row each.

    ``ref`` is what :func:`find_set` takes (a classroom set's file stem, a saved set's name).
    """
    rows: list[dict[str, Any]] = []
    for key, pset in classroom_sets().items():
        if matches(pset, search):
            rows.append({"source": "classroom", "ref": key, "name": pset.name, "version": None,
                         "tags": list(pset.tags), "description": pset.description, "deleted": False})
    for info in store.list_sets(search, include_deleted=include_deleted):
        rows.append({"source": "library", "ref": info.name, "name": info.name, "version": info.version,
                     "tags": list(info.tags), "description": info.note, "deleted": info.deleted})
    return rows


def capped(pset: PromptSet, max_new_tokens: int) -> PromptSet:
    """The set with every step's ``max_new_tokens`` lowered to at most ``max_new_tokens`` (quick runs)."""
    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise DataError(f"The max_new_tokens cap must be at least 1, got {max_new_tokens!r}.")
    steps = tuple(dataclasses.replace(s, decoding=s.decoding.replace(
        max_new_tokens=min(s.decoding.max_new_tokens, max_new_tokens))) for s in pset.steps)
    return dataclasses.replace(pset, steps=steps)


def render_step(step: Step, case: TestCase, backend: Any | None = None, indexes: IndexFactory | None = None,
                as_chat: bool | None = None):
    """The step's prompt for one input: raw text without a backend, the model's chat template with a chat one."""
    query = case.query()
    demos, _ = step_demos(step, query, indexes)
    return render(step.spec, demos, query, backend, as_chat)


def describe_demos(step: Step) -> str:
    """How a step gets its demonstrations, in a few words."""
    if step.select is not None:
        s = step.select
        return f"{s.k} demonstrations by {s.name} from the {s.pool} pool, order {s.order}"
    n = len(step.demos)
    return "zero-shot (no demonstrations)" if n == 0 else f"{n} demonstration{'s' if n != 1 else ''}"


def describe_decoding(cfg: DecodingConfig) -> str:
    """The decoding settings that differ from greedy defaults, e.g. "sampled, temperature 0.7, n 7"."""
    parts = ["sampled" if cfg.do_sample else "greedy"]
    default = DecodingConfig()
    for name in ("temperature", "top_k", "top_p", "min_p", "typical_p", "repetition_penalty", "num_beams", "n"):
        value = getattr(cfg, name)
        if value != getattr(default, name) and (cfg.do_sample or name in ("repetition_penalty", "num_beams")):
            parts.append(f"{name} {value}")
    parts.append(f"max_new_tokens {cfg.max_new_tokens}")
    if cfg.do_sample and cfg.seed is not None:
        parts.append(f"seed {cfg.seed}")
    return ", ".join(parts)


def accuracy_by_step(results: Sequence[StepRun]) -> list[tuple[int, str, int, int]]:
    """(step, title, correct, with an expected answer) per step that had expected answers, in step order."""
    out: dict[int, list[Any]] = {}
    for r in results:
        if r.correct is None:
            continue
        row = out.setdefault(r.step, [r.step, r.title, 0, 0])
        row[2] += int(r.correct)
        row[3] += 1
    return [tuple(row) for _, row in sorted(out.items())]  # type: ignore[misc]
