"""Batched generation on llama.cpp: several sequences per ``llama_decode`` step.

A :class:`BatchEngine` owns a second llama.cpp context on the backend's model (created lazily from
public calls: ``llama_init_from_model`` with a copy of the backend's ``context_params``) holding up to
``size`` sequences, each in a KV stream of its own (``kv_unified`` off). One call to :meth:`BatchEngine.run`:

1. evaluates each prompt's head (all but its last token) once, from position 0, and copies it to the
   prompt's other samples (``llama_memory_seq_cp``); the last head evaluated stays in a holder
   sequence, so the next call on the same prompt (Generate again, more samples) skips it;
2. then decodes one token of every live sequence per ``llama_decode``; a finished sequence frees its
   slot for the next one waiting.

Prompts that share only a prefix (few-shot demonstrations) are NOT evaluated once for the shared
part: each head is evaluated whole from position 0, as the one-at-a-time path evaluates it. llama.cpp's
logits depend on how a prompt was split into decode calls (measured on gemma-3-270m, exact kernels: an
82-token prompt read in two calls instead of one moved the next logits by up to ~1.2), so a shared prefix
would make a sequence's text depend on the other prompts of its batch.

Why separate streams: in one unified cell pool a sequence's tokens land in cells whose indices depend
on the other sequences, and llama.cpp's attention sums run over cell indices, so the same sequence's
logits then changed by up to ~1.2 with the batch around it (measured on gemma-3-270m Q4). In a stream of
its own a sequence's cells sit at its positions, as in the one-at-a-time context.

Each sequence samples with its own llama.cpp sampler chain, built as llama-cpp-python's
``Llama._init_sampler`` builds it for ``create_completion`` (top-k, typical, top-p, min-p,
temperature, then the seeded draw), after the workbench's penalties/warpers processor when the config
needs one. So sample *i* is drawn from its own seed whatever else is in the batch, and it is the sample
the one-at-a-time path draws with that seed as long as the logits are the same. With the exact kernels
(``WORKBENCH_KERNELS``, the default: no repacked weights, no tiled K-quant products) they are: every
matrix product is a row-by-row dot product, so tests/test_batch.py finds exactly the one-at-a-time text
and samples at 3, 4, 8 and 16 sequences per step. With the fast kernels llama.cpp sums 4+ rows (repacked
Q4_K) and 8+ rows (tiled) in another order: measured on gemma-3-270m Q4, 6 of 16 greedy texts agreed
over 24 tokens at 16 per step, and seeded samples drifted within a few tokens. Stop strings, end of
text and ``max_new_tokens`` are applied per sequence exactly as ``create_completion`` applies them
(byte-wise stop search, incomplete UTF-8 held back).

A sequence that cannot run (its prompt and budget do not fit the batch context, or llama.cpp refuses
its tokens) fails alone: its Generation has ``finish_reason="error"`` and the reason in ``error``
(``failed`` is true); the other sequences complete.
"""

from __future__ import annotations

import atexit
import ctypes
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from workbench import settings
from workbench.backends.base import Timer
from workbench.backends.records import Generation
from workbench.errors import ConfigError, ModelError

#: Environment variable with the number of sequences llama.cpp decodes together (1 = one at a time).
BATCH_ENV = "WORKBENCH_BATCH"
#: Sequences per step when WORKBENCH_BATCH is unset, with llama.cpp's exact kernels (WORKBENCH_KERNELS, the
#: default): 8 decodes 2-3x the tokens/s of one at a time (bench/batch.py) and gives exactly its text.
DEFAULT_BATCH = 8
#: ... with llama.cpp's fast kernels, and on transformers: 1, one at a time. Their batched logits are not
#: always the one-at-a-time logits (llama.cpp's repacked and tiled kernels sum 4+ and 8+ rows in another
#: order; transformers' left padding changes fp32 sums), so batching there is opt-in.
DEFAULT_BATCH_INEXACT = 1
#: The most sequences one context may hold (llama.cpp's own LLAMA_MAX_SEQ is 256; more is a typo here).
MAX_BATCH = settings.MAX_BATCH
#: KV cells per stream are allocated in multiples of this (llama.cpp pads its KV view to 256 as well).
CELL_QUANTUM = 256
#: Extra cells per sequence: create_completion may run a few tokens past max_tokens to finish a UTF-8 character.
UTF8_SLACK = 4


