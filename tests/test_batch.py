"""Batched generation (issue 16): several sequences per decode step on llama.cpp, left-padded batches on
transformers -- the same text as one at a time, seeds that do not care about the batch, per-sequence ends
and failures."""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager

import pytest

from workbench.backends.llamacpp_batch import Job, Sampling, default_batch_size
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError

PROMPTS = [
    "Q: What is 2 plus 5?\nA:",
    "The capital of France is",
    "Once upon a time",
    "Q: Name a colour.\nA:",
    "def add(a, b):",
    "Q: What is 7 plus 10?\nA:",
    "My favourite food is",
    "The three primary colours are",
]


@contextmanager
def batch_size(backend, size: int):
    """Run with another batch size; the session-wide model gets its own back."""
    before = backend.batch_size
    backend.batch_size = size
    try:
        yield
    finally:
        backend.batch_size = before


def one_at_a_time(backend, prompts, cfg):
    """Today's path, each prompt from an empty cache (a cached prefix of another prompt changes the
    logits slightly: llama.cpp's results depend on how a prompt was split into decode calls)."""
    out = []
    with batch_size(backend, 1):
        for p in prompts:
            if hasattr(backend, "llm"):
                backend.llm.reset()
            out.append(backend.generate([p], cfg)[0])
    return out


def texts(rows):
    return [[g.text for g in row] for row in rows]


# ---- llama.cpp ---------------------------------------------------------------------------------
def common_prefix(a, b) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def test_llamacpp_batched_greedy_is_the_one_at_a_time_text(gemma):
    assert gemma.kernels == "exact"  # the default (WORKBENCH_KERNELS): no repacked or tiled matrix kernels
    cfg = DecodingConfig(max_new_tokens=24)
    single = one_at_a_time(gemma, PROMPTS, cfg)
    # Any number of sequences per step -- 3 (the rest queue), 8 (all at once), 16 (each prompt twice) --
    # gives exactly today's text: every matrix product is computed row by row, whatever else is in the call.
    for size, prompts in ((3, PROMPTS), (8, PROMPTS), (16, PROMPTS + PROMPTS[::-1])):
        with batch_size(gemma, size):
            rows = gemma.generate(prompts, cfg)
        assert gemma.last_batch.size == size and gemma.last_batch.sequences == len(prompts)
        expected = single if len(prompts) == len(PROMPTS) else single + single[::-1]
        assert [(g.text, g.completion_tokens, g.finish_reason) for r in rows for g in r] == \
            [(g.text, g.completion_tokens, g.finish_reason) for r in expected for g in r], size
    assert gemma.last_batch.steps <= 24 + 1  # one decode per token for all sixteen


def test_llamacpp_seed_gives_sample_i_whatever_the_batch(gemma):
    cfg = DecodingConfig(do_sample=True, temperature=1.0, top_k=40, top_p=0.95, seed=11, n=8, max_new_tokens=16)
    with batch_size(gemma, 1):  # today's path: one create_completion per seed
        gemma.llm.reset()
        alone = {g.seed: g.text for g in gemma.generate([PROMPTS[0]], cfg)[0]}
    assert len(set(alone.values())) > 1  # the seeds really give different samples
    # A sequence's sampler chain and its seed are its own: other prompts before it, another position,
    # another batch size -- the same sample for the same seed.
    for size, prompts in ((2, [PROMPTS[0]]), (3, [PROMPTS[1], PROMPTS[0]]), (4, [PROMPTS[0], PROMPTS[2]]),
                          (8, [PROMPTS[3], PROMPTS[0], PROMPTS[4]]), (16, [PROMPTS[5], PROMPTS[6], PROMPTS[0]])):
        with batch_size(gemma, size):
            rows = gemma.generate(prompts, cfg)
        assert {g.seed: g.text for g in rows[prompts.index(PROMPTS[0])]} == alone, (size, prompts)
        assert gemma.last_batch.size == size


def test_llamacpp_text_depends_neither_on_the_cache_nor_on_the_batch(gemma):
    """Few-shot prompts share their demonstrations; Zero-shot-CoT's answer step extends its own reasoning. llama.cpp's
    logits depend on how a prompt is split into decode calls, so every prompt is read whole from position 0: the
    one-at-a-time text after another prompt is the text from an empty cache, and the batched text is both."""
    demo = "Q: What is 3 plus 4?\nA: 7\n\nQ: What is 10 minus 2?\nA: 8\n\n"
    firsts = [demo + f"Q: What is {a} plus {a + 3}? Explain your answer.\nA:" for a in range(2, 6)]
    cfg, answer = DecodingConfig(max_new_tokens=24), DecodingConfig(max_new_tokens=6)
    fresh = [r[0].text for r in one_at_a_time(gemma, firsts, cfg)]
    seconds = [p + t + "\nSo the answer is" for p, t in zip(firsts, fresh, strict=True)]
    fresh2 = [r[0].text for r in one_at_a_time(gemma, seconds, answer)]
    with batch_size(gemma, 1):  # no reset: each call finds the previous prompt (a shared prefix) in the cache
        chained = []
        for p, q in zip(firsts, seconds, strict=True):
            chained += [gemma.generate([p], cfg)[0][0].text, gemma.generate([q], answer)[0][0].text]
    assert chained == [t for pair in zip(fresh, fresh2, strict=True) for t in pair]
    with batch_size(gemma, 4):
        assert [r[0].text for r in gemma.generate(firsts, cfg)] == fresh
        assert [r[0].text for r in gemma.generate(seconds, answer)] == fresh2


