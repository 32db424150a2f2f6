"""Judge agreement: accuracy and Cohen's κ of a judge's verdicts against human grades, on small hand-made records;
κ against scikit-learn's cohen_kappa_score, its interval against the asymptotic one."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from workbench.errors import ConfigError, DataError
from workbench.evaluate.agreement import cohen_kappa, human_grade, judge_agreement, kappa_interval


def rows(verdicts: list[bool], strategy: str = "rubric") -> list[dict]:
    return [{"strategy": strategy, "item_index": i, "id": f"q{i}", "correct": c} for i, c in enumerate(verdicts)]


def table(both: int, judge_only: int, human_only: int, neither: int) -> tuple[list[bool], list[bool]]:
    """Judge verdicts and human grades with these 2×2 counts."""
    judge = [True] * both + [True] * judge_only + [False] * human_only + [False] * neither
    human = [True] * both + [False] * judge_only + [True] * human_only + [False] * neither
    return judge, human


@pytest.mark.parametrize(("judge", "human"), [
    table(20, 5, 10, 15),
    table(3, 1, 0, 4),
    table(0, 3, 2, 0),  # never agree: κ < 0
    ([True, True, True], [True, False, True]),  # the judge constant: 0
    ([True, True, True], [False, False, False]),  # both constant, opposite: 0
    tuple(list(map(bool, np.random.default_rng(1).integers(0, 2, 37))) for _ in range(2)),
])
def test_kappa_equals_scikit_learn(judge, human):
    assert cohen_kappa(judge, human) == pytest.approx(cohen_kappa_score(judge, human), abs=1e-12)


def test_kappa_by_hand_and_undefined():
    # pₒ = 35/50; the judge passes 25/50, the person 30/50: pₑ = 0.5 · 0.6 + 0.5 · 0.4 = 0.5; κ = 0.2 / 0.5.
    assert cohen_kappa(*table(20, 5, 10, 15)) == pytest.approx(0.4, abs=1e-12)
    assert cohen_kappa(*table(4, 0, 0, 4)) == 1.0
    assert cohen_kappa([True] * 3, [True] * 3) is None  # pₑ = 1: 0/0 (scikit-learn: nan)
    assert cohen_kappa([False] * 3, [False] * 3) is None
    assert cohen_kappa([], []) is None
    with pytest.raises(ConfigError, match=r"^Agreement needs a grade per verdict: 1 verdicts vs 2 grades\.$"):
        cohen_kappa([True], [True, False])


def test_kappa_interval_is_close_to_the_asymptotic_one():
    judge, human = table(20, 5, 10, 15)
    (a,) = judge_agreement(rows(judge), {f"q{i}": h for i, h in enumerate(human)})
    assert (a.n, a.items, a.both_pass, a.judge_only, a.human_only, a.both_fail) == (50, 50, 20, 5, 10, 15)
    assert a.accuracy == 0.7 and a.kappa == pytest.approx(0.4) and a.note is None
    # Fleiss, Cohen & Everitt's SE for this table is 0.1270 (statsmodels' cohens_kappa): 0.4 ± 1.96 × 0.127 =
    # [0.151, 0.649].
    assert a.kappa_low == pytest.approx(0.151, abs=0.05) and a.kappa_high == pytest.approx(0.649, abs=0.05)
    assert judge_agreement(rows(judge), {f"q{i}": h for i, h in enumerate(human)}) == [a]  # seeded
    assert a.line() == ("rubric: the judge agrees with the human grades on 70.0% of 50 outputs (Cohen's κ = 0.40, "
                        f"95% bootstrap CI {a.kappa_low:.2f} to {a.kappa_high:.2f} over 50 items)")


def test_perfect_agreement_has_the_interval_one_to_one():
    (a,) = judge_agreement(rows([True, False, True, False]), {"q0": True, "q1": False, "q2": True, "q3": False})
    assert (a.accuracy, a.kappa, a.kappa_low, a.kappa_high) == (1.0, 1.0, 1.0, 1.0)
    # Resamples of one item only are left out (κ undefined there); each other resample agrees perfectly.
    assert kappa_interval([(1, 0, 0, 0), (0, 0, 0, 1)]) == (1.0, 1.0)
    assert kappa_interval([]) == (None, None)


def test_kappa_undefined_is_none_with_the_reason_not_nan():
    (a,) = judge_agreement(rows([True, True, True]), {"q0": True, "q1": True, "q2": True})
    assert (a.accuracy, a.kappa, a.kappa_low, a.kappa_high) == (1.0, None, None, None)
    assert a.note == "every output passed, by both the judge and the person"
    assert a.line() == ("rubric: the judge agrees with the human grades on 100.0% of 3 outputs "
                        "(Cohen's κ undefined: every output passed, by both the judge and the person)")
    assert not any(isinstance(v, float) and math.isnan(v) for v in a.to_dict().values())


def test_a_judge_that_passes_everything_has_kappa_zero_and_says_why():
    (a,) = judge_agreement(rows([True, True, True, True]), {"q0": True, "q1": False, "q2": True, "q3": True})
    assert (a.accuracy, a.kappa, a.kappa_low, a.kappa_high) == (0.75, 0.0, 0.0, 0.0)
    assert a.note == "the judge passed every output: κ is 0 by construction"
    assert a.line().endswith("(Cohen's κ = 0.00, 95% bootstrap CI 0.00 to 0.00 over 4 items; the judge passed "
                             "every output: κ is 0 by construction)")


def test_grades_per_output_come_before_grades_per_item_and_ungraded_outputs_are_left_out():
    records = rows([True, False, True]) + rows([False, False], strategy="exact")
    human = {"q0": True, "q1": True, ("rubric", 1): False, ("exact", 0): True}
    rubric, exact = judge_agreement(records, human)
    # rubric: q0 pass/pass, q1 fail/fail (its own grade over the item's), q2 ungraded.
    assert (rubric.strategy, rubric.n, rubric.both_pass, rubric.both_fail) == ("rubric", 2, 1, 1)
    # exact: q0 fail/pass (its own grade), q1 fail/pass (the item's).
    assert (exact.strategy, exact.n, exact.human_only, exact.accuracy) == ("exact", 2, 2, 0.0)
    assert exact.note == "the judge failed every output; the person passed every output: κ is 0 by construction"
    assert judge_agreement(records, {"q9": True}) == [] and judge_agreement([], {"q0": True}) == []
    assert human_grade({"strategy": "s", "item_index": 0, "id": 7}, {"7": False}) is False  # ids compared as text


def test_without_a_mapping_the_records_own_human_grades_count():
    records = [{**r, "human": h} for r, h in zip(rows([True, False, True]), [True, False, None], strict=True)]
    (a,) = judge_agreement(records)
    assert (a.n, a.accuracy, a.kappa) == (2, 1.0, 1.0)
    assert judge_agreement(rows([True])) == []


def test_repeats_are_outputs_of_their_own_resampled_with_their_item():
    records = [{"strategy": "s", "item_index": 2 * i + r, "id": f"q{i}", "repeat": r, "correct": c}
               for i, pair in enumerate([(True, False), (False, False)]) for r, c in enumerate(pair)]
    (a,) = judge_agreement(records, {"q0": True, "q1": False})
    assert (a.n, a.items, a.both_pass, a.human_only, a.both_fail) == (4, 2, 1, 1, 2)
    # pₒ 3/4; judge passes 1/4, person 2/4: pₑ = 1/8 + 3/8 = 1/2; κ = 1/4 / 1/2.
    assert a.kappa == pytest.approx(0.5)
    # Resampled by item: a resample is {q0, q0} (the person passes all, the judge half: κ 0),
    # {q1, q1} (both fail all: undefined, left out) or {q0, q1} (κ 0.5).
    assert (a.kappa_low, a.kappa_high) == (0.0, 0.5)


@pytest.mark.parametrize("bad", ["yes", 1, 0.0])
def test_a_grade_that_is_not_pass_or_fail_is_one_line(bad):
    with pytest.raises(DataError, match=r"^A human grade is pass \(true\) or fail \(false\), not .* \(item q0\)\.$"):
        judge_agreement(rows([True]), {"q0": bad})
