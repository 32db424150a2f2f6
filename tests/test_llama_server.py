"""llama.cpp's own ``llama-server`` as the workbench's managed engine, and the OpenAI-compatible backend on it.

Three parts. (1) The engine's faults, with tiny shell scripts standing in for a broken binary (orchestration
only): no binary, no model, port in use, a server that exits at start, one that never gets healthy and ignores
SIGTERM -- each one clear line, no process left behind. (2) The real engine: it starts, serves, stops (no orphan,
port freed), also when its owner exits or ``workbench serve`` gets SIGTERM. (3) The backend's contract against
the real server (tests/test_backends.py's tests, plus /tokenize, top-N, scoring, 8 requests at once, the server
killed mid-request). Parts 2 and 3 skip, saying how to build it, where llama-server is not built.
"""

from __future__ import annotations

import math
import os
import select
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest

from tests import test_backends as contract
from tests.llama_server_fixtures import engine_binary, fake_binary, gone, model_path, running_engine
from tests.server_fixtures import free_port
from workbench.backends import load_backend
from workbench.backends.openai.config import ServerConfig
from workbench.backends.openai.connect import connect
from workbench.decoding import DecodingConfig
from workbench.engine import (
    BINARY_ENV,
    EngineConfig,
    EngineUnavailable,
    LlamaServer,
    find_binary,
    port_free,
)
from workbench.errors import ConfigError, ModelError

MODEL = "smollm2-135m-instruct"  # the smallest embedded model: the fastest server
BASE = "gemma-3-270m"  # the engine's default model (base: it counts on)
GREEDY = DecodingConfig(max_new_tokens=10)
#: Seconds a CLI run may take to print its first line (the engine loads the model in about a second).
CLI_START_S = 90.0


def _one_line(err: BaseException) -> str:
    text = str(err)
    assert text and "\n" not in text and "Traceback" not in text
    return text


# ---- (1) faults, with stand-in binaries ---------------------------------------------------------
def test_a_missing_binary_says_how_to_build_it(tmp_path, monkeypatch):
    monkeypatch.setenv(BINARY_ENV, str(tmp_path / "no-such-llama-server"))
    with pytest.raises(EngineUnavailable) as info:
        find_binary()
    assert _one_line(info.value) == (f"llama-server not found at {tmp_path / 'no-such-llama-server'} ({BINARY_ENV}); "
                                     "run `make llama-server` (scripts/build_llama_server.sh), or fix the path.")
    monkeypatch.delenv(BINARY_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # nothing built there
    monkeypatch.setenv("PATH", str(tmp_path))  # and none on PATH
    with pytest.raises(EngineUnavailable, match=r"^llama-server is not built \(looked for .*/prompt-workbench/bin/"
                                                r"llama-server-.*\); run `make llama-server`"):
        LlamaServer(EngineConfig(model=MODEL)).start()


def test_the_cli_without_a_binary_is_one_error_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "workbench", "serve", "--binary", str(tmp_path / "nope")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.splitlines() == [f"error: llama-server not found at {tmp_path / 'nope'} (--binary); "
                                       "run `make llama-server` (scripts/build_llama_server.sh), or fix the path."]


def test_a_missing_model_is_one_line(tmp_path):
    binary = fake_binary(tmp_path, "exit 0")
    with pytest.raises(ModelError, match=r"^Unknown model .*no file or folder at that path") as info:
        LlamaServer(EngineConfig(model=str(tmp_path / "none.gguf"), binary=str(binary), port=0)).start()
    _one_line(info.value)


def test_a_port_in_use_is_one_line(tmp_path):
    binary = fake_binary(tmp_path, "exit 0")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError) as info:
            LlamaServer(EngineConfig(model=MODEL, binary=str(binary), port=port)).start()
    assert _one_line(info.value) == (f"Port {port} on 127.0.0.1 is in use; pick another with --port "
                                     "(or stop what listens there).")


def test_the_servers_own_bind_failure_reads_as_port_in_use(tmp_path):
    binary = fake_binary(tmp_path, "echo \"start: couldn't bind HTTP server socket, hostname: 127.0.0.1\" >&2; exit 1")
    with pytest.raises(ConfigError, match=r"^Port \d+ on 127.0.0.1 is in use; pick another with --port\.$"):
        LlamaServer(EngineConfig(model=MODEL, binary=str(binary), port=0)).start()


def test_a_server_that_exits_at_start_quotes_its_reason(tmp_path):
    binary = fake_binary(tmp_path, "echo 'loading model'; echo 'main: error: unknown model architecture' >&2; exit 3")
    with pytest.raises(ModelError) as info:
        LlamaServer(EngineConfig(model=MODEL, binary=str(binary), port=0)).start()
    assert _one_line(info.value) == "llama-server exited at start (status 3): main: error: unknown model architecture."
    assert not isinstance(info.value, EngineUnavailable)  # a real failure: no silent fallback


