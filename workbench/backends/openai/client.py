"""JSON over HTTP to one server: pooled keep-alive connections, a deadline per request, bounded retries.

* **Pool** (:class:`Pool`): at most ``max_concurrency`` idle keep-alive connections are
  kept per server and reused by any thread; a connection the server closed while it
  lay idle (its keep-alive timeout) is noticed before use, or by the request failing
  before any byte of an answer, and the request goes again at once on a new one.
* **Deadline** (:class:`Deadline`): one request's overall limit; a timer shuts the
  request's socket when it passes, so a server that trickles bytes or streams keep-alive
  comments forever cannot hold a call. Set by the user (``WORKBENCH_SERVER_DEADLINE_S``):
  the same for every request, retries and the whole reply included. Else fitted to the
  request (:func:`~workbench.backends.openai.config.short_limit` for ``/models``, ``/props``
  and tokenizing, :func:`~workbench.backends.openai.config.completion_limit` for a
  completion, by its tokens), and lengthened by what it waited between retries (those
  waits have their own bound). The error line says which limit was reached.
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
"""

from __future__ import annotations

import base64
import heapq
import http.client
import itertools
import json
import math
import random
import select
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TypeVar

from workbench.backends.openai.config import DEADLINE_ENV, TIMEOUT_ENV, Limit, ServerConfig, short_limit
from workbench.backends.openai.replies import QUOTE_CHARS, Reply, parse_reply
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
LOOPBACK = ("localhost", "127.0.0.1", "::1")

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


#: The watchdog drops finished deadlines from its heap every this many requests.
PURGE_EVERY = 1024


