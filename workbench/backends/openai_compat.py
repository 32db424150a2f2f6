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
"""

from __future__ import annotations

import http.client
import json
import math
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np

from workbench.backends.base import Backend, Generation, ModelLock, Timer, TokenProb, sample_seeds
from workbench.backends.registry import DEFAULT_CONTEXT_WINDOW, ModelSpec
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError, ModelError, PromptError, WorkbenchError

#: HTTP statuses that mean "busy, try again": rate limited, overloaded.
RETRY_STATUSES = (429, 503)
#: logit_bias that forces a token (the OpenAI API's maximum).
FORCE_BIAS = 100.0
#: ids -> text pairs remembered so prompts go to the server as the text the user wrote.
TEXT_MEMO_SIZE = 1024
#: Characters of a server's error body quoted in a message.
QUOTE_CHARS = 200

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ServerConfig:
    """Where the server is and how to talk to it."""

    base_url: str  # the OpenAI API root, usually ending in /v1
    model: str = ""  # model name the server serves; "" = the only one it serves
    api_key_env: str | None = None  # environment variable holding the API key; the key is never stored
    context_window: int = DEFAULT_CONTEXT_WINDOW  # tokens, when the server does not report its own
    timeout_s: float = 60.0  # per request: connecting, and each wait for bytes while reading
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
        if self.timeout_s <= 0:
            raise ConfigError(f"timeout_s must be > 0 (got {self.timeout_s}).")
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


def sampling_fields(cfg: DecodingConfig, seed: int | None, explicit_extras: bool) -> dict:
    """The request fields for ``cfg`` (one sample with ``seed``).

    The OpenAI fields are always sent. The extra fields servers accept beyond
    OpenAI's (top_k, min_p, repetition_penalty) are sent only when set away from
    their off values, except with ``explicit_extras`` (llama-cpp-python), whose
    own defaults are not off (top_k=40, min_p=0.05, repeat_penalty=1.1), so every
    field is sent under its llama.cpp name.
    """
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
    if explicit_extras:
        body.update(top_k=cfg.top_k, min_p=cfg.min_p, typical_p=cfg.typical_p, repeat_penalty=cfg.repetition_penalty)
        return body
    if cfg.typical_p != 1.0:
        raise ConfigError("typical_p is passed only to llama.cpp servers; set it to 1 for this server.")
    if cfg.top_k > 0:
        body["top_k"] = cfg.top_k
    if cfg.min_p > 0:
        body["min_p"] = cfg.min_p
    if cfg.repetition_penalty != 1.0:
        body["repetition_penalty"] = cfg.repetition_penalty
    return body


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
    text_field: str  # request field holding the text to tokenize
    detok_field: str  # response field holding the detokenized text
    extra: tuple[tuple[str, object], ...] = ()  # fixed request fields (add the model's special tokens)


#: Tried in order when connecting; the first that answers with token ids is used.
TOKENIZER_ROUTES = (
    TokenizerRoute("llama-cpp-python", "/extras/tokenize", "/extras/detokenize", "input", "text"),
    TokenizerRoute("vllm", "/tokenize", "/detokenize", "prompt", "prompt", (("add_special_tokens", True),)),
    TokenizerRoute("llama.cpp", "/tokenize", "/detokenize", "content", "content", (("add_special", True),)),
)


# ---- HTTP ----------------------------------------------------------------------------------
class ServerClient:
    """JSON over HTTP with retries on 429/503, timeouts, and one-line errors (stdlib only)."""

    def __init__(self, config: ServerConfig):
        self.config = config
        host = urllib.parse.urlsplit(config.base_url).hostname or ""
        loopback = host in ("localhost", "127.0.0.1", "::1")
        # Never send loopback traffic through an HTTP proxy set in the environment.
        handlers = [urllib.request.ProxyHandler({})] if loopback else []
        self._opener = urllib.request.build_opener(*handlers)

    def open(self, path: str, body: dict | None = None, root: bool = False) -> http.client.HTTPResponse:
        """Send a request (POST with ``body``, else GET); return the open response."""
        cfg = self.config
        url = (cfg.root_url if root else cfg.base_url) + path
        headers = {"Content-Type": "application/json"}
        key = cfg.api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = json.dumps(body).encode("utf-8") if body is not None else None
        delays = backoff_delays(cfg.max_retries, cfg.backoff_s, cfg.max_backoff_s)
        for attempt in range(len(delays) + 1):
            request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
            try:
                return self._opener.open(request, timeout=cfg.timeout_s)
            except urllib.error.HTTPError as err:
                if err.code in RETRY_STATUSES and attempt < len(delays):
                    wait = _retry_after(err, delays[attempt], cfg.max_backoff_s)
                    err.close()
                    time.sleep(wait)
                    continue
                raise self._http_error(err, path, attempt) from None
            except (OSError, http.client.HTTPException) as err:
                raise self.network_error(err) from None
        raise AssertionError("unreachable")  # the loop returns or raises

    def post(self, path: str, body: dict, root: bool = False) -> dict:
        return self.read_json(self.open(path, body, root), path)

    def get(self, path: str, root: bool = False) -> dict:
        return self.read_json(self.open(path, None, root), path)

    def read_json(self, resp: http.client.HTTPResponse, path: str) -> dict:
        try:
            with resp:
                raw = resp.read()
        except (OSError, http.client.HTTPException) as err:
            raise self.network_error(err) from None
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise self.malformed(path, raw)
        return data

    def malformed(self, path: str, raw: bytes | str) -> ModelError:
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        return ModelError(
            f"The server at {self.config.base_url} returned malformed JSON for {path} "
            f"({text[:60]!r}); is it an OpenAI-compatible server?"
        )

    def network_error(self, err: BaseException) -> ModelError:
        url = self.config.base_url
        reason = err.reason if isinstance(err, urllib.error.URLError) else err
        if isinstance(reason, ConnectionRefusedError):
            return ModelError(f"Cannot reach the server at {url}; is it running?")
        if isinstance(reason, TimeoutError):
            return ModelError(
                f"The server at {url} did not answer within {self.config.timeout_s:g} s; "
                "check that it is not overloaded, or raise timeout_s."
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


def _retry_after(err: urllib.error.HTTPError, default: float, cap: float) -> float:
    try:
        return min(max(float(err.headers.get("Retry-After", default)), 0.0), cap)
    except (TypeError, ValueError):
        return default


def _error_message(err: urllib.error.HTTPError) -> str:
    """The server's own one-line explanation: OpenAI {"error": {"message"}}, FastAPI {"detail"}, or text."""
    try:
        raw = err.read().decode("utf-8", errors="replace")
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
    except ValueError:
        pass
    message = " ".join((message or err.reason or "no details").split())
    # llama-cpp-python appends a server-side traceback after a blank line; keep the message.
    message = message.split(" File \"")[0].strip()
    return message[:QUOTE_CHARS].rstrip(" .;")


