"""The openai-compatible backend against a REAL llama.cpp server (llama-cpp-python[server]) on loopback.

The backend contract tests of tests/test_backends.py run unchanged against it; fault
tests kill a real server mid-stream and script tiny stdlib servers (hang, 503, bad JSON,
a trickled body, endless keep-alives, every odd reply shape, llama.cpp's own server).
"""

from __future__ import annotations

import json
import re
import threading
import time

import numpy as np
import pytest

from tests import test_backends as contract
from tests.server_fixtures import (
    FakeServer,
    completion_reply,
    endless_sse,
    fake_llama_cpp,
    fake_openai,
    free_port,
    json_reply,
    llama_logprobs,
    llama_server,
    raw_reply,
    sse_reply,
    trickle_reply,
)
from workbench.backends import load_backend
from workbench.backends.lock import ModelLock
from workbench.backends.openai.backend import OpenAICompatBackend
from workbench.backends.openai.client import backoff_delays, retry_after
from workbench.backends.openai.concurrency import run_bounded
from workbench.backends.openai.config import ServerConfig, format_ref, parse_ref
from workbench.backends.openai.connect import connect
from workbench.backends.openai.replies import iter_sse_data
from workbench.backends.openai.sampling import PENALTY_WINDOWS, native_order, penalty_note, sampling_fields
from workbench.backends.openai.scoring import ECHO_TOLERANCE
from workbench.decoding import SAMPLER_ORDERS, DecodingConfig, describe_order
from workbench.errors import ConfigError, ModelError, PromptError
from workbench.warpers import warp

MODEL = "smollm2-135m-instruct"
GREEDY = DecodingConfig(max_new_tokens=10)


def _model_path() -> str:
    from workbench.backends import resolve_model

    try:
        return resolve_model(MODEL).path
    except ModelError as err:
        pytest.skip(str(err))


@pytest.fixture(scope="session")
def server():
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")
    with llama_server(_model_path(), MODEL, 2048) as srv:
        yield srv


@pytest.fixture(scope="module")
def backend(server):
    return load_backend(server.ref, context_window=2048)


# ---- the shared backend contract (tests/test_backends.py), run against the server ----------------
contract.adopt_contract(globals())  # the backend contract of tests/test_backends.py


# ---- pure helpers -------------------------------------------------------------------------------
def test_server_refs_round_trip():
    assert parse_ref("http://127.0.0.1:8000/v1#smollm2") == ("http://127.0.0.1:8000/v1", "smollm2", None)
    assert parse_ref(" https://gpu/v1/#meta-llama/Llama-3.1-8B#VLLM_KEY ") == (
        "https://gpu/v1", "meta-llama/Llama-3.1-8B", "VLLM_KEY")
    assert parse_ref("http://h:1/v1") == ("http://h:1/v1", "", None)
    assert format_ref("http://h:1/v1/", "m", "KEY") == "http://h:1/v1#m#KEY"
    assert format_ref("http://h:1/v1", "m", "") == "http://h:1/v1#m"
    with pytest.raises(ModelError, match="needs a server reference"):
        parse_ref("gemma-3-270m")
    with pytest.raises(ConfigError, match="not an environment variable name"):
        parse_ref("http://h/v1#m#not a var")


def test_server_config_validates():
    assert ServerConfig("http://h:8000/v1/").root_url == "http://h:8000"
    assert ServerConfig("http://h:8000").root_url == "http://h:8000"
    with pytest.raises(ConfigError, match="must start with http"):
        ServerConfig("ftp://h/v1")
    with pytest.raises(ConfigError, match="max_concurrency"):
        ServerConfig("http://h/v1", max_concurrency=0)


def test_backoff_doubles_and_is_capped():
    assert backoff_delays(5, 0.5, 3.0) == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff_delays(0, 0.5, 3.0) == []


def test_sampling_fields_send_extras_only_when_needed():
    greedy = DecodingConfig(max_new_tokens=5, stop=("\n",))
    assert sampling_fields(greedy, 0, "vllm") == sampling_fields(greedy, 0, "openai") == {
        "max_tokens": 5, "temperature": 0.0, "top_p": 1.0, "stop": ["\n"]}
    # llama-cpp-python's own defaults are top_k=40, min_p=0.05, repeat_penalty=1.1: send the off values
    assert sampling_fields(greedy, 0, "llama-cpp-python") == {
        "max_tokens": 5, "temperature": 0.0, "top_p": 1.0, "stop": ["\n"],
        "top_k": 0, "min_p": 0.0, "typical_p": 1.0, "repeat_penalty": 1.0}
    # llama-server's too (top_k 40, min_p 0.05); its penalty window is the last 64 tokens unless told the whole
    # and its sampler order is the one the workbench shows (llama.cpp's own chain unless the config says)
    assert sampling_fields(greedy, 0, "llama.cpp") == {
        "max_tokens": 5, "temperature": 0.0, "top_p": 1.0, "stop": ["\n"],
        "top_k": 0, "min_p": 0.0, "typical_p": 1.0, "repeat_penalty": 1.0, "repeat_last_n": -1,
        "samplers": ["penalties", "top_k", "typ_p", "top_p", "min_p", "temperature"]}
    assert sampling_fields(greedy, 0, "llama.cpp", window=2048)["repeat_last_n"] == 2048  # today's server: no -1
    sample = DecodingConfig(do_sample=True, temperature=0.7, top_k=40, top_p=0.9, min_p=0.05,
                            repetition_penalty=1.2, max_new_tokens=8)
    assert sampling_fields(sample, 3, "vllm") == {
        "max_tokens": 8, "temperature": 0.7, "top_p": 0.9, "seed": 3,
        "top_k": 40, "min_p": 0.05, "repetition_penalty": 1.2}
    with pytest.raises(ConfigError, match=r"typical_p is read only by llama.cpp servers.*WORKBENCH_SERVER_FAMILY"):
        sampling_fields(DecodingConfig(do_sample=True, typical_p=0.9), 0, "vllm")
    for family in ("llama.cpp", "llama-cpp-python"):
        assert sampling_fields(DecodingConfig(do_sample=True, typical_p=0.9), 0, family)["typical_p"] == 0.9
    with pytest.raises(ConfigError, match="num_beams=1"):
        sampling_fields(DecodingConfig(num_beams=2), None, "llama.cpp")


