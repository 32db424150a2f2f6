"""Clustering for diversity: k-means++ seeding and Lloyd's iterations (as scikit-learn when the reference was
written), and each cluster's members ordered by distance to its centre."""

from __future__ import annotations

import numpy as np

#: k-means restarts, each from its own k-means++ seeding; the best (lowest inertia) is kept (scikit-learn's
#: ``n_init`` when the reference was written).
KMEANS_N_INIT = 10
#: Lloyd iterations at most per restart (scikit-learn's ``max_iter``).
KMEANS_MAX_ITER = 300


def _sq_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances, rows of ``a`` x rows of ``b``."""
    return np.maximum((a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None, :], 0.0)


def _kmeans_pp(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007, as scikit-learn: 2 + ln k trials per centre)."""
    trials = 2 + int(np.log(k))
    centers = [x[rng.integers(len(x))]]
    closest = _sq_dist(centers[0][None], x)[0]
    for _ in range(1, k):
        pot = closest.sum()
        if pot > 0:
            cand = np.minimum(np.searchsorted(np.cumsum(closest), rng.random(trials) * pot), len(x) - 1)
        else:
            cand = rng.integers(len(x), size=trials)
        new = np.minimum(closest, _sq_dist(x[cand], x))
        best = int(np.argmin(new.sum(1)))
        centers.append(x[cand[best]])
        closest = new[best]
    return np.array(centers)


def kmeans(vectors: np.ndarray, k: int, seed: int = 0, n_init: int = KMEANS_N_INIT,
           max_iter: int = KMEANS_MAX_ITER) -> np.ndarray:
    """Cluster id of each row: k-means++ seeding and Lloyd's iterations, best of ``n_init``; deterministic per seed.

    An emptied cluster is moved to the point farthest from its centre, as scikit-learn does.
    """
    x = np.asarray(vectors, dtype=np.float64)
    k = max(1, min(k, len(x)))
    rng = np.random.default_rng(seed)
    best, best_inertia = np.zeros(len(x), dtype=np.int64), np.inf
    for _ in range(n_init if k > 1 else 1):
        centers = _kmeans_pp(x, k, rng)
        labels = None
        for _ in range(max_iter):
            d = _sq_dist(x, centers)
            new = d.argmin(1)
            if labels is not None and np.array_equal(new, labels):
                break
            labels = new
            for c in range(k):
                members = labels == c
                if members.any():
                    centers[c] = x[members].mean(0)
                else:
                    far = int(d[np.arange(len(x)), labels].argmax())
                    centers[c], labels[far] = x[far], c
        inertia = float(_sq_dist(x, centers)[np.arange(len(x)), labels].sum())
        if inertia < best_inertia - 1e-9:
            best, best_inertia = labels.astype(np.int64), inertia
    return best


def cluster_order(vectors: np.ndarray, assignments: np.ndarray) -> list[list[tuple[int, float]]]:
    """Per cluster, its members as (row, distance to centroid), nearest first.

    >>> v = np.array([[1, 0], [0.9, 0.1], [0.6, 0.4], [0, 1]], dtype=np.float32)
    >>> [row for row, _ in cluster_order(v, np.array([0, 0, 0, 1]))[0]]
    [1, 0, 2]
    """
    out = []
    for c in range(int(assignments.max()) + 1 if len(assignments) else 0):
        members = np.flatnonzero(assignments == c)
        if len(members) == 0:
            out.append([])
            continue
        centroid = vectors[members].mean(axis=0)
        dist = np.linalg.norm(vectors[members] - centroid, axis=1)
        order = np.argsort(dist, kind="stable")
        out.append([(int(members[i]), float(dist[i])) for i in order])
    return out
