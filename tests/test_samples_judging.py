"""The shipped judging example (#26 item 11): the ``city_dates`` sample pool (sentences -> JSON, each row with its
own is-json + schema and contains-city checks), its starter spec, a real run judged by the rows' checks, and the
classroom set that judges the same outputs by exact match, by similarity and by a rubric."""

from __future__ import annotations

import json

import pytest

from tests.conftest import real_backend
from workbench.data import Pool, load_sample, sample_pools
from workbench.evaluate.runner import evaluate
from workbench.evaluate.strategies import Strategy
from workbench.judging.base import Case
from workbench.judging.registry import build_checks
from workbench.judging.verdicts import Judging
from workbench.prompts import render, starter_specs
from workbench.promptsets.files import classroom_sets
from workbench.promptsets.running import run_set
from workbench.store import open_store

SCHEMA = {"type": "object", "required": ["city", "date"],
          "properties": {"city": {"type": "string"}, "date": {"type": "string"}}}
POOL = load_sample("city_dates")
STARTER = starter_specs()["city_dates_json"]


def test_the_sample_is_thirty_sentences_each_with_its_gold_json_and_own_checks():
    assert len(POOL) == 30 and sample_pools()["city_dates"].name == "city_dates.jsonl"
    assert len({ex.id for ex in POOL}) == 30 and len({ex.input for ex in POOL}) == 30
    for ex in POOL:
        gold = json.loads(ex.answer)
        assert list(gold) == ["city", "date"] and gold["city"] in ex.input and gold["date"] in ex.input, ex.id
        assert ex.checks == ({"type": "is-json", "value": SCHEMA}, {"type": "contains", "value": gold["city"]}), ex.id
    assert POOL[0].answer == '{"city": "Lisbon", "date": "12 May 2025"}'


def verdicts(judging: Judging, item_index: int, output: str) -> list[tuple[str, bool]]:
    passed, _, found = judging.verdict(Case(output=output, item=POOL[item_index]))
    return [passed] + [(v.type, v.passed) for v in found]


def test_every_gold_answer_passes_its_row_checks_and_wrong_outputs_fail_them():
    judging = Judging((), POOL.examples)
    for i, ex in enumerate(POOL):
        assert verdicts(judging, i, ex.answer) == [True, ("is-json", True), ("contains", True)], ex.id
    tokyo = 1  # "My sister is flying to Tokyo on March 3."
    assert verdicts(judging, tokyo, '{"city": "Taipei", "date": "3 March"}') == [  # a city copied from a demo
        False, ("is-json", True), ("contains", False)]
    assert verdicts(judging, tokyo, '{"city": "Tokyo"}') == [False, ("is-json", False), ("contains", True)]
    assert verdicts(judging, tokyo, '{"city": "Tokyo", "date": 3}') == [False, ("is-json", False), ("contains", True)]
    assert verdicts(judging, tokyo, "Tokyo, March 3") == [False, ("is-json", False), ("contains", True)]


def test_the_starter_spec_asks_for_json_and_its_demonstrations_are_not_in_the_pool():
    spec = STARTER.spec
    assert (spec.answer_format, spec.stop, len(STARTER.demos)) == ("free", ("\n",), 3)
    assert "JSON" in spec.instruction and '"city"' in spec.instruction and '"date"' in spec.instruction
    schema_only = Judging(build_checks([{"type": "is-json", "value": SCHEMA}]), ())
    pool_inputs = set(POOL.inputs())
    for demo in STARTER.demos:
        assert demo.input not in pool_inputs
        assert schema_only.verdict(Case(output=demo.answer, item=demo))[0] is True, demo.id
    text = render(spec, STARTER.demos, STARTER.example).text
    assert text.endswith(f"Sentence: {STARTER.example}\nJSON:")
    assert text.count("\nJSON: {") == 3


def test_the_sample_run_on_the_instruct_model_is_judged_by_each_rows_checks(smollm, tmp_path):
    strategy = Strategy(name="fixed3", spec=STARTER.spec, selector="fixed", k=3, demos=STARTER.demos)
    with open_store(tmp_path / "wb.db") as store:
        run = evaluate(Pool("city_dates", POOL.examples[:3]), None, [strategy], smollm, store, cache=False)
    got = [(r["output"].strip(), r["correct"], [(c["type"], c["passed"]) for c in r["checks"]]) for r in run.records]
    assert got == [
        ('{"city": "Lisbon", "date": "12 May 2025"}', True, [("is-json", True), ("contains", True)]),
        ('{"city": "Taipei", "date": "3 March"}', False, [("is-json", True), ("contains", False)]),
        ('{"city": "Florence", "date": "1 June"}', True, [("is-json", True), ("contains", True)]),
    ]


@pytest.mark.parametrize("row", [0, 29])
def test_the_rows_checks_are_what_the_file_holds(row):
    raw = sample_pools()["city_dates"].read_text(encoding="utf-8").splitlines()[row]
    assert tuple(json.loads(raw)["assert"]) == POOL[row].checks


# ---- the classroom set: the same outputs judged by exact match, by similarity and by a rubric ------------------

def test_the_classroom_set_runs_one_prompt_three_times_with_different_checks():
    pset = classroom_sets()["judging_three_ways"]
    assert "classroom" in pset.tags and len(pset.tests) == 6
    assert len({(s.spec, s.demos, s.decoding, s.model) for s in pset.steps}) == 1  # one prompt, one model, greedy
    assert pset.steps[0].decoding.greedy and pset.steps[0].model == "smollm2-135m-instruct"
    assert [s.checks for s in pset.steps] == [
        ({"type": "exact"},), ({"type": "similar", "threshold": 0.9},),
        ({"type": "llm-rubric", "value": "The city is a real city, not a country or a word like tonight."},)]
    for case in pset.tests:  # the inputs are sample rows, with their gold JSON as the expected answer
        row = next(ex for ex in POOL if ex.input == case.input)
        assert case.expected == row.answer and not case.checks


def test_the_classroom_set_judges_the_same_outputs_three_ways_on_the_real_models():
    pset = classroom_sets()["judging_three_ways"]
    lisbon, chicago, cairo = pset.tests[0], pset.tests[2], pset.tests[3]
    results = run_set(pset, real_backend, [lisbon, chicago, cairo])
    outputs = [r.output.strip() for r in results]
    assert outputs[:3] == ['{"city": "Lisbon", "date": "12 May 2025"}', '{"city": "Chicago", "date": "15 January"}',
                           '{"city": "Egypt", "date": "September 30"}']
    assert outputs[3:6] == outputs[:3] and outputs[6:] == outputs[:3]  # the same outputs, judged three ways
    exact, similar, rubric = results[:3], results[3:6], results[6:]
    assert [r.correct for r in exact] == [True, False, False]
    assert [r.correct for r in similar] == [True, True, True]  # lenient: Egypt for Cairo still scores 0.96
    assert [round(r.score, 2) for r in similar] == [1.0, 0.96, 0.96]
    for r in rubric:  # a 135M judge: its reply is kept; one it cannot read is an error, never a pass
        (v,) = r.checks
        assert v.type == "llm-rubric" and v.reply
        assert v.error is None or (v.passed is False and r.correct is False)
