"""The nearest demonstrations by embedding similarity (TopK; Liu et al. 2021, "What makes good in-context
examples"): FAISS over the pool index, and :func:`knn`, the same by brute force.

    >>> idx, sims = knn(np.array([1.0, 0.0]), np.array([[0.6, 0.8], [1.0, 0.0], [0.0, 1.0]]), 2)
    >>> idx.tolist(), [round(float(s), 2) for s in sims]
    ([1, 0], [1.0, 0.6])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workbench.retrieval.index import PoolIndex
from workbench.retrieval.selectors.base import Selection, SelectorKind, allowed_mask, check_k, to_selection


def knn(query_vec: np.ndarray, vectors: np.ndarray, k: int, exclude: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force top-``k`` rows by inner product (cosine for unit vectors), best first.

    Ties keep pool order. Returns ``(indices, scores)``.
    """
    sims = vectors @ np.asarray(query_vec, dtype=np.float32)
    allowed = allowed_mask(len(vectors), exclude)
    order_ = np.argsort(-sims, kind="stable")
    order_ = order_[allowed[order_]][: max(k, 0)]
    return order_.astype(np.int64), sims[order_].astype(np.float32)


class KNNSelector:
    """The ``k`` nearest examples by cosine similarity (TopK; Liu et al. 2021)."""

    def __init__(self, index: PoolIndex):
        self.index = index

    def select(self, query: str, k: int) -> Selection:
        check_k(k)
        idx, sims = self.index.search(self.index.embed(query), k, self.index.positions_of(query))
        return to_selection(idx, sims, f"{k} nearest by cosine similarity ({self.index.kind} FAISS index)")


KIND = SelectorKind("knn", "nearest", "k nearest by embedding similarity (TopK)", needs_index=True,
                    make=lambda index, s: KNNSelector(index))
