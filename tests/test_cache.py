"""Response cache: keys (exact, pure), hit/miss counting, persistence, bypass, eviction, and the real model."""

from __future__ import annotations

import hashlib
import os
from types import SimpleNamespace

import numpy as np
import pytest

from workbench import cache as cache_module
from workbench.backends.base import Backend, Generation
from workbench.backends.registry import ModelSpec
from workbench.cache import (
    CachedBackend,
    ResponseCache,
    cache_key,
    canonical_json,
    describe,
    file_sha256,
    max_entries_from_env,
    model_identity,
    request_config,
)
from workbench.data import load_sample
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError, ModelError
from workbench.evaluate.formats import default_spec
from workbench.evaluate.runner import evaluate
from workbench.evaluate.strategies import parse_strategies
from workbench.store import open_store


class FakeBackend(Backend):
    """Characters are tokens; a completion echoes the prompt's length; scores are minus the length. Counts calls."""

    name = "fake"

    def __init__(self, path: str = "/nonexistent/fake.gguf", fail: bool = False):
        super().__init__(ModelSpec("fake", path, False), 512, None)
        self.generated: list[str] = []
        self.scored: list[str] = []
        self.fail = fail

    device = "cpu"
    bos_text = ""

    def _tokenize(self, text: str, add_bos: bool) -> list[int]:
        return [ord(c) for c in text]

    def token_text(self, token_id: int) -> str:
        return chr(token_id)

    def _generate(self, prompt_ids, cfg):
        if self.fail:
            raise ModelError("the fake model failed")
        out = []
        for ids in prompt_ids:
            text = "".join(map(chr, ids))
            self.generated.append(text)
            out.append([Generation(f" positive {len(ids)} {s}", len(ids), 3, "stop", 0.5, s)
                        for s in ([cfg.seed] * cfg.n)])
        return out

    def _stream(self, prompt_ids, cfg):
        yield "", self._generate([prompt_ids], cfg)[0][0]

    def _logits(self, ids):
        return np.zeros(256, dtype=np.float32)

    def _continuation_logprobs(self, prompt_ids, continuations):
        if self.fail:
            raise ModelError("the fake model failed")
        self.scored.append("".join(map(chr, prompt_ids)))
        return [-0.25 * len(c) - 0.001 * len(prompt_ids) for c in continuations]


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "wb.db")
    yield s
    s.close()


# --------------------------------------------------------------------------- keys (pure)

def test_canonical_json_sorts_keys_and_drops_spaces():
    assert canonical_json({"b": [1, 2.5], "a": "é"}) == '{"a":"é","b":[1,2.5]}'


def test_cache_key_is_the_sha256_of_the_canonical_request():
    key = cache_key("score", "sha256:ab", "llama.cpp", "Label:", continuations=[" positive"],
                    native_order=("top_k",), context_window=2048)
    doc = ('{"backend":"llama.cpp","cfg":null,"context_window":2048,"continuations":[" positive"],'
           '"format":1,"kind":"score","model":"sha256:ab","native_order":["top_k"],"prompt":"Label:"}')
    assert key == hashlib.sha256(doc.encode()).hexdigest()
    assert key == cache_key("score", "sha256:ab", "llama.cpp", "Label:", continuations=(" positive",),
                            native_order=["top_k"], context_window=2048)  # tuples and lists alike


BASE = {"kind": "generate", "model": "sha256:ab", "backend": "llama.cpp", "prompt": "Q: 2+2\nA:",
        "cfg": DecodingConfig().to_dict(), "continuations": None, "native_order": ("top_k",), "context_window": 512}


