"""The review of the judging code (issue #26): a check's provider never names a server, the providers are
checked in one place, a judge reply nested past Python's stack or any exception in a check is that item's error
(never an aborted run), an errored check fails its item whatever the threshold, latency is not measured on a
cached answer, every JSON Schema keyword that matches a pattern has the time limit, and promptfoo's ``{{var}}``
templates in a run-wide value are one line, not an item that silently never matches."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from tests.fakes import FakeBackend
from workbench.cli.judging_args import judge_factory
from workbench.data import Example, Pool
from workbench.errors import ConfigError
from workbench.evaluate.records import CheckVerdict, ItemRecord
from workbench.evaluate.runner import evaluate
from workbench.evaluate.strategies import Strategy
from workbench.judging.base import Case, Finding, JudgeKind
from workbench.judging.graded import check_providers, first_json_object
from workbench.judging.registry import build_check
from workbench.judging.tools import JudgeTools
from workbench.judging.verdicts import Judging, combine
from workbench.prompts import PromptSpec
from workbench.store import open_store

ITEM = Example("1", "What is the capital of France?", "Paris")
SERVER = "http://1.2.3.4:9/v1"
SERVER_LINE = (f"provider '{SERVER}' names a server; a check's provider must be a local judge model (a registry id, "
               "file or folder), since an assertion from a shared file would send your outputs there. Choose a "
               "server judge yourself with --judge URL (or the page's Judge model).")


# ---- 1. a check's provider never names a server ------------------------------------------------------------------
def test_a_checks_provider_naming_a_server_is_refused_when_built():
    with pytest.raises(ConfigError) as err:
        build_check({"type": "llm-rubric", "value": "is polite", "provider": SERVER})
    assert str(err.value) == f"assertion 'llm-rubric': {SERVER_LINE}"


def test_a_dataset_rows_provider_naming_a_server_fails_the_run_before_any_model_call(tmp_path):
    fake = FakeBackend(reply=lambda prompt, seed: "Paris")
    row = Example("7", "q", "a", checks=({"type": "factuality", "provider": SERVER},))
    with open_store(tmp_path / "wb.db") as store, pytest.raises(ConfigError) as err:
        evaluate(Pool("rows", (row,)), None, [Strategy("zero", PromptSpec(answer_format="free"))], fake, store)
    assert str(err.value) == f"item 7 assertion 1: assertion 'factuality': {SERVER_LINE}"
    assert fake.prompts == []


def test_the_users_own_judge_flag_may_still_name_a_server():
    factory = judge_factory(argparse.Namespace(judge=SERVER))  # nothing is loaded or called yet
    assert callable(factory)


# ---- 2. the providers are checked in one place --------------------------------------------------------------------
def test_a_provider_naming_a_missing_file_is_one_line_before_any_model_call():
    checks = [build_check({"type": "llm-rubric", "value": "x", "provider": "smollm2-135m-instruct"}),
              build_check({"type": "llm-rubric", "value": "x", "provider": "missing-judge.gguf"})]
    with pytest.raises(ConfigError) as err:
        check_providers(checks)
    assert str(err.value) == ("judge model 'missing-judge.gguf': Unknown model 'missing-judge.gguf': not a registry "
                              "id (gemma-3-270m, smollm2-135m-instruct) and no file or folder at that path.")


# ---- 3. a reply nested past the stack, any exception: that item's error ---------------------------------------
NESTED = '{"x": ' + "[" * 1000


def test_a_reply_nested_past_pythons_stack_is_read_as_no_json():
    assert first_json_object(NESTED) is None
    assert first_json_object(NESTED + ' {"pass": true}') == {"pass": True}


@pytest.mark.parametrize(("spec", "error"), [
    ({"type": "llm-rubric", "value": "is polite"}, "the judge's reply has no JSON object with pass or score."),
    ({"type": "factuality"}, "the judge's reply names no category A-E."),
])
def test_a_nested_reply_is_that_items_error_with_the_reply_kept(spec, error):
    judge = FakeBackend(reply=lambda prompt, seed: NESTED, context_window=4096)
    v = build_check(spec).run(Case(output="Paris.", item=ITEM), JudgeTools(judge=judge))
    assert (v.passed, v.score, v.reason, v.error) == (False, 0.0, "could not judge", error)
    assert v.reply.endswith("[" * 1000)


def test_any_exception_a_check_raises_is_that_items_error():
    class Buggy(JudgeKind):
        def evaluate(self, params, case, threshold, tools) -> Finding:
            raise KeyError("missing")

    buggy = dataclasses.replace(build_check("contains: a"), kind=Buggy("buggy", "", value="none"))
    v = buggy.run(Case(output="a", item=ITEM))
    assert (v.passed, v.score, v.reason, v.error) == (False, 0.0, "could not judge",
                                                      "the check failed: KeyError: 'missing'")


# ---- 4. an errored check fails the item whatever the threshold ----------------------------------------------------
def test_an_errored_check_fails_the_item_even_when_the_score_reaches_the_threshold():
    verdicts = [CheckVerdict("contains", True, 1.0, "", weight=3.0),
                CheckVerdict("llm-rubric", False, 0.0, "could not judge", error="no JSON")]
    assert combine(verdicts, 0.5) == (False, 0.75)
    assert combine([verdicts[0], CheckVerdict("llm-rubric", False, 0.0, "")], 0.5) == (True, 0.75)


# ---- 5. latency is not measured on a cached answer ---------------------------------------------------------------
@pytest.mark.parametrize(("cached", "seconds", "passed", "error"), [
    (True, 0.0, False, "this item's time was not measured: the answer came from the response cache; rerun without "
                       "the cache."),
    (False, 0.2, True, None),
    (None, 0.2, True, None),
])
def test_latency_on_a_cached_answer_is_that_items_error(cached, seconds, passed, error):
    record = ItemRecord(id="1", input="q", prompt="p", output="Paris", extracted="Paris", rule="r", gold="Paris",
                        format="free", correct=True, seconds=seconds, cached=cached)
    judged = Judging(list(map(build_check, [{"type": "latency", "threshold": 500}])), [ITEM]).judge(record, ITEM)
    assert (judged.correct, judged.checks[0].error) == (passed, error)


# ---- 6. every JSON Schema keyword that matches a pattern is bounded ----------------------------------------------
ADDITIONAL = {"patternProperties": {"^(a+)+$": {}}, "additionalProperties": False}


def test_additional_properties_matches_pattern_properties_with_the_time_limit():
    v = build_check({"type": "is-json", "value": ADDITIONAL}).run(Case(output='{"' + "a" * 28 + '!": 1}', item=ITEM))
    assert (v.passed, v.error) == (False, None)
    assert v.reason == ("the output is JSON, but breaks the schema: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaa!' does not match "
                        "any of the regexes: '^(a+)+$'")
    ok = build_check({"type": "is-json", "value": ADDITIONAL}).run(Case(output='{"aaa": 1}', item=ITEM))
    assert (ok.passed, ok.error) == (True, None)


def test_a_catastrophic_pattern_under_additional_properties_is_that_items_error():
    # additionalProperties first, so it is the keyword that meets the pattern (jsonschema's own would never return)
    schema = {"additionalProperties": {"type": "string"}, "patternProperties": {"(a+)+$": {}}}
    v = build_check({"type": "is-json", "value": schema}).run(Case(output='{"' + "a" * 5000 + '!": 1}', item=ITEM))
    assert (v.passed, v.error) == (False, "the regex '(a+)+$' took over 1 s on this output (catastrophic "
                                          "backtracking); simplify the pattern.")


def test_additional_properties_without_patterns_reads_as_jsonschemas():
    schema = {"properties": {"a": {}}, "additionalProperties": False}
    v = build_check({"type": "is-json", "value": schema}).run(Case(output='{"a": 1, "c": 2, "b": 3}', item=ITEM))
    assert v.reason == ("the output is JSON, but breaks the schema: Additional properties are not allowed ('b', 'c' "
                        "were unexpected)")
    typed = {"additionalProperties": {"type": "string"}}
    v = build_check({"type": "is-json", "value": typed}).run(Case(output='{"a": 1}', item=ITEM))
    assert v.reason == "the output is JSON, but breaks the schema: 1 is not of type 'string' at a"


def test_unevaluated_properties_with_pattern_properties_is_refused_when_built():
    schema = {"patternProperties": {"^x": {}}, "allOf": [{"unevaluatedProperties": False}]}
    with pytest.raises(ConfigError) as err:
        build_check({"type": "is-json", "value": schema})
    assert str(err.value) == ("assertion 'is-json': the JSON Schema uses unevaluatedProperties with "
                              "patternProperties, which the workbench cannot match with a time limit; use "
                              "additionalProperties instead.")
    build_check({"type": "is-json", "value": {"unevaluatedProperties": False}})  # alone, it matches no pattern


# ---- 7. promptfoo templates in a run-wide value -------------------------------------------------------------------
TEMPLATE_LINE = ("uses {{city}}, a promptfoo template: only a dataset row's own assertions fill {{column}} from that "
                 "row's columns; write the value itself.")


@pytest.mark.parametrize("spec", ["contains: {{city}}", "icontains:{{ city }}",
                                  {"type": "contains-any", "value": ["Paris", "{{city}}"]},
                                  {"type": "llm-rubric", "value": "names {{city}}"}])
def test_a_promptfoo_template_in_a_value_is_refused_in_one_line(spec):
    with pytest.raises(ConfigError) as err:
        build_check(spec)
    kind = spec["type"] if isinstance(spec, dict) else spec.split(":")[0]
    assert str(err.value) == f"assertion {kind!r} {TEMPLATE_LINE}"


def test_expected_alone_is_the_gold_answer_for_kinds_that_read_it():
    check = build_check({"type": "factuality", "value": "{{ expected }}"})
    assert (check.value, check.to_dict()) == (None, {"type": "factuality"})
    assert build_check("similar(0.8): {{expected}}").to_dict() == {"type": "similar", "threshold": 0.8}
    with pytest.raises(ConfigError) as err:
        build_check("contains: {{expected}}")
    assert str(err.value) == TEMPLATE_LINE.join(["assertion 'contains' ", ""]).replace("{{city}}", "{{expected}}")


def test_a_rubric_prompt_keeps_its_own_placeholders_and_plain_braces_stay_text():
    check = build_check({"type": "llm-rubric", "value": "polite", "rubricPrompt": "Is this {rubric}? {output}"})
    assert check.params.prompt is not None
    assert build_check("contains: {city}").value == "{city}"  # single braces are text, not a template
