"""A managed serving engine: llama.cpp's own ``llama-server`` for a class.

In-process generation serves one session at a time (the model lock); a class of 30 queues behind it.
``llama-server`` batches live requests instead: ``--parallel N`` slots decoded together (continuous
batching), each slot with its own prompt cache. :class:`LlamaServer` starts it for a GGUF model on
loopback, waits (bounded) until it has loaded the model, and stops it (SIGTERM, then SIGKILL); the
workbench talks to it through the OpenAI-compatible backend with the reference :attr:`LlamaServer.ref`.

    with LlamaServer(EngineConfig(parallel=8)) as engine:   # doctest: +SKIP
        backend = load_backend(engine.ref)

The binary is built from the llama.cpp that llama-cpp-python's sdist vendors (``make llama-server``,
``scripts/build_llama_server.sh``) and cached by llama-cpp-python's version; :func:`find_binary` looks for
it (``WORKBENCH_LLAMA_SERVER`` names another one). Every failure a user can cause is one line: the binary
missing (:class:`EngineUnavailable`, with how to build it), the port in use, the model missing, the server
exiting or not answering in time (with the log's own reason).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from workbench import settings
from workbench.backends.registry import DEFAULT_CONTEXT_WINDOW, DEFAULT_MODEL, ModelSpec, resolve_model
from workbench.errors import ConfigError, ModelError

#: Environment variable naming a llama-server binary to use instead of the built one.
BINARY_ENV = "WORKBENCH_LLAMA_SERVER"
#: What builds the binary (said in the "not built" message).
BUILD_HINT = "run `make llama-server` (scripts/build_llama_server.sh)"
#: Slots decoded together by default: measured here, 8 slots serve 30 requests 1.8x faster than 1.
DEFAULT_PARALLEL = 8
#: The most slots accepted (llama.cpp's own sequence limit is 256; more than this is a typo).
MAX_PARALLEL = 64
#: The default port, llama-server's own.
DEFAULT_PORT = 8080
#: Smallest window per slot accepted (tokens): room for a short prompt and a few new tokens.
MIN_SLOT_WINDOW = 64
#: HTTP threads beyond the slots. llama-server (cpp-httplib) gives each open keep-alive connection a thread of
#: its own for as long as the client keeps it; its default (slots + 4) starved the workbench's pooled client,
#: which keeps up to 8 connections per backend: with 1 slot, requests waited unread until a 60 s timeout.
HTTP_THREADS_SPARE = 32
#: Characters of the server's log quoted in a failure message.
QUOTE_CHARS = 240


class EngineUnavailable(ConfigError):
    """The engine cannot run here (its binary is not built, or does not run): callers may fall back."""


@dataclass(frozen=True)
class EngineConfig:
    """What to serve and how."""

    model: str = DEFAULT_MODEL  # registry id or a GGUF path; served under this name (the reference's #MODEL)
    parallel: int = DEFAULT_PARALLEL  # slots decoded together (llama-server --parallel)
    slot_window: int = DEFAULT_CONTEXT_WINDOW  # tokens per slot; the context is parallel x slot_window
    host: str = "127.0.0.1"  # loopback unless asked: the app talks to it on this machine
    port: int = DEFAULT_PORT  # 0 = any free port
    threads: int | None = None  # CPU threads; None = WORKBENCH_THREADS, else llama-server's own default
    binary: str | None = None  # path of llama-server; None = find_binary()
    # True = on whatever the kernels. The server follows the in-process backend's kernels (WORKBENCH_KERNELS) so
    # both give the same logits: exact = flash attention on, no repacking; fast = off (llama-cpp-python's
    # default; with llama-server's own default, auto = on here, a label's log-probability moved by 0.1)
    flash_attn: bool = False
    start_timeout_s: float = 120.0  # loading the model and answering /health, at most
    stop_timeout_s: float = 10.0  # after SIGTERM, before SIGKILL
    extra_args: tuple[str, ...] = ()  # more llama-server options, passed as they are
    log_path: str | None = None  # where the server's output goes; None = a temporary file, removed on stop

    def __post_init__(self) -> None:
        if not 1 <= self.parallel <= MAX_PARALLEL:
            raise ConfigError(f"--parallel must be from 1 to {MAX_PARALLEL} slots (got {self.parallel}).")
        if self.slot_window < MIN_SLOT_WINDOW:
            raise ConfigError(f"The window per slot must be at least {MIN_SLOT_WINDOW} tokens (got {self.slot_window}).")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port must be from 1 to 65535, or 0 for any free port (got {self.port}).")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"--threads must be at least 1 (got {self.threads}).")
        if not (self.start_timeout_s > 0 and self.stop_timeout_s > 0):
            raise ConfigError("The engine's start and stop timeouts must be > 0 seconds.")

    @property
    def context(self) -> int:
        """Tokens of KV cache in all: every slot gets ``slot_window`` of them."""
        return self.parallel * self.slot_window


def llama_cpp_version() -> str:
    """The installed llama-cpp-python's version: the built binary is keyed by it (same llama.cpp)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llama-cpp-python")
    except PackageNotFoundError:
        return "unknown"


