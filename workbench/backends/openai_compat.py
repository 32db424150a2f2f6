"""OpenAI-compatible server backend: a model served by vLLM, llama.cpp's server, llama-cpp-python, TGI...

The model is named by a *server reference* ``BASE_URL#MODEL[#API_KEY_ENV]``, e.g.
``http://127.0.0.1:8000/v1#smollm2`` or ``https://gpu-box/v1#meta-llama/Llama-3.1-8B-Instruct#VLLM_API_KEY``
(the last part names an environment variable holding the API key; the key itself
is read per request and never stored). ``MODEL`` may be left out when the server
serves exactly one model.

What a remote server can and cannot give, compared with an in-process model:

* generation, sampling with seeds, stop strings, streaming: yes (``/v1/completions``);
  each sample is its own request with seed ``seed + i`` so any sample can be
  reproduced alone, and requests run concurrently (``max_concurrency``) so a
  server that batches (vLLM) is used well;
* token counts: through the server's tokenizer endpoint (``/extras/tokenize``,
  ``/tokenize``); a server without one cannot be used;
* next-token distribution: only the top-N log-probabilities the server returns,
  never the full logits (``next_token_logits`` raises a ConfigError);
* continuation scores: one request per continuation token, forced with
  ``logit_bias`` and read from ``logprobs`` (llama-cpp-python's ``echo``
  log-probabilities are shifted by one token for models without a BOS token);
* chat: the server applies its own template (:meth:`OpenAICompatBackend.chat`);
  ``format_chat`` works only when the server publishes its template.

Servers differ in the sampling fields they read and in their defaults (see
:func:`sampling_fields`); the *family* (llama.cpp's ``llama-server``,
llama-cpp-python, vLLM, any other OpenAI server) is detected when connecting
(``owned_by`` in ``/v1/models``, the tokenizer endpoint that answers) or named with
``WORKBENCH_SERVER_FAMILY``.

Every reply is validated at the edge (:func:`parse_reply`, one Pydantic model per
reply shape): a shape the code does not expect is one ModelError naming the
endpoint and the field. Every request has an overall deadline (``deadline_s``,
``WORKBENCH_SERVER_DEADLINE_S``) on top of the per-read ``timeout_s``: a timer
shuts the request's socket when it passes, so a server that trickles its reply or
streams keep-alive comments forever cannot hold a call.
"""

from __future__ import annotations

import functools
import http.client
import json
import math
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Annotated, TypeVar

import numpy as np
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from workbench.backends.base import Backend, Capabilities, Generation, Timer, TokenProb, sample_seeds
from workbench.backends.registry import DEFAULT_CONTEXT_WINDOW, ModelSpec
from workbench.decoding import SAMPLER_ORDERS, DecodingConfig
from workbench.errors import ConfigError, ModelError, PromptError, WorkbenchError

#: HTTP statuses that mean "busy, try again": rate limited, overloaded.
RETRY_STATUSES = (429, 503)
#: logit_bias that forces a token (the OpenAI API's maximum).
FORCE_BIAS = 100.0
#: ids -> text pairs remembered so prompts go to the server as the text the user wrote.
TEXT_MEMO_SIZE = 1024
#: Characters of a server's error body quoted in a message.
QUOTE_CHARS = 200
#: Largest reply body read (a completion with logprobs is a few KB).
MAX_REPLY_BYTES = 32 * 1024 * 1024
#: Longest line of a streamed reply (one server-sent event's line).
MAX_LINE_BYTES = 1024 * 1024
#: Server families (ServerConfig.family); "auto" detects one when connecting.
FAMILIES = ("auto", "llama.cpp", "llama-cpp-python", "vllm", "openai")
#: Families whose own sampling defaults are not "off" (top_k 40, min_p 0.05): every field is sent.
EXPLICIT_FAMILIES = ("llama.cpp", "llama-cpp-python")
#: llama-server's names for the samplers whose order it takes (its ``samplers`` request field).
LLAMA_SERVER_SAMPLERS = {"typical_p": "typ_p"}
#: Environment variables that set ServerConfig fields for the CLI and the app.
TIMEOUT_ENV, DEADLINE_ENV, FAMILY_ENV = "WORKBENCH_SERVER_TIMEOUT_S", "WORKBENCH_SERVER_DEADLINE_S", "WORKBENCH_SERVER_FAMILY"

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ServerConfig:
    """Where the server is and how to talk to it."""

    base_url: str  # the OpenAI API root, usually ending in /v1
    model: str = ""  # model name the server serves; "" = the only one it serves
    api_key_env: str | None = None  # environment variable holding the API key; the key is never stored
    context_window: int = DEFAULT_CONTEXT_WINDOW  # tokens, when the server does not report its own
    timeout_s: float = 60.0  # per wait: connecting, and each wait for bytes while reading
    deadline_s: float = 600.0  # per request, all of it: retries, the whole reply, a stream to its end
    family: str = "auto"  # one of FAMILIES; "auto" = detect when connecting
    max_concurrency: int = 8  # requests in flight per call (vLLM batches them; llama-cpp-python queues them)
    max_retries: int = 4  # on 429/503, then give up with a clear message
    backoff_s: float = 0.5  # first retry delay; doubles each retry
    max_backoff_s: float = 8.0  # cap on one retry delay (also on a server's Retry-After)

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", self.base_url.strip().rstrip("/"))
        scheme = urllib.parse.urlsplit(self.base_url).scheme
        if scheme not in ("http", "https") or "://" not in self.base_url:
            raise ConfigError(
                f"Server URL {self.base_url!r} must start with http:// or https://, e.g. http://127.0.0.1:8000/v1."
            )
        if self.context_window < 16:
            raise ConfigError(f"context_window must be at least 16 tokens (got {self.context_window}).")
        if not (0 < self.timeout_s < math.inf):
            raise ConfigError(f"The server timeout must be > 0 seconds (got {self.timeout_s}); set {TIMEOUT_ENV}.")
        if not (0 < self.deadline_s < math.inf):
            raise ConfigError(f"The server deadline must be > 0 seconds (got {self.deadline_s}); set {DEADLINE_ENV}.")
        if self.family not in FAMILIES:
            raise ConfigError(f"Server family {self.family!r} is not one of {', '.join(FAMILIES)}; set {FAMILY_ENV}.")
        if self.max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be at least 1 (got {self.max_concurrency}).")
        if self.max_retries < 0 or self.backoff_s < 0 or self.max_backoff_s < 0:
            raise ConfigError("max_retries, backoff_s and max_backoff_s must be >= 0.")

    @property
    def root_url(self) -> str:
        """The server root (tokenizer endpoints live there, outside /v1)."""
        return self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url

    @property
    def ref(self) -> str:
        return format_ref(self.base_url, self.model, self.api_key_env)

    def api_key(self) -> str | None:
        """The API key, read from the environment on every request."""
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ConfigError(
                f"Environment variable {self.api_key_env} (named for the API key) is not set; "
                "export it or drop '#" + self.api_key_env + "' from the server reference."
            )
        return key