def test_a_crashing_binary_is_unavailable(tmp_path):
    binary = fake_binary(tmp_path, "kill -SEGV $$")
    with pytest.raises(EngineUnavailable, match=r"^llama-server crashed at start \(SIGSEGV\); rebuild it"):
        LlamaServer(EngineConfig(model=MODEL, binary=str(binary), port=0)).start()


def test_a_server_that_never_answers_times_out_and_is_killed(tmp_path):
    pid_file = tmp_path / "pid"
    binary = fake_binary(tmp_path, f"echo $$ > {pid_file}; trap '' TERM; exec sleep 60")  # ignores SIGTERM
    cfg = EngineConfig(model=MODEL, binary=str(binary), port=0, start_timeout_s=1.0, stop_timeout_s=0.5)
    with pytest.raises(ModelError, match=rf"^llama-server did not load {MODEL} within 1 s; its log: empty\.$"):
        LlamaServer(cfg).start()
    assert gone(int(pid_file.read_text()))  # SIGTERM was ignored: it was killed


def test_settings_are_checked_before_anything_starts():
    with pytest.raises(ConfigError, match=r"--parallel must be from 1 to 64 slots \(got 0\)"):
        EngineConfig(parallel=0)
    with pytest.raises(ConfigError, match="at least 64 tokens"):
        EngineConfig(slot_window=8)
    assert EngineConfig(parallel=8, slot_window=2048).context == 16384


# ---- (2) the real engine --------------------------------------------------------------------
def test_the_engine_serves_its_slots_and_stops_without_a_trace():
    with running_engine(MODEL, parallel=3) as engine:
        pid, port = engine.pid, engine.port
        props = engine.props()
        assert props["total_slots"] == 3
        assert props["default_generation_settings"]["n_ctx"] == 1024  # the window per slot
        assert engine.ref == f"http://127.0.0.1:{port}/v1#{MODEL}"
        backend = load_backend(engine.ref)
        assert backend.family == "llama.cpp" and backend.context_window == 1024
        assert backend.count_tokens("One, two, three,") > 3
    assert gone(pid) and port_free("127.0.0.1", port)


def test_no_server_outlives_its_owner():
    engine_binary()
    model_path(MODEL)
    code = ("import sys; from workbench.engine import EngineConfig, LlamaServer\n"
            f"e = LlamaServer(EngineConfig(model={MODEL!r}, parallel=1, slot_window=512, port=0, threads=1)).start()\n"
            "print(e.pid, e.port, flush=True)\n"
            "sys.exit(0)  # never stopped by hand\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=CLI_START_S)
    assert out.returncode == 0, out.stderr
    pid, port = map(int, out.stdout.split())
    assert gone(pid) and port_free("127.0.0.1", port)


def _read_line(process: subprocess.Popen, stream, within_s: float) -> str:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.2)
        if ready:
            return stream.readline()
        if process.poll() is not None:
            return stream.readline()
    raise AssertionError("no line within the time allowed")