def test_llamacpp_kernel_setting_is_one_clear_line(monkeypatch):
    from workbench.backends import llamacpp

    monkeypatch.setenv("WORKBENCH_KERNELS", "quick")
    with pytest.raises(ConfigError, match="WORKBENCH_KERNELS must be one of exact, fast") as err:
        llamacpp.kernel_choice()
    assert "\n" not in str(err.value)
    monkeypatch.setenv("WORKBENCH_KERNELS", " Fast ")
    assert llamacpp.kernel_choice() == "fast"
    monkeypatch.delenv("WORKBENCH_KERNELS")
    assert llamacpp.kernel_choice() == "exact"


def test_llamacpp_other_kernels_in_a_process_that_has_chosen_is_one_clear_line(gemma, monkeypatch):
    """ggml fixes its tiled kernels at the first matrix product: a second model cannot have the others."""
    from workbench.backends import llamacpp
    from workbench.backends.registry import resolve_model
    from workbench.errors import ModelError

    monkeypatch.setenv("WORKBENCH_KERNELS", "fast")
    with pytest.raises(ConfigError, match="restart it to use fast") as err:
        llamacpp.load_llamacpp(resolve_model("gemma-3-270m"))
    assert "\n" not in str(err.value) and not isinstance(err.value, ModelError)


def test_llamacpp_penalties_and_custom_order_run_in_the_batch_too(gemma):
    cfg = DecodingConfig(do_sample=True, seed=3, n=3, max_new_tokens=16, repetition_penalty=1.4,
                         sampler_order="transformers", temperature=0.8, top_p=0.9)
    with batch_size(gemma, 1):
        gemma.llm.reset()
        alone = gemma.generate([PROMPTS[2]], cfg)[0]
    with batch_size(gemma, 8):
        batched = gemma.generate([PROMPTS[2]], cfg)[0]
    assert [g.text for g in batched] == [g.text for g in alone]
    record = gemma.last_batch  # the prompt was read once for its three samples (or found cached)
    assert record.prompts_evaluated + record.prompts_reused == 1


def test_llamacpp_stop_strings_and_budgets_end_each_sequence_on_its_own(gemma):
    cfg = DecodingConfig(max_new_tokens=20, stop=("\n",))
    with batch_size(gemma, 8):
        rows = gemma.generate(PROMPTS, cfg)
    gens = [r[0] for r in rows]
    assert all("\n" not in g.text for g in gens)
    assert all(g.completion_tokens <= 20 + 3 for g in gens)
    assert all(g.finish_reason == "length" or g.completion_tokens <= 20 for g in gens)  # a stop may be the 20th
    reasons = {g.finish_reason for g in gens}
    assert reasons == {"stop", "length"}, [(g.text, g.finish_reason) for g in gens]  # both ends in one batch
    single = one_at_a_time(gemma, PROMPTS, cfg)
    assert [(r[0].text, r[0].finish_reason) for r in rows] == [(r[0].text, r[0].finish_reason) for r in single]


def test_llamacpp_a_failing_sequence_fails_only_itself(gemma):
    from workbench.backends.llamacpp_batch import BatchEngine

    good = [tuple(gemma.tokenize(p)) for p in PROMPTS[:3]]
    too_long = tuple(good[0] * 1000)  # beyond the context window
    bad_last = good[1] + (gemma.llm.n_vocab() + 7,)  # llama.cpp refuses the token at the first step
    bad_head = (gemma.llm.n_vocab() + 9,) + good[2]  # ... or while reading the prompt
    engine = BatchEngine(gemma.llm, 4, gemma.context_window)
    try:
        jobs = [Job(good[0], None), Job(too_long, None), Job(bad_last, None), Job(good[1], None),
                Job(bad_head, None), Job(good[2], None)]
        gens, record = engine.run(jobs, Sampling(max_tokens=8))
    finally:
        engine.close()
    failed = [i for i, g in enumerate(gens) if g.failed]
    assert failed == [1, 2, 4] and record.failed == 3
    assert all(gens[i].finish_reason == "error" and gens[i].text == "" and gens[i].error for i in failed)
    assert "context window" in gens[1].error and "\n" not in gens[1].error
    alone = one_at_a_time(gemma, PROMPTS[:3], DecodingConfig(max_new_tokens=8))
    assert [gens[i].text for i in (0, 3, 5)] == [r[0].text for r in alone]


