"""JSON over HTTP to one server: keep-alive connections (httpcore2), a deadline per request, bounded retries.

* **Connections** (:class:`~workbench.backends.openai.transport.Pool`): httpcore2's pool,
  at most ``max_concurrency`` idle keep-alive connections kept per server and reused by
  any thread; a connection the server closed while it lay idle (its keep-alive timeout)
  is noticed before use, or by the request failing before any byte of an answer, and the
  request goes again at once on a new one. Connecting and each wait for bytes are bounded
  by ``timeout_s``.
* **Deadline** (:class:`~workbench.backends.openai.deadline.Deadline`): one request's
  overall limit; the watchdog shuts the request's socket when it passes, so a server that
  trickles bytes or streams keep-alive comments forever cannot hold a call. Set by the
  user (``WORKBENCH_SERVER_DEADLINE_S``): the same for every request, retries and the
  whole reply included. Else fitted to the request
  (:func:`~workbench.backends.openai.config.short_limit` for ``/models``, ``/props`` and
  tokenizing, :func:`~workbench.backends.openai.config.completion_limit` for a completion,
  by its tokens), and lengthened by what it waited between retries (those waits have their
  own bound). The error line says which limit was reached.
* **Retries**: on 429/502/503/504, on a connection dropped before the answer began,
  and on a refused connection once the server has answered before (it is restarting);
  doubling delays with jitter, a server's ``Retry-After`` (seconds) honoured up to
  ``max_backoff_s`` (any other value, ``nan`` or ``abc``: the backoff's own delay), at
  most ``max_retries`` of them and ``max_retry_s`` of waiting in all. Every request the
  backend sends reads only (completions, tokenizing): a completion is a function of its
  request (greedy, or seeded), so sending it again cannot change a result -- an unseeded
  sample drawn again is as valid as the one lost. A stream is retried only before its
  answer began: once text has come, a broken stream is an error, never silently started
  again. A timeout is not retried (the server may still be working on it). Each
  exhausted retry is one line.
* **Bounds**: a reply body is read up to :data:`MAX_REPLY_BYTES`, a streamed reply line by
  line, each line up to :data:`MAX_LINE_BYTES`.
"""

from __future__ import annotations

import json
import math
import random
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TypeVar

import httpcore2

from workbench.backends.openai.config import DEADLINE_ENV, TIMEOUT_ENV, Limit, ServerConfig, short_limit
from workbench.backends.openai.deadline import Deadline
from workbench.backends.openai.replies import QUOTE_CHARS, Reply, parse_reply
from workbench.backends.openai.transport import Attempt, Pool, Route
from workbench.errors import ConfigError, ModelError, PromptError, WorkbenchError

#: HTTP statuses that mean "busy or briefly unreachable, try again": rate limited, bad gateway,
#: overloaded, gateway timeout (a proxy in front of the server).
RETRY_STATUSES = (429, 502, 503, 504)
#: Largest reply body read (a completion with logprobs is a few KB).
MAX_REPLY_BYTES = 32 * 1024 * 1024
#: Longest line of a streamed reply (one server-sent event's line).
MAX_LINE_BYTES = 1024 * 1024
#: Each retry waits between this share of its delay and all of it ("equal jitter"), so clients that
#: failed together do not come back together.
JITTER = 0.5
#: What httpcore2 raises for a failed exchange (it keeps the socket's own error as the cause).
HTTP_ERRORS = (httpcore2.NetworkError, httpcore2.TimeoutException, httpcore2.ProtocolError,
               httpcore2.ProxyError, httpcore2.UnsupportedProtocol)

R_ = TypeVar("R_", bound=Reply)


def backoff_delays(max_retries: int, backoff_s: float, max_backoff_s: float) -> list[float]:
    """Seconds to wait before each retry (before jitter): doubling from ``backoff_s``, capped.

    >>> backoff_delays(4, 0.5, 3.0)
    [0.5, 1.0, 2.0, 3.0]
    """
    return [min(backoff_s * 2**i, max_backoff_s) for i in range(max_retries)]


def jittered(delay: float, rng: random.Random) -> float:
    """``delay`` scaled into [JITTER, 1] x delay.

    >>> 0.25 <= jittered(0.5, random.Random(1)) <= 0.5
    True
    """
    return delay * (JITTER + (1 - JITTER) * rng.random())


