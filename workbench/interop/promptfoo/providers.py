"""promptfoo ``providers`` -> the models the workbench runs: a model reference (what ``--model`` takes) and a
:class:`~workbench.decoding.DecodingConfig` from the provider's ``config`` (its own names, as promptfoo's
src/providers read them).

- ``workbench:MODEL`` -- one of our registry ids or a local model file;
- ``openai:chat:NAME`` / ``openai:completion:NAME`` with ``config.apiBaseUrl`` (required: the workbench never
  calls the cloud) -> the OpenAI-compatible server ``apiBaseUrl#NAME``;
- ``llama`` / ``llama:NAME`` (llama.cpp's server; ``config.baseUrl``, default http://localhost:8080) and
  ``ollama:completion:NAME`` / ``ollama:chat:NAME`` (default http://localhost:11434) -> their ``/v1`` endpoint.

Decoding keys: ``temperature`` (above 0 samples; 0 or absent is greedy), the budget (``max_tokens``; llama's
``n_predict``, ollama's ``num_predict``), ``top_p``, ``top_k`` (not OpenAI's), ``stop``, ``seed``; llama's and
ollama's ``repeat_penalty``, ollama's ``min_p`` and ``typical_p``.

    >>> p = read_provider("openai:completion:gemma", {"apiBaseUrl": "http://127.0.0.1:8080/v1", "max_tokens": 8})
    >>> p.ref, p.label, p.decoding.max_new_tokens, p.decoding.greedy
    ('http://127.0.0.1:8080/v1#gemma', 'openai:completion:gemma', 8, True)
    >>> read_provider("openai:chat:gpt-4o", {}).ref
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: provider openai:chat:gpt-4o has no config.apiBaseUrl; the workbench never calls the cloud: point it at an OpenAI-compatible server (e.g. `workbench serve`, llama-server) with config.apiBaseUrl: http://127.0.0.1:8080/v1.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.backends.registry import EMBEDDED
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError
from workbench.interop.paths import inside
from workbench.interop.promptfoo.schema import ProviderObject, validated

#: Generation budget when a provider's config names none: promptfoo's own defaults where it has one (OpenAI
#: 1024 tokens, llama.cpp's ``n_predict`` 512); ours for embedded models and ollama.
DEFAULT_BUDGET = {"workbench": 256, "openai": 1024, "llama": 512, "ollama": 256}
#: Where llama.cpp's server and ollama listen when the config names no base URL (promptfoo's defaults).
DEFAULT_URLS = {"llama": "http://localhost:8080", "ollama": "http://localhost:11434"}
#: Each provider's config keys: the decoding settings under its own names, and its URL key.
BUDGET_KEY = {"workbench": "max_tokens", "openai": "max_tokens", "llama": "n_predict", "ollama": "num_predict"}
URL_KEY = {"openai": "apiBaseUrl", "llama": "baseUrl", "ollama": "baseUrl"}
SAMPLING_KEYS = {"workbench": ("temperature", "top_p", "top_k", "stop", "seed"),
                 "openai": ("temperature", "top_p", "stop", "seed"),
                 "llama": ("temperature", "top_p", "top_k", "stop", "seed", "repeat_penalty"),
                 "ollama": ("temperature", "top_p", "top_k", "stop", "seed", "repeat_penalty", "min_p",
                            "typical_p")}
#: An OpenAI provider's key settings: a local server needs none, but promptfoo itself asks for a key even there,
#: so configs carry them. ``apiKeyEnvar`` names the variable the workbench sends the key from (the server
#: reference's ``#API_KEY_ENV``); ``apiKey`` (a literal key) and ``apiKeyRequired`` are read and noted.
KEY_KEYS = ("apiKey", "apiKeyRequired", "apiKeyEnvar")
#: The stop strings promptfoo's ``openai:completion`` provider sends when the config gives none (its
#: ``OPENAI_STOP`` default); its chat, llama and ollama providers send none.
COMPLETION_STOP = ("<|im_end|>", "<|endoftext|>")
#: Provider config keys whose DecodingConfig field has another name.
RENAMED = {"repeat_penalty": "repetition_penalty"}
#: The provider ids the workbench runs, as promptfoo writes them.
#: The keys of a provider entry the workbench reads.
KEYS = frozenset({"id", "label", "config", "prompts"})
SUPPORTED_IDS = ("workbench:MODEL", "openai:chat:NAME", "openai:completion:NAME", "llama", "llama:NAME",
                 "ollama:chat:NAME", "ollama:completion:NAME")


@dataclass(frozen=True)
class Provider:
    """One provider of a config, as the workbench runs it."""

    label: str  # the name shown (promptfoo's ``label``, else a short form of the id)
    ref: str  # the model reference (a registry id, a local path or ``BASE_URL#MODEL``)
    decoding: DecodingConfig  # the config's decoding settings
    key: str = ""  # promptfoo's name for it in its provider -> prompts map: its label as written, else its id
    prompts: tuple[str, ...] | None = None  # the prompt labels it lists (``prompts``); None: every prompt
    ignored: bool = False  # it lists prompts promptfoo never looks up ({ID: {label, prompts}}: keyed by id)
    chat: bool | None = None  # True: a chat endpoint (messages); False: a completion one (raw text, no chat
    # template); None: as the model (workbench:MODEL)
    notes: tuple[str, ...] = ()  # its config keys read and not used (an API key), one line each


def endpoint_chat(provider_id: str) -> bool | None:
    """Whether a provider id names a chat endpoint (True), a completion one (False: llama.cpp's /completion
    too), or neither (None: an embedded model, rendered as the model is).

    >>> endpoint_chat("openai:chat:m"), endpoint_chat("ollama:completion:m"), endpoint_chat("llama")
    (True, False, False)
    """
    head, _, rest = provider_id.partition(":")
    if head in ("openai", "ollama"):
        return rest.startswith("chat:")
    return False if head == "llama" else None


def _kind(provider_id: str) -> tuple[str, str]:
    """(provider family, model name) of a promptfoo provider id, or one line naming it."""
    head, _, rest = provider_id.partition(":")
    if head == "workbench" and rest.strip():
        return "workbench", rest.strip()
    if head == "openai" and rest.startswith(("chat:", "completion:")) and rest.partition(":")[2].strip():
        return "openai", rest.partition(":")[2].strip()
    if head == "llama":
        return "llama", rest.strip() or "llama"
    if head == "ollama" and rest.startswith(("chat:", "completion:")) and rest.partition(":")[2].strip():
        return "ollama", rest.partition(":")[2].strip()
    hint = " (write openai:chat:NAME or openai:completion:NAME)" if head == "openai" else ""
    raise ConfigError(f"provider {provider_id[:80]!r} is not supported by the workbench{hint}; use one of "
                      f"{', '.join(SUPPORTED_IDS)}.")


def _number(provider_id: str, key: str, value: Any, *, whole: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (whole and value != int(value)):
        raise ConfigError(f"provider {provider_id}: config.{key} must be {'a whole number' if whole else 'a number'}, "
                          f"not {str(value)[:40]!r}.")
    return value


def _decoding(provider_id: str, family: str, config: Mapping[str, Any]) -> DecodingConfig:
    """The DecodingConfig of a provider's config keys (its own names); one line for a wrong value."""
    fields: dict[str, Any] = {"max_new_tokens": DEFAULT_BUDGET[family]}
    budget = config.get(BUDGET_KEY[family])
    if budget is not None:
        fields["max_new_tokens"] = int(_number(provider_id, BUDGET_KEY[family], budget, whole=True))
    temperature = config.get("temperature")
    if temperature is not None and _number(provider_id, "temperature", temperature) > 0:
        fields.update(do_sample=True, temperature=float(temperature))
    for key in ("top_p", "min_p", "typical_p", "repeat_penalty"):
        if config.get(key) is not None:
            fields[RENAMED.get(key, key)] = float(_number(provider_id, key, config[key]))
    if config.get("top_k") is not None:
        fields["top_k"] = int(_number(provider_id, "top_k", config["top_k"], whole=True))
    if config.get("seed") is not None:
        fields["seed"] = int(_number(provider_id, "seed", config["seed"], whole=True))
    stop = config.get("stop")
    if stop is None and provider_id.startswith("openai:completion:"):
        fields["stop"] = COMPLETION_STOP  # what promptfoo's completion provider sends when none is given
    if stop is not None:
        stops = [stop] if isinstance(stop, str) else stop
        if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
            raise ConfigError(f"provider {provider_id}: config.stop must be text or a list of text.")
        fields["stop"] = tuple(stops)
    try:
        return DecodingConfig(**fields)
    except ConfigError as err:
        raise ConfigError(f"provider {provider_id}: {err}") from None


