"""Real and tiny HTTP servers on loopback for the openai-compatible backend's tests.

``llama_server`` starts the real ``python -m llama_cpp.server`` (llama-cpp-python[server])
with a GGUF model on a free port and stops it; ``FakeServer`` is a stdlib
``http.server`` whose answers a test scripts (hang, 503 then success, bad JSON), and
the bad server's tricks: a body trickled one byte at a time (:func:`trickle_reply`),
keep-alive comments forever (:func:`endless_sse`), any odd reply shape.
``fake_llama_cpp`` answers as llama.cpp's own ``llama-server`` does. Every wait is bounded.
"""

from __future__ import annotations

import json
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO

#: Seconds a llama.cpp server may take to load the model and answer /v1/models.
SERVER_START_S = 90.0
#: Seconds a stopped server may take to exit on SIGTERM before it is killed.
SERVER_STOP_S = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerProcess:
    """A running llama.cpp server: ``url`` is its OpenAI base URL, ``model`` its model name."""

    process: subprocess.Popen
    url: str
    model: str
    log: Path

    @property
    def ref(self) -> str:
        return f"{self.url}#{self.model}"

    def kill(self) -> None:
        """SIGKILL: the server dies at once, mid-request, as in a crash."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(SERVER_STOP_S)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(SERVER_STOP_S)
            except subprocess.TimeoutExpired:
                self.kill()


def _answers(url: str) -> bool:
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url + "/models", timeout=1) as r:
            return r.status == 200
    except (OSError, urllib.error.URLError):
        return False


@contextmanager
def llama_server(model_path: str, model: str = "model", n_ctx: int = 2048, *extra: str) -> Iterator[ServerProcess]:
    """Run ``python -m llama_cpp.server`` on a free loopback port until the block ends."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="llama-server-", suffix=".log")[1])
    # on the in-process model's exact kernels (tests/exact_llama_cpp_server.py), so the numbers can be compared
    cmd = [sys.executable, "-m", "tests.exact_llama_cpp_server", "--model", model_path, "--model_alias", model,
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--flash_attn", "true",
           *extra]
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    server = ServerProcess(process, f"http://127.0.0.1:{port}/v1", model, log)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while not _answers(server.url):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"llama.cpp server did not start on port {port}:\n{tail}")
            time.sleep(0.2)
        yield server
    finally:
        server.stop()
        log.unlink(missing_ok=True)


#: Writes a body itself, for as long as it likes: ``writer(wfile, release)``; stop when ``release`` is set.
Writer = Callable[[BinaryIO, threading.Event], None]
#: A scripted answer: (status, headers, body bytes or a Writer).
Reply = tuple[int, dict, bytes | Writer]
#: A handler's answer that resets the connection instead of answering (a crash, a proxy dropping it).
DROP: Reply = (0, {}, b"")


class FakeServer:
    """A loopback HTTP/1.1 server whose replies a test scripts; it records every request's path and headers.

    ``handler(method, path, body)`` returns a :data:`Reply`, :data:`DROP` to reset the
    connection without answering, or None to hang until the server is closed (bounded
    by ``hang_s``). Connections are kept alive as real servers keep them (``keep_alive``
    False: closed after each reply, as HTTP/1.0 servers do); setting :attr:`close_after`
    makes the server close each connection right after its reply without saying so
    (a keep-alive timeout), so a client's kept connection goes stale. :attr:`connections`
    counts the connections accepted.
    """

    def __init__(self, handler: Callable[[str, str, dict | None], Reply | None], hang_s: float = 10.0,
                 keep_alive: bool = True, port: int = 0, tls: tuple[Path, Path] | None = None):
        self.handler = handler
        self.requests: list[str] = []
        self.headers: list[dict[str, str]] = []  # the headers of each request, in order
        self.bodies: list[dict | None] = []  # the JSON body of each request, in order
        self.release = threading.Event()
        self.close_after = False  # close each connection after its reply, without Connection: close
        self.connections = 0  # connections accepted so far
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def setup(self) -> None:
                super().setup()
                outer.connections += 1

            def _answer(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(size)) if size else None
                outer.headers.append(dict(self.headers.items()))
                outer.requests.append(self.path)
                outer.bodies.append(body)
                reply = outer.handler(self.command, self.path, body)
                if reply is None:
                    self.close_connection = True
                    outer.release.wait(hang_s)
                    return
                if reply is DROP:
                    self.close_connection = True
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                status, headers, payload = reply
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                if callable(payload):
                    self.close_connection = True  # the body ends when the connection does
                    self.end_headers()
                    try:
                        payload(self.wfile, outer.release)
                    except (BrokenPipeError, ConnectionResetError):
                        pass  # the client gave up: what the tests want
                    return
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                if outer.close_after:
                    self.wfile.flush()
                    self.close_connection = True

            do_GET = do_POST = _answer

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        scheme = "http"
        if tls is not None:  # HTTPS with the certificate and key given (see self_signed)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)


