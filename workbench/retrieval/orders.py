"""Orders of demonstrations: which of the chosen demonstrations comes first matters (Lu et al. 2022,
"Fantastically ordered prompts"). Each :class:`Order` in :data:`ORDER_KINDS` owns its permutation; adding one
is a function plus one registration line. Most orders are pure functions of the selection; the entropy orders
(``global-entropy``, ``local-entropy``) are chosen by the model over a probing set: they name a ``statistic``, and
the caller that holds a model and a prompt passes ``choose`` (:class:`workbench.retrieval.entropy.ModelOrders`),
which probes each set of demonstrations once.

    >>> s = Selection((7, 8, 9), (0.2, 0.9, 0.5), "test")
    >>> order(s, "similar_last").indices, order(s, "similar_first").indices, order(s, "as_selected").indices
    ((7, 9, 8), (8, 9, 7), (7, 8, 9))
    >>> order(s, "label_interleaved", labels={7: "a", 8: "a", 9: "b"}).indices
    (7, 9, 8)
    >>> order(s, "global-entropy", choose=lambda kind, sel: ([2, 0, 1], f"{kind.name} chose")).indices
    (9, 7, 8)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import permutations as all_permutations

import numpy as np

from workbench.errors import ConfigError
from workbench.retrieval.entropy import global_entropy, local_entropy
from workbench.retrieval.selectors.base import Selection

#: Label of each pool position (a list, or any mapping from position to label).
Labels = Sequence[str | None] | Mapping[int, str | None]


@dataclass(frozen=True)
class Order:
    """One way to order a selection: its name, a description, and the permutation it applies."""

    name: str  # the name files, the CLI and pages use
    description: str  # one line for help texts and pickers
    permute: Callable[[Selection, int | None, Labels | None], list[int]]  # (selection, seed, labels) -> positions
    # a model-chosen order's score of a candidate (label probabilities per probing input -> higher is better);
    # None: a pure order, ``permute`` decides
    statistic: Callable[[Sequence[Sequence[float]]], float] | None = None

    @property
    def needs_model(self) -> bool:
        """Chosen by the model over a probing set: the caller must pass ``choose`` to :func:`order`."""
        return self.statistic is not None


#: What a model-chosen order asks of its caller: (the order, the selection) -> (positions, a note for the reason).
Choose = Callable[[Order, Selection], tuple[list[int], str]]


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


def _chosen_by_model(selection: Selection, seed: int | None, labels: Labels | None) -> list[int]:
    raise ConfigError("this order is chosen by the model over a probing set; it needs a model and a prompt")


def seeded_permutations(k: int, count: int, seed: int = 0) -> list[tuple[int, ...]]:
    """``count`` distinct permutations of ``range(k)`` (fewer when k! is smaller), drawn with a local RNG.

    >>> seeded_permutations(3, 2, seed=0) == seeded_permutations(3, 2, seed=0), len(seeded_permutations(3, 9))
    (True, 6)
    """
    total = math.factorial(k)
    rng = np.random.default_rng(seed)
    if count >= total:
        perms = list(all_permutations(range(k)))
        return [perms[i] for i in rng.permutation(total)]
    out: list[tuple[int, ...]] = []
    while len(out) < count:
        p = tuple(int(i) for i in rng.permutation(k))
        if p not in out:
            out.append(p)
    return out


#: Every order, in the order pickers list them.
ORDER_KINDS: dict[str, Order] = {o.name: o for o in (
    Order("similar_last", "most similar last, nearest the query (our default)", _similar_last),
    Order("similar_first", "most similar first (what OpenICL's TopK and LangChain's similarity selector do)",
          _similar_first),
    Order("random", "random order (seeded)", _random),
    Order("as_selected", "the order the selector returned", _as_selected),
    Order("label_interleaved", "labels alternate (A, B, A, B, ...)", _label_interleaved),
    Order("global-entropy", "the model's choice: most diverse predicted labels on its own probing set (GlobalE, "
          "Lu et al. 2022; one probe per set of demonstrations)", _chosen_by_model, global_entropy),
    Order("local-entropy", "the model's choice: least confident label probabilities on its own probing set "
          "(LocalE, Lu et al. 2022; one probe per set of demonstrations)", _chosen_by_model, local_entropy),
)}
#: Orders for the UI and CLI, with a one-line description (read from :data:`ORDER_KINDS`).
ORDERS = {name: o.description for name, o in ORDER_KINDS.items()}


def order(
    selection: Selection,
    how: str = "similar_last",
    seed: int | None = None,
    labels: Labels | None = None,
    choose: Choose | None = None,
) -> Selection:
    """Reorder a selection; ``labels`` (label of each pool position) is needed for label_interleaved, ``choose``
    (a model and a prompt: :class:`workbench.retrieval.entropy.ModelOrders`) for a model-chosen order, whose
    note joins the selection's reason.

    Sorting by score is stable, so equal scores keep their selection order.
    ``label_interleaved`` takes one demonstration per label in turn (labels in order of
    first appearance, each label's demonstrations in selection order).
    """
    if how not in ORDER_KINDS:
        raise ConfigError(f"unknown order {how!r}; choose one of {', '.join(ORDERS)}")
    kind = ORDER_KINDS[how]
    reason = selection.reason
    if kind.needs_model:
        if choose is None:
            raise ConfigError(f"Order {how!r} is chosen by the model over a probing set: it needs a model and a "
                              "prompt (an evaluation, a prompt set run, or the Demonstrations page with a model).")
        if len(selection.indices) < 2:
            return selection
        perm, note = choose(kind, selection)
        reason = f"{reason}; {note}" if reason else note
    else:
        perm = kind.permute(selection, seed, labels)
    return replace(
        selection,
        indices=tuple(selection.indices[i] for i in perm),
        scores=tuple(selection.scores[i] for i in perm),
        reason=reason,
    )
