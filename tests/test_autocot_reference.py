"""Auto-CoT as amazon-science/auto-cot runs it (issue 28, D2, D3, D5), on the fake backend and a recording embedder:

* D2: ``autocot`` without a number takes ``run_demo.py``'s per-task ``num_clusters`` (7 for CommonsenseQA), not 8;
* D3: the pool is clustered as the reference embeds it, ``Q: {question} Answer Choices: (A) …\\nA:`` (the
  ``c_question + "\\nA:"`` of ``run_demo.py``), while retrieval strategies of the same run keep the bare inputs;
* D5: rationales are decoded as ``utils.decoder_for_gpt3`` with ``--max_length_cot 256`` and ``stop=None``, the
  answer step with ``--max_length_direct 32``; the ``"\\nQ:"`` stop is an explicit option only.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from tests.fakes import FakeBackend
from workbench.autocot.config import preset_k
from workbench.autocot.embedding import clustering_texts, clustering_vectors
from workbench.autocot.reasoner import NEXT_QUESTION_STOP, REASONING_DECODING, zero_shot_cot_reasoner
from workbench.cli import main as cli
from workbench.data import Example, Pool
from workbench.evaluate.formats import default_spec
from workbench.evaluate.runner import evaluate
from workbench.evaluate.strategies import make_strategy, parse_strategies, parse_strategy_name
from workbench.store import open_store

#: Twelve CommonsenseQA-like questions with two choices each ("commonsenseqa_dev": the reference's task commonsensqa).
CSQA = Pool("commonsenseqa_dev.jsonl", tuple(
    Example(str(i), f"Where is thing {i}?", "A", choices={"A": f"here {i}", "B": f"there {i}"}) for i in range(12)))
ASKED = [f"Q: Where is thing {i}? Answer Choices: (A) here {i} (B) there {i}\nA:" for i in range(12)]


class RecordingEmbedder:
    """Deterministic unit vectors from each text's hash; remembers every batch it was asked to encode."""

    id = "recording-v1"

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def encode(self, texts, batch_size=64, progress=None):
        self.batches.append(list(texts))
        rows = [np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)).normal(size=8)
                for t in texts]
        out = np.array(rows, dtype=np.float32).reshape(len(texts), 8)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


class RecordingBackend(FakeBackend):
    """The fake backend that also keeps the decoding settings of every generate call."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.configs: list = []

    def _generate(self, prompt_ids, cfg):
        self.configs.append(cfg)
        return super()._generate(prompt_ids, cfg)


def reply(prompt: str, seed: int | None) -> str:
    """A rationale that passes the reference's filters, and "A" after an answer trigger."""
    return " A." if prompt.rstrip().endswith("is") else " It is (A). The answer is A."


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "wb.db")
    yield s
    s.close()


# ---- D2: the reference's per-task K ---------------------------------------------------------------------------
def test_autocot_without_a_number_takes_the_references_k_for_the_pool(store, tmp_path):
    backend = RecordingBackend(reply=reply, context_window=4096)
    strategies = parse_strategies("autocot+fallback,autocot3", default_spec(CSQA), CSQA)
    run = evaluate(CSQA, None, strategies, backend, store, limit=1, cache=False, embedder=RecordingEmbedder(),
                   index_cache_dir=str(tmp_path))
    stored = {s["name"]: s for s in store.get_run(run.run_id).meta["strategies"]}
    assert {n: (s["k"], len(s["demos"])) for n, s in stored.items()} == {"autocot+fallback": (7, 7),
                                                                          "autocot3": (3, 3)}
    assert make_strategy("autocot", default_spec(CSQA), CSQA, k=5).k == 5  # a run's K still wins, as for autocotN
    assert parse_strategy_name("autocot").k == 0 and parse_strategy_name("autocot3").k == 3  # 0: the preset's
    assert (preset_k(CSQA.name), preset_k("strategyqa"), preset_k("aqua"), preset_k("multiarith")) == (7, 6, 4, 8)


def test_a_resumed_autocot_run_compares_the_presets_k(store, tmp_path):
    backend = RecordingBackend(reply=reply, context_window=4096)
    strategies = parse_strategies("autocot", default_spec(CSQA), CSQA)
    run = evaluate(CSQA, None, strategies, backend, store, limit=1, cache=False, embedder=RecordingEmbedder(),
                   index_cache_dir=str(tmp_path), should_stop=lambda: len(backend.prompts) >= 14)  # after the build
    assert run.status == "cancelled" and len(backend.prompts) == 14  # 7 clusters: a rationale and an answer each
    again = evaluate(CSQA, None, strategies, backend, store, run_id=run.run_id, limit=1, cache=False,
                     embedder=RecordingEmbedder(), index_cache_dir=str(tmp_path))
    assert again.status == "finished" and [s.n for s in again.summaries] == [1]


