"""What checks may call, loaded only when a check needs it: the sentence embedder (``similar``,
``answer-relevance``), the run's judge model (model-graded checks) and the judge models checks name themselves
(``provider``). Factories are passed in, so tests replace them and a run loads each at most once.

    >>> tools = JudgeTools(loader=lambda model: f"<{model}>", wrap=lambda backend: backend + " cached")
    >>> tools.judge("my-judge.gguf"), tools.judge("my-judge.gguf") is tools.judge("my-judge.gguf")
    ('<my-judge.gguf> cached', True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workbench.errors import ConfigError, WorkbenchError

if TYPE_CHECKING:
    from workbench.backends import Backend
    from workbench.retrieval.embedder import Embedder


#: The judge of model-graded checks when a run names none: the local instruct model the workbench ships.
DEFAULT_JUDGE = "smollm2-135m-instruct"


def load_judge(model: str) -> Backend:
    """A judge model the workbench can run: a registry id, a GGUF file, a Hugging Face folder or a server
    reference (:func:`workbench.backends.load_backend`, its backend chosen as for any model)."""
    from workbench.backends import load_backend

    return load_backend(model)


def check_provider(model: str) -> None:
    """One line when ``model`` cannot be a judge here (an unknown id, a missing file), without loading it: what
    a run asks before any model call."""
    from workbench.backends.kinds import kind_for

    try:
        kind_for(model)
    except WorkbenchError as err:
        raise ConfigError(f"judge model {model!r}: {err}") from None


class JudgeTools:
    """The embedder and judge models of one run, each made once on first use."""

    def __init__(self, judge: Backend | Callable[[], Backend] | None = None,
                 embedder: Embedder | Callable[[], Embedder] | None = None, *,
                 loader: Callable[[str], Backend] | None = None,
                 wrap: Callable[[Backend], Backend] | None = None):
        self._judge = judge  # the judge model, or a factory of it (None: no judge model was given)
        self._embedder = embedder  # the embedder, or a factory (None: the workbench's own MiniLM)
        self._loader = loader or load_judge  # a check's ``provider`` -> its model (default: load_backend)
        self._wrap = wrap  # wraps each provider's model once loaded (the runner: the response cache); None: as is
        self._providers: dict[str, Any] = {}  # provider -> its model, or the one line why it could not load
        self.memo: dict[Any, Any] = {}  # values checks reuse across items (embeddings of a fixed value)

    @property
    def has_judge(self) -> bool:
        return self._judge is not None

    def judge(self, provider: str | None = None) -> Backend:
        """The run's judge model, or the model a check names as its ``provider`` (each loaded on first use; one
        that failed to load fails again at once, with the same line, for every later item)."""
        if provider is not None:
            return self._provider(provider)
        if self._judge is None:
            raise ConfigError("A model-graded check needs a judge model; choose one (--judge MODEL, or the page's "
                              "Judge model).")
        if isinstance(self._judge, ConfigError):
            raise self._judge
        if callable(self._judge) and not hasattr(self._judge, "generate"):
            try:
                self._judge = self._judge()
            except WorkbenchError as err:  # every later item gets the same line, without loading again
                self._judge = ConfigError(f"the judge model could not load: {err}")
                raise self._judge from None
        return self._judge

    def _provider(self, model: str) -> Backend:
        found = self._providers.get(model)
        if found is None:
            try:
                backend = self._loader(model)
            except WorkbenchError as err:
                found = self._providers[model] = ConfigError(f"judge model {model!r}: {err}")
            else:
                found = self._providers[model] = self._wrap(backend) if self._wrap is not None else backend
        if isinstance(found, ConfigError):
            raise found
        return found

    def close(self) -> None:
        """Free the provider models this run loaded (the run's own judge is its caller's to close)."""
        for found in self._providers.values():
            close = getattr(found, "close", None)  # a wrapper passes it to the model
            if callable(close):
                close()
        self._providers.clear()

    def embedder(self) -> Embedder:
        """The sentence embedder (default: the workbench's MiniLM, shipped inside a package)."""
        if self._embedder is None:
            from workbench.retrieval.embedder import load_embedder

            self._embedder = load_embedder()
        elif callable(self._embedder) and not hasattr(self._embedder, "encode"):
            self._embedder = self._embedder()
        return self._embedder
