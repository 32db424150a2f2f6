"""Other tools' files, read and written: promptfoo configs and results (:mod:`workbench.interop.promptfoo`),
lm-evaluation-harness task YAMLs (:mod:`workbench.interop.lmeval`). Each reader gives a :class:`~workbench.interop.plan.Plan`
that ``workbench eval`` and the Evaluate page run like their own; ``file://`` references resolve with
:mod:`workbench.interop.paths`, inside the file's own folder only."""
