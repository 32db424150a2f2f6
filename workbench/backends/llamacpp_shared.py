"""Continuous batching across callers on llama.cpp: every session's sequences decoded together.

With ``WORKBENCH_SHARED_BATCH=N`` (a classroom on one server without ``llama-server``) the llama.cpp
backend hands every ``generate`` and ``stream`` to one :class:`SharedDecoder` instead of queueing the
callers behind the model lock. Its worker thread runs a :class:`~workbench.backends.llamacpp_batch.BatchEngine`
continuously: a request that arrives while others are decoding joins the batch at the next step (up to N
sequences; more wait for a free slot), and a sequence that ends frees its slot at once. Each sequence keeps
its own sampler chain, seed, stop strings and budget, as in the engine's one-call batches.

What a caller gets:

* ``generate``: its sequences' Generations once they all end (a failed one fails alone, ``error`` set);
* ``stream``: the text as it is decoded (stop strings held back until they cannot match), then the
  Generation; closing the stream (the user pressed Stop, the browser went away) frees the sequence's slot at
  the next step, waiting or running;
* the shared engine is a second llama.cpp context on the same weights, so everything else (scoring, the
  probability explorer, the speculative lab) keeps the model's own context and lock;
* on a classroom server, a fair share: each workspace (:func:`workbench.classroom.current_owner`) has at most
  :data:`~workbench.classroom.FAIR_SHARE` calls in the decoder at once (running or waiting for a slot); one more
  is refused at once (:class:`~workbench.classroom.QueueFull`) while the others keep their places.

The text is the engine's batched text, which with llama.cpp's exact kernels (the default) is exactly the
one-at-a-time text (see :mod:`workbench.backends.llamacpp_batch`). It is a server setting, off by default: one
user gains nothing from it.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from workbench import settings
from workbench.backends.base import sample_seeds
from workbench.backends.llamacpp_batch import BatchEngine, Job, Sampling
from workbench.backends.records import Generation
from workbench.classroom import FairShare, current_owner
from workbench.decoding import DecodingConfig
from workbench.errors import ModelError

#: Environment variable: sequences the shared decoder decodes together across callers (unset/0 = off).
SHARED_ENV = "WORKBENCH_SHARED_BATCH"
#: Seconds between a waiting caller's ``on_wait`` calls (where a page can be stopped).
WAIT_POLL_S = 0.25


def shared_batch_size() -> int:
    """``WORKBENCH_SHARED_BATCH`` as a number of sequences; 0 when unset (callers queue on the model lock)."""
    return settings.get(SHARED_ENV)


@dataclass
class _Ticket:
    """One sequence a caller waits for (mutable: filled in by the worker thread)."""

    number: int  # arrival order
    pieces: queue.Queue = field(default_factory=queue.Queue)  # streamed text, then the Generation
    admitted: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    result: Generation | None = None
    gone: bool = False  # the caller left (closed its stream): free the slot

    def finish(self, gen: Generation) -> None:
        self.result = gen
        self.pieces.put(gen)
        self.done.set()


class SharedDecoder:
    """One worker thread decoding every caller's sequences together (continuous batching)."""

    def __init__(self, llm, size: int, window: int, sampling: Callable[[DecodingConfig], Sampling],
                 fair: FairShare | None = None):
        self.size = size
        self._engine = BatchEngine(llm, size, window)
        self._sampling = sampling  # a config as the engine takes it (the backend's create_completion settings)
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._open: dict[int, _Ticket] = {}  # tickets not finished yet, by arrival
        self._lock = threading.Lock()
        self._numbers = itertools.count()
        self.closed = False
        # calls per workspace (classroom servers): the model lock's own count where given, so a workspace's share
        # spans the decoder and the lock's calls (scoring, the explorer) -- one running and one waiting in all
        self.fair = fair if fair is not None else FairShare()
        self._thread = threading.Thread(target=self._work, name="workbench-shared-batch", daemon=True)
        self._thread.start()

    # ---- what callers use ------------------------------------------------------------------
    def generate(self, prompt_ids: Sequence[list[int]], cfg: DecodingConfig,
                 on_wait: Callable[[int], None] | None = None) -> list[list[Generation]]:
        """``cfg.n`` generations per prompt, decoded together with whatever else is running."""
        return self.generate_configs([(ids, cfg) for ids in prompt_ids], on_wait)

    def generate_configs(self, requests: Sequence[tuple[list[int], DecodingConfig]],
                         on_wait: Callable[[int], None] | None = None) -> list[list[Generation]]:
        """``cfg.n`` generations of each (prompt ids, config), all submitted at once (one call of the caller's
        fair share: :class:`~workbench.classroom.QueueFull` when its workspace already has its share)."""
        owner = current_owner()
        with self.fair.admit(owner):
            tickets = [[self._submit(ids, cfg, seed) for seed in sample_seeds(cfg)] for ids, cfg in requests]
            try:
                with self.fair.waiting(owner):
                    for row in tickets:
                        for t in row:
                            self._wait_admitted(t, on_wait)
                for row in tickets:
                    for t in row:
                        self._wait(t, on_wait)
            except BaseException:  # the caller was stopped: its sequences free their slots
                for row in tickets:
                    for t in row:
                        t.gone = True
                raise
            return [[t.result for t in row] for row in tickets]  # type: ignore[misc]

    def stream(self, prompt_ids: list[int], cfg: DecodingConfig,
               on_wait: Callable[[int], None] | None = None) -> Iterator[tuple[str, Generation | None]]:
        """``(piece, None)`` as the text is decoded, then ``("", generation)``; closing it frees the slot.
        One call of the caller's fair share (:class:`~workbench.classroom.QueueFull` beyond it)."""
        owner = current_owner()
        with self.fair.admit(owner), contextlib.ExitStack() as queued:
            queued.enter_context(self.fair.waiting(owner))  # until the sequence has a slot
            ticket = self._submit(prompt_ids, cfg, cfg.seed, stream=True)
            try:
                while True:
                    if ticket.admitted.is_set():
                        queued.close()
                    try:
                        item = ticket.pieces.get(timeout=WAIT_POLL_S)
                    except queue.Empty:
                        if on_wait is not None and not ticket.admitted.is_set():
                            on_wait(self.ahead_of(ticket))
                        continue
                    if isinstance(item, Generation):
                        if item.failed and self.closed:
                            raise ModelError("The model was closed while this request ran; load it again to use it.")
                        if item.failed:
                            raise ModelError(f"The model could not run this request: {item.error}.")
                        yield "", item
                        return
                    yield item, None
            finally:
                ticket.gone = True  # left early (Stop, a closed browser) or done: nothing more is read

    def ahead_of(self, ticket: _Ticket) -> int:
        """Sequences waiting for a slot that arrived before ``ticket``, plus one (1 = next)."""
        with self._lock:
            return 1 + sum(1 for n, t in self._open.items() if n < ticket.number and not t.admitted.is_set())

    @property
    def waiting(self) -> int:
        """Sequences waiting for a slot."""
        with self._lock:
            return sum(1 for t in self._open.values() if not t.admitted.is_set())

    @property
    def running(self) -> int:
        """Sequences being decoded now."""
        with self._lock:
            return sum(1 for t in self._open.values() if t.admitted.is_set())

    def close(self) -> None:
        """Stop the worker (sequences still running end failed) and free the batch context."""
        if self.closed:
            return
        self.closed = True
        with self._lock:
            for t in self._open.values():
                t.gone = True  # the running batch lets them go at its next step
        self._queue.put(None)
        self._thread.join(timeout=30)
        if not self._thread.is_alive():  # never free the context under a decode still running
            self._engine.close()

    # ---- the worker ------------------------------------------------------------------------
    def _submit(self, ids: list[int], cfg: DecodingConfig, seed: int | None, stream: bool = False) -> _Ticket:
        if self.closed:
            raise ModelError("The model has been closed; load it again to use it.")
        ticket = _Ticket(next(self._numbers))
        with self._lock:
            self._open[ticket.number] = ticket

        def done(gen: Generation, t: _Ticket = ticket) -> None:
            with self._lock:
                self._open.pop(t.number, None)
            t.finish(gen)

        self._queue.put(Job(tuple(ids), seed if cfg.do_sample else None, self._sampling(cfg),
                            on_piece=ticket.pieces.put if stream else None, on_admit=ticket.admitted.set,
                            on_done=done, stopped=lambda t=ticket: t.gone))
        return ticket

    def _wait_admitted(self, ticket: _Ticket, on_wait: Callable[[int], None] | None) -> None:
        """Until ``ticket`` has a slot (or has ended)."""
        while not ticket.admitted.wait(WAIT_POLL_S) and not ticket.done.is_set():
            if on_wait is not None:
                on_wait(self.ahead_of(ticket))

    def _wait(self, ticket: _Ticket, on_wait: Callable[[int], None] | None) -> None:
        while not ticket.done.wait(WAIT_POLL_S):
            if on_wait is not None and not ticket.admitted.is_set():
                on_wait(self.ahead_of(ticket))

    def _take(self, block: bool) -> list[Job]:
        jobs: list[Job] = []
        try:
            item = self._queue.get(timeout=None) if block else self._queue.get_nowait()
            while True:
                if item is None:  # close()
                    self.closed = True
                else:
                    jobs.append(item)
                item = self._queue.get_nowait()
        except queue.Empty:
            return jobs

    def _work(self) -> None:
        while not self.closed:
            first = self._take(block=True)
            if not first:
                continue
            try:
                self._engine.run(first, first[0].sampling or Sampling(),
                                 intake=lambda: [] if self.closed else self._take(block=False))
            except Exception as err:  # a native failure: every open sequence ends failed, the worker goes on
                why = f"the shared batch failed ({type(err).__name__}: {str(err)[:120]})"
                with self._lock:
                    open_ = list(self._open.values())
                    self._open.clear()
                for t in open_:
                    t.finish(Generation("", 0, 0, "error", 0.0, error=why))
        with self._lock:  # closed: whatever still waits ends failed
            open_ = list(self._open.values())
            self._open.clear()
        for t in open_:
            t.finish(Generation("", 0, 0, "error", 0.0, error="the model was closed"))
