"""Fixtures for llama.cpp's own ``llama-server`` (the managed engine, workbench/engine.py).

``engine_binary()`` is the built binary, or a clean skip saying how to build it; ``running_engine`` starts a
real llama-server for a default model on a free loopback port and stops it; ``fake_binary`` writes a tiny shell
script that behaves as a broken server does (exits with an error line, never gets healthy, ignores SIGTERM),
for the engine's orchestration faults only. Every wait is bounded.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from workbench.engine import EngineConfig, EngineUnavailable, LlamaServer, find_binary

#: Tokens per slot in the tests: prompts and answers are short.
SLOT_WINDOW = 1024
#: Seconds a process may take to disappear after it was stopped (it is waited for; this bounds a check).
GONE_S = 10.0


def engine_binary() -> Path:
    """The llama-server binary, or skip (with the reason: not built, and how to build it)."""
    try:
        return find_binary()
    except EngineUnavailable as err:
        pytest.skip(f"needs llama-server: {err}")


def model_path(model: str) -> str:
    from workbench.backends import resolve_model
    from workbench.errors import ModelError

    try:
        return resolve_model(model).path
    except ModelError as err:
        pytest.skip(str(err))


@contextmanager
def running_engine(model: str, parallel: int = 2, slot_window: int = SLOT_WINDOW, **kw) -> Iterator[LlamaServer]:
    """A real llama-server for ``model`` on a free loopback port, for the block; stopped after it."""
    engine_binary()
    model_path(model)
    threads = int(os.environ.get("WORKBENCH_THREADS") or 1)  # a shared 2-core machine: 1 unless told
    cfg = EngineConfig(model=model, parallel=parallel, slot_window=slot_window, port=0, threads=threads, **kw)
    with LlamaServer(cfg) as engine:
        yield engine


def fake_binary(tmp_path: Path, body: str, name: str = "llama-server") -> Path:
    """An executable shell script standing in for llama-server (``body`` is its shell code)."""
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def gone(pid: int, within_s: float = GONE_S) -> bool:
    """True once no process ``pid`` exists (a zombie counts as gone only after it is reaped)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if _zombie(pid):
            return True  # exited; its parent (not us) reaps it
        time.sleep(0.05)
    return False


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z")
    except OSError:
        return False