# ---- pure helpers ------------------------------------------------------------------------
def is_server_ref(model: str) -> bool:
    """True when ``model`` names a server (``http(s)://...``) rather than a local model."""
    return model.strip().lower().startswith(("http://", "https://"))


def parse_ref(ref: str) -> tuple[str, str, str | None]:
    """``BASE_URL#MODEL[#API_KEY_ENV]`` -> (base_url, model, api_key_env).

    >>> parse_ref("http://127.0.0.1:8000/v1#smollm2")
    ('http://127.0.0.1:8000/v1', 'smollm2', None)
    """
    ref = (ref or "").strip()
    if not is_server_ref(ref):
        raise ModelError(
            f"The openai-compatible backend needs a server reference like http://127.0.0.1:8000/v1#model-name, "
            f"not {ref!r}."
        )
    url, _, rest = ref.partition("#")
    model, _, key_env = rest.partition("#")
    key_env = key_env.strip()
    if key_env and not key_env.replace("_", "").isalnum():
        raise ConfigError(f"{key_env!r} is not an environment variable name; write BASE_URL#MODEL#VAR_NAME.")
    return url.strip().rstrip("/"), model.strip(), key_env or None


def format_ref(base_url: str, model: str = "", api_key_env: str | None = None) -> str:
    """Inverse of :func:`parse_ref`."""
    ref = f"{base_url.strip().rstrip('/')}#{model.strip()}"
    return f"{ref}#{api_key_env.strip()}" if api_key_env and api_key_env.strip() else ref


def backoff_delays(max_retries: int, backoff_s: float, max_backoff_s: float) -> list[float]:
    """Seconds to wait before each retry: doubling from ``backoff_s``, capped.

    >>> backoff_delays(4, 0.5, 3.0)
    [0.5, 1.0, 2.0, 3.0]
    """
    return [min(backoff_s * 2**i, max_backoff_s) for i in range(max_retries)]


def native_order(family: str) -> tuple[str, ...]:
    """The order a server of ``family`` applies the samplers in by itself.

    Both llama.cpp servers run llama.cpp's sampler chain (temperature last); vLLM
    divides by the temperature first, as Hugging Face does; other servers are assumed to.
    """
    return SAMPLER_ORDERS["llama.cpp" if family in EXPLICIT_FAMILIES else "transformers"]


