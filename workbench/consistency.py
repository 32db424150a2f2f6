"""Self-consistency (Wang et al. 2022): sample several reasoning paths, read each one's answer, vote.

The one implementation behind the Decoding Lab's vote table, Evaluate's ``scN`` strategies and
prompt-set steps with ``n > 1``: the :data:`~workbench.reasoning.wrapper.SELF_CONSISTENCY` wrapper around
the spec's reasoning mode. Path *i* is one run of the mode's stages (:func:`prompts.running.run_stages`)
with seed ``seed + i``, so any path can be reproduced alone. Only the mode's first stage is sampled: the
answer is read greedily -- from "The answer is X" in a few-shot CoT path, or by Zero-shot-CoT's
greedy answer step (the answer trigger appended, :data:`reasoning.modes.ANSWER_MAX_NEW_TOKENS` tokens) --
as Kojima et al. and Wang et al. do. Answers are normalised before the vote; ties go to the answer
that appeared first::

    >>> vote_on(["8", "8.0", "7", None], "number").counts
    (('8', 2), ('7', 1))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.answers import AnswerFormat, Extraction, Vote, majority_vote, normalise
from workbench.backends.base import sample_seeds
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError
from workbench.prompts.running import Stage, StageRunner, run_stages
from workbench.prompts.spec import PromptSpec
from workbench.reasoning.wrapper import SELF_CONSISTENCY

if TYPE_CHECKING:
    from workbench.backends import Backend
    from workbench.data import Example


@dataclass(frozen=True)
class ReasoningPath:
    """One sampled reasoning path and the answer read from it."""

    stages: tuple[Stage, ...]  # the model calls of this path (reasoning, then the answer step when two-stage)
    extraction: Extraction  # the raw answer and the rule that fired
    seed: int | None  # the sampling seed of the reasoning
    answer: str | None  # the answer normalised for the vote; None when nothing could be extracted

    @property
    def text(self) -> str:
        """What the model wrote: the reasoning, and for Zero-shot-CoT the answer trigger and the answer."""
        first = self.stages[0]
        if len(self.stages) == 1:
            return first.output
        return self.stages[-1].prompt[len(first.prompt):] + self.stages[-1].output

    @property
    def raw_answer(self) -> str | None:
        return self.extraction.answer

    @property
    def rule(self) -> str:
        return self.extraction.rule


@dataclass(frozen=True)
class SelfConsistency:
    """Every path and the majority vote over their normalised answers."""

    paths: tuple[ReasoningPath, ...]
    vote: Vote
    answer_format: str  # an AnswerFormat value: how answers were normalised

    @property
    def answered(self) -> int:
        """Paths an answer could be extracted from."""
        return sum(p.answer is not None for p in self.paths)

    @property
    def winner(self) -> str | None:
        """The majority answer as the first path that gave it wrote it (None when no path answered)."""
        if self.vote.winner is None:
            return None
        return next(p.raw_answer for p in self.paths if p.answer == self.vote.winner)


def vote_on(answers: Sequence[str | None], fmt: AnswerFormat | str) -> Vote:
    """Majority vote over answers normalised for ``fmt`` ("8" and "8.0" are one answer)."""
    return majority_vote(normalise(a, fmt) for a in answers)


def self_consistency(
    spec: PromptSpec,
    prompt: str,
    backend: Backend,
    cfg: DecodingConfig,
    *,
    query: str | Example | None = None,
    runner: Callable[[int, str, str, DecodingConfig], object] | None = None,
    on_path: Callable[[int, int], None] | None = None,
    one_at_a_time: bool = False,
) -> SelfConsistency:
    """``cfg.n`` sampled paths of the rendered ``prompt`` under ``spec``, their answers and the vote.

    ``runner(i, stage, prompt, cfg)`` runs one stage of path ``i`` (a page streams with it); by default
    the backend generates, every stage's paths in one call (a batching backend decodes them together),
    or with ``one_at_a_time`` one call per path in the same order (the exact unbatched text).
    ``on_path(done, total)`` reports each finished path.
    """
    if not cfg.do_sample:
        raise ConfigError("Self-consistency samples several reasoning paths; turn sampling on.")
    fmt = AnswerFormat(spec.answer_format)
    seeds = sample_seeds(cfg)
    ready = _batched_stages(spec, prompt, backend, cfg, seeds, query, one_at_a_time) if runner is None else None
    paths = []
    for i, seed in enumerate(seeds):
        stage_runner: StageRunner | None = None
        if ready is not None:
            def stage_runner(name, text, c, _i=i):
                return ready[name][_i]
        elif runner is not None:
            def stage_runner(name, text, c, _i=i):
                return runner(_i, name, text, c)
        stages, extraction = run_stages(spec, prompt, backend, cfg.replace(n=1, seed=seed), query=query,
                                        runner=stage_runner)
        paths.append(ReasoningPath(stages, extraction, seed, normalise(extraction.answer, fmt)))
        if on_path is not None:
            on_path(i + 1, len(seeds))
    return SelfConsistency(tuple(paths), majority_vote(p.answer for p in paths), fmt.value)


def _batched_stages(spec: PromptSpec, prompt: str, backend: Backend, cfg: DecodingConfig,
                    seeds: list[int | None], query, one_at_a_time: bool = False) -> dict[str, list]:
    """Every path's generations with one ``generate`` call per stage, so a batching backend decodes the
    paths together: the ``n`` sampled paths of the mode's first stage (sample i has seed ``seed + i``, as
    path i alone), then each later stage of all paths as the mode says (Zero-shot-CoT's greedy answer step). Same text as path by path whenever the
    backend's batched text is (see :mod:`workbench.backends.llamacpp_batch`). ``one_at_a_time`` splits
    each call into one call per sequence, in the same order: what a backend that does not batch runs."""

    def generate(prompts: list[str], c: DecodingConfig) -> list[list]:
        if not one_at_a_time:
            return backend.generate(prompts, c)
        return [[backend.generate([p], c.replace(n=1, seed=s))[0][0] for s in sample_seeds(c)] for p in prompts]

    mode, one, paths = spec.mode, cfg.replace(n=1, seed=seeds[0]), len(seeds)
    first = SELF_CONSISTENCY.sampled_stage(mode)
    outputs = generate([prompt], SELF_CONSISTENCY.stage_config(mode, spec, one, first, paths))[0]
    ready = {first: outputs}
    prompts = [prompt] * paths
    for stage in mode.stages[1:]:
        prompts = [mode.next_prompt(spec, p, g.text, query) for p, g in zip(prompts, outputs, strict=True)]
        outputs = [row[0] for row in generate(prompts, SELF_CONSISTENCY.stage_config(mode, spec, one, stage, paths))]
        ready[stage] = outputs
    return ready