# ---- the backend -----------------------------------------------------------------------------
def load_openai_compatible(ref: str, context_window: int = DEFAULT_CONTEXT_WINDOW) -> OpenAICompatBackend:
    """Connect to the server a reference ``BASE_URL#MODEL[#API_KEY_ENV]`` names."""
    base_url, model, key_env = parse_ref(ref)
    return connect(ServerConfig(base_url, model, key_env, context_window=context_window))


def connect(config: ServerConfig) -> OpenAICompatBackend:
    """Check the server answers, serves the model, and can tokenize; then wrap it as a Backend."""
    client = ServerClient(config)
    listing = client.get("/models")
    entries = [e for e in listing.get("data") or [] if isinstance(e, dict) and e.get("id")]
    served = [str(e["id"]) for e in entries]
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
    window = int(entry.get("max_model_len") or config.context_window)  # vLLM reports its context length
    route = _find_tokenizer(client, model)
    if route is None:
        raise ModelError(
            f"The server at {config.base_url} has no tokenizer endpoint (/extras/tokenize or /tokenize); "
            "the workbench needs one to count tokens (vLLM, llama.cpp and llama-cpp-python have one)."
        )
    template = _chat_template(client) if route.kind == "llama.cpp" else None
    config = replace(config, model=model, context_window=window)
    return OpenAICompatBackend(config, route, template)


def _find_tokenizer(client: ServerClient, model: str) -> TokenizerRoute | None:
    for route in TOKENIZER_ROUTES:
        body = {"model": model, route.text_field: "Hello", **dict(route.extra)}
        try:
            tokens = client.post(route.tokenize_path, body, root=True).get("tokens")
        except (ConfigError, ModelError, PromptError):
            continue
        if isinstance(tokens, list) and tokens and all(isinstance(t, int) for t in tokens):
            return route
    return None


