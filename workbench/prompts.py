"""Prompt specs, exact rendering (raw text or chat messages), the token budget, and running a prompt.

A :class:`PromptSpec` says how a prompt is built: a task description, how one
demonstration and the query are written, and a reasoning mode. Zero-, one- and
few-shot are the same spec with 0, 1 or K demonstrations (GPT-3 style: task
description + K examples + prompt). Reasoning modes:

* ``none`` -- demonstrations show the answer only;
* ``manual_cot`` / ``auto_cot`` -- demonstrations show a rationale before the answer
  (Wei et al.; Auto-CoT writes the rationales with the model, same shape);
* ``zero_shot_cot`` -- Kojima et al.: the answer starts with a trigger ("Let's think
  step by step."), then a second call appends an answer trigger to extract the answer.

:func:`render` gives the exact text sent to the model -- raw completion text for a
base model, the model's own chat template for a chat model -- with its parts
labelled so a page can colour them. :func:`fit_to_window` drops demonstrations
until the prompt and the generation budget fit; :func:`run_prompt` runs every stage.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from workbench.answers import FEW_SHOT_TRIGGER, AnswerFormat, Extraction, answer_trigger, extract
from workbench.data import Example
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError, DataError, PromptError
from workbench.templates import check, fill

if TYPE_CHECKING:
    from workbench.backends import Backend, Generation

#: Reasoning modes a spec may use.
REASONING_MODES = ("none", "manual_cot", "zero_shot_cot", "auto_cot")
#: Modes whose demonstrations carry a rationale before the answer.
COT_DEMO_MODES = ("manual_cot", "auto_cot")
#: How demonstrations reach a chat model: alternating user/assistant turns, or all in one user message.
CHAT_LAYOUTS = ("turns", "inline")
#: Placeholders a demonstration template may use ({question} is another name for {input}).
DEMO_FIELDS = ("input", "question", "answer", "rationale", "label", "choices")
#: Placeholders the query template may use.
QUERY_FIELDS = ("input", "question", "choices")
#: Kinds of the labelled spans of a rendered prompt; "template" is text the chat template added.
PART_KINDS = ("system", "instruction", "demo", "separator", "query", "prefix", "trigger", "template")
#: Tokens for Zero-shot-CoT's answer step (Kojima et al. give the answer call a short budget).
ANSWER_MAX_NEW_TOKENS = 32
#: Put between the reasoning and the answer trigger in the answer step's prompt.
ANSWER_TRIGGER_JOIN = "\n"
#: Starter specs shipped with the workbench.
STARTER_DIR = Path(__file__).resolve().parent / "shipped" / "specs"


@dataclass(frozen=True)
class PromptSpec:
    """How a prompt is built. Validated on creation: a bad template or mode is a PromptError."""

    instruction: str = ""  # task description before the demonstrations; literal text, no placeholders
    demo_template: str = "Q: {input}\nA: {answer}"  # one demonstration (reasoning "none" / zero-shot-CoT)
    cot_demo_template: str = "Q: {input}\nA: {rationale} The answer is {answer}."  # manual/auto CoT demos
    query_template: str = "Q: {input}\nA:"  # the question the model answers
    separator: str = "\n\n"  # between instruction, demonstrations and query
    answer_prefix: str = ""  # text the answer starts with (raw: after the query; chat: opens the assistant turn)
    reasoning: str = "none"  # one of REASONING_MODES
    cot_trigger: str = "Let's think step by step."  # Zero-shot-CoT trigger (Kojima et al.)
    answer_format: str = "free"  # an AnswerFormat value; picks extraction rules and the answer trigger
    answer_trigger: str | None = None  # Zero-shot-CoT answer step; None = Kojima et al.'s for answer_format
    labels: tuple[str, ...] = ()  # label set for answer_format "label"; letters for "choice"
    chat_layout: str = "turns"  # one of CHAT_LAYOUTS; chat models only
    system: str = ""  # system message; chat models only ("" = the chat template's default)
    stop: tuple[str, ...] = ()  # stop strings added to the decoding settings (e.g. "\n\n" after a few-shot answer)

    def __post_init__(self) -> None:
        for name in ("labels", "stop"):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, Sequence):
                raise PromptError(f"{name} must be a list of text, got {value!r}.")
            object.__setattr__(self, name, tuple(value))
        _validate(self)

    @property
    def demo_template_in_use(self) -> str:
        """The CoT demonstration template in manual/auto CoT, else the plain one."""
        return self.cot_demo_template if self.reasoning in COT_DEMO_MODES else self.demo_template

    @property
    def final_answer_trigger(self) -> str:
        """The answer trigger of Zero-shot-CoT's second call."""
        return final_trigger(self)

    def replace(self, **changes: Any) -> PromptSpec:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain YAML/JSON-able dict (prompt-set files)."""
        d = dataclasses.asdict(self)
        d["labels"], d["stop"] = list(self.labels), list(self.stop)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PromptSpec:
        """Inverse of :meth:`to_dict`; missing keys take their defaults, unknown keys are a PromptError."""
        if not isinstance(data, Mapping):
            raise PromptError(f"A prompt spec must be a mapping of settings, got {type(data).__name__}.")
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise PromptError(f"Unknown prompt spec key(s): {', '.join(unknown)}; known: {', '.join(known)}.")
        return cls(**data)


def _validate(s: PromptSpec) -> None:
    for f in dataclasses.fields(s):
        value = getattr(s, f.name)
        if f.name in ("labels", "stop"):
            if not all(isinstance(v, str) and v for v in value):
                raise PromptError(f"Every entry of {f.name} must be non-empty text, got {list(value)!r}.")
        elif not (isinstance(value, str) or (value is None and f.name == "answer_trigger")):
            raise PromptError(f"{f.name} must be text, got {value!r}.")
    if s.reasoning not in REASONING_MODES:
        raise PromptError(f"Unknown reasoning mode {s.reasoning!r}; choose one of {', '.join(REASONING_MODES)}.")
    if s.chat_layout not in CHAT_LAYOUTS:
        raise PromptError(f"Unknown chat layout {s.chat_layout!r}; choose one of {', '.join(CHAT_LAYOUTS)}.")
    try:
        fmt = AnswerFormat(s.answer_format)
    except ValueError:
        formats = ", ".join(f.value for f in AnswerFormat)
        raise PromptError(f"Unknown answer format {s.answer_format!r}; choose one of {formats}.") from None
    if fmt is AnswerFormat.LABEL and not s.labels:
        raise PromptError("The answer format 'label' needs labels; list them (e.g. positive, negative).")
    check(s.demo_template, DEMO_FIELDS, "demonstration template")
    check(s.cot_demo_template, DEMO_FIELDS, "CoT demonstration template")
    names = check(s.query_template, QUERY_FIELDS, "query template")
    if "input" not in names and "question" not in names:
        raise PromptError("The query template must contain {input}, where the question goes.")
    if s.reasoning == "zero_shot_cot" and not s.cot_trigger.strip():
        raise PromptError("Zero-shot-CoT needs a trigger phrase, e.g. \"Let's think step by step.\"")


# ---- rendering ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedPrompt:
    """The exact text sent to the model, and how it was made."""

    text: str  # exactly what the model receives (the chat template applied for chat models)
    parts: tuple[tuple[str, str], ...]  # (kind, text) spans in order; their texts join to ``text``
    messages: tuple[dict[str, str], ...] | None  # chat messages, None for raw completion text
    demos: tuple[Example, ...]  # the demonstrations in the prompt, in order
    tokens: int | None = None  # token count under the model's tokenizer; None without a backend
    dropped: int = 0  # demonstrations dropped to fit the context window


class ChatFormatter(Protocol):
    """What rendering needs from a model: its chat template and its tokenizer."""

    is_chat: bool

    def format_chat(self, messages: Sequence[dict]) -> str: ...

    def count_tokens(self, text: str) -> int: ...


def choices_text(choices: Mapping[str, str] | None) -> str | None:
    """Kojima et al.'s layout: "(A) first (B) second"."""
    if not choices:
        return None
    return " ".join(f"({k}) {v}" for k, v in choices.items())


