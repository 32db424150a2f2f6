"""The llama.cpp backend (``llama-cpp-python``): a loaded GGUF model on the CPU. Load it with
:func:`workbench.backends.llamacpp.load_llamacpp`.

It reuses the KV cache of a prompt's exact head between calls, so configs that share a prompt do not
recompute it.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator

import numpy as np

from workbench.backends.base import Backend, Timer, sample_seeds
from workbench.backends.llamacpp_speculation import LlamaSpeculation
from workbench.backends.records import Generation
from workbench.backends.registry import ModelSpec
from workbench.decoding import SAMPLER_ORDERS, DecodingConfig
from workbench.errors import ConfigError


class _Processor:
    """A llama-cpp-python logits processor: the config's penalties over every token so far (prompt and
    output), then -- when ``order`` is given -- the sampling warpers in that order."""

    def __init__(self, cfg: DecodingConfig, order: tuple[str, ...] | None):
        self.cfg, self.order = cfg, order

    def __call__(self, input_ids, scores):
        from workbench.warpers import apply_penalties, apply_samplers

        x = apply_penalties(scores, self.cfg, input_ids)
        return x if self.order is None else apply_samplers(x, self.cfg, self.order)


class LlamaCppBackend(Backend):
    """A GGUF model in llama.cpp. Build it with :func:`load_llamacpp`."""

    name = "llama.cpp"
    sampler_order = SAMPLER_ORDERS["llama.cpp"]

    def __init__(self, spec: ModelSpec, llm, *, kernels: str = "fast", batch_size: int = 1,
                 loader: Callable[..., LlamaCppBackend] | None = None):
        import llama_cpp

        template = llm.metadata.get("tokenizer.chat_template") if spec.is_chat else None
        # llama.cpp may round its window up; the token buffer keeps the size asked for, so the smaller counts.
        super().__init__(spec, min(llm.n_ctx(), len(llm.input_ids)), template)
        self.llm = llm
        self.chat_template_source = f"{spec.path} (GGUF header)"  # "The chat template of <this> failed: ..."
        self._n_vocab = llm.n_vocab()
        bos = llm.token_bos()
        adds_bos = llama_cpp.llama_vocab_get_add_bos(llama_cpp.llama_model_get_vocab(llm.model))
        self._bos_text = self.token_text(bos) if bos >= 0 and adds_bos else ""
        self._clean = 0  # length of the cached prefix evaluated in canonical batches
        eos = llm.token_eos()
        self._eos_text = self.token_text(eos) if eos >= 0 else ""
        self.batch_size = batch_size  # sequences decoded together by generate() (load_llamacpp: WORKBENCH_BATCH)
        self.kernels = kernels  # llama.cpp's CPU kernels the model was loaded with (load_llamacpp: WORKBENCH_KERNELS)
        self._engine = None  # the BatchEngine (a second context), created on the first batched call
        self.last_batch = None  # the BatchRun of the last batched generate (batch size, steps, prefix shared)
        self.loader = loader  # load_llamacpp, for a second load of the file (speculative decoding); None: none

    @property
    def device(self) -> str:
        return "cpu"

    def speculation(self) -> LlamaSpeculation | None:
        """Speculative decoding on a second ``Llama`` of the same file (prompt lookup; see llamacpp_speculation)."""
        return None if self.loader is None else LlamaSpeculation(self, self.loader)

    @property
    def bos_text(self) -> str:
        return self._bos_text

    @property
    def eos_text(self) -> str:
        return self._eos_text

    def _tokenize(self, text: str, add_bos: bool) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def token_text(self, token_id: int) -> str:
        return self.llm.detokenize([token_id], special=True).decode("utf-8", errors="replace")

    # ---- generation -----------------------------------------------------------------
    def _completion_kwargs(self, cfg: DecodingConfig) -> dict:
        """llama-cpp-python's arguments for ``cfg``.

        Penalties run in a logits processor (numpy, :mod:`workbench.warpers`) over the whole text --
        prompt and output, as Hugging Face does -- because llama.cpp's own penalty sampler only ever
        sees the tokens generated in this call. The sampling warpers run in llama.cpp's own chain when
        the config keeps llama.cpp's order (top-k, typical, top-p, min-p, temperature last); in any
        other order they run in the processor, and llama.cpp's chain is left with nothing but the draw.
        """
        import llama_cpp

        if cfg.num_beams > 1:
            raise ConfigError("Beam search needs the transformers backend; set num_beams=1 for llama.cpp.")
        order = cfg.order_on(self.sampler_order)
        native = order == self.sampler_order or not cfg.do_sample
        penalties = cfg.repetition_penalty != 1.0 or cfg.no_repeat_ngram_size > 0
        processor = None
        if penalties or not native:
            processor = _Processor(cfg, None if native else order)
        kwargs = dict(
            max_tokens=cfg.max_new_tokens,
            temperature=0.0,
            top_k=0,  # 0 = whole vocabulary in llama.cpp too
            top_p=1.0,
            min_p=0.0,
            typical_p=1.0,
            repeat_penalty=1.0,  # penalties run in the processor, over prompt + output
            stop=list(cfg.stop) or None,
            logits_processor=None if processor is None else llama_cpp.LogitsProcessorList([processor]),
        )
        if cfg.do_sample:
            kwargs["temperature"] = 1.0
            if native:
                kwargs.update(temperature=cfg.temperature, top_k=cfg.top_k, top_p=cfg.top_p, min_p=cfg.min_p,
                              typical_p=cfg.typical_p)
        return kwargs

    def _generate(self, prompt_ids: list[list[int]], cfg: DecodingConfig) -> list[list[Generation]]:
        """``cfg.n`` samples of each prompt: several sequences per decode step when ``batch_size`` > 1 and
        there is more than one sequence (see :mod:`workbench.backends.llamacpp_batch`), else one at a time."""
        kwargs = self._completion_kwargs(cfg)
        if self.batch_size > 1 and len(prompt_ids) * cfg.n > 1:
            return self._generate_batched(prompt_ids, cfg, kwargs)
        out = []
        for ids in prompt_ids:
            row = []
            for seed in sample_seeds(cfg):
                timer = Timer()
                self._prime(ids)
                res = self.llm.create_completion(ids, seed=seed, **kwargs)
                choice = res["choices"][0]
                row.append(
                    Generation(
                        text=choice["text"],
                        prompt_tokens=len(ids),
                        completion_tokens=res["usage"]["completion_tokens"],
                        finish_reason=choice["finish_reason"] or "stop",
                        seconds=timer.seconds(),
                        seed=seed if cfg.do_sample else None,
                    )
                )
            out.append(row)
        return out

    def _generate_batched(self, prompt_ids: list[list[int]], cfg: DecodingConfig, kwargs: dict
                          ) -> list[list[Generation]]:
        """The batched path: the same sampler chain and end conditions as create_completion, per sequence.

        A sequence llama.cpp refuses comes back failed (finish_reason "error", the reason in
        ``Generation.error``); the others complete. ``last_batch`` records what the batch did.
        """
        from workbench.backends.llamacpp_batch import Job

        seeds = [s if cfg.do_sample else None for s in sample_seeds(cfg)]
        jobs = [Job(tuple(ids), seed) for ids in prompt_ids for seed in seeds]
        gens, self.last_batch = self._batch_engine().run(jobs, self._sampling(kwargs))
        return [gens[i * cfg.n:(i + 1) * cfg.n] for i in range(len(prompt_ids))]

    def _generate_configs(self, prompt_ids: list[int], cfgs: list[DecodingConfig]) -> list[list[Generation]]:
        """Every config's samples of one prompt in one batch when ``batch_size`` > 1: each sequence with its
        own config's sampler chain, seed, stop strings and budget (the prompt is read once for all)."""
        if self.batch_size <= 1 or sum(c.n for c in cfgs) <= 1:
            return super()._generate_configs(prompt_ids, cfgs)
        from workbench.backends.llamacpp_batch import Job

        jobs = [Job(tuple(prompt_ids), seed if c.do_sample else None, self._sampling(self._completion_kwargs(c)))
                for c in cfgs for seed in sample_seeds(c)]
        gens, self.last_batch = self._batch_engine().run(jobs, jobs[0].sampling)
        out, at = [], 0
        for c in cfgs:
            out.append(gens[at:at + c.n])
            at += c.n
        return out

    def _batch_engine(self):
        from workbench.backends.llamacpp_batch import BatchEngine

        if self._engine is None or self._engine.size != self.batch_size:
            if self._engine is not None:
                self._engine.close()
            self._engine = BatchEngine(self.llm, self.batch_size, self.context_window)
        return self._engine

    @staticmethod
    def _sampling(kwargs: dict):
        """create_completion's settings as the batch engine takes them."""
        from workbench.backends.llamacpp_batch import Sampling

        return Sampling(
            temperature=kwargs["temperature"], top_k=kwargs["top_k"], top_p=kwargs["top_p"], min_p=kwargs["min_p"],
            typical_p=kwargs["typical_p"], max_tokens=kwargs["max_tokens"], stop=tuple(kwargs["stop"] or ()),
            processor=kwargs["logits_processor"],
        )

    def _stream(self, prompt_ids: list[int], cfg: DecodingConfig) -> Iterator[tuple[str, Generation | None]]:
        kwargs = self._completion_kwargs(cfg)
        seed = cfg.seed
        timer = Timer()
        pieces: list[str] = []
        finish = "length"
        n_tokens = 0
        self._prime(prompt_ids)
        for chunk in self.llm.create_completion(prompt_ids, seed=seed, stream=True, **kwargs):
            choice = chunk["choices"][0]
            if choice["text"]:
                n_tokens += 1
                pieces.append(choice["text"])
                yield choice["text"], None
            if choice.get("finish_reason"):
                finish = choice["finish_reason"]
        text = "".join(pieces)
        # Streamed chunks can merge tokens; count the final text's tokens for the record.
        completion_tokens = len(self._tokenize(text, add_bos=False)) if text else 0
        yield "", Generation(text, len(prompt_ids), completion_tokens, finish, timer.seconds(),
                             seed if cfg.do_sample else None)

    # ---- prompt evaluation ----------------------------------------------------------
    # llama.cpp's logits depend on how a prompt was split into decode calls (up to ~1.2 on an 82-token
    # prompt, even with the exact kernels). So that "same seed, same settings => same text" holds whatever
    # was in the cache before -- and the batch engine, which reads every head whole, gives the same text --
    # every prompt is brought to one canonical state: all but its last token evaluated from position 0 in
    # chunks of n_batch (never a lone last token), the last token alone. A cached head is reused only when
    # it is exactly this prompt's head (Generate again, more samples, the label scores of one prompt).
    def _prime(self, ids: list[int]) -> None:
        """Leave exactly ``ids[:-1]`` in the KV cache, evaluated canonically (see above)."""
        llm = self.llm
        target = len(ids) - 1
        same = self._clean == target <= llm.n_tokens and list(llm.input_ids[:target]) == list(ids[:target])
        llm.n_tokens = target if same else 0
        llm.eval([])  # drops cached entries beyond n_tokens
        rest = [] if same else ids[:target]
        step = llm.n_batch
        while rest:
            chunk = rest[:step] if len(rest) - step != 1 else rest[: step - 1]
            llm.eval(chunk)
            rest = rest[len(chunk):]
        self._clean = target

    def _logits(self, ids: list[int]) -> np.ndarray:
        self._prime(ids)
        self.llm.eval(ids[-1:])
        return self._last_logits()

    def _last_logits(self) -> np.ndarray:
        import llama_cpp

        ptr = llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
        arr = np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), shape=(self._n_vocab,))
        return arr.copy()

    def _continuation_logprobs(self, prompt_ids: list[int], continuations: list[list[int]]) -> list[float]:
        """Each continuation's log-probability after the prompt. The prompt is read once: its last logits serve
        every continuation's first token, and a longer continuation goes back to the prompt's exact cache state
        (head read canonically, last token alone) before reading its own tokens."""
        first = self._logits(prompt_ids)
        results = []
        for cont in continuations:
            total = 0.0
            logits = first
            for i, token in enumerate(cont):
                if i:
                    if i == 1:  # back to the prompt: drop an earlier continuation's tokens from the cache
                        self.llm.n_tokens = len(prompt_ids)
                    self.llm.eval([cont[i - 1]])
                    logits = self._last_logits()
                row = logits.astype(np.float64)
                top = row.max()
                total += float(row[token] - top - np.log(np.exp(row - top).sum()))
            results.append(total)
        return results

    def _release(self) -> None:
        if self._engine is not None:
            self._engine.close()  # its context lives on the model: free it first
        self.llm.close()
