"""Judge agreement (pure): how far a judge's pass/fail verdicts agree with a person's grades of the same outputs.

The judge's verdict is a record's ``correct`` (its checks' combined pass); the human grade comes from a mapping
the caller builds: keyed by item id (a dataset's ``__human`` column, :attr:`workbench.data.examples.Example.human`:
it grades every output of that item, each strategy and repeat) or by ``(strategy, item_index)`` (a grade a person
gave one output on the Evaluate page, :meth:`workbench.store.grades.GradeTable.grades`), the latter first.

Per strategy: the share of outputs where judge and person agree (accuracy), and Cohen's κ, agreement beyond
what chance gives with both sides' pass rates: κ = (pₒ − pₑ) / (1 − pₑ), as ``sklearn.metrics.cohen_kappa_score``
computes it. κ is undefined (None, with the reason) when pₑ = 1, both sides giving every output the same grade;
when only one side is constant κ is 0 by construction (agreement no better than chance; the note says so).
Its interval is a percentile bootstrap over *items* (an item's outputs, its repeats, resampled together; local
RNG, seeded), not the asymptotic SE, which assumes independent outputs; resamples where κ is undefined are left out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.errors import ConfigError, DataError
from workbench.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CONFIDENCE

#: Resamples drawn at once (bounds memory at 200 × items indexes).
_CHUNK = 200


@dataclass(frozen=True)
class Agreement:
    """One strategy's judge verdicts against human grades of the same outputs."""

    strategy: str
    n: int  # graded outputs (each repeat counts)
    items: int  # distinct items among them (the bootstrap's unit)
    accuracy: float  # share of outputs where the judge's verdict equals the human grade
    kappa: float | None  # Cohen's κ; None when undefined (see note)
    kappa_low: float | None  # percentile-bootstrap interval of κ over items (None: κ undefined in every resample)
    kappa_high: float | None
    both_pass: int  # the judge and the person passed it
    both_fail: int  # both failed it
    judge_only: int  # the judge passed it, the person failed it (a lenient judge)
    human_only: int  # the person passed it, the judge failed it (a strict judge)
    note: str | None = None  # why κ is undefined, or 0 by construction (a side that grades everything alike)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def line(self) -> str:
        """``zero: the judge agrees with the human grades on 85.0% of 40 outputs (Cohen's κ = 0.70, 95% bootstrap
        CI 0.48 to 0.89 over 40 items)``; an undefined κ names why.

        >>> Agreement("zero", 4, 4, 1.0, None, None, None, 4, 0, 0, 0, "every output passed, by both").line()
        "zero: the judge agrees with the human grades on 100.0% of 4 outputs (Cohen's κ undefined: every output passed, by both)"
        """
        head = f"{self.strategy}: the judge agrees with the human grades on {self.accuracy:.1%} of {self.n} outputs"
        if self.kappa is None:
            return f"{head} (Cohen's κ undefined: {self.note})"
        ci = ("" if self.kappa_low is None or self.kappa_high is None else
              f", {CONFIDENCE:.0%} bootstrap CI {self.kappa_low:.2f} to {self.kappa_high:.2f} over {self.items} items")
        note = f"; {self.note}" if self.note else ""
        return f"{head} (Cohen's κ = {self.kappa:.2f}{ci}{note})"


def cohen_kappa(judge: Sequence[bool], human: Sequence[bool]) -> float | None:
    """Cohen's κ of two pass/fail gradings of the same outputs; None when undefined (no outputs, or both sides
    give every output the same grade: pₑ = 1).

    >>> cohen_kappa([True, True, False, False], [True, False, False, False])  # pₒ 3/4, pₑ 1/2 · 1/4 + 1/2 · 3/4
    0.5
    >>> cohen_kappa([True, True, True], [True, False, True])  # one side constant: no better than chance
    0.0
    >>> cohen_kappa([True, True], [True, True]) is None
    True
    """
    if len(judge) != len(human):
        raise ConfigError(f"Agreement needs a grade per verdict: {len(judge)} verdicts vs {len(human)} grades.")
    pairs = [(bool(j), bool(h)) for j, h in zip(judge, human, strict=True)]
    return _kappa(*(np.array([float(sum(p == c for p in pairs))]) for c in _CELLS))[0]


_CELLS = ((True, True), (True, False), (False, True), (False, False))  # (judge, human): both, judge only, ...


def _kappa(both: np.ndarray, judge_only: np.ndarray, human_only: np.ndarray, neither: np.ndarray) -> list:
    """κ from 2×2 counts (vectorised over resamples); None where undefined."""
    n = both + judge_only + human_only + neither
    with np.errstate(divide="ignore", invalid="ignore"):
        judge_pass, human_pass = (both + judge_only) / n, (both + human_only) / n
        p_o = (both + neither) / n
        p_e = judge_pass * human_pass + (1 - judge_pass) * (1 - human_pass)
        kappa = (p_o - p_e) / (1 - p_e)
    # p_e = 1 exactly when both sides are constant and agree: tell it from the counts, not the floats.
    same = (n == 0) | ((both == n) | (neither == n))
    return [None if s else float(k) for s, k in zip(same, kappa, strict=True)]


