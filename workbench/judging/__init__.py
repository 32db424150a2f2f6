"""Judging outputs: every way to decide whether a model's output is right is one registered check.

A package of one concept per module; import each name from its module:

* :mod:`~workbench.judging.base` -- :class:`~workbench.judging.base.JudgeKind` (a registered way of judging: its
  parameters' validation and its primitive ``evaluate``), :class:`~workbench.judging.base.Check` (one built,
  validated check, negated or weighted), :class:`~workbench.judging.base.Case` (what a check sees);
* :mod:`~workbench.judging.registry` -- :data:`~workbench.judging.registry.JUDGES`, ``register_judge``, and
  :func:`~workbench.judging.registry.build_check` (an assertion as promptfoo writes it -> a :class:`Check`, or one
  line saying why not);
* :mod:`~workbench.judging.formats` -- the answer formats' comparisons (label, number, choice, yes/no, exact) as
  checks: what judges an item that has no assertions;
* :mod:`~workbench.judging.verdicts` -- checks run on one output and combined (promptfoo's weighted score and
  threshold rule);
* :mod:`~workbench.judging.tools` -- what checks may call: the embedder and the judge model, loaded lazily.
"""
