"""The CI gate's verdicts (workbench/evaluate/gate.py): small hand-made runs, every figure and p worked out by hand.

McNemar's exact p: with d discordant items all going one way, p = 2 / 2**d. Wilcoxon's exact signed-rank p (as
scipy gives it): with n non-zero differences all of one sign, p = 2 / 2**n.
"""

from __future__ import annotations

import pytest

from workbench.errors import ConfigError
from workbench.evaluate.gate import (
    FailIfWorse,
    FailUnder,
    check_alpha,
    check_baseline,
    failed,
    gate,
    parse_fail_under,
    resolve,
)


def rows(strategy: str, outcomes, ids=None, repeat: int | None = None) -> list[dict]:
    """One strategy's records: item i right or wrong (``outcomes``), id ``q{i}`` unless ``ids`` says."""
    ids = ids or [f"q{i}" for i in range(len(outcomes))]
    return [{"strategy": strategy, "item_index": i, "id": ids[i], "correct": bool(c),
             **({} if repeat is None else {"repeat": repeat})} for i, c in enumerate(outcomes)]


def repeated(strategy: str, runs) -> list[dict]:
    """Repeated records: ``runs[r][i]`` is item i's outcome in repeat r (stored at i * N + r, as the runner does)."""
    n = len(runs)
    return [{"strategy": strategy, "item_index": i * n + r, "id": f"q{i}", "repeat": r, "correct": bool(c)}
            for r, outcomes in enumerate(runs) for i, c in enumerate(outcomes)]


# --------------------------------------------------------------------------- --fail-under

def test_fail_under_every_strategy_and_a_named_one_wins_for_its_strategy():
    records = rows("zero", [1, 1, 1, 0, 0]) + rows("knn4", [1, 1, 1, 1, 0])  # 60% and 80%
    verdicts = gate("finished", records, [FailUnder(0.8)])
    assert [(v.strategy, v.passed, v.line) for v in verdicts] == [
        ("zero", False, "zero 60.0% < 80.0% (--fail-under)"),
        ("knn4", True, "knn4 80.0% >= 80.0% (--fail-under)")]  # the bound itself passes
    verdicts = gate("finished", records, [FailUnder(0.8), FailUnder(0.6, "zero")])
    assert [v.line for v in verdicts] == ["zero 60.0% >= 60.0% (--fail-under)", "knn4 80.0% >= 80.0% (--fail-under)"]
    assert failed(verdicts) == []
    # A named rule alone judges its strategy only.
    assert [v.line for v in gate("finished", records, [FailUnder(0.9, "knn4")])] == [
        "knn4 80.0% < 90.0% (--fail-under)"]


def test_repeats_count_every_run_as_the_table_does():
    records = repeated("s", [[1, 1], [1, 0], [0, 0]])  # 3 of 6 outputs right
    assert [v.line for v in gate("finished", records, [FailUnder(0.5)])] == ["s 50.0% >= 50.0% (--fail-under)"]


@pytest.mark.parametrize("status", ["failed", "cancelled", "running"])
def test_a_run_that_did_not_finish_never_passes(status):
    records = rows("zero", [1, 1])
    verdicts = gate(status, records, [FailUnder(0.5)], run="run 7")
    assert [(v.rule, v.passed, v.line) for v in verdicts] == [
        ("status", False, f"run 7 ended {status}; a run that did not finish never passes the gate"),
        ("--fail-under", True, "zero 100.0% >= 50.0% (--fail-under)")]
    assert len(failed(verdicts)) == 1
    assert failed(gate("finished", records, [FailUnder(0.5)])) == []
    # A strategy of the run with no results (it stopped before reaching it) fails its rule.
    verdicts = gate(status, records, [FailUnder(0.0)], run="run 7", names=["zero", "knn4"])
    assert [(v.strategy, v.passed, v.line) for v in verdicts[1:]] == [
        ("zero", True, "zero 100.0% >= 0.0% (--fail-under)"), ("knn4", False, "knn4 has no results (--fail-under)")]


