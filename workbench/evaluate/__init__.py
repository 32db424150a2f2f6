"""Evaluate prompting strategies on a labelled dataset: runs, metrics, calibration, order sensitivity.

A package of one concept per module; import each name from its module (the package itself exports nothing):

* :mod:`~workbench.evaluate.registry` -- the strategy names (base, label, description, K, selector);
* :mod:`~workbench.evaluate.strategies` -- :class:`Strategy` and the short-name parser (``knn4+score``);
* :mod:`~workbench.evaluate.variants` -- prompt variants crossed with strategies (``a/knn4``);
* :mod:`~workbench.evaluate.formats` -- a dataset's answer format, base spec and label words;
* :mod:`~workbench.evaluate.answer_modes` -- the answer-mode registry: how a strategy answers and records an
  item (generate and extract, label scoring, calibrated scoring, self-consistency votes);
* :mod:`~workbench.evaluate.calibration` -- contextual calibration of label scores (pure);
* :mod:`~workbench.evaluate.records` -- the typed record of one evaluated item (and of one that failed);
* :mod:`~workbench.evaluate.metrics` -- accuracy with Wilson intervals, tables, disagreements (pure);
* :mod:`~workbench.evaluate.manifest` -- what a run is (:func:`run_meta`) and whether it may be resumed;
* :mod:`~workbench.evaluate.runner` -- :func:`evaluate` (stored, resumable, cancellable);
* :mod:`~workbench.evaluate.order_sensitivity` -- one set of demonstrations under seeded permutations;
* :mod:`~workbench.evaluate.pairs` -- two runs compared item by item.
"""