def test_the_penalty_window_is_sent_to_llama_server_and_said_for_llama_cpp_python():
    """llama-server takes repeat_last_n in the request (the slot's whole window: prompt and output, as the other
    backends); llama-cpp-python's server has no such request field (pydantic drops it) and penalises its last
    ``last_n_tokens_size`` = 64 tokens, a setting of the server: the help where the penalty is set says so."""
    from llama_cpp.server.settings import ModelSettings
    from llama_cpp.server.types import CreateCompletionRequest

    penalised = DecodingConfig(do_sample=True, repetition_penalty=1.3, max_new_tokens=4)
    body = sampling_fields(penalised, 0, "llama.cpp", window=4096)
    assert (body["repeat_penalty"], body["repeat_last_n"]) == (1.3, 4096)
    body = sampling_fields(penalised, 0, "llama-cpp-python")
    assert body["repeat_penalty"] == 1.3 and "repeat_last_n" not in body
    assert "repeat_last_n" not in CreateCompletionRequest.model_fields
    assert ModelSettings.model_fields["last_n_tokens_size"].default == 64
    assert PENALTY_WINDOWS["llama-cpp-python's server"].startswith("only the tokens it generates, at most the last 64")
    assert "llama-cpp-python's server: only the tokens it generates, at most the last 64" in penalty_note()
    assert "llama-server: the prompt and the output (each request sends repeat_last_n" in penalty_note()


def test_llama_cpp_pythons_server_penalises_no_prompt_token_as_the_help_says(backend, smollm):
    """On the real llama-cpp-python server the penalty reads only what it generates: the first greedy token under
    a strong penalty is the unpenalised favourite (" cat", a prompt token), where the in-process model avoids it."""
    from workbench.warpers import apply_repetition_penalty

    prompt = "the cat the cat the cat the"
    ids = smollm.tokenize(prompt)
    logits = smollm.next_token_logits(ids)
    plain, penalised = int(np.argmax(logits)), int(np.argmax(apply_repetition_penalty(logits, ids, 3.0)))
    assert (smollm.token_text(plain), smollm.token_text(penalised)) == (" cat", " dog") and plain in ids
    cfg = DecodingConfig(max_new_tokens=1, repetition_penalty=3.0)

    def first(model) -> int:
        return smollm.tokenize(prompt + model.complete(prompt, cfg).text)[len(ids)]

    assert (first(backend), first(smollm)) == (plain, penalised)


def test_vllms_order_is_labelled_as_vllms_own_min_p_before_top_k_and_top_p():
    """vLLM's Sampler.sample (vllm/v1/sample/sampler.py): temperature, then min-p (its argmax-invariant logits
    processor), then top-k and top-p; Hugging Face applies min-p after top-p."""
    assert native_order("vllm") == SAMPLER_ORDERS["vllm"] == ("temperature", "min_p", "top_k", "top_p", "typical_p")
    assert describe_order(native_order("vllm"), native_order("vllm")) == (
        "temperature → min_p → top_k → top_p → typical_p (vllm order, native)")
    assert native_order("openai") == SAMPLER_ORDERS["transformers"]
    assert native_order("llama-cpp-python") == native_order("llama.cpp") == SAMPLER_ORDERS["llama.cpp"]
    # With min-p on, Hugging Face's order is another order there: refused, not silently run as vLLM's.
    hf_min_p = DecodingConfig(do_sample=True, temperature=0.7, top_p=0.9, min_p=0.1, sampler_order="transformers")
    with pytest.raises(ConfigError, match=r"This server \(vllm\) samples only in its own order"):
        sampling_fields(hf_min_p, 1, "vllm")
    assert sampling_fields(hf_min_p.replace(sampler_order="vllm"), 1, "vllm")["min_p"] == 0.1
    # The explorer's warpers in each order, p = (.5, .25, .15, .1), min-p 0.25 (cuts below .125), top-p 0.8.
    # vLLM: min-p drops .1, top-p then sees (.556, .278, .167) and drops .167 (its tail mass .167 <= 0.2).
    # Hugging Face: top-p first drops only .1 (the tail .1 + .15 = .25 > 0.2), min-p then keeps .15.
    logits = np.log([0.5, 0.25, 0.15, 0.1])
    cfg = DecodingConfig(do_sample=True, top_p=0.8, min_p=0.25)
    kept = np.isfinite(warp(logits, cfg, order=SAMPLER_ORDERS["vllm"]))
    assert kept.tolist() == [True, True, False, False]
    assert np.isfinite(warp(logits, cfg, order=SAMPLER_ORDERS["transformers"])).tolist() == [True, True, True, False]


def test_the_sampler_order_is_sent_or_refused():
    hf_order = DecodingConfig(do_sample=True, temperature=1.6, top_p=0.5, sampler_order="transformers")
    assert sampling_fields(hf_order, 1, "llama.cpp")["samplers"] == [
        "penalties", "temperature", "top_k", "top_p", "min_p", "typ_p"]
    # vLLM's own order (temperature > min_p > top_k > top_p) samples as Hugging Face's while min-p is off
    assert "samplers" not in sampling_fields(hf_order, 1, "vllm")
    with pytest.raises(ConfigError, match=r"This server \(llama-cpp-python\) samples only in its own order"):
        sampling_fields(hf_order, 1, "llama-cpp-python")
    llama_order = hf_order.replace(sampler_order="llama.cpp")
    with pytest.raises(ConfigError, match=r"This server \(vllm\) samples only in its own order "
                                          r"\(temperature > min_p > top_k > top_p > typical_p\)"):
        sampling_fields(llama_order, 1, "vllm")
    assert "samplers" not in sampling_fields(llama_order.replace(do_sample=False), 1, "vllm")  # greedy: no order


def test_retry_after_is_a_finite_bounded_wait():
    assert retry_after("2", 0.5, 8.0) == 2.0
    assert retry_after("120", 0.5, 8.0) == 8.0
    assert retry_after("-3", 0.5, 8.0) == 0.0
    for odd in ("nan", "inf", "-inf", "Wed, 21 Oct 2015 07:28:00 GMT", "", None):
        assert retry_after(odd, 0.5, 8.0) == 0.5


def test_sse_parser_yields_data_until_done():
    lines = [b": ping\r\n", b"data: {\"a\": 1}\r\n", b"\r\n", b"event: x\n", b"data: two\n", b"data: lines\n",
             b"\n", b"data: [DONE]\n", b"\n", b"data: after done\n", b"\n"]
    assert list(iter_sse_data(lines, "U")) == ['{"a": 1}', "two\nlines"]
    with pytest.raises(ModelError, match="The server at U closed the stream before it finished"):
        list(iter_sse_data([b"data: x\n", b"\n", b"data: y"], "U"))


