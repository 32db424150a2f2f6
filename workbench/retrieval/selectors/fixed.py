"""Hand-picked demonstrations: the same ones for every query (minus the query itself).

On the Demonstrations page they are pool positions over an index (:class:`FixedSelector`, which scores them by
similarity to the query); in an evaluation the strategy carries them (Manual-CoT's exemplars, a built
variant's demonstrations), so choosing them needs no index.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workbench.errors import ConfigError
from workbench.retrieval.index import PoolIndex
from workbench.retrieval.selectors.base import Selection, SelectorKind, check_k, to_selection


class FixedSelector:
    """Hand-picked demonstrations, the first ``k`` of them (minus the query itself)."""

    def __init__(self, index: PoolIndex, indices: Sequence[int] = ()):
        bad = [i for i in indices if not 0 <= i < len(index)]
        if bad:
            raise ConfigError(f"fixed demonstrations {bad} are not in the pool (0..{len(index) - 1})")
        self.index = index
        self.indices = tuple(dict.fromkeys(int(i) for i in indices))

    def select(self, query: str, k: int) -> Selection:
        check_k(k)
        skip = set(self.index.positions_of(query))
        idx = np.array([i for i in self.indices if i not in skip][:k], dtype=np.int64)
        sims = self.index.vectors[idx] @ self.index.embed(query) if len(idx) else np.zeros(0)
        return to_selection(idx, sims, "hand-picked; scores are cosine similarity to the query")


KIND = SelectorKind("fixed", "hand-picked", "hand-picked demonstrations", needs_index=False,
                    make=lambda index, s: FixedSelector(index, s.indices), carries_demos=True,
                    default_order="as_selected")