def _url(provider_id: str, family: str, config: Mapping[str, Any]) -> str:
    """The server's ``/v1`` base URL of an openai / llama / ollama provider."""
    key = URL_KEY[family]
    url = config.get(key)
    if url is None and family == "openai":
        raise ConfigError(f"provider {provider_id} has no config.apiBaseUrl; the workbench never calls the cloud: "
                          "point it at an OpenAI-compatible server (e.g. `workbench serve`, llama-server) with "
                          "config.apiBaseUrl: http://127.0.0.1:8080/v1.")
    url = DEFAULT_URLS[family] if url is None else url
    if not isinstance(url, str) or not url.strip().lower().startswith(("http://", "https://")) or "#" in url:
        raise ConfigError(f"provider {provider_id}: config.{key} must be an http(s):// URL, not {str(url)[:60]!r}.")
    url = url.strip().rstrip("/")
    return url if family == "openai" or url.endswith("/v1") else url + "/v1"


def read_provider(provider_id: Any, config: Any = None, label: Any = None, folder: Path | None = None,
                  prompts: Any = None) -> Provider:
    """The workbench's :class:`Provider` for a promptfoo provider id and its ``config``; an unknown id, an
    unknown config key or a wrong value is one ConfigError line naming it."""
    if not isinstance(provider_id, str) or not provider_id.strip():
        raise ConfigError(f"a provider needs an id such as workbench:gemma-3-270m, not {str(provider_id)[:60]!r}.")
    provider_id = provider_id.strip()
    if label is not None and (not isinstance(label, str) or not label.strip()):
        raise ConfigError(f"provider {provider_id}: label must be text.")
    config = {} if config is None else config
    if not isinstance(config, Mapping):
        raise ConfigError(f"provider {provider_id}: config must be a mapping of settings.")
    family, name = _kind(provider_id)
    known = {BUDGET_KEY[family], *SAMPLING_KEYS[family], *((URL_KEY[family],) if family in URL_KEY else ()),
             *(KEY_KEYS if family == "openai" else ())}
    unknown = sorted(set(map(str, config)) - known)
    if unknown:
        hint = f"; this provider's budget is {BUDGET_KEY[family]}" if unknown[0] in BUDGET_KEY.values() else ""
        raise ConfigError(f"provider {provider_id}: config key {unknown[0]!r} is not supported by the workbench"
                          f"{hint}; remove it (supported here: {', '.join(sorted(known))}).")
    decoding = _decoding(provider_id, family, config)
    if family == "workbench":
        ref = model_ref(name, folder, provider_id)
    else:
        ref = f"{_url(provider_id, family, config)}#{name}" + _key_env(provider_id, config)
    notes = tuple(f"provider {provider_id}: config.{k} is not used (the workbench sends a key only from the "
                  "variable apiKeyEnvar names)" for k in ("apiKey", "apiKeyRequired") if k in config)
    short = name if family == "workbench" else provider_id
    if prompts is not None and (not isinstance(prompts, list) or not all(isinstance(p, str) for p in prompts)):
        raise ConfigError(f"provider {provider_id}: prompts must be a list of prompt labels.")
    return Provider(label=label.strip() if label else short, ref=ref, decoding=decoding, key=label or provider_id,
                    prompts=None if prompts is None else tuple(prompts), chat=endpoint_chat(provider_id),
                    notes=notes)


