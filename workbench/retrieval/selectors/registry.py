"""The one registry of demonstration selectors, pseudo-selectors (hand-picked, Auto-CoT) included.

The strategy registry, the parser, the CLI help, the Demonstrations and Evaluate pages and the prompt-set file
schema all read it. Adding a selector is one module with a ``KIND`` (see :mod:`.knn`) plus its entry below.

    >>> list(SELECTOR_REGISTRY)
    ['random', 'knn', 'bm25', 'mmr', 'cluster', 'label_balanced', 'fixed', 'autocot']
    >>> list(SELECTOR_KINDS) == list(SELECTOR_REGISTRY)[:-1]  # Auto-CoT's are built before a run, not picked
    True
    >>> [needs_index(s, k=4, demos_in_hand=False) for s in (None, "knn", "fixed", "autocot")]
    [False, True, False, True]
    >>> needs_index("autocot", k=4, demos_in_hand=True), needs_index("knn", k=0, demos_in_hand=False)
    (False, False)
"""

from __future__ import annotations

from collections.abc import Sequence

from workbench.errors import ConfigError
from workbench.retrieval.index import PoolIndex
from workbench.retrieval.selectors import autocot, bm25, cluster, fixed, knn, label_balanced, mmr, random_pick
from workbench.retrieval.selectors.base import Selector, SelectorKind, SelectorSettings

#: Every selector, in the order pickers list them: name -> its kind.
SELECTOR_REGISTRY: dict[str, SelectorKind] = {kind.name: kind for kind in (
    random_pick.KIND,
    knn.KIND,
    bm25.KIND,
    mmr.KIND,
    cluster.KIND,
    label_balanced.KIND,
    fixed.KIND,
    autocot.KIND,
)}
#: The selectors that choose per query over an index: what the Demonstrations page and prompt-set files pick.
SELECTOR_KINDS: dict[str, SelectorKind] = {name: kind for name, kind in SELECTOR_REGISTRY.items() if kind.pickable}
#: Pickable selector name -> one-line description (read from :data:`SELECTOR_KINDS`).
SELECTORS = {name: kind.description for name, kind in SELECTOR_KINDS.items()}
#: Selectors kept per index: BM25 indexes its pool and k-means clusters it once, not on every call.
_SELECTOR_CACHE_SIZE = 32


def needs_index(selector: str | None, k: int, demos_in_hand: bool) -> bool:
    """Whether demonstrations from ``selector`` (None: none) need the pool indexed: the one place that decides it
    (:meth:`SelectorKind.needs_index_for`)."""
    if selector is None:
        return False
    kind = SELECTOR_REGISTRY.get(selector)
    if kind is None:  # an unknown name counts as a per-query selector: make_selector refuses it in one line
        return k > 0
    return kind.needs_index_for(k, demos_in_hand)


def make_selector(
    name: str,
    index: PoolIndex,
    *,
    seed: int = 0,
    lambda_: float = 0.5,
    indices: Sequence[int] = (),
) -> Selector:
    """The selector called ``name`` (see :data:`SELECTOR_KINDS`) over ``index``, built once per
    (index, name, settings) and reused: a page rerun or an evaluation item does not re-index the pool."""
    if name not in SELECTOR_KINDS:
        raise ConfigError(f"unknown selector {name!r}; choose one of {', '.join(SELECTOR_KINDS)}")
    key = (name, int(seed), float(lambda_), tuple(int(i) for i in indices))
    cache = index.selectors
    with index.selectors_lock:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    make = SELECTOR_KINDS[name].make
    assert make is not None  # SELECTOR_KINDS holds the pickable kinds only
    selector = make(index, SelectorSettings(*key[1:]))
    with index.selectors_lock:
        cache[key] = selector
        while len(cache) > _SELECTOR_CACHE_SIZE:
            cache.popitem(last=False)
    return selector
