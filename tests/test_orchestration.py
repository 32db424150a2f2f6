"""Orchestration logic on the deterministic fake backend (tests/fakes.py): exact, fast, no model.

What the model does is tested on the real default models elsewhere; here: a cancelled run resumes without
asking any item twice, the self-consistency vote table, and fitting demonstrations into the window.
"""

from __future__ import annotations

import re

import pytest

from workbench.data import Example, Pool
from workbench.errors import ConfigError, ModelError
from workbench.evaluate.formats import default_spec
from workbench.evaluate.runner import evaluate
from workbench.evaluate.strategies import parse_strategies
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


# ---- batched evaluation (issue 16): items in one call per stage, reproducible switch, failures alone ------

TEN = Pool("plus-one-ten", tuple(Example(str(i), f"What is {i} plus one?", str(i + 1)) for i in range(10)))


def _plus_one(prompt: str, seed: int | None) -> str:
    return f" {int(_last_number(prompt)) + 1}."


def _outputs(run) -> list[tuple[str, str, bool]]:
    return [(r["id"], r["output"], r["correct"]) for r in run.records]


def test_generation_items_run_batch_size_at_a_time_with_the_unbatched_results(fake_backend, store):
    fake_backend.reply = _plus_one
    strategies = parse_strategies("zero", default_spec(TEN), TEN)
    alone = evaluate(TEN, None, strategies, fake_backend, store, cache=False)
    assert fake_backend.calls == [1] * 10
    fake_backend.calls.clear()
    fake_backend.batch_size = 4
    batched = evaluate(TEN, None, strategies, fake_backend, store, cache=False)
    assert fake_backend.calls == [4, 4, 2]  # ten items in three calls
    assert _outputs(batched) == _outputs(alone)
    assert [r["batch"] for r in batched.records] == [4] * 8 + [2] * 2
    assert [r["batch"] for r in alone.records] == [1] * 10
    assert store.get_run(batched.run_id).meta["batch"] == 4 and store.get_run(alone.run_id).meta["batch"] == 1


def test_reproducible_runs_one_sequence_at_a_time_on_a_batching_backend(fake_backend, store):
    fake_backend.reply = _plus_one
    fake_backend.batch_size = 4
    strategies = parse_strategies("zero", default_spec(TEN), TEN)
    run = evaluate(TEN, None, strategies, fake_backend, store, cache=False, reproducible=True)
    assert fake_backend.calls == [1] * 10
    assert store.get_run(run.run_id).meta["batch"] == 1 and {r["batch"] for r in run.records} == {1}


def test_zero_shot_cot_batches_each_stage_and_keeps_each_items_two_calls(fake_backend, store):
    def reply(prompt: str, seed: int | None) -> str:
        if prompt.rstrip().endswith("is"):  # the answer step
            return f" {_last_number(prompt)}."
        return f" {int(_last_number(prompt)) + 1} it is."

    fake_backend.reply = reply
    spec = default_spec(TEN)
    strategies = parse_strategies("zscot", spec, TEN)
    alone = evaluate(TEN, None, strategies, fake_backend, store, cache=False)
    order_alone = list(fake_backend.prompts)
    fake_backend.calls.clear()
    fake_backend.prompts.clear()
    fake_backend.batch_size = 8
    batched = evaluate(TEN, None, strategies, fake_backend, store, cache=False)
    assert fake_backend.calls == [8, 8, 2, 2]  # reasonings of 8, their answer steps, then the last 2 twice
    assert sorted(fake_backend.prompts) == sorted(order_alone)  # the same 20 prompts, in batch order
    assert _outputs(batched) == _outputs(alone) and all(r["correct"] for r in batched.records)


