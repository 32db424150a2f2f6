"""The best lexical matches by BM25 (Robertson & Zaragoza): a baseline that needs no embeddings to choose."""

from __future__ import annotations

import numpy as np

from workbench.retrieval.index import PoolIndex
from workbench.retrieval.selectors.base import Selection, SelectorKind, allowed_mask, check_k, to_selection


class BM25Selector:
    """The ``k`` best lexical matches by BM25 (a baseline without embeddings)."""

    def __init__(self, index: PoolIndex, k1: float = 1.5, b: float = 0.75):
        import bm25s

        self.index = index
        self._tokenize = lambda texts: bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)
        self._bm25 = bm25s.BM25(k1=k1, b=b)  # Robertson & Zaragoza defaults k1=1.5, b=0.75
        self._bm25.index(bm25s.tokenize(index.pool.inputs(), stopwords="en", show_progress=False), show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every pool example for the query (zeros when no word matches)."""
        tokens = self._tokenize([query])[0]
        if not tokens:
            return np.zeros(len(self.index), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)

    def select(self, query: str, k: int) -> Selection:
        check_k(k)
        scores = self.scores(query)
        allowed = allowed_mask(len(scores), self.index.positions_of(query))
        order_ = np.argsort(-scores, kind="stable")
        idx = order_[allowed[order_]][:k]
        return to_selection(idx, scores[idx], f"{k} best BM25 matches; scores are BM25, not cosine")


KIND = SelectorKind("bm25", "BM25", "best lexical matches (BM25)", needs_index=True,
                    make=lambda index, s: BM25Selector(index))