def test_run_bounded_keeps_order_and_bound():
    active, peak, guard = [0], [0], threading.Lock()

    def work(x: int) -> int:
        with guard:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.01)
        with guard:
            active[0] -= 1
        return x * x

    assert run_bounded(work, range(12), 3) == [x * x for x in range(12)]
    assert 1 <= peak[0] <= 3
    peak[0] = 0
    assert run_bounded(work, range(4), 1) == [0, 1, 4, 9]
    assert peak[0] == 1
    with pytest.raises(ZeroDivisionError):
        run_bounded(lambda x: 1 // x, [1, 0, 2], 2)


def test_lock_with_two_slots_admits_two_then_queues():
    lock, waited, entered = ModelLock(slots=2), [], threading.Event()

    def third() -> None:
        with lock.hold(waited.append):
            entered.set()

    with lock.hold(), lock.hold():
        assert lock.busy
        t = threading.Thread(target=third)
        t.start()
        deadline = time.monotonic() + 5
        while lock.waiting == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert waited and set(waited) == {1} and not entered.is_set()
    t.join(5)
    assert entered.is_set() and not lock.busy and lock.waiting == 0


# ---- the real llama.cpp server ------------------------------------------------------------------
def test_identity(backend, server):
    assert isinstance(backend, OpenAICompatBackend)
    assert backend.name == "openai-compatible"
    assert backend.device == server.url
    assert backend.context_window == 2048
    assert backend.route.kind == "llama-cpp-python"
    assert backend.spec.id == server.ref and not backend.is_chat
    assert backend.count_tokens("One, two, three") == len(backend.tokenize("One, two, three")) == 5


def test_scores_and_distribution_match_the_in_process_model(backend, smollm):
    prompt, labels = "The capital of France is", [" Paris", " London", " the capital"]
    remote, local = backend.score(prompt, labels), smollm.score(prompt, labels)
    assert remote == pytest.approx(local, abs=1e-3)
    far = backend.next_token_distribution(prompt, top=5)
    near = smollm.next_token_distribution(prompt, top=5)
    assert [d.text for d in far] == [d.text for d in near]
    assert [d.token_id for d in far] == [d.token_id for d in near]
    assert [d.prob for d in far] == pytest.approx([d.prob for d in near], abs=1e-3)


def test_generate_many_concurrently_equals_one_at_a_time(server):
    prompts = [f"{n}, {n + 1}, {n + 2}," for n in range(1, 7)]
    cfg = DecodingConfig(max_new_tokens=6)
    one = connect(ServerConfig(server.url, server.model, context_window=2048, max_concurrency=1))
    many = connect(ServerConfig(server.url, server.model, context_window=2048, max_concurrency=4))
    a = [row[0].text for row in one.generate(prompts, cfg)]
    b = [row[0].text for row in many.generate(prompts, cfg)]
    assert a == b and len(set(a)) == 6


def test_chat_goes_through_the_servers_template(backend):
    reply = backend.chat([{"role": "user", "content": "Name the capital of France."}], DecodingConfig(max_new_tokens=16))
    assert "Paris" in reply.text
    assert reply.prompt_tokens > backend.count_tokens("Name the capital of France.")
    with pytest.raises(PromptError, match="role"):
        backend.chat([{"content": "no role"}])


def test_full_logits_are_a_clear_error(backend):
    with pytest.raises(ConfigError, match="only the top log-probabilities"):
        backend.next_token_logits("The capital of France is")


def test_closing_a_stream_frees_a_slot(backend):
    stream = backend.stream("One, two, three, four,", DecodingConfig(max_new_tokens=30))
    pieces = iter(stream)  # kept: dropping the iterator would close the stream by itself
    next(pieces)
    assert backend.lock.busy
    stream.close()
    assert not backend.lock.busy
    assert "five" in backend.complete("One, two, three, four,", GREEDY).text


def test_load_errors_are_one_line(server):
    with pytest.raises(ModelError) as info:
        load_backend(f"{server.url}#no-such-model")
    assert str(info.value) == (
        f"The server at {server.url} does not serve model 'no-such-model'; it serves: {MODEL}."
    )
    assert load_backend(server.url, context_window=2048).model == MODEL  # the only model served
    with pytest.raises(ModelError, match="needs a server reference"):
        load_backend(MODEL, "openai-compatible")


def test_a_prompt_beyond_the_servers_window_is_a_prompt_error(server):
    wide = load_backend(server.ref, context_window=4096)  # the server itself has 2048
    with pytest.raises(PromptError, match=r"maximum context length is 2048 tokens.*; shorten the prompt or lower max_new_tokens\.$"):
        wide.complete("word " * 2100, DecodingConfig(max_new_tokens=4))


# ---- faults ----------------------------------------------------------------------------------------
def test_connection_refused_says_so():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(ModelError) as info:
        load_backend(f"{url}#m")
    assert str(info.value) == f"Cannot reach the server at {url}; is it running?"


def test_server_killed_mid_stream_is_a_clear_error():
    with llama_server(_model_path(), MODEL, 2048) as srv:
        backend = connect(ServerConfig(srv.url, srv.model, context_window=2048, backoff_s=0.01, max_retries=2))
        backend.complete("Hello", DecodingConfig(max_new_tokens=1))  # warm up (the first request is slow)
        cfg = DecodingConfig(do_sample=True, temperature=0.8, seed=1, max_new_tokens=1500)
        stream = iter(backend.stream("Once upon a time", cfg))
        next(stream)
        srv.kill()
        with pytest.raises(ModelError, match=r"closed the (stream|connection) before"):
            for _ in range(2000):  # bounded: the stream must end within max_new_tokens pieces
                next(stream)
        assert not backend.lock.busy
        with pytest.raises(ModelError, match="Cannot reach the server"):
            backend.complete("Hello", GREEDY)


def test_a_hanging_server_times_out():
    with FakeServer(fake_openai(lambda body: None)) as fake:
        backend = connect(ServerConfig(fake.url, "fake", timeout_s=0.5, max_retries=0))
        start = time.monotonic()
        with pytest.raises(ModelError) as info:
            backend.complete("Hello there", GREEDY)
        assert str(info.value) == (
            f"The server at {fake.url} did not answer within 0.5 s; check that it is not overloaded, "
            "or raise WORKBENCH_SERVER_TIMEOUT_S."
        )
        assert time.monotonic() - start < 10  # bounded, not a hang (generous: not a timing claim)


@pytest.mark.parametrize("status", [503, 429])
def test_busy_then_success_is_retried(status):
    calls = []

    def completions(body):
        calls.append(body["prompt"])
        return json_reply({"error": {"message": "busy"}}, status) if len(calls) <= 2 else completion_reply(" ok")

    with FakeServer(fake_openai(completions)) as fake:
        backend = connect(ServerConfig(fake.url, "fake", backoff_s=0.01, max_retries=3))
        assert backend.complete("Hello there", GREEDY).text == " ok"
    assert calls == ["Hello there"] * 3


def test_always_busy_gives_up_after_the_retries():
    calls = []

    def completions(body):
        calls.append(1)
        return json_reply({"detail": "overloaded"}, 503, {"Retry-After": "0"})

    with FakeServer(fake_openai(completions)) as fake:
        backend = connect(ServerConfig(fake.url, "fake", backoff_s=0.01, max_retries=2))
        with pytest.raises(ModelError) as info:
            backend.complete("Hello there", GREEDY)
    assert str(info.value) == (
        f"The server at {fake.url} is still busy (503) after 2 retries over 0.0 s; "
        "try again later or lower max_concurrency."
    )
    assert len(calls) == 3


def test_malformed_json_is_named():
    with FakeServer(fake_openai(lambda body: (200, {}, b"<html>oops</html>"))) as fake:
        backend = connect(ServerConfig(fake.url, "fake"))
        with pytest.raises(ModelError) as info:
            backend.complete("Hello there", GREEDY)
    assert str(info.value) == (
        f"The server at {fake.url} returned malformed JSON for /completions ('<html>oops</html>'); "
        "is it an OpenAI-compatible server?"
    )


def test_a_server_without_logprobs_says_so():
    with FakeServer(fake_openai(lambda body: completion_reply(" ok", logprobs=None))) as fake:
        backend = connect(ServerConfig(fake.url, "fake"))
        with pytest.raises(ConfigError, match="does not return log-probabilities"):
            backend.next_token_distribution("Hello there")
        with pytest.raises(ConfigError, match="does not return log-probabilities"):
            backend.score("Hello there", [" friend"])


def test_api_key_comes_from_the_named_environment_variable(monkeypatch):
    base = fake_openai(lambda body: completion_reply(" ok"))

    def handle(method, path, body):
        if fake.headers[-1].get("Authorization") != "Bearer s3cret":
            return json_reply({"error": {"message": "Invalid API key"}}, 401)
        return base(method, path, body)

    with FakeServer(handle) as fake:
        monkeypatch.delenv("WB_TEST_KEY", raising=False)
        with pytest.raises(ConfigError, match=r"WB_TEST_KEY .* is not set"):
            load_backend(f"{fake.url}#fake#WB_TEST_KEY")
        assert fake.requests == []  # nothing is sent without the key
        monkeypatch.setenv("WB_TEST_KEY", "wrong")
        with pytest.raises(ConfigError, match=r"refused the API key \(401: Invalid API key\)"):
            load_backend(f"{fake.url}#fake#WB_TEST_KEY")
        monkeypatch.setenv("WB_TEST_KEY", "s3cret")
        backend = load_backend(f"{fake.url}#fake#WB_TEST_KEY")
        assert backend.complete("Hello there", GREEDY).text == " ok"
        assert "s3cret" not in backend.spec.id and backend.spec.id.endswith("#WB_TEST_KEY")
        assert fake.headers[-1]["Authorization"] == "Bearer s3cret"


def test_a_server_without_a_tokenizer_is_refused():
    def handle(method, path, body):
        if path == "/v1/models":
            return json_reply({"data": [{"id": "fake"}]})
        return json_reply({"detail": "Not Found"}, 404)

    with FakeServer(handle) as fake:
        with pytest.raises(ModelError, match="has no tokenizer endpoint"):
            load_backend(f"{fake.url}#fake")


# ---- llama.cpp's own server (llama-server) -----------------------------------------------------------
def _completions_sent(fake: FakeServer) -> list[dict]:
    return [b for p, b in zip(fake.requests, fake.bodies, strict=True) if p == "/v1/completions"]


def test_llama_server_gets_its_own_names_and_explicit_off_values():
    with FakeServer(fake_llama_cpp(lambda body: completion_reply(" ok"), n_ctx=4096)) as fake:
        backend = load_backend(f"{fake.url}#llama")
        assert (backend.family, backend.route.kind) == ("llama.cpp", "llama.cpp")  # owned_by: llamacpp
        assert backend.context_window == 4096  # the window per slot (/props), not meta.n_ctx (all slots)
        assert backend.sampler_order == ("top_k", "typical_p", "top_p", "min_p", "temperature")
        assert backend.complete("Hello there", GREEDY).text == " ok"
        sampled = DecodingConfig(do_sample=True, temperature=0.7, typical_p=0.9, repetition_penalty=1.3,
                                 top_k=20, seed=5, max_new_tokens=4)
        assert backend.complete("Hello there", sampled).text == " ok"
    greedy, sample = _completions_sent(fake)
    off = {"top_k": 0, "min_p": 0.0, "typical_p": 1.0, "repeat_penalty": 1.0, "repeat_last_n": 4096,
           "samplers": ["penalties", "top_k", "typ_p", "top_p", "min_p", "temperature"]}
    assert {k: greedy[k] for k in off} == off and "repetition_penalty" not in greedy
    assert greedy["temperature"] == 0.0 and greedy["prompt"] == "Hello there"
    assert {k: sample[k] for k in off} == {**off, "top_k": 20, "typical_p": 0.9, "repeat_penalty": 1.3}
    assert sample["seed"] == 5 and "repetition_penalty" not in sample


def test_the_family_can_be_named(monkeypatch):
    with FakeServer(fake_openai(lambda body: completion_reply(" ok"))) as fake:
        assert load_backend(f"{fake.url}#fake").family == "llama-cpp-python"  # its /extras/tokenize answered
        monkeypatch.setenv("WORKBENCH_SERVER_FAMILY", "openai")
        plain = load_backend(f"{fake.url}#fake")
        assert plain.family == "openai"
        plain.complete("Hello there", GREEDY)
        assert "top_k" not in _completions_sent(fake)[-1]
        with pytest.raises(ConfigError, match=r"typical_p is read only by llama.cpp servers"):
            plain.complete("Hello there", DecodingConfig(do_sample=True, typical_p=0.5))
        monkeypatch.setenv("WORKBENCH_SERVER_FAMILY", "llama.cpp")
        named = load_backend(f"{fake.url}#fake")
        named.complete("Hello there", GREEDY)
        assert _completions_sent(fake)[-1]["repeat_last_n"] == named.context_window  # its whole window
        monkeypatch.setenv("WORKBENCH_SERVER_FAMILY", "tgi")
        with pytest.raises(ConfigError, match=r"'tgi' is not one of auto, llama.cpp"):
            load_backend(f"{fake.url}#fake")


def test_llama_servers_chat_template_comes_from_props():
    template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}<assistant>"
    with FakeServer(fake_llama_cpp(lambda body: completion_reply(" ok"), chat_template=template)) as fake:
        backend = load_backend(f"{fake.url}#llama")
        assert backend.is_chat
        assert backend.format_chat([{"role": "user", "content": "Hi"}]) == "<user>Hi<assistant>"
    with FakeServer(fake_llama_cpp(lambda body: completion_reply(" ok"), chat_template="{{ 1/0 }}")) as fake:
        with pytest.raises(PromptError, match=r"chat template of .* failed: division by zero"):
            load_backend(f"{fake.url}#llama").format_chat([{"role": "user", "content": "Hi"}])