def default_batch_size(exact: bool = False) -> int:
    """Sequences decoded together: ``WORKBENCH_BATCH`` when set, else :data:`DEFAULT_BATCH` where batched text
    is exactly the one-at-a-time text (``exact``), :data:`DEFAULT_BATCH_INEXACT` where it may not be."""
    value = settings.get(BATCH_ENV)
    if value is None:
        return DEFAULT_BATCH if exact else DEFAULT_BATCH_INEXACT
    return value


@dataclass(frozen=True)
class Job:
    """One sequence to generate: a prompt's token ids and the seed of its draw."""

    prompt: tuple[int, ...]  # token ids, BOS included when the model wants one
    seed: int | None  # None = a random seed (llama.cpp's LLAMA_DEFAULT_SEED)
    sampling: Sampling | None = None  # its own settings (a Decoding Lab config); None = the run's
    on_piece: Callable[[str], None] | None = None  # streamed text as it is decoded (stop strings held back)
    on_admit: Callable[[], None] | None = None  # called when the sequence gets a slot
    on_done: Callable[[Generation], None] | None = None  # called with its Generation when it ends
    stopped: Callable[[], bool] | None = None  # True once nobody waits for it: its slot is freed at the next step


@dataclass(frozen=True)
class Sampling:
    """How every sequence of one run picks its tokens (from the backend's completion settings)."""

    temperature: float = 0.0  # 0 = greedy; otherwise the last warper before the seeded draw
    top_k: int = 0  # 0 = off
    top_p: float = 1.0  # 1 = off
    min_p: float = 0.0  # 0 = off
    typical_p: float = 1.0  # 1 = off
    max_tokens: int = 64  # tokens per sequence (create_completion's max_tokens)
    stop: tuple[str, ...] = ()  # stop strings, cut from the text
    # (ids so far, float32 logits) -> logits: penalties / warpers in a non-native order; None = none
    processor: Callable | None = None


@dataclass(frozen=True)
class BatchRun:
    """What the last :meth:`BatchEngine.run` did (kept on the backend as ``last_batch``)."""

    size: int  # sequences decoded together at most
    sequences: int  # sequences generated
    steps: int  # llama_decode calls for generation (one token of every live sequence each)
    prompts_evaluated: int  # prompt heads evaluated (each once, however many samples it has)
    prompts_reused: int  # sequences whose head was copied from the holder (an earlier admission or run)
    cells_per_sequence: int  # KV cells of each sequence's stream in the batch context
    failed: int  # sequences that failed (Generation.error set)


@dataclass
class _Live:
    """A sequence being decoded (mutable state of one slot)."""

    index: int  # position of its job in the run
    slot: int  # llama.cpp sequence id
    job: Job
    chain: object  # its llama_sampler chain
    ids: list[int]  # prompt + generated tokens so far (what penalties see)
    pending: int  # the token to decode next
    pos: int  # its position
    completion: list[int] = field(default_factory=list)
    multibyte_fix: int = 0
    emitted: int = 0  # characters of its text already streamed (on_piece)
    peak: int = 1  # most sequences decoded together while it was live


