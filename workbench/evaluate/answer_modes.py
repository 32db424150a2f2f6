"""Answer modes: how a strategy gets an item's answer and how the item is recorded, one registered object each.

A mode owns the whole of one item (or of a batch of items): the calls it makes to the model, how it reads the
answer, which fields its :class:`~workbench.evaluate.records.ItemRecord` holds, and how the answer is judged
against the gold one (:meth:`AnswerMode.judge`). The runner only picks the mode a strategy fits
(:func:`mode_for`) and stores what it returns.

* ``generate`` -- free text (chain-of-thought stages included), then the format's extraction rule; items run
  together up to the backend's batch;
* ``label_score`` -- one scoring call with every label word after the prompt, the best label wins;
* ``calibrated_score`` -- label scoring corrected by the content-free prior (Zhao et al. 2021);
* ``self_consistency`` -- sampled reasoning paths, the majority answer wins (Wang et al. 2022);
* ``choices`` -- each item's own choices scored, the most likely wins (lm-evaluation-harness's multiple_choice;
  :mod:`workbench.evaluate.own_choices`).

A new mode (a judge from the judging issue: an assertion or a model-graded rubric) is one subclass of
:class:`AnswerMode` with a ``name``, a ``description``, its :meth:`~AnswerMode.fits` and the primitives it
changes (:meth:`~AnswerMode.answer` for one item, :meth:`~AnswerMode.judge` for the verdict), plus one
:func:`register` line.

    >>> [m.name for m in modes()]
    ['self_consistency', 'calibrated_score', 'label_score', 'choices', 'generate']
    >>> MODES["generate"].judge("4", Example(id="1", input="2+2?", answer="4"), "number")
    True
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.data import Example
from workbench.evaluate.calibration import CONTENT_FREE_INPUTS, argmax, calibrate, content_free_prior, label_probs
from workbench.evaluate.records import ItemFailure, ItemRecord
from workbench.evaluate.strategies import Strategy
from workbench.prompts.budget import fit_to_window, reserved_tokens
from workbench.prompts.running import answer_prompt
from workbench.retrieval.selectors.registry import SELECTOR_REGISTRY, make_selector

if TYPE_CHECKING:
    from workbench.backends import Backend
    from workbench.cache import ModelCalls
    from workbench.retrieval.index import PoolIndex

#: The marker that stands for the query while a content-free prompt is rendered (the renderer refuses "").
_CF_MARK = "\u2063CONTENT-FREE\u2063"

Outcome = ItemRecord | ItemFailure


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


class ItemContext:
    """What a mode runs one strategy's items against: the strategy, the (cached) model, the demonstrations'
    index, the batch, and what reached the model (``calls``, under a response cache)."""

    def __init__(self, strategy: Strategy, backend: Backend, index: PoolIndex | None, batch: int = 1,
                 calls: ModelCalls | None = None):
        self.strategy, self.backend, self.index = strategy, backend, index
        self.batch = batch  # sequences decoded together at most (1: one at a time, exact text)
        self.calls = calls  # under a response cache: what reached the model (None: everything does)
        self.memo: dict[Any, Any] = {}  # values a mode reuses across items (calibration priors by demos)
        kind = SELECTOR_REGISTRY.get(strategy.selector) if strategy.selector is not None else None
        self.carried = kind is not None and kind.carries_demos  # the strategy holds its demos (fixed, Auto-CoT)
        if strategy.selector is not None and not self.carried and strategy.k:
            make_selector(strategy.selector, index, seed=strategy.seed)  # a bad selector fails before any item

    def demos_for(self, query: Example) -> tuple[tuple[Example, ...], tuple[float, ...] | None, str]:
        """Demonstrations for a query (never the query itself), their relevance scores, and why."""
        s = self.strategy
        if s.k == 0 or s.selector is None:
            return (), None, "zero-shot"
        if self.carried:
            demos = tuple(d for d in s.demos if _key(d.input) != _key(query.input))[: s.k]
            if s.order == "as_selected" or len(demos) < 2:
                return demos, None, "fixed demonstrations"
            from workbench.retrieval.orders import order
            from workbench.retrieval.selectors.base import Selection

            sel = order(Selection(tuple(range(len(demos))), (0.0,) * len(demos), "fixed demonstrations"), s.order,
                        seed=s.seed, labels=[d.label for d in demos],
                        choose=lambda kind, chosen: self.model_orders(kind, [demos[i] for i in chosen.indices]))
            return tuple(demos[i] for i in sel.indices), None, sel.reason
        from workbench.retrieval.choose import choose_demos

        demos, sel = choose_demos(self.index, query.input, s.k, s.selector, s.order, seed=s.seed,
                                  model_orders=self.model_orders)
        return tuple(demos), sel.scores, sel.reason

    @property
    def model_orders(self):
        """Model-chosen orders (``global-entropy``) for this strategy: its prompt as label scoring renders it, its
        label scores; each set of demonstrations probed once (:class:`workbench.retrieval.entropy.ModelOrders`)."""
        if "model_orders" not in self.memo:
            from workbench.retrieval.entropy import ModelOrders

            s, model = self.strategy, self.backend
            self.memo["model_orders"] = ModelOrders(
                s.spec, model, seed=s.seed, score=lambda prompt: label_scores(self, prompt),
                prompt_for=lambda demos, text: fit_to_window(s.spec, _verbalize(demos, s.words), text, model,
                                                             _label_budget(s, model)).text)
        return self.memo["model_orders"]

    def forget_sent(self) -> None:
        """Start counting what reaches the model afresh (before an item or a batch)."""
        if self.calls is not None:
            self.calls.sent.clear()

    def all_cached(self) -> bool | None:
        """True when nothing reached the model since :meth:`forget_sent` (None: no cache, or something did)."""
        return True if self.calls is not None and not self.calls.sent else None

    def cached_runs(self, runs) -> list[bool]:
        """Per prompt run: True when none of its stages' prompts reached the model (all from the cache)."""
        if self.calls is None:
            return [False] * len(runs)
        sent = self.calls.sent
        if not sent:
            return [True] * len(runs)
        if any(not isinstance(p, str) for p in sent):  # cannot tell which: none counts as cached
            return [False] * len(runs)
        went = set(sent)
        return [not any(st.prompt in went for st in run.stages) for run in runs]


