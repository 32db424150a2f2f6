"""The evaluation runner: strategies x items, each item's record stored as soon as it is done.

An interrupted run resumes where it stopped (pass its ``run_id``). Each strategy's items are answered by its
answer mode (:mod:`workbench.evaluate.answer_modes`); what a run is and whether it may be resumed are
:mod:`workbench.evaluate.manifest`'s; :mod:`workbench.evaluate.order_sensitivity` evaluates one set of K
demonstrations under seeded permutations.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workbench.data import Example, Pool
from workbench.errors import ConfigError, DataError, ModelError
from workbench.evaluate.answer_modes import ItemContext, mode_for
from workbench.evaluate.manifest import check_resumable, run_meta
from workbench.evaluate.metrics import StrategySummary, summarize
from workbench.evaluate.records import ItemFailure
from workbench.evaluate.strategies import Strategy, needs_index
from workbench.judging.graded import check_providers
from workbench.judging.tools import DEFAULT_JUDGE, JudgeTools, load_judge
from workbench.judging.verdicts import Judging
from workbench.words import plural

if TYPE_CHECKING:
    from workbench.backends import Backend
    from workbench.retrieval.embedder import Embedder
    from workbench.retrieval.index import PoolIndex
    from workbench.store import Store


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


def batch_of(backend: Backend, reproducible: bool) -> int:
    """Sequences an evaluation decodes together at most: the backend's ``batch_size`` (llama.cpp and
    transformers: ``WORKBENCH_BATCH``), or 1 when ``reproducible`` asks for the exact one-at-a-time text."""
    return 1 if reproducible else max(1, int(getattr(backend, "batch_size", 1)))


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
        if s.demos_to_build:
            from workbench.autocot.config import AutoCoTConfig, task_for
            from workbench.autocot.reasoner import zero_shot_cot_reasoner
            from workbench.autocot.selection import build_demos

            index = index_fn()
            reason = zero_shot_cot_reasoner(backend, s.spec.answer_format, labels=s.spec.labels,
                                            one_at_a_time=one_at_a_time)
            # The reference's per-task preset (clusters, steps); K from the strategy's name.
            cfg = AutoCoTConfig.for_task(task_for(pool.name), k=s.k, seed=s.seed, fallback=s.fallback)
            result = build_demos(list(pool), index.vectors, reason, cfg, progress=progress, should_stop=should_stop)
            s = dataclasses.replace(s, demos=tuple(result.examples()))
        out.append(s)
    return out


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
    judge: Backend | Callable[[], Backend] | None = None,
) -> EvalRun:
    """Run every strategy on the first ``limit`` items of ``dataset``, recording each item at once.

    ``pool`` is where demonstrations come from (default: the dataset itself; selection
    never shows an item its own row). ``run_id`` resumes a stored run: items already
    recorded are skipped. ``should_stop()`` is checked between items; a stop, an error or
    an interrupt finishes the run as "cancelled"/"failed" with the items done so far.
    ``embedder`` (default: :func:`~workbench.retrieval.embedder.load_embedder`) is only loaded when
    a strategy needs the pool embedded; ``index`` is a ready index of ``pool`` (a page's cache).
    ``cache`` answers a generation or label scoring already made for the same model, prompt and
    decoding from the store's response cache (:mod:`workbench.cache`); the run summary's "cache"
    holds its hits and misses (None when off).

    Generation strategies run up to the backend's ``batch_size`` items in one batched call per stage
    (and self-consistency decodes its paths together); ``reproducible`` runs one sequence at a time for
    the exact unbatched text. An item whose sequence fails is not stored; the others are, and the run
    ends "failed" with one line naming how many could not run (resuming tries them again).

    A strategy's ``checks`` (and each item's own) judge its items instead of the format's comparison
    (:mod:`workbench.judging`); all are built before any model call. ``judge`` is the model that
    model-graded checks ask (or a factory of it); its calls go through the response cache too. A strategy
    with ``repeat`` N runs each item N times, with decoding seeds ``seed .. seed + N - 1``.
    """
    from workbench.cache import CachedBackend, ModelCalls, ResponseCache
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
    tools = JudgeTools(judge=_cached_judge(judge or (lambda: load_judge(DEFAULT_JUDGE)), store, cache),
                       embedder=embedder, wrap=_cache_wrap(store) if cache else None)
    judgings = {s.name: Judging(s.checks, items, s.threshold, tools) for s in strategies}
    check_providers(c for j in judgings.values() for c in j.all_checks)  # one line before any model call

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
    total = len(items) * sum(s.repeat for s in strategies)
    done = sum(len([i for i in done_sets[s.name] if i < len(items) * s.repeat]) for s in strategies)
    ran, t_start = 0, time.perf_counter()
    status = "finished"
    failures: list[tuple[str, ItemFailure]] = []

    def on_stored(name: str, stored: int) -> None:
        nonlocal ran, done
        elapsed = time.perf_counter() - t_start
        for _ in range(stored):  # item by item once all are stored (a progress call may be a Stop)
            ran, done = ran + 1, done + 1
            if progress is not None:
                progress(Progress(done, total, name, elapsed, elapsed / ran * (total - done), run_id))
    try:
        for s in strategies:
            for r in range(s.repeat):
                status = _run_repeat(s, r, items, model, index, batch, calls, judgings[s.name], store, run_id,
                                     done_sets[s.name], failures, should_stop, on_stored)
                if status == "cancelled":
                    break
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
        repeats = {s.name: s.repeat for s in strategies}
        records = [r for r in store.results(run_id)
                   if r["strategy"] in repeats and r["item_index"] < len(items) * repeats[r["strategy"]]]
        summaries = summarize(records)
        cached = model.stats.to_dict() if isinstance(model, CachedBackend) else None
        store.finish_run(run_id, {"strategies": [x.to_dict() for x in summaries], "items": len(items),
                                  "cache": cached}, status)
        tools.close()
    return EvalRun(run_id, status, tuple(summaries), tuple(records))


def _run_repeat(s: Strategy, r: int, items: Sequence[Example], model, index, batch: int, calls, judging: Judging,
                store: Store, run_id: int, done: set[int], failures: list, should_stop, on_stored) -> str:
    """Repeat ``r`` of strategy ``s`` over the items not yet stored: "finished" or "cancelled".

    Repeat ``r`` of item ``i`` is stored at index ``i * repeat + r`` and decodes with seed ``seed + r``."""
    if s.repeat > 1:
        s = dataclasses.replace(s, decoding=s.decoding.replace(seed=(s.decoding.seed or 0) + r))
    mode, ctx = mode_for(s), ItemContext(s, model, index, batch, calls)
    todo = [(i, ex) for i, ex in enumerate(items) if i * s.repeat + r not in done]
    group = mode.group(ctx)
    labels = s.spec.labels
    for at in range(0, len(todo), group):
        if should_stop is not None and should_stop():
            return "cancelled"
        stored = 0
        chunk = todo[at:at + group]
        for (i, ex), result in zip(chunk, mode.run(ctx, chunk), strict=True):
            if isinstance(result, ItemFailure):
                failures.append((s.name, result))
                continue
            result = judging.judge(result, ex, labels)
            if s.repeat > 1:
                result = dataclasses.replace(result, repeat=r)
            store.add_result(run_id, s.name, i * s.repeat + r, result)
            stored += 1
        on_stored(s.name, stored)
    return "finished"


def _cache_wrap(store: Store):
    """What puts a judge model behind the run's response cache."""
    from workbench.cache import CachedBackend, ResponseCache

    return lambda backend: CachedBackend(backend, ResponseCache(store))


def _cached_judge(judge, store: Store, cache: bool):
    """The judge model behind the response cache (a factory stays lazy)."""
    if not cache:
        return judge
    wrap = _cache_wrap(store)
    if callable(judge) and not hasattr(judge, "generate"):
        return lambda: wrap(judge())
    return wrap(judge)