def _query_values(query: str | Example) -> dict[str, str | None]:
    if isinstance(query, Example):
        text, choices = query.input, choices_text(query.choices)
    else:
        text, choices = query, None
    if not isinstance(text, str) or not text.strip():
        raise PromptError("The query is empty; type the input the model should answer.")
    return {"input": text, "question": text, "choices": choices}


def _demo_values(ex: Example) -> dict[str, str | None]:
    return {"input": ex.input, "question": ex.input, "answer": ex.answer, "rationale": ex.rationale,
            "label": ex.label, "choices": choices_text(ex.choices)}


def demo_text(spec: PromptSpec, ex: Example) -> str:
    """One demonstration written with the spec's template for its reasoning mode."""
    values = _demo_values(ex)
    template = spec.demo_template_in_use
    if spec.reasoning in COT_DEMO_MODES and not (ex.rationale or "").strip() and "rationale" in check(
        template, DEMO_FIELDS
    ):
        raise PromptError(
            f"Demonstration {ex.id!r} has no rationale, which {spec.reasoning} needs; "
            "write one or set reasoning to none."
        )
    try:
        return fill(template, values, DEMO_FIELDS, "demonstration template")
    except PromptError as err:
        raise PromptError(f"Demonstration {ex.id!r}: {err}") from None


