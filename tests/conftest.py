"""Shared fixtures: real models loaded once per test session, and the shared datasets."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"

# Keep every test's store and caches out of the user's real folders.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """One embedding cache for the session (re-embedding a pool per test would cost minutes)."""
    os.environ["WORKBENCH_CACHE_DIR"] = str(tmp_path_factory.mktemp("workbench-cache"))
    yield


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch):
    """A store of its own for every test, so what one test saves never shows up in another."""
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))


@cache
def real_backend(model: str, backend: str = "llama.cpp"):
    """A real default model, loaded once per session (transformers takes 20-60 s on CPU)."""
    from workbench.backends import load_backend

    return load_backend(model, backend)


@pytest.fixture(scope="session")
def gemma():
    return real_backend("gemma-3-270m")


@pytest.fixture(scope="session")
def smollm():
    return real_backend("smollm2-135m-instruct")


def shared_dataset(name: str) -> Path:
    """Path of a shared dataset; skips the test cleanly when ../shared is absent."""
    path = SHARED_DATASETS / name
    if not path.is_file():
        pytest.skip(f"{path} not available (../shared/datasets is optional)")
    return path


@pytest.fixture
def fake_backend():
    """A fresh deterministic fake (tests/fakes.py) for orchestration logic; never for model behaviour."""
    from tests.fakes import FakeBackend

    return FakeBackend()
