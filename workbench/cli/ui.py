"""``ui``: serve the Streamlit app (the same app ``make run`` serves), from any directory.

    workbench ui                       # http://127.0.0.1:8501, the default model
    workbench ui --server.port 8600    # any Streamlit option after "ui" goes to Streamlit

The app's own settings (``.streamlit/config.toml``: loopback only, no file watcher, no error details) are
passed as options, since Streamlit reads that file only from the current directory; options given here
come after them and win.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from workbench.errors import ConfigError


def register(sub) -> None:
    p = sub.add_parser("ui", help="serve the browser workbench (Streamlit); Streamlit options may follow",
                       description="Serve the browser workbench. Every option after 'ui' goes to `streamlit run` "
                                   "(e.g. --server.port 8600).")
    p.set_defaults(run=run, streamlit_args=[])


def app_dir() -> Path:
    """Where app.py and views/ are: the installed ``workbench_app`` package, else this checkout's root."""
    spec = importlib.util.find_spec("workbench_app")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parents[2]


def config_options(config: Path) -> list[str]:
    """``.streamlit/config.toml`` as ``--section.key=value`` options (empty when the file is missing).

    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "config.toml"
    >>> _ = f.write_text('[server]\\naddress = "127.0.0.1"\\nheadless = true\\n')
    >>> config_options(f)
    ['--server.address=127.0.0.1', '--server.headless=true']
    """
    if not config.is_file():
        return []
    with config.open("rb") as fh:
        data = tomllib.load(fh)
    out = []
    for section, values in data.items():
        for key, value in values.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            out.append(f"--{section}.{key}={text}")
    return out


def command(extra: list[str]) -> list[str]:
    """The ``streamlit run`` command line for the app with its settings and ``extra`` options."""
    root = app_dir()
    app = root / "app.py"
    if not app.is_file():
        raise ConfigError(f"The app is not installed with the workbench ({app} is missing); reinstall it.")
    return [sys.executable, "-m", "streamlit", "run", str(app), *config_options(root / ".streamlit" / "config.toml"),
            *extra]


def run(args) -> int:
    extra = [a for a in args.streamlit_args if a != "--"]  # every option after "ui" goes to Streamlit
    argv = command(extra)
    if os.name == "posix":
        # Streamlit takes this process's place: a signal sent to `workbench ui` (Ctrl+C, a service manager's
        # SIGTERM) reaches the server itself, and no orphaned server keeps the port or the terminal.
        sys.stdout.flush()
        os.execv(argv[0], argv)
    try:
        return subprocess.call(argv)
    except KeyboardInterrupt:
        return 130
