"""Comparisons with statistics: paired tests, bootstrap intervals and classification metrics (pure).

Two strategies run on the same items are compared *paired*: McNemar's exact test on the
items where exactly one of them is right, and a paired bootstrap interval on the accuracy
difference (items resampled with replacement, both strategies' outcomes kept together).
For classification, a confusion matrix, per-label accuracy and macro-F1.

Every function here takes plain sequences or result records (``strategy``, ``item_index``,
``correct``, ``gold``, ``extracted``) and returns frozen dataclasses; nothing is loaded.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from workbench.errors import ConfigError

T = TypeVar("T")

#: Bootstrap resamples of the paired accuracy difference: the 2.5% / 97.5% percentiles settle to about
#: ±0.5 points at this count.
BOOTSTRAP_RESAMPLES = 2000
#: The seed of the bootstrap's own RNG: the same outcomes always give the same interval.
BOOTSTRAP_SEED = 0
#: Two-sided confidence level of the bootstrap interval.
CONFIDENCE = 0.95
#: Resamples drawn at once (bounds memory at 200 × n indexes).
_CHUNK = 200
#: The predicted class of an answer that is none of the labels.
OTHER = "(other)"


# --------------------------------------------------------------------------- McNemar

@dataclass(frozen=True)
class PairedTest:
    """McNemar's exact test of two strategies on the same items: only the items where they differ count."""

    a: str
    b: str
    n: int  # items both answered
    only_a: int  # right with ``a``, wrong with ``b``
    only_b: int  # right with ``b``, wrong with ``a``
    p_value: float  # two-sided exact binomial p of only_a vs only_b under "equally good"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def mcnemar(correct_a: Sequence[bool], correct_b: Sequence[bool], a: str = "a", b: str = "b") -> PairedTest:
    """McNemar's exact test on paired outcomes (item i right or wrong under each strategy).

    >>> mcnemar([True, True, True, True], [False, False, False, False]).p_value
    0.125
    """
    _same_length(correct_a, correct_b)
    only_a = sum(bool(x) and not bool(y) for x, y in zip(correct_a, correct_b, strict=True))
    only_b = sum(bool(y) and not bool(x) for x, y in zip(correct_a, correct_b, strict=True))
    m, k = only_a + only_b, min(only_a, only_b)
    tail = sum(math.comb(m, i) for i in range(k + 1)) / 2**m if m else 1.0
    return PairedTest(a, b, len(correct_a), only_a, only_b, min(1.0, 2 * tail))


def _outcomes(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[int, bool]]:
    by: dict[str, dict[int, bool]] = {}
    for r in records:
        by.setdefault(r["strategy"], {})[r["item_index"]] = bool(r.get("correct"))
    return by


def _pairwise(records: Sequence[Mapping[str, Any]], test: Callable[[list[bool], list[bool], str, str], T]) -> list[T]:
    """``test(outcomes_a, outcomes_b, a, b)`` for every pair of strategies (first-seen order), on shared items."""
    by = _outcomes(records)
    names = list(by)
    out = []
    for i, x in enumerate(names):
        for y in names[i + 1:]:
            items = sorted(set(by[x]) & set(by[y]))
            out.append(test([by[x][j] for j in items], [by[y][j] for j in items], x, y))
    return out


def paired_tests(records: Sequence[Mapping[str, Any]]) -> list[PairedTest]:
    """McNemar's test for every pair of strategies, on the items both of them ran."""
    return _pairwise(records, mcnemar)


# --------------------------------------------------------------------------- bootstrap

@dataclass(frozen=True)
class Interval:
    """An estimate with its two-sided interval."""

    estimate: float
    low: float
    high: float