def sampling_fields(cfg: DecodingConfig, seed: int | None, family: str = "openai") -> dict:
    """The request fields for ``cfg`` (one sample with ``seed``) on a server of ``family``.

    The OpenAI fields are always sent. Servers of the llama.cpp family (llama.cpp's
    own ``llama-server`` and llama-cpp-python) read ``repeat_penalty`` and have
    defaults that are not off (top_k 40, min_p 0.05; repeat_penalty 1.1 in
    llama-cpp-python), so sending nothing is not "off": every field is sent under its
    llama.cpp name, with the off values (top_k 0, min_p 0, typical_p 1,
    repeat_penalty 1) when the config has it off. ``llama-server`` also gets
    ``repeat_last_n: -1``: the penalty covers its whole window (prompt and output), as
    in Hugging Face, and ``samplers``: the config's sampler order (penalties first), so
    the order shown is the order used. Other servers (vLLM, ...) default to off and get
    the extras (``repetition_penalty``, their name) only when set, and sample in their
    own order only (:func:`native_order`).
    """
    order = cfg.order_on(native_order(family))
    if cfg.do_sample and family != "llama.cpp" and order != native_order(family):
        raise ConfigError(
            f"This server ({family}) samples only in its own order ({' > '.join(native_order(family))}); "
            "clear sampler_order, or use llama.cpp's llama-server, which takes any order."
        )
    if cfg.num_beams > 1:
        raise ConfigError("Beam search is not available on an OpenAI-compatible server; set num_beams=1.")
    if cfg.no_repeat_ngram_size > 0:
        raise ConfigError("no_repeat_ngram_size is not available on an OpenAI-compatible server; set it to 0.")
    body: dict = {
        "max_tokens": cfg.max_new_tokens,
        "temperature": cfg.temperature if cfg.do_sample else 0.0,
        "top_p": cfg.top_p,
    }
    if cfg.stop:
        body["stop"] = list(cfg.stop)
    if cfg.do_sample and seed is not None:
        body["seed"] = seed
    if family in EXPLICIT_FAMILIES:
        body.update(top_k=cfg.top_k, min_p=cfg.min_p, typical_p=cfg.typical_p, repeat_penalty=cfg.repetition_penalty)
        if family == "llama.cpp":
            body["repeat_last_n"] = -1
            body["samplers"] = ["penalties", *(LLAMA_SERVER_SAMPLERS.get(name, name) for name in order)]
        return body
    if cfg.typical_p != 1.0:
        raise ConfigError(
            "typical_p is read only by llama.cpp servers (llama-server, llama-cpp-python); set it to 1 for this "
            f"server, or name its family with {FAMILY_ENV}=llama.cpp if it is one."
        )
    if cfg.top_k > 0:
        body["top_k"] = cfg.top_k
    if cfg.min_p > 0:
        body["min_p"] = cfg.min_p
    if cfg.repetition_penalty != 1.0:
        body["repetition_penalty"] = cfg.repetition_penalty
    return body


