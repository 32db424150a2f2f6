"""Auto-CoT's demonstrations (Zhang et al. 2022): built once before a run, by clustering the embedded pool and
letting the model write one rationale per cluster (:mod:`workbench.autocot`). Nothing is chosen per query, so
the kind has no ``make``; the strategy carries the built demonstrations, and the pool needs its index only
while they are still to be built."""

from __future__ import annotations

from workbench.retrieval.selectors.base import SelectorKind

KIND = SelectorKind("autocot", "Auto-CoT", "model-written rationales, one per k-means cluster (built before a run)",
                    needs_index=True, carries_demos=True, default_order="as_selected")