def bootstrap_difference(
    correct_a: Sequence[bool],
    correct_b: Sequence[bool],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> Interval:
    """Accuracy of ``a`` minus accuracy of ``b`` with a paired percentile-bootstrap interval.

    Items are resampled with replacement, each keeping both outcomes; the interval is the
    (1-confidence)/2 and (1+confidence)/2 percentiles (inverted CDF, no interpolation) of the
    resampled differences. A local RNG seeded with ``seed`` makes it reproducible.
    """
    _same_length(correct_a, correct_b)
    if resamples < 1:
        raise ConfigError(f"Bootstrap needs at least 1 resample, not {resamples}.")
    if not 0 < confidence < 1:
        raise ConfigError(f"Confidence must be between 0 and 1, not {confidence}.")
    n = len(correct_a)
    if n == 0:
        return Interval(0.0, 0.0, 0.0)
    d = np.array([int(bool(x)) - int(bool(y)) for x, y in zip(correct_a, correct_b, strict=True)], dtype=np.int64)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, _CHUNK):
        size = min(_CHUNK, resamples - start)
        idx = rng.integers(0, n, size=(size, n))
        means[start:start + size] = d[idx].sum(axis=1) / n
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail], method="inverted_cdf")
    return Interval(float(d.sum() / n), float(low), float(high))


@dataclass(frozen=True)
class PairedComparison:
    """Two strategies on the items both ran: accuracy difference (a − b), McNemar p and bootstrap interval."""

    a: str
    b: str
    n: int  # items both answered
    accuracy_a: float
    accuracy_b: float
    difference: float  # accuracy_a − accuracy_b
    ci_low: float  # bootstrap interval of the difference
    ci_high: float
    only_a: int  # right with a only
    only_b: int  # right with b only
    p_value: float  # McNemar, exact

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def line(self) -> str:
        """``a − b: +12.5 points on 40 items (McNemar p = 0.031; 95% bootstrap CI +2.5 to +22.5)``."""
        return (f"{self.a} − {self.b}: {_points(self.difference)} points on {self.n} items "
                f"(McNemar p = {self.p_value:.3g}; {CONFIDENCE:.0%} bootstrap CI {_points(self.ci_low)} to "
                f"{_points(self.ci_high)})")


def _points(x: float) -> str:
    return f"{100 * x:+.1f}"


