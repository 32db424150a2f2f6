"""Where an OpenAI-compatible server is and how to talk to it: the server reference and ServerConfig.

A *server reference* is ``BASE_URL#MODEL[#API_KEY_ENV][#OPTION=VALUE...]``: the
OpenAI API root, the model name (empty: the server's only model), the name of the
environment variable that holds the API key, and options ``tokenizer=`` (a local
tokenizer, or ``approximate``) and ``scoring=`` (``auto``, ``echo``, ``forced``).
"""

from __future__ import annotations

import math
import urllib.parse
from dataclasses import dataclass

from workbench import settings
from workbench.backends.registry import DEFAULT_CONTEXT_WINDOW
from workbench.errors import ConfigError, ModelError

#: The name of the backend kind for a model behind an OpenAI-compatible server (``--backend openai-compatible``).
SERVER_BACKEND = "openai-compatible"
#: Server families (ServerConfig.family); "auto" detects one when connecting.
FAMILIES = ("auto", "llama.cpp", "llama-cpp-python", "vllm", "openai")
#: How continuations are scored (ServerConfig.scoring): see workbench.backends.openai.scoring.Scorer.
SCORING = ("auto", "echo", "forced")
#: ServerConfig.tokenizer value for a clearly labelled estimate instead of real token counts.
APPROXIMATE = "approximate"
#: Options a server reference may carry after the model (``#name=value``).
REF_OPTIONS = ("tokenizer", "scoring")
#: Environment variables that set ServerConfig fields for the CLI and the app.
TIMEOUT_ENV, DEADLINE_ENV, FAMILY_ENV = "WORKBENCH_SERVER_TIMEOUT_S", "WORKBENCH_SERVER_DEADLINE_S", "WORKBENCH_SERVER_FAMILY"
TOKENIZER_ENV, SCORING_ENV = "WORKBENCH_SERVER_TOKENIZER", "WORKBENCH_SERVER_SCORING"

# ---- the deadline each request gets when WORKBENCH_SERVER_DEADLINE_S does not set one --------------------
#: A short request (``/models``, ``/props``, tokenizing): its reply is a few bytes, made at once.
SHORT_DEADLINE_S = 10.0
#: A completion's fixed part (connecting, waiting in the server's queue behind other users' requests) ...
COMPLETION_BASE_S = 60.0
#: ... plus this per token it may generate (``max_new_tokens``: a floor of 1 token/s) ...
PER_NEW_TOKEN_S = 1.0
#: ... plus this per prompt token (a floor of 20 prompt tokens/s: a large model on a few CPU cores) ...
PER_PROMPT_TOKEN_S = 0.05
#: ... and never more than this (the deadline of every request before the deadlines were fitted).
MAX_DEADLINE_S = 600.0


@dataclass(frozen=True)
class Limit:
    """The deadline one request gets unless the user set one (``ServerConfig.deadline_s``), and what it is for."""

    seconds: float
    what: str  # names the limit in the error line: "a short request", "a completion of up to 64 tokens"


def short_limit() -> Limit:
    """The deadline of a short request: ``/models``, ``/props``, tokenize, detokenize.

    >>> short_limit()
    Limit(seconds=10.0, what='a short request')
    """
    return Limit(SHORT_DEADLINE_S, "a short request")


def completion_limit(max_new_tokens: int, prompt_tokens: int = 0) -> Limit:
    """The deadline of a completion: a fixed part, plus time per token asked for and per prompt token, capped.

    >>> completion_limit(64, 200)
    Limit(seconds=134.0, what='a completion of up to 64 tokens after a prompt of 200')
    >>> completion_limit(4096).seconds
    600.0
    """
    seconds = COMPLETION_BASE_S + PER_NEW_TOKEN_S * max(max_new_tokens, 0) + PER_PROMPT_TOKEN_S * max(prompt_tokens, 0)
    what = f"a completion of up to {max_new_tokens} token{'' if max_new_tokens == 1 else 's'}"
    if prompt_tokens:
        what += f" after a prompt of {prompt_tokens}"
    return Limit(min(round(seconds, 1), MAX_DEADLINE_S), what)