def test_an_embedded_base_model_behind_a_server_stays_a_base_model():
    """llama-server publishes the GGUF's template, and gemma-3-270m's base GGUF carries one: the registry says
    it is a base model, so raw prompts are not wrapped in a chat template (make classroom serves it so)."""
    template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}<assistant>"
    with FakeServer(fake_llama_cpp(lambda body: completion_reply(" ok"), chat_template=template,
                                   model="gemma-3-270m")) as fake:
        backend = load_backend(f"{fake.url}#gemma-3-270m")
        assert not backend.is_chat
        assert backend.format_chat([{"role": "user", "content": "Hi"}]) == "<user>Hi<assistant>"  # still offered
    with FakeServer(fake_llama_cpp(lambda body: completion_reply(" ok"), chat_template=template,
                                   model="smollm2-135m-instruct")) as fake:
        assert load_backend(f"{fake.url}#smollm2-135m-instruct").is_chat


# ---- the bad server: an overall deadline per request -----------------------------------------------
def _deadline_message(url: str, path: str, seconds: float) -> str:
    return (f"The server at {url} did not finish its reply to {path} within {seconds:g} s (the deadline per "
            "request); check the server, or raise WORKBENCH_SERVER_DEADLINE_S.")


def test_a_trickled_body_meets_the_deadline():
    body = json.dumps({"choices": [{"text": " ok" * 50, "finish_reason": "stop"}]}).encode()
    with FakeServer(fake_openai(lambda b: trickle_reply(body, every_s=0.02))) as fake:
        backend = connect(ServerConfig(fake.url, "fake", timeout_s=5, deadline_s=1.0, max_retries=0))
        start = time.monotonic()
        with pytest.raises(ModelError) as info:
            backend.complete("Hello there", GREEDY)  # the whole body would take 3 s; each byte comes in 0.02 s
        assert time.monotonic() - start < 3  # stopped at the deadline, not at the end of the body
    assert str(info.value) == _deadline_message(fake.url, "/completions", 1.0)