@dataclass(frozen=True)
class AnswerMode:
    """One way to answer and record an item. Subclasses override :meth:`answer` (one item) or :meth:`run`
    (a group of items), and :meth:`judge` where correctness is not the format's comparison."""

    name: str  # the registry key, stored nowhere (a run stores the strategy, which picks its mode)
    description: str  # one line for docs and help
    batched: bool = False  # items run together, up to the context's batch (False: one item at a time)
    generates: bool = True  # it decodes text, so batching can change it (a resume must keep the batching)

    def fits(self, strategy: Strategy) -> bool:
        """Whether ``strategy`` answers by this mode (:func:`mode_for` takes the first registered that fits)."""
        raise NotImplementedError

    def group(self, ctx: ItemContext) -> int:
        """Items run together in one :meth:`run`."""
        return ctx.batch if self.batched else 1

    def judge(self, answer: str | None, query: Example, fmt: str, style: str = "lenient") -> bool:
        """Whether ``answer`` is right for ``query`` by the format's own check (:mod:`workbench.judging.formats`),
        compared as extraction ``style`` compares; the run's assertions, when it has any, judge the finished record
        afterwards (:class:`workbench.judging.verdicts.Judging`)."""
        from workbench.judging.base import Case
        from workbench.judging.formats import format_check

        case = Case(output=answer or "", item=query, extracted=answer, fmt=fmt, style=style)
        return format_check(fmt).run(case).passed

    def verdict(self, answer: str | None, query: Example, fmt: str, style: str) -> bool:
        """:meth:`judge` in the strategy's extraction ``style``; a mode with its own ``judge`` (lm-eval's choices
        compare keys) decides as it defines, whatever the style."""
        if type(self).judge is AnswerMode.judge:
            return self.judge(answer, query, fmt, style)
        return self.judge(answer, query, fmt)

    def run(self, ctx: ItemContext, chunk: Sequence[tuple[int, Example]]) -> list[Outcome]:
        """Records of ``chunk``'s (index, item) pairs, in order: each item alone, timed, cache-marked."""
        out: list[Outcome] = []
        for index, query in chunk:
            t0 = time.perf_counter()
            ctx.forget_sent()
            demos, scores, reason = ctx.demos_for(query)
            got = self.answer(ctx, index, query, demos, scores, reason)
            if isinstance(got, ItemRecord):
                # cached: every call of this item was answered from the response cache
                got = dataclasses.replace(got, seconds=round(time.perf_counter() - t0, 4), cached=ctx.all_cached())
            out.append(got)
        return out

    def answer(self, ctx: ItemContext, index: int, query: Example, demos: tuple[Example, ...],
               scores: Sequence[float] | None, reason: str) -> Outcome:
        """One item's record (its seconds and cache mark are :meth:`run`'s)."""
        raise NotImplementedError

    def record(self, ctx: ItemContext, query: Example, reason: str, *, extracted: str | None,
               raw_extracted: str | None = None, **fields: Any) -> ItemRecord:
        """The item's record: the query's fields, the mode's ``fields``, and the verdicts of :meth:`judge`."""
        fmt, style = ctx.strategy.spec.answer_format, ctx.strategy.spec.extract
        return ItemRecord(id=query.id, input=query.input, gold=query.answer, format=fmt, selection=reason,
                          vars=dict(query.vars) if query.vars else None,
                          extracted=extracted, correct=self.verdict(extracted, query, fmt, style),
                          raw_extracted=raw_extracted,
                          raw_correct=None if raw_extracted is None else self.verdict(raw_extracted, query, fmt, style),
                          **fields)


