"""The backend contract every model implementation fulfils.

A backend wraps one loaded model. Subclasses implement a handful of small
primitives (``_tokenize``, ``_generate``, ``_stream``, ``_logits``,
``_continuation_logprobs``); this base class adds validation, the per-model lock
and everything derivable from the primitives, so each backend stays small and
both behave the same way in front of the user.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from workbench.backends.lock import ModelLock
from workbench.backends.records import Capabilities, Generation, Scored, TokenProb
from workbench.decoding import SAMPLER_ORDERS, DecodingConfig
from workbench.errors import ConfigError, ModelError, PromptError

if TYPE_CHECKING:
    from workbench.backends.registry import ModelSpec
    from workbench.backends.speculation import Speculation


class TextStream:
    """Iterate to receive text pieces as they are generated; then read ``generation``.

    Closing the stream early (``close()`` or leaving a ``for`` loop) stops the
    model and frees it for other users.
    """

    def __init__(self, pieces: Iterator[str], finish: Callable[[], Generation]):
        self._pieces = pieces
        self._finish = finish
        self.generation: Generation | None = None

    def __iter__(self) -> Iterator[str]:
        yield from self._pieces
        self.generation = self._finish()

    def close(self) -> None:
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()

    def text(self) -> str:
        """Consume the whole stream and return the full text."""
        return "".join(self)


class Backend(ABC):
    """A loaded model. Thread-safe: calls on one backend are serialised by ``lock``."""

    #: Short name shown to users ("llama.cpp", "transformers").
    name: str = "backend"
    #: The order this backend applies the sampling warpers in when a config leaves it open.
    sampler_order: tuple[str, ...] = SAMPLER_ORDERS["transformers"]

    #: What this backend can do; the pages read it instead of finding out from an exception.
    capabilities: Capabilities = Capabilities()
    #: Sequences one ``generate`` call decodes together at most (1 = one at a time; a loader may set more).
    batch_size: int = 1
    #: Continuous batching across callers (:class:`~workbench.backends.llamacpp_shared.SharedDecoder`): when
    #: set, ``generate`` and ``stream`` go to it instead of queueing on ``lock``; None = the lock.
    shared = None

    def __init__(self, spec: ModelSpec, context_window: int, chat_template: str | None, slots: int = 1):
        self.spec = spec
        self.context_window = context_window
        self.chat_template = chat_template
        self.lock = ModelLock(slots)  # ``slots`` calls at once (a server takes several)
        self.closed = False  # set by close()

    # ---- what a subclass provides -------------------------------------------------
    @property
    @abstractmethod
    def device(self) -> str:
        """Where the model runs, for the sidebar ("cpu", "cuda:0")."""

    @property
    @abstractmethod
    def bos_text(self) -> str:
        """The text of the beginning-of-sequence token, "" if the model has none."""

    @abstractmethod
    def _tokenize(self, text: str, add_bos: bool) -> list[int]:
        """Token ids of ``text`` (special tokens in the text are parsed)."""

    @abstractmethod
    def token_text(self, token_id: int) -> str:
        """The text one token stands for."""

    @abstractmethod
    def _generate(self, prompt_ids: list[list[int]], cfg: DecodingConfig) -> list[list[Generation]]:
        """``cfg.n`` generations for each prompt."""

    @abstractmethod
    def _stream(self, prompt_ids: list[int], cfg: DecodingConfig) -> Iterator[tuple[str, Generation | None]]:
        """Yield ``(piece, None)`` while generating and ``("", generation)`` last."""

    @abstractmethod
    def _logits(self, ids: list[int]) -> np.ndarray:
        """Raw next-token logits (float32, vocabulary-sized) after ``ids``."""

    @abstractmethod
    def _continuation_logprobs(self, prompt_ids: list[int], continuations: list[list[int]]) -> list[float]:
        """Sum of log-probabilities of each continuation's tokens after the prompt."""

    def _model_ids(self, text: str) -> list[int]:
        """The ids the model reads for ``text`` as sent: BOS added unless the text has it (override where
        the model's own tokenizer decides, e.g. a server)."""
        return self._tokenize(text, bool(self.bos_text) and not text.startswith(self.bos_text))

    def _top_tokens(self, ids: list[int], top: int) -> list[TokenProb]:
        """The ``top`` most likely next tokens after ``ids``, from the full logits (override where only the
        top log-probabilities are known)."""
        logits = self._logits(ids).astype(np.float64)
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        order = np.argsort(-logits, kind="stable")[:top]
        return [TokenProb(int(i), self.token_text(int(i)), float(probs[i]), float(logits[i])) for i in order]

    def speculation(self) -> Speculation | None:
        """Speculative decoding on this backend (:mod:`workbench.backends.speculation`); None: not offered."""
        return None

    def _release(self) -> None:  # noqa: B027 - optional hook
        """Free the model's native memory (optional)."""

    def close(self) -> None:
        """Free the model's memory; later calls raise ModelError instead of touching freed native memory."""
        if not self.closed:
            self.closed = True
            if self.shared is not None:
                self.shared.close()
            self._release()

    def _check_open(self) -> None:
        if self.closed:
            raise ModelError(f"Model {self.spec.id} has been closed; load it again to use it.")

    # ---- the public contract ------------------------------------------------------
    @property
    def is_chat(self) -> bool:
        return self.spec.is_chat

    def tokenize(self, text: str) -> list[int]:
        """Token ids as the model sees the text: BOS is added unless the text has it."""
        self._check_open()
        return self._model_ids(text)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def generate(
        self,
        prompts: Sequence[str],
        cfg: DecodingConfig,
        on_wait: Callable[[int], None] | None = None,
    ) -> list[list[Generation]]:
        """``cfg.n`` generations per prompt, in prompt order."""
        if isinstance(prompts, str):
            prompts = [prompts]
        ids = [self.prompt_ids(p, cfg) for p in prompts]  # tokenize checks the model is open
        if self.shared is not None:
            return self.shared.generate(ids, cfg, on_wait)
        with self.lock.hold(on_wait):
            return self._generate(ids, cfg)

    def generate_configs(
        self,
        prompt: str,
        cfgs: Sequence[DecodingConfig],
        on_wait: Callable[[int], None] | None = None,
    ) -> list[list[Generation]]:
        """``cfg.n`` generations of one prompt under each config, in config order (the Decoding Lab's
        configs side by side): one call, so a batching backend decodes every config's samples together."""
        if not cfgs:
            return []
        checked = [self.prompt_ids(prompt, c) for c in cfgs]  # every config's budget must fit the window
        if self.shared is not None:
            return self.shared.generate_configs(list(zip(checked, cfgs, strict=True)), on_wait)
        with self.lock.hold(on_wait):
            return self._generate_configs(checked[0], list(cfgs))

    def _generate_configs(self, prompt_ids: list[int], cfgs: list[DecodingConfig]) -> list[list[Generation]]:
        """Every config's samples of one prompt; by default config after config (a batching backend
        overrides it to decode them together)."""
        return [self._generate([prompt_ids], c)[0] for c in cfgs]

    def complete(self, prompt: str, cfg: DecodingConfig | None = None) -> Generation:
        """One generation for one prompt (the first sample when ``cfg.n > 1``)."""
        return self.generate([prompt], cfg or DecodingConfig())[0][0]

    def stream(
        self,
        prompt: str,
        cfg: DecodingConfig,
        on_wait: Callable[[int], None] | None = None,
    ) -> TextStream:
        """Stream one completion; the model is held until the stream ends or is closed."""
        if cfg.n != 1:
            raise ConfigError("Streaming shows one sample; set n=1 or use generate for several.")
        ids = self.prompt_ids(prompt, cfg)
        result: list[Generation] = []

        def pieces() -> Iterator[str]:
            shared = self.shared
            with contextlib.nullcontext() if shared is not None else self.lock.hold(on_wait):
                started, first = time.perf_counter(), None
                source = self._stream(ids, cfg) if shared is None else shared.stream(ids, cfg, on_wait)
                with contextlib.closing(source):  # a closed stream closes its source at once (frees a slot)
                    for piece, gen in source:
                        if gen is not None:
                            if gen.prompt_seconds is None and first is not None:  # the time to the first token
                                gen = dataclasses.replace(gen, prompt_seconds=min(first - started, gen.seconds))
                            result.append(gen)
                        elif piece:
                            if first is None:
                                first = time.perf_counter()
                            yield piece

        return TextStream(pieces(), lambda: result[-1])

    def next_token_logits(self, prompt: str | Sequence[int]) -> np.ndarray:
        """Raw logits for the next token after a prompt (text or token ids)."""
        ids = self._ids_for(prompt)
        with self.lock.hold():
            return self._logits(ids)

    def next_token_distribution(self, prompt: str | Sequence[int], top: int = 20) -> list[TokenProb]:
        """The ``top`` most likely next tokens with their probabilities, most likely first."""
        ids = self._ids_for(prompt)
        with self.lock.hold():
            return self._top_tokens(ids, int(top))

    def score(self, prompt: str, continuations: Sequence[str]) -> list[float]:
        """Log-likelihood of each continuation after the prompt (sum over its tokens); see :meth:`score_details`."""
        return [s.logprob for s in self.score_details(prompt, continuations)]

    def score_details(self, prompt: str, continuations: Sequence[str]) -> list[Scored]:
        """Each continuation's log-likelihood after the prompt, with its length in tokens and bytes.

        Tokenised as lm-evaluation-harness does: whitespace at the end of the prompt moves to
        the front of each continuation, and a continuation's tokens are those of
        ``tokenize(prompt + continuation)`` after the prompt's own tokens -- the tokens the
        model would read if the text went on that way. So "positive" and " positive" are
        different continuations, as they are to the model.
        """
        if not continuations:
            raise ConfigError("score needs at least one continuation.")
        if not isinstance(prompt, str):
            raise PromptError("Scoring needs the prompt as text.")
        stripped = prompt.rstrip()
        moved = prompt[len(stripped):]
        prompt_ids = self._ids_for(stripped or prompt)
        cont_ids = []
        for c in continuations:
            if not isinstance(c, str) or not c:
                raise PromptError(f"Continuation {c!r} has no tokens; give a non-empty label word.")
            whole = self.tokenize(prompt + c)
            ids = whole[len(prompt_ids):]
            if not ids:
                raise PromptError(f"Continuation {c!r} has no tokens of its own after the prompt; "
                                  "give a longer label word.")
            cont_ids.append(ids)
        longest = max(len(c) for c in cont_ids)
        if len(prompt_ids) + longest > self.context_window:
            raise PromptError(
                f"The prompt ({len(prompt_ids)} tokens) plus the longest continuation ({longest}) "
                f"exceeds the context window of {self.context_window} tokens; shorten the prompt."
            )
        with self.lock.hold():
            sums = self._continuation_logprobs(prompt_ids, cont_ids)
        return [Scored(float(lp), len(ids), len((moved + c).encode("utf-8")))
                for lp, ids, c in zip(sums, cont_ids, continuations, strict=True)]

    def format_chat(self, messages: Sequence[dict], add_generation_prompt: bool = True) -> str:
        """Render chat messages with the model's own chat template (the exact text sent)."""
        from workbench.chat import render_chat_template

        if not self.chat_template:
            raise PromptError(
                f"Model {self.spec.id} has no chat template; use raw completion prompts for it."
            )
        return render_chat_template(
            self.chat_template,
            messages,
            source=getattr(self, "chat_template_source", str(self.spec.id)),
            bos_token=self.bos_text,
            eos_token=self.eos_text,
            add_generation_prompt=add_generation_prompt,
        )

    @property
    def eos_text(self) -> str:
        return ""

    # ---- helpers ------------------------------------------------------------------
    def _ids_for(self, prompt: str | Sequence[int]) -> list[int]:
        self._check_open()
        if isinstance(prompt, str):
            if not prompt.strip():
                raise PromptError("The prompt is empty; type some text to complete.")
            ids = self.tokenize(prompt)
        else:
            ids = [int(i) for i in prompt]
        if len(ids) >= self.context_window:
            raise PromptError(
                f"The prompt has {len(ids)} tokens but the context window is "
                f"{self.context_window}; shorten it or drop demonstrations."
            )
        return ids

    def prompt_ids(self, prompt: str, cfg: DecodingConfig) -> list[int]:
        """The token ids of a non-empty prompt whose generation under ``cfg`` fits the context window."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise PromptError("The prompt is empty; type some text to complete.")
        ids = self.tokenize(prompt)
        cfg.check_fits(len(ids), self.context_window)
        return ids


def truncate_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` at the earliest stop string; return the text and whether one was found.

    >>> truncate_at_stop("4\\nQ: next", ["\\nQ:"])
    ('4', True)
    """
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def sample_seeds(cfg: DecodingConfig) -> list[int | None]:
    """The seed of each of the ``cfg.n`` samples: seed, seed+1, ... (None stays None)."""
    return [None if cfg.seed is None else cfg.seed + i for i in range(cfg.n)]


class Timer:
    """Wall-clock seconds since creation (perf_counter)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.start
