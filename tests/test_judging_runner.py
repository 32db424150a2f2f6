"""The judging core inside a run: a strategy's checks judge its items, an item's own checks add to them, repeats
decode with seeds seed..seed+N-1 and are stored apart, and every bad check fails before any model call."""

from __future__ import annotations

import dataclasses

import pytest

from tests.fakes import FakeBackend
from workbench.data import Example, Pool
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError
from workbench.evaluate.records import ItemRecord
from workbench.evaluate.runner import evaluate
from workbench.evaluate.strategies import Strategy
from workbench.judging.registry import build_check, build_checks
from workbench.judging.verdicts import Judging, combine
from workbench.prompts import PromptSpec
from workbench.store import open_store

SPEC = PromptSpec(answer_format="free", stop=("\n",))
ITEMS = Pool("cities", (Example("1", "Where is the Louvre?", "Paris"),
                        Example("2", "Where is the Colosseum?", "Rome"),
                        Example("3", "Where is Big Ben?", "London",
                                checks=({"type": "icontains", "value": "london"},))))


def _reply(prompt: str, seed: int | None) -> str:
    if "Louvre" in prompt:
        return " It is in Paris."
    if "Colosseum" in prompt:
        return f" Rome{'' if not seed else ' (again)'}"
    return " LONDON"


def test_checks_judge_every_item_and_an_items_own_add_to_them(tmp_path):
    fake = FakeBackend(reply=_reply)
    s = Strategy("zero", SPEC, checks=build_checks(["contains: Paris"]))
    with open_store(tmp_path / "wb.db") as store:
        run = evaluate(ITEMS, None, [s], fake, store, cache=False)
    by_id = {r["id"]: r for r in run.records}
    assert [by_id[i]["correct"] for i in "123"] == [True, False, False]
    assert [c["type"] for c in by_id["3"]["checks"]] == ["contains", "icontains"]
    assert [c["passed"] for c in by_id["3"]["checks"]] == [False, True]
    assert by_id["3"]["score"] == 0.5
    assert by_id["1"]["checks"][0]["reason"] == "contains 'Paris'"


def test_without_checks_the_format_judges_and_records_hold_no_verdicts(tmp_path):
    fake = FakeBackend(reply=_reply)
    pool = Pool("two", ITEMS.examples[:2])
    with open_store(tmp_path / "wb.db") as store:
        run = evaluate(pool, None, [Strategy("zero", SPEC)], fake, store, cache=False)
    assert [r["correct"] for r in run.records] == [False, True]  # "It is in Paris" is not the free answer "Paris"
    assert all("checks" not in r and "score" not in r for r in run.records)


def test_a_threshold_passes_an_item_on_its_weighted_score(tmp_path):
    fake = FakeBackend(reply=_reply)
    checks = build_checks([{"type": "contains", "value": "Paris", "weight": 3}, "contains: France"])
    s = Strategy("zero", SPEC, checks=checks, threshold=0.7)
    with open_store(tmp_path / "wb.db") as store:
        run = evaluate(Pool("one", ITEMS.examples[:1]), None, [s], fake, store, cache=False)
    assert run.records[0]["score"] == 0.75 and run.records[0]["correct"] is True


def test_repeats_use_seed_plus_r_and_are_stored_apart(tmp_path):
    fake = FakeBackend(reply=_reply)
    sampled = DecodingConfig(do_sample=True, temperature=0.7, seed=0, max_new_tokens=8)
    s = Strategy("zero", SPEC, decoding=sampled, checks=build_checks(["equals: Rome"]), repeat=3)
    with open_store(tmp_path / "wb.db") as store:
        run = evaluate(Pool("one", ITEMS.examples[1:2]), None, [s], fake, store, cache=False)
        stored = store.completed(run.run_id, "zero")
    assert stored == {0, 1, 2}
    assert [(r["repeat"], r["output"], r["correct"]) for r in sorted(run.records, key=lambda r: r["repeat"])] == [
        (0, " Rome", True), (1, " Rome (again)", False), (2, " Rome (again)", False)]


def test_greedy_repeats_are_refused():
    with pytest.raises(ConfigError, match="repeating greedy decoding gives the same output"):
        Strategy("zero", SPEC, repeat=2)