@contextmanager
def _cli(cmd: list[str], **popen):
    """A `workbench` command line running; killed on the way out if the test left it running."""
    process = subprocess.Popen(cmd, text=True, **popen)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM, then it exits cleanly within 30 s."""
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0


def test_workbench_serve_stops_the_engine_on_sigterm():
    engine_binary()
    model_path(MODEL)
    port = free_port()
    cmd = [sys.executable, "-m", "workbench", "serve", "--engine", "llama-server", "--model", MODEL,
           "--parallel", "2", "--slot-window", "512", "--port", str(port), "--threads", "1"]
    with _cli(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        line = _read_line(process, process.stdout, CLI_START_S)
        assert line.startswith(f"llama-server ready: http://127.0.0.1:{port}/v1#{MODEL} (2 slots x 512 tokens, pid "), \
            line + process.stderr.read() if process.poll() is not None else line
        pid = int(line.rsplit("pid ", 1)[1].rstrip(")\n"))
        assert load_backend(f"http://127.0.0.1:{port}/v1#{MODEL}").count_tokens("One, two,") > 2
        _stop(process)
    assert gone(pid) and port_free("127.0.0.1", port)
    assert "Traceback" not in process.stderr.read()


def test_serve_app_without_the_engine_falls_back_in_one_line(tmp_path):
    app_port = free_port()
    cmd = [sys.executable, "-m", "workbench", "serve", "--binary", str(tmp_path / "nope"), "--app",
           "--app-port", str(app_port)]
    env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_SHARED_BATCH"}
    with _cli(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env) as process:
        line = _read_line(process, process.stderr, CLI_START_S)
        assert line == (f"note: llama-server not found at {tmp_path / 'nope'} (--binary); run `make llama-server` "
                        "(scripts/build_llama_server.sh), or fix the path. Serving the app in-process instead, "
                        "the sessions decoded together there (WORKBENCH_SHARED_BATCH=8).\n")
        deadline = time.monotonic() + CLI_START_S
        while port_free("127.0.0.1", app_port):  # the app comes up
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        _stop(process)
    deadline = time.monotonic() + 10
    while not port_free("127.0.0.1", app_port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert port_free("127.0.0.1", app_port)  # the app went with it


# ---- (3) the OpenAI-compatible backend against the real llama-server ------------------------------
@pytest.fixture(scope="module")
def engine():
    with running_engine(MODEL, parallel=8) as srv:
        yield srv


@pytest.fixture(scope="module")
def backend(engine):
    """One request at a time: each is decoded alone, so greedy text and seeded samples are exact."""
    return connect(ServerConfig(engine.url, engine.model_name, max_concurrency=1))


contract.adopt_contract(globals())  # the backend contract of tests/test_backends.py


def test_it_is_llama_server_and_counts_with_its_tokenizer(engine, smollm):
    backend = load_backend(engine.ref)
    assert backend.family == "llama.cpp" and backend.route.kind == "llama.cpp"
    assert backend.is_chat  # the template came from /props
    text = "One, two, three, and a café."
    assert backend.tokenize(text) == smollm.tokenize(text)
    assert backend.count_tokens(text) == smollm.count_tokens(text)


def test_top_n_and_scores_match_the_in_process_model(backend, smollm):
    prompt = "The capital of France is"
    far, near = backend.next_token_distribution(prompt, top=5), smollm.next_token_distribution(prompt, top=5)
    assert [d.token_id for d in far] == [d.token_id for d in near]
    assert [math.log(d.prob) for d in far] == pytest.approx([math.log(d.prob) for d in near], abs=2e-3)
    labels = [" Paris", " London", " the capital"]
    assert backend.score(prompt, labels) == pytest.approx(smollm.score(prompt, labels), abs=2e-3)


@pytest.mark.slow
def test_eight_requests_at_once_are_all_answered(engine):
    many = connect(ServerConfig(engine.url, engine.model_name, max_concurrency=8))
    prompts = [f"Count: {3 * i + 1}, {3 * i + 2}, {3 * i + 3}," for i in range(8)]
    rows = many.generate(prompts, DecodingConfig(max_new_tokens=8))
    assert [len(row) for row in rows] == [1] * 8
    assert all(row[0].completion_tokens > 0 for row in rows)
    # each answer continues its own count (no answer went to another request)
    assert [row[0].text.split(",")[0].strip() for row in rows] == [str(3 * i + 4) for i in range(8)]
    sampled = DecodingConfig(do_sample=True, temperature=0.8, seed=3, n=8, max_new_tokens=8)
    assert all(g.text for g in many.generate(["Once upon a time"], sampled)[0])


def test_the_engine_killed_mid_request_is_one_clear_error():
    with running_engine(MODEL, parallel=2) as srv:
        backend = connect(ServerConfig(srv.url, srv.model_name))
        backend.complete("Hello", DecodingConfig(max_new_tokens=1))
        stream = iter(backend.stream("Once upon a time", DecodingConfig(do_sample=True, temperature=0.8, seed=1,
                                                                         max_new_tokens=900)))
        next(stream)
        srv.process.send_signal(signal.SIGKILL)
        with pytest.raises(ModelError) as info:
            for _ in range(1000):  # bounded: the stream must end within its token budget
                next(stream)
        _one_line(info.value)
        assert not backend.lock.busy
        with pytest.raises(ModelError, match="Cannot reach the server"):
            backend.complete("Hello", GREEDY)


def test_the_classroom_app_generates_through_the_engine_by_default(engine, monkeypatch):
    """The app as `make classroom` serves it (``app_env``): its default model is the engine, nothing to pick."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT
    from workbench.cli.serve import app_env

    for name, value in app_env(engine.ref, {}).items():
        monkeypatch.setenv(name, value)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240).run()
    assert not at.exception and not at.error
    assert at.selectbox(key="model_choice").options == [engine.ref]
    assert any("**openai-compatible** on **" + engine.url in c.value for c in at.sidebar.caption)
    at.toggle(key="home_chat").set_value(False)
    at.text_area(key="home_prompt").set_value("One, two, three, four,")
    at.button(key="home_go").click().run()
    assert not at.exception and not at.error
    assert "five" in " ".join(str(m.value) for m in at.markdown)
    assert any("tokens/s" in c.value for c in at.caption)


def test_one_slot_serves_more_connections_than_it_has_slots():
    """Every keep-alive connection holds one of llama-server's HTTP threads; its default (slots + 4) left the
    pooled client's 8 connections (plus an idle pool's) unread until the read timeout. The engine gives it more."""
    with running_engine(MODEL, parallel=1) as srv:
        idle = connect(ServerConfig(srv.url, srv.model_name, max_concurrency=4, timeout_s=20))
        idle.generate([f"{n}, {n + 1}," for n in range(4)], DecodingConfig(max_new_tokens=2))  # its 4 stay open
        many = connect(ServerConfig(srv.url, srv.model_name, max_concurrency=8, timeout_s=20))
        rows = many.generate([f"{n}, {n + 1}, {n + 2}," for n in range(16)], DecodingConfig(max_new_tokens=2))
        assert len(rows) == 16 and all(row[0].completion_tokens > 0 for row in rows)
