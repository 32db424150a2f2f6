"""Orders of demonstrations: which of the chosen demonstrations comes first matters (Lu et al. 2022,
"Fantastically ordered prompts"). Each :class:`Order` in :data:`ORDER_KINDS` owns its permutation; adding one
is a function plus one registration line.

    >>> s = Selection((7, 8, 9), (0.2, 0.9, 0.5), "test")
    >>> order(s, "similar_last").indices, order(s, "similar_first").indices, order(s, "as_selected").indices
    ((7, 9, 8), (8, 9, 7), (7, 8, 9))
    >>> order(s, "label_interleaved", labels={7: "a", 8: "a", 9: "b"}).indices
    (7, 9, 8)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from workbench.errors import ConfigError
from workbench.retrieval.selectors.base import Selection

#: Label of each pool position (a list, or any mapping from position to label).
Labels = Sequence[str | None] | Mapping[int, str | None]


@dataclass(frozen=True)
class Order:
    """One way to order a selection: its name, a description, and the permutation it applies."""

    name: str  # the name files, the CLI and pages use
    description: str  # one line for help texts and pickers
    permute: Callable[[Selection, int | None, Labels | None], list[int]]  # (selection, seed, labels) -> positions


def _similar_last(selection: Selection, seed: int | None, labels: Labels | None) -> list[int]:
    return sorted(range(len(selection.indices)), key=lambda i: selection.scores[i])  # stable: ties keep order


def _similar_first(selection: Selection, seed: int | None, labels: Labels | None) -> list[int]:
    return sorted(range(len(selection.indices)), key=lambda i: -selection.scores[i])


def _random(selection: Selection, seed: int | None, labels: Labels | None) -> list[int]:
    return [int(i) for i in np.random.default_rng(seed).permutation(len(selection.indices))]


def _as_selected(selection: Selection, seed: int | None, labels: Labels | None) -> list[int]:
    return list(range(len(selection.indices)))


def _label_interleaved(selection: Selection, seed: int | None, labels: Labels | None) -> list[int]:
    """One demonstration per label in turn: labels in order of first appearance, each label's in selection order."""
    if labels is None:
        raise ConfigError("label_interleaved ordering needs the pool's labels")
    groups: dict[str | None, list[int]] = {}
    for i, idx in enumerate(selection.indices):
        groups.setdefault(labels[idx], []).append(i)
    perm: list[int] = []
    for rank in range(max((len(g) for g in groups.values()), default=0)):
        perm.extend(g[rank] for g in groups.values() if rank < len(g))
    return perm


#: Every order, in the order pickers list them.
ORDER_KINDS: dict[str, Order] = {o.name: o for o in (
    Order("similar_last", "most similar last, nearest the query (our default)", _similar_last),
    Order("similar_first", "most similar first (what OpenICL's TopK and LangChain's similarity selector do)",
          _similar_first),
    Order("random", "random order (seeded)", _random),
    Order("as_selected", "the order the selector returned", _as_selected),
    Order("label_interleaved", "labels alternate (A, B, A, B, ...)", _label_interleaved),
)}
#: Orders for the UI and CLI, with a one-line description (read from :data:`ORDER_KINDS`).
ORDERS = {name: o.description for name, o in ORDER_KINDS.items()}


def order(
    selection: Selection,
    how: str = "similar_last",
    seed: int | None = None,
    labels: Labels | None = None,
) -> Selection:
    """Reorder a selection; ``labels`` (label of each pool position) is needed for label_interleaved.

    Sorting by score is stable, so equal scores keep their selection order.
    ``label_interleaved`` takes one demonstration per label in turn (labels in order of
    first appearance, each label's demonstrations in selection order).
    """
    if how not in ORDER_KINDS:
        raise ConfigError(f"unknown order {how!r}; choose one of {', '.join(ORDERS)}")
    perm = ORDER_KINDS[how].permute(selection, seed, labels)
    return replace(
        selection,
        indices=tuple(selection.indices[i] for i in perm),
        scores=tuple(selection.scores[i] for i in perm),
    )
