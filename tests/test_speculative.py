"""Speculative decoding: lossless under greedy decoding on both backends, statistics that add up, the
accept/reject rule keeps the target distribution (chi-square), and one-line errors for bad settings."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import real_backend
from workbench.backends.records import Generation
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError, ModelError, WorkbenchError
from workbench.speculative.drafting import accept_or_resample, draw, prompt_lookup_draft
from workbench.speculative.examples import examples as speculative_examples
from workbench.speculative.records import (
    NEAR_TIE,
    ORIGINS,
    PlainReference,
    SpeculativeConfig,
    SpeculativeResult,
)
from workbench.speculative.runs import compare, load_draft, plain_reference, trace
from workbench.warpers import softmax

#: A copy-heavy prompt: the answer repeats most of the input, so prompt lookup drafts well.
COPY_PROMPT = ("Fix the typos in this paragraph.\nParagraph: Teh quick brown fox jumps over the lazy dog. The dog "
               "was not amused, and it barked loudly at the fox until the farmer came out of the house.\n"
               "Corrected paragraph: The")
GREEDY = DecodingConfig(max_new_tokens=24)
#: The shipped copy-heavy example whose plain greedy text (24 tokens) has no near-tie on llama.cpp (checked below),
#: so the greedy llama.cpp tests demand the whole text, not a prefix.
NO_TIE_EXAMPLE = "fix-typos"


def _no_tie_prompt() -> str:
    return next(e.prompt for e in speculative_examples() if e.id == NO_TIE_EXAMPLE)


def _check_counts(result: SpeculativeResult) -> None:
    counts = result.counts
    assert sum(counts.values()) == len(result.tokens)
    assert sum(s.produced for s in result.steps) == len(result.tokens)
    assert counts["accepted"] == result.accepted == sum(s.accepted for s in result.steps)
    assert result.passes_saved == len(result.tokens) - result.target_passes
    assert all(t.origin in ORIGINS for t in result.tokens)
    assert all((t.drafted is None) == (t.origin == "target") for t in result.tokens)
    assert "".join(t.text for t in result.tokens).startswith(result.text[:10])


def test_prompt_lookup_draft_copies_what_followed_the_last_ngram():
    assert prompt_lookup_draft([1, 2, 3, 4, 9, 1, 2], ngram_size=2, draft_tokens=2) == [3, 4]
    assert prompt_lookup_draft([1, 2, 3, 4, 9, 1, 2], ngram_size=2, draft_tokens=10) == [3, 4, 9, 1, 2]
    assert prompt_lookup_draft([7, 8, 9], ngram_size=2, draft_tokens=3) == []  # 9 never came before


def _agree_up_to_the_first_near_tie(backend, ref: PlainReference, token_ids: list[int] | None, text: str) -> None:
    """What llama.cpp guarantees: the plain greedy tokens up to its first near-tie (all of them when there is none).
    Beyond a near-tie the batched verification pass may pick the runner-up (see
    workbench.speculative.records.BATCH_GAP_CHANGE)."""
    tie = ref.first_near_tie
    if token_ids is not None:
        assert token_ids[:tie] == list(ref.token_ids[:tie])
    if tie == len(ref.token_ids):
        assert text == ref.generation.text
    else:
        assert text.startswith(backend.llm.detokenize(list(ref.token_ids[:tie])).decode("utf-8", errors="ignore"))


def test_plain_reference_is_the_backends_plain_greedy_text_and_the_test_prompt_has_no_near_tie(gemma):
    ref = plain_reference(gemma, _no_tie_prompt(), GREEDY)
    assert ref.generation.text == gemma.complete(_no_tie_prompt(), GREEDY).text  # the same Llama, no drafts
    assert len(ref.token_ids) == len(ref.top2_gaps) == ref.generation.completion_tokens == GREEDY.max_new_tokens
    assert gemma.llm.detokenize(list(ref.token_ids)).decode() == ref.generation.text
    assert all(g >= 0 for g in ref.top2_gaps)
    # Every token is chosen by a clear margin, so the greedy tests below demand the whole text, not a prefix.
    assert ref.first_near_tie == len(ref.token_ids), ref.top2_gaps


@pytest.mark.parametrize("draft_tokens", [4, 10])
def test_greedy_trace_equals_plain_up_to_the_first_near_tie_on_llamacpp(gemma, draft_tokens):
    ref = plain_reference(gemma, _no_tie_prompt(), GREEDY)
    result = trace(gemma, _no_tie_prompt(), GREEDY, SpeculativeConfig(draft_tokens=draft_tokens))
    _agree_up_to_the_first_near_tie(gemma, ref, [t.token_id for t in result.tokens], result.text)
    assert len(result.tokens) == GREEDY.max_new_tokens
    _check_counts(result)
    assert result.accepted > 0  # the prompt is copy-heavy: some draft must survive
    assert result.target_passes < len(result.tokens)
    assert result.steps[0].drafted == 0  # as llama-cpp-python's loop: the first token comes from a pass of its own


@pytest.mark.parametrize("draft_tokens", [4, 10])
def test_llamacpp_prompt_lookup_speed_path_equals_plain_up_to_the_first_near_tie(gemma, draft_tokens):
    ref = plain_reference(gemma, _no_tie_prompt(), GREEDY)
    cmp = compare(gemma, _no_tie_prompt(), GREEDY, SpeculativeConfig(draft_tokens=draft_tokens), repeats=1,
                     with_backend_plain=True)
    assert cmp.plain.text == ref.generation.text == cmp.backend_plain.text
    _agree_up_to_the_first_near_tie(gemma, ref, None, cmp.speculative.text)
    assert cmp.same_text == (cmp.speculative.text == cmp.plain.text)
    assert cmp.trace is not None
    _agree_up_to_the_first_near_tie(gemma, ref, [t.token_id for t in cmp.trace.tokens], cmp.trace.text)
    assert cmp.plain.tokens_per_second > 0 and cmp.speculative.tokens_per_second > 0
    assert cmp.backend_speed_ratio is not None and cmp.backend_speed_ratio > 0


def test_a_near_tie_is_where_the_guarantee_stops(gemma):
    ids = gemma.tokenize(" one two three")[1:]
    gen = Generation(gemma.llm.detokenize(ids).decode(), 1, 3, "length", 1.0)
    ref = PlainReference(gen, tuple(ids), (5.0, NEAR_TIE - 0.01, 9.0))
    assert ref.first_near_tie == 1
    assert PlainReference(gen, tuple(ids), (5.0, NEAR_TIE, 9.0)).first_near_tie == 3
    assert PlainReference(gen, tuple(ids), (0.1, 5.0, 9.0)).first_near_tie == 3  # both take token 0 alike
    _agree_up_to_the_first_near_tie(gemma, ref, [ids[0], 7, 7], " one four")  # after the near-tie anything goes
    with pytest.raises(AssertionError):  # a different first token fails
        _agree_up_to_the_first_near_tie(gemma, ref, [7, *ids[1:]], gen.text)
    with pytest.raises(AssertionError):  # so does a text that leaves the prefix
        _agree_up_to_the_first_near_tie(gemma, ref, None, " won two three")


@pytest.mark.slow
def test_greedy_trace_and_prompt_lookup_equal_plain_on_transformers():
    backend = real_backend("gemma-3-270m", "transformers")
    plain = backend.complete(COPY_PROMPT, GREEDY)
    cmp = compare(backend, COPY_PROMPT, GREEDY, SpeculativeConfig(draft_tokens=6, ngram_size=3))
    assert cmp.plain.text == plain.text
    assert cmp.same_text, (cmp.plain.text, cmp.speculative.text)
    assert cmp.trace.text == plain.text
    _check_counts(cmp.trace)
    assert cmp.trace.accepted > 0


def test_sampled_trace_is_reproducible_and_adds_up(gemma):
    cfg = DecodingConfig(do_sample=True, temperature=0.8, seed=3, max_new_tokens=16)
    a, b = trace(gemma, COPY_PROMPT, cfg), trace(gemma, COPY_PROMPT, cfg)
    assert a.text == b.text
    _check_counts(a)


# ---- the accept/reject rule keeps the target distribution ----------------------------------------------
#: Chi-square critical value for 5 degrees of freedom at alpha = 0.001 (tables; scipy may be absent).
CHI2_CRIT_DF5 = 20.515
SAMPLES = 6000


def _chi_square(tokens: list[int], p: np.ndarray) -> float:
    """Chi-square statistic over the 5 most likely tokens of ``p`` and one bin for all others."""
    top = [int(i) for i in np.argsort(-p)[:5]]
    expected = np.array([p[i] for i in top] + [1.0 - sum(p[i] for i in top)]) * len(tokens)
    assert expected.min() >= 5, "the prompt must spread its mass so every bin expects 5 or more samples"
    index = {t: k for k, t in enumerate(top)}
    observed = np.bincount([index.get(t, 5) for t in tokens], minlength=6)
    return float(((observed - expected) ** 2 / expected).sum())


@pytest.fixture(scope="module")
def target_probs(gemma):
    logits = gemma.next_token_logits("My favourite colour is")
    return softmax(logits.astype(np.float64))


@pytest.mark.parametrize("drafter", ["prompt-lookup (one-hot)", "a draft distribution"])
def test_accept_reject_rule_samples_the_target_distribution(target_probs, drafter):
    p = target_probs
    draft_token = int(np.argsort(-p)[1])  # the second most likely token: often accepted, often rejected
    q = None if drafter.startswith("prompt") else softmax(np.log(p + 1e-12) / 3.0)  # flatter than p
    rng = np.random.default_rng(0)
    tokens, accepted = [], 0
    for _ in range(SAMPLES):
        token = draft_token if q is None else draw(q, rng)  # the drafter's proposal
        ok, out = accept_or_resample(p, token, q, rng)
        accepted += ok
        tokens.append(out)
    assert 0 < accepted < SAMPLES
    assert _chi_square(tokens, p) < CHI2_CRIT_DF5


def test_the_chi_square_check_catches_a_rule_that_always_accepts(target_probs):
    p = target_probs
    draft_token = int(np.argsort(-p)[1])
    rng = np.random.default_rng(0)
    tokens = [draft_token if rng.random() < 0.5 else draw(p, rng) for _ in range(SAMPLES)]
    assert _chi_square(tokens, p) > CHI2_CRIT_DF5


# ---- bad settings --------------------------------------------------------------------------------------
def _one_line(err: WorkbenchError) -> str:
    text = str(err)
    assert "\n" not in text and text
    return text


@pytest.mark.parametrize("kwargs", [{"draft_tokens": 0}, {"draft_tokens": 65}, {"ngram_size": 0},
                                    {"method": "medusa"}, {"method": "draft:"}])
def test_bad_speculative_settings_are_one_line_errors(kwargs):
    with pytest.raises(ConfigError) as info:
        SpeculativeConfig(**kwargs)
    _one_line(info.value)


def test_an_unknown_draft_model_is_a_one_line_error():
    with pytest.raises(ModelError) as info:
        load_draft(SpeculativeConfig(method="draft:/no/such/model.gguf"))
    assert "/no/such/model.gguf" in _one_line(info.value)


def test_speculative_with_beam_search_is_a_one_line_error(gemma):
    with pytest.raises(ConfigError) as info:
        trace(gemma, COPY_PROMPT, DecodingConfig(num_beams=2))
    assert "beam" in _one_line(info.value).lower()
    with pytest.raises(ConfigError):
        compare(gemma, COPY_PROMPT, DecodingConfig(num_beams=2))


def test_a_draft_model_on_llamacpp_is_a_one_line_error(gemma):
    with pytest.raises(ConfigError) as info:
        compare(gemma, COPY_PROMPT, GREEDY, SpeculativeConfig(method="draft:smollm2-135m-instruct"))
    assert "transformers" in _one_line(info.value)


# ---- CLI -----------------------------------------------------------------------------------------------
def test_cli_generate_speculative_compare_prints_acceptance_and_speed_ratio():
    from tests.test_cli import cli

    # The settings of test_llamacpp_prompt_lookup_speed_path_keeps_the_greedy_text: with other draft lengths
    # llama.cpp's several-token passes can flip a near-tie (see the README's Fidelity section).
    res = cli("generate", "--model", "gemma-3-270m", "--prompt", COPY_PROMPT, "--max-new-tokens", "24",
              "--speculative", "prompt-lookup", "--draft-tokens", "8", "--compare", timeout=300)
    assert res.returncode == 0, res.stderr
    plain = real_backend("gemma-3-270m").complete(COPY_PROMPT, GREEDY).text
    assert res.stdout.rstrip("\n") == plain
    assert "acceptance rate" in res.stderr and "x (same text" in res.stderr


@pytest.mark.parametrize("flags, needle", [
    (["--speculative", "prompt-lookup", "--draft-tokens", "0"], "draft_tokens"),
    (["--speculative", "prompt-lookup", "--num-beams", "2"], "beam"),
    (["--speculative", "draft:/no/such/model.gguf", "--backend", "transformers"], "/no/such/model.gguf"),
    (["--draft-tokens", "4"], "--speculative"),
])
def test_cli_bad_speculative_settings_are_one_line_errors(flags, needle):
    from tests.test_cli import cli

    res = cli("generate", "--model", "gemma-3-270m", "--prompt", "Hello", *flags, timeout=300)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], res.stderr


def test_shipped_examples_have_copy_heavy_and_creative_prompts_and_lookup_drafts_only_copy_heavy_ones(gemma):
    examples = speculative_examples()
    kinds = [e.kind for e in examples]
    assert kinds.count("copy-heavy") >= 2 and kinds.count("creative") == 1
    assert all(e.prompt.strip() and e.max_new_tokens > 0 for e in examples)
    # A copy-heavy prompt's last words occurred earlier in it: prompt lookup has a draft on the very first step.
    copy = next(e for e in examples if e.kind == "copy-heavy")
    assert prompt_lookup_draft(gemma.tokenize(copy.prompt), 2, 10)
