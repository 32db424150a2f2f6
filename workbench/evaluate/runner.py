"""The evaluation runner: strategies x items, each item's record stored as soon as it is done.

An interrupted run resumes where it stopped (pass its ``run_id``). Each strategy's items are answered by its
answer mode (:mod:`workbench.evaluate.answer_modes`); what a run is and whether it may be resumed are
:mod:`workbench.evaluate.manifest`'s; :mod:`workbench.evaluate.order_sensitivity` evaluates one set of K
demonstrations under seeded permutations.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workbench.autocot.config import preset_k
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
    backend: Backend | Callable[[Strategy], Backend],
    embedder_fn: Callable[[], Embedder],
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    one_at_a_time: bool = False,
    index_cache_dir: str | None = None,
) -> list[Strategy]:
    """Fill in demonstrations that must be built before a run: Auto-CoT writes its rationales here
    (the clusters' candidates in batches, or ``one_at_a_time``), with the strategy's own model (``backend``
    may be a function of the strategy). It clusters the pool as the reference embeds it ("Q: …\nA:" with the
    choices; cached beside, not in, the bare-input index retrieval uses)."""
    out = []
    for s in strategies:
        if s.demos_to_build:
            from workbench.autocot.config import AutoCoTConfig, task_for
            from workbench.autocot.embedding import clustering_vectors
            from workbench.autocot.reasoner import zero_shot_cot_reasoner
            from workbench.autocot.selection import build_demos

            vectors = clustering_vectors(list(pool), embedder_fn(), index_cache_dir, name=pool.name)
            model = backend if hasattr(backend, "generate") else backend(s)  # type: ignore[operator]
            reason = zero_shot_cot_reasoner(model, s.spec.answer_format, labels=s.spec.labels,
                                            one_at_a_time=one_at_a_time)
            # The reference's per-task preset (clusters, steps); K from the strategy's name (evaluate gives a
            # name without one the preset's).
            cfg = AutoCoTConfig.for_task(task_for(pool.name), k=s.k, seed=s.seed, fallback=s.fallback)
            result = build_demos(list(pool), vectors, reason, cfg, progress=progress, should_stop=should_stop)
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
    models: Mapping[str, Backend | Callable[[], Backend]] | None = None,
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

    A strategy with its own ``model`` runs on ``models[strategy.model]`` (a backend, or a factory called once,
    when its first strategy starts) instead of ``backend``: prompts x models in one run, paired item by item.
    """
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
    run_models = RunModels(backend, models or {}, store, cache, reproducible)
    run_models.check(strategies)  # a strategy naming a model it was not given: one line, before any call
    tools = JudgeTools(judge=_cached_judge(judge or (lambda: load_judge(DEFAULT_JUDGE)), store, cache),
                       embedder=embedder, wrap=_cache_wrap(store) if cache else None)
    judgings = {s.name: Judging(s.checks, items, s.threshold, tools) for s in strategies}
    check_providers(c for j in judgings.values() for c in j.all_checks)  # one line before any model call

    if index is not None and index.pool.content_hash != pool.content_hash:
        raise DataError("The index given was built on another pool; index the demonstration pool itself.")
    index_holder: list[PoolIndex] = [] if index is None else [index]
    embedders: list[Embedder] = [index.embedder] if index is not None else [] if embedder is None else [embedder]

    def embedder_fn() -> Embedder:
        if not embedders:
            from workbench.retrieval.embedder import load_embedder

            embedders.append(load_embedder())
        return embedders[0]

    def index_fn() -> PoolIndex:
        if not index_holder:
            from workbench.retrieval.index import build_index

            index_holder.append(build_index(pool, embedder_fn(), cache_dir=index_cache_dir))
        return index_holder[0]

    # "autocot" without a number takes the reference's K for this pool before the run is stored or compared.
    strategies = [dataclasses.replace(s, k=preset_k(pool.name)) if s.demos_to_build and not s.k else s
                  for s in strategies]
    if run_id is None:
        strategies = prepare_strategies(strategies, pool, run_models.backend, embedder_fn, should_stop=should_stop,
                                        one_at_a_time=batch == 1, index_cache_dir=index_cache_dir)
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
        strategies = prepare_strategies(strategies, pool, run_models.backend, embedder_fn, should_stop=should_stop,
                                        one_at_a_time=batch == 1, index_cache_dir=index_cache_dir)

    index = index_fn() if needs_index(strategies) else None
    if index is not None:
        index.embed_many([ex.input for ex in items])  # one batched pass instead of one per item

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
                status = _run_repeat(s, r, items, run_models.wrapped(s), index, judgings[s.name], store, run_id,
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
        cached = run_models.cache_stats()
        store.finish_run(run_id, {"strategies": [x.to_dict() for x in summaries], "items": len(items),
                                  "cache": cached}, status)
        tools.close()
    return EvalRun(run_id, status, tuple(summaries), tuple(records))


def _run_repeat(s: Strategy, r: int, items: Sequence[Example], wrapped: tuple, index, judging: Judging,
                store: Store, run_id: int, done: set[int], failures: list, should_stop, on_stored) -> str:
    """Repeat ``r`` of strategy ``s`` over the items not yet stored: "finished" or "cancelled".

    Repeat ``r`` of item ``i`` is stored at index ``i * repeat + r`` and decodes with seed ``seed + r``."""
    if s.repeat > 1:
        s = dataclasses.replace(s, decoding=s.decoding.replace(seed=(s.decoding.seed or 0) + r))
    model, calls, batch = wrapped
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


class RunModels:
    """The models of one run: the run's own backend, and each strategy's ``model`` (loaded once, when its first
    strategy starts), each behind the run's response cache and call counter."""

    def __init__(self, backend: Backend, models: Mapping[str, Backend | Callable[[], Backend]], store: Store,
                 cache: bool, reproducible: bool) -> None:
        self._given, self._store, self._cache, self._reproducible = dict(models), store, cache, reproducible
        self._default = backend
        self._loaded: dict[str | None, Backend] = {None: backend}
        self._wrapped: dict[str | None, tuple] = {}

    def check(self, strategies: Sequence[Strategy]) -> None:
        """One line for a strategy whose model the run was not given."""
        for s in strategies:
            if s.model is not None and s.model not in self._given:
                raise ConfigError(f"Strategy {s.name!r} runs on model {s.model!r}, which this run was not given "
                                  f"(given: {', '.join(map(repr, self._given)) or 'none'}).")

    def backend(self, s: Strategy) -> Backend:
        """The backend that runs ``s`` (loaded on first use)."""
        if s.model not in self._loaded:
            given = self._given[s.model]
            self._loaded[s.model] = given() if callable(given) and not hasattr(given, "generate") else given
        return self._loaded[s.model]

    def wrapped(self, s: Strategy) -> tuple:
        """(model behind the response cache, its call counter or None, the batch it decodes) for ``s``."""
        from workbench.cache import CachedBackend, ModelCalls, ResponseCache

        if s.model not in self._wrapped:
            backend = self.backend(s)
            calls = ModelCalls(backend) if self._cache else None
            model = CachedBackend(calls, ResponseCache(self._store)) if calls is not None else backend
            self._wrapped[s.model] = (model, calls, batch_of(backend, self._reproducible))
        return self._wrapped[s.model]

    def cache_stats(self) -> dict[str, int] | None:
        """The response cache's hits and misses over every model of the run (None when the cache is off)."""
        from workbench.cache import CachedBackend

        stats = [m.stats.to_dict() for m, _, _ in self._wrapped.values() if isinstance(m, CachedBackend)]
        if not self._cache:
            return None
        return {k: sum(st.get(k, 0) for st in stats) for k in ("hits", "misses")}


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