class Watchdog:
    """One thread that expires every request's :class:`Deadline` when it passes (no thread per request).

    Deadlines wait in a heap ordered by their end; a finished one is dropped when it
    comes up, or every :data:`PURGE_EVERY` requests. The thread starts with the first
    deadline and runs as a daemon.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._wake = threading.Condition()
        self._count = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, deadline: Deadline) -> None:
        with self._wake:
            ticket = next(self._count)
            if ticket % PURGE_EVERY == 0:  # finished deadlines would wait for their end (minutes): drop them
                self._heap = [entry for entry in self._heap if not entry[2].done]
                heapq.heapify(self._heap)
            heapq.heappush(self._heap, (deadline.end, ticket, deadline))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="workbench-deadlines", daemon=True)
                self._thread.start()
            if self._heap[0][2] is deadline:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                end, _, first = self._heap[0]
                left = end - time.monotonic()
                if left > 0:
                    self._wake.wait(left)
                    continue
                heapq.heappop(self._heap)
                if first.end > end:  # lengthened since it was added (a wait between retries): wait on
                    heapq.heappush(self._heap, (first.end, next(self._count), first))
                    continue
            first.expire()


#: The watchdog every request's deadline is given to.
WATCHDOG = Watchdog()


class Deadline:
    """One request's overall time limit: when it passes, the watchdog shuts the request's socket.

    A read blocked on a server that trickles bytes or sends keep-alive comments then
    returns at once; the reader sees :attr:`expired` and says which limit was reached.
    """

    def __init__(self, seconds: float, watchdog: Watchdog = WATCHDOG, limit: Limit | None = None):
        self.seconds = seconds
        self.limit = limit  # the limit fitted to the request, or None: the user's deadline (the same for all)
        self.end = time.monotonic() + seconds
        self.waited = 0.0  # seconds added for waits between retries (a fitted limit only)
        self.expired = False
        self.done = False  # cancelled or released: the watchdog drops it
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        watchdog.add(self)

    def left(self) -> float:
        return self.end - time.monotonic()

    def extend(self, seconds: float) -> None:
        """Move the end ``seconds`` later (the watchdog sees it when the old end comes)."""
        with self._lock:
            self.end += seconds
            self.waited += seconds

    def watch(self, sock: socket.socket | None) -> None:
        """Shut ``sock`` when the deadline passes (the socket of the current attempt)."""
        with self._lock:
            self._sock = sock
            if self.expired and sock is not None:
                _shut(sock)

    def cancel(self) -> None:
        self.done = True

    def release(self) -> bool:
        """Stop watching (the request is done); True when the socket was never shut, so it can be reused."""
        with self._lock:
            self.done = True
            self._sock = None
            return not self.expired

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            if self._sock is not None:
                _shut(self._sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


def _readable(sock: socket.socket) -> bool:
    """True when an idle socket has something to read: the server closed it (EOF) or sent what nobody asked."""
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


@dataclass(frozen=True)
class Route:
    """Where the bytes go for one server: directly, or through the HTTP(S) proxy the environment names."""

    scheme: str  # "http" or "https"
    host: str  # the server
    port: int
    proxy: tuple[str, int, str | None] | None = None  # (host, port, Proxy-Authorization) or None

    @classmethod
    def of(cls, base_url: str) -> Route:
        parts = urllib.parse.urlsplit(base_url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if host in LOOPBACK:  # never send loopback traffic through a proxy set in the environment
            return cls(parts.scheme, host, port)
        proxy_url = urllib.request.getproxies().get(parts.scheme)
        if not proxy_url or urllib.request.proxy_bypass(host):
            return cls(parts.scheme, host, port)
        proxy = urllib.parse.urlsplit(proxy_url if "://" in proxy_url else "http://" + proxy_url)
        auth = None
        if proxy.username:
            pair = f"{urllib.parse.unquote(proxy.username)}:{urllib.parse.unquote(proxy.password or '')}"
            auth = "Basic " + base64.b64encode(pair.encode()).decode()
        return cls(parts.scheme, host, port, (proxy.hostname or "", proxy.port or 80, auth))

    def target(self, url: str) -> str:
        """The request target: the path, or the whole URL for a plain-HTTP proxy."""
        if self.proxy and self.scheme == "http":
            return url
        parts = urllib.parse.urlsplit(url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def headers(self) -> dict[str, str]:
        return {"Proxy-Authorization": self.proxy[2]} if self.proxy and self.proxy[2] and self.scheme == "http" else {}

    def new(self, timeout: float) -> http.client.HTTPConnection:
        """A new, not yet connected, connection."""
        if self.scheme == "https":
            host, port = (self.proxy[0], self.proxy[1]) if self.proxy else (self.host, self.port)
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=timeout, context=ssl.create_default_context())
            if self.proxy:
                conn.set_tunnel(self.host, self.port,
                                {"Proxy-Authorization": self.proxy[2]} if self.proxy[2] else None)
            return conn
        if self.proxy:
            return http.client.HTTPConnection(self.proxy[0], self.proxy[1], timeout=timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)


class Pool:
    """Idle keep-alive connections to one server, shared by every thread: at most ``size`` are kept.

    A caller takes one (:meth:`take`: an idle one the server has not closed, else a new
    one) and gives it back when its reply was read to the end (:meth:`give`); a
    connection whose reply was cut, or the server said ``Connection: close``, is closed
    instead. More callers than ``size`` at once each get their own connection; only
    ``size`` of them are kept afterwards.
    """

    def __init__(self, route: Route, size: int):
        self.route, self.size = route, size
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self.opened = 0  # connections opened so far (a figure for tests and benchmarks)
        self.reused = 0  # requests sent on a kept connection

    def take(self) -> tuple[http.client.HTTPConnection, bool]:
        """A connection and whether it was kept from an earlier request (then it may still turn out stale)."""
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                with self._lock:
                    self.opened += 1
                return self.route.new(timeout=1.0), False
            if conn.sock is not None and not _readable(conn.sock):
                with self._lock:
                    self.reused += 1
                return conn, True
            conn.close()  # the server closed it while it lay idle

    @property
    def idle(self) -> int:
        """Connections kept for the next request."""
        with self._lock:
            return len(self._idle)

    def give(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < self.size and conn.sock is not None:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class Response:
    """An open reply, bounded: by its request's deadline, by MAX_REPLY_BYTES and MAX_LINE_BYTES.

    Closing it gives the connection back to the pool when the reply was read to the
    end (and the server keeps connections alive); otherwise the connection is closed,
    which is also how a server learns that a stream's reader left (llama.cpp then stops).
    """

    def __init__(self, client: ServerClient, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse,
                 deadline: Deadline, path: str):
        self.client, self.conn, self.resp, self.deadline, self.path = client, conn, resp, deadline, path
        self._done = False

    def read(self) -> bytes:
        """The whole body."""
        chunks, size = [], 0
        while True:
            chunk = self._io(self.resp.read1, 65536)
            if not chunk:
                self._check()
                if self.resp.length:  # fewer bytes than Content-Length promised: the connection broke
                    raise Dropped(str(self.client.network_error(http.client.IncompleteRead(b"".join(chunks)))))
                return b"".join(chunks)
            size += len(chunk)
            if size > MAX_REPLY_BYTES:
                raise self.client.too_large(self.path)
            chunks.append(chunk)

    def lines(self) -> Iterator[bytes]:
        """The lines of a streamed body."""
        while True:
            line = self._io(self.resp.readline, MAX_LINE_BYTES + 1)
            self._check()
            if not line:
                return
            if len(line) > MAX_LINE_BYTES:
                raise self.client.too_large(self.path)
            yield line

    def close(self) -> None:
        if self._done:
            return
        self._done = True
        still_good = self.deadline.release()
        finished = _read_to_end(self.resp) and not self.resp.will_close
        self.resp.close()
        if still_good and finished:
            self.client.pool.give(self.conn)
        else:
            self.conn.close()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _io(self, read: Callable[[int], bytes], size: int) -> bytes:
        try:
            return read(size)
        except (OSError, http.client.HTTPException) as err:
            self._check()
            failure = self.client.network_error(err)
            if isinstance(err, (ConnectionError, http.client.IncompleteRead)):
                raise Dropped(str(failure)) from None
            raise failure from None

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
        headers = {"Content-Type": "application/json", **self.pool.route.headers()}
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
        cfg = self.config
        conn, kept = self.pool.take()
        try:
            left = deadline.left()
            if left <= 0:
                raise self.deadline_error(path, deadline)
            wait = min(cfg.timeout_s, left)
            if conn.sock is None:
                conn.timeout = wait
                conn.connect()
            else:
                conn.sock.settimeout(wait)
            deadline.watch(conn.sock)
            conn.request(method, self.pool.route.target(url), body=data, headers=headers)
            resp = conn.getresponse()
        except WorkbenchError:
            conn.close()
            raise
        except (OSError, http.client.HTTPException) as err:
            conn.close()
            deadline.watch(None)
            if deadline.expired:
                raise self.deadline_error(path, deadline) from None
            if isinstance(err, ConnectionRefusedError):
                if self.answered:
                    raise _Retry("refused") from None
                raise self.network_error(err) from None
            if isinstance(err, (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine,
                                http.client.IncompleteRead)):
                raise _Retry("dropped", free=kept) from None
            raise self.network_error(err) from None
        self.answered = True
        if 200 <= resp.status < 300:
            return Response(self, conn, resp, deadline, path)
        try:
            raw = resp.read(MAX_LINE_BYTES)
        except (OSError, http.client.HTTPException):
            raw = b""
        reusable = _read_to_end(resp) and not resp.will_close and not deadline.expired
        resp.close()
        deadline.watch(None)
        if reusable:
            self.pool.give(conn)
        else:
            conn.close()
        if deadline.expired:
            raise self.deadline_error(path, deadline)
        message = _error_message(raw, resp.reason)
        if resp.status in RETRY_STATUSES:
            # a Retry-After that is no number of seconds and no date (nan, abc): None, the backoff's delay
            raise _Retry("status", resp.status, message, retry_after(resp.getheader("Retry-After"), None,
                                                                     cfg.max_backoff_s))
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
        reason = getattr(err, "reason", err) if not isinstance(err, OSError) else err
        if isinstance(reason, ConnectionRefusedError):
            return ModelError(f"Cannot reach the server at {url}; is it running?")
        if isinstance(reason, TimeoutError):
            return ModelError(
                f"The server at {url} did not answer within {self.config.timeout_s:g} s; "
                f"check that it is not overloaded, or raise {TIMEOUT_ENV}."
            )
        if isinstance(reason, (ConnectionError, http.client.HTTPException)):
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


def _read_to_end(resp: http.client.HTTPResponse) -> bool:
    """True when the whole body was read (``read1`` leaves a finished fixed-length response open)."""
    return resp.isclosed() or (not resp.chunked and resp.length == 0)


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
