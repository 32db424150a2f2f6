"""Paired tests, bootstrap intervals and classification metrics on small hand-made outcomes."""

from __future__ import annotations

import pytest

from workbench.errors import ConfigError
from workbench.stats import (
    OTHER,
    bootstrap_difference,
    compare,
    confusion_matrix,
    label_metrics,
    macro_f1,
    mcnemar,
    paired_comparisons,
    paired_tests,
    per_label_accuracy,
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
    # pos: P = 2/2, R = 2/3, F1 = 0.8; neg: P = 1/2, R = 1/2, F1 = 0.5; macro 0.65.
    assert macro_f1(cm) == pytest.approx(0.65)
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


def test_label_metrics_take_gold_answers_outside_the_labels_as_labels():
    records = [{"strategy": "s", "gold": "Positive", "extracted": "positive", "correct": True},
               {"strategy": "s", "gold": "neutral", "extracted": "positive", "correct": False}]
    (m,) = label_metrics(records, ["positive", "negative"])
    assert m.confusion.labels == ("positive", "negative", "neutral")
    assert m.confusion.counts == ((1, 0, 0), (0, 0, 0), (1, 0, 0))
    # "negative" is neither gold nor predicted: left out. positive: P 1/2, R 1, F1 2/3; neutral: F1 0.
    assert m.macro_f1 == pytest.approx(1 / 3)