@pytest.mark.parametrize(("text", "rule"), [
    ("0.8", FailUnder(0.8)), ("0", FailUnder(0.0)), ("1", FailUnder(1.0)), (" zero = 0.5 ", FailUnder(0.5, "zero")),
    ("a=b=0.25", FailUnder(0.25, "a=b")), ("zero @ gemma-3-270m=0.7", FailUnder(0.7, "zero @ gemma-3-270m")),
])
def test_fail_under_values(text, rule):
    assert parse_fail_under(text) == rule


@pytest.mark.parametrize(("text", "message"), [
    ("80", "--fail-under 80: the threshold must be a number from 0 to 1 (0.8 for 80%), not '80'."),
    ("-0.1", "--fail-under -0.1: the threshold must be a number from 0 to 1, not '-0.1'."),
    ("nan", "--fail-under nan: the threshold must be a number from 0 to 1, not 'nan'."),
    ("zero=high", "--fail-under zero=high: the threshold must be a number from 0 to 1, not 'high'."),
    ("zero=", "--fail-under zero=: the threshold must be a number from 0 to 1, not ''."),
    ("=0.5", "--fail-under =0.5: name the strategy before '=' (as the table shows it), or give the number alone "
             "for every strategy."),
])
def test_bad_fail_under_values_are_one_line(text, message):
    with pytest.raises(ConfigError) as err:
        parse_fail_under(text)
    assert str(err.value) == message


def test_rules_name_strategies_of_the_run():
    names = ["zero", "knn4"]
    assert resolve([FailUnder(0.5, "ZERO")], names) == {"zero": FailUnder(0.5, "zero")}
    cases = [
        ([FailUnder(0.5, "random4")], "--fail-under random4=0.5 names no strategy of this run; its strategies: zero, "
                                      "knn4."),
        ([FailUnder(0.5), FailUnder(0.6)], "--fail-under 0.5 and --fail-under 0.6 both apply to every strategy; give "
                                           "one (and NAME=X for a strategy of its own)."),
        ([FailUnder(0.5, "zero"), FailUnder(0.6, "Zero")], "--fail-under zero=0.5 and --fail-under Zero=0.6 both name "
                                                           "'zero'; give one."),
    ]
    for rules, message in cases:
        with pytest.raises(ConfigError) as err:
            resolve(rules, names)
        assert str(err.value) == message
    # Names that differ only by case: the exact one, and no guess between them.
    assert resolve([FailUnder(0.5, "aB")], ["Ab", "aB"]) == {"aB": FailUnder(0.5, "aB")}
    with pytest.raises(ConfigError, match=r"^--fail-under ab=0\.5 names no strategy of this run; its strategies: Ab, aB\.$"):
        resolve([FailUnder(0.5, "ab")], ["Ab", "aB"])


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.5, float("nan")])
def test_alpha_is_between_0_and_1(alpha):
    with pytest.raises(ConfigError, match=r"^--alpha must be a number above 0 and below 1 \(e\.g\. 0\.05\), not "):
        check_alpha(alpha)


# --------------------------------------------------------------------------- --fail-if-worse

def test_fail_if_worse_mcnemar_on_the_shared_items():
    base = FailIfWorse("run 12", tuple(rows("zero", [1] * 8)))
    now = rows("zero", [1, 1, 0, 0, 0, 0, 0, 0])  # 6 items broken, none fixed: p = 2 / 2**6
    (v,) = gate("finished", now, worse=base)
    assert (v.rule, v.strategy, v.passed) == ("--fail-if-worse", "zero", False)
    assert v.line == "zero 25.0% vs 100.0% in run 12, p = 0.0312 < 0.05 (--fail-if-worse)"
    # The same drop at a stricter level passes.
    (v,) = gate("finished", now, worse=FailIfWorse("run 12", base.records, alpha=0.01))
    assert v.passed and v.line == "zero 25.0% vs 100.0% in run 12, p = 0.0312 >= 0.01 (--fail-if-worse)"
    # Five broken items: p = 2 / 2**5 = 0.0625, not significant at 0.05.
    (v,) = gate("finished", rows("zero", [1, 1, 1, 0, 0, 0, 0, 0]), worse=base)
    assert v.passed and v.line == "zero 37.5% vs 100.0% in run 12, p = 0.0625 >= 0.05 (--fail-if-worse)"


