"""Self-consistency: one implementation behind the Decoding Lab, Evaluate and prompt-set steps."""

from __future__ import annotations

import dataclasses

import pytest

from workbench.compare import self_consistency as lab_self_consistency
from workbench.consistency import self_consistency, vote_on
from workbench.data import Example, Pool
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError
from workbench.evaluate.runner import evaluate
from workbench.evaluate.strategies import make_strategy
from workbench.prompts import PromptSpec, fit_to_window
from workbench.promptsets.model import Step, TestCase
from workbench.promptsets.running import run_step
from workbench.store import open_store

FEW_SHOT = (
    "Q: Tom has 2 apples and buys 3 more. How many apples does he have?\n"
    "A: 2 + 3 = 5. The answer is 5.\n\n"
    "Q: Ann had 6 pens and lost 4. How many pens are left?\n"
    "A: 6 - 4 = 2. The answer is 2.\n\n"
    "Q: Sam has 4 cards and gets 3 more. How many cards does he have?\nA:"
)


def test_vote_normalises_answers_and_ties_go_to_the_first():
    vote = vote_on(["7", "12", "7.00", None], "number")
    assert vote.winner == "7" and vote.counts == (("7", 2), ("12", 1))
    assert vote.agreement == pytest.approx(2 / 3)
    assert vote_on(["B", "c", "C", "b"], "choice").counts == (("B", 2), ("C", 2))


def test_needs_sampling(gemma):
    with pytest.raises(ConfigError, match="sampling on"):
        self_consistency(PromptSpec(answer_format="number", reasoning="manual_cot"), FEW_SHOT, gemma,
                         DecodingConfig(max_new_tokens=8))


def test_paths_are_seeded_and_reproducible(gemma):
    spec = PromptSpec(answer_format="number", reasoning="manual_cot", stop=("\nQ:",))
    cfg = DecodingConfig(do_sample=True, temperature=0.7, seed=11, max_new_tokens=20, n=3)
    first = self_consistency(spec, FEW_SHOT, gemma, cfg)
    assert [p.seed for p in first.paths] == [11, 12, 13]
    again = self_consistency(spec, FEW_SHOT, gemma, cfg)
    assert [(p.text, p.answer) for p in first.paths] == [(p.text, p.answer) for p in again.paths]
    assert first.vote == again.vote
    # Path i alone, from its own seed, is the same text.
    alone = self_consistency(spec, FEW_SHOT, gemma, cfg.replace(seed=12, n=2))
    assert alone.paths[0].text == first.paths[1].text


def test_zero_shot_cot_answer_step_is_greedy_with_one_budget(gemma):
    spec = PromptSpec(answer_format="number", reasoning="zero_shot_cot", stop=("\nQ:",))
    cfg = DecodingConfig(do_sample=True, temperature=1.0, seed=3, max_new_tokens=16, n=2)
    prompt = "Q: What is 2 + 2?\nA: Let's think step by step."
    sc = self_consistency(spec, prompt, gemma, cfg)
    for path in sc.paths:
        reasoning, answer = path.stages
        assert reasoning.generation.seed == path.seed  # the reasoning is sampled with the path's seed
        assert answer.generation.seed is None  # the answer is read greedily
        assert answer.prompt.endswith("\nTherefore, the answer (arabic numerals) is")
        assert answer.generation.completion_tokens <= 32
        assert "Therefore, the answer (arabic numerals) is" in path.text


def test_the_three_callers_share_one_implementation(gemma, tmp_path):
    """The Decoding Lab, an Evaluate ``scN`` strategy and a prompt-set step with n > 1 give the same paths."""
    query = Example(id="q", input="Sam has 4 cards and gets 3 more. How many cards does he have?", answer="7")
    spec = PromptSpec(answer_format="number", stop=("\n",))
    strategy = make_strategy("zscot+sc3", spec, seed=5)
    cfg = strategy.decoding.replace(max_new_tokens=24)
    prompt = fit_to_window(strategy.spec, (), query, gemma, 200).text

    lab = lab_self_consistency(gemma, prompt, cfg.replace(stop=strategy.spec.stop), 3, "number", answer_step=True)
    core = self_consistency(strategy.spec, prompt, gemma, cfg, query=query)
    step = Step(title="sc", spec=strategy.spec, decoding=cfg)
    run = run_step(step, TestCase(input=query.input, expected="7"), gemma)
    assert [p.text for p in lab.paths] == [p.text for p in core.paths]
    assert [r.stages[-1].output for r in run.runs] == [p.stages[-1].output for p in core.paths]
    assert run.answer == core.vote.winner and lab.vote == core.vote
    store = open_store(tmp_path / "wb.db")
    ev = evaluate(Pool("one", (query,)), None, [dataclasses.replace(strategy, decoding=cfg)], gemma, store)
    record = ev.records[0]
    assert record["samples"] == [p.raw_answer for p in core.paths] and record["outputs"] == [p.text for p in core.paths]
    store.close()
