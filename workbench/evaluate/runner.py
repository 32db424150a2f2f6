"""The evaluation runner: strategies x items, each item's record stored as soon as it is done.

An interrupted run resumes where it stopped (pass its ``run_id``); :func:`order_sensitivity` evaluates one
set of K demonstrations under P seeded permutations (Lu et al. 2022).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import permutations as all_permutations
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.answers import is_correct
from workbench.data import Example, Pool
from workbench.errors import ConfigError, DataError, ModelError
from workbench.evaluate.calibration import CONTENT_FREE_INPUTS, argmax, calibrate, content_free_prior, label_probs
from workbench.evaluate.metrics import StrategySummary, spread, summarize
from workbench.evaluate.records import ItemRecord
from workbench.evaluate.strategies import DEFAULT_K, Strategy, needs_index
from workbench.prompts import answer_prompt, fit_to_window, reserved_tokens
from workbench.words import plural

if TYPE_CHECKING:
    from workbench.backends import Backend
    from workbench.retrieval.embedder import Embedder
    from workbench.retrieval.index import PoolIndex
    from workbench.store import Store

#: The marker that stands for the query while a content-free prompt is rendered (the renderer refuses "").
_CF_MARK = "\u2063CONTENT-FREE\u2063"


def seeded_permutations(k: int, count: int, seed: int = 0) -> list[tuple[int, ...]]:
    """``count`` distinct permutations of ``range(k)`` (fewer when k! is smaller), drawn with a local RNG."""
    total = math.factorial(k)
    if count >= total:
        perms = list(all_permutations(range(k)))
        rng = np.random.default_rng(seed)
        return [perms[i] for i in rng.permutation(total)]
    rng = np.random.default_rng(seed)
    out: list[tuple[int, ...]] = []
    while len(out) < count:
        p = tuple(int(i) for i in rng.permutation(k))
        if p not in out:
            out.append(p)
    return out



@dataclass(frozen=True)
class Progress:
    """Where a run is: items done (over all strategies), the current strategy, time and ETA."""

    done: int
    total: int
    strategy: str
    elapsed_s: float  # this session's wall time (resumed items excluded)
    eta_s: float | None  # estimated seconds left; None until one item has run
    run_id: int | None = None  # the stored run (a page keeps it to offer "resume" after a cancel)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


@dataclass(frozen=True)
class EvalRun:
    """A finished (or cancelled) run: its id in the store, status and per-strategy summaries."""

    run_id: int
    status: str  # "finished" or "cancelled"
    summaries: tuple[StrategySummary, ...]
    records: tuple[dict, ...] = field(repr=False)


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


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


@dataclass(frozen=True)
class ItemFailure:
    """An item whose generation could not run (a batch's sequence the model refused); it is not stored, so
    resuming the run tries it again. The batch's other items are unaffected."""

    index: int  # the item's position in the evaluated items
    id: str  # the item's id in its dataset
    error: str  # one line: why


def batch_of(backend: Backend, reproducible: bool) -> int:
    """Sequences an evaluation decodes together at most: the backend's ``batch_size`` (llama.cpp and
    transformers: ``WORKBENCH_BATCH``), or 1 when ``reproducible`` asks for the exact one-at-a-time text."""
    return 1 if reproducible else max(1, int(getattr(backend, "batch_size", 1)))


class ModelCalls:
    """The backend under the response cache: counts what reaches the model, so an item answered wholly from the
    cache is marked ``cached`` and throughput counts only the model's own work. Everything else is the backend's."""

    def __init__(self, backend: Backend):
        self.inner = backend
        self.sent: list[Any] = []  # the prompts that went to the model since the runner last cleared it

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def generate(self, prompts, cfg, on_wait=None):
        self.sent.extend([prompts] if isinstance(prompts, str) else list(prompts))
        return self.inner.generate(prompts, cfg, on_wait)

    def score_details(self, prompt, continuations):
        self.sent.append(prompt)
        return self.inner.score_details(prompt, continuations)

    def score(self, prompt, continuations):
        return [s.logprob for s in self.score_details(prompt, continuations)]

    def complete(self, prompt, cfg=None):
        from workbench.decoding import DecodingConfig

        return self.generate([prompt], cfg or DecodingConfig())[0][0]


class _Runner:
    """Runs one strategy over items (several at once when the backend batches); holds the calibration cache."""

    def __init__(self, strategy: Strategy, pool: Pool, backend: Backend, index: PoolIndex | None,
                 batch: int = 1, calls: ModelCalls | None = None):
        self.s, self.pool, self.backend, self.index = strategy, pool, backend, index
        self.calls = calls  # under a response cache: what reached the model (None: everything does)
        self.batch = batch  # sequences decoded together at most (1: one at a time, exact text)
        if strategy.selector not in (None, "fixed", "autocot") and strategy.k:
            from workbench.retrieval.selectors.registry import make_selector

            make_selector(strategy.selector, index, seed=strategy.seed)  # a bad selector fails before any item
        self._priors: dict[tuple, list[float]] = {}

    def demos_for(self, query: Example) -> tuple[tuple[Example, ...], tuple[float, ...] | None, str]:
        """Demonstrations for a query (never the query itself), their relevance scores, and why."""
        s = self.s
        if s.k == 0 or s.selector is None:
            return (), None, "zero-shot"
        if s.selector in ("fixed", "autocot"):
            demos = tuple(d for d in s.demos if _key(d.input) != _key(query.input))[: s.k]
            return demos, None, "fixed demonstrations"
        from workbench.retrieval.choose import choose_demos

        demos, sel = choose_demos(self.index, query.input, s.k, s.selector, s.order, seed=s.seed)
        return tuple(demos), sel.scores, sel.reason

    @property
    def group(self) -> int:
        """Items run together: generation strategies fill the batch; label scoring reads one prompt at a
        time (prompt-bound), and self-consistency batches its own paths."""
        return self.batch if self.s.answer != "score" and self.s.samples == 1 else 1

    def run_many(self, chunk: Sequence[tuple[int, Example]]) -> list[ItemRecord | ItemFailure]:
        """Records of ``chunk``'s (index, item) pairs, in order; a generation strategy's items are one
        batched call per stage (:func:`~workbench.prompts.run_prompts`)."""
        if self.s.answer == "score" or self.s.samples > 1:
            return [self.run(i, ex) for i, ex in chunk]
        from workbench.prompts import PromptJob, run_prompts

        t0 = time.perf_counter()
        self._forget_sent()
        chosen = [self.demos_for(ex) for _, ex in chunk]
        jobs = [PromptJob(demos, ex, scores) for (_, ex), (demos, scores, _) in zip(chunk, chosen, strict=True)]
        runs = run_prompts(self.s.spec, jobs, self.backend, self.s.decoding)
        elapsed = time.perf_counter() - t0
        cached = self._cached_runs(runs)
        # The chunk's time is the model's work on the items it answered (a lookup's share when all were cached).
        to_model = len(chunk) - sum(cached)
        out: list[ItemRecord | ItemFailure] = []
        for (i, ex), (demos, _, reason), run, hit in zip(chunk, chosen, runs, cached, strict=True):
            seconds = elapsed / len(chunk) if not to_model else 0.0 if hit else elapsed / to_model
            failed = next((st.generation for st in run.stages if st.generation.failed), None)
            if failed is not None:
                out.append(ItemFailure(i, ex.id, failed.error or "the model could not run it"))
                continue
            output = run.stages[-1].output
            if len(run.stages) == 2:  # Zero-shot-CoT: the reasoning, the answer trigger, then the answer
                output = answer_prompt(self.s.spec, "", run.stages[0].output, ex) + output
            record = {"prompt": run.rendered.text, "output": output, "extracted": run.answer,
                      "rule": run.extraction.rule, "dropped": run.rendered.dropped,
                      "demos": tuple(d.id for d in run.rendered.demos),
                      "batch": max(st.generation.batch for st in run.stages),
                      "tokens": {"prompt": run.rendered.tokens,
                                 "completion": sum(st.generation.completion_tokens for st in run.stages)}}
            if hit:
                record["cached"] = True
            out.append(self._record(ex, demos, reason, record, seconds))
        return out

    def _forget_sent(self) -> None:
        if self.calls is not None:
            self.calls.sent.clear()

    def _cached_runs(self, runs) -> list[bool]:
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

    def run(self, index: int, query: Example) -> ItemRecord | ItemFailure:
        if self.s.answer != "score" and self.s.samples == 1:
            return self.run_many([(index, query)])[0]
        t0 = time.perf_counter()
        self._forget_sent()
        demos, scores, reason = self.demos_for(query)
        if self.s.answer == "score":
            record = self._score(query, demos, scores)
        else:
            record = self._self_consistency(index, query, demos, scores)
            if isinstance(record, ItemFailure):
                return record
        if self.calls is not None and not self.calls.sent:
            record["cached"] = True  # every call of this item was answered from the response cache
        return self._record(query, demos, reason, record, time.perf_counter() - t0)

    def _record(self, query: Example, demos, reason: str, record: dict[str, Any], seconds: float) -> ItemRecord:
        fmt = self.s.spec.answer_format
        if "raw_extracted" in record:
            record["raw_correct"] = is_correct(record["raw_extracted"], query.answer, fmt)
        record.setdefault("demos", tuple(d.id for d in demos))
        return ItemRecord(id=query.id, input=query.input, gold=query.answer, format=fmt, selection=reason,
                          correct=is_correct(record["extracted"], query.answer, fmt),
                          seconds=round(seconds, 4), **record)

    def _label_scores(self, prompt: str) -> list[float]:
        """One score per label word after ``prompt``: summed log-probabilities, or per token / per byte."""
        details = self.backend.score_details(prompt, list(self.s.words.values()))
        return [d.normalised(self.s.score_norm) for d in details]

    def _score(self, query: Example, demos: tuple[Example, ...], scores) -> dict[str, Any]:
        words = self.s.words
        labels = list(words)
        demos = _verbalize(demos, words)
        rendered = fit_to_window(self.s.spec, demos, query, self.backend, _label_budget(self.s, self.backend),
                                 scores)
        logliks = self._label_scores(rendered.text)
        probs = label_probs(logliks)
        raw = labels[argmax(probs)]
        rule = "label_score" if self.s.score_norm == "sum" else f"label_score_per_{self.s.score_norm}"
        record: dict[str, Any] = {
            "prompt": rendered.text, "output": " ".join(f"{lab}: {ll:.3f}" for lab, ll in zip(labels, logliks, strict=True)),
            "extracted": raw, "rule": rule, "dropped": rendered.dropped,
            "demos": tuple(d.id for d in rendered.demos), "logliks": dict(zip(labels, logliks, strict=True)),
            "probs": dict(zip(labels, probs, strict=True)),
        }
        if self.s.calibrate:
            p_cf = self._prior(rendered.demos)
            cal = calibrate(probs, p_cf)
            record.update({"raw_extracted": raw, "extracted": labels[argmax(cal)], "rule": f"calibrated_{rule}",
                           "p_cf": dict(zip(labels, p_cf, strict=True)), "calibrated_probs": dict(zip(labels, cal, strict=True))})
        return record

    def _prior(self, demos: tuple[Example, ...]) -> list[float]:
        key = tuple(d.id for d in demos)
        if key not in self._priors:
            rows = [self._label_scores(content_free_prompt(self.s, demos, cf, self.backend))
                    for cf in CONTENT_FREE_INPUTS]
            self._priors[key] = content_free_prior(rows)
        return self._priors[key]

    def _self_consistency(self, index: int, query: Example, demos, scores) -> dict[str, Any] | ItemFailure:
        from workbench.consistency import self_consistency

        spec, base = self.s.spec, self.s.decoding
        # Seeds depend on the item, not on call order: a resumed run samples the same paths. They wrap so that
        # the item's last path stays within the engines' 32-bit range (unchanged below it: any usual seed).
        cfg = base.replace(seed=item_seed(base.seed or 0, index, self.s.samples))
        rendered = fit_to_window(spec, demos, query, self.backend, reserved_tokens(spec, cfg, self.backend, query),
                                 scores)
        # batch 1 (reproducible): every path's call alone, the exact one-at-a-time text
        result = self_consistency(spec, rendered.text, self.backend, cfg, query=query, one_at_a_time=self.batch == 1)
        gens = [st.generation for p in result.paths for st in p.stages]
        failed = next((g for g in gens if g.failed), None)
        if failed is not None:
            return ItemFailure(index, query.id, failed.error or "the model could not run it")
        outputs = [p.text for p in result.paths]
        return {"prompt": rendered.text, "output": outputs[0], "extracted": result.winner, "rule": "majority_vote",
                "samples": tuple(p.raw_answer for p in result.paths), "agreement": round(result.vote.agreement, 4),
                "outputs": tuple(outputs), "dropped": rendered.dropped, "demos": tuple(d.id for d in rendered.demos),
                "batch": max(g.batch for g in gens)}


def prepare_strategies(
    strategies: Sequence[Strategy],
    pool: Pool,
    backend: Backend,
    index_fn: Callable[[], PoolIndex],
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    one_at_a_time: bool = False,
) -> list[Strategy]:
    """Fill in demonstrations that must be built before a run: Auto-CoT writes its rationales here
    (the clusters' candidates in batches, or ``one_at_a_time``)."""
    out = []
    for s in strategies:
        if s.selector == "autocot" and not s.demos:
            from workbench.autocot import AutoCoTConfig, build_demos, task_for, zero_shot_cot_reasoner

            index = index_fn()
            reason = zero_shot_cot_reasoner(backend, s.spec.answer_format, labels=s.spec.labels,
                                            one_at_a_time=one_at_a_time)
            # The reference's per-task preset (clusters, steps); K from the strategy's name.
            cfg = AutoCoTConfig.for_task(task_for(pool.name), k=s.k, seed=s.seed, fallback=s.fallback)
            result = build_demos(list(pool), index.vectors, reason, cfg, progress=progress, should_stop=should_stop)
            s = dataclasses.replace(s, demos=tuple(result.examples()))
        out.append(s)
    return out


def item_seed(seed: int, index: int, samples: int) -> int:
    """The first seed of item ``index``'s ``samples`` paths: ``seed + index * samples``, wrapped so that its last
    path's seed (``+ samples - 1``) stays at most :data:`~workbench.decoding.MAX_SEED`.

    >>> item_seed(0, 3, 5), item_seed(2**32 - 6, 0, 5), item_seed(2**32 - 6, 1, 5)
    (15, 4294967290, 4)
    """
    from workbench.decoding import MAX_SEED

    return (seed + index * samples) % (MAX_SEED - samples + 2)


def run_meta(dataset: Pool, pool: Pool, strategies: Sequence[Strategy], backend: Backend,
             limit: int | None, embedder: str | None = None, store: Store | None = None,
             batch: int = 1) -> dict[str, Any]:
    """What a run is: model, backend, dataset and pool (name, size, hash), strategies, versions, and the
    manifest that makes it reproducible (package versions, model file sha256, embedder, index kind, seeds,
    ``batch``: the sequences decoded together at most, 1 = one at a time).

    ``embedder`` names the embedder used; by default the workbench's own when a strategy needs one.
    The model's sha256 is :func:`workbench.cache.model_identity`'s (remembered in ``store`` when given).
    """
    import os
    import platform

    import workbench
    from workbench.cache import model_identity
    from workbench.report import package_versions

    indexed = needs_index(strategies)
    if indexed:
        from workbench.retrieval.embedder import DEFAULT_EMBEDDER
        from workbench.retrieval.index import index_kind
    model_path = getattr(getattr(backend, "spec", None), "path", None)
    # Only a real file, folder or server is hashed (a test double's empty path would mean the current folder).
    known = backend.name == "openai-compatible" or bool(model_path and os.path.exists(model_path))
    identity = model_identity(backend, store) if known else None
    seeds = sorted({s.seed for s in strategies} | {s.decoding.seed for s in strategies if s.decoding.seed is not None})
    return {
        "kind": "evaluate", "model": backend.spec.id, "backend": backend.name,
        "dataset": {"name": dataset.name, "size": len(dataset), "hash": dataset.content_hash},
        "pool": {"name": pool.name, "size": len(pool), "hash": pool.content_hash},
        "limit": limit, "strategies": [s.to_dict() for s in strategies],
        "batch": batch,  # sequences decoded together at most; 1 = one at a time (the exact unbatched text)
        "context_window": getattr(backend, "context_window", None),  # a resume with another window is refused
        "versions": {"workbench": workbench.__version__, "python": platform.python_version()},
        "manifest": {
            "packages": {"workbench": workbench.__version__, **package_versions()},
            "python": platform.python_version(),
            "model_file": os.path.basename(model_path) if model_path else None,  # no home folder in a shared file
            "model_sha256": identity.removeprefix("sha256:") if identity and identity.startswith("sha256:") else None,
            "model_identity": identity,  # sha256:<hex>, server:<url>#<model>, or id:<id>@<path>
            "embedder": (embedder or DEFAULT_EMBEDDER) if indexed else None,
            "index_kind": index_kind(len(pool)) if indexed else None,
            "dataset_hash": dataset.content_hash, "pool_hash": pool.content_hash,
            "seeds": seeds,
        },
    }


#: Strategy fields that must match for a run to be resumed (Auto-CoT's demonstrations are filled in later).
_RESUME_FIELDS = ("spec", "selector", "k", "order", "decoding", "answer", "label_words", "calibrate", "score_norm",
                  "samples", "seed")


def check_resumable(run_id: int, meta: Mapping[str, Any], strategies: Sequence[Strategy], backend: Backend,
                    batch: int = 1) -> None:
    """Refuse to continue a stored run with another model, backend, context window, prompt, decoding or batching: one line
    naming what differs (resuming would silently mix two setups' results into one run)."""
    for what, stored, now in (("model", meta.get("model"), backend.spec.id),
                              ("backend", meta.get("backend"), backend.name)):
        if stored is not None and stored != now:
            raise ConfigError(f"Run {run_id} was made with {what} {stored!r}, not {now!r}; resume it with the same "
                              f"{what} or start a new run.")
    window = meta.get("context_window")  # runs before it was recorded: not compared
    if isinstance(window, int) and window != backend.context_window:
        raise ConfigError(f"Run {run_id} was made with a context window of {window:,} tokens, not "
                          f"{backend.context_window:,} (the prompts that fit differ); resume it with the same window "
                          "or start a new run.")
    stored_batch = meta.get("batch")
    if stored_batch is not None and stored_batch != batch and any(s.answer != "score" for s in strategies):
        def how(n: int) -> str:
            return "one sequence at a time" if n == 1 else f"up to {n} sequences decoded together"

        raise ConfigError(f"Run {run_id} was generated {how(stored_batch)}, not {how(batch)}; resume it with the "
                          "same batching (Reproducible / WORKBENCH_BATCH) or start a new run.")
    stored = {d.get("name"): d for d in meta.get("strategies", [])}
    for s in strategies:
        if s.name not in stored:
            raise ConfigError(f"Run {run_id} has no strategy {s.name!r}; resume it with its own strategies "
                              f"({', '.join(map(str, stored))}).")
        mine = s.to_dict()
        for key in _RESUME_FIELDS:
            if key in stored[s.name] and stored[s.name][key] != mine[key]:
                what = {"spec": "prompt", "decoding": "decoding settings"}.get(key, key.replace("_", " "))
                raise ConfigError(f"Run {run_id}: strategy {s.name!r} was run with other {what}; resume it with "
                                  "the same settings or start a new run.")


def evaluate(
    dataset: Pool,
    pool: Pool | None,
    strategies: Sequence[Strategy],
    backend: Backend,
    store: Store,
    run_id: int | None = None,
    limit: int | None = None,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    embedder: Embedder | None = None,
    index_cache_dir: str | None = None,
    index: PoolIndex | None = None,
    cache: bool = True,
    reproducible: bool = False,
) -> EvalRun:
    """Run every strategy on the first ``limit`` items of ``dataset``, recording each item at once.

    ``pool`` is where demonstrations come from (default: the dataset itself; selection
    never shows an item its own row). ``run_id`` resumes a stored run: items already
    recorded are skipped. ``should_stop()`` is checked between items; a stop, an error or
    an interrupt finishes the run as "cancelled"/"failed" with the items done so far.
    ``embedder`` (default: :func:`~workbench.retrieval.load_embedder`) is only loaded when
    a strategy needs the pool embedded; ``index`` is a ready index of ``pool`` (a page's cache).
    ``cache`` answers a generation or label scoring already made for the same model, prompt and
    decoding from the store's response cache (:mod:`workbench.cache`); the run summary's "cache"
    holds its hits and misses (None when off).

    Generation strategies run up to the backend's ``batch_size`` items in one batched call per stage
    (and self-consistency decodes its paths together); ``reproducible`` runs one sequence at a time for
    the exact unbatched text. An item whose sequence fails is not stored; the others are, and the run
    ends "failed" with one line naming how many could not run (resuming tries them again).
    """
    from workbench.cache import CachedBackend, ResponseCache
    from workbench.errors import WorkbenchError

    strategies = list(strategies)
    if not strategies:
        raise ConfigError("Choose at least one strategy to evaluate.")
    names = [s.name for s in strategies]
    if len(set(names)) != len(names):
        raise ConfigError("Strategy names must be unique within a run.")
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be at least 1, not {limit}.")
    if len(dataset) == 0:
        raise DataError("The dataset is empty.")
    pool = dataset if pool is None else pool
    items = list(dataset)[: limit or len(dataset)]
    batch = batch_of(backend, reproducible)

    if index is not None and index.pool.content_hash != pool.content_hash:
        raise DataError("The index given was built on another pool; index the demonstration pool itself.")
    index_holder: list[PoolIndex] = [] if index is None else [index]

    def index_fn() -> PoolIndex:
        if not index_holder:
            from workbench.retrieval.embedder import load_embedder
            from workbench.retrieval.index import build_index

            index_holder.append(build_index(pool, embedder or load_embedder(), cache_dir=index_cache_dir))
        return index_holder[0]

    if run_id is None:
        strategies = prepare_strategies(strategies, pool, backend, index_fn, should_stop=should_stop,
                                        one_at_a_time=batch == 1)
        run_id = store.create_run(run_meta(dataset, pool, strategies, backend, limit,
                                           embedder=getattr(embedder, "name", None), store=store, batch=batch))
    else:
        meta = store.get_run(run_id).meta
        if meta.get("dataset", {}).get("hash") != dataset.content_hash:
            raise DataError(f"Run {run_id} was made on another dataset; load the same file to resume it.")
        if meta.get("pool", {}).get("hash") not in (None, pool.content_hash):
            raise DataError(f"Run {run_id} took its demonstrations from another pool; choose the same pool to "
                            "resume it.")
        check_resumable(run_id, meta, strategies, backend, batch)
        store.reopen_run(run_id)
        stored = {d["name"]: d for d in meta.get("strategies", [])}
        # Reuse stored demonstrations (Auto-CoT's, written by the model) instead of building them again.
        strategies = [dataclasses.replace(s, demos=Strategy.from_dict(stored[s.name]).demos)
                      if s.name in stored and not s.demos else s for s in strategies]
        strategies = prepare_strategies(strategies, pool, backend, index_fn, should_stop=should_stop,
                                        one_at_a_time=batch == 1)

    index = index_fn() if needs_index(strategies) else None
    if index is not None:
        index.embed_many([ex.input for ex in items])  # one batched pass instead of one per item

    calls = ModelCalls(backend) if cache else None
    model = CachedBackend(calls, ResponseCache(store)) if calls is not None else backend
    done_sets = {s.name: store.completed(run_id, s.name) for s in strategies}
    total = len(items) * len(strategies)
    done = sum(len([i for i in done_sets[s.name] if i < len(items)]) for s in strategies)
    ran, t_start = 0, time.perf_counter()
    status = "finished"
    failures: list[tuple[str, ItemFailure]] = []
    try:
        for s in strategies:
            runner = _Runner(s, pool, model, index, batch, calls)
            todo = [(i, ex) for i, ex in enumerate(items) if i not in done_sets[s.name]]
            for at in range(0, len(todo), runner.group):
                if should_stop is not None and should_stop():
                    status = "cancelled"
                    break
                stored = 0
                for (i, _), result in zip(todo[at:at + runner.group], runner.run_many(todo[at:at + runner.group]),
                                          strict=True):
                    if isinstance(result, ItemFailure):
                        failures.append((s.name, result))
                        continue
                    store.add_result(run_id, s.name, i, result.to_dict())
                    stored += 1
                elapsed = time.perf_counter() - t_start
                for _ in range(stored):  # item by item once all are stored (a progress call may be a Stop)
                    ran, done = ran + 1, done + 1
                    if progress is not None:
                        progress(Progress(done, total, s.name, elapsed, elapsed / ran * (total - done), run_id))
            if status == "cancelled":
                break
        if failures and status == "finished":
            name, first = failures[0]
            raise ModelError(f"{plural(len(failures), 'item')} could not run (first: {name!r} item {first.id}: "
                             f"{first.error}); the others are stored: resume run {run_id} to try them again.")
    except WorkbenchError:
        status = "failed"
        raise
    except BaseException:  # KeyboardInterrupt, a Streamlit rerun: what is stored stays, resumable
        status = "cancelled"
        raise
    finally:
        records = [r for r in store.results(run_id) if r["strategy"] in names and r["item_index"] < len(items)]
        summaries = summarize(records)
        cached = model.stats.to_dict() if isinstance(model, CachedBackend) else None
        store.finish_run(run_id, {"strategies": [x.to_dict() for x in summaries], "items": len(items),
                                  "cache": cached}, status)
    return EvalRun(run_id, status, tuple(summaries), tuple(records))


def order_sensitivity(
    dataset: Pool,
    pool: Pool | None,
    strategy: Strategy,
    backend: Backend,
    store: Store,
    permutations: int = 8,
    seed: int = 0,
    demos: Sequence[Example] | None = None,
    **options: Any,
) -> tuple[EvalRun, dict[str, float]]:
    """The same K demonstrations under ``permutations`` seeded orders: accuracy mean ± std, min, max.

    ``demos`` default: K pool examples drawn with ``seed`` (label-balanced when the pool
    has labels, so every order shows every class), outside the evaluated items when the pool
    has enough others, so every item sees all K. ``options`` go to :func:`evaluate`. The
    spread is over the final accuracy (calibrated when the strategy calibrates; the raw
    accuracies are in the summaries).
    """
    pool = dataset if pool is None else pool
    k = strategy.k or DEFAULT_K
    if demos is None:
        # Draw outside the evaluated items when the pool has room, so every item sees all K demonstrations.
        limit = options.get("limit")
        evaluated = {_key(ex.input) for ex in list(dataset)[: limit or len(dataset)]}
        others = tuple(ex for ex in pool if _key(ex.input) not in evaluated)
        demos = draw_demos(Pool(pool.name, others) if len(others) >= k else pool, k, seed)
    demos = tuple(demos)
    if not demos:
        raise DataError("Order sensitivity needs demonstrations; the pool is empty.")
    variants = [
        dataclasses.replace(strategy, name=f"{strategy.name} order {j + 1}", selector="fixed", k=len(demos),
                            order="as_selected", demos=tuple(demos[i] for i in perm))
        for j, perm in enumerate(seeded_permutations(len(demos), permutations, seed))
    ]
    run = evaluate(dataset, pool, variants, backend, store, **options)
    return run, spread([s.accuracy for s in run.summaries])


def draw_demos(pool: Pool, k: int, seed: int = 0) -> tuple[Example, ...]:
    """K pool examples drawn with a local RNG; round-robin over labels when the pool has them."""
    rng = np.random.default_rng(seed)
    labels = pool.labels()
    if not labels:
        return tuple(pool[int(i)] for i in rng.choice(len(pool), size=min(k, len(pool)), replace=False))
    by_label = {lab: [int(i) for i in rng.permutation([j for j, ex in enumerate(pool) if ex.label == lab])]
                for lab in labels}
    chosen: list[int] = []
    while len(chosen) < k and any(by_label.values()):
        for lab in labels:
            if by_label[lab] and len(chosen) < k:
                chosen.append(by_label[lab].pop())
    return tuple(pool[i] for i in chosen)