def test_endless_keep_alives_meet_the_deadline():
    with FakeServer(fake_openai(lambda b: endless_sse(every_s=0.02))) as fake:
        backend = connect(ServerConfig(fake.url, "fake", timeout_s=5, deadline_s=1.0, max_retries=0))
        start = time.monotonic()
        with pytest.raises(ModelError) as info:
            for _ in backend.stream("Hello there", GREEDY):
                pass
        assert time.monotonic() - start < 5
        assert not backend.lock.busy
    assert str(info.value) == _deadline_message(fake.url, "/completions", 1.0)


def test_a_retry_past_the_deadline_is_not_waited_for():
    busy = json_reply({"error": {"message": "busy"}}, 503, {"Retry-After": "30"})
    with FakeServer(fake_openai(lambda b: busy)) as fake:
        backend = connect(ServerConfig(fake.url, "fake", deadline_s=1.0, max_backoff_s=60, max_retries=3))
        start = time.monotonic()
        with pytest.raises(ModelError, match="within 1 s \\(the deadline per request\\)"):
            backend.complete("Hello there", GREEDY)
        assert time.monotonic() - start < 5


def test_timeout_and_deadline_come_from_the_environment(monkeypatch):
    with FakeServer(fake_openai(lambda b: None)) as fake:
        monkeypatch.setenv("WORKBENCH_SERVER_TIMEOUT_S", "0.3")
        monkeypatch.setenv("WORKBENCH_SERVER_DEADLINE_S", "30")
        backend = load_backend(f"{fake.url}#fake")
        assert (backend.config.timeout_s, backend.config.deadline_s) == (0.3, 30.0)
        with pytest.raises(ModelError, match=r"did not answer within 0\.3 s"):
            backend.complete("Hello there", GREEDY)
        for bad, message in (("soon", "WORKBENCH_SERVER_DEADLINE_S='soon' is not a number"),
                             ("0", "deadline must be > 0"), ("inf", "deadline must be > 0"),
                             ("nan", "deadline must be > 0")):
            monkeypatch.setenv("WORKBENCH_SERVER_DEADLINE_S", bad)
            with pytest.raises(ConfigError, match=message):
                load_backend(f"{fake.url}#fake")


# ---- the bad server: every odd reply shape is one ModelError naming the endpoint and the field --------
MODELS_OK = {"data": [{"id": "fake"}]}
ODD_AT_CONNECT = {
    "data is a number": ("/v1/models", {"data": 5}, r"for /models: data: Input should be a valid list"),
    "no data": ("/v1/models", {"object": "list"}, r"for /models: data: Field required"),
    "model id a number": ("/v1/models", {"data": [{"id": 7}]}, r"for /models: data\.0\.id: Input should be a valid string"),
    "window is text": ("/v1/models", {"data": [{"id": "fake", "max_model_len": "lots"}]},
                       r"for /models: data\.0\.max_model_len: Input should be a valid integer"),
    "window is negative": ("/v1/models", {"data": [{"id": "fake", "max_model_len": -1}]},
                           r"for /models: data\.0\.max_model_len: Input should be greater than or equal to 16"),
    "token ids as strings": ("/extras/tokenize", {"tokens": ["1", "2"]},
                             r"for /extras/tokenize: tokens\.0: Input should be a valid integer"),
    "reply is a list": ("/v1/models", [1, 2], r"for /models: the reply: Input should be .*(dictionary|instance)"),
}


@pytest.mark.parametrize("name", list(ODD_AT_CONNECT))
def test_an_odd_reply_when_connecting_is_one_error(name):
    path, reply, message = ODD_AT_CONNECT[name]
    with FakeServer(fake_openai(lambda b: completion_reply(), {path: json_reply(reply)})) as fake:
        with pytest.raises(ModelError) as info:
            load_backend(f"{fake.url}#fake")
    text = str(info.value)
    assert text.startswith(f"The server at {fake.url} sent an unexpected reply for ") and "\n" not in text
    assert re.search(message, text), text


ODD_COMPLETIONS = {
    "usage is a list": (b'{"choices": [{"text": " ok"}], "usage": [1]}', r"usage: Input should be .*(dictionary|instance)"),
    "text is a number": (b'{"choices": [{"text": 5}]}', r"choices\.0\.text: Input should be a valid string"),
    "no choices": (b'{"choices": []}', r"choices: List should have at least 1 item"),
    "choice is text": (b'{"choices": ["ok"]}', r"choices\.0: Input should be"),
    "counts are text": (b'{"choices": [{"text": "a"}], "usage": {"completion_tokens": "3"}}',
                        r"usage\.completion_tokens: Input should be a valid integer"),
    "a 5000-digit number": (b'{"choices": [{"text": "a"}], "usage": {"completion_tokens": ' + b"9" * 5000 + b"}}",
                            r"malformed JSON for /completions"),
    "nested past the stack": (b"[" * 100_000 + b"]" * 100_000, r"malformed JSON for /completions"),
    "invalid UTF-8": (b'{"choices": [{"text": "\xff\xfe"}]', r"malformed JSON for /completions"),
}


