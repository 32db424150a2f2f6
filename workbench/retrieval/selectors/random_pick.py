"""Random demonstrations, seeded: the baseline every other selector is compared with.

    >>> random_pick(5, 2, np.random.default_rng(0), exclude=[0]).tolist()
    [3, 4]
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from workbench.retrieval.index import PoolIndex
from workbench.retrieval.selectors.base import Selection, SelectorKind, allowed_mask, check_k, to_selection


def random_pick(n: int, k: int, rng: np.random.Generator, exclude: Sequence[int] = ()) -> np.ndarray:
    """``k`` distinct positions out of ``range(n)`` minus ``exclude``, drawn with ``rng``."""
    candidates = np.flatnonzero(allowed_mask(n, exclude))
    return rng.choice(candidates, size=min(k, len(candidates)), replace=False).astype(np.int64)


class RandomSelector:
    """Uniformly random demonstrations; the same query always gets the same draw for a seed."""

    def __init__(self, index: PoolIndex, seed: int = 0):
        self.index = index
        self.seed = seed

    def select(self, query: str, k: int) -> Selection:
        check_k(k)
        # Seeded by (seed, query): reproducible, independent of call order, different per query.
        rng = np.random.default_rng([self.seed, int(hashlib.sha256(query.encode()).hexdigest()[:15], 16)])
        idx = random_pick(len(self.index), k, rng, self.index.positions_of(query))
        sims = self.index.vectors[idx] @ self.index.embed(query) if len(idx) else np.zeros(0)
        return to_selection(idx, sims, f"random (seed {self.seed}); scores are cosine similarity to the query")


KIND = SelectorKind("random", "random", "random demonstrations (seeded)", needs_index=True,
                    make=lambda index, s: RandomSelector(index, s.seed), default_order="as_selected")