def cache_dir() -> Path:
    """Where ``make llama-server`` puts the binary: the user cache dir's ``prompt-workbench/bin``."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("prompt-workbench")) / "bin"


def built_binary(version: str | None = None) -> Path:
    """The path the build script writes for llama-cpp-python ``version`` (default: the installed one)."""
    return cache_dir() / f"llama-server-{version or llama_cpp_version()}"


def find_binary(explicit: str | None = None) -> Path:
    """``explicit``, else ``WORKBENCH_LLAMA_SERVER``, else the built binary, else ``llama-server`` on PATH.

    Raises :class:`EngineUnavailable` (one line saying how to build it) when there is none.
    """
    named = explicit or settings.get(BINARY_ENV)
    if named:
        path = Path(named).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            where = "--binary" if explicit else BINARY_ENV
            raise EngineUnavailable(f"llama-server not found at {path} ({where}); {BUILD_HINT}, or fix the path.")
        return path
    built = built_binary()
    if built.is_file() and os.access(built, os.X_OK):
        return built
    on_path = shutil.which("llama-server")
    if on_path:
        return Path(on_path)
    raise EngineUnavailable(f"llama-server is not built (looked for {built}); {BUILD_HINT}, "
                            f"or set {BINARY_ENV} to a llama-server binary.")


def engine_model(model: str) -> ModelSpec:
    """The GGUF model ``model`` names (ModelError, one line, when it is missing or not GGUF)."""
    spec = resolve_model(model)
    if not spec.is_gguf:
        raise ModelError(f"llama-server runs GGUF files; {spec.id} is a Hugging Face folder (convert it to GGUF, "
                         "or serve it with vLLM and use its server reference).")
    return spec


def port_free(host: str, port: int) -> bool:
    """True when a server could listen on ``host:port`` (a bind with SO_REUSEADDR, as servers bind, succeeds).

    Connections of a stopped server still in TIME_WAIT do not count: they do not keep a new server out.
    """
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _served_name(model: str, spec: ModelSpec) -> str:
    """The name the server answers to: the registry id, or the GGUF file's stem (no '#' or spaces)."""
    name = model if model == spec.id and "/" not in model and not model.endswith(".gguf") else Path(spec.path).stem
    return re.sub(r"[#\s]+", "-", name) or "model"