class BatchEngine:
    """Several sequences of one llama.cpp model decoded together; see the module docstring."""

    def __init__(self, llm, size: int, window: int):
        if not 1 <= size <= MAX_BATCH:
            raise ConfigError(f"Batch size must be from 1 to {MAX_BATCH} sequences, not {size}.")
        self.llm = llm
        self.size = size
        self.window = window  # the backend's context window: the most one sequence may use
        self.holder = size  # sequence id that keeps the last prompt head evaluated
        self._ctx = None
        self._cells = 0
        self._held: tuple[int, ...] = ()  # the head in the holder sequence
        self._batch = None
        self._batch_tokens = 0
        self._n_vocab = llm.n_vocab()
        import llama_cpp

        self._vocab = llama_cpp.llama_model_get_vocab(llm.model)
        dtype = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)
        self._cand = np.zeros(self._n_vocab, dtype=dtype)  # candidate buffer, refilled before each draw
        self._all_ids = np.arange(self._n_vocab, dtype=np.intc)
        self.closed = False
        atexit.register(self.close)  # registered after the model's close: runs first at exit

    # ---- context ----------------------------------------------------------------------
    def _ensure(self, cells: int) -> None:
        """A context whose streams hold at least ``cells`` KV cells each (grown by recreating it, which
        loses the holder): memory follows the longest sequence asked for, up to the context window."""
        import llama_cpp

        if self._ctx is not None and cells <= self._cells:
            return
        cells = min(max(cells, self._cells), self.window + UTF8_SLACK)
        cells = -(-cells // CELL_QUANTUM) * CELL_QUANTUM
        self._free_ctx()
        params = llama_cpp.llama_context_params.from_buffer_copy(self.llm.context_params)
        params.n_seq_max = self.size + 1  # + the holder
        params.n_ctx = cells * params.n_seq_max
        params.kv_unified = False  # a stream per sequence: its logits do not depend on the others
        # Every step decodes several tokens, so llama.cpp runs it on n_threads_batch, which llama-cpp-python
        # sets to every core: on a loaded machine that made an 8-sequence step 12x slower than one token.
        # The backend's thread setting (WORKBENCH_THREADS) is meant for exactly this.
        params.n_threads_batch = params.n_threads
        ctx = llama_cpp.llama_init_from_model(self.llm.model, params)
        if not ctx:
            raise ModelError(f"llama.cpp could not create a batch context of {cells} cells x {self.size} "
                             f"sequences; lower {BATCH_ENV}.")
        self._ctx, self._cells, self._held = ctx, llama_cpp.llama_n_ctx(ctx) // params.n_seq_max, ()
        self._mem = llama_cpp.llama_get_memory(ctx)
        self._batch_tokens = max(int(params.n_batch), self.size)
        self._batch = llama_cpp.llama_batch_init(self._batch_tokens, 0, 1)

    def _free_ctx(self) -> None:
        import llama_cpp

        if self._batch is not None:
            llama_cpp.llama_batch_free(self._batch)
            self._batch = None
        if self._ctx is not None:
            llama_cpp.llama_free(self._ctx)
            self._ctx = None
            self._cells = 0

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._free_ctx()

    # ---- decoding -----------------------------------------------------------------------
    def _decode(self, items: Sequence[tuple[int, int, int, bool]]) -> int:
        """One llama_decode of (token, position, sequence, wants logits) items; llama.cpp's return code."""
        import llama_cpp

        b = self._batch
        b.n_tokens = len(items)
        for i, (tok, pos, seq, out) in enumerate(items):
            b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = tok, pos, 1, out
            b.seq_id[i][0] = seq
        return int(llama_cpp.llama_decode(self._ctx, b))

    def _eval_head(self, head: Sequence[int], seq: int) -> int:
        """Evaluate a prompt's head (all but its last token) from position 0 in ``seq``, chunked as the
        one-at-a-time path chunks it (``n_batch`` tokens, never a lone last token); 0 or llama.cpp's error code."""
        import llama_cpp

        llama_cpp.llama_memory_seq_rm(self._mem, seq, -1, -1)
        step, at = self._batch_tokens, 0
        while at < len(head):
            n = step - 1 if len(head) - at - step == 1 else min(step, len(head) - at)
            rc = self._decode([(t, at + i, seq, False) for i, t in enumerate(head[at : at + n])])
            if rc:
                llama_cpp.llama_memory_seq_rm(self._mem, seq, -1, -1)
                return rc
            at += n
        return 0

    def _copy(self, src: int, dst: int) -> None:
        import llama_cpp

        llama_cpp.llama_memory_seq_rm(self._mem, dst, -1, -1)
        llama_cpp.llama_memory_seq_cp(self._mem, src, dst, -1, -1)

    def _chain(self, sampling: Sampling, seed: int | None):
        """The sampler chain create_completion would build (Llama._init_sampler, without its no-op penalties)."""
        import llama_cpp

        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        add = llama_cpp.llama_sampler_chain_add
        if sampling.temperature == 0.0:
            add(chain, llama_cpp.llama_sampler_init_greedy())
        else:
            add(chain, llama_cpp.llama_sampler_init_top_k(sampling.top_k))
            add(chain, llama_cpp.llama_sampler_init_typical(sampling.typical_p, 1))
            add(chain, llama_cpp.llama_sampler_init_top_p(sampling.top_p, 1))
            add(chain, llama_cpp.llama_sampler_init_min_p(sampling.min_p, 1))
            add(chain, llama_cpp.llama_sampler_init_temp(sampling.temperature))
            add(chain, llama_cpp.llama_sampler_init_dist(llama_cpp.LLAMA_DEFAULT_SEED if seed is None else seed))
        return chain

    def _draw(self, live: _Live, row: int, sampling: Sampling) -> int:
        import llama_cpp

        ptr = llama_cpp.llama_get_logits_ith(self._ctx, row)
        logits = np.ctypeslib.as_array(ptr, shape=(self._n_vocab,))
        if sampling.processor is not None:  # as llama-cpp-python's custom sampler: float32 in, float32 out
            logits = np.asarray(sampling.processor(np.asarray(live.ids, dtype=np.intc), logits.copy()),
                                dtype=np.single)
        if sampling.temperature == 0.0:  # greedy: llama.cpp's greedy sampler takes the first highest, as argmax
            return int(np.argmax(logits))
        cand = self._cand
        cand["id"] = self._all_ids
        cand["p"] = 0.0
        cand["logit"] = logits
        arr = llama_cpp.llama_token_data_array(
            data=cand.ctypes.data_as(llama_cpp.llama_token_data_p), size=self._n_vocab, selected=-1, sorted=False)
        llama_cpp.llama_sampler_apply(live.chain, ctypes.byref(arr))
        token = int(cand["id"][arr.selected])
        llama_cpp.llama_sampler_accept(live.chain, token)
        return token

    # ---- one run --------------------------------------------------------------------------
    def run(self, jobs: Sequence[Job], sampling: Sampling,
            intake: Callable[[], Sequence[Job]] | None = None) -> tuple[list[Generation], BatchRun]:
        """Generate every job (in job order) with its own settings or ``sampling``; a job that cannot run
        comes back failed (``Generation.error``).

        ``intake()`` (continuous batching, :class:`SharedDecoder`) is asked for more jobs before every step;
        they join the batch as slots free up, and the run lasts until nothing is live, waiting or coming.
        """
        import llama_cpp

        if self.closed:
            raise ModelError("The batch context has been closed; load the model again to use it.")
        timer = Timer()
        jobs = list(jobs)
        results: list[Generation | None] = []
        plan: list[Sampling] = []
        need: list[int] = []
        waiting: list[int] = []

        def finish(i: int, gen: Generation) -> None:
            results[i] = gen
            if jobs[i].on_done is not None:
                jobs[i].on_done(gen)

        def take(new: Sequence[Job]) -> None:
            for j in new:
                i = len(results)
                if i >= len(jobs):
                    jobs.append(j)
                results.append(None)
                plan.append(j.sampling or sampling)  # each job's settings
                need.append(len(j.prompt) + plan[i].max_tokens + UTF8_SLACK)
                if not j.prompt:
                    finish(i, self._failed(j, "the prompt has no tokens", timer))
                elif need[i] - UTF8_SLACK > self.window:
                    finish(i, self._failed(j, f"the prompt ({len(j.prompt)} tokens) plus max_new_tokens="
                                              f"{plan[i].max_tokens} exceeds the context window of {self.window}"
                                              " tokens", timer))
                else:
                    waiting.append(i)

        take(list(jobs))
        self._ensure(max((need[i] for i in waiting), default=1))
        free = list(range(self.size))
        live: list[_Live] = []
        fresh: dict[tuple[int, ...], int] = {}  # head -> a slot holding exactly it (admitted since the last step)
        steps = evaluated = reused = 0
        try:
            while True:
                if intake is not None:
                    take(intake())
                if not (waiting or live):
                    break
                while waiting and free:  # every stream holds the longest job: a free slot is enough
                    i = waiting[0]
                    if need[i] > self._cells:  # a longer job than the streams hold: grow them once all are free
                        if live:
                            break
                        self._ensure(need[i])
                    waiting.pop(0)
                    job = jobs[i]
                    if job.stopped is not None and job.stopped():
                        finish(i, self._failed(job, "stopped before it started", timer))
                        continue
                    slot = free.pop(0)
                    head = job.prompt[:-1]
                    rc = 0
                    if head in fresh:
                        self._copy(fresh[head], slot)
                    elif head == self._held:  # evaluated by an earlier admission or an earlier run
                        self._copy(self.holder, slot)
                        reused += 1
                    else:
                        rc = self._eval_head(head, slot)
                        evaluated += 1
                        if not rc:  # keep it for this prompt's later samples and the next run
                            self._copy(slot, self.holder)
                            self._held = head
                    if rc:
                        free.insert(0, slot)
                        finish(i, self._failed(job, f"llama.cpp refused its prompt (llama_decode returned {rc})",
                                               timer))
                        continue
                    fresh[head] = slot
                    live.append(_Live(i, slot, job, self._chain(plan[i], job.seed), list(job.prompt), job.prompt[-1],
                                      len(job.prompt) - 1))
                    if job.on_admit is not None:
                        job.on_admit()
                if not live:
                    continue
                ended: dict[int, Generation] = {}
                for s in live:
                    s.peak = max(s.peak, len(live))
                    if s.job.stopped is not None and s.job.stopped():  # nobody waits for it: free its slot now
                        ended[s.index] = self._failed(s.job, "stopped by its caller", timer)
                going = [s for s in live if s.index not in ended]
                if going and self._decode([(s.pending, s.pos, s.slot, True) for s in going]) == 0:
                    for row, s in enumerate(going):
                        self._step(s, row, plan[s.index], ended, timer)
                else:  # one sequence spoils the step: decode each alone and fail only those llama.cpp refuses
                    for s in going:
                        rc = self._decode([(s.pending, s.pos, s.slot, True)])
                        if rc:
                            ended[s.index] = self._failed(s.job, f"llama.cpp refused a token (llama_decode returned "
                                                                 f"{rc})", timer)
                        else:
                            self._step(s, 0, plan[s.index], ended, timer)
                steps += 1
                fresh.clear()  # decoded sequences hold more than their head now
                for s in [s for s in live if s.index in ended]:
                    gen = dataclasses.replace(ended[s.index], batch=s.peak)
                    if s.job.on_piece is not None and not gen.failed and len(gen.text) > s.emitted:
                        s.job.on_piece(gen.text[s.emitted:])
                    llama_cpp.llama_sampler_free(s.chain)
                    llama_cpp.llama_memory_seq_rm(self._mem, s.slot, -1, -1)
                    free.append(s.slot)
                    live.remove(s)
                    finish(s.index, gen)
        except BaseException:  # an interrupt or a callback's error mid-batch: no sequence outlives the call
            for s in live:
                llama_cpp.llama_sampler_free(s.chain)
            llama_cpp.llama_memory_seq_rm(self._mem, -1, -1, -1)  # every sequence's cells, the holder's too
            self._held = ()
            raise
        failed = sum(r is not None and r.failed for r in results)
        record = BatchRun(self.size, len(results), steps, evaluated, reused, self._cells, failed)
        return [r for r in results if r is not None], record

    def _step(self, s: _Live, row: int, sampling: Sampling, ended: dict[int, Generation], timer: Timer) -> None:
        """Draw the next token of ``s`` from logits row ``row``; put its Generation in ``ended`` when it ends.

        The end conditions are create_completion's, in its order: end-of-generation token, then
        (unless an incomplete UTF-8 character is held back) a stop string, then max_tokens.
        """
        import llama_cpp

        token = self._draw(s, row, sampling)
        prompt = list(s.job.prompt)
        if llama_cpp.llama_vocab_is_eog(self._vocab, token):
            ended[s.index] = self._generation(s, self.llm.detokenize(s.completion, prev_tokens=prompt), "stop", timer)
            return
        s.completion.append(token)
        s.ids.append(token)
        s.pending, s.pos = token, s.pos + 1
        text = self.llm.detokenize(s.completion, prev_tokens=prompt)
        for k, char in enumerate(text[-3:]):
            k = 3 - k
            for num, pattern in ((2, 192), (3, 224), (4, 240)):
                if num > k and pattern & char == pattern:
                    s.multibyte_fix = num - k
        if s.multibyte_fix > 0:
            s.multibyte_fix -= 1
            return
        stops = [x for x in (t.encode("utf-8") for t in sampling.stop) if x in text]
        if stops:
            ended[s.index] = self._generation(s, text[: text.index(stops[0])], "stop", timer)
        elif len(s.completion) >= sampling.max_tokens:
            ended[s.index] = self._generation(s, text, "length", timer)
        elif s.job.on_piece is not None:  # stream what no stop string can still claim
            decoded = text.decode("utf-8", errors="ignore")
            safe = len(decoded) - max((len(t) - 1 for t in sampling.stop), default=0)
            if safe > s.emitted:
                s.job.on_piece(decoded[s.emitted:safe])
                s.emitted = safe

    @staticmethod
    def _generation(s: _Live, text: bytes, reason: str, timer: Timer) -> Generation:
        return Generation(text.decode("utf-8", errors="ignore"), len(s.job.prompt), len(s.completion), reason,
                          timer.seconds(), s.job.seed)

    @staticmethod
    def _failed(job: Job, why: str, timer: Timer) -> Generation:
        return Generation("", len(job.prompt), 0, "error", timer.seconds(), job.seed, error=why)
