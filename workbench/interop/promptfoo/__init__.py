"""promptfoo configs in: :func:`load_plan` reads a ``promptfooconfig.yaml`` into a
:class:`~workbench.interop.plan.Plan` (prompts x providers on its tests, judged by its assertions) that
``workbench eval --config`` and the Evaluate page run. Modules: :mod:`.schema` (the config's shape, the keys
read, noted and refused), :mod:`.prompts`, :mod:`.providers`, :mod:`.cases` (tests, defaultTest), :mod:`.load`."""

from workbench.interop.promptfoo.load import load_plan

__all__ = ["load_plan"]
