"""The openai-compatible backend against a REAL llama.cpp server (llama-cpp-python[server]) on loopback.

The backend contract tests of tests/test_backends.py run unchanged against it; fault
tests kill a real server mid-stream and script tiny stdlib servers (hang, 503, bad JSON).
"""

from __future__ import annotations

import threading
import time

import pytest

from tests import test_backends as contract
from tests.server_fixtures import (
    FakeServer,
    completion_reply,
    fake_openai,
    free_port,
    json_reply,
    llama_server,
)
from workbench.backends import load_backend
from workbench.backends.base import ModelLock
from workbench.backends.openai_compat import (
    OpenAICompatBackend,
    ServerConfig,
    backoff_delays,
    connect,
    format_ref,
    iter_sse_data,
    parse_ref,
    run_bounded,
    sampling_fields,
)
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError, ModelError, PromptError

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
test_greedy_is_deterministic = contract.test_greedy_is_deterministic_and_respects_budget
test_score_ranks_the_right_continuation_first = contract.test_score_ranks_the_right_continuation_first
test_seeded_sampling_reproduces = contract.test_seeded_sampling_reproduces
test_stop_strings_cut_the_text = contract.test_stop_strings_cut_the_text
test_stream_matches_generate = contract.test_stream_matches_generate
test_next_token_distribution_matches_greedy = contract.test_next_token_distribution_matches_greedy
test_user_errors_are_one_line = contract.test_user_errors_are_one_line
test_chat_template_only_for_chat_models = contract.test_chat_template_only_for_chat_models


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
    assert sampling_fields(greedy, 0, explicit_extras=False) == {
        "max_tokens": 5, "temperature": 0.0, "top_p": 1.0, "stop": ["\n"]}
    # llama-cpp-python's own defaults are top_k=40, min_p=0.05, repeat_penalty=1.1: send the off values
    assert sampling_fields(greedy, 0, explicit_extras=True) == {
        "max_tokens": 5, "temperature": 0.0, "top_p": 1.0, "stop": ["\n"],
        "top_k": 0, "min_p": 0.0, "typical_p": 1.0, "repeat_penalty": 1.0}
    sample = DecodingConfig(do_sample=True, temperature=0.7, top_k=40, top_p=0.9, min_p=0.05,
                            repetition_penalty=1.2, max_new_tokens=8)
    assert sampling_fields(sample, 3, explicit_extras=False) == {
        "max_tokens": 8, "temperature": 0.7, "top_p": 0.9, "seed": 3,
        "top_k": 40, "min_p": 0.05, "repetition_penalty": 1.2}
    with pytest.raises(ConfigError, match="typical_p"):
        sampling_fields(DecodingConfig(do_sample=True, typical_p=0.9), 0, explicit_extras=False)
    assert sampling_fields(DecodingConfig(do_sample=True, typical_p=0.9), 0, explicit_extras=True)["typical_p"] == 0.9
    with pytest.raises(ConfigError, match="num_beams=1"):
        sampling_fields(DecodingConfig(num_beams=2), None, explicit_extras=True)


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
        assert waited == [1] and not entered.is_set()
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
    b = [row[0].text for row in many.generate_many(prompts, cfg)]
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
        backend = connect(ServerConfig(srv.url, srv.model, context_window=2048))
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
            "or raise timeout_s."
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
        f"The server at {fake.url} is still busy (503) after 2 retries; try again later or lower max_concurrency."
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
