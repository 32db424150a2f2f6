"""The judging core (workbench.judging.registry, base, verdicts), exact outputs: an assertion as promptfoo writes it
(a mapping, a CSV ``__expected`` cell, ``--assert``) built into a validated Check or refused in one line; negation,
errors, weights, metrics and thresholds combined by promptfoo's rule."""

from __future__ import annotations

import dataclasses

import pytest

from workbench.data import Example
from workbench.errors import ConfigError
from workbench.evaluate.records import CheckVerdict as V
from workbench.judging.base import MAX_CHECKED_CHARS, Case, CheckError, Finding, JudgeKind
from workbench.judging.registry import JUDGES, build_check, build_checks, names, parse_cell, register_judge
from workbench.judging.verdicts import Judging, check_threshold, combine, named_scores

ITEM = Example("1", "Where is the Louvre?", "Paris")
CODE_LINE = ("Assertion type {!r} runs code from the file; the workbench never runs code from prompt or test files "
             "(they are shared and untrusted). Use a built-in type such as regex, is-json or llm-rubric.")


def refusal(spec, where: str = "p.yaml") -> str:
    with pytest.raises(ConfigError) as err:
        build_check(spec, where)
    return str(err.value)


@dataclasses.dataclass(frozen=True)
class Scripted(JudgeKind):
    """A test kind: its finding (or the error it raises) is the value it is built with."""

    value: str = "optional"

    def evaluate(self, params, case, threshold, tools):
        if isinstance(params, Exception):
            raise params
        if params is None:
            return Finding(True, 1.0, f"read {len(case.output)} characters")
        return params


@pytest.fixture
def scripted():
    """Two test kinds registered for one test: ``scripted`` and the un-negatable ``plain``."""
    kinds = [Scripted("scripted", "a test kind", threshold_range=(0.0, 1.0)),
             Scripted("plain", "a test kind that cannot be negated", negatable=False)]
    for kind in kinds:
        register_judge(kind)
    yield
    for kind in kinds:
        JUDGES.pop(kind.name)


def scripted_run(finding, *, negate: bool = False, output: str = "out"):
    check = build_check({"type": ("not-" if negate else "") + "scripted"})
    return dataclasses.replace(check, params=finding).run(Case(output=output, item=ITEM))


# ---- building: a mapping, a cell, a round trip ---------------------------------------------------------------

def test_a_mapping_builds_a_check_and_writes_back_the_same():
    check = build_check({"type": "not-rouge-n", "value": "a b", "threshold": 0.5, "weight": 2, "metric": " overlap "})
    assert (check.type, check.kind.name, check.negate, check.value) == ("not-rouge-n", "rouge-n", True, "a b")
    assert (check.threshold, check.weight, check.metric) == (0.5, 2.0, "overlap")
    assert check.to_dict() == {"type": "not-rouge-n", "value": "a b", "threshold": 0.5, "metric": "overlap",
                               "weight": 2.0}
    assert build_check(check.to_dict()) == check
    assert build_check("contains: Paris").to_dict() == {"type": "contains", "value": "Paris"}


@pytest.mark.parametrize(("cell", "spec"), [
    ("contains: Paris", {"type": "contains", "value": "Paris"}),
    ("contains:Paris", {"type": "contains", "value": "Paris"}),
    ("  not-regex:  ^a  ", {"type": "not-regex", "value": "^a"}),
    ("not-icontains", {"type": "not-icontains"}),
    ("is-json", {"type": "is-json"}),
    ("is-json:   ", {"type": "is-json"}),
    ("equals: a: b", {"type": "equals", "value": "a: b"}),  # only the first colon ends the type
    ("contains-any: a, b", {"type": "contains-any", "value": "a, b"}),  # the kind splits the list
    ("similar(0.8): a city", {"type": "similar", "value": "a city", "threshold": 0.8}),
    ("levenshtein(3): Paris", {"type": "levenshtein", "value": "Paris", "threshold": 3.0}),
    # text without a known type before its first colon is promptfoo's equals, whole
    ("Paris", {"type": "equals", "value": "Paris"}),
    ("Paris: the capital", {"type": "equals", "value": "Paris: the capital"}),
    ("note: hello", {"type": "equals", "value": "note: hello"}),
    # code types are read as such, to be refused by name
    ("javascript: 1", {"type": "javascript", "value": "1"}),
    ("fn: x", {"type": "javascript", "value": "x"}),
    ("python: x", {"type": "python", "value": "x"}),
])
def test_cells_read_as_promptfoos_csv_convention(cell, spec):
    assert parse_cell(cell) == spec


def test_a_cell_threshold_that_is_not_a_number_is_one_line():
    with pytest.raises(ConfigError) as err:
        parse_cell("similar(high): x", "row 2: ")
    assert str(err.value) == "row 2: assertion 'similar(high): x': the threshold in ( ) must be a number."