@pytest.mark.parametrize("name", list(ODD_COMPLETIONS))
def test_an_odd_completion_is_one_error(name):
    payload, message = ODD_COMPLETIONS[name]
    with FakeServer(fake_openai(lambda b: raw_reply(payload))) as fake:
        backend = connect(ServerConfig(fake.url, "fake"))
        with pytest.raises(ModelError) as info:
            backend.complete("Hello there", GREEDY)
    text = str(info.value)
    assert text.startswith(f"The server at {fake.url} ") and "/completions" in text and "\n" not in text
    assert re.search(message, text), text


ODD_EVENTS = {
    "a list": ([1, 2], r"for /completions \(stream\): the reply: Input should be"),
    "a number": (5, r"for /completions \(stream\): the reply: Input should be"),
    "text is a number": ({"choices": [{"text": 5}]}, r"for /completions \(stream\): choices\.0\.text: Input should be a valid string"),
    "not JSON": (b"{oops", r"malformed JSON for /completions \(stream\)"),
    "an error event": ({"error": {"message": "slot unavailable"}}, r"failed: slot unavailable\.$"),
}


@pytest.mark.parametrize("name", list(ODD_EVENTS))
def test_an_odd_stream_event_is_one_error(name):
    event, message = ODD_EVENTS[name]
    good = {"choices": [{"text": " ok", "finish_reason": None}]}
    with FakeServer(fake_openai(lambda b: sse_reply(good, event))) as fake:
        backend = connect(ServerConfig(fake.url, "fake"))
        with pytest.raises(ModelError) as info:
            list(backend.stream("Hello there", GREEDY))
        assert not backend.lock.busy
    assert re.search(message, str(info.value)), str(info.value)


def test_a_usage_only_event_ends_a_stream_cleanly():
    events = [{"choices": [{"text": " one"}]}, {"choices": [{"text": " two", "finish_reason": "length"}]},
              {"choices": [], "usage": {"completion_tokens": 2}}]
    with FakeServer(fake_openai(lambda b: sse_reply(*events))) as fake:
        backend = connect(ServerConfig(fake.url, "fake"))
        stream = backend.stream("Hello there", GREEDY)
        assert stream.text() == " one two"
    assert stream.generation.finish_reason == "length"


def test_odd_logprobs_and_chat_replies_are_one_error():
    strings = {"choices": [{"text": "a", "logprobs": {"top_logprobs": [{"a": "-0.1"}]}}]}
    positive = {"choices": [{"text": "a", "logprobs": {"top_logprobs": [{"a": 900.0}]}}]}  # exp(900) overflows
    for reply, field in ((strings, r"top_logprobs\.0\.a: Input should be a valid number"),
                         (positive, r"top_logprobs\.0\.a: Input should be less than or equal to 0.001")):
        with FakeServer(fake_openai(lambda b, r=reply: json_reply(r))) as fake:
            backend = connect(ServerConfig(fake.url, "fake"))
            with pytest.raises(ModelError, match=field):
                backend.next_token_distribution("Hello there")
    chat = {"/v1/chat/completions": json_reply({"choices": [{"message": {"content": 5}}]})}
    with FakeServer(fake_openai(lambda b: completion_reply(), chat)) as fake:
        backend = connect(ServerConfig(fake.url, "fake"))
        with pytest.raises(ModelError, match=r"for /chat/completions: choices\.0\.message\.content: Input should be"):
            backend.chat([{"role": "user", "content": "Hi"}])


def test_retry_after_nan_is_the_default_backoff():
    calls = []

    def completions(body):
        calls.append(1)
        return json_reply({"error": {"message": "busy"}}, 503, {"Retry-After": "nan"}) if len(calls) == 1 \
            else completion_reply(" ok")

    with FakeServer(fake_openai(completions)) as fake:
        backend = connect(ServerConfig(fake.url, "fake", backoff_s=0.01, max_retries=2))
        assert backend.complete("Hello there", GREEDY).text == " ok"
    assert len(calls) == 2


# ---- server references with options ---------------------------------------------------------------
def test_reference_options_round_trip():
    from workbench.backends.openai.config import config_from_ref, ref_options

    ref = "http://h:11434/v1#llama3#OLLAMA_KEY#tokenizer=/models/llama3#scoring=forced"
    assert parse_ref(ref) == ("http://h:11434/v1", "llama3", "OLLAMA_KEY")
    assert ref_options(ref) == {"tokenizer": "/models/llama3", "scoring": "forced"}
    assert ref_options("http://h/v1#m#tokenizer=approximate") == {"tokenizer": "approximate"}
    assert parse_ref("http://h/v1#m#tokenizer=approximate") == ("http://h/v1", "m", None)
    config = config_from_ref(ref)
    assert (config.tokenizer, config.scoring) == ("/models/llama3", "forced") and config.ref == ref
    assert format_ref("http://h/v1", "m", None, tokenizer="approximate") == "http://h/v1#m#tokenizer=approximate"
    with pytest.raises(ConfigError, match=r"Unknown option 'tokeniser' in the server reference; use tokenizer="):
        parse_ref("http://h/v1#m#tokeniser=x")
    with pytest.raises(ConfigError, match=r"names two API key variables"):
        parse_ref("http://h/v1#m#KEY_A#KEY_B")
    with pytest.raises(ConfigError, match=r"Scoring 'fast' is not one of auto, echo, forced"):
        config_from_ref("http://h/v1#m#scoring=fast")


# ---- servers without a tokenizer endpoint (Ollama, TGI, LM Studio, hosted APIs) ----------------------
def _no_tokenizer(completions):
    """An OpenAI server with no tokenizer endpoint at all, as Ollama's /v1 is."""

    def handle(method, path, body):
        if path == "/v1/models":
            return json_reply({"object": "list", "data": [{"id": "llama3", "object": "model", "owned_by": "library"}]})
        if path == "/v1/completions":
            return completions(body)
        return json_reply({"error": "404 page not found"}, 404)

    return handle


def test_a_server_without_a_tokenizer_says_how_to_name_one():
    with FakeServer(_no_tokenizer(lambda b: completion_reply(" ok"))) as fake:
        with pytest.raises(ModelError) as info:
            load_backend(f"{fake.url}#llama3")
    message = str(info.value)
    assert "has no tokenizer endpoint" in message and "#tokenizer=PATH" in message
    assert "#tokenizer=approximate" in message and "\n" not in message


