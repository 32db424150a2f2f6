"""Speculative decoding on transformers: the traced verifier (one forward over the draft with a KV cache) and
transformers' own prompt lookup and assisted generation, timed against plain ``generate``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from workbench.backends.base import Backend, Timer
from workbench.backends.records import Generation
from workbench.backends.speculation import TimedRuns, Verifying
from workbench.decoding import DecodingConfig


class HFVerifier:
    """transformers: one forward over the tokens not yet in the KV cache plus the draft."""

    drafts_first = True  # a draft goes with the prompt's own pass

    def __init__(self, model) -> None:
        from transformers import DynamicCache

        self.model = model
        self.cache = DynamicCache(config=self.model.config)
        self.n = 0  # tokens in the cache

    def logits(self, ids: list[int], draft: list[int]) -> np.ndarray:
        import torch

        feed = ids[self.n:] + draft
        with torch.inference_mode():
            out = self.model(torch.tensor([feed], device=self.model.device), past_key_values=self.cache,
                             use_cache=True)
        self.n = len(ids) + len(draft)
        return out.logits[0, -(len(draft) + 1):].float().cpu().numpy()

    def draft_room(self, context: int, left: int) -> int:
        """Draft tokens worth sending with ``context`` tokens when ``left`` output tokens remain."""
        return left - 1  # the pass always yields one token of the target's own

    def keep(self, n: int) -> None:
        """Drop the cache entries of rejected draft tokens (everything past the first ``n`` tokens)."""
        if self.n > n:
            try:
                self.cache.crop(n - self.n)  # a negative count: tokens removed from the end
            except (RuntimeError, ValueError):  # a sliding-window layer past its window cannot be cropped
                from transformers import DynamicCache

                self.cache, n = DynamicCache(config=self.model.config), 0  # start over: re-read the context
        self.n = n


class HFSpeculation:
    """The speculative decoding of one :class:`~workbench.backends.hf.TransformersBackend`."""

    draft_models = True  # transformers' assisted generation takes a draft model

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def eos_ids(self) -> frozenset[int]:
        eos = self.backend.model.generation_config.eos_token_id or self.backend.tokenizer.eos_token_id
        return frozenset(eos if isinstance(eos, list) else [eos])

    @contextmanager
    def verifying(self, ids: list[int], cfg: DecodingConfig) -> Iterator[Verifying]:
        with self.backend.lock.hold():
            yield Verifying(HFVerifier(self.backend.model), self.eos_ids())

    def decode(self, ids: list[int]) -> str:
        return self.backend.tokenizer.decode(ids, skip_special_tokens=True)

    def plain_rows(self, prompt: str, cfg: DecodingConfig) -> None:
        return None  # the near-tie reference is llama.cpp's (its several-token passes differ from one-token ones)

    def generate(self, ids: list[int], cfg: DecodingConfig, draft_tokens: int = 0, ngram_size: int = 0,
                 draft: Backend | None = None) -> Generation:
        """transformers ``generate`` without the backend's prompt cache (so plain and speculative pay the same
        prompt pass), with prompt lookup (``draft_tokens`` > 0) or an assistant model (``draft``) when asked.
        The caller holds the model."""
        import torch

        backend = self.backend
        gen_cfg = backend.generation_config(cfg)
        extra: dict = {}
        if draft_tokens and draft is None:
            gen_cfg.prompt_lookup_num_tokens = draft_tokens
            gen_cfg.max_matching_ngram_size = ngram_size
        elif draft is not None:
            gen_cfg.num_assistant_tokens = draft_tokens
            gen_cfg.num_assistant_tokens_schedule = "constant"  # the draft length the user set, every step
            gen_cfg.assistant_confidence_threshold = 0.0  # never cut a draft short: the set length is what is measured
            extra["assistant_model"] = draft.model
            if backend.tokenizer.get_vocab() != draft.tokenizer.get_vocab():
                extra["assistant_tokenizer"] = draft.tokenizer  # universal assisted decoding
        timer = Timer()
        input_ids = torch.tensor([ids], device=backend.model.device)
        device = backend.model.device
        cuda = [device.index or 0] if device.type == "cuda" else []  # the generators fork_rng saves and restores
        with torch.inference_mode(), torch.random.fork_rng(devices=cuda):
            if cfg.seed is not None:
                torch.manual_seed(cfg.seed)
            seq = backend.model.generate(input_ids, attention_mask=torch.ones_like(input_ids),
                                         generation_config=gen_cfg, tokenizer=backend.tokenizer, **extra)[0].tolist()
        return backend.record(ids, seq[len(ids):], cfg, timer.seconds(), cfg.seed)

    def timed_runs(self, prompt: str, ids: list[int], cfg: DecodingConfig, draft_tokens: int, ngram_size: int,
                   draft: Backend | None = None, with_backend_plain: bool = False,
                   draft_name: str = "") -> TimedRuns:
        """``generate`` with ``prompt_lookup_num_tokens`` or ``assistant_model`` against ``generate`` without."""
        lock = self.backend.lock

        def plain() -> Generation:
            with lock.hold():
                return self.generate(ids, cfg)

        def speculative() -> Generation:
            with lock.hold():
                return self.generate(ids, cfg, draft_tokens, ngram_size, draft)

        label = (f"assisted ({draft_name or draft.spec.id}, transformers assistant_model)" if draft is not None
                 else "prompt-lookup (transformers prompt_lookup_num_tokens)")
        return TimedRuns(plain, speculative, label, "plain")
