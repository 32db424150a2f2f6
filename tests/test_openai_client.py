"""The openai-compatible backend's HTTP client: pooled keep-alive connections, bounded retries with jitter.

Tiny scripted stdlib servers (tests/server_fixtures.py) answer; the wait between
retries is recorded instead of slept (``client.sleep``), so every test is
deterministic and fast and no test asserts a time.
"""

from __future__ import annotations

import random
import socket
import threading
import time

import pytest

from tests.server_fixtures import (
    DROP,
    FakeServer,
    broken_sse,
    completion_reply,
    cut_reply,
    fake_openai,
    json_reply,
    sse_reply,
)
from workbench.backends.openai.backend import OpenAICompatBackend
from workbench.backends.openai.client import JITTER, Route, ServerClient, backoff_delays, jittered
from workbench.backends.openai.config import ServerConfig
from workbench.backends.openai.connect import connect
from workbench.backends.openai.replies import Completion
from workbench.decoding import DecodingConfig
from workbench.errors import ModelError

GREEDY = DecodingConfig(max_new_tokens=4)


def _recording(backend: OpenAICompatBackend) -> list[float]:
    """The waits between retries, recorded instead of slept."""
    waits: list[float] = []
    backend.client.sleep = waits.append
    return waits


def _completions(fake: FakeServer) -> int:
    return fake.requests.count("/v1/completions")


# ---- the pool -------------------------------------------------------------------------------------
def test_keep_alive_sends_every_request_on_one_connection():
    with FakeServer(fake_openai(lambda body: completion_reply(" ok"))) as fake:
        backend = connect(ServerConfig(fake.url, "fake", max_concurrency=1))
        for _ in range(10):
            assert backend.complete("Hello there", GREEDY).text == " ok"
        assert fake.connections == 1  # connecting (models, tokenizer) and ten completions: one connection
        assert backend.client.pool.opened == 1 and backend.client.pool.reused >= 10


def test_a_server_that_closes_after_each_reply_gets_a_new_connection_each_time():
    with FakeServer(fake_openai(lambda body: completion_reply(" ok")), keep_alive=False) as fake:
        backend = connect(ServerConfig(fake.url, "fake"))
        before, sent = fake.connections, len(fake.requests)
        for _ in range(3):
            assert backend.complete("Hello there", GREEDY).text == " ok"
        assert fake.connections - before == len(fake.requests) - sent == 6  # a tokenize and a completion each
        assert backend.client.pool.idle == 0  # "Connection: close" replies are never kept
        assert _recording(backend) == []


def test_a_kept_connection_the_server_closed_is_replaced_at_once():
    with FakeServer(fake_openai(lambda body: completion_reply(" ok"))) as fake:
        backend = connect(ServerConfig(fake.url, "fake"))
        waits = _recording(backend)
        fake.close_after = True  # each connection is closed after its reply, without saying so
        for _ in range(3):
            assert backend.complete("Hello there", GREEDY).text == " ok"
        assert _completions(fake) == 3  # each completion reached the server once: never sent twice
        assert waits == []  # a stale kept connection costs no backoff
        assert backend.client.pool.opened >= 3


