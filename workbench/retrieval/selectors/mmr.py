"""Relevant but not redundant: maximal marginal relevance (Carbonell & Goldstein 1998).

    >>> vectors = np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0]])
    >>> mmr(np.array([1.0, 0.0]), vectors, 2, lambda_=1.0)[0].tolist(), mmr(np.array([1.0, 0.0]), vectors, 2, 0.3)[0].tolist()
    ([0, 1], [0, 2])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workbench.errors import ConfigError
from workbench.retrieval.index import PoolIndex
from workbench.retrieval.selectors.base import Selection, SelectorKind, allowed_mask, check_k, to_selection


def mmr(
    query_vec: np.ndarray, vectors: np.ndarray, k: int, lambda_: float = 0.5, exclude: Sequence[int] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """Maximal marginal relevance (Carbonell & Goldstein 1998), greedy.

    Each step takes the row maximising ``lambda_ * sim(q, d) - (1 - lambda_) * max sim(d, chosen)``;
    ``lambda_=1`` is plain kNN, ``0`` is maximal diversity. Returns ``(indices, query similarities)``.
    """
    q = np.asarray(query_vec, dtype=np.float32)
    rel = vectors @ q
    allowed = allowed_mask(len(vectors), exclude)
    chosen: list[int] = []
    redundancy = np.full(len(vectors), -np.inf, dtype=np.float32)
    for _ in range(min(k, int(allowed.sum()))):
        penalty = np.where(np.isinf(redundancy), 0.0, redundancy)
        gain = lambda_ * rel - (1.0 - lambda_) * penalty
        gain[~allowed] = -np.inf
        ties = np.flatnonzero(gain == gain.max())
        best = int(ties[np.argmax(rel[ties])])  # equal gain: the more relevant (matters for lambda_=0)
        chosen.append(best)
        allowed[best] = False
        redundancy = np.maximum(redundancy, vectors @ vectors[best])
    idx = np.array(chosen, dtype=np.int64)
    return idx, rel[idx].astype(np.float32)


class MMRSelector:
    """Relevant but not redundant: maximal marginal relevance with trade-off ``lambda_``."""

    def __init__(self, index: PoolIndex, lambda_: float = 0.5):
        if not 0.0 <= lambda_ <= 1.0:
            raise ConfigError(f"MMR lambda must be between 0 and 1, not {lambda_}")
        self.index = index
        self.lambda_ = lambda_

    def select(self, query: str, k: int) -> Selection:
        check_k(k)
        q = self.index.embed(query)
        idx, sims = mmr(q, self.index.vectors, k, self.lambda_, self.index.positions_of(query))
        return to_selection(idx, sims, f"maximal marginal relevance, lambda {self.lambda_} (1 = nearest, 0 = diverse)")


KIND = SelectorKind("mmr", "MMR", "maximal marginal relevance: similar but not redundant", needs_index=True,
                    make=lambda index, s: MMRSelector(index, s.lambda_))
