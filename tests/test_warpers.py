"""Tests for workbench.warpers: hand-made cases with exact outputs, and agreement with the
Hugging Face ``transformers`` logits processors they reproduce (on seeded random logits)."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch
from transformers import GenerationConfig
from transformers.generation.logits_process import (
    MinPLogitsWarper,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
    TypicalLogitsWarper,
)
from transformers.generation.utils import GenerationMixin

from workbench.decoding import PRESETS, SAMPLER_ORDERS, DecodingConfig
from workbench.errors import ConfigError
from workbench.warpers import (
    TokenView,
    apply_min_p,
    apply_no_repeat_ngram,
    apply_repetition_penalty,
    apply_temperature,
    apply_top_k,
    apply_top_p,
    apply_typical_p,
    explain,
    sample_next,
    softmax,
    warp,
)

NEG = -np.inf
SEEDS = (0, 1, 2, 3, 4)
VOCAB = 1000
# probabilities 0.5, 0.3, 0.15, 0.05 as logits: easy to reason about by hand
P4 = np.log([0.5, 0.3, 0.15, 0.05])


# ---------------------------------------------------------------- hand-made, exact


def test_temperature_divides():
    np.testing.assert_array_equal(apply_temperature([1.0, 2.0, -4.0], 2.0), [0.5, 1.0, -2.0])


def test_temperature_zero_is_config_error():
    with pytest.raises(ConfigError):
        apply_temperature([1.0, 2.0], 0.0)


def test_top_k_keeps_k_largest():
    np.testing.assert_array_equal(apply_top_k([1, 2, 3, 4], 2), [NEG, NEG, 3, 4])


def test_top_k_keeps_all_tied_with_kth():
    np.testing.assert_array_equal(apply_top_k([1, 3, 3, 2], 1), [NEG, 3, 3, NEG])


def test_top_k_off_and_larger_than_vocab_keep_everything():
    np.testing.assert_array_equal(apply_top_k([1, 2, 3], 0), [1, 2, 3])
    np.testing.assert_array_equal(apply_top_k([1, 2, 3], 10), [1, 2, 3])


def test_top_p_keeps_nucleus():
    # ascending cumulative mass 0.05, 0.20, 0.50, 1.0: <= 1 - 0.75 cuts the two least likely
    np.testing.assert_array_equal(apply_top_p(P4, 0.75), [P4[0], P4[1], NEG, NEG])
    # 0.6 needs the second token too: cumulative 0.5 > 0.4 keeps it
    np.testing.assert_array_equal(apply_top_p(P4, 0.6), [P4[0], P4[1], NEG, NEG])
    np.testing.assert_array_equal(apply_top_p(P4, 0.45), [P4[0], NEG, NEG, NEG])


def test_top_p_zero_keeps_only_the_most_likely_token():
    np.testing.assert_array_equal(apply_top_p([3.0, 1.0, 5.0, 2.0], 0.0), [NEG, NEG, 5.0, NEG])


def test_top_p_ties_keep_lower_ids():
    np.testing.assert_array_equal(apply_top_p([1.0, 1.0, 1.0, 1.0], 0.5), [1.0, 1.0, NEG, NEG])


def test_min_p_scales_with_top_probability():
    # threshold 0.2 * 0.5 = 0.1 cuts only the 0.05 token; 0.5 * 0.5 = 0.25 cuts 0.15 too
    np.testing.assert_array_equal(apply_min_p(P4, 0.2), [P4[0], P4[1], P4[2], NEG])
    np.testing.assert_array_equal(apply_min_p(P4, 0.5), [P4[0], P4[1], NEG, NEG])


def test_min_p_one_keeps_all_tokens_tied_for_first():
    np.testing.assert_array_equal(apply_min_p([2.0, 5.0, 5.0, 1.0], 1.0), [NEG, 5.0, 5.0, NEG])


def test_typical_p_hand_computed():
    # entropy 1.142 nats; |surprisal - entropy| = .449, .062, .755, 1.854 -> typical order 1, 0, 2, 3
    # with cumulative mass .3, .8, .95, 1.0
    np.testing.assert_array_equal(apply_typical_p(P4, 0.5), [P4[0], P4[1], NEG, NEG])
    np.testing.assert_array_equal(apply_typical_p(P4, 0.9), [P4[0], P4[1], P4[2], NEG])
    # the most likely token is not the most typical one, so a small mass drops it
    np.testing.assert_array_equal(apply_typical_p(P4, 0.2), [NEG, P4[1], NEG, NEG])
    np.testing.assert_array_equal(apply_typical_p(P4, 1.0), P4)


def test_repetition_penalty_divides_positive_multiplies_negative_once():
    out = apply_repetition_penalty([2.0, -2.0, 1.0, 0.5], [0, 1, 1, 1, 7], 2.0)  # 7 is outside the vocab
    np.testing.assert_array_equal(out, [1.0, -4.0, 1.0, 0.5])


def test_repetition_penalty_below_one_rewards():
    np.testing.assert_array_equal(apply_repetition_penalty([2.0, -2.0, 1.0], [0, 1], 0.5), [4.0, -1.0, 1.0])


@pytest.mark.parametrize(
    ("n", "banned"),
    [(1, [5, 6, 7]), (2, [7]), (3, [7]), (4, []), (6, [])],
)
def test_no_repeat_ngram_bans_completions(n, banned):
    out = apply_no_repeat_ngram(np.zeros(10), [5, 6, 7, 5, 6], n)
    expected = np.zeros(10)
    expected[banned] = NEG
    np.testing.assert_array_equal(out, expected)


def test_no_repeat_ngram_off():
    np.testing.assert_array_equal(apply_no_repeat_ngram([1.0, 2.0], [0, 0, 0], 0), [1.0, 2.0])


def test_warpers_do_not_modify_their_input():
    logits = np.array([1.0, 2.0, 3.0, 4.0])
    for out in (
        apply_temperature(logits, 2.0),
        apply_top_k(logits, 1),
        apply_top_p(logits, 0.1),
        apply_min_p(logits, 0.9),
        apply_typical_p(logits, 0.1),
        apply_repetition_penalty(logits, [3], 2.0),
        apply_no_repeat_ngram(logits, [3, 3], 1),
    ):
        assert out is not logits
    np.testing.assert_array_equal(logits, [1.0, 2.0, 3.0, 4.0])


def test_softmax():
    np.testing.assert_allclose(softmax([0.0, np.log(3.0), NEG]), [0.25, 0.75, 0.0], rtol=1e-15)
    assert softmax([0.0, NEG])[1] == 0.0


def test_warp_greedy_applies_only_penalties():
    cfg = DecodingConfig(top_k=1, temperature=0.5, repetition_penalty=2.0, no_repeat_ngram_size=2)
    out = warp([4.0, 2.0, -1.0, 3.0], cfg, previous_ids=[1, 2, 1])
    np.testing.assert_array_equal(out, [4.0, 1.0, NEG, 3.0])


def test_warp_sampling_order_temperature_then_top_k_then_top_p():
    cfg = DecodingConfig(do_sample=True, temperature=2.0, top_k=3, top_p=0.6)
    # /2 -> [0.5, 1, 1.5, 2]; top-3 cuts id 0; softmax([1, 1.5, 2]) = .186, .307, .506: top-p 0.6 cuts id 1.
    # (Top-p before temperature would keep only id 3: softmax([2, 3, 4]) = .090, .245, .665.)
    np.testing.assert_array_equal(warp([1.0, 2.0, 3.0, 4.0], cfg), [NEG, NEG, 1.5, 2.0])


def test_explain_orders_by_raw_probability_and_marks_cut_tokens():
    cfg = DecodingConfig(do_sample=True, top_k=2)
    views = explain(np.log([0.1, 0.6, 0.3]), cfg, (), ["a", "b", "c"], top=3)
    assert [(v.token_id, v.text, v.kept) for v in views] == [(1, "b", True), (2, "c", True), (0, "a", False)]
    assert [v.raw_prob for v in views] == pytest.approx([0.6, 0.3, 0.1], rel=1e-12)
    assert [v.warped_prob for v in views] == pytest.approx([2 / 3, 1 / 3, 0.0], rel=1e-12)
    assert views[2].warped_prob == 0.0


def test_explain_top_and_text_lookup():
    cfg = DecodingConfig(repetition_penalty=4.0)
    views = explain([1.0, 3.0, 2.0, 3.0], cfg, previous_ids=[1], token_texts=lambda i: f"<{i}>", top=2)
    assert [v.token_id for v in views] == [1, 3]  # tie broken by lower id
    assert [v.text for v in views] == ["<1>", "<3>"]
    assert all(v.kept for v in views)
    assert views[0].warped_prob < views[0].raw_prob  # penalised: 3 -> 0.75
    assert isinstance(views[0], TokenView)
    with pytest.raises(AttributeError):
        views[0].kept = False  # frozen


def test_sample_next_greedy_is_argmax_lowest_id_on_ties():
    assert sample_next([1.0, 5.0, 5.0, 2.0], DecodingConfig(), np.random.default_rng(0)) == 1
    # a repetition penalty can change the greedy pick
    assert sample_next([1.0, 5.0, 4.0], DecodingConfig(repetition_penalty=2.0), np.random.default_rng(0), [1]) == 2


def test_sample_next_seeded_reproduces_and_respects_the_warped_distribution():
    cfg = DecodingConfig(do_sample=True, top_k=3)
    logits = np.log([0.1, 0.5, 0.05, 0.25, 0.1])

    def draws(seed):
        rng = np.random.default_rng(seed)
        return [sample_next(logits, cfg, rng) for _ in range(2000)]

    first = draws(7)
    assert first == draws(7)
    assert first != draws(8)
    assert set(first) == {0, 1, 3, 4}  # top-3 keeps both tokens tied for third place; id 2 is cut
    counts = np.bincount(first, minlength=5) / len(first)
    expected = softmax(warp(logits, cfg))
    np.testing.assert_allclose(counts, expected, atol=0.04)


# ---------------------------------------------------------------- agreement with transformers


def _logits(seed: int, ties: bool = False) -> np.ndarray:
    x = np.random.default_rng(seed).normal(0.0, 3.0, size=VOCAB)
    return np.round(x) if ties else x  # rounding makes many exact ties


def _hf(processor, logits: np.ndarray, input_ids=()) -> np.ndarray:
    ids = torch.tensor([list(input_ids)], dtype=torch.long).reshape(1, -1)
    return processor(ids, torch.from_numpy(logits.copy()).unsqueeze(0))[0].numpy()


def _assert_same(ours: np.ndarray, theirs: np.ndarray) -> None:
    np.testing.assert_array_equal(np.isneginf(ours), np.isneginf(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("temperature", [0.05, 0.7, 1.0, 1.5, 100.0])
def test_temperature_matches_hf(seed, temperature):
    x = _logits(seed)
    _assert_same(apply_temperature(x, temperature), _hf(TemperatureLogitsWarper(temperature), x))


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("top_k", [1, 5, 50, 999, 1000, 5000])
def test_top_k_matches_hf(seed, top_k, ties):
    x = _logits(seed, ties)
    _assert_same(apply_top_k(x, top_k), _hf(TopKLogitsWarper(top_k), x))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("top_p", [0.0, 0.05, 0.3, 0.5, 0.9, 0.99, 1.0])
def test_top_p_matches_hf(seed, top_p):
    x = _logits(seed)
    _assert_same(apply_top_p(x, top_p), _hf(TopPLogitsWarper(top_p), x))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("top_p", [0.3, 0.9])
def test_top_p_with_ties_keeps_as_many_tokens_of_each_value_as_hf(seed, top_p):
    # HF's unstable sort picks arbitrary members of a tied group; the count per value must agree.
    x = _logits(seed, ties=True)
    ours, theirs = apply_top_p(x, top_p), _hf(TopPLogitsWarper(top_p), x)
    np.testing.assert_array_equal(np.sort(ours), np.sort(theirs))


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("min_p", [0.0, 0.001, 0.05, 0.3, 1.0])
def test_min_p_matches_hf(seed, min_p, ties):
    x = _logits(seed, ties)
    _assert_same(apply_min_p(x, min_p), _hf(MinPLogitsWarper(min_p), x))


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("typical_p", [0.001, 0.2, 0.5, 0.9, 0.999])
def test_typical_p_matches_hf(seed, typical_p, ties):
    x = _logits(seed, ties)
    _assert_same(apply_typical_p(x, typical_p), _hf(TypicalLogitsWarper(typical_p), x))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("penalty", [0.5, 1.0, 1.2, 3.0])
def test_repetition_penalty_matches_hf(seed, penalty):
    x = _logits(seed)
    rng = np.random.default_rng(100 + seed)
    ids = [*rng.integers(0, VOCAB, size=60).tolist(), VOCAB, VOCAB + 5]  # HF ignores ids beyond the vocab
    ours = apply_repetition_penalty(x, ids, penalty)
    _assert_same(ours, _hf(RepetitionPenaltyLogitsProcessor(penalty), x, ids))
    assert penalty == 1.0 or not np.array_equal(ours, x)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_no_repeat_ngram_matches_hf(seed, n):
    x = _logits(seed)
    ids = np.random.default_rng(200 + seed).integers(0, 4, size=80).tolist()  # small alphabet: many repeats
    ours = apply_no_repeat_ngram(x, ids, n)
    _assert_same(ours, _hf(NoRepeatNGramLogitsProcessor(n), x, ids))
    assert np.isneginf(ours).any()


def _hf_chain(cfg: DecodingConfig, input_ids):
    """The processors transformers' own ``_get_logits_processor`` builds for these settings."""
    gen = GenerationConfig(
        do_sample=cfg.do_sample,
        temperature=cfg.temperature,
        top_k=cfg.top_k,
        top_p=cfg.top_p,
        min_p=cfg.min_p,
        typical_p=cfg.typical_p,
        repetition_penalty=cfg.repetition_penalty,
        no_repeat_ngram_size=cfg.no_repeat_ngram_size,
    )
    fake_model = types.SimpleNamespace(config=types.SimpleNamespace(is_encoder_decoder=False))
    fake_model._merge_criteria_processor_list = types.MethodType(
        GenerationMixin._merge_criteria_processor_list, fake_model
    )
    return GenerationMixin._get_logits_processor(
        fake_model, generation_config=gen, input_ids_seq_length=len(input_ids), device="cpu", model_kwargs={}
    )