def _key_env(provider_id: str, config: Mapping[str, Any]) -> str:
    """``#VARIABLE`` for a server reference when ``apiKeyEnvar`` names the variable holding the key."""
    var = config.get("apiKeyEnvar")
    if var is None:
        return ""
    if not isinstance(var, str) or not var.replace("_", "").isalnum() or var[0].isdigit():
        raise ConfigError(f"provider {provider_id}: config.apiKeyEnvar must be an environment variable's name "
                          "such as OPENAI_API_KEY.")
    return f"#{var}"


def model_ref(name: str, folder: Path | None, provider_id: str) -> str:
    """The model a ``workbench:NAME`` provider runs: a registry id (or a name that is no path) as it is; a
    path-like name (a folder part, ``.``/``~``, absolute, ``.gguf``, or a file beside the config) resolves inside
    the config's folder, else one ConfigError line.

    >>> model_ref("gemma-3-270m", Path("/cfg"), "workbench:gemma-3-270m")
    'gemma-3-270m'
    >>> model_ref("../m.gguf", Path("/cfg"), "workbench:../m.gguf")
    Traceback (most recent call last):
    workbench.errors.ConfigError: provider workbench:../m.gguf ../m.gguf is outside the config's folder /cfg; keep the files a config names in its folder.
    """
    if folder is None or name in EMBEDDED:
        return name
    path_like = ("/" in name or "\\" in name or name.startswith((".", "~")) or Path(name).is_absolute()
                 or name.lower().endswith(".gguf") or (folder / name).exists())
    return str(inside(name, folder, f"provider {provider_id}")) if path_like else name