def compare(correct_a: Sequence[bool], correct_b: Sequence[bool], a: str = "a", b: str = "b",
            resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> PairedComparison:
    """McNemar's test and the bootstrap interval of one pair of paired outcome lists."""
    t = mcnemar(correct_a, correct_b, a, b)
    iv = bootstrap_difference(correct_a, correct_b, resamples, seed)
    n = len(correct_a)
    acc_a = sum(map(bool, correct_a)) / n if n else 0.0
    acc_b = sum(map(bool, correct_b)) / n if n else 0.0
    return PairedComparison(a, b, n, acc_a, acc_b, iv.estimate, iv.low, iv.high, t.only_a, t.only_b, t.p_value)


def paired_comparisons(records: Sequence[Mapping[str, Any]], resamples: int = BOOTSTRAP_RESAMPLES,
                       seed: int = BOOTSTRAP_SEED) -> list[PairedComparison]:
    """:func:`compare` for every pair of strategies (in first-seen order), on the items both ran."""
    return _pairwise(records, lambda a, b, x, y: compare(a, b, x, y, resamples, seed))


# --------------------------------------------------------------------------- classification

@dataclass(frozen=True)
class ConfusionMatrix:
    """Counts of (gold label, predicted label); predictions outside ``labels`` fall in :data:`OTHER`."""

    labels: tuple[str, ...]  # gold labels, rows (and the first columns) in this order
    columns: tuple[str, ...]  # labels, then OTHER when some prediction is none of them
    counts: tuple[tuple[int, ...], ...]  # counts[i][j]: gold labels[i], predicted columns[j]

    def to_dict(self) -> dict[str, Any]:
        return {"labels": list(self.labels), "columns": list(self.columns), "counts": [list(r) for r in self.counts]}


def confusion_matrix(gold: Sequence[str], predicted: Sequence[str | None],
                     labels: Sequence[str] | None = None) -> ConfusionMatrix:
    """The confusion matrix of predictions against gold labels (labels: given, else gold's first-seen order)."""
    _same_length(gold, predicted)
    names = tuple(dict.fromkeys(labels if labels is not None else gold))
    columns = names + ((OTHER,) if any(p not in names for p in predicted) else ())
    pos = {c: j for j, c in enumerate(columns)}
    rows = {g: i for i, g in enumerate(names)}
    counts = [[0] * len(columns) for _ in names]
    for g, p in zip(gold, predicted, strict=True):
        if g not in rows:
            raise ConfigError(f"Gold label {g!r} is not one of the labels {', '.join(names)}.")
        counts[rows[g]][pos[p if p in pos and p != OTHER else OTHER]] += 1
    return ConfusionMatrix(names, columns, tuple(tuple(r) for r in counts))


def per_label_accuracy(cm: ConfusionMatrix) -> dict[str, float]:
    """For each gold label, the share of its items predicted as that label (recall); 0.0 without items."""
    out = {}
    for i, label in enumerate(cm.labels):
        total = sum(cm.counts[i])
        out[label] = cm.counts[i][i] / total if total else 0.0
    return out


def macro_f1(cm: ConfusionMatrix) -> float:
    """Unweighted mean of F1 = 2PR / (P + R) over the labels that are gold or predicted at least once
    (scikit-learn's default label set); a label with P + R = 0 scores 0."""
    scores = []
    for i, _ in enumerate(cm.labels):
        tp = cm.counts[i][i]
        predicted = sum(row[i] for row in cm.counts)
        actual = sum(cm.counts[i])
        if not predicted and not actual:
            continue
        p = tp / predicted if predicted else 0.0
        r = tp / actual if actual else 0.0
        scores.append(2 * p * r / (p + r) if p + r else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


@dataclass(frozen=True)
class LabelMetrics:
    """One strategy's classification metrics."""

    strategy: str
    confusion: ConfusionMatrix
    per_label: tuple[tuple[str, float], ...]  # (gold label, accuracy on its items)
    macro_f1: float

    def to_dict(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "confusion": self.confusion.to_dict(), "per_label": dict(self.per_label),
                "macro_f1": self.macro_f1}


def label_metrics(records: Sequence[Mapping[str, Any]], labels: Sequence[str] | None = None) -> list[LabelMetrics]:
    """Per strategy: confusion matrix, per-label accuracy and macro-F1 from result records.

    A correct record predicts its gold label (so the matrix agrees with the accuracy); a wrong one
    predicts the label its extracted answer names (compared casefolded), else :data:`OTHER`. Gold
    answers match ``labels`` casefolded; one that matches none is added as a label.
    """
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        groups.setdefault(r["strategy"], []).append(r)
    names = tuple(dict.fromkeys(labels or ()))
    folded = {n.casefold(): n for n in names}
    for r in records:  # a gold answer outside the given labels (or without labels) becomes a label of its own
        g = str(r.get("gold"))
        if g.casefold() not in folded:
            folded[g.casefold()] = g
            names += (g,)
    out = []
    for name, rows in groups.items():
        gold = [folded[str(r.get("gold")).casefold()] for r in rows]
        pred = [g if r.get("correct") else folded.get(str(r.get("extracted") or "").strip().casefold(), OTHER)
                for g, r in zip(gold, rows, strict=True)]
        cm = confusion_matrix(gold, pred, names)
        out.append(LabelMetrics(name, cm, tuple(per_label_accuracy(cm).items()), macro_f1(cm)))
    return out


def _same_length(a: Sequence, b: Sequence) -> None:
    if len(a) != len(b):
        raise ConfigError(f"Paired test needs the same items: {len(a)} vs {len(b)} outcomes.")
