"""What checks may call, loaded only when a check needs it: the sentence embedder (``similar``,
``answer-relevance``) and the judge model (model-graded checks). Factories are passed in, so tests replace them
and a run loads each at most once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workbench.errors import ConfigError

if TYPE_CHECKING:
    from workbench.backends import Backend
    from workbench.retrieval.embedder import Embedder


class JudgeTools:
    """The embedder and judge model of one run, each made once on first use."""

    def __init__(self, judge: Backend | Callable[[], Backend] | None = None,
                 embedder: Embedder | Callable[[], Embedder] | None = None):
        self._judge = judge  # the judge model, or a factory of it (None: no judge model was given)
        self._embedder = embedder  # the embedder, or a factory (None: the workbench's own MiniLM)
        self.memo: dict[Any, Any] = {}  # values checks reuse across items (embeddings of a fixed value)

    @property
    def has_judge(self) -> bool:
        return self._judge is not None

    def judge(self) -> Backend:
        """The judge model (loaded on first use)."""
        if self._judge is None:
            raise ConfigError("A model-graded check needs a judge model; choose one (--judge MODEL, or the page's "
                              "Judge model).")
        if callable(self._judge) and not hasattr(self._judge, "generate"):
            self._judge = self._judge()
        return self._judge

    def embedder(self) -> Embedder:
        """The sentence embedder (default: the workbench's MiniLM, shipped inside a package)."""
        if self._embedder is None:
            from workbench.retrieval.embedder import load_embedder

            self._embedder = load_embedder()
        elif callable(self._embedder) and not hasattr(self._embedder, "encode"):
            self._embedder = self._embedder()
        return self._embedder
