"""Comparisons with statistics: paired tests, bootstrap intervals and classification metrics (pure).

Two strategies run on the same items are compared *paired*: McNemar's exact test on the
items where exactly one of them is right, and a paired bootstrap interval on the accuracy
difference (items resampled with replacement, both strategies' outcomes kept together).
For classification, a confusion matrix, per-label accuracy and macro-F1.

Repeated runs (records with ``repeat``) are paired by item: each item's pass rate over its
repeats is its outcome (the question-level mean of Miller 2024, "Adding Error Bars to Evals"),
the difference is the mean pass-rate difference with the same bootstrap over items, and the
test is Wilcoxon's signed-rank on the per-item differences (McNemar needs one pass/fail per item).
With more than one pair, each p also comes Holm-adjusted over the pairs (``p_holm``).

Every function here takes plain sequences or result records (``strategy``, ``item_index``,
``correct``, ``gold``, ``extracted``; ``id`` and ``repeat`` for repeats) and returns frozen
dataclasses; nothing is loaded.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
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
    p_holm: float | None = None  # p Holm-adjusted over every pair of the run (None: a single pair, nothing to adjust)

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


def signed_rank_p(differences: Sequence[float]) -> float:
    """Two-sided p of Wilcoxon's signed-rank test on paired differences, as ``scipy.stats.wilcoxon`` gives it
    with its defaults: zero differences dropped (``zero_method="wilcox"``), the exact null distribution for
    small samples, else the normal approximation. Differences are rounded to 12 decimals first, so that float
    noise makes no zero non-zero and breaks no tie. With no non-zero difference (or no items) the p is 1.0:
    nothing to rank, no evidence of a difference.

    >>> signed_rank_p([1, 1, 1, 1, 1, 1])  # six items, all better under a: 2 / 2**6
    0.03125
    >>> signed_rank_p([0.5, -0.2, 0.3, 0.1])
    0.375
    >>> signed_rank_p([0.0, 0.0]), signed_rank_p([])
    (1.0, 1.0)
    """
    d = [round(float(x), 12) for x in differences]
    if not any(d):
        return 1.0
    from scipy.stats import wilcoxon  # scipy loads in about a second: only when a test runs

    return float(wilcoxon(d).pvalue)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (each comparison of a run is one member), in the
    given order: the i-th smallest p (from 0) is multiplied by m − i, capped at 1, and made no smaller than
    the adjusted p before it. It controls the chance of any false "significant" over the family; reject
    where the adjusted p is under the level. Equals ``statsmodels``' ``multipletests(p, method="holm")``.

    >>> [round(p, 6) for p in holm([0.01, 0.04, 0.03])]  # 3 × 0.01; 2 × 0.03; max(0.06, 1 × 0.04)
    [0.03, 0.06, 0.06]
    >>> holm([0.5, 0.9]), holm([])
    ([1.0, 1.0], [])
    """
    for p in pvalues:
        if not (isinstance(p, int | float) and 0 <= p <= 1):  # NaN fails both comparisons
            raise ConfigError(f"A p-value must be a number between 0 and 1, not {p!r}.")
    m = len(pvalues)
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda j: pvalues[j])):
        running = max(running, min(1.0, (m - rank) * float(pvalues[i])))
        out[i] = running
    return out


def with_holm(comparisons: Sequence[T]) -> list[T]:
    """The comparisons with ``p_holm`` set: their ``p_value`` Holm-adjusted as one family; a single comparison
    (two strategies) is left with ``p_holm`` None, as there is nothing to adjust.

    >>> [t.p_holm for t in with_holm([mcnemar([1] * 6, [0] * 6), mcnemar([1] * 6, [1] * 6)])]
    [0.0625, 1.0]
    """
    if len(comparisons) < 2:
        return list(comparisons)
    adjusted = holm([c.p_value for c in comparisons])
    return [dataclasses.replace(c, p_holm=p) for c, p in zip(comparisons, adjusted, strict=True)]


# --------------------------------------------------------------------------- items of a run