#: Every answer mode by name, in the order :func:`mode_for` tries them (the most specific first).
MODES: dict[str, AnswerMode] = {}


def register(mode: AnswerMode, before: str | None = None) -> AnswerMode:
    """Add ``mode`` to :data:`MODES`, last or ``before`` the named mode (tried ahead of the mode it refines); a
    second mode under one name is a programming error."""
    if mode.name in MODES:
        raise ValueError(f"answer mode {mode.name!r} is registered twice")
    if before is not None and before not in MODES:
        raise ValueError(f"no answer mode {before!r} to register {mode.name!r} before")
    entries = list(MODES.items())
    at = len(entries) if before is None else [name for name, _ in entries].index(before)
    entries.insert(at, (mode.name, mode))
    MODES.clear()
    MODES.update(entries)
    return mode


#: Modules that hold a mode of their own and register it when imported (imported by :func:`modes`).
MODE_MODULES = ("workbench.evaluate.own_choices",)


def _load() -> None:
    import importlib

    for module in MODE_MODULES:
        importlib.import_module(module)


def modes() -> list[AnswerMode]:
    """The registered modes, in the order they are tried."""
    _load()
    return list(MODES.values())


def mode_for(strategy: Strategy) -> AnswerMode:
    """The mode ``strategy`` answers by: the first registered that fits it."""
    return next(m for m in modes() if m.fits(strategy))


# --------------------------------------------------------------------------- generate, then extract

@dataclass(frozen=True)
class GenerateMode(AnswerMode):
    """Free text (every stage of the spec's reasoning), then the format's extraction rule."""

    def fits(self, strategy: Strategy) -> bool:
        return strategy.answer != "score" and strategy.samples == 1

    def answer(self, ctx, index, query, demos, scores, reason) -> Outcome:
        return self.run(ctx, [(index, query)])[0]

    def run(self, ctx: ItemContext, chunk: Sequence[tuple[int, Example]]) -> list[Outcome]:
        """One batched call per stage for the whole chunk (:func:`~workbench.prompts.running.run_prompts`)."""
        from workbench.prompts.running import PromptJob, run_prompts

        s = ctx.strategy
        t0 = time.perf_counter()
        ctx.forget_sent()
        chosen = [ctx.demos_for(ex) for _, ex in chunk]
        jobs = [PromptJob(demos, ex, scores) for (_, ex), (demos, scores, _) in zip(chunk, chosen, strict=True)]
        runs = run_prompts(s.spec, jobs, ctx.backend, s.decoding)
        elapsed = time.perf_counter() - t0
        cached = ctx.cached_runs(runs)
        # The chunk's time is the model's work on the items it answered (a lookup's share when all were cached).
        to_model = len(chunk) - sum(cached)
        out: list[Outcome] = []
        for (i, ex), (_, _, reason), run, hit in zip(chunk, chosen, runs, cached, strict=True):
            seconds = elapsed / len(chunk) if not to_model else 0.0 if hit else elapsed / to_model
            failed = next((st.generation for st in run.stages if st.generation.failed), None)
            if failed is not None:
                out.append(ItemFailure(i, ex.id, failed.error or "the model could not run it"))
                continue
            output = run.stages[-1].output
            if len(run.stages) == 2:  # Zero-shot-CoT: the reasoning, the answer trigger, then the answer
                output = answer_prompt(s.spec, "", run.stages[0].output, ex) + output
            out.append(self.record(
                ctx, ex, reason, extracted=run.answer, prompt=run.rendered.text, output=output,
                rule=run.extraction.rule, dropped=run.rendered.dropped, demos=tuple(d.id for d in run.rendered.demos),
                batch=max(st.generation.batch for st in run.stages),
                tokens={"prompt": run.rendered.tokens,
                        "completion": sum(st.generation.completion_tokens for st in run.stages)},
                seconds=round(seconds, 4), cached=True if hit else None))
        return out