@dataclass(frozen=True)
class ServerConfig:
    """Where the server is and how to talk to it."""

    base_url: str  # the OpenAI API root, usually ending in /v1
    model: str = ""  # model name the server serves; "" = the only one it serves
    api_key_env: str | None = None  # environment variable holding the API key; the key is never stored
    context_window: int = DEFAULT_CONTEXT_WINDOW  # tokens, when the server does not report its own
    timeout_s: float = 60.0  # per wait: connecting, and each wait for bytes while reading
    # per request, all of it: retries, the whole reply, a stream to its end; None = fitted to each request
    # (short_limit, completion_limit: the reply's own time, plus what it waited between retries)
    deadline_s: float | None = None
    family: str = "auto"  # one of FAMILIES; "auto" = detect when connecting
    max_concurrency: int = 8  # requests in flight per call (vLLM batches them); also idle connections kept
    max_retries: int = 4  # on 429/502/503/504 and dropped connections, then give up with a clear message
    backoff_s: float = 0.5  # first retry delay; doubles each retry (with jitter)
    max_backoff_s: float = 8.0  # cap on one retry delay (also on a server's Retry-After)
    max_retry_s: float = 30.0  # cap on all the waiting between retries of one request
    tokenizer: str = ""  # "" = the server's tokenizer endpoint; a local tokenizer (HF folder/id, .gguf); "approximate"
    scoring: str = "auto"  # one of SCORING: echo + logprobs (verified) where the family offers it, else forced

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", self.base_url.strip().rstrip("/"))
        object.__setattr__(self, "tokenizer", self.tokenizer.strip())
        scheme = urllib.parse.urlsplit(self.base_url).scheme
        if scheme not in ("http", "https") or "://" not in self.base_url:
            raise ConfigError(
                f"Server URL {self.base_url!r} must start with http:// or https://, e.g. http://127.0.0.1:8000/v1."
            )
        if self.context_window < 16:
            raise ConfigError(f"context_window must be at least 16 tokens (got {self.context_window}).")
        if not (0 < self.timeout_s < math.inf):
            raise ConfigError(f"The server timeout must be > 0 seconds (got {self.timeout_s}); set {TIMEOUT_ENV}.")
        if self.deadline_s is not None and not (0 < self.deadline_s < math.inf):
            raise ConfigError(f"The server deadline must be > 0 seconds (got {self.deadline_s}); set {DEADLINE_ENV}.")
        if self.family not in FAMILIES:
            raise ConfigError(f"Server family {self.family!r} is not one of {', '.join(FAMILIES)}; set {FAMILY_ENV}.")
        if self.scoring not in SCORING:
            raise ConfigError(f"Scoring {self.scoring!r} is not one of {', '.join(SCORING)}; set {SCORING_ENV} "
                              "or #scoring= in the server reference.")
        if self.max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be at least 1 (got {self.max_concurrency}).")
        if min(self.max_retries, self.backoff_s, self.max_backoff_s, self.max_retry_s) < 0 \
                or not math.isfinite(self.max_retry_s + self.max_backoff_s + self.backoff_s):
            raise ConfigError("max_retries, backoff_s, max_backoff_s and max_retry_s must be finite and >= 0.")

    @property
    def root_url(self) -> str:
        """The server root (tokenizer endpoints live there, outside /v1)."""
        return self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url

    @property
    def options(self) -> dict[str, str]:
        """The reference options that differ from their defaults."""
        return {k: v for k, v in (("tokenizer", self.tokenizer), ("scoring", self.scoring))
                if v != getattr(ServerConfig, k)}

    @property
    def ref(self) -> str:
        return format_ref(self.base_url, self.model, self.api_key_env, **self.options)

    def api_key(self) -> str | None:
        """The API key, read from the environment on every request."""
        if not self.api_key_env:
            return None
        key = settings.secret(self.api_key_env)
        if not key:
            raise ConfigError(
                f"Environment variable {self.api_key_env} (named for the API key) is not set; "
                "export it or drop '#" + self.api_key_env + "' from the server reference."
            )
        return key