def is_repeated(records: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the records repeat items (some record has ``repeat``): they are then paired by item id.

    >>> is_repeated([{"repeat": None}, {"repeat": 1}]), is_repeated([{"correct": True}])
    (True, False)
    """
    return any(r.get("repeat") is not None for r in records)


def item_means(records: Sequence[Mapping[str, Any]],
               value: Callable[[Mapping[str, Any]], float | None] = lambda r: float(bool(r.get("correct"))),
               ) -> dict[str, dict[Any, float]]:
    """Per strategy (first-seen order), each item's ``value`` averaged over its repeats, items in run order.

    Without repeats an item is its ``item_index``; with repeats (see :func:`is_repeated`) it is its ``id``, as
    repeat r of item i is stored at ``i * N + r`` and a strategy's N is not in its records. Records whose value
    is None are left out. The default value is pass/fail, so each item's mean is its pass rate.

    >>> rows = [{"strategy": "s", "item_index": 2 * i + r, "id": f"q{i}", "repeat": r, "correct": c}
    ...         for i, outcomes in enumerate([(1, 0), (1, 1)]) for r, c in enumerate(outcomes)]
    >>> item_means(rows)
    {'s': {'q0': 0.5, 'q1': 1.0}}
    """
    repeated = is_repeated(records)
    sums: dict[str, dict[Any, list]] = {}
    seen: set[tuple] = set()
    for r in records:
        v = value(r)
        if v is None:
            continue
        key = r["item_index"]
        if repeated:
            if r.get("id") is None:
                raise ConfigError("Repeated runs are paired by item id, but a record has none.")
            key = str(r["id"])
            mark = (r["strategy"], key, r.get("repeat") or 0)
            if mark in seen:
                raise ConfigError(f"Item id {key!r} appears twice in {r['strategy']}'s repeat {mark[2]}: repeats "
                                  "are paired by item id, so the ids must be unique.")
            seen.add(mark)
        slot = sums.setdefault(r["strategy"], {}).setdefault(key, [r["item_index"], 0.0, 0])
        slot[0] = min(slot[0], r["item_index"])
        slot[1] += v
        slot[2] += 1
    return {s: {k: t / c for k, (_, t, c) in sorted(items.items(), key=lambda kv: kv[1][0])}
            for s, items in sums.items()}


def item_pairs(by: Mapping[str, Mapping[Any, float]]) -> Iterator[tuple[str, str, list[float], list[float]]]:
    """``(a, b, values_a, values_b)`` for every pair of strategies (first-seen order), on the items both have.

    >>> list(item_pairs({"x": {0: 1.0, 1: 0.0}, "y": {1: 1.0, 2: 0.5}}))
    [('x', 'y', [0.0], [1.0])]
    """
    names = list(by)
    for i, x in enumerate(names):
        for y in names[i + 1:]:
            items = [k for k in by[x] if k in by[y]]
            yield x, y, [by[x][k] for k in items], [by[y][k] for k in items]


def paired_tests(records: Sequence[Mapping[str, Any]]) -> list[PairedTest]:
    """McNemar's test for every pair of strategies, on the items both of them ran (Holm-adjusted when several).

    McNemar takes one pass/fail per item: repeated records are refused (:func:`paired_comparisons` pairs their
    pass rates)."""
    if is_repeated(records):
        raise ConfigError("McNemar's test takes one pass/fail per item; these records repeat items: compare their "
                          "pass rates (paired_comparisons).")
    return with_holm([mcnemar([v == 1 for v in va], [v == 1 for v in vb], x, y)
                      for x, y, va, vb in item_pairs(item_means(records))])


# --------------------------------------------------------------------------- bootstrap

@dataclass(frozen=True)
class Interval:
    """An estimate with its two-sided interval."""

    estimate: float
    low: float
    high: float


def bootstrap_mean(
    differences: Sequence[float],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> Interval:
    """The mean of paired differences (one per item) with a percentile-bootstrap interval.

    Items are resampled with replacement; the interval is the (1-confidence)/2 and (1+confidence)/2
    percentiles (inverted CDF, no interpolation) of the resampled means. A local RNG seeded with ``seed``
    makes it reproducible. No items: 0 with the interval [0, 0].

    >>> bootstrap_mean([0.25, 0.25, 0.25])
    Interval(estimate=0.25, low=0.25, high=0.25)
    """
    if resamples < 1:
        raise ConfigError(f"Bootstrap needs at least 1 resample, not {resamples}.")
    if not 0 < confidence < 1:
        raise ConfigError(f"Confidence must be between 0 and 1, not {confidence}.")
    n = len(differences)
    if n == 0:
        return Interval(0.0, 0.0, 0.0)
    d = np.asarray(differences, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, _CHUNK):
        size = min(_CHUNK, resamples - start)
        idx = rng.integers(0, n, size=(size, n))
        means[start:start + size] = d[idx].sum(axis=1) / n
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail], method="inverted_cdf")
    return Interval(float(d.sum() / n), float(low), float(high))


def bootstrap_difference(
    correct_a: Sequence[bool],
    correct_b: Sequence[bool],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> Interval:
    """Accuracy of ``a`` minus accuracy of ``b`` with a paired percentile-bootstrap interval: :func:`bootstrap_mean`
    of the per-item differences (each resampled item keeps both outcomes)."""
    _same_length(correct_a, correct_b)
    return bootstrap_mean([int(bool(x)) - int(bool(y)) for x, y in zip(correct_a, correct_b, strict=True)],
                          resamples, seed, confidence)


@dataclass(frozen=True)
class MeanDifference:
    """Two strategies' values on the same items (pass rates over repeats, or scores): means, the difference
    with its paired bootstrap interval, and Wilcoxon's signed-rank p."""

    n: int  # items both have
    mean_a: float
    mean_b: float
    difference: Interval  # mean of the per-item differences a − b, with its bootstrap interval
    higher_a: int  # items where a's value is higher
    higher_b: int  # items where b's value is higher
    p_value: float  # Wilcoxon signed-rank, two-sided (see signed_rank_p)


def mean_difference(values_a: Sequence[float], values_b: Sequence[float], resamples: int = BOOTSTRAP_RESAMPLES,
                    seed: int = BOOTSTRAP_SEED) -> MeanDifference:
    """Paired statistics of per-item values (one per item under each strategy, same items in the same order).

    >>> m = mean_difference([1.0, 0.5, 1.0], [0.5, 0.5, 0.0])
    >>> (m.n, m.mean_a, m.mean_b, m.difference.estimate, m.higher_a, m.higher_b, m.p_value)
    (3, 0.8333333333333334, 0.3333333333333333, 0.5, 2, 0, 0.5)
    """
    _same_length(values_a, values_b)
    n = len(values_a)
    d = [float(x) - float(y) for x, y in zip(values_a, values_b, strict=True)]
    return MeanDifference(n, sum(map(float, values_a)) / n if n else 0.0, sum(map(float, values_b)) / n if n else 0.0,
                          bootstrap_mean(d, resamples, seed), sum(x > 0 for x in d), sum(x < 0 for x in d),
                          signed_rank_p(d))


@dataclass(frozen=True)
class PairedComparison:
    """Two strategies on the items both ran: accuracy difference (a − b), its p and bootstrap interval.

    One run of each item: McNemar's exact test. Repeated items: each item's pass rate over its repeats, the
    mean pass-rate difference and Wilcoxon's signed-rank test (``test`` says which)."""

    a: str
    b: str
    n: int  # items both answered
    accuracy_a: float
    accuracy_b: float
    difference: float  # accuracy_a − accuracy_b
    ci_low: float  # bootstrap interval of the difference
    ci_high: float
    only_a: int  # right with a only (repeats: items with a higher pass rate under a)
    only_b: int  # right with b only (repeats: items with a higher pass rate under b)
    p_value: float  # McNemar, exact (repeats: Wilcoxon signed-rank on the pass-rate differences)
    p_holm: float | None = None  # p Holm-adjusted over every pair of the run (None: a single pair, nothing to adjust)
    test: str = "McNemar"  # the test behind p_value: "McNemar" (one run per item) or "Wilcoxon" (repeats)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def line(self) -> str:
        """``a − b: +12.5 points on 40 items (McNemar p = 0.031; 95% bootstrap CI +2.5 to +22.5)``; with several
        pairs ``(McNemar p = 0.031, Holm-adjusted p = 0.093; …)``; with repeats the items are pass rates."""
        rates = ", each item's pass rate over its repeats" if self.test == "Wilcoxon" else ""
        return (f"{self.a} − {self.b}: {_points(self.difference)} points on {self.n} items{rates} "
                f"({self.test} p = {self.p_value:.3g}{holm_note(self.p_holm)}; {CONFIDENCE:.0%} bootstrap CI "
                f"{_points(self.ci_low)} to {_points(self.ci_high)})")


def holm_note(p_holm: float | None) -> str:
    """``", Holm-adjusted p = 0.093"``, or nothing without an adjusted p.

    >>> holm_note(0.09375), holm_note(None)
    (', Holm-adjusted p = 0.0938', '')
    """
    return "" if p_holm is None else f", Holm-adjusted p = {p_holm:.3g}"


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


def compare_rates(rates_a: Sequence[float], rates_b: Sequence[float], a: str = "a", b: str = "b",
                  resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> PairedComparison:
    """The comparison of per-item pass rates (repeated items): :func:`mean_difference` as a
    :class:`PairedComparison` with ``test`` "Wilcoxon".

    >>> c = compare_rates([1.0, 0.5, 0.0], [0.0, 0.0, 0.0])
    >>> (c.difference, c.only_a, c.p_value, c.test)
    (0.5, 2, 0.5, 'Wilcoxon')
    """
    m = mean_difference(rates_a, rates_b, resamples, seed)
    iv = m.difference
    return PairedComparison(a, b, m.n, m.mean_a, m.mean_b, iv.estimate, iv.low, iv.high, m.higher_a, m.higher_b,
                            m.p_value, test="Wilcoxon")


def paired_comparisons(records: Sequence[Mapping[str, Any]], resamples: int = BOOTSTRAP_RESAMPLES,
                       seed: int = BOOTSTRAP_SEED) -> list[PairedComparison]:
    """:func:`compare` for every pair of strategies (in first-seen order), on the items both ran; repeated
    records: :func:`compare_rates` on each item's pass rate. With several pairs, ``p_holm`` is set."""
    by = item_means(records)
    if is_repeated(records):
        out = [compare_rates(va, vb, x, y, resamples, seed) for x, y, va, vb in item_pairs(by)]
    else:
        out = [compare([v == 1 for v in va], [v == 1 for v in vb], x, y, resamples, seed)
               for x, y, va, vb in item_pairs(by)]
    return with_holm(out)


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
    """Unweighted mean of F1 = 2PR / (P + R) over every class that is gold or predicted at least once:
    scikit-learn's ``f1_score(gold, predicted, average="macro")`` with its default label set. Answers that name
    no label are one class, :data:`OTHER`, which is never gold: its F1 is 0 and it counts in the mean (and each
    such answer is a miss for its gold label). A class with P + R = 0 scores 0.

    >>> round(macro_f1(confusion_matrix(["a", "a", "b"], ["a", "unparsed", "b"])), 3)
    0.556
    """
    scores = []
    for j in range(len(cm.columns)):
        row = cm.counts[j] if j < len(cm.labels) else ()  # OTHER (the last column) is no one's gold
        tp = row[j] if row else 0
        predicted = sum(r[j] for r in cm.counts)
        actual = sum(row)
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
    predicts the label its extracted answer names (compared casefolded), else :data:`OTHER`, which
    :func:`macro_f1` counts as a class of its own (scikit-learn's default). Gold answers match ``labels``
    casefolded; one that matches none is added as a label.
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