def test_a_bad_item_check_fails_before_any_model_call(tmp_path):
    fake = FakeBackend(reply=_reply)
    bad = Pool("bad", (Example("7", "q", "a", checks=({"type": "javascript", "value": "output.length"},)),))
    with open_store(tmp_path / "wb.db") as store, pytest.raises(ConfigError, match="item 7 assertion 1: Assertion type 'javascript' runs code"):
        evaluate(bad, None, [Strategy("zero", SPEC)], fake, store)
    assert fake.prompts == []


def test_resuming_with_other_checks_is_refused(tmp_path):
    fake = FakeBackend(reply=_reply)
    s = Strategy("zero", SPEC, checks=build_checks(["contains: Paris"]))
    with open_store(tmp_path / "wb.db") as store:
        run = evaluate(ITEMS, None, [s], fake, store, limit=1, cache=False)
        other = dataclasses.replace(s, checks=build_checks(["contains: Rome"]))
        with pytest.raises(ConfigError, match="was run with other assertions"):
            evaluate(ITEMS, None, [other], fake, store, run_id=run.run_id)


def test_strategy_checks_round_trip_through_the_run_record():
    s = Strategy("zero", SPEC, checks=build_checks([{"type": "not-contains", "value": "x", "weight": 2,
                                                      "metric": "clean"}]), threshold=0.5)
    back = Strategy.from_dict(s.to_dict())
    assert back == s and back.checks[0].to_dict() == {"type": "not-contains", "value": "x", "metric": "clean",
                                                      "weight": 2.0}


def test_a_check_that_raises_is_that_items_error_and_the_rest_still_judge():
    from workbench.judging.base import Case, CheckError, Finding, JudgeKind

    class Broken(JudgeKind):
        def evaluate(self, params, case, threshold, tools) -> Finding:
            raise CheckError("the judge's reply had no verdict")

    broken = dataclasses.replace(build_check("contains: a"), kind=Broken("broken", "", value="none"))
    item = Example("1", "q", "a")
    verdict = broken.run(Case(output="a", item=item))
    assert (verdict.passed, verdict.score, verdict.error) == (False, 0.0, "the judge's reply had no verdict")
    record = ItemRecord(id="1", input="q", prompt="p", output="a", extracted="a", rule="r", gold="a", format="free",
                        correct=True)
    judged = Judging([broken, build_check("contains: a")], [item]).judge(record, item)
    assert judged.correct is False and judged.score == 0.5
    assert combine(judged.checks, 0.5) == (False, 0.5)  # an errored check fails the item whatever the threshold


def test_model_graded_checks_ask_the_local_instruct_model_by_default_and_only_when_asked(tmp_path, monkeypatch):
    loaded: list[str] = []
    judge = FakeBackend(reply=lambda prompt, seed: ' {"pass": true, "score": 1, "reason": "names it"}',
                        is_chat=True)

    def load(model: str):
        loaded.append(model)
        return judge

    monkeypatch.setattr("workbench.evaluate.runner.load_judge", load)
    plain = Strategy("zero", SPEC, checks=build_checks(["contains: Paris"]))
    with open_store(tmp_path / "wb.db") as store:
        evaluate(Pool("one", ITEMS.examples[:1]), None, [plain], FakeBackend(reply=_reply), store)
        assert loaded == []  # no model-graded check: no judge loaded
        graded = Strategy("zero", SPEC, checks=build_checks([{"type": "llm-rubric", "value": "names the city"}]))
        run = evaluate(Pool("one", ITEMS.examples[:1]), None, [graded], FakeBackend(reply=_reply), store)
    assert loaded == ["smollm2-135m-instruct"]
    assert run.records[0]["correct"] is True and run.records[0]["checks"][0]["reason"] == "names it"


def test_a_checks_own_judge_that_cannot_exist_is_one_line_before_any_model_call(tmp_path):
    fake = FakeBackend(reply=_reply)
    s = Strategy("zero", SPEC, checks=build_checks([{"type": "llm-rubric", "value": "polite",
                                                      "provider": "/nowhere/judge.gguf"}]))
    with open_store(tmp_path / "wb.db") as store, pytest.raises(ConfigError, match=r"judge model '/nowhere/judge\.gguf'"):
        evaluate(ITEMS, None, [s], fake, store)
    assert fake.prompts == []