def test_build_checks_numbers_the_bad_one():
    with pytest.raises(ConfigError) as err:
        build_checks(["contains: a", "regex: ("], "data.csv row 3")
    assert str(err.value) == ("data.csv row 3 assertion 2: assertion 'regex': the regex '(' does not compile: missing "
                              ") at position 1.")
    assert [c.type for c in build_checks(["contains: a", "not-is-json"])] == ["contains", "not-is-json"]


def test_names_list_every_kind_in_registration_order():
    assert names(assertions_only=True)[:16] == [
        "equals", "contains", "icontains", "contains-any", "contains-all", "icontains-any", "icontains-all",
        "starts-with", "regex", "is-json", "contains-json", "levenshtein", "rouge-n", "bleu", "similar", "latency"]
    assert {"number", "choice", "yes_no", "label", "exact"} <= set(names()) - set(names(assertions_only=True))


def test_registering_a_name_twice_or_with_not_is_a_programming_error():
    with pytest.raises(ValueError, match="registered twice"):
        register_judge(Scripted("contains", "again"))
    with pytest.raises(ValueError, match="negation prefix"):
        register_judge(Scripted("not-this", "no"))


# ---- refusals: one line each ----------------------------------------------------------------------------------

@pytest.mark.parametrize("type_name", ["python", "javascript", "webhook", "ruby", "fn", "file", "not-javascript"])
def test_types_that_run_code_are_refused_by_name(type_name):
    assert refusal({"type": type_name, "value": "x"}) == "p.yaml: " + CODE_LINE.format(type_name)


@pytest.mark.parametrize(("spec", "line"), [
    ("python: import os", "p.yaml: " + CODE_LINE.format("python")),
    ({"type": "contains", "value": "x", "transform": "output.trim()"},
     "p.yaml: assertion key 'transform' runs code; the workbench never runs code from prompt or test files."),
    ({"type": "contains", "value": "x", "contextTransform": "y"},
     "p.yaml: assertion key 'contextTransform' runs code; the workbench never runs code from prompt or test files."),
    ({"type": "nope"}, "p.yaml: unknown assertion type 'nope'; use one of " + ", ".join(names()) + "."),
    ({"type": "contains", "value": "x", "colour": 1},
     "p.yaml: assertion has unknown key 'colour'; use config, metric, provider, rubricPrompt, threshold, type, value, "
     "weight."),
    ({}, "p.yaml: an assertion needs a type, e.g. contains, regex, is-json, llm-rubric."),
    ({"type": 3}, "p.yaml: an assertion needs a type, e.g. contains, regex, is-json, llm-rubric."),
    (["contains"], "p.yaml: an assertion must be a mapping with a type, e.g. {type: contains, value: Paris}, not "
                   "list."),
    ("contains", "p.yaml: assertion 'contains' needs a value."),
    ({"type": "contains", "value": []}, "p.yaml: assertion 'contains' needs a value."),
    ({"type": "latency", "value": "x", "threshold": 1}, "p.yaml: assertion 'latency' takes no value."),
    ({"type": "contains", "value": "x", "threshold": 0.5}, "p.yaml: assertion 'contains' takes no threshold."),
    ({"type": "rouge-n", "value": "x", "threshold": 1.01}, "p.yaml: assertion 'rouge-n': threshold 1.01 is outside "
                                                           "0..1."),
    ({"type": "contains", "value": "x", "threshold": float("nan")},
     "p.yaml: assertion 'contains': threshold must be a number, not nan."),
    ({"type": "contains", "value": "x", "weight": True}, "p.yaml: assertion 'contains': weight must be a number, not "
                                                         "True."),
    ({"type": "contains", "value": "x", "weight": -1}, "p.yaml: assertion 'contains': weight must be 0 or more, not "
                                                       "-1."),
    ({"type": "contains", "value": "x", "metric": ""}, "p.yaml: assertion 'contains': metric must be a short name."),
    ({"type": "contains", "value": "x", "metric": "m" * 101},
     "p.yaml: assertion 'contains': metric must be a short name."),
    ({"type": "contains", "value": "x", "provider": "p"},
     "p.yaml: assertion 'contains' takes no provider (only model-graded types do)."),
])
def test_bad_assertions_are_one_line(spec, line):
    assert refusal(spec) == line


def test_a_kind_that_cannot_be_negated_refuses_not(scripted):
    assert refusal({"type": "not-plain"}) == "p.yaml: assertion type 'plain' cannot be negated with 'not-'."
    assert build_check({"type": "plain"}).type == "plain"


# ---- running one check: negation, errors, bounds -------------------------------------------------------------

def test_not_inverts_pass_and_score_and_says_so(scripted):
    found = Finding(True, 0.8, "close enough")
    plain, negated = scripted_run(found), scripted_run(found, negate=True)
    assert (plain.type, plain.passed, plain.score, plain.reason) == ("scripted", True, 0.8, "close enough")
    assert (negated.type, negated.passed, negated.score, negated.reason) == ("not-scripted", False, 0.2,
                                                                             "not: close enough")


