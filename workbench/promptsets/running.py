"""Running a prompt set: each step's demonstrations for a query, its rendered prompt, its run (with
self-consistency when n > 1), and the per-step accuracy of a run over the test inputs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.answers import Vote, is_correct
from workbench.consistency import self_consistency
from workbench.data import Example, load_sample, sample_pools
from workbench.decoding import DecodingConfig
from workbench.errors import DataError, ModelError
from workbench.prompts import (
    PromptJob,
    PromptRun,
    fit_to_window,
    render,
    reserved_tokens,
    run_prompt,
    run_prompts,
)
from workbench.promptsets.model import PromptSet, Step, TestCase

if TYPE_CHECKING:
    from workbench.backends import Backend
    from workbench.evaluate.records import CheckVerdict
    from workbench.judging.tools import JudgeTools
    from workbench.retrieval.index import PoolIndex

#: Builds (or returns a cached) index over a shipped pool, by pool name.
IndexFactory = Callable[[str], "PoolIndex"]


def default_index_factory() -> IndexFactory:
    """Indexes over the shipped sample pools with the default embedder, each built once (heavy: loads MiniLM)."""
    built: dict[str, PoolIndex] = {}
    embedder: list = []  # loaded on first use

    def indexes(pool: str) -> PoolIndex:
        if pool not in built:
            from workbench.retrieval.embedder import load_embedder
            from workbench.retrieval.index import build_index

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
    from workbench.retrieval.choose import choose_demos

    sel = step.select
    if indexes is None:
        raise DataError(f"Step {step.title!r} selects demonstrations from the {sel.pool!r} pool; "
                        "it needs an index factory (the embedder).")
    text = query.input if isinstance(query, Example) else query
    demos, chosen = choose_demos(indexes(sel.pool), text, sel.k, sel.name, sel.order, seed=sel.seed,
                                 lambda_=sel.mmr_lambda, indices=sel.indices)
    return tuple(demos), chosen.scores


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
    correct: bool | None  # the checks' verdict, else the answer compared with the expected one (None: neither)
    score: float | None = None  # the checks' weighted score (None: no checks, the expected answer decided)
    checks: tuple[CheckVerdict, ...] = ()  # each check's verdict, in order (the step's, then the input's own)

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
             as_chat: bool | None = None, tools: JudgeTools | None = None) -> StepRun:
    """Run one step on one input; ``decoding.n`` samples (seeds seed, seed+1, ...) are majority-voted. The
    step's and the input's checks judge the output (``tools``: the judge model and embedder they may need)."""
    if step.decoding.n == 1 and runner is None:
        return run_steps(step, [case], backend, index=index, model=model, indexes=indexes, as_chat=as_chat,
                         tools=tools)[0]
    judge = judged(step, [case], tools)  # the checks are built before any model call
    query = case.query()
    demos, scores = step_demos(step, query, indexes)
    cfg = step.decoding
    fmt = step.spec.answer_format
    if cfg.n == 1:
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
    out = StepRun(step=index, title=step.title, model=model or step.model, case=case, runs=tuple(runs),
                  answer=answer, vote=vote, correct=None)
    return judge(out, 0, fmt)


def run_steps(step: Step, cases: Sequence[TestCase], backend: Backend, *, index: int = 0, model: str = "",
              indexes: IndexFactory | None = None, as_chat: bool | None = None,
              tools: JudgeTools | None = None) -> list[StepRun]:
    """:func:`run_step` on several inputs; with one sample each, every stage is one ``generate`` call for
    all of them (:func:`~workbench.prompts.run_prompts`), so a batching backend decodes them together."""
    if step.decoding.n != 1:
        return [run_step(step, c, backend, index=index, model=model, indexes=indexes, as_chat=as_chat, tools=tools)
                for c in cases]
    judge = judged(step, cases, tools)  # the checks are built before any model call
    queries = [c.query() for c in cases]
    jobs = []
    for q in queries:
        demos, scores = step_demos(step, q, indexes)
        jobs.append(PromptJob(tuple(demos), q, scores))
    runs = run_prompts(step.spec, jobs, backend, step.decoding, as_chat=as_chat)
    out = []
    for at, (case, run) in enumerate(zip(cases, runs, strict=True)):
        failed = next((st.generation for st in run.stages if st.generation.failed), None)
        if failed is not None:
            raise ModelError(f"Step {index + 1} could not run on input {case.input[:60]!r}: {failed.error}")
        out.append(judge(StepRun(step=index, title=step.title, model=model or step.model, case=case, runs=(run,),
                                 answer=run.answer, vote=None, correct=None), at, step.spec.answer_format))
    return out


def judge_tools(backends: Callable[[str], Backend], judge: str | None = None) -> JudgeTools:
    """What a set's checks may ask, each loaded on first use: the judge model ``judge`` (default
    :data:`~workbench.judging.tools.DEFAULT_JUDGE`) and any a check names as its ``provider``, from
    ``backends(model_id)`` as the steps' models are; and the workbench's MiniLM embedder."""
    from workbench.judging.tools import DEFAULT_JUDGE, JudgeTools

    return JudgeTools(judge=lambda: backends(judge or DEFAULT_JUDGE), loader=backends)


def judged(step: Step, cases: Sequence[TestCase], tools: JudgeTools | None = None
           ) -> Callable[[StepRun, int, str], StepRun]:
    """What gives a run of ``cases[at]`` its verdict: the step's checks and the input's own
    (:class:`~workbench.judging.verdicts.Judging`, built now, so a bad check or a missing judge model is one line
    before any model call), else its answer compared with the expected one under the answer format."""
    from workbench.judging.base import Case
    from workbench.judging.registry import build_checks
    from workbench.judging.verdicts import Judging

    items = [case.item(f"input-{at + 1}") for at, case in enumerate(cases)]
    judging = Judging(build_checks(step.checks, f"step {step.title!r}"), items, step.threshold, tools)
    if judging.graded and (tools is None or not tools.has_judge):
        raise DataError(f"Step {step.title!r} has a model-graded check (llm-rubric, ...) and no judge model was "
                        "given; run it with a judge model.")
    labels = tuple(step.spec.labels)

    def judge(result: StepRun, at: int, fmt: str) -> StepRun:
        run = result.runs[0]
        # a completion starts with the space after the prompt: checks read the text without it (as in evaluate)
        found = judging.verdict(Case(output=result.output.strip(), item=items[at], extracted=result.answer,
                                     fmt=fmt, labels=labels, prompt=run.rendered.text, seconds=result.seconds))
        if found is None:
            expected = result.case.expected
            return dataclasses.replace(result, correct=None if expected is None else
                                       is_correct(result.answer, expected, fmt))
        passed, score, verdicts = found
        return dataclasses.replace(result, correct=passed, score=score, checks=verdicts)

    return judge


def run_set(pset: PromptSet, backends: Callable[[str], Backend], inputs: Sequence[TestCase] | None = None,
            *, default_model: str = "", indexes: IndexFactory | None = None,
            progress: Callable[[int, int], None] | None = None, judge: str | None = None) -> list[StepRun]:
    """Every step on every input (default: the set's tests); ``backends(model_id)`` gives each step's model.

    Steps' and inputs' ``assert`` lists judge the outputs; model-graded ones ask ``judge`` (a model id, loaded
    with ``backends`` on first use; default :data:`~workbench.judging.tools.DEFAULT_JUDGE`), the embedding ones
    the workbench's MiniLM."""
    inputs = pset.tests if inputs is None else tuple(inputs)
    if not inputs:
        raise DataError(f"The set {pset.name!r} has no test inputs; give an input to run.")
    tools = judge_tools(backends, judge)
    for step in pset.steps:  # every step's and input's checks built before any model call
        judged(step, inputs, tools)
    total, done, out = len(pset.steps) * len(inputs), 0, []
    for i, step in enumerate(pset.steps):
        model = step.model or default_model
        backend = backends(model)
        size = max(1, int(getattr(backend, "batch_size", 1)))  # inputs decoded together (batching backends)
        for at in range(0, len(inputs), size):
            out.extend(run_steps(step, inputs[at:at + size], backend, index=i, model=model, indexes=indexes,
                                 tools=tools))
            done += len(inputs[at:at + size])
            if progress is not None:
                progress(done, total)
    return out


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
