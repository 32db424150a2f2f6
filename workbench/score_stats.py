"""Paired comparisons of continuous scores (pure): similarity, ROUGE, BLEU, rubric scores.

A record judged by checks carries ``score``, its weighted score in [0, 1]. Two strategies are compared on the
items both scored: the mean per-item difference (a − b) with a paired percentile-bootstrap interval (items
resampled with replacement, seeded) and Wilcoxon's signed-rank p (scipy's defaults: zero differences dropped;
no non-zero difference gives p = 1.0). Repeated items are averaged over their repeats first, then paired by item
id. With more than one pair, each p also comes Holm-adjusted over the pairs (``p_holm``).

The statistics themselves live in :mod:`workbench.stats` (:func:`~workbench.stats.mean_difference`,
:func:`~workbench.stats.holm`); this module reads the scores out of records.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.errors import DataError
from workbench.stats import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    CONFIDENCE,
    holm_note,
    is_repeated,
    item_means,
    item_pairs,
    mean_difference,
    with_holm,
)


@dataclass(frozen=True)
class ScoreComparison:
    """Two strategies' scores on the items both scored: mean difference (a − b), bootstrap interval, Wilcoxon p."""

    a: str
    b: str
    n: int  # items both scored
    mean_a: float  # mean score of a over those items
    mean_b: float
    difference: float  # mean of the per-item differences a − b (= mean_a − mean_b)
    ci_low: float  # paired bootstrap interval of the difference
    ci_high: float
    higher_a: int  # items a scored higher
    higher_b: int  # items b scored higher
    p_value: float  # Wilcoxon signed-rank, two-sided (1.0 when every difference is zero)
    p_holm: float | None = None  # p Holm-adjusted over every pair of the run (None: a single pair, nothing to adjust)
    repeats: bool = False  # each item's score is its mean over its repeats

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def line(self) -> str:
        """``a − b: mean score +0.125 on 40 items (Wilcoxon p = 0.031; 95% bootstrap CI +0.025 to +0.225)``;
        with several pairs ``(Wilcoxon p = 0.031, Holm-adjusted p = 0.093; …)``.

        >>> ScoreComparison("x", "y", 4, 0.75, 0.5, 0.25, 0.0, 0.5, 2, 0, 0.5, 1.0).line()
        'x − y: mean score +0.250 on 4 items (Wilcoxon p = 0.5, Holm-adjusted p = 1; 95% bootstrap CI +0.000 to +0.500)'
        """
        means = ", each item's mean over its repeats" if self.repeats else ""
        return (f"{self.a} − {self.b}: mean score {self.difference:+.3f} on {self.n} items{means} "
                f"(Wilcoxon p = {self.p_value:.3g}{holm_note(self.p_holm)}; {CONFIDENCE:.0%} bootstrap CI "
                f"{self.ci_low:+.3f} to {self.ci_high:+.3f})")


def compare_scores(scores_a: Sequence[float], scores_b: Sequence[float], a: str = "a", b: str = "b",
                   resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                   repeats: bool = False) -> ScoreComparison:
    """The paired comparison of one pair of per-item score lists (same items, same order).

    >>> c = compare_scores([0.9, 0.5, 0.7], [0.6, 0.5, 0.2], "rubric", "exact")
    >>> (c.n, round(c.difference, 6), c.higher_a, c.higher_b, c.p_value)
    (3, 0.266667, 2, 0, 0.5)
    """
    m = mean_difference(scores_a, scores_b, resamples, seed)
    iv = m.difference
    return ScoreComparison(a, b, m.n, m.mean_a, m.mean_b, iv.estimate, iv.low, iv.high, m.higher_a, m.higher_b,
                           m.p_value, repeats=repeats)


def record_score(record: Mapping[str, Any]) -> float | None:
    """A record's ``score`` (None: the record was not scored by checks); a stored value that is not a number in
    [0, 1] is a :class:`DataError` naming the record.

    >>> record_score({"score": 0.25}), record_score({"correct": True})
    (0.25, None)
    """
    v = record.get("score")
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not (math.isfinite(v) and 0 <= v <= 1):
        raise DataError(f"{record.get('strategy')!s} item {record.get('item_index')!s}: score {v!r} is not a "
                        "number between 0 and 1.")
    return float(v)


def score_comparisons(records: Sequence[Mapping[str, Any]], resamples: int = BOOTSTRAP_RESAMPLES,
                      seed: int = BOOTSTRAP_SEED) -> list[ScoreComparison]:
    """:func:`compare_scores` for every pair of strategies that scored items (first-seen order), on the items
    both scored; records without a score are left out. Repeated items: each item's mean over its repeats,
    paired by item id. With several pairs, ``p_holm`` is set.

    >>> rows = [{"strategy": s, "item_index": i, "score": x}
    ...         for s, xs in (("a", [1.0, 0.5, 0.8, 0.4]), ("b", [0.5, 0.5, 0.2, 0.2])) for i, x in enumerate(xs)]
    >>> (c,) = score_comparisons(rows)
    >>> (c.a, c.b, c.n, round(c.difference, 6), c.higher_a, c.p_value, c.p_holm)
    ('a', 'b', 4, 0.325, 3, 0.25, None)
    """
    repeated = is_repeated(records)
    return with_holm([compare_scores(va, vb, x, y, resamples, seed, repeated)
                      for x, y, va, vb in item_pairs(item_means(records, record_score))])