def test_a_failing_sequence_fails_only_its_item_and_a_resume_runs_just_that_one(fake_backend, store):
    fake_backend.reply = _plus_one
    fake_backend.batch_size = 4
    fake_backend.fail = lambda prompt: "llama.cpp refused a token" if "What is 5 " in prompt else None
    strategies = parse_strategies("zero", default_spec(TEN), TEN)
    with pytest.raises(ModelError) as err:
        evaluate(TEN, None, strategies, fake_backend, store, cache=False)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("1 item could not run (first: 'zero' item 5: llama.cpp refused a token)")
    (info,) = store.list_runs()
    assert info.status == "failed" and message.endswith(f"resume run {info.run_id} to try them again.")
    assert store.completed(info.run_id, "zero") == set(range(10)) - {5}  # the batch's other items are stored
    fake_backend.fail = lambda prompt: None
    fake_backend.prompts.clear()
    again = evaluate(TEN, None, strategies, fake_backend, store, run_id=info.run_id, cache=False)
    assert again.status == "finished" and fake_backend.prompts == [fake_backend.prompts[0]]
    assert "What is 5 plus one?" in fake_backend.prompts[0]
    assert [(s.n, s.correct) for s in again.summaries] == [(10, 10)]


def test_a_run_resumes_only_with_the_batching_it_was_made_with(fake_backend, store):
    fake_backend.reply = _plus_one
    fake_backend.batch_size = 4
    strategies = parse_strategies("zero", default_spec(TEN), TEN)
    run = evaluate(TEN, None, strategies, fake_backend, store, cache=False, should_stop=lambda: bool(fake_backend.calls))
    assert run.status == "cancelled"
    with pytest.raises(ConfigError, match=r"^Run \d+ was generated up to 4 sequences decoded together, not one "
                                          r"sequence at a time; resume it with the same batching"):
        evaluate(TEN, None, strategies, fake_backend, store, run_id=run.run_id, cache=False, reproducible=True)
    finished = evaluate(TEN, None, strategies, fake_backend, store, run_id=run.run_id, cache=False)
    assert finished.status == "finished"


def test_label_scoring_is_never_batched_and_resumes_under_any_batching(fake_backend, store):
    pool = Pool("senti", (Example("a", "good film", "positive", label="positive"),
                          Example("b", "bad film", "negative", label="negative")))
    fake_backend.batch_size = 8
    fake_backend.scores = {"positive": -0.5, "negative": -2.0}
    strategies = parse_strategies("zero", default_spec(pool), pool, answer="score")
    run = evaluate(pool, None, strategies, fake_backend, store, cache=False)
    assert fake_backend.calls == [] and len(fake_backend.scored) == 2
    assert all("batch" not in r for r in run.records)


def test_reproducible_self_consistency_asks_each_path_alone(fake_backend, store):
    paths = {0: " It is 7.", 1: " It is 5.", 2: " So 7."}

    def reply(prompt: str, seed: int | None) -> str:
        if prompt.rstrip().endswith("is"):
            return f" {_last_number(prompt)}."
        return paths[seed % 3]

    fake_backend.reply = reply
    fake_backend.batch_size = 4
    one = Pool("one", POOL.examples[:1])
    strategies = parse_strategies("sc3", default_spec(one), one)
    batched = evaluate(one, None, strategies, fake_backend, store, cache=False)
    assert fake_backend.calls == [3, 3] and batched.records[0]["batch"] == 3  # paths, then answer steps
    fake_backend.calls.clear()
    alone = evaluate(one, None, strategies, fake_backend, store, cache=False, reproducible=True)
    assert fake_backend.calls == [1] * 6 and alone.records[0]["batch"] == 1  # 3 reasonings, then 3 answers
    assert alone.records[0]["samples"] == batched.records[0]["samples"] == ["7", "5", "7"]


