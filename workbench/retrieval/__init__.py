"""Choosing and ordering demonstrations: embedder, cached FAISS index, selectors, orders.

Which demonstrations a prompt shows, and in what order, changes in-context learning results a lot (Liu et al.
2021, "What makes good in-context examples"; Lu et al. 2022, "Fantastically ordered prompts"). One concept per
module; import from the modules themselves (this package exports nothing):

- :mod:`.embedder`: texts to unit vectors (:func:`~.embedder.load_embedder`, all-MiniLM-L6-v2 by default);
- :mod:`.index`: :class:`~.index.PoolIndex`, a pool's vectors in a FAISS index, cached on disk by pool content
  and embedder (:func:`~.index.build_index`);
- :mod:`.selectors`: one module per selector and their registry (:mod:`.selectors.registry`);
- :mod:`.orders`: the registry of orders and :func:`~.orders.order`;
- :mod:`.choose`: :func:`~.choose.choose_demos`, select then order, for one query.

Every selector leaves out pool examples whose input is the query itself.
"""
