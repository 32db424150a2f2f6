"""Running a prompt: every stage of the spec's reasoning mode, then the answer read from the last one.

The reasoning mode (``spec.mode``) says which stages a run makes (Zero-shot-CoT: reasoning, then the
answer step), which decoding each uses and how a later stage's prompt is built; :func:`run_stages_many`
sends each stage as ONE ``generate`` call for every prompt, so a batching backend decodes them together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from workbench.answers import Extraction
from workbench.data import Example
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError
from workbench.prompts.budget import fit_to_window, reserved_tokens
from workbench.prompts.rendering import RenderedPrompt
from workbench.prompts.spec import PromptSpec
from workbench.reasoning.base import ANSWER_STAGE
from workbench.reasoning.modes import ZERO_SHOT_COT

if TYPE_CHECKING:
    from workbench.backends import Backend, Generation


def final_trigger(spec: PromptSpec, query: str | Example | None = None) -> str:
    """Zero-shot-CoT's answer trigger for this query: the spec's own, else Kojima et al.'s for its format
    (with the item's choice letters: "among A through C")."""
    return ZERO_SHOT_COT.final_trigger(spec, query)


def answer_prompt(spec: PromptSpec, reasoning_prompt: str, reasoning: str, query: str | Example | None = None) -> str:
    """Zero-shot-CoT's second prompt: the first prompt, the reasoning, then the answer trigger."""
    return ZERO_SHOT_COT.next_prompt(spec, reasoning_prompt, reasoning, query)


def stage_config(spec: PromptSpec, cfg: DecodingConfig, stage: str = ANSWER_STAGE) -> DecodingConfig:
    """Decoding settings of one stage, as the spec's reasoning mode says: the spec's stop strings added;
    Zero-shot-CoT's answer step is greedy with a short budget (at most ANSWER_MAX_NEW_TOKENS, Kojima et
    al.'s 32) whatever the reasoning step samples, as Kojima et al. and Wang et al. read answers."""
    return spec.mode.stage_config(spec, cfg, stage)


def extract_answer(spec: PromptSpec, output: str, query: str | Example | None = None) -> Extraction:
    """The answer in the output of the spec's final stage (Kojima et al.'s answer cleansing).

    After a prompt that ends with a trigger -- Zero-shot-CoT's answer step, or an answer prefix such as
    "The answer (arabic numerals) is" -- the first candidate; otherwise the one after "The answer is"
    when the model wrote it (CoT demonstrations end that way), else the last candidate.
    """
    return spec.mode.extract(spec, output, query)


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
    mode = spec.mode
    for n, name in enumerate(mode.stages):
        if n:  # a later stage: its prompt is built from the earlier prompt and what the model wrote
            going = set(live)
            texts = [mode.next_prompt(spec, texts[i], stages[i][-1].output, queries[i]) if i in going else texts[i]
                     for i in range(len(texts))]
        gens = call(name, [texts[i] for i in live], mode.stage_config(spec, cfg, name))
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