def test_the_response_cache_keeps_no_failure_and_gives_no_batched_text_to_a_one_at_a_time_call(
        fake_backend, store):
    from workbench.cache import CachedBackend, ResponseCache
    from workbench.decoding import DecodingConfig

    fake_backend.batch_size = 4
    fake_backend.reply = lambda prompt, seed: " fresh"
    fake_backend.fail = lambda prompt: "refused" if prompt == "B" else None
    cached = CachedBackend(fake_backend, ResponseCache(store))
    cfg = DecodingConfig(max_new_tokens=4)
    first = cached.generate(["A", "B"], cfg)
    assert [row[0].failed for row in first] == [False, True]
    fake_backend.fail = lambda prompt: None
    again = cached.generate(["A", "B"], cfg)  # A from the cache, B asked again (its failure was not kept)
    assert fake_backend.calls == [2, 1] and not again[1][0].failed and again[0][0].batch == 2
    fake_backend.batch_size = 1  # now one at a time: A's stored answer came from a batch of 2, not this
    cached.generate(["A"], cfg)
    assert fake_backend.calls == [2, 1, 1]
    cached.generate(["A"], cfg)  # the one-at-a-time answer is kept and reused
    assert fake_backend.calls == [2, 1, 1]


def test_run_all_of_a_prompt_set_decodes_a_steps_inputs_together(fake_backend):
    from workbench.decoding import DecodingConfig
    from workbench.promptsets.model import PromptSet, Step, TestCase
    from workbench.promptsets.running import run_set

    fake_backend.reply = _plus_one
    spec = default_spec(TEN)
    steps = (Step("zero", spec, decoding=DecodingConfig(max_new_tokens=8)),
             Step("two samples", spec, decoding=DecodingConfig(max_new_tokens=8, do_sample=True, n=2, seed=3)))
    pset = PromptSet("plus one", steps, tests=tuple(TestCase(ex.input, ex.answer) for ex in TEN.examples[:5]))
    alone = run_set(pset, lambda model: fake_backend)
    assert fake_backend.calls == [1] * 5 + [2] * 5
    fake_backend.calls.clear()
    fake_backend.batch_size = 2
    batched = run_set(pset, lambda model: fake_backend)
    assert fake_backend.calls == [2, 2, 1] + [2] * 5  # step 1: inputs in twos; step 2: each input's two samples
    assert [(r.step, r.output, r.answer, r.correct) for r in batched] == \
        [(r.step, r.output, r.answer, r.correct) for r in alone]
    assert all(r.correct for r in batched)


def test_each_strategy_answers_by_its_registered_mode():
    from workbench.evaluate.answer_modes import MODES, mode_for

    labelled = Pool("sst", (Example("1", "great film", "positive"), Example("2", "dull", "negative")))
    spec = PromptSpec(answer_format="label", labels=("positive", "negative"))
    expected = {"zero": "generate", "knn4": "generate", "zscot": "generate", "sc3": "self_consistency",
                "zero+score": "label_score", "knn4+score+cal": "calibrated_score", "zero+norm": "label_score"}
    got = {s.name: mode_for(s).name for s in parse_strategies(list(expected), spec, labelled)}
    assert got == expected
    assert list(MODES) == ["self_consistency", "calibrated_score", "label_score", "choices", "generate"]
    assert [m.name for m in MODES.values() if not m.generates] == ["calibrated_score", "label_score", "choices"]


def test_a_mode_registered_from_outside_judges_the_items_of_the_strategies_it_fits(fake_backend, store):
    from dataclasses import dataclass

    from workbench.evaluate.answer_modes import MODES, GenerateMode, register

    @dataclass(frozen=True)
    class Lenient(GenerateMode):  # generate as usual; every answer counts as right
        def fits(self, strategy) -> bool:
            return strategy.name == "zero" and strategy.answer == "generate"

        def judge(self, answer, query, fmt) -> bool:
            return True

    fake_backend.reply = lambda prompt, seed: " 99."
    strategies = parse_strategies("zero", default_spec(POOL), POOL)
    plain = evaluate(POOL, None, strategies, fake_backend, store, cache=False)
    register(Lenient("lenient", "everything is right", batched=True), before="generate")
    try:
        assert list(MODES)[-2:] == ["lenient", "generate"]
        lenient = evaluate(POOL, None, strategies, fake_backend, store, cache=False)
    finally:
        MODES.pop("lenient")
    assert [(s.n, s.correct) for s in plain.summaries] == [(6, 0)]
    assert [(s.n, s.correct) for s in lenient.summaries] == [(6, 6)]
    assert [r["extracted"] for r in lenient.records] == ["99"] * 6