def read_providers(value: Any, folder: Path | None = None) -> tuple[Provider, ...]:
    """Every provider of ``providers``: an id, a list of ids / ``{id, label, config}`` objects / ``{ID: {config}}``
    maps, or one such map; labels made unique.

    >>> [p.label for p in read_providers(["workbench:gemma-3-270m", {"workbench:gemma-3-270m": {"config": {}}}])]
    ['gemma-3-270m', 'gemma-3-270m (2)']
    """
    entries = value if isinstance(value, list) else [value]
    out: list[Provider] = []
    for entry in entries:
        if isinstance(entry, str):
            out.append(read_provider(entry, folder=folder))
        elif isinstance(entry, Mapping) and "id" in entry:
            extra = sorted(set(map(str, entry)) - KEYS)
            if extra:
                raise ConfigError(f"provider {str(entry['id'])[:60]}: key {extra[0]!r} is not supported by the "
                                  f"workbench; remove it (supported: {', '.join(sorted(KEYS))}).")
            obj = validated(ProviderObject, entry, f"provider {str(entry['id'])[:60]}")
            out.append(read_provider(obj.id, obj.config, obj.label, folder, obj.prompts))
        elif isinstance(entry, Mapping) and len(entry) == 1:
            (provider_id, options), = entry.items()
            options = {} if options is None else options
            if not isinstance(options, Mapping):
                raise ConfigError(f"provider {str(provider_id)[:60]}: its settings must be a mapping (label, config).")
            extra = sorted(set(map(str, options)) - KEYS)
            if extra:
                raise ConfigError(f"provider {str(provider_id)[:60]}: key {extra[0]!r} is not supported by the "
                                  f"workbench; remove it (supported: {', '.join(sorted(KEYS))}).")
            obj = validated(ProviderObject, {"id": provider_id, **options}, f"provider {str(provider_id)[:60]}")
            # promptfoo keys a {ID: {...}} entry's prompts by its id alone (src/prompts readProviderPromptMap)
            entry_ = read_provider(obj.id, obj.config, obj.label, folder, obj.prompts)
            out.append(entry_ if not obj.label else dataclasses.replace(entry_, key=obj.label, prompts=None,
                                                                      ignored=entry_.prompts is not None))
        else:
            raise ConfigError("providers: each entry must be a provider id, {id, label, config} or {ID: {config}}.")
    seen: dict[str, int] = {}
    unique = []
    for p in out:
        seen[p.label] = seen.get(p.label, 0) + 1
        label = p.label if seen[p.label] == 1 else f"{p.label} ({seen[p.label]})"
        unique.append(dataclasses.replace(p, label=label))
    return tuple(unique)
