"""Choosing the demonstrations of one query: a registered selector, then a registered order. The one call the
Demonstrations page, prompt sets and the evaluator use."""

from __future__ import annotations

from collections.abc import Sequence

from workbench.data import Example
from workbench.retrieval.index import PoolIndex
from workbench.retrieval.orders import order
from workbench.retrieval.selectors.base import Selection
from workbench.retrieval.selectors.registry import make_selector


def choose_demos(
    index: PoolIndex,
    query: str,
    k: int,
    selector: str = "knn",
    how: str = "similar_last",
    seed: int = 0,
    lambda_: float = 0.5,
    indices: Sequence[int] = (),
) -> tuple[list[Example], Selection]:
    """Select ``k`` demonstrations for ``query`` and order them: the one call pages and the evaluator use."""
    selection = make_selector(selector, index, seed=seed, lambda_=lambda_, indices=indices).select(query, k)
    selection = order(selection, how, seed=seed, labels=index.labels)
    return [index.pool[i] for i in selection.indices], selection
