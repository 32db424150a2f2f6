"""Order sensitivity (Lu et al. 2022): one set of K demonstrations evaluated under P seeded permutations, and
where one order (the entropy orders' choice, :mod:`workbench.retrieval.entropy`) falls in that spread.

    >>> seeded_permutations(3, 2, seed=0) == seeded_permutations(3, 2, seed=0)
    True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.data import Example, Pool
from workbench.errors import DataError
from workbench.evaluate.metrics import spread
from workbench.evaluate.runner import EvalRun, evaluate
from workbench.evaluate.strategies import DEFAULT_K, Strategy
from workbench.retrieval.orders import seeded_permutations

if TYPE_CHECKING:
    from workbench.backends import Backend
    from workbench.store import Store


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


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


def rank_among(accuracies: Sequence[float], accuracy: float) -> int:
    """Where ``accuracy`` falls among the orders' ``accuracies``: 1 + how many did better (1 = the best; equal
    accuracies share a rank).

    >>> rank_among([0.5, 0.7, 0.6, 0.7], 0.6), rank_among([0.5, 0.7, 0.6, 0.7], 0.7)
    (3, 1)
    """
    return 1 + sum(a > accuracy for a in accuracies)
