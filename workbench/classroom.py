"""Who may change what on a classroom server: workspaces, the teacher passcode, a fair share of the model.

A server is in **classroom mode** when ``WORKBENCH_CLASSROOM=1`` (``workbench serve --app`` and ``make classroom``
set it), or when that variable is unset and the app is served beyond loopback (``make run HOST=0.0.0.0``);
``WORKBENCH_CLASSROOM=0`` turns it off. One user on their own machine (loopback, the default) is not in it:
no passcode, everything visible, nothing refused.

In classroom mode every browser has a **workspace** (a random id the app keeps in the browser): the prompt sets it
saves and the runs it makes carry that id, and it sees only its own plus the shared sets (the teacher's, and
every set saved before classroom mode) -- read-only. Whoever types the **teacher passcode**
(``WORKBENCH_TEACHER_PASSCODE``, or generated when the server starts and printed in its terminal) sees every
workspace, may change or delete any set, and saves shared sets.

Who is acting is an :class:`Access` in a context variable (:func:`current`): the app sets it at the start of every
script run (``ui.classroom``); the store reads it to tag and filter rows, and the model lock
(:class:`FairShare`) to give each workspace one generation running and one waiting. Outside the app (the CLI,
tests) it is None: no workspace, everything visible and allowed, as before.

    >>> a = Access("ws-of-student-a-0001")
    >>> a.sees_set(None), a.sees_set("ws-of-student-a-0001"), a.sees_set("someone-else-000001")
    (True, True, False)
    >>> a.may_change(None), Access("t" * 16, teacher=True).may_change("someone-else-000001")
    (False, True)
"""

from __future__ import annotations

import hmac
import re
import secrets
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from workbench import settings
from workbench.errors import ModelError

#: Classroom mode: 1 on, 0 off, unset: on when served beyond loopback (declared in :mod:`workbench.settings`).
CLASSROOM_ENV = "WORKBENCH_CLASSROOM"
#: The teacher's passcode on a classroom server (unset: one is generated when the server starts and printed).
PASSCODE_ENV = "WORKBENCH_TEACHER_PASSCODE"
#: Generations one workspace may have in a model's queue at once: one running and one waiting.
FAIR_SHARE = 2
#: What a workspace id looks like (a random URL-safe token; anything else is replaced by a fresh one).
WORKSPACE_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
#: Letters of a generated passcode: no 0/o, 1/l/i to misread on a projector or a terminal.
_PASSCODE_LETTERS = "abcdefghjkmnpqrstuvwxyz23456789"


class QueueFull(ModelError):
    """This workspace already has its fair share of the model's queue."""


@dataclass(frozen=True)
class Access:
    """Who is acting on a classroom server: a browser's workspace, with or without the teacher's passcode."""

    workspace: str  # the browser's workspace id
    teacher: bool = False  # the passcode was typed in this session

    @property
    def saves_as(self) -> str | None:
        """The workspace a new set of this user belongs to (None: shared, the teacher's); a run always belongs to
        the browser's own workspace."""
        return None if self.teacher else self.workspace

    def sees_set(self, owner: str | None) -> bool:
        """A set of ``owner`` (None: shared) is listed and readable: shared ones, own ones, all for the teacher."""
        return self.teacher or owner is None or owner == self.workspace

    def sees_run(self, owner: str | None) -> bool:
        """A run of ``owner`` is listed and readable: own runs; every run for the teacher."""
        return self.teacher or owner == self.workspace

    def may_change(self, owner: str | None) -> bool:
        """A set or run of ``owner`` may be changed, renamed or deleted: own ones; any for the teacher."""
        return self.teacher or (owner is not None and owner == self.workspace)


#: Not set in this thread: ask the resolver (the app's session, e.g. in a widget callback that runs before app.py).
_UNSET = Access("")
_current: ContextVar[Access | None] = ContextVar("workbench_access", default=_UNSET)
#: Who is acting where no one was set in this thread (:func:`set_resolver`; None: no one, the CLI).
_resolver: Callable[[], Access | None] | None = None


def set_resolver(resolve: Callable[[], Access | None] | None) -> None:
    """Where a thread has no acting user set, ask ``resolve()`` (the app: the Streamlit session's user, so a
    widget callback -- which Streamlit runs before the page script sets the user -- acts as its browser too)."""
    global _resolver
    _resolver = resolve


def current() -> Access | None:
    """Who is acting in this thread (None: not a classroom session -- the CLI, one user on loopback)."""
    access = _current.get()
    if access is _UNSET:
        return _resolver() if _resolver is not None else None
    return access


def set_current(access: Access | None) -> None:
    """Make ``access`` the acting user of this thread from now on (the app, at the start of each script run)."""
    _current.set(access)


@contextmanager
def acting_as(access: Access | None) -> Iterator[Access | None]:
    """Act as ``access`` inside the block (tests; work handed to another thread)."""
    token = _current.set(access)
    try:
        yield access
    finally:
        _current.reset(token)


def current_owner() -> str | None:
    """The workspace whose share of a model queue a call uses (None: no fair share applies)."""
    access = current()
    return None if access is None else access.workspace


# --------------------------------------------------------------------------- classroom mode and the passcode

def classroom_mode(address: str | None, env: Mapping[str, str] | None = None) -> bool:
    """True on a classroom server: ``WORKBENCH_CLASSROOM`` 1 (on) or 0 (off); unset: served beyond loopback.

    >>> classroom_mode("127.0.0.1", {}), classroom_mode("0.0.0.0", {}), classroom_mode("127.0.0.1", {"WORKBENCH_CLASSROOM": "1"})
    (False, True, True)
    """
    from workbench.backends.policy import is_loopback

    flag = settings.get(CLASSROOM_ENV, env)  # True, False, or None (unset); a bad value is one ConfigError line
    return not is_loopback(address) if flag is None else flag