@pytest.mark.parametrize(("field", "value"), [
    ("kind", "score"), ("model", "sha256:cd"), ("backend", "transformers"), ("prompt", "Q: 2+2\nA: "),
    ("cfg", DecodingConfig(max_new_tokens=65).to_dict()), ("continuations", [" 4"]),
    ("native_order", ("temperature",)), ("context_window", 1024),
])
def test_every_request_field_changes_the_key(field, value):
    def key(d):
        d = dict(d)
        return cache_key(d.pop("kind"), d.pop("model"), d.pop("backend"), d.pop("prompt"), **d)

    assert key(BASE) == key(dict(BASE))
    assert key({**BASE, field: value}) != key(BASE)


def test_greedy_keys_without_the_seed_sampling_with_it():
    assert request_config(DecodingConfig(seed=1)) == request_config(DecodingConfig(seed=2))
    assert request_config(DecodingConfig(seed=1))["seed"] is None
    sampled = DecodingConfig(do_sample=True, temperature=0.7, seed=1)
    assert request_config(sampled)["seed"] == 1
    assert request_config(sampled) != request_config(sampled.replace(seed=2))
    assert request_config(sampled.replace(seed=None)) is None  # a fresh draw every time: never cached


def test_max_entries_from_the_environment(monkeypatch):
    monkeypatch.delenv(cache_module.MAX_ENTRIES_ENV, raising=False)
    assert max_entries_from_env() == cache_module.DEFAULT_MAX_ENTRIES
    monkeypatch.setenv(cache_module.MAX_ENTRIES_ENV, " 12 ")
    assert max_entries_from_env() == 12
    for bad in ("0", "-3", "lots", "1.5"):
        monkeypatch.setenv(cache_module.MAX_ENTRIES_ENV, bad)
        with pytest.raises(ConfigError, match="WORKBENCH_CACHE_MAX_ENTRIES must be a whole number") as err:
            max_entries_from_env()
        assert "\n" not in str(err.value)


def test_describe_the_summary_line():
    assert describe({"hits": 400, "misses": 200}) == "cache: 400 hits, 200 misses"
    assert describe({"hits": 1, "misses": 1}) == "cache: 1 hit, 1 miss"
    assert describe(None) == "cache: off"


# --------------------------------------------------------------------------- model identity

def test_file_hash_is_computed_once_per_path_size_and_mtime(tmp_path, store, monkeypatch):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"weights" * 1000)
    expected = hashlib.sha256(b"weights" * 1000).hexdigest()
    assert file_sha256(model, store) == expected
    st = os.stat(model)
    assert store.file_hash(str(model.resolve()), st.st_size, st.st_mtime_ns) == expected
    # A remembered hash is used as it is (proof it is not recomputed): forget the process memo, plant one.
    monkeypatch.setattr(cache_module, "_file_hashes", {})
    store.remember_file_hash(str(model.resolve()), st.st_size, st.st_mtime_ns, "planted")
    assert file_sha256(model, store) == "planted"
    model.write_bytes(b"other weights")  # another size: hashed again
    assert file_sha256(model, store) == hashlib.sha256(b"other weights").hexdigest()


def test_model_identity_of_a_file_a_folder_a_server_and_a_double(tmp_path, store):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"abc")
    assert model_identity(FakeBackend(str(model)), store) == "sha256:" + hashlib.sha256(b"abc").hexdigest()
    folder = tmp_path / "hf"
    (folder / "sub").mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"w")
    (folder / "sub" / "tok.json").write_bytes(b"{}")
    (folder / ".cache").mkdir()
    (folder / ".cache" / "lock").write_bytes(b"x")  # hidden files do not count
    listing = canonical_json([["model.safetensors", hashlib.sha256(b"w").hexdigest()],
                              ["sub/tok.json", hashlib.sha256(b"{}").hexdigest()]])
    assert model_identity(FakeBackend(str(folder)), store) == "sha256:" + hashlib.sha256(listing.encode()).hexdigest()
    server = SimpleNamespace(name="openai-compatible", config=SimpleNamespace(base_url="http://h:8/v1", model="q"))
    assert model_identity(server) == "server:http://h:8/v1#q"
    assert model_identity(FakeBackend()) == "id:fake@/nonexistent/fake.gguf"


