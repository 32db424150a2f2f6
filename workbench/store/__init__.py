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

A package of one concept per module: :mod:`~workbench.store.database` (connection, transactions, migrations),
:mod:`~workbench.store.runs` (evaluation runs and records), :mod:`~workbench.store.grades` (a person's pass/fail
grades of a run's outputs), :mod:`~workbench.store.library` (prompt-set
versions), :mod:`~workbench.store.responses` (the response cache's table), :mod:`~workbench.store.names` and
:mod:`~workbench.store.processes`. Exports of a run are :mod:`workbench.report`'s.

The package's own surface is :class:`Store` and :func:`open_store`, the records its methods return
(:class:`RunInfo`, :class:`SetInfo`, :class:`VersionInfo`), where the file lives (:func:`default_db_path`,
:data:`DB_FILENAME`), the schema (:data:`SCHEMA_VERSION`, :data:`MIGRATIONS`, :func:`migrate`) and the name rules
prompt sets follow (:data:`MAX_NAME_LENGTH`, :func:`check_name`, :func:`unprintable`); anything else is imported
from its module.
"""

from __future__ import annotations

import os

from workbench.store.database import DB_FILENAME, MIGRATIONS, SCHEMA_VERSION, default_db_path, migrate
from workbench.store.grades import GradeTable
from workbench.store.library import SetInfo, SetLibrary, VersionInfo
from workbench.store.names import MAX_NAME_LENGTH, check_name, unprintable
from workbench.store.responses import ResponseTable
from workbench.store.runs import RunInfo, RunTable

__all__ = [
    "DB_FILENAME", "MAX_NAME_LENGTH", "MIGRATIONS", "SCHEMA_VERSION", "RunInfo", "SetInfo", "Store", "VersionInfo",
    "check_name", "default_db_path", "migrate", "open_store", "unprintable",
]


class Store(GradeTable, RunTable, SetLibrary, ResponseTable):
    """Runs, prompt sets and cached responses in one SQLite file. Thread-safe: one connection behind a lock.

    One shared connection (``check_same_thread=False``) serialised by an RLock suits
    Streamlit, which runs every script rerun in a fresh thread: per-thread connections
    would pile up. Other processes (the CLI next to the app) are handled by WAL and a
    busy timeout.
    """


def open_store(path: str | os.PathLike | None = None) -> Store:
    """Open (creating and migrating) the store at ``path``, default :func:`default_db_path`."""
    return Store(default_db_path() if path is None else path)