# ---- replies: one Pydantic model per shape, validated at the edge --------------------------------
class Reply(BaseModel):
    """A server's reply: fields the workbench reads are typed strictly; fields servers add are allowed."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)


#: A log-probability (NaN and values above 0 are refused; -inf is a real answer).
LogProb = Annotated[float, Field(le=1e-3)]
Count = Annotated[int, Field(ge=0)]
Window = Annotated[int, Field(ge=16)]


class LlamaMeta(Reply):
    n_ctx: Window | None = None  # llama-server: the context it was started with


class ModelEntry(Reply):
    id: str = Field(min_length=1)
    owned_by: str | None = None  # "llamacpp" on llama-server, "vllm" on vLLM
    max_model_len: Window | None = None  # vLLM: its context length
    meta: LlamaMeta | None = None


class ModelList(Reply):
    data: list[ModelEntry]


class Tokens(Reply):
    tokens: list[Count]


class Detokenized(Reply):
    #: llama-cpp-python answers "text", vLLM "prompt", llama.cpp "content".
    text: str = Field(validation_alias=AliasChoices("text", "prompt", "content"))


class Logprobs(Reply):
    tokens: list[str] | None = None
    token_logprobs: list[LogProb | None] | None = None
    top_logprobs: list[dict[str, LogProb] | None] | None = None


class Usage(Reply):
    prompt_tokens: Count | None = None
    completion_tokens: Count | None = None


class CompletionChoice(Reply):
    text: str
    finish_reason: str | None = None
    logprobs: Logprobs | None = None


class Completion(Reply):
    choices: list[CompletionChoice] = Field(min_length=1)
    usage: Usage | None = None


class StreamChoice(Reply):
    text: str | None = None
    finish_reason: str | None = None


class StreamEvent(Reply):
    choices: list[StreamChoice] = []  # a final usage-only event has none


class ChatMessage(Reply):
    content: str


class ChatChoice(Reply):
    message: ChatMessage
    finish_reason: str | None = None


class ChatCompletion(Reply):
    choices: list[ChatChoice] = Field(min_length=1)
    usage: Usage | None = None


class SlotSettings(Reply):
    n_ctx: Window | None = None  # llama-server: the context of one slot (its window per request)


class Props(Reply):
    chat_template: str | None = None
    default_generation_settings: SlotSettings | None = None


class MalformedReply(ModelError):
    """A reply whose shape the workbench does not expect (a ModelError naming the endpoint and the field)."""


R_ = TypeVar("R_", bound=Reply)


def parse_reply(model: type[R_], raw: bytes | str, path: str, where: str) -> R_:
    """``raw`` (the body of ``where``'s reply to ``path``) as ``model``, or one WorkbenchError.

    Not JSON -> MalformedReply; ``{"error": ...}`` -> ModelError quoting the server;
    any other shape ``model`` does not describe -> MalformedReply naming the field.
    """
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, a 5000-digit number, nesting deeper than Python's stack
        raise MalformedReply(
            f"The server at {where} returned malformed JSON for {path} ({text[:60]!r}); "
            "is it an OpenAI-compatible server?"
        ) from None
    if isinstance(data, dict) and data.get("error") and "choices" not in data:
        inner = data["error"]
        inner = inner.get("message", inner) if isinstance(inner, dict) else inner
        message = " ".join(str(inner).split())[:QUOTE_CHARS]
        raise ModelError(f"The server at {where} failed: {message}.")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "the reply"
        got = json.dumps(first.get("input"), default=str)[:40]
        raise MalformedReply(
            f"The server at {where} sent an unexpected reply for {path}: {field}: {first['msg']} (got {got}); "
            "is it an OpenAI-compatible server?"
        ) from None
    except RecursionError:
        raise MalformedReply(f"The server at {where} sent a reply for {path} nested too deeply.") from None


def retry_after(header: str | None, default: float, cap: float) -> float:
    """Seconds to wait from a ``Retry-After`` header: a finite number of seconds, within [0, cap]; else ``default``.

    >>> retry_after("nan", 0.5, 8.0), retry_after("2", 0.5, 8.0), retry_after("1e9", 0.5, 8.0)
    (0.5, 2.0, 8.0)
    """
    try:
        value = float(header) if header is not None else default
    except (TypeError, ValueError):
        return default
    return min(max(value, 0.0), cap) if math.isfinite(value) else default


def iter_sse_data(lines: Iterable[bytes], where: str) -> Iterator[str]:
    """The ``data`` of each server-sent event, until ``[DONE]``.

    A stream that ends without ``[DONE]`` was cut (server killed, connection
    dropped): that is a ModelError, never a silently short text.
    """
    data: list[str] = []
    for raw in lines:
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if data:
                payload, data = "\n".join(data), []
                if payload.strip() == "[DONE]":
                    return
                yield payload
            continue
        if line.startswith(":"):  # comment / keep-alive ping
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data and "\n".join(data).strip() == "[DONE]":
        return
    raise ModelError(f"The server at {where} closed the stream before it finished; check the server's log.")


def run_bounded(fn: Callable[[T], R], items: Sequence[T], max_workers: int) -> list[R]:
    """``[fn(x) for x in items]`` with at most ``max_workers`` calls in flight; first error wins."""
    items = list(items)
    if max_workers <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(max_workers, len(items))) as pool:
        futures = [pool.submit(fn, x) for x in items]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise


@dataclass(frozen=True)
class TokenizerRoute:
    """How one kind of server tokenizes (the OpenAI API has no tokenizer endpoint)."""

    kind: str
    tokenize_path: str  # under the server root, not /v1
    detokenize_path: str
    text_field: str  # request field holding the text to tokenize (the reply's field: see Detokenized)
    extra: tuple[tuple[str, object], ...] = ()  # fixed request fields (add the model's special tokens)


#: Tried in order when connecting; the first that answers with token ids is used.
TOKENIZER_ROUTES = (
    TokenizerRoute("llama-cpp-python", "/extras/tokenize", "/extras/detokenize", "input"),
    TokenizerRoute("vllm", "/tokenize", "/detokenize", "prompt", (("add_special_tokens", True),)),
    TokenizerRoute("llama.cpp", "/tokenize", "/detokenize", "content", (("add_special", True),)),
)


# ---- HTTP ----------------------------------------------------------------------------------
class Deadline:
    """One request's overall time limit: when it passes, a timer shuts the request's socket.

    A read blocked on a server that trickles bytes or sends keep-alive comments then
    returns at once; the reader sees :attr:`expired` and says which limit was reached.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def left(self) -> float:
        return self.end - time.monotonic()

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` when the deadline passes (the socket of the current attempt)."""
        with self._lock:
            self._sock = sock
            if self.expired:
                _shut(sock)

    def cancel(self) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            if self._sock is not None:
                _shut(self._sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


class _Watched:
    """An HTTP(S) connection that hands its socket to the request's Deadline once connected."""

    def __init__(self, *args, deadline: Deadline | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._deadline = deadline

    def connect(self) -> None:
        super().connect()
        if self._deadline is not None:
            self._deadline.watch(self.sock)


class _WatchedHTTP(_Watched, http.client.HTTPConnection):
    pass


class _WatchedHTTPS(_Watched, http.client.HTTPSConnection):
    pass


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(functools.partial(_WatchedHTTP, deadline=getattr(req, "deadline", None)), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        factory = functools.partial(_WatchedHTTPS, deadline=getattr(req, "deadline", None))
        return self.do_open(factory, req, context=self._context)


class Response:
    """An open reply, bounded: by its request's deadline, by MAX_REPLY_BYTES and MAX_LINE_BYTES."""

    def __init__(self, client: ServerClient, resp: http.client.HTTPResponse, deadline: Deadline, path: str):
        self.client, self.resp, self.deadline, self.path = client, resp, deadline, path

    def read(self) -> bytes:
        """The whole body."""
        chunks, size = [], 0
        while True:
            chunk = self._io(self.resp.read1, 65536)
            if not chunk:
                self._check()
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
        self.deadline.cancel()
        self.resp.close()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _io(self, read: Callable[[int], bytes], size: int) -> bytes:
        try:
            return read(size)
        except (OSError, http.client.HTTPException) as err:
            self._check()
            raise self.client.network_error(err) from None

    def _check(self) -> None:
        if self.deadline.expired:
            raise self.client.deadline_error(self.path)


class ServerClient:
    """JSON over HTTP with retries on 429/503, timeouts, a deadline per request, and one-line errors (stdlib only)."""

    def __init__(self, config: ServerConfig):
        self.config = config
        host = urllib.parse.urlsplit(config.base_url).hostname or ""
        loopback = host in ("localhost", "127.0.0.1", "::1")
        # Never send loopback traffic through an HTTP proxy set in the environment.
        handlers = [urllib.request.ProxyHandler({})] if loopback else []
        self._opener = urllib.request.build_opener(*handlers, _HTTPHandler(), _HTTPSHandler())

    def open(self, path: str, body: dict | None = None, root: bool = False) -> Response:
        """Send a request (POST with ``body``, else GET); return the open reply (close it, or use ``with``)."""
        cfg = self.config
        url = (cfg.root_url if root else cfg.base_url) + path
        headers = {"Content-Type": "application/json"}
        key = cfg.api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = json.dumps(body).encode("utf-8") if body is not None else None
        delays = backoff_delays(cfg.max_retries, cfg.backoff_s, cfg.max_backoff_s)
        deadline = Deadline(cfg.deadline_s)
        try:
            for attempt in range(len(delays) + 1):
                request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
                request.deadline = deadline
                try:
                    return Response(self, self._opener.open(request, timeout=min(cfg.timeout_s, deadline.left())),
                                    deadline, path)
                except urllib.error.HTTPError as err:
                    if err.code in RETRY_STATUSES and attempt < len(delays):
                        wait = retry_after(err.headers.get("Retry-After"), delays[attempt], cfg.max_backoff_s)
                        err.close()
                        if wait >= deadline.left():
                            raise self.deadline_error(path) from None
                        time.sleep(wait)
                        continue
                    failure = self._http_error(err, path, attempt)
                    raise (self.deadline_error(path) if deadline.expired else failure) from None
                except (OSError, http.client.HTTPException, ValueError) as err:  # ValueError: no time left
                    raise (self.deadline_error(path) if deadline.expired or deadline.left() <= 0
                           else self.network_error(err)) from None
            raise AssertionError("unreachable")  # the loop returns or raises
        except BaseException:
            deadline.cancel()
            raise

    def fetch(self, path: str, body: dict | None = None, root: bool = False) -> bytes:
        """The whole body of the reply to one request."""
        with self.open(path, body, root) as reply:
            return reply.read()

    def post(self, path: str, body: dict, model: type[R_], root: bool = False) -> R_:
        return parse_reply(model, self.fetch(path, body, root), path, self.config.base_url)

    def get(self, path: str, model: type[R_], root: bool = False) -> R_:
        return parse_reply(model, self.fetch(path, None, root), path, self.config.base_url)

    def deadline_error(self, path: str) -> ModelError:
        return ModelError(
            f"The server at {self.config.base_url} did not finish its reply to {path} within "
            f"{self.config.deadline_s:g} s (the deadline per request); check the server, or raise {DEADLINE_ENV}."
        )

    def too_large(self, path: str) -> ModelError:
        return ModelError(
            f"The server at {self.config.base_url} sent a reply to {path} larger than the workbench reads "
            f"({MAX_REPLY_BYTES // 2**20} MiB, or {MAX_LINE_BYTES // 2**20} MiB per streamed line); check the server."
        )

    def network_error(self, err: BaseException) -> ModelError:
        url = self.config.base_url
        reason = err.reason if isinstance(err, urllib.error.URLError) else err
        if isinstance(reason, ConnectionRefusedError):
            return ModelError(f"Cannot reach the server at {url}; is it running?")
        if isinstance(reason, TimeoutError):
            return ModelError(
                f"The server at {url} did not answer within {self.config.timeout_s:g} s; "
                f"check that it is not overloaded, or raise {TIMEOUT_ENV}."
            )
        if isinstance(reason, (ConnectionError, http.client.HTTPException)):
            return ModelError(f"The server at {url} closed the connection before it answered; check the server's log.")
        return ModelError(f"Cannot talk to the server at {url} ({reason}); check the base URL.")

    def _http_error(self, err: urllib.error.HTTPError, path: str, retries: int) -> WorkbenchError:
        url = self.config.base_url
        message = _error_message(err)
        code = err.code
        if code in RETRY_STATUSES:
            return ModelError(
                f"The server at {url} is still busy ({code}) after {retries} retries; "
                "try again later or lower max_concurrency."
            )
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


def _error_message(err: urllib.error.HTTPError) -> str:
    """The server's own one-line explanation: OpenAI {"error": {"message"}}, FastAPI {"detail"}, or text."""
    try:
        raw = err.read(MAX_LINE_BYTES).decode("utf-8", errors="replace")
    except (OSError, http.client.HTTPException):
        raw = ""
    finally:
        err.close()
    message = raw
    try:
        data = json.loads(raw)
        if isinstance(data, dict):
            inner = data.get("error", data)
            if isinstance(inner, dict):
                inner = inner.get("message") or inner.get("detail") or inner
            message = inner if isinstance(inner, str) else json.dumps(inner)
    except (ValueError, RecursionError):
        pass
    message = " ".join((message or err.reason or "no details").split())
    # llama-cpp-python appends a server-side traceback after a blank line; keep the message.
    message = message.split(" File \"")[0].strip()
    return message[:QUOTE_CHARS].rstrip(" .;")


# ---- the backend -----------------------------------------------------------------------------
def load_openai_compatible(ref: str, context_window: int = DEFAULT_CONTEXT_WINDOW) -> OpenAICompatBackend:
    """Connect to the server a reference ``BASE_URL#MODEL[#API_KEY_ENV]`` names.

    The timeout, the deadline and the family come from the environment
    (:data:`TIMEOUT_ENV`, :data:`DEADLINE_ENV`, :data:`FAMILY_ENV`) when set.
    """
    base_url, model, key_env = parse_ref(ref)
    return connect(ServerConfig(
        base_url, model, key_env, context_window=context_window,
        timeout_s=_env_seconds(TIMEOUT_ENV, ServerConfig.timeout_s),
        deadline_s=_env_seconds(DEADLINE_ENV, ServerConfig.deadline_s),
        family=os.environ.get(FAMILY_ENV, "").strip() or ServerConfig.family,
    ))


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds.") from None


def connect(config: ServerConfig) -> OpenAICompatBackend:
    """Check the server answers, serves the model, and can tokenize; then wrap it as a Backend."""
    client = ServerClient(config)
    entries = client.get("/models", ModelList).data
    served = [e.id for e in entries]
    model = config.model
    if not model:
        if len(served) != 1:
            raise ModelError(
                f"The server at {config.base_url} serves {len(served)} models; name one as "
                f"{config.base_url}#MODEL (served: {', '.join(served) or 'none'})."
            )
        model = served[0]
    elif model not in served:
        raise ModelError(
            f"The server at {config.base_url} does not serve model {model!r}; it serves: {', '.join(served) or 'none'}."
        )
    entry = entries[served.index(model)]
    family = config.family if config.family != "auto" else _family_of(entry.owned_by)
    route = _find_tokenizer(client, model, family)
    if family == "auto":
        family = route.kind  # the tokenizer that answered names the server
    props = _props(client) if family == "llama.cpp" else Props()
    slot = props.default_generation_settings
    window = (entry.max_model_len or (slot and slot.n_ctx) or (entry.meta and entry.meta.n_ctx)
              or config.context_window)  # what the server reports, else the user's
    template = props.chat_template if props.chat_template and props.chat_template.strip() else None
    config = replace(config, model=model, context_window=window, family=family)
    return OpenAICompatBackend(config, route, template)


def _family_of(owned_by: str | None) -> str:
    """The family ``/v1/models`` names: llama-server says ``owned_by: llamacpp``, vLLM ``vllm``."""
    return {"llamacpp": "llama.cpp", "vllm": "vllm"}.get((owned_by or "").lower(), "auto")


def _find_tokenizer(client: ServerClient, model: str, family: str) -> TokenizerRoute:
    """The first route that answers with token ids (the family's own first); a malformed answer is named."""
    malformed: MalformedReply | None = None
    for route in sorted(TOKENIZER_ROUTES, key=lambda r: r.kind != family):
        body = {"model": model, route.text_field: "Hello", **dict(route.extra)}
        try:
            tokens = client.post(route.tokenize_path, body, Tokens, root=True).tokens
        except MalformedReply as err:
            malformed = malformed or err
            continue
        except (ConfigError, ModelError, PromptError):
            continue
        if tokens:
            return route
    if malformed is not None:
        raise malformed
    raise ModelError(
        f"The server at {client.config.base_url} has no tokenizer endpoint (/extras/tokenize or /tokenize); "
        "the workbench needs one to count tokens (vLLM, llama.cpp and llama-cpp-python have one)."
    )


def _props(client: ServerClient) -> Props:
    """llama.cpp's own server publishes its chat template and its window per slot at /props."""
    try:
        return client.get("/props", Props, root=True)
    except MalformedReply:
        raise
    except WorkbenchError:
        return Props()


class OpenAICompatBackend(Backend):
    """A model behind an OpenAI-compatible HTTP API. Build it with :func:`connect` or ``load_backend``."""

    name = "openai-compatible"

    def __init__(self, config: ServerConfig, route: TokenizerRoute, chat_template: str | None = None):
        spec = ModelSpec(
            id=config.ref,
            path=config.base_url,
            is_chat=chat_template is not None,
            description=f"{config.model} served at {config.base_url}",
        )
        super().__init__(spec, config.context_window, chat_template, slots=config.max_concurrency)
        self.config = config
        self.client = ServerClient(config)
        self.route = route
        self.chat_template_source = f"the server at {config.root_url} (/props)"  # named when the template fails
        self.capabilities = Capabilities(full_logits=False, beam_search=False, concurrent=config.max_concurrency)
        self._memo: OrderedDict[tuple[int, ...], str] = OrderedDict()
        self._memo_lock = threading.Lock()
        self._token_texts: dict[int, str] = {}
        natural_empty = self._natural("")
        self._bos = natural_empty if len(natural_empty) == 1 else []
        self._bos_text = self.token_text(self._bos[0]) if self._bos else ""

    @property
    def model(self) -> str:
        return self.config.model

    @property
    def device(self) -> str:
        return self.config.base_url

    @property
    def bos_text(self) -> str:
        return self._bos_text

    @property
    def sampler_order(self) -> tuple[str, ...]:
        """The order this server samples in when a config leaves it open."""
        return native_order(self.family)

    @property
    def family(self) -> str:
        """The server's family (see :func:`sampling_fields`): detected when connecting, or named."""
        return self.config.family

    # ---- tokens ----------------------------------------------------------------------------
    def _natural(self, text: str) -> list[int]:
        """The ids the server itself makes of ``text`` (with its BOS when the model adds one)."""
        body = {"model": self.model, self.route.text_field: text, **dict(self.route.extra)}
        return self.client.post(self.route.tokenize_path, body, Tokens, root=True).tokens

    def _model_ids(self, text: str) -> list[int]:
        """The ids the server will see for ``text`` (the text is sent as is)."""
        return self._remember(self._natural(text), text)

    def _tokenize(self, text: str, add_bos: bool) -> list[int]:
        ids = self._natural(text)
        if self._bos and ids[:1] == self._bos:
            ids = ids[1:]
        return self._remember(self._bos + ids if add_bos else ids, text)

    def token_text(self, token_id: int) -> str:
        if token_id not in self._token_texts:
            self._token_texts[token_id] = self._detokenize([token_id])
        return self._token_texts[token_id]

    def _detokenize(self, ids: list[int]) -> str:
        if not ids:
            return ""
        path = self.route.detokenize_path
        try:
            raw = self.client.fetch(path, {"model": self.model, "tokens": ids}, root=True)
        except ModelError:
            return "\ufffd"  # e.g. half of a multi-byte character, which the server cannot decode alone
        return parse_reply(Detokenized, raw, path, self.config.base_url).text

    def _remember(self, ids: list[int], text: str) -> list[int]:
        with self._memo_lock:
            self._memo[tuple(ids)] = text
            self._memo.move_to_end(tuple(ids))
            while len(self._memo) > TEXT_MEMO_SIZE:
                self._memo.popitem(last=False)
        return ids

    def _text_of(self, ids: Sequence[int]) -> str:
        """The text to send for ``ids``: the text they came from, else the server's detokenization."""
        with self._memo_lock:
            text = self._memo.get(tuple(ids))
        if text is not None:
            return text
        bos = len(self._bos) if self._bos and list(ids[:1]) == self._bos else 0
        return self._detokenize(list(ids[bos:]))

    # ---- generation --------------------------------------------------------------------------
    def _generate(self, prompt_ids: list[list[int]], cfg: DecodingConfig) -> list[list[Generation]]:
        sampling_fields(cfg, cfg.seed, self.family)  # refuse unsupported settings before any request
        jobs = [(i, seed) for i in range(len(prompt_ids)) for seed in sample_seeds(cfg)]
        texts = [self._text_of(ids) for ids in prompt_ids]

        def run(job: tuple[int, int | None]) -> Generation:
            i, seed = job
            return self._complete(texts[i], len(prompt_ids[i]), cfg, seed)

        flat = run_bounded(run, jobs, self.config.max_concurrency)
        return [flat[i * cfg.n:(i + 1) * cfg.n] for i in range(len(prompt_ids))]

    def _complete(self, text: str, n_prompt: int, cfg: DecodingConfig, seed: int | None) -> Generation:
        timer = Timer()
        body = {"model": self.model, "prompt": text, **sampling_fields(cfg, seed, self.family)}
        reply = self.client.post("/completions", body, Completion)
        choice = reply.choices[0]
        text_out = choice.text
        n_out = reply.usage.completion_tokens if reply.usage else None
        if n_out is None:
            n_out = len(self._tokenize(text_out, add_bos=False)) if text_out else 0
        return Generation(
            text=text_out,
            prompt_tokens=n_prompt,
            completion_tokens=n_out,
            finish_reason="length" if choice.finish_reason == "length" else "stop",
            seconds=timer.seconds(),
            seed=seed if cfg.do_sample else None,
        )

    def _stream(self, prompt_ids: list[int], cfg: DecodingConfig) -> Iterator[tuple[str, Generation | None]]:
        body = {
            "model": self.model,
            "prompt": self._text_of(prompt_ids),
            "stream": True,
            **sampling_fields(cfg, cfg.seed, self.family),
        }
        timer = Timer()
        pieces: list[str] = []
        finish = "stop"
        with self.client.open("/completions", body) as reply:
            for payload in iter_sse_data(reply.lines(), self.config.base_url):
                event = parse_reply(StreamEvent, payload, "/completions (stream)", self.config.base_url)
                for choice in event.choices[:1]:
                    if choice.text:
                        pieces.append(choice.text)
                        yield choice.text, None
                    if choice.finish_reason:
                        finish = "length" if choice.finish_reason == "length" else "stop"
        text = "".join(pieces)
        n_out = len(self._tokenize(text, add_bos=False)) if text else 0
        yield "", Generation(text, len(prompt_ids), n_out, finish, timer.seconds(), cfg.seed if cfg.do_sample else None)

    def chat(self, messages: Sequence[dict], cfg: DecodingConfig | None = None) -> Generation:
        """One reply from ``/v1/chat/completions``: the server applies its own chat template."""
        cfg = cfg or DecodingConfig()
        if not messages or not all(isinstance(m, dict) and "role" in m and "content" in m for m in messages):
            raise PromptError("Chat needs a list of messages with 'role' and 'content'.")
        body = {"model": self.model, "messages": list(messages), **sampling_fields(cfg, cfg.seed, self.family)}
        timer = Timer()
        with self.lock.hold():
            reply = self.client.post("/chat/completions", body, ChatCompletion)
        choice, usage = reply.choices[0], reply.usage or Usage()
        return Generation(
            text=choice.message.content,
            prompt_tokens=usage.prompt_tokens or 0,
            completion_tokens=usage.completion_tokens or 0,
            finish_reason="length" if choice.finish_reason == "length" else "stop",
            seconds=timer.seconds(),
            seed=cfg.seed if cfg.do_sample else None,
        )

    # ---- probabilities -------------------------------------------------------------------------
    def _logits(self, ids: list[int]) -> np.ndarray:
        raise ConfigError(
            f"The server at {self.config.base_url} gives only the top log-probabilities, not full logits; "
            "use the next-token distribution (top-N) instead."
        )

    def _top_tokens(self, ids: list[int], top: int) -> list[TokenProb]:
        """The server's ``top`` most likely next tokens (``logit`` holds the log-probability)."""
        body = {"model": self.model, "prompt": self._text_of(ids), "logprobs": int(top),
                **sampling_fields(DecodingConfig(max_new_tokens=1), None, self.family)}
        logprobs = self._logprobs(body)
        tops = (logprobs.top_logprobs or [None])[0]
        if not tops:
            raise self._no_logprobs()
        ranked = sorted(tops.items(), key=lambda kv: -kv[1])[:top]
        ids_of = run_bounded(self._single_id, [t for t, _ in ranked], self.config.max_concurrency)
        return [TokenProb(i, t, math.exp(lp), float(lp)) for i, (t, lp) in zip(ids_of, ranked, strict=True)]

    def _single_id(self, text: str) -> int:
        ids = self._tokenize(text, add_bos=False) if text else []
        return ids[0] if len(ids) == 1 else -1

    def _continuation_logprobs(self, prompt_ids: list[int], continuations: list[list[int]]) -> list[float]:
        prompt_text = self._text_of(prompt_ids)

        def one(cont: list[int]) -> float:
            total = 0.0
            for j, token in enumerate(cont):
                prefix = prompt_text + (self._text_of(cont[:j]) if j else "")
                total += self._forced_logprob(prefix, token)
            return total

        return run_bounded(one, continuations, self.config.max_concurrency)

    def _forced_logprob(self, prefix: str, token: int) -> float:
        """log p(token | prefix): generate one token forced by logit_bias; logprobs are the model's own."""
        body = {"model": self.model, "prompt": prefix, "logprobs": 1, "logit_bias": {str(token): FORCE_BIAS},
                **sampling_fields(DecodingConfig(max_new_tokens=1), None, self.family)}
        logprobs = self._logprobs(body)
        want = self.token_text(token)
        got = (logprobs.tokens or [None])[0]
        values = logprobs.token_logprobs or [None]
        if got is not None and got.strip() == want.strip() and values[0] is not None:
            return float(values[0])
        tops = (logprobs.top_logprobs or [None])[0] or {}
        if want in tops:
            return float(tops[want])
        raise ConfigError(
            f"The server at {self.config.base_url} ignored logit_bias, so it cannot score continuations; "
            "label scoring needs a server that honours logit_bias and returns logprobs (vLLM, llama.cpp)."
        )

    def _logprobs(self, body: dict) -> Logprobs:
        logprobs = self.client.post("/completions", body, Completion).choices[0].logprobs
        if logprobs is None:
            raise self._no_logprobs()
        return logprobs

    def _no_logprobs(self) -> ConfigError:
        return ConfigError(
            f"The server at {self.config.base_url} does not return log-probabilities; the probability "
            "explorer and label scoring need one that does (vLLM; llama-cpp-python with logits_all)."
        )