def kappa_interval(cells: Sequence[tuple[int, int, int, int]], resamples: int = BOOTSTRAP_RESAMPLES,
                   seed: int = BOOTSTRAP_SEED, confidence: float = CONFIDENCE) -> tuple[float | None, float | None]:
    """Percentile-bootstrap interval of κ over items: ``cells`` holds each item's 2×2 counts (both pass, judge
    only, human only, both fail); items are resampled with replacement, their counts summed, κ computed, and
    the (1−confidence)/2 and (1+confidence)/2 percentiles (inverted CDF) taken over the resamples where κ is
    defined. (None, None) when it is defined in none.

    >>> kappa_interval([(1, 0, 0, 0), (0, 0, 0, 1), (0, 0, 0, 1)])  # perfect agreement wherever κ is defined
    (1.0, 1.0)
    >>> kappa_interval([(1, 0, 0, 0)])
    (None, None)
    """
    m = len(cells)
    if m == 0:
        return None, None
    counts = np.asarray(cells, dtype=np.float64).reshape(m, 4)
    rng = np.random.default_rng(seed)
    values: list[float] = []
    for start in range(0, resamples, _CHUNK):
        idx = rng.integers(0, m, size=(min(_CHUNK, resamples - start), m))
        sums = [counts[:, k][idx].sum(axis=1) for k in range(4)]  # each (size,): one cell summed per resample
        values += [k for k in _kappa(*sums) if k is not None]
    if not values:
        return None, None
    tail = (1 - confidence) / 2
    low, high = np.quantile(np.array(values), [tail, 1 - tail], method="inverted_cdf")
    return float(low), float(high)


def human_grade(record: Mapping[str, Any], human: Mapping[Any, bool] | None) -> bool | None:
    """The person's grade of one record's output: ``human[(strategy, item_index)]``, else ``human[item id]``;
    without a mapping, the record's own ``human``; None when ungraded.

    >>> human_grade({"strategy": "s", "item_index": 3, "id": "q1"}, {"q1": True, ("s", 3): False})
    False
    """
    if human is None:
        grade = record.get("human")
    else:
        grade = human.get((record.get("strategy"), record.get("item_index")))
        if grade is None and record.get("id") is not None:
            grade = human.get(str(record["id"]))
    if grade is not None and not isinstance(grade, bool):
        raise DataError(f"A human grade is pass (true) or fail (false), not {grade!r} (item {record.get('id')!s}).")
    return grade


def judge_agreement(records: Sequence[Mapping[str, Any]], human: Mapping[Any, bool] | None = None,
                    resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> list[Agreement]:
    """Per strategy (first-seen order), the judge's verdicts (``correct``) against the human grades of the same
    outputs (see :func:`human_grade`); strategies with no graded output are left out. Repeats are outputs of
    their own, resampled with their item (keyed by ``id``, else ``item_index``).

    >>> rows = [{"strategy": "rubric", "item_index": i, "id": f"q{i}", "correct": c}
    ...         for i, c in enumerate([True, True, False, False])]
    >>> (a,) = judge_agreement(rows, {"q0": True, "q1": False, "q2": False, "q3": False})
    >>> (a.n, a.accuracy, a.kappa, a.judge_only, a.human_only)
    (4, 0.75, 0.5, 1, 0)
    """
    by: dict[str, dict[Any, list[int]]] = {}
    for r in records:
        grade = human_grade(r, human)
        if grade is None:
            continue
        item = str(r["id"]) if r.get("id") is not None else r.get("item_index")
        cell = _CELLS.index((bool(r.get("correct")), grade))
        by.setdefault(r["strategy"], {}).setdefault(item, [0, 0, 0, 0])[cell] += 1
    return [_agreement(name, list(items.values()), resamples, seed) for name, items in by.items()]


def _agreement(strategy: str, cells: list[list[int]], resamples: int, seed: int) -> Agreement:
    both, judge_only, human_only, neither = (sum(c[k] for c in cells) for k in range(4))
    n = both + judge_only + human_only + neither
    kappa = _kappa(*(np.array([float(x)]) for x in (both, judge_only, human_only, neither)))[0]
    low, high = kappa_interval([tuple(c) for c in cells], resamples, seed) if kappa is not None else (None, None)
    return Agreement(strategy, n, len(cells), (both + neither) / n, kappa, low, high, both, neither, judge_only,
                     human_only, _note(both, judge_only, human_only, neither))


def _note(both: int, judge_only: int, human_only: int, neither: int) -> str | None:
    """Why κ is undefined or 0 by construction: a side that gives every output the same grade."""
    n = both + judge_only + human_only + neither
    if both == n or neither == n:
        return f"every output {'passed' if both else 'failed'}, by both the judge and the person"
    sides = [f"the {side} {'passed' if passed == n else 'failed'} every output"
             for side, passed in (("judge", both + judge_only), ("person", both + human_only)) if passed in (0, n)]
    return "; ".join(sides) + ": κ is 0 by construction" if sides else None