def _chat_template(client: ServerClient) -> str | None:
    """llama.cpp's own server publishes its chat template at /props."""
    try:
        template = client.get("/props", root=True).get("chat_template")
    except WorkbenchError:
        return None
    return template if isinstance(template, str) and template.strip() else None


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
        super().__init__(spec, config.context_window, chat_template)
        self.config = config
        self.client = ServerClient(config)
        self.route = route
        self.lock = ModelLock(slots=config.max_concurrency)
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
    def explicit_extras(self) -> bool:
        """llama-cpp-python's sampling defaults are not off, so every sampling field is sent."""
        return self.route.kind == "llama-cpp-python"

    # ---- tokens ----------------------------------------------------------------------------
    def _natural(self, text: str) -> list[int]:
        """The ids the server itself makes of ``text`` (with its BOS when the model adds one)."""
        body = {"model": self.model, self.route.text_field: text, **dict(self.route.extra)}
        tokens = self.client.post(self.route.tokenize_path, body, root=True).get("tokens")
        if not isinstance(tokens, list):
            raise self.client.malformed(self.route.tokenize_path, json.dumps(tokens))
        return [int(t) for t in tokens]

    def tokenize(self, text: str) -> list[int]:
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
        try:
            data = self.client.post(self.route.detokenize_path, {"model": self.model, "tokens": ids}, root=True)
        except ModelError:
            return "\ufffd"  # e.g. half of a multi-byte character, which the server cannot decode alone
        text = data.get(self.route.detok_field)
        if not isinstance(text, str):
            raise self.client.malformed(self.route.detokenize_path, json.dumps(data)[:60])
        return text

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
        sampling_fields(cfg, cfg.seed, self.explicit_extras)  # refuse unsupported settings before any request
        jobs = [(i, seed) for i in range(len(prompt_ids)) for seed in sample_seeds(cfg)]
        texts = [self._text_of(ids) for ids in prompt_ids]

        def run(job: tuple[int, int | None]) -> Generation:
            i, seed = job
            return self._complete(texts[i], len(prompt_ids[i]), cfg, seed)

        flat = run_bounded(run, jobs, self.config.max_concurrency)
        return [flat[i * cfg.n:(i + 1) * cfg.n] for i in range(len(prompt_ids))]

    def generate_many(
        self,
        prompts: Sequence[str],
        cfg: DecodingConfig,
        on_wait: Callable[[int], None] | None = None,
    ) -> list[list[Generation]]:
        """Same as :meth:`generate`: the prompts already go to the server ``max_concurrency`` at a time."""
        return self.generate(prompts, cfg, on_wait)

    def _complete(self, text: str, n_prompt: int, cfg: DecodingConfig, seed: int | None) -> Generation:
        timer = Timer()
        body = {"model": self.model, "prompt": text, **sampling_fields(cfg, seed, self.explicit_extras)}
        data = self.client.post("/completions", body)
        choice = self._first_choice(data, "/completions")
        usage = data.get("usage") or {}
        text_out = choice.get("text")
        if not isinstance(text_out, str):
            raise self.client.malformed("/completions", json.dumps(choice)[:60])
        n_out = usage.get("completion_tokens")
        if not isinstance(n_out, int):
            n_out = len(self._tokenize(text_out, add_bos=False)) if text_out else 0
        return Generation(
            text=text_out,
            prompt_tokens=n_prompt,
            completion_tokens=n_out,
            finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
            seconds=timer.seconds(),
            seed=seed if cfg.do_sample else None,
        )

    def _stream(self, prompt_ids: list[int], cfg: DecodingConfig) -> Iterator[tuple[str, Generation | None]]:
        body = {
            "model": self.model,
            "prompt": self._text_of(prompt_ids),
            "stream": True,
            **sampling_fields(cfg, cfg.seed, self.explicit_extras),
        }
        timer = Timer()
        pieces: list[str] = []
        finish = "stop"
        resp = self.client.open("/completions", body)
        try:
            for payload in iter_sse_data(self._lines(resp), self.config.base_url):
                try:
                    event = json.loads(payload)
                except ValueError:
                    raise self.client.malformed("/completions (stream)", payload) from None
                choice = self._first_choice(event, "/completions (stream)")
                piece = choice.get("text") or ""
                if piece:
                    pieces.append(piece)
                    yield piece, None
                if choice.get("finish_reason"):
                    finish = "length" if choice["finish_reason"] == "length" else "stop"
        finally:
            resp.close()
        text = "".join(pieces)
        n_out = len(self._tokenize(text, add_bos=False)) if text else 0
        yield "", Generation(text, len(prompt_ids), n_out, finish, timer.seconds(), cfg.seed if cfg.do_sample else None)

    def _lines(self, resp: http.client.HTTPResponse) -> Iterator[bytes]:
        """Lines of a streamed response; a timeout or a dropped connection is a ModelError."""
        while True:
            try:
                line = resp.readline()
            except (OSError, http.client.HTTPException) as err:
                raise self.client.network_error(err) from None
            if not line:
                return
            yield line

    def _first_choice(self, data: dict, path: str) -> dict:
        if isinstance(data.get("error"), dict):
            message = " ".join(str(data["error"].get("message", data["error"])).split())[:QUOTE_CHARS]
            raise ModelError(f"The server at {self.config.base_url} failed: {message}.")
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise self.client.malformed(path, json.dumps(data)[:60])
        return choices[0]

    def chat(self, messages: Sequence[dict], cfg: DecodingConfig | None = None) -> Generation:
        """One reply from ``/v1/chat/completions``: the server applies its own chat template."""
        cfg = cfg or DecodingConfig()
        if not messages or not all(isinstance(m, dict) and "role" in m and "content" in m for m in messages):
            raise PromptError("Chat needs a list of messages with 'role' and 'content'.")
        body = {"model": self.model, "messages": list(messages), **sampling_fields(cfg, cfg.seed, self.explicit_extras)}
        timer = Timer()
        with self.lock.hold():
            data = self.client.post("/chat/completions", body)
        choice = self._first_choice(data, "/chat/completions")
        content = (choice.get("message") or {}).get("content")
        if not isinstance(content, str):
            raise self.client.malformed("/chat/completions", json.dumps(choice)[:60])
        usage = data.get("usage") or {}
        return Generation(
            text=content,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
            seconds=timer.seconds(),
            seed=cfg.seed if cfg.do_sample else None,
        )

    # ---- probabilities -------------------------------------------------------------------------
    def _logits(self, ids: list[int]) -> np.ndarray:
        raise ConfigError(
            f"The server at {self.config.base_url} gives only the top log-probabilities, not full logits; "
            "use the next-token distribution (top-N) instead."
        )

    def next_token_distribution(self, prompt: str | Sequence[int], top: int = 20) -> list[TokenProb]:
        """The server's ``top`` most likely next tokens (``logit`` holds the log-probability)."""
        ids = self._ids_for(prompt)
        text = prompt if isinstance(prompt, str) else self._text_of(ids)
        body = {"model": self.model, "prompt": text, "logprobs": int(top),
                **sampling_fields(DecodingConfig(max_new_tokens=1), None, self.explicit_extras)}
        with self.lock.hold():
            logprobs = self._logprobs(self.client.post("/completions", body))
        tops = (logprobs.get("top_logprobs") or [None])[0]
        if not isinstance(tops, dict) or not tops:
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
                **sampling_fields(DecodingConfig(max_new_tokens=1), None, self.explicit_extras)}
        logprobs = self._logprobs(self.client.post("/completions", body))
        want = self.token_text(token)
        got = (logprobs.get("tokens") or [None])[0]
        values = logprobs.get("token_logprobs") or [None]
        if isinstance(got, str) and got.strip() == want.strip() and isinstance(values[0], (int, float)):
            return float(values[0])
        tops = (logprobs.get("top_logprobs") or [None])[0] or {}
        if want in tops:
            return float(tops[want])
        raise ConfigError(
            f"The server at {self.config.base_url} ignored logit_bias, so it cannot score continuations; "
            "label scoring needs a server that honours logit_bias and returns logprobs (vLLM, llama.cpp)."
        )

    def _logprobs(self, data: dict) -> dict:
        logprobs = self._first_choice(data, "/completions").get("logprobs")
        if not isinstance(logprobs, dict):
            raise self._no_logprobs()
        return logprobs

    def _no_logprobs(self) -> ConfigError:
        return ConfigError(
            f"The server at {self.config.base_url} does not return log-probabilities; the probability "
            "explorer and label scoring need one that does (vLLM; llama-cpp-python with logits_all)."
        )