def test_an_approximate_token_budget_is_labelled_and_refuses_label_scoring():
    usage = {"choices": [{"text": " fine, thanks", "finish_reason": "stop"}], "usage": {"completion_tokens": 3}}
    with FakeServer(_no_tokenizer(lambda b: json_reply(usage))) as fake:
        backend = load_backend(f"{fake.url}#llama3#tokenizer=approximate")
        assert backend.family == "openai" and not backend.token_counts_exact
        assert backend.spec.id.endswith("#tokenizer=approximate")
        assert "token counts approximate" in backend.spec.description
        assert not backend.capabilities.label_scoring
        text = "The capital of France is"
        assert backend.count_tokens(text) == 7  # 4 bytes a piece: "The", " cap"+"ital", " of", " Fra"+"nce", " is"
        gen = backend.complete("How are you?", GREEDY)
        assert gen.text == " fine, thanks" and gen.completion_tokens == 3  # the server's own count
        sent = [b for p, b in zip(fake.requests, fake.bodies, strict=True) if p == "/v1/completions"][-1]
        assert sent["prompt"] == "How are you?"  # the text the user wrote, not a guess from ids
        with pytest.raises(ConfigError) as info:
            backend.score(text, [" Paris"])
    assert "approximate" in str(info.value) and "#tokenizer=PATH" in str(info.value)


def test_a_tokenizer_that_cannot_be_loaded_is_one_line(tmp_path):
    with FakeServer(_no_tokenizer(lambda b: completion_reply())) as fake:
        for name in (str(tmp_path / "missing.gguf"), str(tmp_path), "no-such-org/no-such-model"):
            with pytest.raises(ConfigError) as info:
                load_backend(f"{fake.url}#llama3#tokenizer={name}")
            message = str(info.value)
            assert message.startswith(f"Cannot load the tokenizer {name!r} from this machine (") and "\n" not in message


def test_a_local_gguf_tokenizer_counts_as_the_server_does(server, backend):
    """The GGUF's vocabulary read alone (vocab_only) against the real server's /extras/tokenize."""
    local = connect(ServerConfig(server.url, server.model, context_window=2048, tokenizer=_model_path()))
    assert local.token_counts_exact and local.tokenizer.kind.startswith("local (")
    assert local.family == "llama-cpp-python"  # still found by its tokenizer endpoint
    for text in ("One, two, three", "The capital of France is", "naïve café 🙂", "<|im_start|>user\nHi"):
        assert local.tokenize(text) == backend.tokenize(text), text
    prompt, labels = "The capital of France is", [" Paris", " London"]
    assert local.score(prompt, labels) == pytest.approx(backend.score(prompt, labels), abs=1e-4)


def test_a_local_hugging_face_tokenizer_folder_counts_as_the_server_does(server, backend, tmp_path):
    """A Hugging Face tokenizer folder (here written from the GGUF by transformers) against the real server."""
    pytest.importorskip("transformers")
    from pathlib import Path

    from transformers import AutoTokenizer

    path = Path(_model_path())
    AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name).save_pretrained(tmp_path / "tok")
    local = connect(ServerConfig(server.url, server.model, context_window=2048, tokenizer=str(tmp_path / "tok")))
    for text in ("One, two, three", "The capital of France is", "naïve café"):
        assert local.tokenize(text) == backend.tokenize(text), text
    texts = [f"Review {i}: a film of {i} scenes." for i in range(40)]
    assert run_bounded(local.tokenize, texts, 8) == [backend.tokenize(t) for t in texts]  # from many threads


# ---- label scoring through echo + logprobs ------------------------------------------------------------
def _echo_server(scores: dict[str, list[float]], refuse_echo: bool = False):
    """A vLLM-like server: one token per word; echo returns each prompt word's log-probability from ``scores``
    (keyed by the word), forced requests read the forced token's value from the same table."""
    words = {w: i + 1 for i, w in enumerate(sorted(scores))}
    names = {i: w for w, i in words.items()}

    def ids(text: str) -> list[int]:
        for w in text.split():
            if w not in words:
                words[w] = len(words) + 1
                names[words[w]] = w
        return [words[w] for w in text.split()]

    def completions(body):
        prompt = body["prompt"].split()
        if body.get("echo"):
            if refuse_echo:
                return json_reply({"error": {"message": "Only no echo is supported"}}, 500)
            values = [None] + [scores[w][0] for w in prompt[1:]] + [-0.5]
            return json_reply({"choices": [{"text": " x", "logprobs": {
                "tokens": [*prompt, " x"], "token_logprobs": values, "top_logprobs": None,
                "text_offset": list(range(len(values)))}}],
                "usage": {"prompt_tokens": len(prompt), "completion_tokens": 1}})
        forced = names[int(next(iter(body["logit_bias"])))]
        return json_reply({"choices": [{"text": forced, "logprobs": {
            "tokens": [forced], "token_logprobs": [scores[forced][0]], "top_logprobs": [{forced: scores[forced][0]}]}}]})

    def handle(method, path, body):
        if path == "/v1/models":
            return json_reply({"data": [{"id": "m", "owned_by": "vllm", "max_model_len": 4096}]})
        if path == "/tokenize":
            return json_reply({"tokens": ids(body.get("prompt", ""))})
        if path == "/detokenize":
            return json_reply({"prompt": " ".join(names[i] for i in body["tokens"])})
        if path == "/v1/completions":
            return completions(body)
        return json_reply({"detail": "Not Found"}, 404)

    return handle


SCORES = {"Q": [-1.0], "is": [-2.0], "good": [-0.25], "bad": [-3.0], "very": [-1.5]}


def test_echo_scoring_takes_one_request_per_continuation_once_checked():
    with FakeServer(_echo_server(SCORES)) as fake:
        backend = connect(ServerConfig(fake.url, "m"))
        assert backend.family == "vllm" and backend.scoring.startswith("echo, once")
        scores = backend.score("Q is", [" good", " bad", " very good"])
        assert scores == pytest.approx([-0.25, -3.0, -1.75])
        assert backend.scoring == "echo (checked against forced tokens)"
        sent = [b for p, b in zip(fake.requests, fake.bodies, strict=True) if p == "/v1/completions"]
        # the check: " good" both ways (1 echo + 1 forced); then one echo request each for the other two
        assert [bool(b.get("echo")) for b in sent] == [True, False, True, True]
        before = len(fake.requests)
        assert backend.score("Q is", [" very bad"]) == pytest.approx([-4.5])
        assert fake.requests[before:].count("/v1/completions") == 1  # not the two forced requests


