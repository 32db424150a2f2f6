"""What every selector shares: the :class:`Selection` it returns, the :class:`Selector` protocol, and the
:class:`SelectorKind` registry entry that names a selector and owns its behaviour (how it is made, whether it
needs the pool's index, how its demonstrations are ordered by default).

Every selector leaves out pool examples whose input is the query itself (:func:`allowed_mask`).

    >>> allowed_mask(4, [1, 3]).tolist()
    [True, False, True, False]
    >>> to_selection(np.array([2, 0]), np.array([0.51234567, 0.25]), "why")
    Selection(indices=(2, 0), scores=(0.512346, 0.25), reason='why')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from workbench.errors import ConfigError
from workbench.retrieval.index import PoolIndex


@dataclass(frozen=True)
class Selection:
    """Chosen pool positions, a score for each, and why they were chosen (shown in the UI)."""

    indices: tuple[int, ...]
    scores: tuple[float, ...]
    reason: str

    def __post_init__(self) -> None:
        if len(self.indices) != len(self.scores):
            raise ValueError("indices and scores must have the same length")


class Selector(Protocol):
    """Chooses ``k`` demonstrations from a pool for one query."""

    def select(self, query: str, k: int) -> Selection: ...


@dataclass(frozen=True)
class SelectorSettings:
    """The knobs a selector may read when it is made (each selector reads the ones it needs)."""

    seed: int = 0  # random draws and k-means initialisation
    lambda_: float = 0.5  # MMR trade-off: 1 = nearest, 0 = most diverse
    indices: tuple[int, ...] = ()  # pool positions of hand-picked demonstrations ("fixed")


@dataclass(frozen=True)
class SelectorKind:
    """One demonstration selector as a registry entry: its names, and what it does.

    ``make`` builds the per-query :class:`Selector` over an index; a kind without one (Auto-CoT) has its
    demonstrations built before a run, and the strategy carries them.
    """

    name: str  # the name files, the CLI and strategy names use ("cluster")
    label: str  # the word the pages show ("diverse"); one vocabulary with the strategy registry
    description: str  # one line for help texts and pickers
    needs_index: bool  # choosing (or building) its demonstrations needs the pool embedded and indexed
    make: Callable[[PoolIndex, SelectorSettings], Selector] | None = None  # None: demonstrations built before a run
    carries_demos: bool = False  # a strategy holds its demonstrations (hand-picked or built) rather than choosing
    default_order: str = "similar_last"  # how an evaluation strategy orders them (an orders.ORDERS name)

    @property
    def pickable(self) -> bool:
        """Chooses per query over an index, so the Demonstrations page and prompt-set files can pick it."""
        return self.make is not None

    def needs_index_for(self, k: int, demos_in_hand: bool) -> bool:
        """Whether a strategy with ``k`` demonstrations needs the pool indexed: a per-query selector when ``k`` is
        above 0; a carried one only while its demonstrations are still to be built (``demos_in_hand`` False)."""
        if not self.needs_index:
            return False
        return not demos_in_hand if self.carries_demos else k > 0


def allowed_mask(n: int, exclude: Sequence[int]) -> np.ndarray:
    """``n`` booleans, False at the ``exclude`` positions."""
    allowed = np.ones(n, dtype=bool)
    if len(exclude):
        allowed[np.asarray(list(exclude), dtype=np.int64)] = False
    return allowed


def check_k(k: int) -> None:
    """Refuse a negative number of demonstrations."""
    if k < 0:
        raise ConfigError(f"k must be 0 or more, not {k}")


def to_selection(idx: np.ndarray, scores: np.ndarray, reason: str) -> Selection:
    """A :class:`Selection` of plain ints and scores rounded to 6 decimals."""
    return Selection(tuple(int(i) for i in idx), tuple(round(float(s), 6) for s in scores), reason)
