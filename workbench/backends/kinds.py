"""Backends by name: every kind of backend is one registered object, built in or added by a plugin.

A :class:`BackendKind` owns its name (what ``--backend`` takes and a run records), one line describing it,
which model references it claims (a server URL), whether it runs the local models the model registry
resolves, and its factory. The built-in kinds register at the end of this module. Another package adds
one without editing ours, in one file with one registration line::

    @register_backend("echo", description="repeats the prompt", recognises=lambda m: m.startswith("echo:"))
    class EchoBackend(Backend):
        @classmethod
        def load(cls, model: str, context_window: int) -> EchoBackend: ...

and, installed, an entry point in the ``workbench.backends`` group naming that module (or a
:class:`BackendKind`); entry points are loaded once, the first time the kinds are listed or a model loads::

    [project.entry-points."workbench.backends"]
    echo = "my_package.echo"

>>> "llama.cpp" in BACKENDS and "auto" in BACKENDS
True
>>> backend_kind("openai-compatible").recognises("http://127.0.0.1:8080/v1#m")
True
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from workbench.backends.openai.config import SERVER_BACKEND, is_server_ref
from workbench.backends.registry import ModelSpec, resolve_model
from workbench.errors import ModelError

if TYPE_CHECKING:
    from workbench.backends.base import Backend

#: The entry-point group a third-party package registers its backends in.
ENTRY_POINT_GROUP = "workbench.backends"
#: The name that lets the model pick its backend (:func:`kind_for`).
AUTO = "auto"

log = logging.getLogger(__name__)


def _never(model: str) -> bool:
    return False


def _any_model(spec: ModelSpec) -> None:
    return None


@dataclass(frozen=True)
class BackendKind:
    """One kind of backend: how it is named, what it opens, and how it is built."""

    name: str  # what --backend takes, the pages offer and a run records ("llama.cpp")
    description: str  # one line for `workbench models` and the pages
    load: Callable[[str, int], Backend]  # (model reference, context window in tokens) -> a loaded backend
    recognises: Callable[[str], bool] = _never  # True: a reference this kind opens whatever backend is asked
    local: bool = False  # True: it runs the local models the model registry resolves (auto may pick it)
    check: Callable[[ModelSpec], None] = _any_model  # raises ModelError for a local model it cannot run


_KINDS: dict[str, BackendKind] = {}
_plugins_lock = threading.RLock()  # re-entrant: a plugin's module may list the backends while it loads
_plugins_loaded = False


def register(kind: BackendKind) -> BackendKind:
    """Add a kind of backend (a ValueError when another kind already has its name)."""
    if kind.name == AUTO or not kind.name.strip():
        raise ValueError(f"{kind.name!r} cannot name a backend")
    known = _KINDS.get(kind.name)
    if known is not None and known != kind:
        raise ValueError(f"A backend named {kind.name!r} is already registered")
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Drop a kind (tests that register one of their own)."""
    _KINDS.pop(name, None)


def register_backend(name: str, *, description: str = "", recognises: Callable[[str], bool] = _never,
                     local: bool = False, check: Callable[[ModelSpec], None] = _any_model,
                     load: Callable[[str, int], Backend] | None = None) -> Callable[[type], type]:
    """Class decorator: register a :class:`~workbench.backends.base.Backend` subclass as the kind ``name``.

    The factory is ``load`` when given, else the class's ``load(model, context_window)`` classmethod;
    the description defaults to the first line of the class's docstring; a class that leaves ``name`` at
    Backend's default is given ``name``.
    """
    def decorate(cls: type) -> type:
        factory = load or getattr(cls, "load", None)
        if factory is None:
            raise TypeError(f"{cls.__name__} needs a load(model, context_window) classmethod or load=")
        said = description or (cls.__doc__ or name).strip().splitlines()[0]
        register(BackendKind(name, said, factory, recognises, local, check))
        if getattr(cls, "name", "backend") == "backend":  # Backend's own default: the kind's name is shown instead
            cls.name = name
        return cls
    return decorate


