"""The per-model lock: ``slots`` callers at once, the rest queued in order, each owner its fair share."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from contextlib import contextmanager

from workbench.classroom import FAIR_SHARE, FairShare, current_owner

#: Seconds between a queued caller's ``on_wait`` calls (see :meth:`ModelLock.hold`).
WAIT_POLL_S = 0.25
#: ``ModelLock.hold``'s default owner: the acting workspace (:func:`workbench.classroom.current_owner`).
CURRENT_OWNER = object()


class ModelLock:
    """A lock (``slots`` holders at once) that knows how many callers wait for it.

    One llama.cpp model must not be called from two threads at once; Streamlit
    runs each session in its own thread, so every model call holds this lock and
    a waiting session can show how many requests are ahead of it. A server backend
    lets several requests in at once (``slots`` > 1): the server batches them.

    On a classroom server each call has an owner (the browser's workspace, from
    :func:`workbench.classroom.current_owner`): an owner gets a fair share of the
    queue (:data:`~workbench.classroom.FAIR_SHARE`, one call running and one waiting),
    and a call beyond it is refused at once with :class:`~workbench.classroom.QueueFull`
    while everyone else keeps their place. Calls without an owner are never refused.
    """

    def __init__(self, slots: int = 1, share: int = FAIR_SHARE) -> None:
        self._slots = threading.BoundedSemaphore(slots)
        self._count = threading.Lock()
        self._queue: list[int] = []  # tickets of the callers waiting, in arrival order
        self._tickets = itertools.count()
        self._holders = 0
        self.fair = FairShare(share)  # calls per owner in the queue (running or waiting)

    @property
    def waiting(self) -> int:
        """Callers currently blocked on the lock."""
        return len(self._queue)

    @property
    def busy(self) -> bool:
        return self._holders > 0

    @contextmanager
    def hold(self, on_wait: Callable[[int], None] | None = None, owner: str | object | None = CURRENT_OWNER):
        """Hold a slot. A caller that must queue has ``on_wait(position)`` called at once and again every
        :data:`WAIT_POLL_S` while it waits (its place in the queue, 1 = next): a page redraws its queue line
        there, which is also where Streamlit stops a session whose user pressed Stop, so a queued user can
        leave the queue at once. An exception from ``on_wait`` leaves the queue without holding the lock.

        ``owner``: whose fair share the call uses (default: the acting workspace; None: no share applies);
        :class:`~workbench.classroom.QueueFull` when that owner already has its share in the queue."""
        if owner is CURRENT_OWNER:
            owner = current_owner()
        with self.fair.admit(owner):  # type: ignore[arg-type]
            if not self._slots.acquire(blocking=False):
                with self._count:
                    ticket = next(self._tickets)
                    self._queue.append(ticket)
                try:
                    with self.fair.waiting(owner):  # type: ignore[arg-type]
                        while True:
                            if on_wait is not None:
                                with self._count:
                                    position = self._queue.index(ticket) + 1
                                on_wait(position)
                            if self._slots.acquire(timeout=WAIT_POLL_S):
                                break
                finally:
                    with self._count:
                        self._queue.remove(ticket)
            with self._count:
                self._holders += 1
            try:
                yield
            finally:
                with self._count:
                    self._holders -= 1
                self._slots.release()
