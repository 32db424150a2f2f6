"""Checks run on one output and combined into the item's verdict, by promptfoo's rule: the score is the
weighted mean of the checks' scores (0 when every weight is 0); the item passes when every check passes, or,
with a threshold, when the score reaches it. A :class:`Judging` is one run's plan: the strategy's checks plus
each item's own, all built (and so validated) before any model call.

    >>> from workbench.evaluate.records import CheckVerdict as V
    >>> combine([V("contains", True, 1.0, ""), V("regex", False, 0.0, "", weight=3.0)], None)
    (False, 0.25)
    >>> combine([V("contains", True, 1.0, ""), V("regex", False, 0.0, "", weight=3.0)], 0.2)
    (True, 0.25)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from workbench.data import Example
from workbench.errors import ConfigError
from workbench.evaluate.records import CheckVerdict, ItemRecord
from workbench.judging.base import Case, Check

if TYPE_CHECKING:
    from workbench.judging.tools import JudgeTools


def combine(verdicts: Sequence[CheckVerdict], threshold: float | None) -> tuple[bool, float]:
    """(passed, weighted score) of one item's verdicts. As promptfoo: a check of weight 0 is shown but cannot fail
    the item (runAssertion forces its pass), and a threshold of 0 is no threshold (``if (this.threshold)``). A
    check that could not judge (its ``error``: an unreadable judge reply, a regex over its time) fails the item
    whatever the threshold and weight, as an assertion that throws fails promptfoo's test.

    >>> from workbench.evaluate.records import CheckVerdict as V
    >>> combine([V("contains", True, 1.0, "", weight=3.0), V("llm-rubric", False, 0.0, "", error="no JSON")], 0.5)
    (False, 0.75)
    """
    total = sum(v.weight for v in verdicts)
    score = sum(v.score * v.weight for v in verdicts) / total if total > 0 else 0.0
    passed = score >= threshold if threshold else all(v.passed for v in verdicts if v.weight > 0)
    passed = passed and not any(v.error is not None for v in verdicts)
    return passed, round(score, 6)


def named_scores(verdicts: Sequence[CheckVerdict]) -> dict[str, float]:
    """Each ``metric`` name's weighted mean score over the checks that feed it (promptfoo's named scores)."""
    sums: dict[str, list[float]] = {}
    for v in verdicts:
        if v.metric:
            acc = sums.setdefault(v.metric, [0.0, 0.0])
            acc[0] += v.score * v.weight
            acc[1] += v.weight
    return {m: round(s / w, 6) if w > 0 else 0.0 for m, (s, w) in sums.items()}


def check_threshold(threshold: float | None, where: str = "") -> float | None:
    """A test's pass threshold on the weighted score: a number in 0..1 (None: every check must pass)."""
    if threshold is None:
        return None
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise ConfigError(f"{where + ': ' if where else ''}the pass threshold must be a number from 0 to 1, "
                          f"not {threshold!r}.")
    return float(threshold)


class Judging:
    """One run's judging: the strategy's checks plus each item's own (promptfoo's ``defaultTest`` then the
    test's), built before any model call; items with no check at all keep their format's verdict."""

    def __init__(self, checks: Sequence[Check], items: Sequence[Example], threshold: float | None = None,
                 tools: JudgeTools | None = None):
        from workbench.judging.registry import build_checks

        self.checks = tuple(checks)  # every item's checks
        self.threshold = check_threshold(threshold)  # the run's pass threshold (an item's own wins)
        self.tools = tools  # the embedder and judge model, made on first use
        self._own: dict[str, tuple[Check, ...]] = {}
        for item in items:
            if item.checks:
                self._own[item.id] = build_checks(item.checks, f"item {item.id}")
            check_threshold(item.threshold, f"item {item.id}")

    def for_item(self, item: Example) -> tuple[Check, ...]:
        """The checks that judge ``item`` (empty: its format's comparison)."""
        return self.checks + self._own.get(item.id, ())

    @property
    def all_checks(self) -> tuple[Check, ...]:
        """Every check of this run: the run's and each item's own."""
        return self.checks + tuple(c for cs in self._own.values() for c in cs)

    @property
    def graded(self) -> bool:
        """Some check asks a judge model."""
        return any(c.kind.graded for c in self.checks) or any(c.kind.graded for cs in self._own.values() for c in cs)

    @property
    def active(self) -> bool:
        """Some item is judged by assertions rather than by its format alone."""
        return bool(self.checks or self._own)

    def verdict(self, case: Case) -> tuple[bool, float, tuple[CheckVerdict, ...]] | None:
        """(passed, weighted score, verdicts) of ``case`` under its item's checks (None: it has none, its
        format judges it). The item's own threshold wins over the run's."""
        checks = self.for_item(case.item)
        if not checks:
            return None
        verdicts = tuple(c.run(case, self.tools) for c in checks)
        threshold = case.item.threshold if case.item.threshold is not None else self.threshold
        return (*combine(verdicts, threshold), verdicts)

    def judge(self, record: ItemRecord, item: Example, labels: Sequence[str] = ()) -> ItemRecord:
        """``record`` with its verdict from the item's checks (unchanged when it has none)."""
        if not self.for_item(item):
            return record
        # label scoring's output is the labels' scores: its checks read the label it chose. A completion starts
        # with the space after "A:"; checks read the text without its surrounding whitespace (README: Fidelity).
        output = record.output.strip() if record.logliks is None else (record.extracted or "")
        case = Case(output=output, item=item, extracted=record.extracted, fmt=record.format,
                    labels=tuple(labels), prompt=record.prompt,
                    seconds=None if record.cached else record.seconds)  # a cached answer's time is the lookup's
        passed, score, verdicts = self.verdict(case)
        return dataclasses.replace(record, correct=passed, score=score, checks=verdicts)
