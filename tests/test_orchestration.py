"""Orchestration logic on the deterministic fake backend (tests/fakes.py): exact, fast, no model.

What the model does is tested on the real default models elsewhere; here: a cancelled run resumes without
asking any item twice, the self-consistency vote table, and fitting demonstrations into the window.
"""

from __future__ import annotations

import re

import pytest

from workbench.data import Example, Pool
from workbench.evaluate import default_spec, evaluate, parse_strategies
from workbench.prompts import PromptSpec, fit_to_window
from workbench.store import open_store

POOL = Pool("plus-one", tuple(Example(str(i), f"What is {i} plus one?", str(i + 1)) for i in range(6)))


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "wb.db")
    yield s
    s.close()


def _last_number(text: str) -> str:
    return re.findall(r"\d+", text)[-1]


def test_a_cancelled_run_resumes_where_it_stopped_and_asks_no_item_twice(fake_backend, store):
    fake_backend.reply = lambda prompt, seed: f" {int(_last_number(prompt)) + 1}."
    strategies = parse_strategies("zero", default_spec(POOL), POOL)
    run = evaluate(POOL, None, strategies, fake_backend, store, cache=False,
                   should_stop=lambda: len(fake_backend.prompts) >= 2)
    assert run.status == "cancelled"
    assert store.completed(run.run_id, "zero") == {0, 1}
    again = evaluate(POOL, None, strategies, fake_backend, store, run_id=run.run_id, cache=False)
    assert again.status == "finished"
    assert [(s.n, s.correct) for s in again.summaries] == [(6, 6)]
    assert len(fake_backend.prompts) == 6  # every item was asked exactly once over both sessions
    assert fake_backend.prompts[0] == "Q: What is 0 plus one?\nA: The answer (arabic numerals) is"


def test_self_consistency_votes_the_majority_of_the_sampled_paths(fake_backend, store):
    paths = {0: " It is 7.", 1: " It is 5.", 2: " So 7."}

    def reply(prompt: str, seed: int | None) -> str:
        if prompt.rstrip().endswith("is"):  # the answer step after "Therefore, the answer ... is"
            return f" {_last_number(prompt)}."
        return paths[seed % 3]

    fake_backend.reply = reply
    one = Pool("one", POOL.examples[:1])
    strategies = parse_strategies("sc3", default_spec(one), one)
    run = evaluate(one, None, strategies, fake_backend, store, cache=False)
    (record,) = run.records
    assert record["samples"] == ["7", "5", "7"]
    assert record["extracted"] == "7" and record["rule"] == "majority_vote"
    assert record["agreement"] == round(2 / 3, 4)
    assert [o.strip() for o in record["outputs"]] == [
        "It is 7.\nTherefore, the answer (arabic numerals) is 7.",
        "It is 5.\nTherefore, the answer (arabic numerals) is 5.",
        "So 7.\nTherefore, the answer (arabic numerals) is 7.",
    ]


def test_demonstrations_that_do_not_fit_are_dropped_oldest_first(fake_backend):
    fake_backend.context_window = 40
    spec = PromptSpec(instruction="Add one.", stop=("\n",))
    demos = [Example(f"d{i}", f"What is {i} plus one?", str(i + 1)) for i in range(5)]
    rendered = fit_to_window(spec, demos, "What is 9 plus one?", fake_backend, 8)
    # Words are tokens: the instruction is 2, each demonstration 8 ("Q: What is 0 plus one?\nA: 1"), the query 7.
    # 2 + 8k + 7 <= 40 - 8 holds for k = 2: the first three demonstrations go, the last two stay in order.
    assert rendered.dropped == 3
    assert [d.id for d in rendered.demos] == ["d3", "d4"]
    assert rendered.tokens == 2 + 8 * 2 + 7
    assert rendered.text.endswith("Q: What is 9 plus one?\nA:")
