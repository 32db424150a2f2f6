"""Model backends behind one contract (:class:`Backend`), and the factory that loads them.

>>> backend = load_backend("gemma-3-270m")          # doctest: +SKIP
>>> backend.complete("The capital of France is").text  # doctest: +SKIP
"""

from __future__ import annotations

from workbench.backends.base import Backend, Generation, Scored, TextStream, TokenProb
from workbench.backends.registry import (
    BACKENDS,
    DEFAULT_CONTEXT_WINDOW,
    DEFAULT_MODEL,
    EMBEDDED,
    SERVER_BACKEND,
    ModelSpec,
    choose_backend,
    resolve_model,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_CONTEXT_WINDOW",
    "DEFAULT_MODEL",
    "EMBEDDED",
    "SERVER_BACKEND",
    "Backend",
    "Generation",
    "ModelSpec",
    "Scored",
    "TextStream",
    "TokenProb",
    "choose_backend",
    "load_backend",
    "resolve_model",
]


def load_backend(
    model: str = DEFAULT_MODEL,
    backend: str = "auto",
    context_window: int = DEFAULT_CONTEXT_WINDOW,
) -> Backend:
    """Load ``model`` (registry id or path) with ``backend`` ("auto", "llama.cpp", "transformers").

    A server reference ``http(s)://HOST/v1#MODEL[#API_KEY_ENV]`` (or backend
    "openai-compatible") connects to an OpenAI-compatible server instead.
    This is the one factory for models; the app caches its result per process.
    Library log lines are routed through :mod:`logging` and quiet (:func:`workbench.logs.quiet_libraries`).
    """
    from workbench.logs import quiet_libraries

    if backend == SERVER_BACKEND or model.strip().lower().startswith(("http://", "https://")):
        from workbench.backends.openai_compat import load_openai_compatible

        return load_openai_compatible(model, context_window)
    spec = resolve_model(model)
    chosen = choose_backend(spec, backend)
    quiet_libraries(transformers=chosen != "llama.cpp")
    if chosen == "llama.cpp":
        from workbench.backends.llamacpp import load_llamacpp

        return load_llamacpp(spec, context_window)
    from workbench.backends.hf import load_transformers

    return load_transformers(spec, context_window)