def _demo_turns(spec: PromptSpec, ex: Example) -> tuple[str, str]:
    """A demonstration split into its user turn (the query template) and assistant turn (the rest)."""
    full = demo_text(spec, ex)
    user = fill(spec.query_template, _demo_values(ex), DEMO_FIELDS, "query template")
    if not full.startswith(user):
        raise PromptError(
            "The 'turns' chat layout splits each demonstration into the query (user turn) and the rest "
            "(assistant turn); start the demonstration template with the query template, or use 'inline'."
        )
    return user, full[len(user):].lstrip()


def _spaced(before: str, text: str) -> str:
    """``text`` with a leading space unless ``before`` is empty or ends in whitespace (Kojima's "A: Let's")."""
    return text if not before or before[-1].isspace() else " " + text


def _answer_start(spec: PromptSpec, before: str) -> list[tuple[str, str]]:
    """The answer prefix and, for Zero-shot-CoT, the trigger; placed after ``before``."""
    out: list[tuple[str, str]] = []
    if spec.answer_prefix:
        out.append(("prefix", spec.answer_prefix))
        before += spec.answer_prefix
    if spec.reasoning in ("zero_shot_cot", "auto_cot"):  # Auto-CoT's query ends "A: Let's think step by step."
        out.append(("trigger", _spaced(before, spec.cot_trigger)))
    return out


def _raw_parts(spec: PromptSpec, demos: Sequence[Example], query: str | Example) -> list[tuple[str, str]]:
    parts: list[tuple[str, str]] = []
    if spec.instruction:
        parts += [("instruction", spec.instruction), ("separator", spec.separator)]
    for ex in demos:
        parts += [("demo", demo_text(spec, ex)), ("separator", spec.separator)]
    parts.append(("query", fill(spec.query_template, _query_values(query), QUERY_FIELDS, "query template")))
    return parts + _answer_start(spec, "".join(t for _, t in parts))


def _chat_turns(
    spec: PromptSpec, demos: Sequence[Example], query: str | Example
) -> list[tuple[str, list[tuple[str, str]]]]:
    """(role, [(kind, text)]) for each message; a message's content is its texts joined."""
    turns: list[tuple[str, list[tuple[str, str]]]] = []
    if spec.system:
        turns.append(("system", [("system", spec.system)]))
    user: list[tuple[str, str]] = []
    if spec.instruction:
        user += [("instruction", spec.instruction), ("separator", spec.separator)]
    for ex in demos:
        if spec.chat_layout == "inline":
            user += [("demo", demo_text(spec, ex)), ("separator", spec.separator)]
        else:
            asked, answered = _demo_turns(spec, ex)
            turns += [("user", [*user, ("demo", asked)]), ("assistant", [("demo", answered)])]
            user = []
    user.append(("query", fill(spec.query_template, _query_values(query), QUERY_FIELDS, "query template")))
    turns.append(("user", user))
    return turns


