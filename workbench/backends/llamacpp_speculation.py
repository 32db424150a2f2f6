"""Speculative decoding on llama.cpp: a second ``Llama`` over the same GGUF file with a logits row for every
position (the traced verifier reads them) and llama-cpp-python's ``LlamaPromptLookupDecoding`` as its
``draft_model`` (its own speculative loop, for the speed figure)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from workbench.backends.base import Backend
from workbench.backends.records import Generation
from workbench.backends.speculation import TimedRuns, Verifying
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError

#: The window of the speculative ``Llama``: its ``scores`` array holds window x vocabulary floats (1 MB per
#: row for Gemma's 262,144 tokens), so it is smaller than the chat window by default.
SPECULATIVE_WINDOW = 1024

_SPEC_BACKENDS: dict[tuple[str, int], Backend] = {}
_SPEC_LOAD = threading.Lock()  # one load per (file, window), even when two sessions ask at once
_SPEC_RUN = threading.RLock()  # the drafter's settings and the run that uses them go together


class LlamaVerifier:
    """llama.cpp: ``eval`` of the draft in a ``Llama`` with ``logits_all=True``; ``scores`` holds every row.

    It feeds the ``Llama`` exactly as llama-cpp-python's own speculative loop (``Llama.generate`` with a
    ``draft_model``) does, so the trace shows the batches the timed run computes: the prompt but its last token in
    one batch, the last prompt token alone (nothing is drafted before the first token), then per step the last
    output token plus the whole draft in one batch. llama.cpp's logits depend on the batch size (see
    :func:`workbench.speculative.runs.compare`), so feeding it differently could change the text.
    """

    drafts_first = False  # llama-cpp-python drafts only after its first token

    def __init__(self, llm) -> None:
        self.llm = llm
        self.llm.n_tokens = 0
        self.llm.eval([])  # an empty cache (eval drops entries beyond n_tokens)

    def logits(self, ids: list[int], draft: list[int]) -> np.ndarray:
        llm = self.llm
        if llm.n_tokens == 0:
            if len(ids) > 1:
                llm.eval(ids[:-1])
            llm.eval(ids[-1:])
        else:
            llm.eval(ids[llm.n_tokens:] + draft)
        return np.array(llm.scores[len(ids) - 1: len(ids) + len(draft)], dtype=np.float32)

    def draft_room(self, context: int, left: int) -> int:
        """llama-cpp-python cuts a draft only at the end of the window, not at max_tokens (the batch size is what
        matters for the logits, so the trace sends the same)."""
        return self.llm.n_ctx() - context

    def keep(self, n: int) -> None:
        self.llm.n_tokens = n


def speculative_backend(backend: Backend, loader: Callable[..., Backend],
                        context_window: int | None = None) -> Backend:
    """The second llama.cpp backend over the same GGUF file that speculative decoding uses, loaded once per file
    and window with ``loader`` (:func:`workbench.backends.llamacpp.load_llamacpp`): ``logits_all=True`` (a logits row for every
    position, which the traced verifier reads) and llama-cpp-python's ``LlamaPromptLookupDecoding`` as its
    ``draft_model`` (its own speculative loop, for the speed figure). Its ``generate`` is the backend's usual one.
    """
    window = min(context_window or SPECULATIVE_WINDOW, backend.context_window)
    key = (backend.spec.path, window)
    with _SPEC_LOAD:
        if key not in _SPEC_BACKENDS:
            from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

            # the loader gives verification passes (batches) the WORKBENCH_THREADS threads too (n_threads_batch).
            _SPEC_BACKENDS[key] = loader(backend.spec, window, None, logits_all=True,
                                         draft_model=LlamaPromptLookupDecoding())
        return _SPEC_BACKENDS[key]


class LlamaSpeculation:
    """The speculative decoding of one :class:`~workbench.backends.llamacpp_backend.LlamaCppBackend`."""

    draft_models = False  # llama-cpp-python ships prompt lookup only

    def __init__(self, backend: Backend, loader: Callable[..., Backend]) -> None:
        self.backend = backend
        self.loader = loader  # load_llamacpp: the speculative Llama is a second load of the same file

    @contextmanager
    def verifying(self, ids: list[int], cfg: DecodingConfig) -> Iterator[Verifying]:
        needed = len(ids) + cfg.max_new_tokens
        if needed > SPECULATIVE_WINDOW:
            raise ConfigError(f"The prompt plus max_new_tokens ({needed} tokens) exceeds the speculative window of "
                              f"{SPECULATIVE_WINDOW} tokens on llama.cpp; shorten the prompt or max_new_tokens.")
        fast = speculative_backend(self.backend, self.loader)
        with fast.lock.hold():  # the speculative Llama is shared with the speed path: one caller at a time
            try:
                yield Verifying(LlamaVerifier(fast.llm), frozenset({int(self.backend.llm.token_eos())}))
            finally:
                # Keep only the prompt but its last token, evaluated in one batch as the backend primes a prompt of
                # up to n_batch + 1 tokens; the trace's output was evaluated in draft-sized batches and must not be
                # reused.
                fast.llm.n_tokens = len(ids) - 1 if len(ids) - 1 <= fast.llm.n_batch else 0

    def decode(self, ids: list[int]) -> str:
        return self.backend.llm.detokenize(ids).decode("utf-8", errors="replace")

    @staticmethod
    def _run(fast: Backend, prompt: str, cfg: DecodingConfig, draft_tokens: int, ngram_size: int
             ) -> Generation:
        """One ``generate`` of the speculative backend with its drafter set to ``draft_tokens`` (0: no drafts, so
        llama-cpp-python's loop is plain one-token decoding on the very same ``Llama``)."""
        with _SPEC_RUN:
            drafter = fast.llm.draft_model
            drafter.num_pred_tokens, drafter.max_ngram_size = draft_tokens, ngram_size
            return fast.generate([prompt], cfg)[0][0]

    def timed_runs(self, prompt: str, ids: list[int], cfg: DecodingConfig, draft_tokens: int, ngram_size: int,
                   draft=None, with_backend_plain: bool = False, draft_name: str = "") -> TimedRuns:
        """llama-cpp-python's own ``LlamaPromptLookupDecoding`` loop against the same loop on the same ``Llama``
        with the drafter proposing nothing (plain decoding, like with like); ``with_backend_plain`` adds plain
        runs of the user's own backend (``logits_all=False``)."""
        fast = speculative_backend(self.backend, self.loader)
        cfg.check_fits(len(ids), fast.context_window)

        def own() -> Generation:  # what the user's own backend (logits_all=False) does without drafts
            return self.backend.generate([prompt], cfg)[0][0]

        return TimedRuns(lambda: self._run(fast, prompt, cfg, 0, ngram_size),
                         lambda: self._run(fast, prompt, cfg, draft_tokens, ngram_size),
                         "prompt-lookup (llama-cpp-python LlamaPromptLookupDecoding)",
                         "plain (the same Llama, no drafts)", own if with_backend_plain else None)

    def plain_rows(self, prompt: str, cfg: DecodingConfig) -> tuple[Generation, np.ndarray]:
        """Plain greedy decoding on the speculative ``Llama`` and the ``logits_all`` row each token was chosen
        from."""
        fast = speculative_backend(self.backend, self.loader)
        n_prompt = len(self.backend.tokenize(prompt))
        with _SPEC_RUN:
            gen = self._run(fast, prompt, cfg, 0, 1)
            rows = np.array(fast.llm.scores[n_prompt - 1: n_prompt - 1 + gen.completion_tokens], dtype=np.float32)
        return gen, rows