# --------------------------------------------------------------------------- the wrapper

def test_hits_and_misses_are_counted_and_only_missing_prompts_reach_the_model(store):
    fake = FakeBackend()
    cached = CachedBackend(fake, ResponseCache(store))
    cfg = DecodingConfig(max_new_tokens=4)
    first = cached.generate(["a prompt"], cfg)
    assert cached.generate(["a prompt"], cfg.replace(seed=9)) == first  # greedy: the seed changes nothing
    assert fake.generated == ["a prompt"]
    both = cached.generate(["a prompt", "another"], cfg)
    assert fake.generated == ["a prompt", "another"]  # only the new prompt went to the model
    assert both[0] == first[0] and both[1][0].text == " positive 7 0"
    assert cached.complete("another", cfg).text == " positive 7 0"
    assert cached.stats.to_dict() == {"hits": 3, "misses": 2}
    s1 = cached.score_details("Label:", [" positive", " negative"])
    s2 = cached.score_details("Label:", [" positive", " negative"])
    assert s1 == s2 and fake.scored == ["Label:"]
    assert cached.score("Label:", [" negative", " positive"]) == [s1[1].logprob, s1[0].logprob]  # another order
    assert fake.scored == ["Label:", "Label:"]
    assert cached.stats.to_dict() == {"hits": 4, "misses": 4}
    assert store.cache_stats()["entries"] == 4


def test_a_changed_decoding_config_or_sampling_seed_misses(store):
    fake = FakeBackend()
    cached = CachedBackend(fake, ResponseCache(store))
    sampled = DecodingConfig(do_sample=True, temperature=0.7, seed=1, max_new_tokens=4)
    for cfg in (sampled, sampled.replace(seed=2), sampled.replace(temperature=0.8), sampled):
        cached.generate(["p"], cfg)
    assert len(fake.generated) == 3 and cached.stats.to_dict() == {"hits": 1, "misses": 3}
    cached.generate(["p"], sampled.replace(seed=None))
    cached.generate(["p"], sampled.replace(seed=None))
    assert len(fake.generated) == 5 and store.cache_stats()["entries"] == 3  # unseeded sampling: never stored


def test_a_failed_call_stores_nothing(store):
    fake = FakeBackend(fail=True)
    cached = CachedBackend(fake, ResponseCache(store))
    with pytest.raises(ModelError):
        cached.generate(["p"], DecodingConfig())
    with pytest.raises(ModelError):
        cached.score_details("p", [" x"])
    assert store.cache_stats()["entries"] == 0 and cached.stats.to_dict() == {"hits": 0, "misses": 0}
    fake.fail = False
    cached.generate(["p"], DecodingConfig())
    assert fake.generated == ["p"]


def test_the_cache_survives_reopening_the_store(tmp_path):
    path = tmp_path / "wb.db"
    with open_store(path) as store:
        CachedBackend(FakeBackend(), ResponseCache(store)).score_details("Review: fine\nLabel:", [" good"])
    fake = FakeBackend()
    with open_store(path) as store:
        cached = CachedBackend(fake, ResponseCache(store))
        (scored,) = cached.score_details("Review: fine\nLabel:", [" good"])
    assert fake.scored == [] and cached.stats.to_dict() == {"hits": 1, "misses": 0}
    assert scored.logprob == pytest.approx(-0.25 * 5 - 0.001 * 19) and scored.tokens == 5


def test_eviction_keeps_the_most_recently_used(store):
    for i in range(10):
        assert store.cache_put(f"k{i}", "score", [i], max_entries=10) == 0
    assert store.cache_get("k0") == [0]  # k0 is now the most recently used
    assert store.cache_put("k10", "score", [10], max_entries=10) == 2  # 11 > 10: down to 9
    kept = [f"k{i}" for i in range(11) if store.cache_get(f"k{i}") is not None]
    assert kept == ["k0", "k3", "k4", "k5", "k6", "k7", "k8", "k9", "k10"]
    assert store.cache_stats() == {"entries": 9, "bytes": sum(len(f"[{i}]") for i in (0, *range(3, 11)))}
    assert store.cache_clear() == 9 and store.cache_stats()["entries"] == 0


