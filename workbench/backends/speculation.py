"""Speculative decoding as a backend capability: what a backend that can verify drafts offers.

:meth:`Backend.speculation() <workbench.backends.base.Backend.speculation>` returns a :class:`Speculation`
(None where the backend cannot verify drafts in one pass). :mod:`workbench.speculative` drafts, accepts and
times through it and never reaches into the backend: the verifier, the model's end-of-text tokens, the
decoding of token ids and the libraries' own speculative loops all come from here.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from workbench.backends.records import Generation
from workbench.decoding import DecodingConfig


class Verifier(Protocol):
    """The target's logits at every draft position, in one pass."""

    drafts_first: bool  # True: a draft may go with the prompt's own pass

    def logits(self, ids: list[int], draft: list[int]) -> np.ndarray:
        """Rows of logits: after ``ids``, then after each draft token (``len(draft) + 1`` rows)."""

    def draft_room(self, context: int, left: int) -> int:
        """Draft tokens worth sending with ``context`` tokens when ``left`` output tokens remain."""

    def keep(self, n: int) -> None:
        """Keep the first ``n`` tokens of the cache (drop rejected draft tokens)."""


@dataclass(frozen=True)
class Verifying:
    """What a traced run reads from the backend while it holds it."""

    verifier: Verifier
    eos_ids: frozenset[int]  # tokens that end the text


@dataclass(frozen=True)
class TimedRuns:
    """The library's own speculative loop and plain decoding to time it against, one call each."""

    plain: Callable[[], Generation]  # plain decoding, like with like
    speculative: Callable[[], Generation]  # the library's speculative decoding
    label: str  # names the speculative way ("prompt-lookup (transformers prompt_lookup_num_tokens)")
    plain_label: str  # names the plain way
    backend_plain: Callable[[], Generation] | None = None  # plain decoding on the user's own backend, when asked


class Speculation(Protocol):
    """A backend's speculative decoding."""

    draft_models: bool  # True: a separate draft model can propose tokens (assisted generation)

    def verifying(self, ids: list[int], cfg: DecodingConfig) -> AbstractContextManager[Verifying]:
        """Hold the model for one traced run of the prompt ``ids`` (ConfigError where it cannot fit)."""

    def decode(self, ids: list[int]) -> str:
        """The text of output token ids (special tokens left out)."""

    def timed_runs(self, prompt: str, ids: list[int], cfg: DecodingConfig, draft_tokens: int, ngram_size: int,
                   draft=None, with_backend_plain: bool = False) -> TimedRuns:
        """The runs :func:`workbench.speculative.runs.compare` times; ``draft``: a draft model's backend."""

    def plain_rows(self, prompt: str, cfg: DecodingConfig) -> tuple[Generation, np.ndarray] | None:
        """Plain greedy decoding and the logits row each token was chosen from; None where not offered."""
