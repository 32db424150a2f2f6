"""Several models in one run: a strategy's own ``model`` runs on that model (loaded once, lazily), the records
pair up item by item across models, a model the run was not given is one line, and a {{ var }} prompt renders
each item's own variables."""

from __future__ import annotations

import dataclasses

import pytest

from tests.fakes import FakeBackend
from workbench.data import Example, Pool
from workbench.errors import ConfigError
from workbench.evaluate.runner import evaluate
from workbench.evaluate.strategies import Strategy
from workbench.judging.registry import build_checks
from workbench.prompts import PromptSpec
from workbench.stats import paired_comparisons
from workbench.store import open_store

ITEMS = Pool("t", tuple(Example(str(i), f"q{i}", "x", vars={"word": w, "lang": "French"})
                        for i, w in enumerate(("cat", "dog", "sun"))))
SPEC = PromptSpec(syntax="jinja", query_template="Say {{ word }} in {{ lang | lower }}:", answer_format="free",
                  stop=("\n",))


def _fake(model_id: str, reply: str) -> FakeBackend:
    fake = FakeBackend(reply=lambda prompt, seed: reply)
    # the response cache knows a model with no file by its id and path
    fake.spec = dataclasses.replace(fake.spec, id=model_id, path=f"/no/such/{model_id}")
    return fake


def test_each_strategy_runs_on_its_own_model_and_pairs_by_item(tmp_path):
    a, b = _fake("model-a", " chat"), _fake("model-b", " dog")
    loads: list[str] = []

    def load_b():
        loads.append("b")
        return b

    checks = build_checks(["icontains: chat"])
    strategies = [Strategy("p@a", SPEC, model="a", checks=checks), Strategy("p@b", SPEC, model="b", checks=checks)]
    with open_store(tmp_path / "wb.db") as store:
        run = evaluate(ITEMS, None, strategies, a, store, models={"a": a, "b": load_b})
        meta = store.get_run(run.run_id).meta
    assert loads == ["b"]  # the factory is called once
    assert a.prompts == ["Say cat in french:", "Say dog in french:", "Say sun in french:"]
    assert b.prompts == a.prompts
    assert [(s.strategy, s.n, s.accuracy) for s in run.summaries] == [("p@a", 3, 1.0), ("p@b", 3, 0.0)]
    assert [d["model"] for d in meta["strategies"]] == ["a", "b"]
    (pair,) = paired_comparisons(run.records)
    assert (pair.a, pair.b, pair.n) == ("p@a", "p@b", 3)


def test_a_model_the_run_was_not_given_is_one_line_before_any_call(tmp_path):
    a = _fake("model-a", " chat")
    with open_store(tmp_path / "wb.db") as store, pytest.raises(
            ConfigError, match=r"^Strategy 'p@c' runs on model 'c', which this run was not given \(given: 'a'\)\.$"):
        evaluate(ITEMS, None, [Strategy("p@c", SPEC, model="c")], a, store, models={"a": a})
    assert a.prompts == []


def test_an_item_without_a_variable_the_prompt_uses_is_that_items_error(tmp_path):
    items = Pool("t", (Example("1", "q", "x", vars={"word": "cat"}),))
    a = _fake("model-a", " chat")
    with open_store(tmp_path / "wb.db") as store, pytest.raises(Exception, match="'lang' is undefined"):
        evaluate(items, None, [Strategy("p", SPEC)], a, store)


def test_a_model_with_no_file_is_known_by_its_id_not_by_the_current_folder():
    from workbench.cache import model_identity

    assert model_identity(FakeBackend()) == "id:fake@"  # Path("") is the current folder: never hashed
    assert model_identity(_fake("model-a", " x")) == "id:model-a@/no/such/model-a"