def test_llamacpp_an_interrupted_batch_frees_every_sequence_and_the_next_run_is_clean(gemma):
    """A Stop (KeyboardInterrupt) or a callback error in the middle of a batch: the engine keeps no sequence."""
    from workbench.backends.llamacpp_batch import BatchEngine

    jobs = [Job(tuple(gemma.tokenize(p)), None) for p in PROMPTS[:4]]
    steps = [0]

    def interrupt_at_step_3(ids, logits):
        steps[0] += 1
        if steps[0] == 3 * len(jobs):
            raise KeyboardInterrupt
        return logits

    engine = BatchEngine(gemma.llm, 4, gemma.context_window)
    try:
        before, _ = engine.run(jobs, Sampling(max_tokens=8))
        with pytest.raises(KeyboardInterrupt):
            engine.run(jobs, Sampling(max_tokens=8, processor=interrupt_at_step_3))
        import llama_cpp

        # every sequence's KV cells are freed (the holder's too): -1 = the sequence holds no position
        assert [llama_cpp.llama_memory_seq_pos_max(engine._mem, s) for s in range(engine.size + 1)] == [-1] * 5
        after, _ = engine.run(jobs, Sampling(max_tokens=8))
    finally:
        engine.close()
    assert [g.text for g in after] == [g.text for g in before] and not any(g.failed for g in after)


def test_llamacpp_a_prompts_configs_decode_together_each_with_its_own_settings(gemma):
    """The Decoding Lab's configs on one prompt: one batch, every sequence its own sampler, seed, stop and budget."""
    from workbench.compare import run_grid

    configs = [("greedy", DecodingConfig(max_new_tokens=12)),
               ("t0.8", DecodingConfig(do_sample=True, temperature=0.8, top_k=40, seed=5, n=2, max_new_tokens=16)),
               ("penalised", DecodingConfig(do_sample=True, temperature=1.0, top_p=0.9, seed=9, max_new_tokens=10,
                                            repetition_penalty=1.3, sampler_order="transformers", stop=("\n",)))]
    prompt = PROMPTS[3]
    alone = []
    with batch_size(gemma, 1):
        for _, c in configs:
            gemma.llm.reset()
            alone.append(texts(gemma.generate([prompt], c))[0])
    with batch_size(gemma, 8):
        together = texts(gemma.generate_configs(prompt, [c for _, c in configs]))
        record = gemma.last_batch  # read once for all (or found cached from an earlier run)
        assert record.sequences == 4 and record.prompts_evaluated + record.prompts_reused == 1
        grid = run_grid(gemma, [prompt], configs)
    assert together == alone  # each sequence is the one-at-a-time text (see above)
    assert [cell.generations[0].text for cell in grid.cells] == [t[0] for t in together]  # runs=1: one each
    assert all("\n" not in t for t in together[2])
    with batch_size(gemma, 3), pytest.raises(ConfigError):  # every config's budget is checked, not just the first
        gemma.generate_configs(prompt, [configs[0][1], DecodingConfig(max_new_tokens=gemma.context_window)])


def test_batch_size_setting_is_one_clear_line(monkeypatch):
    monkeypatch.setenv("WORKBENCH_BATCH", "lots")
    with pytest.raises(ConfigError, match="WORKBENCH_BATCH must be a whole number") as err:
        default_batch_size()
    assert "\n" not in str(err.value)
    monkeypatch.setenv("WORKBENCH_BATCH", "4")
    assert default_batch_size() == 4
    monkeypatch.delenv("WORKBENCH_BATCH")
    assert default_batch_size(exact=True) == 8  # llama.cpp's exact kernels: batched text is today's text
    assert default_batch_size() == 1  # opt-in where batched logits are not always the unbatched ones


# ---- transformers ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def smollm_hf():
    from tests.conftest import real_backend

    return real_backend("smollm2-135m-instruct", "transformers")


def test_transformers_batched_greedy_is_the_one_at_a_time_text(smollm_hf):
    cfg = DecodingConfig(max_new_tokens=16, stop=("\n\n",))
    single = one_at_a_time(smollm_hf, PROMPTS, cfg)
    with batch_size(smollm_hf, 8):
        batched = smollm_hf.generate(PROMPTS, cfg)
    assert smollm_hf.last_batch.calls == 1 and smollm_hf.last_batch.sequences == len(PROMPTS)
    pairs = list(zip([r[0] for r in batched], [r[0] for r in single], strict=True))
    agree = sum(a.text == b.text for a, b in pairs)
    # Left padding changes float sums a little (fp32 CPU); measured 8 of 8 here.
    assert agree >= 7, [(a.text, b.text) for a, b in pairs]
    for a, b in pairs:
        if a.text == b.text:
            assert (a.completion_tokens, a.finish_reason) == (b.completion_tokens, b.finish_reason)


