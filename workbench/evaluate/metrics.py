"""Metrics of a run's item records (pure): accuracy with Wilson intervals, chart rows, item tables,
disagreements, spread over orders."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.answers import normalise, wilson_interval
from workbench.errors import ConfigError

#: Record fields shown in per-item tables, in order.
RECORD_FIELDS = ("id", "input", "prompt", "output", "extracted", "gold", "correct", "rule", "seconds")


@dataclass(frozen=True)
class StrategySummary:
    """Accuracy of one strategy with its 95% Wilson interval (raw too, for calibrated strategies)."""

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