def self_signed(folder: Path) -> tuple[Path, Path] | None:
    """A certificate for 127.0.0.1 and its key, made by the ``openssl`` command (None where there is none)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                        "-out", str(cert)], check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return cert, key


def json_reply(data: dict, status: int = 200, headers: dict | None = None) -> Reply:
    return status, headers or {}, json.dumps(data).encode()


def fake_openai(
    completions: Callable[[dict], Reply | None], replies: dict[str, Reply] | None = None
) -> Callable[[str, str, dict | None], Reply | None]:
    """A handler for a minimal OpenAI-compatible server with a llama-cpp-python tokenizer.

    It serves model "fake"; tokens are one per whitespace-separated word; ``completions``
    decides what ``POST /v1/completions`` answers; ``replies`` replace the answer of any path.
    """

    def handle(method: str, path: str, body: dict | None) -> Reply | None:
        if path in (replies or {}):
            return replies[path]
        if path == "/v1/models":
            return json_reply({"object": "list", "data": [{"id": "fake", "object": "model"}]})
        if path == "/extras/tokenize":
            return json_reply({"tokens": list(range(1, len(body["input"].split()) + 1))})
        if path == "/extras/detokenize":
            return json_reply({"text": " ".join("w" for _ in body["tokens"])})
        if path == "/v1/completions":
            return completions(body)
        return json_reply({"detail": "Not Found"}, 404)

    return handle


def completion_reply(text: str = " ok", logprobs: dict | None = None) -> Reply:
    return json_reply({
        "object": "text_completion",
        "choices": [{"text": text, "index": 0, "logprobs": logprobs, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3},
    })


def raw_reply(payload: bytes, status: int = 200, headers: dict | None = None) -> Reply:
    """Any bytes as the body (odd JSON shapes, HTML, invalid UTF-8)."""
    return status, headers or {}, payload


def trickle_reply(payload: bytes, every_s: float = 0.05) -> Reply:
    """A reply whose body arrives one byte every ``every_s`` (each wait far below any read timeout)."""

    def write(out: BinaryIO, release: threading.Event) -> None:
        for byte in payload:
            if release.wait(every_s):
                return
            out.write(bytes([byte]))
            out.flush()

    return 200, {"Content-Length": str(len(payload))}, write


def endless_sse(every_s: float = 0.05) -> Reply:
    """A stream of server-sent keep-alive comments that never ends (until the server closes)."""

    def write(out: BinaryIO, release: threading.Event) -> None:
        while not release.wait(every_s):
            out.write(b": keep-alive\n\n")
            out.flush()

    return 200, {"Content-Type": "text/event-stream", "Connection": "close"}, write


def sse_reply(*events: object) -> Reply:
    """A finished stream: one ``data:`` event per item (JSON unless bytes), then ``[DONE]``."""
    body = b"".join(
        b"data: " + (e if isinstance(e, bytes) else json.dumps(e).encode()) + b"\n\n" for e in events
    ) + b"data: [DONE]\n\n"
    return 200, {"Content-Type": "text/event-stream"}, body


def cut_reply(payload: bytes, claimed: int) -> Reply:
    """A reply that promises ``claimed`` bytes, sends ``payload`` (fewer) and closes: a body cut midway."""

    def write(out: BinaryIO, release: threading.Event) -> None:
        out.write(payload)
        out.flush()

    return 200, {"Content-Length": str(claimed)}, write


def broken_sse(*events: object) -> Reply:
    """A stream that sends ``events`` and then stops without ``[DONE]`` (the connection closes)."""

    def write(out: BinaryIO, release: threading.Event) -> None:
        for e in events:
            out.write(b"data: " + json.dumps(e).encode() + b"\n\n")
            out.flush()

    return 200, {"Content-Type": "text/event-stream"}, write


def llama_logprobs(*tokens: tuple[int, str, float], top: list[tuple[int, str, float]] | None = None) -> dict:
    """llama-server's own logprobs shape: ``{"content": [{id, token, bytes, logprob, top_logprobs}]}``."""

    def one(tid: int, text: str, lp: float) -> dict:
        return {"id": tid, "token": text, "bytes": list(text.encode()), "logprob": lp}

    return {"content": [{**one(*t), "top_logprobs": [one(*c) for c in (top or [t])]} for t in tokens]}


def fake_llama_cpp(
    completions: Callable[[dict], Reply | None], n_ctx: int = 4096, chat_template: str | None = None,
    model: str = "llama",
) -> Callable[[str, str, dict | None], Reply | None]:
    """A handler that answers as llama.cpp's own ``llama-server`` does (tools/server README).

    ``/v1/models`` says ``owned_by: llamacpp`` and ``meta.n_ctx``; ``/tokenize`` reads
    ``content`` (and answers no tokens for a body without it, as the real server does);
    ``/detokenize`` answers ``content``; ``/props`` has the window per slot and the chat
    template; there is no ``/extras``. It serves ``model`` ("llama"); one token per word.
    """

    def handle(method: str, path: str, body: dict | None) -> Reply | None:
        if path == "/v1/models":
            return json_reply({"object": "list", "data": [
                {"id": model, "object": "model", "created": 1, "owned_by": "llamacpp",
                 "meta": {"vocab_type": 2, "n_vocab": 32000, "n_ctx": n_ctx * 2, "n_ctx_train": 8192}}]})
        if path == "/tokenize":
            words = (body or {}).get("content", "").split()
            return json_reply({"tokens": list(range(1, len(words) + 1))})
        if path == "/detokenize":
            return json_reply({"content": " ".join("w" for _ in body["tokens"])})
        if path == "/props":
            return json_reply({"default_generation_settings": {"n_ctx": n_ctx, "params": {"top_k": 40, "min_p": 0.05}},
                               "total_slots": 2, "chat_template": chat_template or "", "build_info": "b1-fake"})
        if path == "/v1/completions":
            return completions(body)
        return json_reply({"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}}, 404)

    return handle
