"""Embedded SQLite store: evaluation runs and the versioned prompt-set library.

One file (WAL journal, ``synchronous=NORMAL``, foreign keys on) under the user's
data directory, or ``$WORKBENCH_DATA_DIR/workbench.db``. Every result row is
committed on its own, so a process killed mid-run loses at most the item in flight
and the next run resumes from :meth:`Store.completed`. WAL with NORMAL sync keeps
every committed transaction across a process crash; only a power cut can lose the
last few commits, never the database.

Prompt sets are JSON documents; every save adds a version, nothing is overwritten.
The response cache (see :mod:`workbench.cache`) keeps model answers by request key, bounded
by least-recently-used eviction (:meth:`Store.cache_put`).

    >>> store = open_store(":memory:")
    >>> store.save_set("sentiment", {"prompts": []}, tags=["sst2"])
    1

A package of one concept per module, importable as ``workbench.store`` as before:
:mod:`~workbench.store.database` (connection, transactions, migrations), :mod:`~workbench.store.runs`
(evaluation runs and records), :mod:`~workbench.store.library` (prompt-set versions),
:mod:`~workbench.store.responses` (the response cache's table), :mod:`~workbench.store.names` and
:mod:`~workbench.store.processes`. Exports of a run are :mod:`workbench.report`'s.
"""

from __future__ import annotations

import os

from workbench.store.database import (
    APP_NAME,
    BUSY_TIMEOUT_S,
    DATA_DIR_ENV,
    DB_FILENAME,
    MIGRATIONS,
    SCHEMA_VERSION,
    Database,
    default_db_path,
    migrate,
)
from workbench.store.library import SetInfo, SetLibrary, VersionInfo
from workbench.store.names import MAX_NAME_LENGTH, UNPRINTABLE_CATEGORIES, check_name, unprintable
from workbench.store.processes import _proc_stat, process_gone, this_process
from workbench.store.responses import ResponseTable
from workbench.store.runs import INTERRUPTED, RUN_STATES, RunInfo, RunTable

__all__ = [
    "APP_NAME", "BUSY_TIMEOUT_S", "DATA_DIR_ENV", "DB_FILENAME", "INTERRUPTED", "MAX_NAME_LENGTH", "MIGRATIONS",
    "RUN_STATES", "SCHEMA_VERSION", "UNPRINTABLE_CATEGORIES", "Database", "RunInfo", "SetInfo", "Store",
    "VersionInfo", "_proc_stat", "check_name", "default_db_path", "migrate", "open_store", "process_gone",
    "this_process", "unprintable",
]


class Store(RunTable, SetLibrary, ResponseTable):
    """Runs, prompt sets and cached responses in one SQLite file. Thread-safe: one connection behind a lock.

    One shared connection (``check_same_thread=False``) serialised by an RLock suits
    Streamlit, which runs every script rerun in a fresh thread: per-thread connections
    would pile up. Other processes (the CLI next to the app) are handled by WAL and a
    busy timeout.
    """


def open_store(path: str | os.PathLike | None = None) -> Store:
    """Open (creating and migrating) the store at ``path``, default :func:`default_db_path`."""
    return Store(default_db_path() if path is None else path)
