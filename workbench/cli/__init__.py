"""``python -m workbench``: headless commands over the library.

Each command lives in its own module with a ``register(subparsers)`` function;
arguments are turned into the library's dataclasses here and nowhere else.
User errors print one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from workbench.errors import WorkbenchError

#: Modules that register sub-commands, in the order ``--help`` lists them.
COMMAND_MODULES = ("generate", "prompt", "autocot", "eval", "runs", "sets", "ui", "serve", "config", "export", "schema",
                   "shots", "formats")


def build_parser() -> argparse.ArgumentParser:
    from workbench.cli.common import OneLineParser

    parser = OneLineParser(prog="python -m workbench", description="Prompt Workbench, headless.")
    parser.add_argument("--verbose", action="store_true",
                        help="show the libraries' own log lines (llama.cpp, transformers) on stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"workbench.cli.{name}").register(sub)
    return parser


def _split_ui(argv: list[str]) -> tuple[list[str], list[str]]:
    """``[..., "ui", *rest]`` -> the workbench's part and Streamlit's options (``ui --help`` stays ours).

    >>> _split_ui(["--verbose", "ui", "--server.port", "8600"])
    (['--verbose', 'ui'], ['--server.port', '8600'])
    >>> _split_ui(["eval", "--dataset", "ui"])
    (['eval', '--dataset', 'ui'], [])
    """
    first = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if first is None or argv[first] != "ui" or argv[first + 1:] in (["-h"], ["--help"]):
        return argv, []
    return argv[: first + 1], argv[first + 1:]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv, passed_on = _split_ui(sys.argv[1:] if argv is None else list(argv))
    args = parser.parse_args(argv)
    if args.command == "ui":
        args.streamlit_args = passed_on
    from workbench import settings
    from workbench.logs import configure

    try:
        settings.check_all()  # a bad WORKBENCH_* value is one line before any work
        configure(verbose=args.verbose)
        return int(args.run(args) or 0)
    except WorkbenchError as err:
        from workbench.cli.common import shown

        print(f"error: {shown(str(err))}", file=sys.stderr)  # a name or value quoted in it is never sent raw
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader left (``| head``): Python's documented way, no traceback, no flush error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