def _locate(text: str, segments: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Label spans of ``text``: each segment where it occurs in order, the gaps as "template"."""
    parts: list[tuple[str, str]] = []
    pos = 0
    for kind, seg in segments:
        i = text.find(seg, pos) if seg else -1
        if i < 0:
            continue  # the chat template rewrote it; its text stays in a "template" span
        if i > pos:
            parts.append(("template", text[pos:i]))
        parts.append((kind, seg))
        pos = i + len(seg)
    if pos < len(text):
        parts.append(("template", text[pos:]))
    return parts


def render(
    spec: PromptSpec,
    demos: Sequence[Example],
    query: str | Example,
    backend: ChatFormatter | None = None,
    as_chat: bool | None = None,
) -> RenderedPrompt:
    """The exact prompt for ``query`` after ``demos``.

    ``as_chat`` (default: whether the backend is a chat model) renders chat messages
    through the backend's own chat template; otherwise raw completion text, which
    needs no backend. With a backend, ``tokens`` is the prompt's token count.
    """
    demos = tuple(demos)
    if as_chat is None:
        as_chat = bool(backend is not None and backend.is_chat)
    if not as_chat:
        parts = _raw_parts(spec, demos, query)
        text, messages = "".join(t for _, t in parts), None
    else:
        if backend is None:
            raise PromptError("Chat rendering needs a chat model's template; pick a chat model or render raw text.")
        turns = _chat_turns(spec, demos, query)
        messages = tuple({"role": role, "content": "".join(t for _, t in segs)} for role, segs in turns)
        head = backend.format_chat(list(messages))
        tail = _answer_start(spec, head)
        text = head + "".join(t for _, t in tail)
        parts = _locate(head, [seg for _, segs in turns for seg in segs]) + tail
    parts = tuple((k, t) for k, t in parts if t)
    tokens = backend.count_tokens(text) if backend is not None else None
    return RenderedPrompt(text=text, parts=parts, messages=messages, demos=demos, tokens=tokens)


def fit_to_window(
    spec: PromptSpec,
    demos: Sequence[Example],
    query: str | Example,
    backend: Backend | ChatFormatter,
    max_new_tokens: int,
    scores: Sequence[float] | None = None,
    as_chat: bool | None = None,
) -> RenderedPrompt:
    """Render, dropping demonstrations until prompt + ``max_new_tokens`` fits the context window.

    Drops the lowest-scored demonstrations first when ``scores`` (one per demo, higher =
    more relevant) are given, else from the front; the rest keep their order.
    ``dropped`` says how many went. Raises PromptError when even no demonstrations fit.
    """
    demos = tuple(demos)
    window = backend.context_window
    if max_new_tokens >= window:
        raise PromptError(f"max_new_tokens={max_new_tokens} leaves no room in the {window}-token context window; "
                          f"set it below {window}.")
    if scores is not None and len(scores) != len(demos):
        raise PromptError(f"Got {len(scores)} relevance scores for {len(demos)} demonstrations; give one per demo.")
    order = (sorted(range(len(demos)), key=lambda i: scores[i]) if scores is not None
             else list(range(len(demos))))
    budget = window - max_new_tokens

    @cache
    def attempt(n_dropped: int) -> RenderedPrompt:
        gone = set(order[:n_dropped])
        kept = [d for i, d in enumerate(demos) if i not in gone]
        return dataclasses.replace(render(spec, kept, query, backend, as_chat), dropped=n_dropped)

    if attempt(0).tokens <= budget:
        return attempt(0)
    if attempt(len(demos)).tokens > budget:
        raise PromptError(
            f"The prompt without demonstrations takes {attempt(len(demos)).tokens} tokens; with "
            f"max_new_tokens={max_new_tokens} it exceeds the {window}-token context window; "
            "shorten the query or the instruction, or lower max_new_tokens."
        )
    lo, hi = 0, len(demos)  # attempt(lo) overflows, attempt(hi) fits
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if attempt(mid).tokens <= budget:
            hi = mid
        else:
            lo = mid
    return attempt(hi)


# ---- running --------------------------------------------------------------------------------


def query_letters(spec: PromptSpec, query: str | Example | None = None) -> str | None:
    """The choice letters a multiple-choice answer may take: the item's own (A-C for a three-choice item),
    else the spec's labels; None for other formats."""
    if spec.answer_format != AnswerFormat.CHOICE:
        return None
    if isinstance(query, Example) and query.choices:
        return "".join(query.choices)
    return "".join(spec.labels) or None


def final_trigger(spec: PromptSpec, query: str | Example | None = None) -> str:
    """Zero-shot-CoT's answer trigger for this query: the spec's own, else Kojima et al.'s for its format
    (with the item's choice letters: "among A through C")."""
    return spec.answer_trigger or answer_trigger(spec.answer_format, query_letters(spec, query))


def answer_prompt(spec: PromptSpec, reasoning_prompt: str, reasoning: str, query: str | Example | None = None) -> str:
    """Zero-shot-CoT's second prompt: the first prompt, the reasoning, then the answer trigger."""
    return reasoning_prompt + reasoning.rstrip() + ANSWER_TRIGGER_JOIN + final_trigger(spec, query)


def stage_config(spec: PromptSpec, cfg: DecodingConfig, stage: str = "answer") -> DecodingConfig:
    """Decoding settings of one stage: the spec's stop strings added. Zero-shot-CoT's answer step is greedy
    with a short budget (at most ANSWER_MAX_NEW_TOKENS, Kojima et al.'s 32) whatever the reasoning step
    samples, as Kojima et al. and Wang et al. read answers."""
    stops = tuple(dict.fromkeys((*cfg.stop, *spec.stop)))
    if stage == "answer" and spec.reasoning == "zero_shot_cot":
        return cfg.replace(stop=stops, max_new_tokens=min(cfg.max_new_tokens, ANSWER_MAX_NEW_TOKENS),
                           do_sample=False, n=1)
    return cfg.replace(stop=stops)


def next_question_stops(spec: PromptSpec) -> tuple[str, ...]:
    """Where a chain of thought must stop: where the model would begin the next question (a new line
    starting like the query template, "\nQ:"); nothing earlier, so reasoning may contain blank lines.

    >>> next_question_stops(PromptSpec())
    ('\\nQ:',)
    """
    head = spec.query_template.split("{", 1)[0].strip()
    return ("\n" + head,) if head else ()


def reserved_tokens(spec: PromptSpec, cfg: DecodingConfig, backend: ChatFormatter,
                    query: str | Example | None = None) -> int:
    """Tokens to keep free after the prompt: the generation budget, plus Zero-shot-CoT's answer step."""
    if spec.reasoning != "zero_shot_cot":
        return cfg.max_new_tokens
    # The answer step appends the reasoning (at most max_new_tokens), the answer trigger and the answer.
    trigger = backend.count_tokens(ANSWER_TRIGGER_JOIN + final_trigger(spec, query))
    return cfg.max_new_tokens + trigger + stage_config(spec, cfg, "answer").max_new_tokens


def extract_answer(spec: PromptSpec, output: str, query: str | Example | None = None) -> Extraction:
    """The answer in the output of the spec's final stage (Kojima et al.'s answer cleansing).

    After a prompt that ends with a trigger -- Zero-shot-CoT's answer step, or an answer prefix such as
    "The answer (arabic numerals) is" -- the first candidate; otherwise the one after "The answer is"
    when the model wrote it (CoT demonstrations end that way), else the last candidate.
    """
    labels: str | tuple[str, ...] | None = spec.labels or None
    if spec.answer_format == AnswerFormat.CHOICE:
        labels = query_letters(spec, query)
    if spec.reasoning == "zero_shot_cot" or (spec.reasoning == "none" and spec.answer_prefix.strip()):
        return extract(output, spec.answer_format, labels, after_trigger=True)
    return extract(output, spec.answer_format, labels, trigger=FEW_SHOT_TRIGGER)


@dataclass(frozen=True)
class Stage:
    """One model call of a run."""

    name: str  # "reasoning" (Zero-shot-CoT's first call) or "answer"
    prompt: str  # the exact text sent
    output: str
    generation: Generation = field(repr=False)


@dataclass(frozen=True)
class PromptRun:
    """Every stage of a prompt run and the extracted answer."""

    rendered: RenderedPrompt
    stages: tuple[Stage, ...]
    extraction: Extraction

    @property
    def answer(self) -> str | None:
        return self.extraction.answer

    @property
    def seconds(self) -> float:
        return sum(s.generation.seconds for s in self.stages)


class StageRunner(Protocol):
    """Runs one stage: send ``prompt`` with ``cfg``, return the generation (e.g. streaming it to a page)."""

    def __call__(self, name: str, prompt: str, cfg: DecodingConfig) -> Generation: ...


def run_stages(
    spec: PromptSpec,
    prompt: str,
    backend: Backend,
    cfg: DecodingConfig,
    *,
    query: str | Example | None = None,
    runner: StageRunner | None = None,
) -> tuple[tuple[Stage, ...], Extraction]:
    """Every model call of one run of a rendered ``prompt`` (two for Zero-shot-CoT), and the answer."""
    return run_stages_many(spec, [prompt], backend, cfg, queries=[query], runner=runner)[0]


def run_stages_many(
    spec: PromptSpec,
    prompts: Sequence[str],
    backend: Backend,
    cfg: DecodingConfig,
    *,
    queries: Sequence[str | Example | None] | None = None,
    runner: StageRunner | None = None,
) -> list[tuple[tuple[Stage, ...], Extraction]]:
    """:func:`run_stages` for several rendered prompts: each stage is ONE ``generate`` call for all of them,
    so a batching backend decodes them together (Zero-shot-CoT: every reasoning, then every answer step).

    With a backend that decodes one at a time the results are run_stages' prompt by prompt. A prompt whose
    generation failed (``Generation.failed``, a batch's sequence llama.cpp refused) stops there: its stages
    end with the failed one and nothing is extracted. ``runner`` (streaming) runs each call alone instead.
    """
    if cfg.n != 1:
        raise ConfigError(f"A prompt run takes one sample (n={cfg.n}); set n=1.")
    queries = [None] * len(prompts) if queries is None else list(queries)
    if len(queries) != len(prompts):
        raise ConfigError(f"{len(prompts)} prompts but {len(queries)} queries; give one query per prompt.")

    def call(name: str, texts: list[str], c: DecodingConfig) -> list[Generation]:
        if runner is not None:
            return [runner(name, t, c) for t in texts]
        return [row[0] for row in backend.generate(texts, c)] if texts else []

    stages: list[list[Stage]] = [[] for _ in prompts]
    texts = list(prompts)
    live = list(range(len(prompts)))
    names = ("reasoning", "answer") if spec.reasoning == "zero_shot_cot" else ("answer",)
    for name in names:
        if name == "answer" and len(names) == 2:
            going = set(live)
            texts = [answer_prompt(spec, texts[i], stages[i][-1].output, queries[i]) if i in going else texts[i]
                     for i in range(len(texts))]
        gens = call(name, [texts[i] for i in live], stage_config(spec, cfg, name))
        for i, gen in zip(live, gens, strict=True):
            stages[i].append(Stage(name, texts[i], gen.text, gen))
        live = [i for i in live if not stages[i][-1].generation.failed]
    out = []
    for i, st in enumerate(stages):
        last = st[-1].generation
        extraction = extract_answer(spec, "" if last.failed else last.text, queries[i])
        out.append((tuple(st), extraction))
    return out


def run_prompt(
    spec: PromptSpec,
    demos: Sequence[Example],
    query: str | Example,
    backend: Backend,
    cfg: DecodingConfig,
    *,
    scores: Sequence[float] | None = None,
    as_chat: bool | None = None,
    runner: StageRunner | None = None,
) -> PromptRun:
    """Render within the window, call the model (twice for Zero-shot-CoT), extract the answer."""
    return run_prompts(spec, [PromptJob(tuple(demos), query, scores)], backend, cfg, as_chat=as_chat,
                       runner=runner)[0]


@dataclass(frozen=True)
class PromptJob:
    """One query to run with its demonstrations (:func:`run_prompts`)."""

    demos: tuple[Example, ...]  # the demonstrations, in prompt order
    query: str | Example  # the query
    scores: Sequence[float] | None = None  # the demonstrations' relevance scores (None: not selected by score)


def run_prompts(
    spec: PromptSpec,
    jobs: Sequence[PromptJob],
    backend: Backend,
    cfg: DecodingConfig,
    *,
    as_chat: bool | None = None,
    runner: StageRunner | None = None,
) -> list[PromptRun]:
    """:func:`run_prompt` for several queries: each rendered within the window, then every stage one
    ``generate`` call for all of them (:func:`run_stages_many`)."""
    if cfg.n != 1:
        raise ConfigError(f"A prompt run takes one sample (n={cfg.n}); set n=1.")
    rendered = [fit_to_window(spec, j.demos, j.query, backend, reserved_tokens(spec, cfg, backend, j.query),
                              j.scores, as_chat) for j in jobs]
    ran = run_stages_many(spec, [r.text for r in rendered], backend, cfg, queries=[j.query for j in jobs],
                          runner=runner)
    return [PromptRun(rendered=r, stages=st, extraction=ex) for r, (st, ex) in zip(rendered, ran, strict=True)]


# ---- spec files -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SpecFile:
    """A spec as shipped or saved: a name, the spec, its demonstrations and an example query."""

    name: str
    spec: PromptSpec
    demos: tuple[Example, ...] = ()
    description: str = ""  # one line for pickers
    example: str = ""  # a query to try it with

    def to_dict(self) -> dict[str, Any]:
        """The YAML layout :func:`load_spec` reads."""
        return {"name": self.name, "description": self.description, "example": self.example,
                "spec": self.spec.to_dict(), "demos": [d.to_dict() for d in self.demos]}


def demo_file_model(config):
    """One demonstration as files hold it (``question``/``answer``/...), a Pydantic model with the caller's config."""
    from pydantic import create_model

    return create_model(
        "DemoModel", __config__=config,
        id=(str | None, None), question=(str, ...), answer=(str, ...), rationale=(str | None, None),
        label=(str | None, None), choices=(dict[str, str] | None, None),
    )


@cache
def _file_model():
    """Pydantic models of the file layout (extra keys forbidden), built once from PromptSpec's fields."""
    from pydantic import BaseModel, ConfigDict, Field, create_model

    hints = typing.get_type_hints(PromptSpec)
    forbid = ConfigDict(extra="forbid")
    spec_model = create_model(
        "PromptSpecModel", __config__=forbid,
        **{f.name: (hints[f.name], f.default) for f in dataclasses.fields(PromptSpec)},
    )

    demo_model = demo_file_model(forbid)

    class FileModel(BaseModel):
        model_config = forbid
        name: str
        description: str = ""
        example: str = ""
        spec: spec_model = Field(default_factory=spec_model)  # type: ignore[valid-type]
        demos: list[demo_model] = Field(default_factory=list)  # type: ignore[valid-type]

    return FileModel


def parse_spec_file(data: Any, source: str = "spec") -> SpecFile:
    """Validate an already-parsed mapping (YAML/JSON) into a SpecFile; errors are one-line DataErrors."""
    from pydantic import ValidationError

    from workbench.safeload import validation_error

    if not isinstance(data, Mapping):
        raise DataError(f"{source}: expected a mapping with name, spec and demos, got {type(data).__name__}.")
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
    return SpecFile(name=model.name, spec=spec, demos=demos, description=model.description, example=model.example)


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
    """The starter specs shipped in workbench/shipped/specs/, by file stem."""
    return {p.stem: load_spec(p) for p in sorted(STARTER_DIR.glob("*.yaml"))}
