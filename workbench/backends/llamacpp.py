"""Loading a GGUF file into llama.cpp (``llama-cpp-python``): :func:`load_llamacpp`, the factory of
:class:`~workbench.backends.llamacpp_backend.LlamaCppBackend`, and what a load needs around it (the CPU
kernels, chat templates kept as text, llama.cpp's log held back).

A model loads in about 0.1 s. The factory reads the settings (``WORKBENCH_THREADS``, ``_KERNELS``,
``_BATCH``, ``_SHARED_BATCH``) and hands them to the engines as arguments.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import threading
from contextlib import contextmanager

from workbench import settings
from workbench.backends.gguf_header import check_window_fits, memory_message
from workbench.backends.llamacpp_backend import LlamaCppBackend
from workbench.backends.registry import DEFAULT_CONTEXT_WINDOW, ModelSpec
from workbench.errors import ConfigError, ModelError

#: Environment variable that sets llama.cpp's CPU threads (default: every core). On a machine
#: shared with other busy processes, 1 avoids llama.cpp's spinning thread barriers.
THREADS_ENV = "WORKBENCH_THREADS"


def default_threads() -> int:
    """llama.cpp's CPU threads: ``WORKBENCH_THREADS`` when set, else every core."""
    return settings.get(THREADS_ENV) or os.cpu_count() or 1


#: Environment variable choosing llama.cpp's CPU matrix kernels: "exact" (the default) or "fast".
KERNELS_ENV = "WORKBENCH_KERNELS"
#: The kernel choices. "exact": every matrix product is computed row by row (no weight repacking, no
#: tiled K-quant kernel), with flash attention, so a sequence's logits do not depend on how many others
#: share its decode call (tests/test_batch.py: bit-identical at 1 to 16 sequences per step) -- batched text
#: is the one-at-a-time text and a seed gives the same sample in any batch. "fast": llama-cpp-python's
#: defaults (repacked weights, tiled products, no flash attention), whose repacked (4+ rows) and tiled (8+
#: rows) kernels sum in another order, so batched text drifts (README: Batched generation).
KERNELS = ("exact", "fast")
#: ggml reads this once per process, at its first matrix product (0 = tiled K-quant kernels off).
TILED_ENV = "GGML_CPU_TILED_MM"
_kernels_lock = threading.Lock()
_kernels_in_process: str | None = None  # the choice the first model of this process was loaded with


def kernel_choice() -> str:
    """llama.cpp's CPU kernels: ``WORKBENCH_KERNELS`` when set, else "exact"."""
    return settings.get(KERNELS_ENV)


@contextmanager
def kernels_for_loading(choice: str):
    """Models loaded inside the block get ``choice``'s kernels. llama-cpp-python 0.3.36's ``Llama`` takes no keyword for
    llama.cpp's ``use_extra_bufts`` (weight repacking), so its default model parameters are swapped for
    the load; the tiled kernels are a process-wide ggml switch, fixed by the first model loaded."""
    global _kernels_in_process
    import llama_cpp.llama_cpp as low

    with _kernels_lock:
        if _kernels_in_process is not None and _kernels_in_process != choice:
            raise ConfigError(f"This process loaded its first llama.cpp model with {KERNELS_ENV}="
                              f"{_kernels_in_process}; restart it to use {choice}.")
        if choice == "exact":
            settings.export(TILED_ENV, "0")
        default = low.llama_model_default_params

        def params():
            p = default()
            p.use_extra_bufts = choice == "fast"
            return p

        low.llama_model_default_params = params
        try:
            yield
            _kernels_in_process = choice
        finally:
            low.llama_model_default_params = default


class _KeptTemplate:
    """Stands in for llama-cpp-python's ``Jinja2ChatFormatter`` while a model loads (:func:`templates_kept`)."""

    def __init__(self, template: str = "", *args, **kwargs):
        self.template = template

    def to_chat_handler(self):
        def refuse(*args, **kwargs):
            raise ModelError("llama-cpp-python's chat handler is not used by the workbench; use Backend.format_chat "
                             "(the model's chat template, rendered sandboxed and bounded).")

        return refuse


_templates_lock = threading.Lock()
#: Held for a whole model load (outside _templates_lock, which a tokenizer also takes alone).
_loading = threading.Lock()


@contextmanager
def templates_kept():
    """Models loaded inside the block keep their chat templates as text, uncompiled.

    llama-cpp-python compiles every chat template in a GGUF's header when it loads the model, with
    jinja2 and no bounds; a template with a syntax error failed the whole load with a jinja2 traceback
    (a model that only needed raw prompts could not be used at all). The workbench renders chat
    templates itself, sandboxed and bounded (:mod:`workbench.chat`), and never calls llama-cpp-python's
    chat handlers, so nothing is lost by not compiling: a broken template refuses chat use only, in
    one line naming the problem, when a chat prompt is first formatted.
    """
    import llama_cpp.llama_chat_format as formats

    with _templates_lock:
        compiled = formats.Jinja2ChatFormatter
        formats.Jinja2ChatFormatter = _KeptTemplate
        try:
            yield
        finally:
            formats.Jinja2ChatFormatter = compiled


