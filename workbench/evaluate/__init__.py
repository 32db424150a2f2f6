"""Evaluate prompting strategies on a labelled dataset: runs, metrics, calibration, order sensitivity.

A package of one concept per module; everything is importable from ``workbench.evaluate`` as before:

* :mod:`~workbench.evaluate.registry` -- the strategy names (base, label, description, K, selector);
* :mod:`~workbench.evaluate.strategies` -- :class:`Strategy` and the short-name parser (``knn4+score``);
* :mod:`~workbench.evaluate.variants` -- prompt variants crossed with strategies (``a/knn4``);
* :mod:`~workbench.evaluate.formats` -- a dataset's answer format, base spec and label words;
* :mod:`~workbench.evaluate.calibration` -- contextual calibration of label scores (pure);
* :mod:`~workbench.evaluate.metrics` -- accuracy with Wilson intervals, tables, disagreements (pure);
* :mod:`~workbench.evaluate.records` -- the typed record of one evaluated item;
* :mod:`~workbench.evaluate.runner` -- :func:`evaluate` (stored, resumable, cancellable) and
  :func:`order_sensitivity`.

    >>> parse_strategy_name("knn4").k
    4
"""

from workbench.evaluate.calibration import (
    CONTENT_FREE_INPUTS,
    argmax,
    calibrate,
    content_free_prior,
    label_probs,
)
from workbench.evaluate.formats import default_spec, infer_format, parse_label_words
from workbench.evaluate.metrics import (
    RECORD_FIELDS,
    StrategySummary,
    chart_rows,
    disagreements,
    item_table,
    spread,
    summarize,
)
from workbench.evaluate.records import ItemRecord
from workbench.evaluate.registry import STRATEGIES, StrategyKind
from workbench.evaluate.runner import (
    EvalRun,
    Progress,
    check_resumable,
    content_free_prompt,
    draw_demos,
    evaluate,
    order_sensitivity,
    prepare_strategies,
    run_meta,
    seeded_permutations,
)
from workbench.evaluate.strategies import (
    ANSWER_DECODING,
    ANSWER_MODES,
    BASES,
    DEFAULT_COT_K,
    DEFAULT_K,
    NORM_MODIFIERS,
    REASONING_MAX_NEW_TOKENS,
    SC_TEMPERATURE,
    SCORE_NORMS,
    Strategy,
    StrategyName,
    make_strategy,
    needs_index,
    parse_strategies,
    parse_strategy_name,
    with_direct_trigger,
)
from workbench.evaluate.variants import INFERRED, PromptVariant, can_score, cross_variants
from workbench.stats import PairedTest, mcnemar, paired_tests  # moved to workbench.stats; old imports work

__all__ = [
    "ANSWER_DECODING", "ANSWER_MODES", "BASES", "CONTENT_FREE_INPUTS", "DEFAULT_COT_K", "DEFAULT_K",
    "INFERRED", "NORM_MODIFIERS", "REASONING_MAX_NEW_TOKENS", "RECORD_FIELDS", "SCORE_NORMS", "SC_TEMPERATURE",
    "STRATEGIES", "EvalRun", "ItemRecord", "PairedTest", "Progress", "PromptVariant", "Strategy", "StrategyKind",
    "StrategyName", "StrategySummary", "argmax", "calibrate", "can_score", "chart_rows", "check_resumable",
    "content_free_prior", "content_free_prompt", "cross_variants", "default_spec", "disagreements", "draw_demos",
    "evaluate", "infer_format", "item_table", "label_probs", "make_strategy", "mcnemar", "needs_index",
    "order_sensitivity", "paired_tests", "parse_label_words", "parse_strategies", "parse_strategy_name",
    "prepare_strategies", "run_meta", "seeded_permutations", "spread", "summarize", "with_direct_trigger",
]