def retry_after(header: str | None, default: float | None, cap: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: a finite number of seconds, within [0, cap]; anything
    else (absent, ``nan``, ``abc``, a date) is ``default`` -- None where the client's own backoff is to decide.

    >>> retry_after("nan", 0.5, 8.0), retry_after("abc", None, 8.0), retry_after("2", 0.5, 8.0)
    (0.5, None, 2.0)
    >>> retry_after("1e9", 0.5, 8.0), retry_after("-3", None, 8.0)
    (8.0, 0.0)
    """
    try:
        value = float(header) if header is not None else math.nan
    except (TypeError, ValueError):
        return default
    return min(max(value, 0.0), cap) if math.isfinite(value) else default


class Response:
    """An open reply, bounded: by its request's deadline, by MAX_REPLY_BYTES and MAX_LINE_BYTES.

    Closing it gives the connection back to the pool when the reply was read to the
    end (and the server keeps connections alive); otherwise the connection is closed,
    which is also how a server learns that a stream's reader left (llama.cpp then stops).
    """

    def __init__(self, client: ServerClient, resp: httpcore2.Response, deadline: Deadline, path: str):
        self.client, self.resp, self.deadline, self.path = client, resp, deadline, path
        self._done = False

    def read(self) -> bytes:
        """The whole body."""
        chunks, size = [], 0
        for chunk in self._chunks():
            size += len(chunk)
            if size > MAX_REPLY_BYTES:
                raise self.client.too_large(self.path)
            chunks.append(chunk)
        return b"".join(chunks)

    def lines(self) -> Iterator[bytes]:
        """The lines of a streamed body, each with its line end (the last one may have none)."""
        pending = b""
        for chunk in self._chunks():
            pending += chunk
            start = 0
            while (end := pending.find(b"\n", start)) >= 0:
                if end + 1 - start > MAX_LINE_BYTES:
                    raise self.client.too_large(self.path)
                self._check()
                yield pending[start:end + 1]
                start = end + 1
            pending = pending[start:]
            if len(pending) > MAX_LINE_BYTES:
                raise self.client.too_large(self.path)
        if pending:
            yield pending

    def close(self) -> None:
        if self._done:
            return
        self._done = True
        self.deadline.release()  # before the connection can go back to the pool: no longer this request's
        self.resp.close()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _chunks(self) -> Iterator[bytes]:
        """The body as it comes; a broken connection is :class:`Dropped`, a passed deadline its own line."""
        try:
            yield from self.resp.stream  # type: ignore[misc]
        except HTTP_ERRORS as err:
            self._check()
            failure = self.client.network_error(err)
            if _dropped(err):
                raise Dropped(str(failure)) from None
            raise failure from None
        self._check()

    def _check(self) -> None:
        if self.deadline.expired:
            raise self.client.deadline_error(self.path, self.deadline)


class Dropped(ModelError):
    """The connection broke while a reply came (reset, cut short): one line, and a request may go again."""


class _Retry(Exception):
    """One failed attempt that may be tried again: ``kind`` ("status", "dropped", "refused") names why,
    ``wait`` is a server's Retry-After, ``free``: a kept connection the server had closed (retried at once)."""

    def __init__(self, kind: str, code: int = 0, detail: str = "", wait: float | None = None, free: bool = False):
        super().__init__(kind)
        self.kind, self.code, self.detail, self.wait, self.free = kind, code, detail, wait, free


@dataclass(frozen=True)
class _Attempts:
    """How often one request went (for the message when it gives up)."""

    retries: int = 0
    waited: float = 0.0
    free_used: bool = False  # the one immediate retry on a kept connection the server had closed


class ServerClient:
    """JSON over HTTP to one server, with the pool, the deadline and the retries above; one-line errors."""

    def __init__(self, config: ServerConfig, pool: Pool | None = None):
        self.config = config
        self.pool = pool or Pool(Route.of(config.base_url), config.max_concurrency)
        self.answered = False  # set once the server has answered anything (a refusal after that is a restart)
        self.rng = random.Random()  # jitter
        self.sleep: Callable[[float], None] = time.sleep  # the wait between retries (tests record it)

    def open(self, path: str, body: dict | None = None, root: bool = False, limit: Limit | None = None) -> Response:
        """Send a request (POST with ``body``, else GET); return the open reply (close it, or use ``with``).

        ``limit``: its deadline unless the user set one (default :func:`short_limit`)."""
        return self._exchange(path, body, root, lambda reply: reply, limit)

    def fetch(self, path: str, body: dict | None = None, root: bool = False, limit: Limit | None = None) -> bytes:
        """The whole body of the reply to one request (sent again when the connection drops while it comes)."""

        def whole(reply: Response) -> bytes:
            with reply:
                try:
                    return reply.read()
                except Dropped:
                    raise _Retry("dropped") from None

        return self._exchange(path, body, root, whole, limit)

    def post(self, path: str, body: dict, model: type[R_], root: bool = False, limit: Limit | None = None) -> R_:
        return parse_reply(model, self.fetch(path, body, root, limit), path, self.config.base_url)

    def get(self, path: str, model: type[R_], root: bool = False, limit: Limit | None = None) -> R_:
        return parse_reply(model, self.fetch(path, None, root, limit), path, self.config.base_url)

    def deadline_for(self, limit: Limit | None) -> Deadline:
        """The request's deadline: the user's (``deadline_s``), else ``limit`` (default a short request's)."""
        if self.config.deadline_s is not None:
            return Deadline(self.config.deadline_s)
        limit = limit or short_limit()
        return Deadline(limit.seconds, limit=limit)

    # ---- one request, its attempts ----------------------------------------------------------
    def _exchange(self, path: str, body: dict | None, root: bool, use: Callable[[Response], object],
                  limit: Limit | None = None):
        cfg = self.config
        url = (cfg.root_url if root else cfg.base_url) + path
        headers = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
        key = cfg.api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = json.dumps(body).encode("utf-8") if body is not None else None
        delays = backoff_delays(cfg.max_retries, cfg.backoff_s, cfg.max_backoff_s)
        deadline = self.deadline_for(limit)
        done = _Attempts()
        try:
            while True:
                try:
                    reply = self._attempt("POST" if data else "GET", url, data, headers, deadline, path)
                    return use(reply)
                except _Retry as retry:
                    if deadline.expired or deadline.left() <= 0:
                        raise self.deadline_error(path, deadline) from None
                    if retry.free and not done.free_used:
                        done = replace(done, free_used=True)  # a kept connection had gone stale: at once
                        continue
                    if done.retries >= len(delays):
                        raise self._gave_up(retry, done) from None
                    delay = delays[done.retries]
                    wait = retry.wait if retry.wait is not None else jittered(delay, self.rng)
                    if done.waited + wait > cfg.max_retry_s:
                        raise self._gave_up(retry, done) from None
                    if deadline.limit is not None:  # a fitted limit is for the replies: the waits come on top
                        deadline.extend(wait)
                    elif wait >= deadline.left():
                        raise self.deadline_error(path, deadline) from None
                    self.sleep(wait)
                    done = replace(done, retries=done.retries + 1, waited=done.waited + wait)
        except BaseException:
            deadline.cancel()
            raise

    def _attempt(self, method: str, url: str, data: bytes | None, headers: dict, deadline: Deadline,
                 path: str) -> Response:
        """One try: a Response for a 2xx answer; _Retry when trying again may help; else one WorkbenchError."""
        left = deadline.left()
        if left <= 0:
            raise self.deadline_error(path, deadline)
        attempt = Attempt(deadline)
        try:
            resp = self.pool.send(method, url, data, headers, min(self.config.timeout_s, left), attempt)
        except HTTP_ERRORS as err:
            deadline.watch(None)
            if deadline.expired:
                raise self.deadline_error(path, deadline) from None
            if isinstance(_cause(err), ConnectionRefusedError):
                if self.answered:
                    raise _Retry("refused") from None
                raise self.network_error(err) from None
            if _dropped(err):
                raise _Retry("dropped", free=not attempt.connected) from None
            raise self.network_error(err) from None
        self.answered = True
        if 200 <= resp.status < 300:
            return Response(self, resp, deadline, path)
        raw = b""
        try:
            for chunk in resp.stream:  # type: ignore[attr-defined]
                raw += chunk
                if len(raw) >= MAX_LINE_BYTES:
                    break
        except HTTP_ERRORS:
            pass
        deadline.watch(None)  # before the connection can go back to the pool: no longer this request's
        resp.close()  # kept when the whole body was read and the server keeps it alive, else closed
        if deadline.expired:
            raise self.deadline_error(path, deadline)
        message = _error_message(raw[:MAX_LINE_BYTES], resp.extensions.get("reason_phrase", b"").decode("latin-1"))
        if resp.status in RETRY_STATUSES:
            # a Retry-After that is no number of seconds and no date (nan, abc): None, the backoff's delay
            raise _Retry("status", resp.status, message, retry_after(_header(resp, b"retry-after"), None,
                                                                     self.config.max_backoff_s))
        raise self._http_error(resp.status, message, path)

    # ---- one-line messages ------------------------------------------------------------------
    def _gave_up(self, retry: _Retry, done: _Attempts) -> ModelError:
        url, n = self.config.base_url, done.retries
        tries = f"after {n} {'retry' if n == 1 else 'retries'} over {done.waited:.1f} s"
        if retry.kind == "refused":
            return ModelError(f"Cannot reach the server at {url} any more (connection refused {tries}); "
                              "is it still running?")
        if retry.kind == "dropped":
            return ModelError(f"The server at {url} closed the connection before it answered, {tries}; "
                              "check the server's log.")
        code = retry.code
        if code in (429, 503):
            return ModelError(f"The server at {url} is still busy ({code}) {tries}; "
                              "try again later or lower max_concurrency.")
        return ModelError(f"The server at {url} (or a proxy in front of it) still answers {code} "
                          f"({retry.detail}) {tries}; check the server and the proxy.")

    def deadline_error(self, path: str, deadline: Deadline) -> ModelError:
        """One line naming the limit that was reached: the user's deadline, or the one fitted to the request."""
        start = f"The server at {self.config.base_url} did not finish its reply to {path} within {deadline.seconds:g} s"
        if deadline.limit is None:
            return ModelError(f"{start} (the deadline per request); check the server, or raise {DEADLINE_ENV}.")
        waited = f", plus {deadline.waited:.1f} s waited between retries" if deadline.waited else ""
        return ModelError(f"{start} (the limit for {deadline.limit.what}{waited}); check the server, or set "
                          f"{DEADLINE_ENV} to allow every request longer.")

    def too_large(self, path: str) -> ModelError:
        return ModelError(
            f"The server at {self.config.base_url} sent a reply to {path} larger than the workbench reads "
            f"({MAX_REPLY_BYTES // 2**20} MiB, or {MAX_LINE_BYTES // 2**20} MiB per streamed line); check the server."
        )

    def network_error(self, err: BaseException) -> ModelError:
        url = self.config.base_url
        reason = _cause(err)
        if isinstance(reason, ConnectionRefusedError):
            return ModelError(f"Cannot reach the server at {url}; is it running?")
        if isinstance(reason, TimeoutError) or isinstance(err, httpcore2.TimeoutException):
            return ModelError(
                f"The server at {url} did not answer within {self.config.timeout_s:g} s; "
                f"check that it is not overloaded, or raise {TIMEOUT_ENV}."
            )
        if isinstance(reason, ConnectionError) or isinstance(err, httpcore2.ProtocolError):
            return ModelError(f"The server at {url} closed the connection before it answered; check the server's log.")
        if isinstance(reason, ssl.SSLError):
            return ModelError(f"The TLS connection to {url} failed ({reason.reason or reason}); check the URL "
                              "and the server's certificate.")
        if isinstance(reason, socket.gaierror):
            return ModelError(f"Cannot find the host of {url} ({reason.strerror}); check the base URL.")
        return ModelError(f"Cannot talk to the server at {url} ({reason}); check the base URL.")

    def _http_error(self, code: int, message: str, path: str) -> WorkbenchError:
        url = self.config.base_url
        if code in (401, 403):
            return ConfigError(
                f"The server at {url} refused the API key ({code}: {message}); "
                "name the environment variable holding it as BASE_URL#MODEL#VAR_NAME."
            )
        if code == 404:
            return ModelError(
                f"The server at {url} answered 404 for {path} ({message}); check the base URL "
                "(it usually ends in /v1) and the model name."
            )
        if "context" in message.lower() and 400 <= code < 500:
            return PromptError(f"The server at {url} says: {message}; shorten the prompt or lower max_new_tokens.")
        if 400 <= code < 500:
            return ConfigError(f"The server at {url} refused the request ({code}: {message}).")
        return ModelError(f"The server at {url} failed ({code}: {message}); check the server's log.")


def _cause(err: BaseException) -> BaseException:
    """The error under httpcore2's own: the socket's (refused, reset, timed out, TLS, DNS), else ``err``.

    httpcore2 wraps the socket's error as its first argument (its traceback drops the cause)."""
    while True:
        inner = err.args[0] if err.args and isinstance(err.args[0], BaseException) else err.__cause__
        if inner is None:
            return err
        err = inner


def _dropped(err: BaseException) -> bool:
    """True for a connection that broke while an answer was awaited or came: reset, closed, cut short."""
    return isinstance(err, httpcore2.RemoteProtocolError) or isinstance(_cause(err), ConnectionError)


def _header(resp: httpcore2.Response, name: bytes) -> str | None:
    for key, value in resp.headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _error_message(raw: bytes, reason: str | None) -> str:
    """The server's own one-line explanation: OpenAI {"error": {"message"}}, FastAPI {"detail"}, or text."""
    text = raw.decode("utf-8", errors="replace")
    message = text
    try:
        data = json.loads(text)
        if isinstance(data, dict):
            inner = data.get("error", data)
            if isinstance(inner, dict):
                inner = inner.get("message") or inner.get("detail") or inner
            message = inner if isinstance(inner, str) else json.dumps(inner)
    except (ValueError, RecursionError):
        pass
    message = " ".join((message or reason or "no details").split())
    # llama-cpp-python appends a server-side traceback after a blank line; keep the message.
    message = message.split(" File \"")[0].strip()
    return message[:QUOTE_CHARS].rstrip(" .;")
