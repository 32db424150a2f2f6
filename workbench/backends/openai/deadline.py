"""One request's overall time limit, kept by one watchdog thread for every request.

A :class:`Deadline` covers a request as a whole: its attempts, the waits between them
and the whole reply. The transport hands it the socket of each read and write
(:mod:`workbench.backends.openai.transport`); when the deadline passes, the
:class:`Watchdog` shuts that socket, so a server that trickles bytes or streams
keep-alive comments forever cannot hold a call: the blocked read returns at once and
the client says which limit was reached.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time

from workbench.backends.openai.config import Limit

#: The watchdog drops finished deadlines from its heap every this many requests.
PURGE_EVERY = 1024


class Watchdog:
    """One thread that expires every request's :class:`Deadline` when it passes (no thread per request).

    Deadlines wait in a heap ordered by their end; a finished one is dropped when it
    comes up, or every :data:`PURGE_EVERY` requests. The thread starts with the first
    deadline and runs as a daemon.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._wake = threading.Condition()
        self._count = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, deadline: Deadline) -> None:
        with self._wake:
            ticket = next(self._count)
            if ticket % PURGE_EVERY == 0:  # finished deadlines would wait for their end (minutes): drop them
                self._heap = [entry for entry in self._heap if not entry[2].done]
                heapq.heapify(self._heap)
            heapq.heappush(self._heap, (deadline.end, ticket, deadline))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="workbench-deadlines", daemon=True)
                self._thread.start()
            if self._heap[0][2] is deadline:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                end, _, first = self._heap[0]
                left = end - time.monotonic()
                if left > 0:
                    self._wake.wait(left)
                    continue
                heapq.heappop(self._heap)
                if first.end > end:  # lengthened since it was added (a wait between retries): wait on
                    heapq.heappush(self._heap, (first.end, next(self._count), first))
                    continue
            first.expire()


#: The watchdog every request's deadline is given to.
WATCHDOG = Watchdog()


class Deadline:
    """One request's overall time limit: when it passes, the watchdog shuts the request's socket.

    A read blocked on a server that trickles bytes or sends keep-alive comments then
    returns at once; the reader sees :attr:`expired` and says which limit was reached.
    """

    def __init__(self, seconds: float, watchdog: Watchdog = WATCHDOG, limit: Limit | None = None):
        self.seconds = seconds
        self.limit = limit  # the limit fitted to the request, or None: the user's deadline (the same for all)
        self.end = time.monotonic() + seconds
        self.waited = 0.0  # seconds added for waits between retries (a fitted limit only)
        self.expired = False
        self.done = False  # cancelled or released: the watchdog drops it
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        watchdog.add(self)

    def left(self) -> float:
        return self.end - time.monotonic()

    def extend(self, seconds: float) -> None:
        """Move the end ``seconds`` later (the watchdog sees it when the old end comes)."""
        with self._lock:
            self.end += seconds
            self.waited += seconds

    def watch(self, sock: socket.socket | None) -> None:
        """Shut ``sock`` when the deadline passes (the socket of the current attempt)."""
        with self._lock:
            self._sock = sock
            if self.expired and sock is not None:
                _shut(sock)

    def cancel(self) -> None:
        self.done = True

    def release(self) -> bool:
        """Stop watching (the request is done); True when the socket was never shut, so it can be reused."""
        with self._lock:
            self.done = True
            self._sock = None
            return not self.expired

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            if self._sock is not None:
                _shut(self._sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed
