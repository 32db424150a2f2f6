"""Tests for workbench.explorer: state stepping by hand, token picking on fixed logits (exact),
and greedy stepping on the real default model matching the backend's own greedy decoding."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError, PromptError
from workbench.explorer import ExplorerState, NextToken, advance, chosen_text, next_token, pick, start

SAMPLE = DecodingConfig(do_sample=True, temperature=1.0, top_k=2, seed=4)


def test_state_choose_and_undo():
    s = ExplorerState(prompt_ids=(1, 2))
    t = s.choose(7, "greedy").choose(9, "clicked")
    assert t.ids == (1, 2, 7, 9) and t.chosen == (7, 9) and t.how == ("greedy", "clicked") and t.step == 2
    assert t.undo() == ExplorerState((1, 2), (7,), ("greedy",))
    assert s.undo() is s
    assert s.ids == (1, 2)  # frozen: choosing made new states
    with pytest.raises(ValueError):
        s.choose(3, "guessed")


START = ExplorerState((0,))


def _next(logits, cfg=SAMPLE, state=START) -> NextToken:
    return NextToken(state, cfg, np.asarray(logits, dtype=np.float32), ())


def test_pick_greedy_clicked_and_sampled_on_fixed_logits():
    nxt = _next([0.0, 3.0, 2.9, -1.0])
    assert pick(nxt, "greedy") == 1
    assert pick(nxt, "clicked", 3) == 3
    draws = {pick(_next([0.0, 3.0, 2.9, -1.0], SAMPLE.replace(seed=s)), "sampled") for s in range(40)}
    assert draws == {1, 2}  # top_k=2 cuts ids 0 and 3
    assert pick(nxt, "sampled") == pick(_next([0.0, 3.0, 2.9, -1.0]), "sampled")  # same seed and step
    with pytest.raises(ConfigError, match="between 0 and 3"):
        pick(nxt, "clicked", 4)
    with pytest.raises(ConfigError, match="sampling on"):
        pick(_next([0.0, 1.0], DecodingConfig()), "sampled")


def test_greedy_respects_repetition_penalty():
    state = ExplorerState((1,))  # token 1 was seen
    nxt = _next([0.0, 3.0, 2.0], DecodingConfig(repetition_penalty=2.0), state)
    assert pick(nxt, "greedy") == 2  # 3.0 / 2 = 1.5 < 2.0


def test_greedy_steps_match_the_backend_greedy_tokens(gemma):
    prompt = "One, two, three, four,"
    cfg = DecodingConfig(max_new_tokens=5)
    state = start(gemma, prompt)
    for _ in range(5):
        state = advance(gemma, state, cfg, "greedy")
    assert state.how == ("greedy",) * 5
    assert chosen_text(gemma, state) == gemma.complete(prompt, cfg).text


def test_distribution_raw_vs_warped_on_the_real_model(gemma):
    state = start(gemma, "The capital of France is")
    nxt = next_token(gemma, state, SAMPLE.replace(top_k=3), top=10)
    assert len(nxt.views) == 10
    assert nxt.views[0].token_id == gemma.next_token_distribution("The capital of France is", top=1)[0].token_id
    assert [v.kept for v in nxt.views] == [True] * 3 + [False] * 7
    assert nxt.kept == 3
    assert sum(v.warped_prob for v in nxt.views[:3]) == pytest.approx(1.0)
    assert all(v.warped_prob == 0.0 for v in nxt.views[3:])
    raw = [v.raw_prob for v in nxt.views]
    assert raw == sorted(raw, reverse=True) and 0 < sum(raw) <= 1
    clicked = advance(gemma, state, SAMPLE, "clicked", nxt.views[2].token_id)
    assert clicked.chosen == (nxt.views[2].token_id,)
    with pytest.raises(PromptError):
        start(gemma, "  ")
