"""A small deterministic backend for orchestration tests (resume, cancel, budgets, vote tables, page flows).

Model behaviour is tested on the real default models (tests/conftest.py ``gemma``, ``smollm``); this fake
only stands in where the test is about what the workbench does around the model, so it can assert exact
outputs quickly. One token per whitespace-separated word (with its leading whitespace); completions come
from a script; label scores from a table.

    >>> fake = FakeBackend(reply=lambda prompt, seed: f" seed {seed}")
    >>> fake.tokenize("Q: two words")
    [1, 2, 3]
    >>> fake.complete("Q: hi").text
    ' seed 0'
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping

import numpy as np

from workbench.backends.base import Backend, Generation, sample_seeds, truncate_at_stop
from workbench.backends.registry import ModelSpec

#: A scripted completion: (prompt text, sample seed) -> the completion's text.
Reply = Callable[[str, int | None], str]


class FakeBackend(Backend):
    """Deterministic stand-in: words are tokens, completions are scripted, scores come from a table."""

    name = "fake"
    device = "cpu"
    bos_text = ""

    def __init__(self, reply: Reply | None = None, scores: Mapping[str, float] | None = None,
                 context_window: int = 512, is_chat: bool = False):
        super().__init__(ModelSpec("fake", "", is_chat), context_window, None)
        self.reply = reply or (lambda prompt, seed: " ok")
        self.scores = dict(scores or {})  # continuation text -> its log-likelihood (default: -1 per word)
        self.prompts: list[str] = []  # every prompt generated from, in call order
        self.calls: list[int] = []  # sequences per generate call, in call order
        self.fail: Callable[[str], str | None] = lambda prompt: None  # prompt -> why its sequence fails (batches)
        self.scored: list[str] = []  # every prompt scored after, in call order
        self._ids: dict[str, int] = {}
        self._words: dict[int, str] = {}

    def _tokenize(self, text: str, add_bos: bool) -> list[int]:
        out = []
        for word in re.findall(r"\s*\S+|\s+$", text):
            if word not in self._ids:
                self._ids[word] = len(self._ids) + 1
                self._words[self._ids[word]] = word
            out.append(self._ids[word])
        return out

    def token_text(self, token_id: int) -> str:
        return self._words.get(token_id, "")

    def _text(self, ids: list[int]) -> str:
        return "".join(self.token_text(i) for i in ids)

    def _one(self, prompt: str, cfg, seed: int | None) -> Generation:
        self.prompts.append(prompt)
        words = re.findall(r"\s*\S+", self.reply(prompt, seed))
        text, stopped = truncate_at_stop("".join(words[: cfg.max_new_tokens]), cfg.stop)
        finish = "stop" if stopped or len(words) <= cfg.max_new_tokens else "length"
        return Generation(text, len(self.tokenize(prompt)), len(re.findall(r"\S+", text)), finish, 0.001,
                          seed if cfg.do_sample else None)

    def _generate(self, prompt_ids, cfg):
        """As a batching backend: up to ``batch_size`` sequences together (each Generation says how many); a
        sequence ``fail`` names fails alone, as llama.cpp's batch engine fails one it refuses."""
        sequences = len(prompt_ids) * cfg.n
        self.calls.append(sequences)
        together = min(self.batch_size, sequences)
        out = []
        for ids in prompt_ids:
            prompt, row = self._text(ids), []
            for seed in sample_seeds(cfg):
                why = self.fail(prompt)
                gen = Generation("", len(ids), 0, "error", 0.001, seed, error=why) if why else \
                    self._one(prompt, cfg, seed)
                row.append(dataclasses.replace(gen, batch=together))
            out.append(row)
        return out

    def _stream(self, prompt_ids, cfg):
        gen = self._one(self._text(prompt_ids), cfg, cfg.seed)
        for word in re.findall(r"\s*\S+", gen.text):
            yield word, None
        yield "", gen

    def _logits(self, ids):
        return np.zeros(max(len(self._words), 1) + 1, dtype=np.float32)

    def _continuation_logprobs(self, prompt_ids, continuations):
        self.scored.append(self._text(prompt_ids))
        out = []
        for ids in continuations:
            text = self._text(ids)
            out.append(self.scores.get(text.strip(), -1.0 * len(ids)))
        return out


def fake_server(monkeypatch=None, **capabilities) -> FakeBackend:
    """A fake declaring what a server cannot do (``Capabilities`` fields, e.g. ``full_logits=False``); with
    ``monkeypatch``, also the model every page's sidebar loads (the pages read its capabilities)."""
    from workbench.backends.base import Capabilities

    server = FakeBackend()
    server.name = "openai-compatible"
    server.capabilities = Capabilities(**capabilities)
    if monkeypatch is not None:
        import ui.common

        monkeypatch.setattr(ui.common, "cached_backend", lambda model, backend: server)
    return server