def test_a_malformed_entry_is_a_miss(store):
    store.cache_put("k", "generate", [{"text": "x"}], max_entries=5)  # fields missing: not a Generation
    assert ResponseCache(store).get("k", Generation) is None
    store.cache_put("k", "generate", {"not": "a list"}, max_entries=5)
    assert ResponseCache(store).get("k", Generation) is None


# --------------------------------------------------------------------------- evaluate

def test_evaluate_counts_hits_and_no_cache_bypasses(store):
    ds = load_sample("sentiment")
    strategies = parse_strategies("zero,zero+score", default_spec(ds), ds)
    fake = FakeBackend()
    first = evaluate(ds, None, strategies, fake, store, limit=3)
    assert store.get_run(first.run_id).summary["cache"] == {"hits": 0, "misses": 6}
    calls = (len(fake.generated), len(fake.scored))
    assert calls == (3, 3)
    again = evaluate(ds, None, strategies, fake, store, limit=3)
    assert store.get_run(again.run_id).summary["cache"] == {"hits": 6, "misses": 0}
    assert (len(fake.generated), len(fake.scored)) == calls

    def strip(records):
        return [{k: v for k, v in r.items() if k not in ("seconds", "cached")} for r in records]

    assert strip(again.records) == strip(first.records)
    assert all(r.get("cached") for r in again.records) and not any("cached" in r for r in first.records)
    entries = store.cache_stats()["entries"]
    off = evaluate(ds, None, strategies, fake, store, limit=3, cache=False)
    assert store.get_run(off.run_id).summary["cache"] is None
    assert (len(fake.generated), len(fake.scored)) == (6, 6)  # every call went to the model
    assert store.cache_stats()["entries"] == entries and strip(off.records) == strip(first.records)


# --------------------------------------------------------------------------- real model (gemma-3-270m)

def test_cached_label_scores_equal_uncached_and_decoding_changes_miss(gemma, store):
    cached = CachedBackend(gemma, ResponseCache(store))
    assert cached.model_id() == "sha256:" + file_sha256(gemma.spec.path)
    prompt, words = "Review: a gorgeous, moving film.\nSentiment:", [" positive", " negative"]
    first = cached.score_details(prompt, words)
    assert cached.score_details(prompt, words) == first == gemma.score_details(prompt, words)
    cfg = DecodingConfig(max_new_tokens=3)
    gen = cached.generate([prompt], cfg)[0][0]
    assert cached.generate([prompt], cfg)[0][0] == gen and gen.text == gemma.generate([prompt], cfg)[0][0].text
    assert cached.stats.to_dict() == {"hits": 2, "misses": 2}
    longer = cached.generate([prompt], cfg.replace(max_new_tokens=4))[0][0]
    assert cached.stats.to_dict() == {"hits": 2, "misses": 3} and longer.completion_tokens >= gen.completion_tokens


def test_a_rerun_on_the_real_model_is_all_hits(gemma, tmp_path):
    ds = load_sample("sentiment")
    strategies = parse_strategies("zero+score", default_spec(ds), ds)
    with open_store(tmp_path / "a.db") as store:
        first = evaluate(ds, None, strategies, gemma, store, limit=3)
        second = evaluate(ds, None, strategies, gemma, store, limit=3)
        assert store.get_run(second.run_id).summary["cache"] == {"hits": 3, "misses": 0}
    with open_store(tmp_path / "b.db") as store:
        fresh = evaluate(ds, None, strategies, gemma, store, limit=3, cache=False)
    for a, b, c in zip(first.records, second.records, fresh.records, strict=True):
        assert a["logliks"] == b["logliks"] == c["logliks"] and a["extracted"] == b["extracted"] == c["extracted"]
