"""Metrics of a run's item records (pure): accuracy with Wilson intervals, mean and named scores of judged
items, repeats (pass@k, pass^k, flaky items), per-assertion pass rates, chart rows, item tables, disagreements,
spread over orders."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.answers import normalise, wilson_interval
from workbench.errors import ConfigError

#: Record fields shown in per-item tables, in order.
RECORD_FIELDS = ("id", "input", "prompt", "output", "extracted", "gold", "correct", "rule", "seconds")


@dataclass(frozen=True)
class FlakyItem:
    """An item that passed in some of its repeated runs and failed in the others."""

    item: int  # its position in the dataset (0-based)
    id: str | None  # its id, as the dataset gives it
    passed: int  # runs it passed
    runs: int  # runs it had

    def text(self) -> str:
        """``row-3 2/3``: the id (else #position) and how many runs passed."""
        return f"{self.id if self.id is not None else f'#{self.item}'} {self.passed}/{self.runs}"


@dataclass(frozen=True)
class Repeats:
    """One strategy's repeated runs: pass@k (passed in any run), pass^k (passed in every run), flaky items."""

    k: int  # runs per item (the most any item had)
    items: int  # items that had all k runs (the rates are over these)
    pass_at_k: float  # share of those items passed in at least one run
    pass_all_k: float  # share of those items passed in every run
    flaky: tuple[FlakyItem, ...]  # items passed sometimes, in dataset order


def repeats(records: Sequence[Mapping[str, Any]]) -> Repeats | None:
    """pass@k, pass^k and flaky items of one strategy's records; None when no item was repeated.

    Repeat ``r`` of item ``i`` is stored at ``item_index = i * k + r`` with ``repeat = r`` (the runner's rule),
    so ``item_index - repeat`` names the item whatever k is. Items with fewer than k runs (a cancelled run)
    are left out of the rates.

    >>> rows = [{"item_index": 2 * i + r, "repeat": r, "id": f"q{i}", "correct": ok}
    ...         for i, oks in enumerate([(True, True), (True, False), (False, False)]) for r, ok in enumerate(oks)]
    >>> got = repeats(rows)
    >>> got.k, got.items, round(got.pass_at_k, 3), round(got.pass_all_k, 3), [f.text() for f in got.flaky]
    (2, 3, 0.667, 0.333, ['q1 1/2'])
    >>> repeats([{"item_index": 0, "correct": True}]) is None
    True
    """
    runs: dict[int, list[Mapping[str, Any]]] = {}
    for r in records:
        if r.get("repeat") is not None:
            runs.setdefault(int(r["item_index"]) - int(r["repeat"]), []).append(r)
    if not runs:
        return None
    k = max(len(rows) for rows in runs.values())
    complete = {start: rows for start, rows in sorted(runs.items()) if len(rows) == k}
    passes = {start: sum(bool(r.get("correct")) for r in rows) for start, rows in complete.items()}
    n = len(complete)
    flaky = tuple(FlakyItem(start // k, rows[0].get("id"), passes[start], k) for start, rows in complete.items()
                  if 0 < passes[start] < k)
    return Repeats(k, n, sum(p > 0 for p in passes.values()) / n if n else 0.0,
                   sum(p == k for p in passes.values()) / n if n else 0.0, flaky)


def scores(records: Sequence[Mapping[str, Any]]) -> tuple[float | None, dict[str, float]]:
    """The mean weighted score of the records judged by checks (None: none were) and each check ``metric``
    name's mean over the records that have it (promptfoo's named scores, averaged).

    >>> rows = [{"score": 1.0, "checks": [{"type": "contains", "passed": True, "score": 1.0, "reason": "",
    ...                                    "metric": "mentions"}]},
    ...         {"score": 0.5, "checks": [{"type": "contains", "passed": False, "score": 0.0, "reason": "",
    ...                                    "metric": "mentions"}]}, {"correct": True}]
    >>> scores(rows)
    (0.75, {'mentions': 0.5})
    """
    from workbench.evaluate.records import CheckVerdict
    from workbench.judging.verdicts import named_scores

    judged = [float(r["score"]) for r in records if r.get("score") is not None]
    named: dict[str, list[float]] = {}
    for r in records:
        verdicts = [CheckVerdict.from_dict(c) for c in r.get("checks") or () if isinstance(c, Mapping)]
        for name, value in named_scores(verdicts).items():
            named.setdefault(name, []).append(value)
    return (round(statistics.fmean(judged), 6) if judged else None,
            {name: round(statistics.fmean(values), 6) for name, values in named.items()})


@dataclass(frozen=True)
class CheckRate:
    """How one assertion type fared under one strategy: passes, mean score and errors over its verdicts."""

    strategy: str
    type: str  # the check's type as written ("not-contains")
    value: str | None  # the value, as text (None: it takes none, or ``per_item``)
    per_item: bool  # the items' own assertions of this type, each with its own value (a row per type)
    n: int  # verdicts
    passed: int  # verdicts that passed
    mean_score: float  # mean score over the verdicts
    errors: int  # verdicts whose check could not judge the output

    @property
    def rate(self) -> float:
        return self.passed / self.n if self.n else 0.0


def check_rates(records: Sequence[Mapping[str, Any]]) -> list[CheckRate]:
    """Per strategy and assertion (first-seen order): pass rate, mean score, errors. An assertion every judged
    record of the strategy has (the run's, a prompt file's) is a row of its own, with its value; the items' own
    assertions are one row per type, without a value ("per item").

    >>> rows = [{"strategy": "zero", "checks": [{"type": "contains", "passed": ok, "score": float(ok), "value": "x"},
    ...                                          {"type": "regex", "passed": True, "score": 1.0, "value": v}]}
    ...         for ok, v in ((True, "a"), (False, "b"))]
    >>> [(c.type, c.value, c.per_item, c.passed, c.n, c.mean_score) for c in check_rates(rows)]
    [('contains', 'x', False, 1, 2, 0.5), ('regex', None, True, 2, 2, 1.0)]
    """
    judged: dict[str, int] = {}
    seen: dict[tuple[str, str, Any], int] = {}
    for r in records:
        checks = [c for c in r.get("checks") or () if isinstance(c, Mapping)]
        if checks:
            strategy = str(r.get("strategy"))
            judged[strategy] = judged.get(strategy, 0) + 1
            for c in checks:
                key = (strategy, str(c.get("type")), c.get("value"))
                seen[key] = seen.get(key, 0) + 1
    groups: dict[tuple[str, str, Any], list[Mapping[str, Any]]] = {}
    for r in records:
        strategy = str(r.get("strategy"))
        for c in r.get("checks") or ():
            if isinstance(c, Mapping):
                key = (strategy, str(c.get("type")), c.get("value"))
                everywhere = seen[key] >= judged[strategy]
                groups.setdefault((*key, False) if everywhere else (strategy, key[1], None, True), []).append(c)
    return [CheckRate(strategy, type_, value, per_item, len(verdicts), sum(bool(v.get("passed")) for v in verdicts),
                      round(statistics.fmean(float(v.get("score") or 0.0) for v in verdicts), 6),
                      sum(1 for v in verdicts if v.get("error")))
            for (strategy, type_, value, per_item), verdicts in groups.items()]


@dataclass(frozen=True)
class StrategySummary:
    """Accuracy of one strategy with its 95% Wilson interval (raw too, for calibrated strategies); with checks,
    the mean and named scores; with repeats, pass@k, pass^k and the flaky items (``n`` counts every run)."""

    strategy: str
    n: int
    correct: int
    accuracy: float
    ci_low: float
    ci_high: float
    seconds: float  # summed per-item wall time
    raw_correct: int | None = None  # calibrated strategies: correct before calibration
    raw_accuracy: float | None = None
    raw_ci_low: float | None = None
    raw_ci_high: float | None = None
    fewer_demos: int = 0  # items that ran with fewer demonstrations than asked (dropped to fit the window)
    cached: int = 0  # items answered wholly from the response cache (no model call)
    model_seconds: float | None = None  # summed wall time of the items the model answered; None: ``seconds``
    mean_score: float | None = None  # mean weighted score of the records judged by checks (None: none were)
    named_scores: dict[str, float] = field(default_factory=dict)  # each check ``metric`` name's mean score
    repeat: int = 1  # runs of each item (n counts every run)
    pass_at_k: float | None = None  # repeats: share of items passed in at least one run (None: no repeats)
    pass_all_k: float | None = None  # repeats: share of items passed in every run (pass^k)
    flaky: tuple[FlakyItem, ...] = ()  # repeats: items passed in some runs and failed in others

    @property
    def model_items(self) -> int:
        """Items the model answered (not from the response cache)."""
        return self.n - self.cached

    @property
    def items_per_second(self) -> float:
        """Throughput of the model calls actually made: items the model answered per second of its time
        (cached items count neither way); 0.0 when every item came from the cache."""
        seconds = self.seconds if self.model_seconds is None else self.model_seconds
        return self.model_items / seconds if self.model_items and seconds > 0 else 0.0

    def speed(self) -> str:
        """The items/s cell of a table: "—" when the model answered nothing (every item from the cache)."""
        return f"{self.items_per_second:.2f}" if self.model_items else "—"

    def cached_text(self) -> str:
        """``cached: 8/8`` style count of items answered from the response cache ("8/8")."""
        return f"{self.cached}/{self.n}"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["items_per_second"] = round(self.items_per_second, 3)
        return d


def summarize(records: Sequence[Mapping[str, Any]]) -> list[StrategySummary]:
    """Per strategy (in first-seen order): accuracy, Wilson CI, time; raw accuracy where calibrated."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        groups.setdefault(r["strategy"], []).append(r)
    out = []
    for name, rows in groups.items():
        n, correct = len(rows), sum(bool(r.get("correct")) for r in rows)
        lo, hi = wilson_interval(correct, n)
        extra: dict[str, Any] = {}
        if rows and all("raw_correct" in r for r in rows):
            rc = sum(bool(r["raw_correct"]) for r in rows)
            rlo, rhi = wilson_interval(rc, n)
            extra = {"raw_correct": rc, "raw_accuracy": rc / n, "raw_ci_low": rlo, "raw_ci_high": rhi}
        extra["fewer_demos"] = sum(1 for r in rows if r.get("dropped"))
        extra["cached"] = sum(1 for r in rows if r.get("cached"))
        if extra["cached"]:
            extra["model_seconds"] = round(sum(float(r.get("seconds", 0.0)) for r in rows if not r.get("cached")), 4)
        extra["mean_score"], extra["named_scores"] = scores(rows)
        rep = repeats(rows)
        if rep is not None:
            extra.update(repeat=rep.k, pass_at_k=rep.pass_at_k, pass_all_k=rep.pass_all_k, flaky=rep.flaky)
        out.append(StrategySummary(name, n, correct, correct / n if n else 0.0, lo, hi,
                                   round(sum(float(r.get("seconds", 0.0)) for r in rows), 4), **extra))
    return out


def chart_rows(summaries: Sequence[StrategySummary]) -> list[dict[str, Any]]:
    """One bar per strategy (two for calibrated ones: raw and calibrated), with CI bounds."""
    rows = []
    for s in summaries:
        if s.raw_accuracy is not None:
            rows.append({"strategy": f"{s.strategy} (raw)", "accuracy": s.raw_accuracy, "ci_low": s.raw_ci_low,
                         "ci_high": s.raw_ci_high, "n": s.n})
        rows.append({"strategy": s.strategy, "accuracy": s.accuracy, "ci_low": s.ci_low, "ci_high": s.ci_high,
                     "n": s.n})
    return rows


def item_table(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per item: id, input, gold, then each strategy's answer and whether it was right."""
    rows: dict[int, dict[str, Any]] = {}
    for r in records:
        row = rows.setdefault(r["item_index"], {"item": r["item_index"], "id": r.get("id"), "input": r.get("input"),
                                                 "gold": r.get("gold")})
        row[f"{r['strategy']}"] = r.get("extracted")
        row[f"{r['strategy']} ✓"] = bool(r.get("correct"))
    return [rows[i] for i in sorted(rows)]


def disagreements(records: Sequence[Mapping[str, Any]], by: str = "answer") -> list[int]:
    """Item indexes where the strategies' answers differ (``by="answer"``, normalised) or where some
    strategies are right and others wrong (``by="correct"``). Items run by one strategy only never count."""
    if by not in ("answer", "correct"):
        raise ConfigError(f"Disagreement is by 'answer' or 'correct', not {by!r}.")
    seen: dict[int, list] = {}
    for r in records:
        value = bool(r.get("correct")) if by == "correct" else normalise(r.get("extracted"), r.get("format", "free"))
        seen.setdefault(r["item_index"], []).append(value)
    return sorted(i for i, values in seen.items() if len(values) > 1 and len(set(values)) > 1)


def spread(accuracies: Sequence[float]) -> dict[str, float]:
    """Mean, sample standard deviation (n-1; 0 for one value), min and max of accuracies."""
    if not accuracies:
        raise ConfigError("No accuracies to summarise.")
    values = [float(a) for a in accuracies]
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "n": len(values)}
