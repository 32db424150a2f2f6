"""Demonstration selectors, one module per family, and their registry.

- :mod:`.base`: :class:`~.base.Selection`, the :class:`~.base.Selector` protocol, :class:`~.base.SelectorKind`
  (a registry entry that owns its behaviour: how it is made, whether it needs the index, its default order);
- one module per selector: :mod:`.random_pick`, :mod:`.knn`, :mod:`.bm25`, :mod:`.mmr`, :mod:`.cluster`,
  :mod:`.label_balanced`, :mod:`.fixed` (hand-picked), :mod:`.autocot` (built before a run);
- :mod:`.registry`: :data:`~.registry.SELECTOR_REGISTRY` (all), ``SELECTOR_KINDS`` (the per-query ones pages
  pick), :func:`~.registry.make_selector`, :func:`~.registry.needs_index`.

Import from the modules themselves; this package exports nothing.
"""