CHAIN_CONFIGS = [
    *PRESETS.values(),
    DecodingConfig(do_sample=True, temperature=0.7, top_k=50, top_p=0.9),
    DecodingConfig(do_sample=True, temperature=1.3, min_p=0.05, typical_p=0.9, repetition_penalty=1.3),
    DecodingConfig(
        do_sample=True,
        temperature=0.5,
        top_k=200,
        top_p=0.8,
        min_p=0.1,
        typical_p=0.7,
        repetition_penalty=0.8,
        no_repeat_ngram_size=2,
    ),
    DecodingConfig(top_k=3, top_p=0.5, repetition_penalty=1.5, no_repeat_ngram_size=3),  # greedy ignores warpers
]


@pytest.mark.parametrize("seed", SEEDS[:3])
@pytest.mark.parametrize("cfg", CHAIN_CONFIGS, ids=lambda c: repr(c)[15:60])
def test_warp_matches_hf_chain(cfg, seed):
    x = _logits(seed)
    ids = np.random.default_rng(300 + seed).integers(0, 30, size=50).tolist()
    ours = warp(x, cfg, ids)
    _assert_same(ours, _hf(_hf_chain(cfg, ids), x, ids))
    assert cfg == DecodingConfig() or not np.array_equal(ours, x)


def _kept(order, temperature, top_p, logits):
    cfg = DecodingConfig(do_sample=True, temperature=temperature, top_p=top_p)
    return int(np.isfinite(warp(logits, cfg, order=SAMPLER_ORDERS[order])).sum())


