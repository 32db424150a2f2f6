"""Diverse demonstrations: one from each of ``k`` k-means clusters of the pool, the member nearest the query.

    >>> vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]], dtype=np.float32)
    >>> cluster_diverse(np.array([1.0, 0.0]), vectors, np.array([0, 0, 1]))[0].tolist()
    [0, 2]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workbench.retrieval.index import PoolIndex
from workbench.retrieval.selectors.base import Selection, SelectorKind, allowed_mask, check_k, to_selection

#: Lloyd iterations for k-means (faiss default 25).
KMEANS_NITER = 25


def kmeans_assign(vectors: np.ndarray, n_clusters: int, seed: int = 0, niter: int = KMEANS_NITER) -> np.ndarray:
    """Cluster id of each row from seeded k-means (``faiss.Kmeans``); deterministic for a seed."""
    import faiss

    n_clusters = max(1, min(n_clusters, len(vectors)))
    if n_clusters == 1:
        return np.zeros(len(vectors), dtype=np.int64)
    km = faiss.Kmeans(vectors.shape[1], n_clusters, niter=niter, seed=seed, verbose=False, min_points_per_centroid=1)
    km.train(np.ascontiguousarray(vectors, dtype=np.float32))
    _, assign = km.index.search(np.ascontiguousarray(vectors, dtype=np.float32), 1)
    return assign[:, 0].astype(np.int64)


def cluster_diverse(
    query_vec: np.ndarray, vectors: np.ndarray, assignments: np.ndarray, exclude: Sequence[int] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """One row per cluster: the member nearest the query; clusters ordered by that similarity."""
    sims = vectors @ np.asarray(query_vec, dtype=np.float32)
    ranked = np.argsort(-sims, kind="stable")
    ranked = ranked[allowed_mask(len(vectors), exclude)[ranked]]
    # first occurrence of each cluster in similarity order; sorting those positions keeps that order
    _, first = np.unique(np.asarray(assignments)[ranked], return_index=True)
    idx = ranked[np.sort(first)].astype(np.int64)
    return idx, sims[idx].astype(np.float32)


class ClusterDiverseSelector:
    """One demonstration from each of ``k`` k-means clusters: the member nearest the query."""

    def __init__(self, index: PoolIndex, seed: int = 0):
        self.index = index
        self.seed = seed
        self._assignments: dict[int, np.ndarray] = {}  # k -> cluster of each pool example

    def assignments(self, k: int) -> np.ndarray:
        if k not in self._assignments:
            self._assignments[k] = kmeans_assign(self.index.vectors, k, self.seed)
        return self._assignments[k]

    def select(self, query: str, k: int) -> Selection:
        check_k(k)
        if k == 0:
            return Selection((), (), "no demonstrations asked for")
        idx, sims = cluster_diverse(self.index.embed(query), self.index.vectors, self.assignments(k),
                                    self.index.positions_of(query))
        return to_selection(idx, sims, f"nearest member of each of {k} k-means clusters (seed {self.seed})")


KIND = SelectorKind("cluster", "diverse", "one from each k-means cluster (diverse)", needs_index=True,
                    make=lambda index, s: ClusterDiverseSelector(index, s.seed))
