"""Every label shown: the nearest demonstrations of each label in turn (round-robin).

    >>> vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]], dtype=np.float32)
    >>> label_balanced(np.array([1.0, 0.0]), vectors, ["a", "a", "b"], 2)[0].tolist()
    [0, 2]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workbench.errors import ConfigError
from workbench.retrieval.index import PoolIndex
from workbench.retrieval.selectors.base import Selection, SelectorKind, allowed_mask, check_k, to_selection


def label_balanced(
    query_vec: np.ndarray, vectors: np.ndarray, labels: Sequence[str | None], k: int, exclude: Sequence[int] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """The nearest rows of each label, taken round-robin until ``k`` are chosen.

    Round ``r`` takes the ``r``-th nearest of every label, labels in order of their
    nearest member. Rows without a label are never chosen.
    """
    sims = vectors @ np.asarray(query_vec, dtype=np.float32)
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    allowed = allowed_mask(len(vectors), exclude)
    label_arr = np.asarray(labels, dtype=object)
    per_label: list[np.ndarray] = []
    for label in dict.fromkeys(x for x in labels if x is not None):
        members = np.flatnonzero((label_arr == label) & allowed)
        if len(members):
            per_label.append(members[np.argsort(-sims[members], kind="stable")[:k]])
    per_label.sort(key=lambda m: (-sims[m[0]], m[0]))  # labels in order of their nearest member
    chosen: list[int] = []
    for rank in range(max((len(m) for m in per_label), default=0)):
        chosen.extend(int(m[rank]) for m in per_label if rank < len(m))
    idx = np.array(chosen[:k], dtype=np.int64)
    return idx, sims[idx].astype(np.float32)


class LabelBalancedSelector:
    """The nearest examples of every label in turn, so each class is shown."""

    def __init__(self, index: PoolIndex):
        if not index.pool.labels():
            raise ConfigError("label-balanced selection needs a pool with labels; map a label column")
        self.index = index

    def select(self, query: str, k: int) -> Selection:
        check_k(k)
        idx, sims = label_balanced(self.index.embed(query), self.index.vectors, self.index.labels, k,
                                   self.index.positions_of(query))
        return to_selection(idx, sims, f"nearest of each of {len(self.index.pool.labels())} labels, round-robin")


KIND = SelectorKind("label_balanced", "balanced", "nearest examples of every label in turn", needs_index=True,
                    make=lambda index, s: LabelBalancedSelector(index), default_order="as_selected")
