"""Model backends behind one contract (:class:`Backend`), and the factory that loads them.

The curated surface: the contract and its records, the model registry's names, the backend kinds
(:mod:`workbench.backends.kinds`: built in or added by a plugin) and :func:`load_backend`. Everything
else is imported from its own module.

>>> backend = load_backend("gemma-3-270m")          # doctest: +SKIP
>>> backend.complete("The capital of France is").text  # doctest: +SKIP
"""

from __future__ import annotations

from workbench.backends.base import Backend, TextStream
from workbench.backends.kinds import (
    BACKENDS,
    SERVER_BACKEND,
    BackendKind,
    backend_kinds,
    choose_backend,
    kind_for,
    register_backend,
)
from workbench.backends.records import Generation, Scored, TokenProb
from workbench.backends.registry import DEFAULT_CONTEXT_WINDOW, DEFAULT_MODEL, EMBEDDED, ModelSpec, resolve_model

__all__ = [
    "BACKENDS",
    "DEFAULT_CONTEXT_WINDOW",
    "DEFAULT_MODEL",
    "EMBEDDED",
    "SERVER_BACKEND",
    "Backend",
    "BackendKind",
    "Generation",
    "ModelSpec",
    "Scored",
    "TextStream",
    "TokenProb",
    "backend_kinds",
    "choose_backend",
    "kind_for",
    "load_backend",
    "register_backend",
    "resolve_model",
]


def load_backend(
    model: str = DEFAULT_MODEL,
    backend: str = "auto",
    context_window: int = DEFAULT_CONTEXT_WINDOW,
) -> Backend:
    """Load ``model`` (registry id, path, or a reference a backend kind recognises) with ``backend``
    ("auto" or a registered kind's name: "llama.cpp", "transformers", "openai-compatible", a plugin's).

    A server reference ``http(s)://HOST/v1#MODEL[#API_KEY_ENV]`` (or backend
    "openai-compatible") connects to an OpenAI-compatible server instead.
    This is the one factory for models; the app caches its result per process.
    Library log lines are routed through :mod:`logging` and quiet (:func:`workbench.logs.quiet_libraries`).
    """
    return kind_for(model, backend).load(model, context_window)