@contextmanager
def held_llama_log():
    """llama.cpp's log lines during a load, held back and listed instead of printed (unless verbose).

    A load that fails is then one line, explained from them (an allocation that failed is memory,
    not a damaged file); a load that succeeds passes them on as they would have been.
    """
    from workbench.logs import LLAMA_LOGGER, quiet_libraries

    quiet_libraries()  # llama.cpp's lines into that logger (the model factory does it too; a direct load may not)
    log = logging.getLogger(LLAMA_LOGGER)
    lines: list[logging.LogRecord] = []
    shown = log.isEnabledFor(logging.DEBUG)  # --verbose: the user sees them as they come (and they are listed)

    class Hold(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record)

    hold, propagate = Hold(), log.propagate
    log.addHandler(hold)
    log.propagate = propagate and shown
    failed = False
    try:
        yield lines
    except BaseException:
        failed = True
        raise
    finally:
        log.removeHandler(hold)
        log.propagate = propagate
        if not failed and not shown:
            for record in lines:
                log.handle(record)


def _out_of_memory(lines: list[logging.LogRecord]) -> bool:
    return any("failed to allocate" in r.getMessage() or "insufficient memory" in r.getMessage() for r in lines)


def load_llamacpp(
    spec: ModelSpec,
    context_window: int = DEFAULT_CONTEXT_WINDOW,
    threads: int | None = None,
    *,
    logits_all: bool = False,
    draft_model=None,
    batch_size: int | None = None,
    shared_batch: int | None = None,
) -> LlamaCppBackend:
    """Load a GGUF file with llama.cpp; a ModelError names the file if it cannot.

    ``logits_all`` keeps a logits row for every position (speculative verification reads them);
    ``draft_model`` is a ``llama_cpp.llama_speculative.LlamaDraftModel`` (e.g. prompt lookup);
    ``batch_size`` is how many sequences :meth:`LlamaCppBackend.generate` decodes together (default
    ``WORKBENCH_BATCH``, else 8 with the exact kernels -- the one-at-a-time text at 2-3x the tokens/s, see
    llamacpp_batch -- and 1 = one at a time with the fast ones);
    ``shared_batch`` > 0 decodes every caller's generations and streams together, up to that many
    sequences (default ``WORKBENCH_SHARED_BATCH``, else 0 = callers queue; see llamacpp_shared).
    """
    from workbench.backends.llamacpp_batch import MAX_BATCH, default_batch_size
    from workbench.backends.llamacpp_shared import shared_batch_size

    kernels = kernel_choice()
    size = default_batch_size(exact=kernels == "exact") if batch_size is None else batch_size
    if not 1 <= size <= MAX_BATCH:
        raise ConfigError(f"batch_size must be from 1 to {MAX_BATCH} sequences, not {size}.")
    shared = shared_batch_size() if shared_batch is None else shared_batch
    if not 0 <= shared <= MAX_BATCH:
        raise ConfigError(f"shared_batch must be from 0 to {MAX_BATCH} sequences, not {shared}.")
    try:
        import llama_cpp
    except ImportError:
        raise ModelError("llama.cpp is not installed; run `pip install llama-cpp-python` (or `make run`).") from None
    if not os.path.isfile(spec.path):
        raise ModelError(f"Model file not found: {spec.path}; check the path or reinstall the model package.")
    check_window_fits(spec.path, context_window)
    threads = threads or default_threads()
    try:
        # one load at a time: the held log is process-wide (two loads would take each other's lines, and the
        # logger's propagate flag could be restored wrongly)
        with _loading, held_llama_log() as log, kernels_for_loading(kernels), templates_kept():
            llm = llama_cpp.Llama(
                model_path=spec.path,
                n_ctx=context_window,
                n_threads=threads,
                n_threads_batch=threads,  # prompt reading too (llama-cpp-python: every core)
                n_batch=512,
                flash_attn=kernels == "exact",  # part of the exact setting (bench/kernels.py measures it)
                logits_all=logits_all,
                draft_model=draft_model,
                verbose=False,
            )
    except (ValueError, RuntimeError, OSError) as err:
        message = memory_message(spec.path, context_window) if _out_of_memory(log) else None
        if message is not None:
            raise ConfigError(message) from None
        if _out_of_memory(log):
            raise ConfigError(f"llama.cpp ran out of memory loading {spec.path} with a context window of "
                              f"{context_window:,} tokens; lower the context window.") from None
        raise ModelError(
            f"llama.cpp could not load {spec.path} ({err}); is it a complete, valid GGUF file?"
        ) from None
    atexit.register(llm.close)  # free native memory before interpreter teardown (avoids noisy __del__)
    backend = LlamaCppBackend(spec, llm, kernels=kernels, batch_size=size, loader=load_llamacpp)
    if shared:
        from workbench.backends.llamacpp_shared import SharedDecoder

        backend.shared = SharedDecoder(llm, shared, context_window,
                                       lambda cfg: backend._sampling(backend._completion_kwargs(cfg)),
                                       fair=backend.lock.fair)  # one share per workspace across both queues
        backend.capabilities = dataclasses.replace(backend.capabilities, concurrent=shared)
    return backend
