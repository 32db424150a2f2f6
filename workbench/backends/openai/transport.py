"""The connections to one server: httpcore2's pool (httpx2's transport layer), watched by each request's deadline.

httpcore2 does what we used to do by hand: keep-alive connections kept per server and
reused by any thread, an idle connection the server closed noticed before it is used,
TLS, HTTP proxies, and a timeout on connecting and on each wait for bytes. What stays
ours is small:

* **Route** (:class:`Route`): whether a server is reached through the HTTP(S) proxy the
  environment names (read by the standard library's ``urllib.request.getproxies``, as
  before; httpcore2 reads no environment) -- never for loopback.
* **Watched sockets**: a network backend that hands the socket of every read and write to
  the deadline of the request doing it (:data:`ATTEMPT`), so the watchdog can shut it
  when the deadline passes (:mod:`workbench.backends.openai.deadline`), and counts the
  connections opened and reused (figures for tests and benchmarks).

A plain ``httpx2.Client`` is not used on top: its transport offers no hook for a network
backend, and we need none of what it adds (cookies, redirects, decoding).
"""

from __future__ import annotations

import ssl
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpcore2

from workbench.backends.openai.deadline import Deadline

LOOPBACK = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Route:
    """Where the bytes go for one server: directly, or through the HTTP(S) proxy the environment names."""

    scheme: str  # "http" or "https"
    host: str  # the server
    port: int
    proxy: str | None = None  # the proxy's URL (credentials included), or None: straight to the server

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
        return cls(parts.scheme, host, port, proxy_url if "://" in proxy_url else "http://" + proxy_url)

    def proxy_config(self) -> httpcore2.Proxy | None:
        """The proxy as httpcore2 takes it: its URL without credentials, and the credentials apart."""
        if self.proxy is None:
            return None
        parts = urllib.parse.urlsplit(self.proxy)
        auth = None
        if parts.username:
            auth = (urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or ""))
        netloc = parts.hostname or ""
        netloc = f"[{netloc}]" if ":" in netloc else netloc
        url = f"{parts.scheme}://{netloc}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
        return httpcore2.Proxy(url, auth=auth)


class Attempt:
    """One try of one request, as the network backend sees it: its deadline, and whether it opened a
    connection (else it went on a kept one, which may turn out stale)."""

    def __init__(self, deadline: Deadline):
        self.deadline = deadline
        self.connected = False  # a new connection was opened for it
        self.sent = False  # it wrote a byte


#: The attempt the current thread is sending (set by the client around each try).
ATTEMPT: ContextVar[Attempt | None] = ContextVar("workbench_attempt", default=None)


def _watch(stream: httpcore2.NetworkStream) -> Attempt | None:
    attempt = ATTEMPT.get()
    if attempt is not None:
        attempt.deadline.watch(stream.get_extra_info("socket"))
    return attempt


class _WatchedStream(httpcore2.NetworkStream):
    """A connection whose every read and write is watched by the deadline of the request doing it.

    Writes wait until the next read, so a request's head and body leave in one packet
    (httpcore2 writes them apart: with a server that delays its ACKs, a small POST cost
    milliseconds more than the one packet ``http.client`` sends).
    """

    def __init__(self, inner: httpcore2.NetworkStream):
        self._inner = inner
        self._pending = bytearray()  # written, not sent yet
        self._timeout: float | None = None  # the last write's timeout, for sending it

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        _watch(self._inner)
        self._flush()
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        attempt = _watch(self._inner)
        if attempt is not None:
            attempt.sent = True
        self._pending += buffer
        self._timeout = timeout

    def close(self) -> None:
        self._pending.clear()
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore2.NetworkStream:
        _watch(self._inner)
        self._flush()
        return _WatchedStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def _flush(self) -> None:
        if self._pending:
            data = bytes(self._pending)
            self._pending.clear()
            self._inner.write(data, self._timeout)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _WatchedBackend(httpcore2.NetworkBackend):
    """httpcore2's own blocking sockets, each one watched, counted as it opens."""

    def __init__(self, pool: Pool):
        self._inner = httpcore2.SyncBackend()
        self._pool = pool

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore2.NetworkStream:
        stream = _WatchedStream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))
        self._pool.count(opened=1)
        attempt = _watch(stream)
        if attempt is not None:
            attempt.connected = True
        return stream

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class Pool:
    """Keep-alive connections to one server, shared by every thread: at most ``size`` idle ones are kept.

    httpcore2's pool: more callers than ``size`` at once each get their own connection;
    a reply read to the end (and no ``Connection: close``) gives its connection back; a
    reply closed half read closes it, which is also how a server learns that a stream's
    reader left (llama.cpp then stops).
    """

    def __init__(self, route: Route, size: int):
        self.route, self.size = route, size
        self.opened = 0  # connections opened so far (a figure for tests and benchmarks)
        self.reused = 0  # requests sent on a kept connection
        self._lock = threading.Lock()
        self._pool = httpcore2.ConnectionPool(
            # the machine's CAs (SSL_CERT_FILE honoured by OpenSSL); made for HTTPS only: it takes ~50 ms
            ssl_context=ssl.create_default_context() if route.scheme == "https" else None,
            proxy=route.proxy_config(),
            max_connections=None,
            max_keepalive_connections=size,
            network_backend=_WatchedBackend(self),
        )

    def count(self, opened: int = 0, reused: int = 0) -> None:
        with self._lock:
            self.opened += opened
            self.reused += reused

    def send(self, method: str, url: str, body: bytes | None, headers: dict[str, str], timeout: float,
             attempt: Attempt) -> httpcore2.Response:
        """Send one request as ``attempt`` (each wait for bytes at most ``timeout``); return its open reply."""
        fields = {"Host": urllib.parse.urlsplit(url).netloc.rpartition("@")[2], **headers}  # as the URL writes it
        if body is not None:
            fields["Content-Length"] = str(len(body))
        request = httpcore2.Request(method, url, headers=list(fields.items()), content=body,
                                    extensions={"timeout": dict.fromkeys(("connect", "read", "write", "pool"),
                                                                         timeout)})
        token = ATTEMPT.set(attempt)
        try:
            return self._pool.handle_request(request)
        finally:
            ATTEMPT.reset(token)
            if attempt.sent and not attempt.connected:
                self.count(reused=1)

    @property
    def idle(self) -> int:
        """Connections kept for the next request."""
        return sum(1 for conn in self._pool.connections if conn.is_idle() and not conn.is_closed())

    def close(self) -> None:
        """Close every connection (the pool stays usable: the next request opens a new one)."""
        self._pool.close()