@dataclass(eq=False)
class LlamaServer:
    """One running ``llama-server``; a context manager (``with``) that starts and stops it."""

    config: EngineConfig = field(default_factory=EngineConfig)
    process: subprocess.Popen | None = field(default=None, init=False)  # the server, while it runs
    port: int = field(default=0, init=False)  # the port it listens on (config.port, or the free one picked)
    model_name: str = field(default="", init=False)  # the name it serves the model under
    log: Path | None = field(default=None, init=False)  # its stdout and stderr
    command: list[str] = field(default_factory=list, init=False)  # how it was started
    _finalizer: weakref.finalize | None = field(default=None, init=False, repr=False)

    # ---- where it is ---------------------------------------------------------------------------
    @property
    def root_url(self) -> str:
        host = self.config.host if self.config.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The OpenAI API root (``…/v1``)."""
        return self.root_url + "/v1"

    @property
    def ref(self) -> str:
        """The server reference the workbench's backends take: ``http://HOST:PORT/v1#MODEL``."""
        return f"{self.url}#{self.model_name}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # ---- start / stop ------------------------------------------------------------------------------
    def start(self) -> LlamaServer:
        """Start the server and wait until it has loaded the model (bounded by ``start_timeout_s``)."""
        if self.running:
            return self
        cfg = self.config
        binary = find_binary(cfg.binary)
        spec = engine_model(cfg.model)
        self.port = cfg.port or free_port(cfg.host if cfg.host not in ("", "::") else "127.0.0.1")
        if not port_free(cfg.host, self.port):
            raise ConfigError(f"Port {self.port} on {cfg.host} is in use; pick another with --port "
                              "(or stop what listens there).")
        self.model_name = _served_name(cfg.model, spec)
        threads = cfg.threads or _workbench_threads()
        from workbench.backends.llamacpp import TILED_ENV

        # The in-process model's kernels (WORKBENCH_KERNELS): with the exact ones the server's numbers are the
        # workbench's own -- no weight repacking, flash attention, the tiled K-quant kernel off (environment).
        exact = settings.get("WORKBENCH_KERNELS") == "exact"
        self.command = [
            str(binary), "--model", spec.path, "--alias", self.model_name,
            "--host", cfg.host, "--port", str(self.port),
            "--parallel", str(cfg.parallel), "--ctx-size", str(cfg.context),
            "--cont-batching", "--no-webui", "--flash-attn", "on" if cfg.flash_attn or exact else "off",
            *(("--no-repack",) if exact else ()),
            "--threads-http", str(cfg.parallel + HTTP_THREADS_SPARE),
            *(("--threads", str(threads), "--threads-batch", str(threads)) if threads else ()),
            *cfg.extra_args,
        ]
        if cfg.log_path:
            self.log = Path(cfg.log_path)
        else:
            fd, name = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
            os.close(fd)
            self.log = Path(name)
        try:
            with self.log.open("wb") as out:
                env = settings.child_environment({TILED_ENV: "0"}) if exact else None
                self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=out,
                                                stderr=subprocess.STDOUT, env=env)
        except OSError as err:
            self._drop_log()
            raise EngineUnavailable(f"llama-server at {binary} does not run ({err.strerror or err}); {BUILD_HINT}.") from None
        # Stopped when this object is dropped or the interpreter exits, so no server outlives the workbench.
        self._finalizer = weakref.finalize(self, _terminate, self.process, cfg.stop_timeout_s)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.config.start_timeout_s
        while True:
            code = self.process.poll()
            if code is not None:
                raise self._exit_error(code)
            if _health(self.root_url) == "ok":
                return
            if time.monotonic() > deadline:
                raise ModelError(f"llama-server did not load {self.config.model} within "
                                 f"{self.config.start_timeout_s:g} s; its log: {self.log_reason() or 'empty'}.")
            time.sleep(0.1)

    def _exit_error(self, code: int) -> Exception:
        reason = self.log_reason()
        text = (self.log.read_text(errors="replace") if self.log and self.log.is_file() else "").lower()
        if "couldn't bind" in text or "address already in use" in text:
            return ConfigError(f"Port {self.port} on {self.config.host} is in use; pick another with --port.")
        if code < 0 and -code in (signal.SIGILL, signal.SIGSEGV, signal.SIGBUS):
            return EngineUnavailable(f"llama-server crashed at start ({signal.Signals(-code).name}); rebuild it "
                                     f"for this CPU ({BUILD_HINT}). Log: {reason or 'empty'}.")
        if "error while loading shared libraries" in text or "exec format error" in text:
            return EngineUnavailable(f"llama-server does not run here: {reason}; {BUILD_HINT}.")
        return ModelError(f"llama-server exited at start (status {code}): {reason or 'no log output'}.")

    def log_reason(self) -> str:
        """The log's most telling line: its last error line, else its last line (one line, quoted short)."""
        if self.log is None or not self.log.is_file():
            return ""
        lines = [line.strip() for line in self.log.read_text(errors="replace").splitlines() if line.strip()]
        errors = [line for line in lines if re.search(r"\berror\b|failed|couldn't|unable", line, re.IGNORECASE)]
        line = (errors or lines or [""])[-1]
        return line[:QUOTE_CHARS]

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``stop_timeout_s``; waits for the process, so none is left behind."""
        self.process = None
        if self._finalizer is not None:
            self._finalizer()  # runs _terminate once
            self._finalizer = None
        self._drop_log()

    def _drop_log(self) -> None:
        if self.log is not None and not self.config.log_path:
            self.log.unlink(missing_ok=True)

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- what it says about itself -----------------------------------------------------------------
    def props(self) -> dict:
        """``/props``: the slots, the window per slot, the build."""
        with _open(self.root_url + "/props", timeout=5) as reply:
            return json.loads(reply.read())


def _workbench_threads() -> int | None:
    """WORKBENCH_THREADS when set (validated as the in-process backend does), else None."""
    return settings.get("WORKBENCH_THREADS")


def _open(url: str, timeout: float):
    return urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=timeout)


def _health(root_url: str) -> str:
    """``ok`` when the server has loaded the model; ``loading`` while it loads; ``down`` when nothing answers."""
    try:
        with _open(root_url + "/health", timeout=2) as reply:
            return "ok" if reply.status == 200 else "loading"
    except urllib.error.HTTPError:
        return "loading"  # 503 while the model loads
    except (OSError, urllib.error.URLError):
        return "down"


def _terminate(process: subprocess.Popen, timeout_s: float) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``; waits, so the process is reaped (no zombie, port freed)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout_s)