# ---- D3: what is clustered -------------------------------------------------------------------------------------
def test_the_pool_is_clustered_as_the_reference_embeds_it_and_retrieval_keeps_bare_inputs(store, tmp_path):
    assert clustering_texts(CSQA) == ASKED
    assert clustering_texts([Example("0", "What is 2 + 3?", "5")]) == ["Q: What is 2 + 3?\nA:"]
    embedder = RecordingEmbedder()
    strategies = parse_strategies("autocot2,knn1", default_spec(CSQA), CSQA)
    evaluate(CSQA, None, strategies, RecordingBackend(reply=reply, context_window=4096), store, limit=1, cache=False,
             embedder=embedder, index_cache_dir=str(tmp_path))
    assert embedder.batches[0] == ASKED  # Auto-CoT's clustering, before any rationale
    assert embedder.batches[1] == [ex.input for ex in CSQA]  # knn1's index: the bare inputs, as before
    assert embedder.batches[2:] == [[CSQA[0].input]]  # the one item, embedded as a query
    cached = RecordingEmbedder()
    assert np.array_equal(clustering_vectors(CSQA, cached, tmp_path), RecordingEmbedder().encode(ASKED))
    assert cached.batches == []  # read from the index cache, an entry of its own


# ---- D5: how rationales are decoded ----------------------------------------------------------------------------
def test_rationales_are_decoded_as_the_reference_256_tokens_and_no_stop():
    backend = RecordingBackend(reply=lambda p, s: " 3." if p.endswith("is") else " 2 + 1 = 3.\nQ: What is 4 + 4?")
    got = zero_shot_cot_reasoner(backend, "number")("What is 2 + 1?")
    assert backend.prompts == ["Q: What is 2 + 1?\nA: Let's think step by step.",
                               "Q: What is 2 + 1?\nA: Let's think step by step. 2 + 1 = 3.\nQ: What is 4 + 4?\n"
                               "Therefore, the answer (arabic numerals) is"]
    assert [(c.max_new_tokens, c.stop, c.do_sample) for c in backend.configs] == [(256, (), False), (32, (), False)]
    assert got.rationale == " 2 + 1 = 3.\nQ: What is 4 + 4?" and got.answer == "3"  # written on, as GPT-3 would


def test_the_next_question_stop_is_an_explicit_option():
    backend = RecordingBackend(reply=lambda p, s: " 3." if p.endswith("is") else " 2 + 1 = 3.\nQ: What is 4 + 4?")
    reason = zero_shot_cot_reasoner(backend, "number", REASONING_DECODING.replace(stop=NEXT_QUESTION_STOP))
    assert reason("What is 2 + 1?").rationale == " 2 + 1 = 3."
    assert [(c.max_new_tokens, c.stop) for c in backend.configs] == [(256, ("\nQ:",)), (32, ("\nQ:",))]


def test_evaluate_builds_autocot_with_the_references_decoding(store, tmp_path):
    backend = RecordingBackend(reply=reply, context_window=4096)
    strategies = parse_strategies("autocot2", default_spec(CSQA), CSQA)
    evaluate(CSQA, None, strategies, backend, store, limit=1, cache=False, embedder=RecordingEmbedder(),
             index_cache_dir=str(tmp_path))
    # the fake decodes one sequence at a time: per cluster a rationale, then its answer step; then the item
    assert [(c.max_new_tokens, c.stop) for c in backend.configs[:4]] == [(256, ()), (32, ())] * 2
    assert backend.prompts[:3:2] == [f"{ASKED[i]} Let's think step by step." for i in (1, 0)]


def test_autocot_build_cli_embeds_as_the_reference_and_decodes_256_tokens(monkeypatch, tmp_path, capsys):
    import workbench.cli.autocot as command
    import workbench.retrieval.embedder as embedders

    backend, embedder = RecordingBackend(reply=reply, context_window=4096), RecordingEmbedder()
    monkeypatch.setattr(command, "backend_from_args", lambda args: backend)
    monkeypatch.setattr(embedders, "load_embedder", lambda *a, **k: embedder)
    pool = tmp_path / "commonsenseqa_dev.jsonl"
    pool.write_text("".join(f'{{"id": "{ex.id}", "question": "{ex.input}", "answer": "A", "choices": '
                            f'{{"A": "here {i}", "B": "there {i}"}}}}\n' for i, ex in enumerate(CSQA)))
    assert cli(["autocot", "build", "--pool", str(pool), "--out", str(tmp_path / "d.json")]) == 0
    assert embedder.batches == [ASKED]
    assert {(c.max_new_tokens, c.stop) for c in backend.configs} == {(256, ()), (32, ())}
    assert "task preset commonsensqa, k=7" in capsys.readouterr().err