def test_transformers_samples_one_at_a_time_so_seeds_hold(smollm_hf):
    cfg = DecodingConfig(do_sample=True, seed=5, n=2, max_new_tokens=8)
    with batch_size(smollm_hf, 8):
        smollm_hf.last_batch = None
        both = smollm_hf.generate(PROMPTS[:2], cfg)
        assert smollm_hf.last_batch is None  # sampling never took the batched path
        alone = smollm_hf.generate(PROMPTS[1:2], cfg)
    assert texts(both)[1] == texts(alone)[0]


# ---- self-consistency ----------------------------------------------------------------------------
def counting(backend, monkeypatch) -> list[tuple[int, int]]:
    """Record (prompts, n) of every generate call on ``backend``."""
    calls: list[tuple[int, int]] = []
    real = backend.generate

    def generate(prompts, cfg, on_wait=None):
        calls.append((len(prompts), cfg.n))
        return real(prompts, cfg, on_wait)

    monkeypatch.setattr(backend, "generate", generate)
    return calls


def test_self_consistency_samples_its_paths_in_one_generate_call(gemma, monkeypatch):
    from workbench.consistency import self_consistency
    from workbench.prompts import PromptSpec

    question = "Q: Tom has 3 apples and buys 4 more. How many apples does he have?\nA:"
    cfg = DecodingConfig(do_sample=True, temperature=0.8, top_k=40, seed=2, n=3, max_new_tokens=24)
    spec = PromptSpec(answer_format="number", reasoning="manual_cot")
    calls = counting(gemma, monkeypatch)
    with batch_size(gemma, 8):
        batched = self_consistency(spec, question, gemma, cfg)
    assert calls == [(1, 3)]  # the three paths in one call, decoded together
    assert [p.seed for p in batched.paths] == [2, 3, 4] and batched.answered >= 1
    # Neither the call nor the batch changes anything: one at a time it is the path-by-path result exactly.
    with batch_size(gemma, 1):
        gemma.llm.reset()
        one_call = self_consistency(spec, question, gemma, cfg)
        gemma.llm.reset()
        path_by_path = self_consistency(spec, question, gemma, cfg,
                                        runner=lambda i, name, text, c: gemma.generate([text], c)[0][0])
    assert [(p.text, p.seed, p.answer) for p in one_call.paths] == \
        [(p.text, p.seed, p.answer) for p in path_by_path.paths] == \
        [(p.text, p.seed, p.answer) for p in batched.paths]
    calls.clear()
    zero_shot = PromptSpec(answer_format="number", reasoning="zero_shot_cot")
    with batch_size(gemma, 3):
        result = self_consistency(zero_shot, question, gemma, cfg)
    assert calls == [(1, 3), (3, 1)]  # the reasoning paths, then every path's greedy answer step at once
    assert [p.seed for p in result.paths] == [2, 3, 4] and all(len(p.stages) == 2 for p in result.paths)


# ---- evaluation ----------------------------------------------------------------------------------
def test_a_batched_evaluation_on_llamacpp_agrees_with_the_reproducible_run(gemma, tmp_path):
    """Zero-shot-CoT over 6 items: both stages of 4 items per call vs one sequence at a time."""
    from workbench.data import Pool, load_sample
    from workbench.evaluate.formats import default_spec
    from workbench.evaluate.runner import evaluate
    from workbench.evaluate.strategies import parse_strategies
    from workbench.store import open_store

    sample = load_sample("arithmetic")
    items = Pool("arithmetic-6", tuple(sample)[:6])
    strategies = [dataclasses.replace(s, decoding=s.decoding.replace(max_new_tokens=24))
                  for s in parse_strategies("zscot", default_spec(items), items)]
    store = open_store(tmp_path / "wb.db")
    try:
        with batch_size(gemma, 4):
            batched = evaluate(items, None, strategies, gemma, store, cache=False)
            alone = evaluate(items, None, strategies, gemma, store, cache=False, reproducible=True)
        meta = (store.get_run(batched.run_id).meta["batch"], store.get_run(alone.run_id).meta["batch"])
    finally:
        store.close()
    assert meta == (4, 1)
    assert [r["batch"] for r in batched.records] == [4] * 4 + [2] * 2  # 4 items at a time
    assert [r["batch"] for r in alone.records] == [1] * 6
    fields = ("output", "extracted", "correct")
    assert [[r[f] for f in fields] for r in batched.records] == [[r[f] for f in fields] for r in alone.records]
