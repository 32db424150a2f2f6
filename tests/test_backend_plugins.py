"""Backends as plugins: a backend defined here, added by the decorator or by an entry point, works end to end
(``workbench models`` lists it, ``workbench generate`` runs it) without editing the workbench."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from workbench.backends import BACKENDS, load_backend
from workbench.backends import kinds as kinds_module
from workbench.backends.base import Backend
from workbench.backends.kinds import BackendKind, backend_kind, backend_kinds, kind_for, register_backend, unregister
from workbench.backends.records import Generation
from workbench.backends.registry import ModelSpec
from workbench.cli import main
from workbench.decoding import DecodingConfig
from workbench.errors import ModelError

NAME = "echo-test"
PREFIX = "echo:"


class EchoBackend(Backend):
    """Echo: repeats the prompt's last word (a test backend; one byte per token)."""

    name = NAME

    @classmethod
    def load(cls, model: str, context_window: int) -> EchoBackend:
        return cls(ModelSpec(model, model, False, "an echo"), context_window, None)

    @property
    def device(self) -> str:
        return "nowhere"

    @property
    def bos_text(self) -> str:
        return ""

    def _tokenize(self, text: str, add_bos: bool) -> list[int]:
        return list(text.encode("utf-8"))

    def token_text(self, token_id: int) -> str:
        return bytes([token_id]).decode("utf-8", errors="replace")

    def _echo(self, ids: list[int], cfg: DecodingConfig) -> str:
        words = bytes(ids).decode("utf-8", errors="replace").split()
        return (words[-1] if words else "")[: cfg.max_new_tokens]

    def _generate(self, prompt_ids: list[list[int]], cfg: DecodingConfig) -> list[list[Generation]]:
        return [[Generation(self._echo(ids, cfg), len(ids), len(self._echo(ids, cfg).encode()), "stop", 0.001)
                 for _ in range(cfg.n)] for ids in prompt_ids]

    def _stream(self, prompt_ids: list[int], cfg: DecodingConfig) -> Iterator[tuple[str, Generation | None]]:
        text = self._echo(prompt_ids, cfg)
        yield from ((ch, None) for ch in text)
        yield "", Generation(text, len(prompt_ids), len(text.encode()), "stop", 0.001)

    def _logits(self, ids: list[int]) -> np.ndarray:
        logits = np.zeros(256, dtype=np.float32)
        logits[ids[-1]] = 5.0  # the last byte again is the likeliest
        return logits

    def _continuation_logprobs(self, prompt_ids: list[int], continuations: list[list[int]]) -> list[float]:
        return [-len(c) * float(np.log(256)) for c in continuations]


@pytest.fixture
def echo_registered():
    """The echo backend added with the decorator (the one registration line), dropped afterwards."""
    register_backend(NAME, recognises=lambda model: model.startswith(PREFIX))(EchoBackend)
    yield
    unregister(NAME)


def test_the_decorator_registers_a_kind_the_factory_and_auto_use(echo_registered):
    kind = backend_kind(NAME)
    assert kind.description == "Echo: repeats the prompt's last word (a test backend; one byte per token)."
    assert NAME in BACKENDS and NAME in backend_kinds() and BACKENDS[0] == "auto" and BACKENDS[-1] == NAME
    assert kind_for(PREFIX + "x") is kind  # the reference names it: auto picks it
    backend = load_backend(PREFIX + "model", "auto", 256)
    assert isinstance(backend, EchoBackend) and backend.context_window == 256
    assert backend.complete("say hello", DecodingConfig(max_new_tokens=3)).text == "hel"
    assert backend.stream("say hello", DecodingConfig()).text() == "hello"
    assert backend.next_token_distribution("ab", top=1)[0].text == "b"
    assert isinstance(load_backend("any-name", NAME), EchoBackend)  # asked for by name

    @register_backend("echo-unnamed", load=EchoBackend.load)
    class Unnamed(EchoBackend):
        """Echo, registered without a name of its own."""

        name = Backend.name

    try:
        assert Unnamed.name == "echo-unnamed" and backend_kind("echo-unnamed").description.startswith("Echo, registered")
    finally:
        unregister("echo-unnamed")


