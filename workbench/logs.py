"""Library logs through :mod:`logging`, quiet unless asked for.

llama.cpp writes its own log lines (``llama_kv_cache_iswa: using full-size SWA cache …`` on every Gemma
load) and transformers draws a "Loading weights" bar; both reached the terminal on every model load.
:func:`quiet_libraries` (called by the model factory) routes llama.cpp's lines into the
``workbench.llama_cpp`` logger at their own levels and turns transformers' bars and info lines off;
:func:`configure` sets the level the user asked for (the CLI's ``--verbose``).

    >>> _level(3), _level(4), _level(1)
    (30, 40, 10)
"""

from __future__ import annotations

import ctypes
import functools
import logging
import sys
import threading

from workbench import settings

#: The logger llama.cpp's own lines go to.
LLAMA_LOGGER = "workbench.llama_cpp"
#: The setting that makes library logs verbose in the app too (the CLI has --verbose; :mod:`workbench.settings`).
VERBOSE_ENV = "WORKBENCH_VERBOSE"
#: Level of library loggers unless verbose: only their errors.
QUIET_LEVEL = logging.ERROR

_lock = threading.Lock()
_state: dict[str, object] = {}  # "callback": the ctypes callback (kept alive), "partial": an unfinished line


def _level(ggml_level: int) -> int:
    """ggml's log level (1 debug, 2 info, 3 warn, 4 error) as a :mod:`logging` level."""
    return {1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}.get(ggml_level, logging.DEBUG)


def _verbose_default() -> bool:
    return settings.get(VERBOSE_ENV)


def _install_llama_cpp() -> None:
    try:
        import llama_cpp
    except ImportError:
        return
    log = logging.getLogger(LLAMA_LOGGER)
    last = [logging.DEBUG]

    @llama_cpp.llama_log_callback
    def callback(level, text, user_data):  # called from llama.cpp's threads; must never raise
        try:
            lvl = last[0] if level == 5 else _level(level)  # 5: continues the previous line
            last[0] = lvl
            line = str(_state.get("partial", "")) + text.decode("utf-8", errors="replace")
            *whole, rest = line.split("\n")
            _state["partial"] = rest
            for part in whole:
                if part.strip():
                    log.log(lvl, "%s", part)
        except Exception:  # a log line must never crash the model
            pass

    _state["callback"] = callback  # ctypes callbacks must outlive their registration
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))


def _quiet_transformers(verbose: bool) -> None:
    try:
        import transformers.modeling_gguf_pytorch_utils as gguf
        from tqdm.auto import tqdm
        from transformers.utils import logging as hf_logging
    except ImportError:
        return
    if verbose:
        hf_logging.set_verbosity_info()
        hf_logging.enable_progress_bar()
    else:
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    # Its GGUF reader draws a plain tqdm bar that the switches above do not reach.
    gguf.tqdm = tqdm if verbose else functools.partial(tqdm, disable=True)


def quiet_libraries(verbose: bool | None = None, transformers: bool = False) -> None:
    """Route llama.cpp's log into :mod:`logging` (once) and set library verbosity (quiet by default);
    ``transformers`` also quiets transformers (imported only then: it takes seconds)."""
    verbose = _verbose_default() if verbose is None else verbose
    with _lock:
        if "callback" not in _state:
            _install_llama_cpp()
        logging.getLogger(LLAMA_LOGGER).setLevel(logging.DEBUG if verbose else QUIET_LEVEL)
        if transformers or "transformers" in sys.modules:
            _quiet_transformers(verbose)


def configure(verbose: bool = False) -> None:
    """The CLI's logging: library lines on stderr only with ``verbose`` (then down to debug)."""
    if verbose:
        settings.export(VERBOSE_ENV, "1")  # the model factory reads it on every load
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
    quiet_libraries(verbose)
