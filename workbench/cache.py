"""Response cache: the same request to the same model is answered from the store instead of the model.

A request is (model identity, backend, rendered prompt, decoding config, seed) for a generation,
or (model identity, backend, prompt, continuations) for label scores. Its key is the sha256 of
a canonical JSON of those fields (:func:`cache_key`); the value is the backend's frozen
answer (:class:`~workbench.backends.base.Generation` or :class:`~workbench.backends.base.Scored`
records) as JSON in the store's ``response_cache`` table, so it survives restarts.

* Model identity is the model file's sha256 (a folder: of every file in it), computed once per
  (path, size, modification time) and remembered in the store; a server is its base URL and
  model name (a server that swaps the weights behind the same name needs ``cache=False``).
* Greedy decoding keys without a seed (the seed changes nothing); sampling keys with it, and
  sampling without a seed is never cached (every call is meant to be a fresh draw).
* Only answers that came back are stored: a call that raises (cancelled, failed) stores nothing.
* :class:`ModelCalls` sits under a :class:`CachedBackend` and notes the prompts that went past the cache to
  the model, so an evaluation marks an item answered wholly from the cache as ``cached``.
* The cache holds at most :data:`DEFAULT_MAX_ENTRIES` answers (``$WORKBENCH_CACHE_MAX_ENTRIES``);
  over that, the least recently used are evicted (see :meth:`workbench.store.Store.cache_put`).

    >>> cache_key("score", "sha256:ab", "llama.cpp", "Label:", continuations=[" positive"])[:12]
    '58de6ab76cd7'
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import settings
from workbench.backends.base import Generation, Scored
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError

if TYPE_CHECKING:
    from workbench.backends import Backend
    from workbench.store import Store

#: Bump when a key's fields or a value's shape change: older entries then never match.
CACHE_FORMAT = 1
#: Environment variable that sets another bound (declared in :mod:`workbench.settings`).
MAX_ENTRIES_ENV = "WORKBENCH_CACHE_MAX_ENTRIES"
#: Answers the cache keeps before it evicts the least recently used.
DEFAULT_MAX_ENTRIES: int = settings.SETTINGS[MAX_ENTRIES_ENV].default
#: Bytes read at a time when hashing a model file.
_CHUNK = 1 << 20

# (resolved path, size, mtime_ns) -> sha256, for this process: tests and pages open many stores.
_file_hashes: dict[tuple[str, int, int], str] = {}
_file_hashes_lock = threading.Lock()


# --------------------------------------------------------------------------- keys (pure)

def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no spaces: equal requests give equal text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def request_config(cfg: DecodingConfig) -> dict[str, Any] | None:
    """The decoding settings a key holds: greedy without its seed; None for sampling without a seed
    (not cacheable)."""
    if cfg.do_sample and cfg.seed is None:
        return None
    d = cfg.to_dict()
    if cfg.greedy:
        d["seed"] = None
    return d


def cache_key(kind: str, model: str, backend: str, prompt: str, *, cfg: dict[str, Any] | None = None,
              continuations: Sequence[str] | None = None, native_order: Sequence[str] = (),
              context_window: int | None = None) -> str:
    """sha256 (hex) of one request: ``kind`` "generate" (with ``cfg``, see :func:`request_config`) or "score"
    (with ``continuations``). ``native_order`` is the backend's own sampler order, which a config with an
    empty ``sampler_order`` samples in; ``context_window`` keeps a prompt that no longer fits an error."""
    if kind not in ("generate", "score"):
        raise ValueError(f"unknown request kind {kind!r}")
    doc = {"format": CACHE_FORMAT, "kind": kind, "model": model, "backend": backend, "prompt": prompt,
           "cfg": cfg, "continuations": None if continuations is None else list(continuations),
           "native_order": list(native_order), "context_window": context_window}
    return hashlib.sha256(canonical_json(doc).encode("utf-8")).hexdigest()


def max_entries_from_env() -> int:
    """``$WORKBENCH_CACHE_MAX_ENTRIES`` or :data:`DEFAULT_MAX_ENTRIES`; ConfigError for a bad value
    ("WORKBENCH_CACHE_MAX_ENTRIES must be a whole number of at least 1, not '0'.")."""
    return settings.get(MAX_ENTRIES_ENV)


def describe(summary_cache: dict[str, int] | None) -> str:
    """The line the CLI and the Evaluate page show for a run summary's "cache" entry.

    >>> describe({"hits": 400, "misses": 200}), describe({"hits": 1, "misses": 0}), describe(None)
    ('cache: 400 hits, 200 misses', 'cache: 1 hit, 0 misses', 'cache: off')
    """
    if not summary_cache:
        return "cache: off"
    hits, misses = summary_cache.get("hits", 0), summary_cache.get("misses", 0)
    return f"cache: {hits} hit{'' if hits == 1 else 's'}, {misses} miss{'' if misses == 1 else 'es'}"


# --------------------------------------------------------------------------- model identity

def file_sha256(path: str | os.PathLike, store: Store | None = None) -> str:
    """The sha256 (hex) of a file, computed once per (path, size, modification time): remembered for this
    process and, with ``store``, across restarts."""
    real = os.path.realpath(path)
    st = os.stat(real)
    memo = (real, st.st_size, st.st_mtime_ns)
    with _file_hashes_lock:
        known = _file_hashes.get(memo)
    if known is None and store is not None:
        known = store.file_hash(*memo)
    if known is None:
        h = hashlib.sha256()
        with open(real, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
        known = h.hexdigest()
    if store is not None:
        store.remember_file_hash(*memo, known)
    with _file_hashes_lock:
        _file_hashes[memo] = known
    return known


def model_identity(backend: Backend, store: Store | None = None) -> str:
    """What the cache knows a model by: ``sha256:<hex>`` of its file or folder, ``server:<url>#<model>``
    for a server, else ``id:<id>@<path>`` (a model with no file, e.g. a test double)."""
    from workbench.backends.kinds import is_server

    base_url = getattr(getattr(backend, "config", None), "base_url", None)  # a plugin's config may have none
    if base_url and is_server(base_url, backend.name):
        return f"server:{base_url}#{backend.config.model}"
    if not backend.spec.path:  # no file at all (a test double): Path("") would be the current folder
        return f"id:{backend.spec.id}@"
    path = Path(backend.spec.path)
    if path.is_file():
        return "sha256:" + file_sha256(path, store)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not any(
            part.startswith(".") for part in p.relative_to(path).parts))
        listing = [[p.relative_to(path).as_posix(), file_sha256(p, store)] for p in files]
        return "sha256:" + hashlib.sha256(canonical_json(listing).encode("utf-8")).hexdigest()
    return f"id:{backend.spec.id}@{backend.spec.path}"


# --------------------------------------------------------------------------- the cache

@dataclass(frozen=True)
class CacheStats:
    """How many model calls a cache answered and how many went to the model."""

    hits: int = 0  # answered from the cache
    misses: int = 0  # sent to the model (including calls that cannot be cached)

    def to_dict(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses}


class ResponseCache:
    """Backend answers in a store, by request key; values are lists of Generation / Scored records."""

    def __init__(self, store: Store, max_entries: int | None = None):
        self.store = store
        self.max_entries = max_entries_from_env() if max_entries is None else max_entries
        if self.max_entries < 1:
            raise ConfigError(f"The response cache must hold at least 1 entry, not {self.max_entries}.")

    def get(self, key: str, record: type) -> list | None:
        """The stored records under ``key`` as ``record`` instances, or None (a malformed entry is a miss)."""
        value = self.store.cache_get(key)
        if not isinstance(value, list):
            return None
        try:
            return [record(**d) for d in value]
        except TypeError:
            return None

    def put(self, key: str, kind: str, records: Sequence[Any]) -> None:
        """Store frozen dataclass records under ``key``."""
        self.store.cache_put(key, kind, [dataclasses.asdict(r) for r in records], self.max_entries)


class CachedBackend:
    """A backend whose ``generate`` and ``score_details`` answer repeated requests from a :class:`ResponseCache`.

    Everything else (tokenising, chat templates, streaming, ``spec``, ``name``) is the wrapped backend's.
    Counts hits and misses; not meant to be shared between threads (one per evaluation run).
    """

    def __init__(self, backend: Backend, cache: ResponseCache):
        self.inner = backend
        self.cache = cache
        self._model: str | None = None
        self._hits = 0
        self._misses = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def stats(self) -> CacheStats:
        return CacheStats(self._hits, self._misses)

    def model_id(self) -> str:
        """The model's identity (hashed on first use)."""
        if self._model is None:
            self._model = model_identity(self.inner, self.cache.store)
        return self._model

    def _key(self, kind: str, prompt: str, **fields: Any) -> str:
        return cache_key(kind, self.model_id(), self.inner.name, prompt, native_order=self.inner.sampler_order,
                         context_window=self.inner.context_window, **fields)

    def generate(self, prompts: Sequence[str], cfg: DecodingConfig,
                 on_wait: Callable[[int], None] | None = None) -> list[list[Generation]]:
        """As :meth:`Backend.generate`; the prompts the cache lacks go to the model in one call."""
        if isinstance(prompts, str):
            prompts = [prompts]
        settings = request_config(cfg) if all(isinstance(p, str) for p in prompts) else None
        if settings is None:
            self._misses += len(prompts)
            return self.inner.generate(prompts, cfg, on_wait)
        keys = [self._key("generate", p, cfg=settings) for p in prompts]
        found: list[list[Generation] | None] = [self.cache.get(k, Generation) for k in keys]
        # A call that decodes one sequence at a time promises the exact one-at-a-time text: an answer
        # stored from a batch (whose text may differ a little, see llamacpp_batch) is not that.
        alone = getattr(self.inner, "batch_size", 1) <= 1 or len(prompts) * cfg.n <= 1
        if alone:
            found = [f if f is None or all(g.batch <= 1 for g in f) else None for f in found]
        missing = [i for i, f in enumerate(found) if f is None]
        if missing:
            fresh = self.inner.generate([prompts[i] for i in missing], cfg, on_wait)
            for i, gens in zip(missing, fresh, strict=True):
                if not any(g.failed for g in gens):  # a failed sequence is tried again next time
                    self.cache.put(keys[i], "generate", gens)
                found[i] = gens
        self._hits += len(prompts) - len(missing)
        self._misses += len(missing)
        return [f for f in found if f is not None]

    def complete(self, prompt: str, cfg: DecodingConfig | None = None) -> Generation:
        """As :meth:`Backend.complete`, through the cache."""
        return self.generate([prompt], cfg or DecodingConfig())[0][0]

    def score_details(self, prompt: str, continuations: Sequence[str]) -> list[Scored]:
        """As :meth:`Backend.score_details`, through the cache."""
        if not isinstance(prompt, str) or not continuations or not all(isinstance(c, str) for c in continuations):
            self._misses += 1
            return self.inner.score_details(prompt, continuations)  # raises its own one-line error
        key = self._key("score", prompt, continuations=list(continuations))
        found = self.cache.get(key, Scored)
        if found is not None and len(found) == len(continuations):
            self._hits += 1
            return found
        scored = self.inner.score_details(prompt, continuations)
        self.cache.put(key, "score", scored)
        self._misses += 1
        return scored

    def score(self, prompt: str, continuations: Sequence[str]) -> list[float]:
        """As :meth:`Backend.score`, through the cache."""
        return [s.logprob for s in self.score_details(prompt, continuations)]


class ModelCalls:
    """The backend under the response cache: counts what reaches the model, so an item answered wholly from the
    cache is marked ``cached`` and throughput counts only the model's own work. Everything else is the backend's.

    An evaluation wraps the model as ``CachedBackend(ModelCalls(backend), cache)``: a prompt in :attr:`sent`
    went past the cache to the model.
    """

    def __init__(self, backend: Backend):
        self.inner = backend
        self.sent: list[Any] = []  # the prompts that went to the model since the runner last cleared it

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def generate(self, prompts, cfg, on_wait=None):
        self.sent.extend([prompts] if isinstance(prompts, str) else list(prompts))
        return self.inner.generate(prompts, cfg, on_wait)

    def score_details(self, prompt, continuations):
        self.sent.append(prompt)
        return self.inner.score_details(prompt, continuations)

    def score(self, prompt, continuations):
        return [s.logprob for s in self.score_details(prompt, continuations)]

    def complete(self, prompt, cfg=None):
        return self.generate([prompt], cfg or DecodingConfig())[0][0]
