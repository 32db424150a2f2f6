"""Choosing the demonstrations of one query: a registered selector, then a registered order. The one call the
Demonstrations page, prompt sets and the evaluator use. A model-chosen order (``global-entropy``) needs
``model_orders``: the caller's :class:`workbench.retrieval.entropy.ModelOrders` for its prompt and model, which
probes each set of demonstrations once."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from workbench.data import Example
from workbench.retrieval.index import PoolIndex
from workbench.retrieval.orders import Order, order
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
    model_orders: Callable[[Order, Sequence[Example]], tuple[list[int], str]] | None = None,
) -> tuple[list[Example], Selection]:
    """Select ``k`` demonstrations for ``query`` and order them: the one call pages and the evaluator use."""
    selection = make_selector(selector, index, seed=seed, lambda_=lambda_, indices=indices).select(query, k)
    choose = None if model_orders is None else (
        lambda kind, sel: model_orders(kind, [index.pool[i] for i in sel.indices]))
    selection = order(selection, how, seed=seed, labels=index.labels, choose=choose)
    return [index.pool[i] for i in selection.indices], selection