# --------------------------------------------------------------------------- label scoring

def content_free_prompt(strategy: Strategy, demos: Sequence[Example], content_free: str, backend: Backend) -> str:
    """The prompt with ``content_free`` in place of the query, after the same demonstrations."""
    text = fit_to_window(strategy.spec, demos, _CF_MARK, backend, _label_budget(strategy, backend)).text
    return text.replace(_CF_MARK, content_free)


def _label_budget(strategy: Strategy, backend: Backend) -> int:
    return max(backend.count_tokens(w) for w in strategy.words.values())  # counts a BOS too: one spare


def _verbalize(demos: Sequence[Example], words: Mapping[str, str]) -> tuple[Example, ...]:
    """Demonstrations showing the label word (stripped) in place of the label, as scoring expects."""
    out = []
    for d in demos:
        label = d.answer if d.answer in words else d.label
        if label in words and words[label].strip() != d.answer:
            d = dataclasses.replace(d, answer=words[label].strip())
        out.append(d)
    return tuple(out)


def per_choice(logprob: float, text: str, norm: str) -> float:
    """A continuation's summed log-likelihood over the length of ``text``, the choice as lm-evaluation-harness
    defines it (the target delimiter before it not counted): in characters for "char" (``acc_norm``:
    ``lls / len(choice)``), in UTF-8 bytes for "byte" (``acc_bytes``: ``lls / len(choice.encode("utf-8"))``);
    any other normalisation is the value as given (the caller's :meth:`~workbench.backends.records.Scored.normalised`).

    >>> per_choice(-6.0, "four", "char"), per_choice(-6.0, "café", "byte"), per_choice(-6.0, "four", "sum")
    (-1.5, -1.2, -6.0)
    """
    if norm == "char":
        return logprob / max(1, len(text))
    if norm == "byte":
        return logprob / max(1, len(text.encode("utf-8")))
    return logprob


def label_scores(ctx: ItemContext, prompt: str) -> list[float]:
    """One score per label word after ``prompt``: summed log-probabilities, per token (the tokens the scored
    continuation took, the delimiter's space inside its first one), or per byte / character of the label word
    without its one leading space (the delimiter, as lm-eval's " " before a choice, and not counted)."""
    norm = ctx.strategy.score_norm
    words = list(ctx.strategy.words.values())
    details = ctx.backend.score_details(prompt, words)
    if norm in ("char", "byte"):
        return [per_choice(d.logprob, w.removeprefix(" "), norm) for d, w in zip(details, words, strict=True)]
    return [d.normalised(norm) for d in details]


@dataclass(frozen=True)
class LabelScoreMode(AnswerMode):
    """Every label word scored after the prompt in one call; the most probable label is the answer."""

    def fits(self, strategy: Strategy) -> bool:
        return strategy.answer == "score" and not strategy.calibrate

    def rule(self, strategy: Strategy) -> str:
        return "label_score" if strategy.score_norm == "sum" else f"label_score_per_{strategy.score_norm}"

    def answer(self, ctx, index, query, demos, scores, reason) -> Outcome:
        s = ctx.strategy
        labels = list(s.words)
        rendered = fit_to_window(s.spec, _verbalize(demos, s.words), query, ctx.backend,
                                 _label_budget(s, ctx.backend), scores)
        logliks = label_scores(ctx, rendered.text)
        probs = label_probs(logliks)
        fields: dict[str, Any] = {
            "extracted": labels[argmax(probs)], "prompt": rendered.text,
            "output": " ".join(f"{lab}: {ll:.3f}" for lab, ll in zip(labels, logliks, strict=True)),
            "rule": self.rule(s), "dropped": rendered.dropped, "demos": tuple(d.id for d in rendered.demos),
            "logliks": dict(zip(labels, logliks, strict=True)), "probs": dict(zip(labels, probs, strict=True))}
        return self.record(ctx, query, reason, **{**fields, **self.extra(ctx, labels, probs, rendered.demos)})

    def extra(self, ctx: ItemContext, labels: list[str], probs: list[float], demos) -> dict[str, Any]:
        """Fields a subclass adds to (or overrides in) the record."""
        return {}