def test_echo_that_disagrees_or_is_refused_falls_back_to_forced_tokens():
    shifted = {**SCORES}

    def shift(handler):  # an echo whose values sit one token off (llama-cpp-python without a BOS)
        def handle(method, path, body):
            status, headers, payload = handler(method, path, body)
            if path == "/v1/completions" and body.get("echo"):
                data = json.loads(payload)
                values = data["choices"][0]["logprobs"]["token_logprobs"]
                data["choices"][0]["logprobs"]["token_logprobs"] = [None, *values[2:], -9.0]
                payload = json.dumps(data).encode()
            return status, headers, payload
        return handle

    for handler, why in ((shift(_echo_server(shifted)), "differs from the forced score"),
                         (_echo_server(SCORES, refuse_echo=True), "echo refused: The server at")):
        with FakeServer(handler) as fake:
            backend = connect(ServerConfig(fake.url, "m", max_retries=0))
            assert backend.score("Q is", [" good", " very good"]) == pytest.approx([-0.25, -1.75])
            assert backend.scoring.startswith("forced (") and why in backend.scoring
            sent = [b for p, b in zip(fake.requests, fake.bodies, strict=True) if p == "/v1/completions"]
            assert [bool(b.get("echo")) for b in sent] == [True, False, False, False]  # never echo again


def test_scoring_can_be_forced_and_llama_servers_are_forced_by_default():
    with FakeServer(_echo_server(SCORES)) as fake:
        backend = load_backend(f"{fake.url}#m#scoring=forced")
        assert backend.score("Q is", [" good"]) == pytest.approx([-0.25])
        assert not any(b.get("echo") for b in fake.bodies if b)
        assert backend.scoring == "forced (as configured)"
    with FakeServer(fake_llama_cpp(lambda body: completion_reply())) as fake:
        assert load_backend(f"{fake.url}#llama").scoring == "forced (llama.cpp)"


@pytest.fixture(scope="module")
def gemma_server():
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")
    from workbench.backends import resolve_model

    try:
        path = resolve_model("gemma-3-270m").path
    except ModelError as err:
        pytest.skip(str(err))
    with llama_server(path, "gemma", 1024) as srv:
        yield srv


def test_echo_scores_equal_forced_scores_on_the_real_server_with_a_bos_model(gemma_server):
    """llama-cpp-python's echo log-probabilities are right for a model with a BOS token (Gemma)."""
    prompt = "Review: a gripping, beautifully acted film.\nSentiment:"
    labels = [" positive", " negative", " very positive", " mixed feelings"]
    echo = connect(ServerConfig(gemma_server.url, "gemma", context_window=1024, scoring="echo"))
    forced = connect(ServerConfig(gemma_server.url, "gemma", context_window=1024, scoring="forced"))
    assert echo.score(prompt, labels) == pytest.approx(forced.score(prompt, labels), abs=ECHO_TOLERANCE)
    assert echo.scoring == "echo (checked against forced tokens)"


def test_echo_on_the_real_server_without_a_bos_is_caught_and_forced(server, backend):
    """SmolLM2 has no BOS: llama-cpp-python's echo values sit one token off; the check catches it."""
    prompt, labels = "The capital of France is", [" Paris", " London", " the capital"]
    echo = connect(ServerConfig(server.url, server.model, context_window=2048, scoring="echo"))
    assert echo.score(prompt, labels) == pytest.approx(backend.score(prompt, labels), abs=1e-6)
    assert echo.scoring.startswith("forced (its echo score")


# ---- llama.cpp's own server: n_probs and its logprobs shape --------------------------------------------
def test_llama_server_gets_n_probs_and_its_logprobs_shape_is_read():
    def completions(body):
        if "logit_bias" in body:  # forced: the forced token comes back with its id and raw log-probability
            token = int(next(iter(body["logit_bias"])))
            return json_reply({"choices": [{"text": "w", "logprobs": llama_logprobs((token, " w", -1.25))}],
                               "usage": {"completion_tokens": 1}})
        top = [(7, " Paris", -0.1), (9, " the", -2.5), (4, " a", -3.0)]
        return json_reply({"choices": [{"text": " Paris", "logprobs": llama_logprobs(top[0], top=top)}]})

    with FakeServer(fake_llama_cpp(completions)) as fake:
        backend = load_backend(f"{fake.url}#llama")
        dist = backend.next_token_distribution("The capital of France is", top=2)
        assert [(d.token_id, d.text) for d in dist] == [(7, " Paris"), (9, " the")]
        assert dist[0].logit == pytest.approx(-0.1)
        assert backend.score("The capital of France is", [" word"]) == pytest.approx([-1.25])
    sent = _completions_sent(fake)
    assert sent[0]["n_probs"] == 2 and "logprobs" not in sent[0]  # llama-server's own name
    assert sent[1]["n_probs"] == 1 and sent[1]["logit_bias"] == {"6": 100.0} and "echo" not in sent[1]  # word 6


# ---- the REAL llama-server (llama.cpp's own; `make llama-server` builds it) ----------------------------
# The backend contract, tokens, top-N and scores against it are in tests/test_llama_server.py (engine's);
# here: what this backend sends it by its own names, and the client on it.
@pytest.fixture(scope="module")
def llama_server_ref():
    from tests.llama_server_fixtures import running_engine

    with running_engine(MODEL, parallel=2, slot_window=2048) as srv:
        yield srv.ref


@pytest.fixture(scope="module")
def on_llama_server(llama_server_ref):
    return load_backend(llama_server_ref)


def test_llama_server_decodes_as_the_in_process_model_with_its_own_names(on_llama_server, smollm):
    remote = on_llama_server
    assert remote.context_window == 2048 and remote.scoring == "forced (llama.cpp)"
    prompt = "The capital of France is"
    assert remote.complete(prompt, GREEDY).text == smollm.complete(prompt, GREEDY).text
    # repeat_penalty over the slot's whole window (repeat_last_n = 2048; today's llama-server refuses -1)
    penalised = DecodingConfig(max_new_tokens=12, repetition_penalty=1.3)
    assert remote.complete("One, one, one, one,", penalised).text == smollm.complete("One, one, one, one,", penalised).text
    far = remote.next_token_distribution(prompt, top=3)  # n_probs: the candidates come with their ids
    assert [(d.token_id, d.text) for d in far] == [(d.token_id, d.text) for d in smollm.next_token_distribution(prompt, top=3)]
    assert remote.client.pool.reused > remote.client.pool.opened  # kept-alive connections


def test_llama_server_ignores_echo_so_echo_scoring_falls_back(llama_server_ref, on_llama_server):
    """llama-server answers an echo request with the generated token's log-probability only: the check sees it."""
    asked = load_backend(llama_server_ref + "#scoring=echo")
    prompt, labels = "The capital of France is", [" Paris", " the capital"]
    assert asked.score(prompt, labels) == pytest.approx(on_llama_server.score(prompt, labels), abs=1e-6)
    assert asked.scoring == "forced (the server does not echo the prompt's log-probabilities)"
