"""``serve``: run a batching engine for a class, optionally with the app on top of it.

    workbench serve --engine llama-server                 # llama-server --parallel 8 on 127.0.0.1:8080
    workbench serve --engine llama-server --parallel 8 --app [--app-host 0.0.0.0] [--app-port 8501]

With ``--app`` the Streamlit app is served too, pinned to the engine (``WORKBENCH_CLASSROOM=1``, the engine's
server reference as the only model and server): every session's generation goes to the engine, which decodes
up to ``--parallel`` of them together. Stopping (Ctrl+C, SIGTERM) stops the app, then the engine. Where
llama-server is not built, ``--app`` says so in one line and serves the app in-process instead, decoding
the sessions' generations together there (``WORKBENCH_SHARED_BATCH``, continuous batching in the app).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

from workbench import settings
from workbench.backends import DEFAULT_CONTEXT_WINDOW, DEFAULT_MODEL
from workbench.cli.common import shown
from workbench.engine import DEFAULT_PARALLEL, DEFAULT_PORT, EngineConfig, EngineUnavailable, LlamaServer
from workbench.errors import ConfigError

#: Engines ``--engine`` knows.
ENGINES = ("llama-server",)
#: Sequences decoded together in-process when the app falls back to it (SHARED_ENV).
FALLBACK_BATCH = 8
#: The settings this command sets for the app it serves (declared in :mod:`workbench.settings`).
CLASSROOM_ENV, SHARED_ENV = "WORKBENCH_CLASSROOM", "WORKBENCH_SHARED_BATCH"
ALLOWED_MODELS_ENV, ALLOWED_SERVERS_ENV = "WORKBENCH_ALLOWED_MODELS", "WORKBENCH_ALLOWED_SERVERS"


def register(sub) -> None:
    p = sub.add_parser("serve", help="run a batching engine (llama-server) for a class; --app serves the app on it",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--engine", choices=ENGINES, default="llama-server", help="the serving engine (default: %(default)s)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"registry id or GGUF path (default {DEFAULT_MODEL})")
    p.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL,
                   help="requests decoded together (slots; default %(default)s)")
    p.add_argument("--slot-window", type=int, default=DEFAULT_CONTEXT_WINDOW,
                   help="context tokens per slot; the engine holds parallel x this (default %(default)s)")
    p.add_argument("--host", default="127.0.0.1", help="the engine's address (default %(default)s: this machine)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="the engine's port (default %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: WORKBENCH_THREADS, else the engine's)")
    p.add_argument("--binary", default=None, help="a llama-server binary (default: the one `make llama-server` built)")
    p.add_argument("--log", default=None, help="write the engine's log to this file")
    p.add_argument("--app", action="store_true", help="also serve the app, its sessions using the engine")
    p.add_argument("--app-host", default="127.0.0.1", help="the app's address (default %(default)s; 0.0.0.0 for a class)")
    p.add_argument("--app-port", type=int, default=8501, help="the app's port (default %(default)s)")
    p.set_defaults(run=run)


def engine_config(args) -> EngineConfig:
    return EngineConfig(model=args.model, parallel=args.parallel, slot_window=args.slot_window, host=args.host,
                        port=args.port, threads=args.threads, binary=args.binary, log_path=args.log)


def app_env(ref: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """The app's environment for a class on the engine: pinned, the engine its only model and server.

    >>> e = app_env("http://127.0.0.1:8080/v1#gemma-3-270m", {})
    >>> e["WORKBENCH_CLASSROOM"], e["WORKBENCH_ALLOWED_MODELS"] == e["WORKBENCH_ALLOWED_SERVERS"]
    ('1', True)
    """
    return settings.child_environment({CLASSROOM_ENV: "1", ALLOWED_MODELS_ENV: ref, ALLOWED_SERVERS_ENV: ref},
                                      base=env)


def fallback_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The app's environment without the engine: in-process, the sessions decoded together (shared batch).

    >>> fallback_env({})
    {'WORKBENCH_SHARED_BATCH': '8'}
    """
    env = settings.child_environment(base=env)
    env.setdefault(SHARED_ENV, str(FALLBACK_BATCH))
    return env


def check_port(host: str, port: int) -> None:
    """Refuse an app address Streamlit could not serve on (the port taken, out of range, or not this machine's),
    in one line before the engine starts; bound as Streamlit's server binds (SO_REUSEADDR), then let go."""
    import errno
    import socket

    if not 1 <= port <= 65535:
        raise ConfigError(f"--app-port must be a port from 1 to 65535 (got {port}).")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as err:
        raise ConfigError(f"--app-host {shown(host)!r} is not an address of this machine ({err}).") from None
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise ConfigError(f"Port {port} on {shown(host)} is in use, so the app cannot be served there; pick "
                                  "another with --app-port, or stop what holds it.") from None
            raise ConfigError(f"Cannot serve the app on {shown(host)} port {port} ({err.strerror}); pick another "
                              "--app-host or --app-port.") from None


def run(args) -> int:
    cfg = engine_config(args)  # validated before anything starts
    if args.app:
        if args.app_port == args.port:
            raise ConfigError(f"--app-port {args.app_port} is the engine's --port too; give them different ports.")
        check_port(args.app_host, args.app_port)  # before the engine starts (Streamlit would end with its own line)
    engine = LlamaServer(cfg)
    stop = threading.Event()
    _on_sigterm(stop)
    try:
        try:
            engine.start()
        except EngineUnavailable as err:
            if not args.app:
                raise
            env = fallback_env()
            print(f"note: {shown(str(err))} Serving the app in-process instead, the sessions decoded together there "
                  f"({SHARED_ENV}={env[SHARED_ENV]}).", file=sys.stderr, flush=True)
            return _serve_app(args, env, stop)
        print(f"llama-server ready: {shown(engine.ref)} ({cfg.parallel} slots x {cfg.slot_window} tokens, pid {engine.pid})",
              flush=True)
        if args.app:
            return _serve_app(args, app_env(engine.ref), stop, engine)
        print(f"use it: --backend openai-compatible --model '{shown(engine.ref)}'; Ctrl+C stops it", flush=True)
        while not stop.wait(0.5):
            if not engine.running:
                print(f"error: llama-server stopped by itself: {shown(engine.log_reason() or 'no log output')}",
                      file=sys.stderr)
                return 2
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        engine.stop()


def _serve_app(args, env: dict[str, str], stop: threading.Event, engine: LlamaServer | None = None) -> int:
    """The app (``workbench ui``'s command line) as a child process, until it ends or we are stopped."""
    from workbench.classroom import classroom_env
    from workbench.cli.ui import command

    argv = command(["--server.address", args.app_host, "--server.port", str(args.app_port)])
    env = classroom_env(env, lambda line: print(line, flush=True))  # classroom mode on; the teacher's passcode
    app = subprocess.Popen(argv, env=env)
    try:
        while app.poll() is None and not stop.is_set():
            if engine is not None and not engine.running:
                print(f"error: llama-server stopped by itself: {shown(engine.log_reason() or 'no log output')}",
                      file=sys.stderr)
                return 2
            stop.wait(0.5)
        return 0 if stop.is_set() else app.returncode
    except KeyboardInterrupt:  # Ctrl+C reaches the app too (same process group): let it finish
        return 0
    finally:
        if app.poll() is None:
            app.terminate()
            try:
                app.wait(10)
            except subprocess.TimeoutExpired:
                app.kill()
                app.wait(10)


def _on_sigterm(stop: threading.Event) -> None:
    """SIGTERM (a service manager, ``kill``) stops like Ctrl+C: the app, then the engine."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