def test_sampler_order_changes_what_survives_on_a_zipf_distribution():
    """Temperature 1.6 then top-p 0.5 (Hugging Face) keeps far more tokens than top-p 0.5 then temperature
    (llama.cpp): the counts are the smallest nucleus of p_i ~ i^(-1/1.6) and of p_i ~ 1/i."""
    ranks = np.arange(1, 5001, dtype=np.float64)
    logits = -np.log(ranks)

    def nucleus(p):
        p = p / p.sum()
        return int(np.searchsorted(np.cumsum(p), 0.5) + 1)

    hf, llama = _kept("transformers", 1.6, 0.5, logits), _kept("llama.cpp", 1.6, 0.5, logits)
    assert hf == nucleus(ranks ** (-1 / 1.6)) and llama == nucleus(1 / ranks)
    assert hf > 10 * llama


def test_warp_follows_the_configs_order_over_the_default():
    cfg = DecodingConfig(do_sample=True, temperature=2.0, top_k=3, top_p=0.6, sampler_order="llama.cpp")
    # llama.cpp: top-3 cuts id 0, top-p on softmax([2, 3, 4]) = .090, .245, .665 keeps only id 3; then /2.
    np.testing.assert_array_equal(warp([1.0, 2.0, 3.0, 4.0], cfg, order=SAMPLER_ORDERS["transformers"]),
                                  [NEG, NEG, NEG, 2.0])
