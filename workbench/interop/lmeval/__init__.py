"""lm-evaluation-harness task YAMLs: ``workbench eval --task TASK.yaml`` runs one (:func:`load_plan`), and
``workbench export lm-eval`` writes one for a workbench spec (:mod:`workbench.interop.lmeval.export`).

Modules: :mod:`~workbench.interop.lmeval.config` (the YAML, its keys, includes, refusals),
:mod:`~workbench.interop.lmeval.documents` (splits from data files or the local Hugging Face cache),
:mod:`~workbench.interop.lmeval.context` (lm-eval's prompt and few-shot sampling),
:mod:`~workbench.interop.lmeval.scoring` (filters, exact_match), :mod:`~workbench.interop.lmeval.plan` (the Plan).
"""

from workbench.interop.lmeval.plan import load_plan

__all__ = ["load_plan"]
