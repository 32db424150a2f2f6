"""Who runs a run: the owning process (pid, host, start time) and whether it is gone.
"""

from __future__ import annotations

import os
import socket
from typing import Any


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """Process ``pid``'s state letter and start (clock ticks since boot) from Linux /proc; None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()  # after "(comm)", which may hold spaces
        return fields[0].decode("ascii", "replace"), int(fields[19])  # fields 3 and 22 of proc(5)
    except (OSError, IndexError, ValueError):
        return None


def this_process() -> dict[str, Any]:
    """Who runs a run started here: pid, host name and process start (tells a reused pid from the original)."""
    stat = _proc_stat(os.getpid())
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": None if stat is None else stat[1]}


def process_gone(owner: dict[str, Any] | None) -> bool:
    """True when ``owner`` (see :func:`this_process`) ran on this host and that process no longer exists.

    A run owned by another host, or recorded before owners were, is never called gone: it cannot be checked here.
    """
    if not isinstance(owner, dict) or owner.get("host") != socket.gethostname():
        return False
    pid = owner.get("pid")
    if os.name != "posix" or not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False  # (on Windows os.kill would end the process instead of asking)
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists, under another user
    except OSError:
        return False
    stat = _proc_stat(pid)
    if stat is None:
        return False  # alive, and nothing more can be read here
    state, started = stat
    recorded = owner.get("started")
    # A zombie has exited (its parent has not reaped it); another start time means the pid was reused.
    return state == "Z" or (isinstance(recorded, int) and recorded != started)