def test_the_pool_keeps_at_most_max_concurrency_idle_connections():
    gate, arrived = threading.Event(), []
    lock = threading.Lock()

    def completions(body):
        with lock:
            arrived.append(1)
            if len(arrived) >= 6:
                gate.set()
        gate.wait(5)  # six requests in flight at once: six connections
        return completion_reply(" ok")

    with FakeServer(fake_openai(completions)) as fake:
        backend = connect(ServerConfig(fake.url, "fake", max_concurrency=2))
        threads = [threading.Thread(target=backend.client.post, args=("/completions", {"prompt": "x"}, Completion))
                   for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert gate.is_set() and fake.connections >= 6
        assert backend.client.pool.idle == 2


def test_closing_a_stream_early_closes_its_connection():
    events = [{"choices": [{"text": f" {i}"}]} for i in range(50)]
    with FakeServer(fake_openai(lambda body: sse_reply(*events) if body.get("stream") else completion_reply())) as fake:
        backend = connect(ServerConfig(fake.url, "fake", max_concurrency=1))
        idle = backend.client.pool.idle
        stream = backend.stream("Hello there", GREEDY)
        pieces = iter(stream)
        next(pieces)
        stream.close()
        assert backend.client.pool.idle == idle - 1  # its connection was not given back, half read
        backend.complete("Hello there", GREEDY)
        assert backend.client.pool.opened == 2


def test_requests_go_through_the_environments_http_proxy(monkeypatch):
    seen = []

    def proxy(method, path, body):
        seen.append(path)
        return fake_openai(lambda b: completion_reply(" via proxy"))(method, path.split("example.invalid:9", 1)[-1], body)

    with FakeServer(proxy) as fake:
        monkeypatch.setenv("http_proxy", fake.url.removesuffix("/v1"))
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        assert Route.of("http://example.invalid:9/v1").proxy is not None
        assert Route.of("http://127.0.0.1:9/v1").proxy is None  # loopback never goes through a proxy
        backend = connect(ServerConfig("http://example.invalid:9/v1", "fake"))
        assert backend.complete("Hello there", GREEDY).text == " via proxy"
    assert seen[0] == "http://example.invalid:9/v1/models"  # a plain-HTTP proxy gets the whole URL


# ---- retries ----------------------------------------------------------------------------------------
def test_jitter_stays_between_half_and_all_of_the_delay():
    rng = random.Random(7)
    for delay in backoff_delays(6, 0.5, 8.0):
        for _ in range(50):
            assert JITTER * delay <= jittered(delay, rng) <= delay


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_busy_or_gateway_statuses_are_retried_with_jittered_backoff(status):
    calls = []

    def completions(body):
        calls.append(1)
        return json_reply({"error": {"message": "busy"}}, status) if len(calls) <= 3 else completion_reply(" ok")

    with FakeServer(fake_openai(completions)) as fake:
        backend = connect(ServerConfig(fake.url, "fake", backoff_s=0.2, max_backoff_s=0.5, max_retries=4))
        waits = _recording(backend)
        assert backend.complete("Hello there", GREEDY).text == " ok"
    assert len(calls) == 4 and len(waits) == 3
    for wait, delay in zip(waits, [0.2, 0.4, 0.5], strict=True):
        assert JITTER * delay <= wait <= delay


def test_retry_after_is_honoured_and_capped():
    replies = iter([("2", 503), ("30", 429), (None, 200)])

    def completions(body):
        after, status = next(replies)
        return completion_reply(" ok") if status == 200 else \
            json_reply({"error": {"message": "busy"}}, status, {"Retry-After": after})

    with FakeServer(fake_openai(completions)) as fake:
        backend = connect(ServerConfig(fake.url, "fake", backoff_s=0.01, max_backoff_s=5.0))
        waits = _recording(backend)
        assert backend.complete("Hello there", GREEDY).text == " ok"
    assert waits == [2.0, 5.0]  # the server's own wait, capped at max_backoff_s


def test_retries_stop_at_their_total_time():
    with FakeServer(fake_openai(lambda b: json_reply({"error": {"message": "busy"}}, 503, {"Retry-After": "1"}))) as fake:
        backend = connect(ServerConfig(fake.url, "fake", max_retries=10, max_retry_s=2.5))
        waits = _recording(backend)
        with pytest.raises(ModelError) as info:
            backend.complete("Hello there", GREEDY)
    assert waits == [1.0, 1.0]  # a third wait would pass 2.5 s of waiting
    assert str(info.value) == (f"The server at {fake.url} is still busy (503) after 2 retries over 2.0 s; "
                               "try again later or lower max_concurrency.")


def test_a_gateway_error_that_stays_is_one_line():
    with FakeServer(fake_openai(lambda b: json_reply({"error": {"message": "upstream down"}}, 502))) as fake:
        backend = connect(ServerConfig(fake.url, "fake", max_retries=2, backoff_s=0.01))
        _recording(backend)
        with pytest.raises(ModelError) as info:
            backend.complete("Hello there", GREEDY)
    assert str(info.value) == (f"The server at {fake.url} (or a proxy in front of it) still answers 502 "
                               "(upstream down) after 2 retries over 0.0 s; check the server and the proxy.")
    assert _completions(fake) == 3


def test_a_dropped_connection_is_sent_again():
    calls = []

    def completions(body):
        calls.append(1)
        return DROP if len(calls) <= 2 else completion_reply(" ok")

    with FakeServer(fake_openai(completions)) as fake:
        backend = connect(ServerConfig(fake.url, "fake", backoff_s=0.01))
        waits = _recording(backend)
        assert backend.complete("Hello there", GREEDY).text == " ok"
    # the first drop came on the kept connection of connecting: it looks stale, so it goes again at once;
    # the second, on a new connection, waits its backoff
    assert len(calls) == 3 and len(waits) == 1


def test_a_connection_that_keeps_dropping_gives_up_in_one_line():
    with FakeServer(fake_openai(lambda b: DROP)) as fake:
        backend = connect(ServerConfig(fake.url, "fake", max_retries=2, backoff_s=0.01))
        waits = _recording(backend)
        with pytest.raises(ModelError) as info:
            backend.complete("Hello there", GREEDY)
    message = str(info.value)
    assert message.startswith(f"The server at {fake.url} closed the connection before it answered, after 2 retries")
    assert message.endswith("; check the server's log.") and "\n" not in message
    assert len(waits) == 2 and _completions(fake) == 4  # one stale-looking resend, then 1 + 2 retries


def test_a_body_cut_midway_is_sent_again():
    calls = []
    whole = completion_reply(" ok")[2]

    def completions(body):
        calls.append(1)
        return cut_reply(whole[:10], len(whole)) if len(calls) == 1 else completion_reply(" ok")

    with FakeServer(fake_openai(completions)) as fake:
        backend = connect(ServerConfig(fake.url, "fake", backoff_s=0.01))
        waits = _recording(backend)
        assert backend.complete("Hello there", GREEDY).text == " ok"
    assert len(calls) == 2 and len(waits) == 1


def test_a_stream_is_retried_only_before_its_text_began():
    calls = []

    def completions(body):
        calls.append(1)
        if len(calls) == 1:
            return json_reply({"error": {"message": "busy"}}, 503)
        return broken_sse({"choices": [{"text": " one"}]})  # text, then the connection ends

    with FakeServer(fake_openai(completions)) as fake:
        backend = connect(ServerConfig(fake.url, "fake", backoff_s=0.01))
        waits = _recording(backend)
        pieces = []
        with pytest.raises(ModelError, match=r"closed the stream before it finished"):
            for piece in backend.stream("Hello there", GREEDY):
                pieces.append(piece)
    assert pieces == [" one"]
    assert len(calls) == 2 and len(waits) == 1  # the 503 was retried; the broken stream was not
    assert not backend.lock.busy


def test_a_timeout_is_not_retried():
    with FakeServer(fake_openai(lambda body: None)) as fake:
        backend = connect(ServerConfig(fake.url, "fake", timeout_s=0.3, max_retries=3))
        waits = _recording(backend)
        with pytest.raises(ModelError, match=r"did not answer within 0\.3 s"):
            backend.complete("Hello there", GREEDY)
    assert _completions(fake) == 1 and waits == []


def test_a_refused_connection_after_the_server_answered_is_retried_until_it_is_back():
    handler = fake_openai(lambda body: completion_reply(" back"))
    first = FakeServer(handler)
    port = first.httpd.server_address[1]
    with first:
        backend = connect(ServerConfig(first.url, "fake", backoff_s=0.01, max_retries=3))
    backend.client.pool.close()  # the server went away: its connections with it
    restarted: list[FakeServer] = []

    def sleep(seconds: float) -> None:  # the server is restarting: it is back after the first wait
        if not restarted:
            restarted.append(FakeServer(handler, port=port).__enter__())

    backend.client.sleep = sleep
    try:
        assert backend.complete("Hello there", GREEDY).text == " back"
    finally:
        for server in restarted:
            server.__exit__(None, None, None)


def test_a_server_that_stays_away_is_one_line():
    with FakeServer(fake_openai(lambda body: completion_reply(" ok"))) as fake:
        backend = connect(ServerConfig(fake.url, "fake", backoff_s=0.01, max_retries=2))
    backend.client.pool.close()
    waits = _recording(backend)
    with pytest.raises(ModelError) as info:
        backend.complete("Hello there", GREEDY)
    assert str(info.value).startswith(f"Cannot reach the server at {fake.url} any more (connection refused "
                                      "after 2 retries over ")
    assert len(waits) == 2


def test_a_client_that_never_reached_the_server_does_not_retry():
    waits: list[float] = []
    with FakeServer(fake_openai(lambda body: completion_reply())) as fake:
        url = fake.url
    client = ServerClient(ServerConfig(url, max_retries=3))
    client.sleep = waits.append
    with pytest.raises(ModelError) as info:
        client.fetch("/models")
    assert str(info.value) == f"Cannot reach the server at {url}; is it running?" and waits == []


# ---- the deadline watchdog ----------------------------------------------------------------------------
def test_one_watchdog_thread_expires_deadlines_and_forgets_finished_ones():
    from workbench.backends.openai.deadline import PURGE_EVERY, Deadline, Watchdog

    dog = Watchdog()
    for _ in range(3 * PURGE_EVERY):
        Deadline(600, dog).release()  # finished at once, as almost every request is
    assert len(dog._heap) <= PURGE_EVERY + 1  # not 3x: finished deadlines do not pile up for 600 s
    short = Deadline(0.05, dog)
    a, b = socket.socketpair()
    short.watch(a)
    try:
        a.settimeout(10)
        assert a.recv(1) == b""  # blocked until the watchdog shut the socket (bounded: not the 10 s)
        assert short.expired and not short.release()
    finally:
        a.close()
        b.close()
    assert threading.active_count() < 50  # one thread for every deadline, not one per request


def test_trickled_headers_on_a_kept_connection_meet_the_deadline():
    """A server answers once, then trickles the next reply's headers on the same kept connection: the deadline
    still stops it (the watchdog is handed the socket of each read, a kept connection's too)."""
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(10)
            for n in range(2):
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                if n == 0:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                    continue
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                while not stop.wait(0.05):  # a byte of the header every 0.05 s, far below the read timeout
                    try:
                        conn.sendall(b"a")
                    except OSError:
                        return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = ServerClient(ServerConfig(url, timeout_s=5, deadline_s=1.0, max_retries=0))
    try:
        assert client.fetch("/models") == b"{}"
        start = time.monotonic()
        with pytest.raises(ModelError) as info:
            client.fetch("/models")
        assert time.monotonic() - start < 3  # stopped at the deadline, not by the 5 s read timeout or never
    finally:
        stop.set()
        listener.close()
        thread.join(5)
    assert client.pool.opened == 1 and client.pool.reused == 1  # the second request went on the kept connection
    assert str(info.value) == (f"The server at {url} did not finish its reply to /models within 1 s (the deadline "
                               "per request); check the server, or raise WORKBENCH_SERVER_DEADLINE_S.")


# ---- HTTPS ----------------------------------------------------------------------------------------------
def test_https_keeps_its_connection_alive_and_an_untrusted_certificate_is_one_line(tmp_path, monkeypatch):
    from tests.server_fixtures import self_signed

    pair = self_signed(tmp_path)
    if pair is None:
        pytest.skip("needs the openssl command to make a certificate")
    with FakeServer(fake_openai(lambda body: completion_reply(" secure")), tls=pair) as fake:
        assert fake.url.startswith("https://")
        with pytest.raises(ModelError) as info:
            connect(ServerConfig(fake.url, "fake"))
        message = str(info.value)
        assert message.startswith(f"The TLS connection to {fake.url} failed (") and "CERTIFICATE_VERIFY_FAILED" in message
        assert "\n" not in message
        monkeypatch.setenv("SSL_CERT_FILE", str(pair[0]))  # now the machine trusts it
        backend = connect(ServerConfig(fake.url, "fake", max_concurrency=1))
        before = fake.connections
        for _ in range(3):
            assert backend.complete("Hello there", GREEDY).text == " secure"
        assert fake.connections == before  # the TLS connection of connecting served all three