def test_a_name_cannot_be_taken_twice(echo_registered):
    with pytest.raises(ValueError, match="already registered"):
        register_backend(NAME, load=lambda model, window: None)(EchoBackend)
    with pytest.raises(ValueError, match="cannot name a backend"):
        register_backend("auto")(EchoBackend)


def test_an_unknown_backend_lists_the_registered_ones(echo_registered):
    with pytest.raises(ModelError, match=f"Unknown backend 'nope'; choose one of: auto, llama.cpp, .*{NAME}"):
        backend_kind("nope")


def test_cli_models_lists_a_registered_backend(echo_registered, capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert f"  {NAME}" in out and "repeats the prompt's last word" in out
    assert main(["models", "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[NAME]["kind"] == "backend" and rows["gemma-3-270m"]["kind"] == "base"


def test_cli_generate_uses_a_registered_backend(echo_registered, capsys):
    assert main(["generate", "--model", PREFIX + "m", "--prompt", "the word is banana"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "banana\n"
    assert f"[{PREFIX}m · {NAME}]" in captured.err
    assert main(["generate", "--backend", NAME, "--model", "anything", "--prompt", "x y", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["backend"], record["text"]) == (NAME, "y")


class FakeEntryPoint:
    """What importlib.metadata.entry_points gives: a name, a value and load()."""

    def __init__(self, name: str, loaded) -> None:
        self.name, self.value, self._loaded = name, f"fake_package:{name}", loaded

    def load(self):
        if isinstance(self._loaded, Exception):
            raise self._loaded
        return self._loaded


@pytest.fixture
def plugins(monkeypatch):
    """Entry points of the workbench.backends group, faked; loaded afresh once per test."""
    points: list[FakeEntryPoint] = []
    asked: list[str] = []

    def entry_points(group: str):
        asked.append(group)
        return list(points)

    monkeypatch.setattr(kinds_module, "entry_points", entry_points)
    monkeypatch.setattr(kinds_module, "_plugins_loaded", False)
    yield points, asked
    unregister(NAME)


def test_an_entry_point_adds_a_backend_once_and_lazily(plugins, capsys, caplog):
    points, asked = plugins
    kind = BackendKind(NAME, "an echo from a plugin package", EchoBackend.load,
                       recognises=lambda model: model.startswith(PREFIX))
    points += [FakeEntryPoint(NAME, kind), FakeEntryPoint("broken", ImportError("no module named broken_pkg"))]
    with caplog.at_level(logging.WARNING, logger="workbench.backends.kinds"):
        assert main(["models"]) == 0
    assert asked == ["workbench.backends"]
    assert "an echo from a plugin package" in capsys.readouterr().out
    assert "The backend plugin broken (fake_package:broken) could not be loaded: no module named broken_pkg" \
        in caplog.text  # a broken plugin is skipped with a warning; the others load
    assert main(["generate", "--model", PREFIX + "m", "--prompt", "plug in"]) == 0
    assert capsys.readouterr().out == "in\n"
    backend_kinds()
    assert asked == ["workbench.backends"]  # read once per process


class _ListsBackendsWhileLoading(FakeEntryPoint):
    """A plugin whose module, while it is imported, asks which backends exist (as a module building a parser
    or a picker at import time does)."""

    def load(self):
        assert "llama.cpp" in BACKENDS
        return super().load()


def test_a_plugin_that_lists_the_backends_while_loading_does_not_hang(plugins):
    points, _ = plugins
    kind = BackendKind(NAME, "an echo from a plugin package", EchoBackend.load)
    points.append(_ListsBackendsWhileLoading(NAME, kind))
    outcome: list[object] = []
    worker = threading.Thread(target=lambda: outcome.append(backend_kinds()), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "loading the plugins deadlocked"
    assert NAME in outcome[0]