def test_a_significantly_better_run_passes():
    base = FailIfWorse("base.jsonl", tuple(rows("zero", [0] * 8)))
    (v,) = gate("finished", rows("zero", [1] * 8), worse=base)
    assert v.passed and v.line == "zero 100.0% vs 0.0% in base.jsonl, p = 0.00781 < 0.05 (--fail-if-worse)"


def test_items_pair_by_id_not_by_position():
    # The baseline ran the same 6 items in reverse order; by position every outcome would differ.
    ids = [f"q{i}" for i in range(6)]
    base = FailIfWorse("run 3", tuple(rows("zero", [0, 0, 0, 1, 1, 1], ids=ids[::-1])))  # q5..q3 wrong, q2..q0 right
    now = rows("zero", [1, 1, 1, 0, 0, 0])  # q0..q2 right, q3..q5 wrong: the same outcome per id
    (v,) = gate("finished", now, worse=base)
    assert v.line == "zero 50.0% vs 50.0% in run 3, p = 1 >= 0.05 (--fail-if-worse)"
    # Only shared items count: the baseline's extra item q9 (right) changes nothing.
    extra = rows("zero", [1], ids=["q9"])
    (v2,) = gate("finished", now, worse=FailIfWorse("run 3", base.records + tuple(extra)))
    assert v2.line == v.line


def test_repeated_records_compare_item_pass_rates_with_wilcoxon():
    base = FailIfWorse("run 5", tuple(rows("s", [1] * 6)))
    now = repeated("s", [[0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0]])  # item pass rates 0, 0, .5, 0, 0, 0
    (v,) = gate("finished", now, worse=base)
    # Six items lower, none higher: Wilcoxon's exact p = 2 / 2**6; the rates are the items' means (1/12 of 100%).
    assert v.line == "s 8.3% vs 100.0% in run 5, p = 0.0312 < 0.05 (--fail-if-worse)" and not v.passed
    # The baseline repeated, this run not: paired the same way.
    (w,) = gate("finished", rows("s", [0] * 6), worse=FailIfWorse("run 5", tuple(repeated("s", [[1] * 6, [1] * 6]))))
    assert w.line == "s 0.0% vs 100.0% in run 5, p = 0.0312 < 0.05 (--fail-if-worse)"


def test_a_strategy_the_baseline_lacks_is_skipped_and_one_sharing_no_item_fails():
    base = FailIfWorse("run 2", tuple(rows("zero", [1, 1]) + rows("knn4", [1, 1], ids=["x0", "x1"])))
    now = rows("zero", [1, 1]) + rows("knn4", [1, 1]) + rows("random4", [0, 0])
    verdicts = gate("finished", now, [FailUnder(0.0)], base)
    assert [(v.rule, v.strategy, v.passed, v.skipped, v.line) for v in verdicts[3:]] == [
        ("--fail-if-worse", "zero", True, False, "zero 100.0% vs 100.0% in run 2, p = 1 >= 0.05 (--fail-if-worse)"),
        ("--fail-if-worse", "knn4", False, False,
         "knn4 shares no item with run 2 (items pair by id); nothing to compare (--fail-if-worse)"),
        ("--fail-if-worse", "random4", True, True,
         "random4: run 2 has no strategy of this name; not compared (--fail-if-worse)")]
    assert [v.strategy for v in failed(verdicts)] == ["knn4"]


def test_the_baseline_is_checked_before_the_run():
    base = FailIfWorse("run 3", tuple(rows("zero", [1, 0])))
    check_baseline(base, ["zero", "knn4"], ["q1", "q7"])  # one shared name, one shared item: fine
    cases = [
        (base, ["knn4"], None, "--fail-if-worse: run 3 has no strategy named as one of this run (this run: knn4; "
                               "run 3: zero); compare runs of the same strategies."),
        (base, ["zero"], ["a", "b"], "--fail-if-worse: run 3 shares no item with this run (items pair by id); "
                                     "compare runs on the same dataset."),
        (FailIfWorse("old.jsonl", ()), ["zero"], None, "--fail-if-worse: old.jsonl holds no item results; choose a "
                                                       "run that evaluated items."),
    ]
    for rule, names, ids, message in cases:
        with pytest.raises(ConfigError) as err:
            check_baseline(rule, names, ids)
        assert str(err.value) == message