def new_passcode() -> str:
    """A passcode easy to read off a terminal and type: three groups of four letters or digits (about 59 bits).

    >>> len(new_passcode()), new_passcode().count("-")
    (14, 2)
    """
    return "-".join("".join(secrets.choice(_PASSCODE_LETTERS) for _ in range(4)) for _ in range(3))


_generated: list[str] = []
_generated_lock = threading.Lock()


def teacher_passcode(env: Mapping[str, str] | None = None, announce=None) -> str:
    """``WORKBENCH_TEACHER_PASSCODE``, else one generated once per server process and printed on its terminal
    (standard error; never in a page). ``announce(line)`` prints it (default: standard error)."""
    chosen = settings.get(PASSCODE_ENV, env)
    if chosen:
        return chosen
    with _generated_lock:
        if not _generated:
            _generated.append(new_passcode())
            (announce or _to_stderr)(passcode_line(_generated[0]))
        return _generated[0]


def passcode_line(passcode: str) -> str:
    """The terminal line that gives the teacher the passcode."""
    return (f"Teacher passcode for this classroom server: {passcode} (type it in the app's sidebar to see every "
            f"workspace and change shared sets; set {PASSCODE_ENV} to choose your own)")


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def check_passcode(typed: str, env: Mapping[str, str] | None = None) -> bool:
    """True when ``typed`` is the teacher passcode (compared in constant time; surrounding spaces ignored)."""
    expected = teacher_passcode(env).encode("utf-8")
    return hmac.compare_digest(str(typed or "").strip().encode("utf-8", "surrogatepass"), expected)


def classroom_env(env: Mapping[str, str] | None = None, announce=None) -> dict[str, str]:
    """The environment of an app served for a class (``workbench serve --app``): classroom mode on, and a
    teacher passcode -- the one in ``WORKBENCH_TEACHER_PASSCODE``, or a new one, printed with ``announce``.

    >>> lines = []
    >>> e = classroom_env({"WORKBENCH_TEACHER_PASSCODE": "s3cret"}, lines.append)
    >>> e["WORKBENCH_CLASSROOM"], e["WORKBENCH_TEACHER_PASSCODE"], lines
    ('1', 's3cret', ['Teacher passcode: the one in WORKBENCH_TEACHER_PASSCODE'])
    """
    out = settings.child_environment(base=env)
    out.setdefault(CLASSROOM_ENV, "1")
    if settings.get(PASSCODE_ENV, out):
        (announce or _to_stderr)(f"Teacher passcode: the one in {PASSCODE_ENV}")
    else:
        out[PASSCODE_ENV] = new_passcode()
        (announce or _to_stderr)(passcode_line(out[PASSCODE_ENV]))
    return out


# --------------------------------------------------------------------------- workspaces

def new_workspace() -> str:
    """A fresh workspace id: 22 random URL-safe characters (128 bits; another browser cannot guess it)."""
    return secrets.token_urlsafe(16)


def valid_workspace(text: object) -> str | None:
    """``text`` when it looks like a workspace id, else None (a cookie someone edited starts a new workspace)."""
    return text if isinstance(text, str) and WORKSPACE_PATTERN.fullmatch(text) else None


def short(workspace: str | None) -> str:
    """How a workspace is named to the teacher: "shared", or the first six characters of its id."""
    return "shared" if workspace is None else f"workspace {workspace[:6]}"


# --------------------------------------------------------------------------- a fair share of a model's queue

def refusal(waiting: bool) -> str:
    """The one line a workspace over its share sees."""
    if waiting:
        return "You already have a generation waiting; wait for it or press Stop."
    return f"You already have {FAIR_SHARE} generations running; wait for one of them or press Stop."


class FairShare:
    """Per workspace, at most ``share`` calls in a model's queue (running or waiting); more are refused at once.

    Calls without an owner (the CLI, one user on loopback) are never counted or refused.
    """

    def __init__(self, share: int = FAIR_SHARE) -> None:
        self.share = share
        self._lock = threading.Lock()
        self._in: Counter[str] = Counter()  # calls in the queue per owner (running or waiting)
        self._waiting: Counter[str] = Counter()  # of those, waiting for the model

    def calls(self, owner: str) -> int:
        """Calls ``owner`` has in the queue now (running or waiting)."""
        with self._lock:
            return self._in[owner]

    def admit(self, owner: str | None) -> AbstractContextManager[None]:
        """Count a call of ``owner`` for the block; :class:`QueueFull` when it already has its share."""
        return self._counted(self._in, owner, limit=self.share)

    def waiting(self, owner: str | None) -> AbstractContextManager[None]:
        """Mark one of ``owner``'s calls as waiting for the model for the block (for the refusal's wording)."""
        return self._counted(self._waiting, owner)

    @contextmanager
    def _counted(self, counter: Counter[str], owner: str | None, limit: int | None = None) -> Iterator[None]:
        """Count one of ``owner``'s calls in ``counter`` for the block (nothing when ``owner`` is None); with
        ``limit``, :class:`QueueFull` when ``owner`` already has that many there."""
        if owner is None:
            yield
            return
        with self._lock:
            if limit is not None and counter[owner] >= limit:
                raise QueueFull(refusal(self._waiting[owner] > 0))
            counter[owner] += 1
        try:
            yield
        finally:
            with self._lock:
                counter[owner] -= 1
                if counter[owner] <= 0:
                    del counter[owner]
