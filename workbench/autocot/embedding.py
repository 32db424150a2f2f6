"""What Auto-CoT clusters: each question as the reference embeds it, ``Q: {question}\\nA:`` with its answer choices
(``run_demo.py`` encodes ``c_question + "\\nA:"``, the ``Q: …`` line of the Zero-shot-CoT log, whose question holds
``Answer Choices: (A) … (B) …`` for multiple choice), not the bare question a retrieval index holds.

The vectors are cached on disk as an index of those texts (:func:`workbench.retrieval.index.build_index`, keyed by
their content), apart from the bare-input index that retrieval selectors use.

    >>> from workbench.data import Example
    >>> clustering_texts([Example("0", "Pick one.", "A", choices={"A": "red", "B": "blue"}), Example("1", "2 + 2?", "4")])
    ['Q: Pick one. Answer Choices: (A) red (B) blue\\nA:', 'Q: 2 + 2?\\nA:']
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from workbench.autocot.filters import asked, question_text
from workbench.data import Example, Pool

if TYPE_CHECKING:
    from workbench.retrieval.embedder import Embedder, ProgressFn


def clustering_texts(pool: Sequence[Example]) -> list[str]:
    """Each question as the reference embeds it for clustering: ``Q: {question} Answer Choices: …\\nA:``."""
    return [asked(question_text(ex.input, ex.choices)) for ex in pool]


def clustering_vectors(pool: Sequence[Example], embedder: Embedder, cache_dir: str | os.PathLike | None = None,
                       progress: ProgressFn | None = None, *, name: str = "pool") -> np.ndarray:
    """The unit vectors Auto-CoT clusters: :func:`clustering_texts` embedded, or read from the index cache
    (``cache_dir``; None: the ``WORKBENCH_CACHE_DIR`` setting's). The cache entry is that of a pool holding
    those texts, so it never stands in for the pool's bare-input index."""
    from workbench.retrieval.index import build_index

    texts = clustering_texts(pool)
    as_embedded = Pool(f"{name} as Auto-CoT embeds it",
                       tuple(dataclasses.replace(ex, input=t) for ex, t in zip(pool, texts, strict=True)))
    return build_index(as_embedded, embedder, cache_dir=cache_dir, progress=progress).vectors