@dataclass(frozen=True)
class CalibratedScoreMode(LabelScoreMode):
    """Label scores divided by the content-free prior of the same demonstrations (contextual calibration)."""

    def fits(self, strategy: Strategy) -> bool:
        return strategy.answer == "score" and strategy.calibrate

    def rule(self, strategy: Strategy) -> str:
        return f"calibrated_{super().rule(strategy)}"

    def extra(self, ctx, labels, probs, demos) -> dict[str, Any]:
        p_cf = self.prior(ctx, demos)
        cal = calibrate(probs, p_cf)
        return {"raw_extracted": labels[argmax(probs)], "extracted": labels[argmax(cal)],
                "p_cf": dict(zip(labels, p_cf, strict=True)), "calibrated_probs": dict(zip(labels, cal, strict=True))}

    @staticmethod
    def prior(ctx: ItemContext, demos: tuple[Example, ...]) -> list[float]:
        """The content-free prior after ``demos`` (computed once per set of demonstrations)."""
        key = ("prior", tuple(d.id for d in demos))
        if key not in ctx.memo:
            rows = [label_scores(ctx, content_free_prompt(ctx.strategy, demos, cf, ctx.backend))
                    for cf in CONTENT_FREE_INPUTS]
            ctx.memo[key] = content_free_prior(rows)
        return ctx.memo[key]


# --------------------------------------------------------------------------- self-consistency

def item_seed(seed: int, index: int, samples: int) -> int:
    """The first seed of item ``index``'s ``samples`` paths: ``seed + index * samples``, wrapped so that its last
    path's seed (``+ samples - 1``) stays at most :data:`~workbench.decoding.MAX_SEED`.

    >>> item_seed(0, 3, 5), item_seed(2**32 - 6, 0, 5), item_seed(2**32 - 6, 1, 5)
    (15, 4294967290, 4)
    """
    from workbench.decoding import MAX_SEED

    return (seed + index * samples) % (MAX_SEED - samples + 2)


@dataclass(frozen=True)
class SelfConsistencyMode(AnswerMode):
    """Sampled reasoning paths decoded together; the majority answer wins."""

    def fits(self, strategy: Strategy) -> bool:
        return strategy.samples > 1

    def answer(self, ctx, index, query, demos, scores, reason) -> Outcome:
        from workbench.consistency import self_consistency

        s = ctx.strategy
        spec, base = s.spec, s.decoding
        # Seeds depend on the item, not on call order: a resumed run samples the same paths. They wrap so that
        # the item's last path stays within the engines' 32-bit range (unchanged below it: any usual seed).
        cfg = base.replace(seed=item_seed(base.seed or 0, index, s.samples))
        rendered = fit_to_window(spec, demos, query, ctx.backend, reserved_tokens(spec, cfg, ctx.backend, query),
                                 scores)
        # batch 1 (reproducible): every path's call alone, the exact one-at-a-time text
        result = self_consistency(spec, rendered.text, ctx.backend, cfg, query=query, one_at_a_time=ctx.batch == 1)
        gens = [st.generation for p in result.paths for st in p.stages]
        failed = next((g for g in gens if g.failed), None)
        if failed is not None:
            return ItemFailure(index, query.id, failed.error or "the model could not run it")
        outputs = tuple(p.text for p in result.paths)
        return self.record(
            ctx, query, reason, extracted=result.winner, prompt=rendered.text, output=outputs[0],
            rule="majority_vote", samples=tuple(p.raw_answer for p in result.paths),
            agreement=round(result.vote.agreement, 4), outputs=outputs, dropped=rendered.dropped,
            demos=tuple(d.id for d in rendered.demos), batch=max(g.batch for g in gens))


register(SelfConsistencyMode("self_consistency", "sampled chains of thought, the majority answer wins"))
register(CalibratedScoreMode("calibrated_score", "label scores corrected by the content-free prior",
                             generates=False))
register(LabelScoreMode("label_score", "every label word scored after the prompt; the most probable wins",
                        generates=False))
register(GenerateMode("generate", "free text, then the format's extraction rule", batched=True))