def is_server_ref(model: str) -> bool:
    """True when ``model`` names a server (``http(s)://...``) rather than a local model."""
    return model.strip().lower().startswith(("http://", "https://"))


def _split_ref(ref: str) -> tuple[str, str, str | None, dict[str, str]]:
    ref = (ref or "").strip()
    if not is_server_ref(ref):
        raise ModelError(
            f"The openai-compatible backend needs a server reference like http://127.0.0.1:8000/v1#model-name, "
            f"not {ref!r}."
        )
    url, _, rest = ref.partition("#")
    model, *parts = rest.split("#")
    key_env, options = "", {}
    for part in (p.strip() for p in parts):
        name, eq, value = part.partition("=")
        if eq:
            if name.strip() not in REF_OPTIONS:
                raise ConfigError(f"Unknown option {name.strip()!r} in the server reference; "
                                  f"use {', '.join(o + '=' for o in REF_OPTIONS)}.")
            options[name.strip()] = value.strip()
        elif part and key_env:
            raise ConfigError(f"The server reference names two API key variables ({key_env}, {part}); "
                              "write BASE_URL#MODEL#VAR_NAME.")
        else:
            key_env = part
    if key_env and not key_env.replace("_", "").isalnum():
        raise ConfigError(f"{key_env!r} is not an environment variable name; write BASE_URL#MODEL#VAR_NAME.")
    return url.strip().rstrip("/"), model.strip(), key_env or None, options


def parse_ref(ref: str) -> tuple[str, str, str | None]:
    """``BASE_URL#MODEL[#API_KEY_ENV][#OPTION=VALUE...]`` -> (base_url, model, api_key_env); see :func:`ref_options`.

    >>> parse_ref("http://127.0.0.1:8000/v1#smollm2")
    ('http://127.0.0.1:8000/v1', 'smollm2', None)
    """
    return _split_ref(ref)[:3]


def ref_options(ref: str) -> dict[str, str]:
    """The ``#name=value`` options of a server reference.

    >>> ref_options("http://h:11434/v1#llama3#tokenizer=approximate")
    {'tokenizer': 'approximate'}
    """
    return _split_ref(ref)[3]


def format_ref(base_url: str, model: str = "", api_key_env: str | None = None, **options: str) -> str:
    """Inverse of :func:`parse_ref` and :func:`ref_options`."""
    ref = f"{base_url.strip().rstrip('/')}#{model.strip()}"
    if api_key_env and api_key_env.strip():
        ref += f"#{api_key_env.strip()}"
    return ref + "".join(f"#{k}={v}" for k, v in options.items() if v)


def _or(value, default):
    """``value`` unless the setting was left unset (None); 0 stays 0 (refused by ServerConfig in one line)."""
    return default if value is None else value


def config_from_ref(ref: str, context_window: int = DEFAULT_CONTEXT_WINDOW) -> ServerConfig:
    """The ServerConfig a reference names; the environment fills what it leaves out (timeouts, family, ...)."""
    base_url, model, key_env, options = _split_ref(ref)
    return ServerConfig(
        base_url, model, key_env, context_window=context_window,
        timeout_s=_or(settings.get(TIMEOUT_ENV), ServerConfig.timeout_s),
        deadline_s=_or(settings.get(DEADLINE_ENV), ServerConfig.deadline_s),
        family=settings.get(FAMILY_ENV) or ServerConfig.family,
        tokenizer=options.get("tokenizer") or settings.get(TOKENIZER_ENV) or ServerConfig.tokenizer,
        scoring=options.get("scoring") or settings.get(SCORING_ENV) or ServerConfig.scoring,
    )