def test_a_score_outside_0_1_is_clamped(scripted):
    assert scripted_run(Finding(True, 1.7, "x")).score == 1.0
    assert scripted_run(Finding(False, -0.3, "x")).score == 0.0
    assert scripted_run(Finding(False, -0.3, "x"), negate=True).score == 1.0


@pytest.mark.parametrize("error", [CheckError("the judge's reply has no verdict\nsecond line"),
                                   ConfigError("A model-graded check needs a judge model")])
def test_a_check_that_cannot_judge_is_a_failed_verdict_never_inverted(scripted, error):
    for negate in (False, True):
        v = scripted_run(error, negate=negate)
        assert (v.passed, v.score, v.reason, v.error) == (False, 0.0, "could not judge",
                                                          str(error).splitlines()[0])


def test_a_run_away_output_is_cut_before_any_check_reads_it(scripted):
    assert scripted_run(None, output="x" * (MAX_CHECKED_CHARS + 5)).reason == f"read {MAX_CHECKED_CHARS} characters"


def test_a_long_value_is_shown_in_200_characters():
    v = build_check({"type": "contains", "value": "x" * 500}).run(Case(output="y", item=ITEM))
    assert v.value == "x" * 199 + "…"


# ---- combining: promptfoo's rule ------------------------------------------------------------------------------

def test_the_item_score_is_the_weighted_mean_and_every_check_must_pass():
    verdicts = [V("contains", True, 1.0, ""), V("rouge-n", False, 0.4, "", weight=2.0), V("regex", True, 1.0, "")]
    assert combine(verdicts, None) == (False, 0.7)  # (1 + 0.8 + 1) / 4
    assert combine(verdicts[::2], None) == (True, 1.0)


def test_a_threshold_decides_on_the_weighted_score_alone():
    verdicts = [V("contains", True, 1.0, ""), V("rouge-n", False, 0.4, "", weight=2.0), V("regex", True, 1.0, "")]
    assert combine(verdicts, 0.7) == (True, 0.7)
    assert combine(verdicts, 0.71) == (False, 0.7)
    assert combine([V("contains", True, 1.0, "")] * 2, 1.0) == (True, 1.0)


def test_a_threshold_of_0_is_no_threshold_as_in_promptfoo():
    verdicts = [V("contains", True, 1.0, ""), V("regex", False, 0.0, "")]
    assert combine(verdicts, 0.0) == combine(verdicts, None) == (False, 0.5)


def test_weight_0_checks_are_shown_but_cannot_fail_the_item():
    verdicts = [V("contains", True, 1.0, ""), V("regex", False, 0.0, "", weight=0.0)]
    assert combine(verdicts, None) == (True, 1.0)
    assert combine([V("regex", False, 0.0, "", weight=0.0)], None) == (True, 0.0)  # nothing weighs: score 0
    assert combine([V("regex", False, 0.0, "", weight=0.0)], 0.5) == (False, 0.0)
    assert combine([], None) == (True, 0.0)


def test_named_scores_are_each_metrics_weighted_mean():
    verdicts = [V("contains", True, 1.0, "", metric="facts"), V("rouge-n", False, 0.25, "", weight=3.0,
                                                                  metric="facts"),
                V("is-json", True, 1.0, "", metric="format"), V("regex", False, 0.0, ""),
                V("bleu", False, 0.5, "", weight=0.0, metric="fluency")]
    assert named_scores(verdicts) == {"facts": 0.4375, "format": 1.0, "fluency": 0.0}


def test_a_pass_threshold_is_a_number_from_0_to_1():
    assert check_threshold(None) is None and check_threshold(1) == 1.0
    for bad in (1.5, -0.1, True, "0.5"):
        with pytest.raises(ConfigError) as err:
            check_threshold(bad, "spec.yaml")
        assert str(err.value) == f"spec.yaml: the pass threshold must be a number from 0 to 1, not {bad!r}."


def test_judging_builds_every_items_checks_up_front_and_an_items_threshold_wins():
    items = [Example("1", "q", "Paris", checks=({"type": "contains", "value": "Rome", "weight": 3},)),
             Example("2", "q", "Paris", threshold=0.2, checks=({"type": "contains", "value": "Rome", "weight": 3},)),
             Example("3", "q", "Paris")]
    judging = Judging(build_checks(["contains: Paris"]), items, threshold=0.5)
    outcomes = [judging.verdict(Case(output="Paris", item=it))[:2] for it in items]
    assert outcomes == [(False, 0.25), (True, 0.25), (True, 1.0)]
    assert Judging([], items[2:]).verdict(Case(output="Paris", item=items[2])) is None  # its format judges it
    with pytest.raises(ConfigError) as err:
        Judging([], [Example("3", "q", "a", checks=({"type": "contains", "value": "x"}, {"type": "regex",
                                                                                          "value": "("}))])
    assert str(err.value) == "item 3 assertion 2: assertion 'regex': the regex '(' does not compile: missing ) at " \
                             "position 1."
    with pytest.raises(ConfigError) as err:
        Judging([], [Example("3", "q", "a", threshold=2)])
    assert str(err.value) == "item 3: the pass threshold must be a number from 0 to 1, not 2."