def _load_plugins() -> None:
    """Import every ``workbench.backends`` entry point once; a broken plugin is logged and skipped."""
    global _plugins_loaded
    with _plugins_lock:
        if _plugins_loaded:
            return
        _plugins_loaded = True
        for point in entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded: Any = point.load()
                if isinstance(loaded, BackendKind):
                    register(loaded)
            except Exception as err:
                log.warning("The backend plugin %s (%s) could not be loaded: %s", point.name, point.value, err)


def backend_kinds() -> dict[str, BackendKind]:
    """Every registered kind by name, built-in ones first, plugins' after (loaded on the first call)."""
    _load_plugins()
    return dict(_KINDS)


def backend_kind(name: str) -> BackendKind:
    """The kind called ``name``; a ModelError listing the known ones otherwise."""
    kinds = backend_kinds()
    if name not in kinds:
        raise ModelError(f"Unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}.")
    return kinds[name]


class BackendNames(Sequence):
    """``"auto"`` and every registered kind's name, read when used (a plugin's kind is listed once registered).

    Argument parsers and pickers take it as their choices.
    """

    def _names(self) -> tuple[str, ...]:
        return (AUTO, *backend_kinds())

    def __getitem__(self, index):  # type: ignore[override]
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __repr__(self) -> str:
        return repr(self._names())


#: Backend names a user can ask for ("auto" first).
BACKENDS = BackendNames()


def cuda_available() -> bool:
    """True when a CUDA GPU can be used; avoids importing torch on machines with none."""
    if not (shutil.which("nvidia-smi") or os.path.exists("/dev/nvidia0")):
        return False
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def choose_backend(spec: ModelSpec, requested: str = AUTO) -> str:
    """Which backend runs the local model ``spec``: transformers on a GPU, llama.cpp for GGUF on the CPU."""
    if requested not in BACKENDS:
        raise ModelError(f"Unknown backend {requested!r}; choose one of: {', '.join(BACKENDS)}.")
    if requested != AUTO:
        backend_kind(requested).check(spec)
        return requested
    if not spec.is_gguf or cuda_available():
        return "transformers"
    return "llama.cpp"


def kind_for(model: str, requested: str = AUTO) -> BackendKind:
    """The kind that opens ``model``: one that recognises the reference (a server URL), whatever is asked;
    else the one asked for when it is not a local-model kind; else the local model's choice."""
    kinds = backend_kinds()
    claimed = next((k for k in kinds.values() if k.recognises(model)), None)
    if claimed is not None:
        return claimed
    if requested in kinds and not kinds[requested].local:
        return kinds[requested]
    return kinds[choose_backend(resolve_model(model), requested)]


def is_server(model: str, requested: str = AUTO) -> bool:
    """True when ``model`` (with ``requested``) goes to an OpenAI-compatible server, not a local model."""
    return requested == SERVER_BACKEND or is_server_ref(model)


# ---- the built-in kinds ----------------------------------------------------------------------------------
def _needs_gguf(spec: ModelSpec) -> None:
    if not spec.is_gguf:
        raise ModelError(
            f"llama.cpp needs a GGUF file, and {spec.id} is a Hugging Face folder; choose the transformers backend."
        )


def _load_llamacpp(model: str, context_window: int) -> Backend:
    from workbench.backends.llamacpp import load_llamacpp
    from workbench.logs import quiet_libraries

    quiet_libraries(transformers=False)
    return load_llamacpp(resolve_model(model), context_window)


def _load_transformers(model: str, context_window: int) -> Backend:
    from workbench.backends.hf import load_transformers
    from workbench.logs import quiet_libraries

    quiet_libraries(transformers=True)
    return load_transformers(resolve_model(model), context_window)


def _load_server(model: str, context_window: int) -> Backend:
    from workbench.backends.openai.connect import load_openai_compatible

    return load_openai_compatible(model, context_window)


register(BackendKind("llama.cpp", "GGUF files on the CPU (llama-cpp-python), in process", _load_llamacpp,
                     local=True, check=_needs_gguf))
register(BackendKind("transformers", "Hugging Face folders or GGUF files with torch; the GPU when there is one",
                     _load_transformers, local=True))
register(BackendKind(SERVER_BACKEND, "a model behind an OpenAI-compatible server: BASE_URL#MODEL[#API_KEY_ENV]",
                     _load_server, recognises=is_server_ref))
