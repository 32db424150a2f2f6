"""Paired tests, bootstrap intervals and classification metrics on small hand-made outcomes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import wilcoxon

from workbench.errors import ConfigError, DataError
from workbench.score_stats import compare_scores, score_comparisons
from workbench.stats import (
    OTHER,
    bootstrap_difference,
    bootstrap_mean,
    compare,
    confusion_matrix,
    holm,
    item_means,
    label_metrics,
    macro_f1,
    mcnemar,
    mean_difference,
    paired_comparisons,
    paired_tests,
    per_label_accuracy,
    signed_rank_p,
)


def test_mcnemar_exact_on_hand_made_outcomes():
    t = mcnemar([True, True, True, True, False], [False, False, False, True, True], "x", "y")
    assert (t.only_a, t.only_b, t.n) == (3, 1, 5)
    assert t.p_value == pytest.approx(2 * (1 + 4) / 16)  # P(X <= 1), X ~ Binomial(4, 1/2), two-sided
    assert mcnemar([True], [True]).p_value == 1.0
    with pytest.raises(ConfigError, match="same items"):
        mcnemar([True], [True, False])
    records = [{"strategy": s, "item_index": i, "correct": c}
               for s, outcomes in (("zero", [0, 0, 1]), ("knn4", [1, 1, 1])) for i, c in enumerate(outcomes)]
    (pair,) = paired_tests(records)
    assert (pair.a, pair.b, pair.only_a, pair.only_b, pair.p_value) == ("zero", "knn4", 0, 2, 0.5)


def test_mcnemar_six_to_zero_discordant():
    # 6 items right with a only, none with b only: 2 * (1/2)^6 = 0.03125.
    t = mcnemar([True] * 6 + [True, False], [False] * 6 + [True, False])
    assert (t.only_a, t.only_b, t.p_value) == (6, 0, 0.03125)


def test_bootstrap_interval_on_hand_computed_cases():
    # Every item differs the same way: every resample has difference 1, so the interval is [1, 1].
    iv = bootstrap_difference([True] * 5, [False] * 5)
    assert (iv.estimate, iv.low, iv.high) == (1.0, 1.0, 1.0)
    # Identical outcomes: difference 0 everywhere.
    iv = bootstrap_difference([True, False, True], [True, False, True])
    assert (iv.estimate, iv.low, iv.high) == (0.0, 0.0, 0.0)
    # Two items, differences (1, 0): a resample's mean is 0 (p 1/4), 0.5 (1/2) or 1 (1/4); the 2.5% and
    # 97.5% percentiles are 0 and 1.
    iv = bootstrap_difference([True, False], [False, False])
    assert (iv.estimate, iv.low, iv.high) == (0.5, 0.0, 1.0)
    # b better: the sign follows a − b.
    iv = bootstrap_difference([False, False], [True, False])
    assert (iv.estimate, iv.low, iv.high) == (-0.5, -1.0, 0.0)


def test_bootstrap_interval_matches_the_normal_approximation_and_is_seeded():
    # 100 items: a right on 60, b right on 40, concordant elsewhere: differences are 20×(+1), 80×0.
    a = [True] * 20 + [True] * 40 + [False] * 40
    b = [False] * 20 + [True] * 40 + [False] * 40
    iv = bootstrap_difference(a, b)
    # mean 0.2, sd of the differences sqrt(0.2 * 0.8) = 0.4, SE 0.04: 0.2 ± 1.96 × 0.04 = [0.1216, 0.2784].
    assert iv.estimate == pytest.approx(0.2)
    assert iv.low == pytest.approx(0.1216, abs=0.02) and iv.high == pytest.approx(0.2784, abs=0.02)
    assert bootstrap_difference(a, b) == iv  # same seed, same interval
    with pytest.raises(ConfigError, match="same items"):
        bootstrap_difference([True], [])


def test_paired_comparisons_from_records_and_their_line():
    records = [{"strategy": s, "item_index": i, "correct": c}
               for s, outcomes in (("a/zero", [1, 1, 1, 1, 0]), ("a/knn4", [0, 0, 0, 1, 1]))
               for i, c in enumerate(outcomes)]
    (c,) = paired_comparisons(records)
    assert (c.a, c.b, c.n, c.accuracy_a, c.accuracy_b, c.only_a, c.only_b) == ("a/zero", "a/knn4", 5, 0.8, 0.4, 3, 1)
    assert c.difference == pytest.approx(0.4) and c.p_value == pytest.approx(0.625)
    assert c.ci_low <= c.difference <= c.ci_high
    assert c.line().startswith("a/zero − a/knn4: +40.0 points on 5 items (McNemar p = 0.625; 95% bootstrap CI ")
    assert compare([], []).n == 0


def test_confusion_matrix_per_label_accuracy_and_macro_f1():
    gold = ["pos", "pos", "pos", "neg", "neg"]
    pred = ["pos", "pos", "neg", "neg", "maybe"]
    cm = confusion_matrix(gold, pred)
    assert cm.labels == ("pos", "neg") and cm.columns == ("pos", "neg", OTHER)
    assert cm.counts == ((2, 1, 0), (0, 1, 1))
    assert per_label_accuracy(cm) == {"pos": 2 / 3, "neg": 0.5}
    # pos: P = 2/2, R = 2/3, F1 = 0.8; neg: P = 1/2, R = 1/2, F1 = 0.5; (other) ("maybe"): predicted once, never
    # gold, F1 = 0; macro (0.8 + 0.5 + 0) / 3, as scikit-learn's default label set counts it (0.65 without it).
    assert macro_f1(cm) == pytest.approx(1.3 / 3)
    with pytest.raises(ConfigError, match="not one of the labels"):
        confusion_matrix(["x"], ["x"], labels=["y"])


def test_label_metrics_agree_with_correctness():
    records = [
        {"strategy": "zero", "gold": "world", "extracted": "World", "correct": True},
        {"strategy": "zero", "gold": "sports", "extracted": "World.", "correct": False},
        {"strategy": "zero", "gold": "sports", "extracted": "SPORTS", "correct": False},  # counted as said
        {"strategy": "zero", "gold": "sports", "extracted": "", "correct": False},
    ]
    (m,) = label_metrics(records)
    assert m.confusion.columns == ("world", "sports", OTHER)
    assert m.confusion.counts == ((1, 0, 0), (0, 1, 2))
    assert dict(m.per_label) == {"world": 1.0, "sports": pytest.approx(1 / 3)}
    assert m.to_dict()["macro_f1"] == m.macro_f1


# (gold labels, extracted answers): hand-made predictions, unparsed ones ("", "World.", "no idea") among them.
F1_CASES = [
    (["a", "a", "b"], ["a", "", "b"]),  # the example: 0.556 (0.833 with the unparsed answer dropped)
    (["pos", "pos", "neg", "neg", "neg"], ["pos", "neg", "neg", "no idea", "maybe"]),
    (["world", "sports", "sports", "sports", "tech"], ["World", "World.", "SPORTS", "", "tech"]),
    (["x", "y", "z"], ["y", "z", "x"]),  # all wrong, none unparsed
    (["x", "x", "y"], ["x", "x", "y"]),  # all right
]


@pytest.mark.parametrize(("gold", "said"), F1_CASES)
def test_macro_f1_equals_scikit_learns_own_with_unparsed_answers_counted_as_wrong(gold, said):
    """scikit-learn's f1_score(average="macro") on the same predictions, an answer naming no label being one
    class "(other)" (never gold, F1 0; and a miss for its gold label)."""
    from sklearn.metrics import f1_score

    records = [{"strategy": "s", "gold": g, "extracted": x, "correct": x.strip().casefold() == g}
               for g, x in zip(gold, said, strict=True)]
    named = {g.casefold(): g for g in gold}
    predicted = [named.get(x.strip().casefold(), OTHER) for x in said]
    (m,) = label_metrics(records, sorted(set(gold)))
    assert m.macro_f1 == pytest.approx(f1_score(gold, predicted, average="macro"), abs=1e-12)
    if gold == ["a", "a", "b"]:
        assert round(m.macro_f1, 3) == 0.556


def test_label_metrics_take_gold_answers_outside_the_labels_as_labels():
    records = [{"strategy": "s", "gold": "Positive", "extracted": "positive", "correct": True},
               {"strategy": "s", "gold": "neutral", "extracted": "positive", "correct": False}]
    (m,) = label_metrics(records, ["positive", "negative"])
    assert m.confusion.labels == ("positive", "negative", "neutral")
    assert m.confusion.counts == ((1, 0, 0), (0, 0, 0), (1, 0, 0))
    # "negative" is neither gold nor predicted: left out. positive: P 1/2, R 1, F1 2/3; neutral: F1 0.
    assert m.macro_f1 == pytest.approx(1 / 3)


# --------------------------------------------------------------------------- Holm

HOLM_TABLE = [  # (p-values, Holm-adjusted by hand: the i-th smallest × (m − i), running max, capped at 1)
    ([0.01, 0.02, 0.03, 0.04, 0.05], [0.05, 0.08, 0.09, 0.09, 0.09]),
    ([0.3, 0.001, 0.2, 0.6], [0.6, 0.004, 0.6, 0.6]),  # given order kept; 3 × 0.2 = 2 × 0.3 = 0.6
    ([0.4, 0.5], [0.8, 0.8]),  # 2 × 0.4; 1 × 0.5 raised to the running max
    ([0.6, 0.7], [1.0, 1.0]),  # capped
    ([0.02, 0.02], [0.04, 0.04]),  # ties
    ([0.03], [0.03]),
    ([], []),
]


@pytest.mark.parametrize(("p", "adjusted"), HOLM_TABLE)
def test_holm_on_a_hand_computed_table(p, adjusted):
    assert holm(p) == pytest.approx(adjusted, abs=1e-15)


@pytest.mark.parametrize(("p", "adjusted"), HOLM_TABLE[:5])
def test_holm_equals_statsmodels(p, adjusted):
    multipletests = pytest.importorskip("statsmodels.stats.multitest").multipletests
    assert holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]), abs=1e-15)


@pytest.mark.parametrize("bad", [float("nan"), 1.5, -0.1, "0.1", None])
def test_holm_refuses_what_is_not_a_p_value(bad):
    with pytest.raises(ConfigError, match=r"^A p-value must be a number between 0 and 1, not "):
        holm([0.1, bad])


# --------------------------------------------------------------------------- Wilcoxon

def test_signed_rank_p_by_hand():
    # |d| ranks 4, 2, 3, 1; R− = 2. Exact two-sided p = 2 × P(W ≤ 2) = 2 × 3/16 ({}, {1}, {2} of 16 sign patterns).
    assert signed_rank_p([0.5, -0.2, 0.3, 0.1]) == 0.375
    assert signed_rank_p([1.0] * 6) == 2 / 2**6
    assert signed_rank_p([0.25, 0.0, 0.0]) == 1.0  # zeros dropped: one difference left, p = 1
    # Float noise is no difference: 0.3 − 0.2 − 0.1 is not exactly 0, but rounds to it.
    assert 0.3 - 0.2 - 0.1 != 0 and signed_rank_p([0.3 - 0.2 - 0.1, 0.0]) == 1.0


def test_signed_rank_p_of_no_difference_is_one():
    assert signed_rank_p([0.0] * 5) == 1.0
    assert signed_rank_p([]) == 1.0


@pytest.mark.parametrize("d", [
    [0.4, -0.1, 0.3, 0.2, 0.25, -0.05, 0.6],  # small, distinct: exact
    [0.1, 0.1, -0.2, 0.3, 0.3, 0.05, 0.0, 0.0],  # ties and zeros
    list(np.round(np.random.default_rng(3).normal(0.05, 0.2, 80), 2)),  # n > 50 with ties: normal approximation
])
def test_signed_rank_p_equals_scipy(d):
    assert signed_rank_p(d) == pytest.approx(float(wilcoxon(d).pvalue), rel=1e-12)


# --------------------------------------------------------------------------- repeats and Holm on records

def _repeated(strategy: str, outcomes: list[tuple], key: str = "correct") -> list[dict]:
    """Repeat r of item i at item_index i * N + r, as the runner stores it."""
    n = len(outcomes[0])
    return [{"strategy": strategy, "item_index": i * n + r, "id": f"q{i}", "repeat": r, key: v}
            for i, values in enumerate(outcomes) for r, v in enumerate(values)]


def test_item_means_pair_repeats_by_item_id():
    rows = _repeated("a", [(1, 1), (1, 0), (0, 0)]) + [
        {"strategy": "b", "item_index": i, "id": f"q{i}", "correct": c} for i, c in enumerate([0, 1, 0])]
    assert item_means(rows) == {"a": {"q0": 1.0, "q1": 0.5, "q2": 0.0}, "b": {"q0": 0.0, "q1": 1.0, "q2": 0.0}}
    with pytest.raises(ConfigError, match=r"^Item id 'q1' appears twice in a's repeat 0: "):
        item_means([*rows, {"strategy": "a", "item_index": 9, "id": "q1", "repeat": 0, "correct": 1}])
    with pytest.raises(ConfigError, match=r"^Repeated runs are paired by item id, but a record has none\.$"):
        item_means([*rows, {"strategy": "c", "item_index": 0, "repeat": 0, "correct": 1}])


def test_paired_comparisons_of_repeats_compare_pass_rates_with_wilcoxon():
    # a repeats each item twice (pass rates 1, 0.5, 0); b runs once and fails all three. Stored indexes differ
    # (a's item q1 is at 2 and 3, b's at 1): pairing by index would compare the wrong items.
    rows = _repeated("a", [(1, 1), (1, 0), (0, 0)]) + [
        {"strategy": "b", "item_index": i, "id": f"q{i}", "correct": False} for i in range(3)]
    (c,) = paired_comparisons(rows)
    assert (c.a, c.b, c.n, c.accuracy_a, c.accuracy_b, c.difference) == ("a", "b", 3, 0.5, 0.0, 0.5)
    assert (c.only_a, c.only_b, c.test, c.p_holm) == (2, 0, "Wilcoxon", None)
    assert c.p_value == 0.5  # two non-zero differences, both positive: 2 × 1/4
    # A resample of three items is all-0 or all-1 with chance 1/27 each (> 2.5%): the interval is [0, 1].
    assert (c.ci_low, c.ci_high) == (0.0, 1.0)
    assert c.line() == ("a − b: +50.0 points on 3 items, each item's pass rate over its repeats "
                        "(Wilcoxon p = 0.5; 95% bootstrap CI +0.0 to +100.0)")
    with pytest.raises(ConfigError, match=r"^McNemar's test takes one pass/fail per item; these records repeat"):
        paired_tests(rows)


def test_paired_comparisons_of_three_strategies_are_holm_adjusted():
    rows = [{"strategy": s, "item_index": i, "correct": c}
            for s, outcomes in (("x", [1] * 6), ("y", [0] * 6), ("z", [1] * 6)) for i, c in enumerate(outcomes)]
    cs = paired_comparisons(rows)
    assert [(c.a, c.b, c.p_value) for c in cs] == [("x", "y", 0.03125), ("x", "z", 1.0), ("y", "z", 0.03125)]
    # Sorted 0.03125, 0.03125, 1: 3 × 0.03125 = 0.09375; max(0.09375, 2 × 0.03125); 1.
    assert [c.p_holm for c in cs] == [0.09375, 1.0, 0.09375]
    assert cs[0].line() == ("x − y: +100.0 points on 6 items (McNemar p = 0.0312, Holm-adjusted p = 0.0938; "
                            "95% bootstrap CI +100.0 to +100.0)")
    assert cs[0].to_dict()["p_holm"] == 0.09375 and cs[0].to_dict()["test"] == "McNemar"
    assert [t.p_holm for t in paired_tests(rows)] == [0.09375, 1.0, 0.09375]
    assert paired_tests(rows[:12])[0].p_holm is None  # two strategies: one pair, nothing to adjust


# --------------------------------------------------------------------------- continuous scores

def test_bootstrap_mean_of_scores_and_mean_difference():
    assert bootstrap_mean([0.2] * 4) == bootstrap_mean([0.2] * 4, seed=5)
    assert (bootstrap_mean([0.2] * 4).low, bootstrap_mean([0.2] * 4).high) == (0.2, 0.2)
    # Two items, differences 0.5 and 0.0: a resample's mean is 0, 0.25 or 0.5 (chance 1/4, 1/2, 1/4).
    iv = bootstrap_mean([0.5, 0.0])
    assert (iv.estimate, iv.low, iv.high) == (0.25, 0.0, 0.5)
    with pytest.raises(ConfigError, match="same items"):
        mean_difference([0.5], [])


def test_score_comparisons_on_hand_made_scores():
    rows = [{"strategy": s, "item_index": i, "score": x}
            for s, xs in (("rubric", [0.9, 0.5, 0.7, 1.0]), ("exact", [0.6, 0.5, 0.2, 0.0])) for i, x in enumerate(xs)]
    rows.append({"strategy": "format", "item_index": 0, "correct": True})  # judged by its format: no score
    (c,) = score_comparisons(rows)
    assert (c.a, c.b, c.n, c.higher_a, c.higher_b, c.p_holm, c.repeats) == ("rubric", "exact", 4, 3, 0, None, False)
    assert c.mean_a == pytest.approx(0.775) and c.mean_b == pytest.approx(0.325)
    assert c.difference == pytest.approx(0.45)  # (0.3 + 0 + 0.5 + 1.0) / 4
    assert c.p_value == 0.25  # three non-zero differences, all positive: 2 / 2**3
    assert c.ci_low <= c.difference <= c.ci_high and c.ci_high <= 1.0
    assert c.line().startswith("rubric − exact: mean score +0.450 on 4 items (Wilcoxon p = 0.25; 95% bootstrap CI ")
    assert c.to_dict()["p_value"] == 0.25


def test_score_comparisons_equal_scipy_and_the_bootstrap():
    rng = np.random.default_rng(7)
    a = list(np.round(rng.uniform(0, 1, 60), 2))
    b = list(np.round(np.clip(np.array(a) - rng.normal(0.05, 0.1, 60), 0, 1), 2))
    c = compare_scores(a, b)
    d = [x - y for x, y in zip(a, b, strict=True)]
    assert c.p_value == pytest.approx(float(wilcoxon(np.round(d, 12)).pvalue), rel=1e-12)
    iv = bootstrap_mean(d)
    assert (c.difference, c.ci_low, c.ci_high) == (iv.estimate, iv.low, iv.high)
    # The interval is close to the normal one: mean ± 1.96 sd / sqrt(n).
    half = 1.96 * float(np.std(d, ddof=1)) / math.sqrt(60)
    assert c.ci_low == pytest.approx(c.difference - half, abs=0.01)
    assert c.ci_high == pytest.approx(c.difference + half, abs=0.01)


def test_score_comparisons_with_no_difference_and_with_repeats():
    same = [{"strategy": s, "item_index": i, "score": 0.5} for s in ("a", "b") for i in range(3)]
    (c,) = score_comparisons(same)
    assert (c.difference, c.ci_low, c.ci_high, c.p_value, c.higher_a, c.higher_b) == (0.0, 0.0, 0.0, 1.0, 0, 0)
    # Repeats: each item's mean over its repeats (a: 0.5, 0.75; b: 0.25, 0.25), paired by id across strategies.
    rows = _repeated("a", [(0.25, 0.75), (1.0, 0.5)], "score") + _repeated("b", [(0.25,), (0.25,)], "score")
    rows[-1] = {**rows[-1], "repeat": None}  # a strategy run once stores no repeat
    (c,) = score_comparisons(rows)
    assert (c.n, c.mean_a, c.mean_b, c.difference, c.repeats) == (2, 0.625, 0.25, 0.375, True)
    assert "each item's mean over its repeats" in c.line()


def test_score_comparisons_of_three_strategies_are_holm_adjusted():
    rows = [{"strategy": s, "item_index": i, "score": x}
            for s, xs in (("a", [0.9] * 6), ("b", [0.1] * 6), ("c", [0.9] * 6)) for i, x in enumerate(xs)]
    cs = score_comparisons(rows)
    assert [c.p_value for c in cs] == [0.03125, 1.0, 0.03125]
    assert [c.p_holm for c in cs] == [0.09375, 1.0, 0.09375]
    assert "Wilcoxon p = 0.0312, Holm-adjusted p = 0.0938;" in cs[0].line()


@pytest.mark.parametrize("bad", [1.5, -0.2, float("nan"), "0.5", True])
def test_a_stored_score_that_is_no_number_in_range_is_one_line(bad):
    rows = [{"strategy": "a", "item_index": 0, "score": 0.5}, {"strategy": "b", "item_index": 0, "score": bad}]
    with pytest.raises(DataError, match=r"^b item 0: score .* is not a number between 0 and 1\.$"):
        score_comparisons(rows)
