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
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import socket
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from workbench.errors import DataError

#: Environment variable that moves the database (and other user data) elsewhere.
DATA_DIR_ENV = "WORKBENCH_DATA_DIR"
#: Application name used for the platform data directory.
APP_NAME = "prompt-workbench"
#: File name of the database inside the data directory.
DB_FILENAME = "workbench.db"
#: Seconds a writer waits for another process's write lock before failing.
BUSY_TIMEOUT_S = 30.0
#: Longest prompt-set name accepted (names are shown in lists and file names).
MAX_NAME_LENGTH = 120
#: Unicode categories a name may not hold: controls (NUL, ESC, BEL, ...), format characters (bidi overrides,
#: zero-width), surrogates and the line/paragraph separators U+2028/U+2029 -- a terminal or a list would act on them.
UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
#: States a run can finish in.
RUN_STATES = ("finished", "cancelled", "failed")
#: The state of a "running" run whose process is gone (killed, crashed, machine rebooted); resume it to finish it.
INTERRUPTED = "interrupted"


# --------------------------------------------------------------------------- records

@dataclass(frozen=True)
class RunInfo:
    """One evaluation run: its metadata, summary and how many result rows it holds."""

    run_id: int
    created_at: str
    finished_at: str | None
    status: str  # "running" until finish_run, then one of RUN_STATES; INTERRUPTED when its process is gone
    meta: dict
    summary: dict | None
    n_results: int
    owner: dict | None = None  # the process that runs it: {"pid", "host", "started"}; None for runs made before v2


@dataclass(frozen=True)
class SetInfo:
    """A prompt set as listed in the library (its latest version)."""

    name: str
    version: int
    tags: tuple[str, ...]
    note: str
    created_at: str
    updated_at: str
    deleted: bool


@dataclass(frozen=True)
class VersionInfo:
    """One saved version of a prompt set."""

    version: int
    created_at: str
    note: str
    tags: tuple[str, ...]


# --------------------------------------------------------------------------- schema

def _run_script(conn: sqlite3.Connection, script: str) -> None:
    # Not executescript(): it COMMITs the open transaction first, which would split a migration.
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _migrate_v1(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL DEFAULT 'running',
            meta TEXT NOT NULL,
            summary TEXT
        );
        CREATE TABLE results (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            strategy TEXT NOT NULL,
            item_index INTEGER NOT NULL,
            record TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (run_id, strategy, item_index)
        );
        CREATE TABLE prompt_sets (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            tags TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            deleted_at TEXT
        );
        CREATE TABLE set_versions (
            set_id INTEGER NOT NULL REFERENCES prompt_sets(id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            document TEXT NOT NULL,
            tags TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            PRIMARY KEY (set_id, version)
        );
        """
    )


def _migrate_v2(conn: sqlite3.Connection) -> None:
    # Which process runs a run (JSON {"pid", "host", "started"}), so a killed one can be told from a live one.
    conn.execute("ALTER TABLE runs ADD COLUMN owner TEXT")


def _migrate_v3(conn: sqlite3.Connection) -> None:
    # The response cache (workbench.cache): one model answer per request key, in least-recently-used order;
    # and the sha256 of model files, remembered per (path, size, mtime) so a 250 MB file is hashed once.
    _run_script(
        conn,
        """
        CREATE TABLE response_cache (
            key TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            created_at TEXT NOT NULL,
            used_at REAL NOT NULL
        );
        CREATE INDEX response_cache_used ON response_cache (used_at);
        CREATE TABLE file_hashes (
            path TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            sha256 TEXT NOT NULL
        );
        """
    )


#: Migration i brings a database from schema version i to i + 1; PRAGMA user_version records where it is.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_migrate_v1, _migrate_v2, _migrate_v3)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema up to SCHEMA_VERSION, one transaction per step; returns the version found."""
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise DataError(
            f"The workbench database has schema version {found} but this workbench knows up to "
            f"{SCHEMA_VERSION}; upgrade the workbench or set {DATA_DIR_ENV} to another folder."
        )
    for version in range(found, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[version](conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return found


# --------------------------------------------------------------------------- helpers

def default_db_path() -> Path:
    """``$WORKBENCH_DATA_DIR/workbench.db``, else the platform user data dir / prompt-workbench / workbench.db."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser() / DB_FILENAME
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / DB_FILENAME


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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _json_default(obj: Any) -> Any:
    """Let run metadata hold dataclasses (DecodingConfig), enums, paths and sets."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=str)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _dumps(obj: Any, what: str, lenient: bool = True) -> str:
    """JSON text; ``lenient`` also accepts dataclasses, enums, paths and sets (run metadata, records)."""
    try:
        text = json.dumps(obj, ensure_ascii=False, default=_json_default if lenient else None, allow_nan=False)
        text.encode("utf-8")  # a lone surrogate would fail later, inside SQLite
        return text
    except (TypeError, ValueError) as err:
        raise DataError(f"The {what} cannot be stored as JSON: {err}.") from None


def unprintable(char: str) -> bool:
    """True for a character a name may not hold and a terminal must not be sent raw (see UNPRINTABLE_CATEGORIES)."""
    return unicodedata.category(char) in UNPRINTABLE_CATEGORIES


def check_name(name: str) -> str:
    """A prompt-set name as stored (stripped); DataError unless it is one short line of printable text."""
    name = _lookup_name(name)
    if len(name) > MAX_NAME_LENGTH or "\n" in name or "\r" in name:
        raise DataError(f"Prompt set names are one line of at most {MAX_NAME_LENGTH} characters.")
    bad = next((c for c in name if unprintable(c)), None)
    if bad is not None:
        raise DataError(f"Prompt set names may not hold control characters (found U+{ord(bad):04X} at position "
                        f"{name.index(bad) + 1}); remove it.")
    return name


def _lookup_name(name: str) -> str:
    """A name to look a set up by: any stored name is found, even one saved before names were checked."""
    if not isinstance(name, str) or not name.strip():
        raise DataError("A prompt set needs a non-empty name.")
    return name.strip()


def _tags(tags: Iterable[str]) -> tuple[str, ...]:
    if isinstance(tags, str):
        tags = [tags]
    out: list[str] = []
    for tag in tags:
        tag = str(tag).strip()
        if tag and tag not in out:
            out.append(tag)
    return tuple(out)


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    return value


# --------------------------------------------------------------------------- store

_RUN_COLUMNS = ("SELECT id, created_at, finished_at, status, meta, summary, "
                "(SELECT COUNT(*) FROM results WHERE run_id = runs.id), owner")


class Store:
    """Runs and prompt sets in one SQLite file. Thread-safe: one connection behind a lock.

    One shared connection (``check_same_thread=False``) serialised by an RLock suits
    Streamlit, which runs every script rerun in a fresh thread: per-thread connections
    would pile up. Other processes (the CLI next to the app) are handled by WAL and a
    busy timeout.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            # isolation_level=None: autocommit; multi-statement writes use explicit BEGIN IMMEDIATE.
            self._conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as err:
            raise DataError(f"Cannot open the workbench database {self.path} ({err}); set {DATA_DIR_ENV}.") from None
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            migrate(self._conn)
        except sqlite3.DatabaseError as err:
            self._conn.close()
            raise DataError(
                f"{self.path} is not a usable workbench database ({err}); move it away or set {DATA_DIR_ENV}."
            ) from None
        except BaseException:
            self._conn.close()
            raise

    # -- plumbing

    def close(self) -> None:
        """Close the connection (checkpoints the WAL into the main file)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken with the write lock up front (no upgrade deadlocks)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def settings(self) -> dict[str, Any]:
        """The connection's journal mode, sync level, foreign-key switch and schema version (diagnostics)."""
        names = ("journal_mode", "synchronous", "foreign_keys", "user_version")
        return {name: self._query(f"PRAGMA {name}")[0][0] for name in names}

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check``: "ok" for a sound database."""
        return "\n".join(row[0] for row in self._query("PRAGMA integrity_check"))

    # -- runs

    def create_run(self, meta: dict) -> int:
        """Start a run; ``meta`` holds model, backend, strategies, decoding, versions, dataset name/hash."""
        if not isinstance(meta, dict):
            raise DataError("Run metadata must be a dictionary.")
        meta = {"created_at": _now(), **meta}
        text = _dumps(meta, "run metadata")
        with self._tx() as conn:
            cur = conn.execute("INSERT INTO runs (created_at, meta, owner) VALUES (?, ?, ?)",
                               (meta["created_at"], text, json.dumps(this_process())))
            return int(cur.lastrowid)

    def reopen_run(self, run_id: int) -> None:
        """Mark a stored run "running" again, owned by this process (call it when resuming the run)."""
        with self._tx() as conn:
            cur = conn.execute("UPDATE runs SET status = 'running', finished_at = NULL, owner = ? WHERE id = ?",
                               (json.dumps(this_process()), run_id))
            if cur.rowcount == 0:
                raise DataError(f"There is no run {run_id}; pick one from the run history.")

    def add_result(self, run_id: int, strategy: str, item_index: int, record: dict) -> None:
        """Store one item's record for one strategy, committed at once (a rerun of the item replaces it)."""
        if not isinstance(record, dict):
            raise DataError("A result record must be a dictionary.")
        text = _dumps(record, "result record")
        try:
            with self._lock:
                # Autocommit: this single statement is its own durable transaction.
                self._conn.execute(
                    "INSERT INTO results (run_id, strategy, item_index, record, created_at) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (run_id, strategy, item_index) DO UPDATE SET record = excluded.record, "
                    "created_at = excluded.created_at",
                    (int(run_id), str(strategy), int(item_index), text, _now()),
                )
        except sqlite3.IntegrityError:
            raise DataError(f"There is no run {run_id}; start one with create_run first.") from None

    def completed(self, run_id: int, strategy: str) -> set[int]:
        """Item indexes already stored for this run and strategy (skip them when resuming)."""
        rows = self._query("SELECT item_index FROM results WHERE run_id = ? AND strategy = ?", (run_id, strategy))
        return {r[0] for r in rows}

    def results(self, run_id: int, strategy: str | None = None) -> list[dict]:
        """Records with ``strategy`` and ``item_index`` first; strategies in the order first written."""
        self._run_row(run_id)
        sql = "SELECT strategy, item_index, record FROM results WHERE run_id = ?"
        params: tuple = (run_id,)
        if strategy is not None:
            sql += " AND strategy = ?"
            params += (strategy,)
        rows = self._query(sql + " ORDER BY rowid", params)
        first_seen: dict[str, int] = {}
        for s, _, _ in rows:
            first_seen.setdefault(s, len(first_seen))
        rows.sort(key=lambda r: (first_seen[r[0]], r[1]))
        return [{"strategy": s, "item_index": i, **json.loads(rec)} for s, i, rec in rows]

    def finish_run(self, run_id: int, summary: dict, status: str = "finished") -> None:
        """Record the run's summary (accuracies, timings) and how it ended."""
        if status not in RUN_STATES:
            raise DataError(f"Run status must be one of {', '.join(RUN_STATES)}, not {status!r}.")
        text = _dumps(summary, "run summary")
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, summary = ? WHERE id = ?", (_now(), status, text, run_id)
            )
            if cur.rowcount == 0:
                raise DataError(f"There is no run {run_id}.")

    def _run_row(self, run_id: int) -> tuple:
        rows = self._query(
            f"{_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,),
        )
        if not rows:
            raise DataError(f"There is no run {run_id}; pick one from the run history.")
        return rows[0]

    def _run_info(self, row: tuple) -> RunInfo:
        """The run of a row; a "running" run whose process is gone is marked INTERRUPTED here, for good."""
        rid, created, finished, status, meta, summary, n, owner_text = row
        owner = None if owner_text is None else json.loads(owner_text)
        if status == "running" and process_gone(owner):
            with self._tx() as conn:  # only if no one reopened it meanwhile
                conn.execute("UPDATE runs SET status = ? WHERE id = ? AND status = 'running' AND owner = ?",
                             (INTERRUPTED, rid, owner_text))
            status = INTERRUPTED
        return RunInfo(
            run_id=rid,
            created_at=created,
            finished_at=finished,
            status=status,
            meta=json.loads(meta),
            summary=None if summary is None else json.loads(summary),
            n_results=n,
            owner=owner,
        )

    def get_run(self, run_id: int) -> RunInfo:
        """One run's metadata, summary and result count (a run whose process is gone reads INTERRUPTED)."""
        return self._run_info(self._run_row(run_id))

    def list_runs(self) -> list[RunInfo]:
        """All runs, newest first (runs whose process is gone read INTERRUPTED)."""
        rows = self._query(f"{_RUN_COLUMNS} FROM runs ORDER BY id DESC")
        return [self._run_info(r) for r in rows]

    def delete_run(self, run_id: int) -> None:
        """Delete a run and its results."""
        with self._tx() as conn:
            if conn.execute("DELETE FROM runs WHERE id = ?", (run_id,)).rowcount == 0:
                raise DataError(f"There is no run {run_id}.")

    def export_run_csv(self, run_id: int) -> str:
        """Per-item results as CSV: strategy, item_index, then every record field (nested values as JSON)."""
        rows = self.results(run_id)
        columns: dict[str, None] = {"strategy": None, "item_index": None}
        for row in rows:
            columns.update(dict.fromkeys(row))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_cell(row.get(k)) for k in columns})
        return buf.getvalue()

    def export_run_json(self, run_id: int) -> str:
        """The whole run as JSON: {"run": {...meta, summary...}, "results": [...]}."""
        info = dataclasses.replace(self.get_run(run_id), owner=None)  # which host ran it stays private
        doc = {"run": dataclasses.asdict(info), "results": self.results(run_id)}
        return json.dumps(doc, ensure_ascii=False, indent=2)

    # -- response cache (keys and values are made by workbench.cache)

    def cache_get(self, key: str) -> Any | None:
        """The cached value (parsed JSON) stored under ``key``, or None; a hit becomes the most recently used."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM response_cache WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            self._conn.execute("UPDATE response_cache SET used_at = ? WHERE key = ?", (time.time(), key))
        return json.loads(row[0])

    def cache_put(self, key: str, kind: str, value: Any, max_entries: int) -> int:
        """Store ``value`` (JSON) under ``key``; returns how many entries were evicted to make room.

        Eviction: when the cache holds more than ``max_entries`` entries, the least recently used (last
        written or hit) are deleted until 90% of ``max_entries`` remain -- a tenth of room at a time, so a
        full cache does not delete on every write.
        """
        if max_entries < 1:
            raise DataError(f"The response cache must hold at least 1 entry, not {max_entries}.")
        text = _dumps(value, "cached response", lenient=False)
        with self._tx() as conn:
            conn.execute("INSERT INTO response_cache (key, kind, value, created_at, used_at) VALUES (?, ?, ?, ?, ?) "
                         "ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, value = excluded.value, "
                         "used_at = excluded.used_at", (key, kind, text, _now(), time.time()))
            count = conn.execute("SELECT COUNT(*) FROM response_cache").fetchone()[0]
            if count <= max_entries:
                return 0
            keep = max(1, max_entries * 9 // 10)
            return conn.execute("DELETE FROM response_cache WHERE key IN (SELECT key FROM response_cache "
                                "ORDER BY used_at, rowid LIMIT ?)", (count - keep,)).rowcount

    def cache_stats(self) -> dict[str, int]:
        """Entries in the response cache and the bytes of their values."""
        n, size = self._query("SELECT COUNT(*), COALESCE(SUM(LENGTH(CAST(value AS BLOB))), 0) FROM response_cache")[0]
        return {"entries": n, "bytes": size}

    def cache_clear(self) -> int:
        """Empty the response cache; returns how many entries it held."""
        with self._tx() as conn:
            return conn.execute("DELETE FROM response_cache").rowcount

    def file_hash(self, path: str, size: int, mtime_ns: int) -> str | None:
        """The sha256 remembered for the file at ``path`` if it still has this size and modification time."""
        rows = self._query("SELECT sha256 FROM file_hashes WHERE path = ? AND size = ? AND mtime_ns = ?",
                           (path, size, mtime_ns))
        return rows[0][0] if rows else None

    def remember_file_hash(self, path: str, size: int, mtime_ns: int, sha256: str) -> None:
        """Remember a file's sha256 with the size and modification time it was computed at."""
        with self._lock:
            self._conn.execute("INSERT INTO file_hashes (path, size, mtime_ns, sha256) VALUES (?, ?, ?, ?) "
                               "ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
                               "sha256 = excluded.sha256", (path, size, mtime_ns, sha256))

    # -- prompt-set library

    def _set_row(self, name: str, include_deleted: bool = False) -> tuple[int, str, str | None]:
        rows = self._query("SELECT id, name, deleted_at FROM prompt_sets WHERE name = ?", (_lookup_name(name),))
        if not rows:
            raise DataError(f"There is no prompt set named {name!r}; check the name in the library.")
        if rows[0][2] is not None and not include_deleted:
            raise DataError(f"The prompt set {rows[0][1]!r} is deleted; undelete it first.")
        return rows[0]

    def _check_free(self, conn: sqlite3.Connection, name: str, except_id: int | None = None) -> None:
        row = conn.execute("SELECT id, name, deleted_at FROM prompt_sets WHERE name = ?", (name,)).fetchone()
        if row is not None and row[0] != except_id:
            hint = " (it is deleted; undelete or purge it)" if row[2] is not None else ""
            raise DataError(f"A prompt set named {row[1]!r} already exists{hint}; choose another name.")

    def _add_version(
        self, conn: sqlite3.Connection, set_id: int, document: str, tags: tuple[str, ...], note: str
    ) -> int:
        version = conn.execute(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM set_versions WHERE set_id = ?", (set_id,)
        ).fetchone()[0]
        now = _now()
        conn.execute(
            "INSERT INTO set_versions (set_id, version, document, tags, note, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (set_id, version, document, json.dumps(tags), note, now),
        )
        conn.execute("UPDATE prompt_sets SET tags = ?, updated_at = ? WHERE id = ?", (json.dumps(tags), now, set_id))
        return version

    def save_set(
        self, name: str, document: dict, tags: Iterable[str] = (), note: str = "", *, new: bool = False
    ) -> int:
        """Save ``document`` as the next version of set ``name`` (version 1 creates it); returns the version.

        ``new=True`` (import, "save as") refuses a name that already exists instead of adding a version.
        """
        name = check_name(name)
        if not isinstance(document, dict):
            raise DataError("A prompt set document must be a JSON object (a dictionary).")
        text = _dumps(document, "prompt set", lenient=False)  # plain JSON only: documents round-trip exactly
        tag_tuple = _tags(tags)
        with self._tx() as conn:
            row = conn.execute("SELECT id, name, deleted_at FROM prompt_sets WHERE name = ?", (name,)).fetchone()
            if row is not None and (new or row[2] is not None):
                self._check_free(conn, name)
            if row is None:
                now = _now()
                cur = conn.execute(
                    "INSERT INTO prompt_sets (name, tags, created_at, updated_at) VALUES (?, ?, ?, ?)",
                    (name, json.dumps(tag_tuple), now, now),
                )
                set_id = int(cur.lastrowid)
            else:
                set_id = row[0]
            return self._add_version(conn, set_id, text, tag_tuple, str(note))

    def exists(self, name: str) -> bool:
        """True when a set (deleted or not) already holds this name (names compare case-insensitively)."""
        return bool(self._query("SELECT 1 FROM prompt_sets WHERE name = ?", (_lookup_name(name),)))

    def get_set(self, name: str, version: int | None = None) -> tuple[dict, int]:
        """The document of a version (default: the latest) and its version number."""
        set_id, real_name, _ = self._set_row(name)
        if version is None:
            rows = self._query(
                "SELECT document, version FROM set_versions WHERE set_id = ? ORDER BY version DESC LIMIT 1", (set_id,)
            )
        else:
            rows = self._query(
                "SELECT document, version FROM set_versions WHERE set_id = ? AND version = ?", (set_id, int(version))
            )
        if not rows:
            raise DataError(f"The prompt set {real_name!r} has no version {version}; see its version history.")
        return json.loads(rows[0][0]), rows[0][1]

    def list_sets(self, search: str = "", include_deleted: bool = False) -> list[SetInfo]:
        """Sets whose name or a tag contains ``search`` (case-insensitive), sorted by name."""
        rows = self._query(
            "SELECT s.name, v.version, v.tags, v.note, s.created_at, s.updated_at, s.deleted_at "
            "FROM prompt_sets s JOIN set_versions v ON v.set_id = s.id "
            "AND v.version = (SELECT MAX(version) FROM set_versions WHERE set_id = s.id) "
            "ORDER BY s.name COLLATE NOCASE"
        )
        needle = search.strip().casefold()
        out = []
        for name, version, tags, note, created, updated, deleted in rows:
            tag_tuple = tuple(json.loads(tags))
            if deleted is not None and not include_deleted:
                continue
            if needle and needle not in name.casefold() and not any(needle in t.casefold() for t in tag_tuple):
                continue
            out.append(SetInfo(name, version, tag_tuple, note, created, updated, deleted is not None))
        return out

    def versions(self, name: str) -> list[VersionInfo]:
        """Version history of a set, oldest first."""
        set_id, _, _ = self._set_row(name, include_deleted=True)
        rows = self._query(
            "SELECT version, created_at, note, tags FROM set_versions WHERE set_id = ? ORDER BY version", (set_id,)
        )
        return [VersionInfo(v, c, n, tuple(json.loads(t))) for v, c, n, t in rows]

    def rename(self, old: str, new: str) -> None:
        """Rename a set, keeping its history; refuses a name that is taken."""
        new = check_name(new)
        with self._tx() as conn:
            set_id, _, _ = self._set_row(old)
            self._check_free(conn, new, except_id=set_id)
            conn.execute("UPDATE prompt_sets SET name = ?, updated_at = ? WHERE id = ?", (new, _now(), set_id))

    def duplicate(self, name: str, new_name: str) -> int:
        """Copy the latest version of a set into a new set (its version 1); refuses a taken name."""
        document, version = self.get_set(name)
        tags = self.versions(name)[-1].tags
        return self.save_set(new_name, document, tags, note=f"Duplicate of {name} version {version}", new=True)

    def restore(self, name: str, version: int) -> int:
        """Add a new version equal to an old one (history is never rewritten); returns the new version."""
        document, _ = self.get_set(name, version)
        old = next(v for v in self.versions(name) if v.version == version)
        return self.save_set(name, document, old.tags, note=f"Restored from version {version}")

    def delete(self, name: str) -> None:
        """Soft-delete a set: hidden from the library until :meth:`undelete`; the name stays taken."""
        with self._tx() as conn:
            set_id, _, _ = self._set_row(name)
            conn.execute("UPDATE prompt_sets SET deleted_at = ? WHERE id = ?", (_now(), set_id))

    def undelete(self, name: str) -> None:
        """Bring back a soft-deleted set with its whole history."""
        with self._tx() as conn:
            set_id, real_name, deleted = self._set_row(name, include_deleted=True)
            if deleted is None:
                raise DataError(f"The prompt set {real_name!r} is not deleted.")
            conn.execute("UPDATE prompt_sets SET deleted_at = NULL WHERE id = ?", (set_id,))

    def purge(self, name: str) -> None:
        """Remove a soft-deleted set and its history for good (frees the name)."""
        with self._tx() as conn:
            set_id, real_name, deleted = self._set_row(name, include_deleted=True)
            if deleted is None:
                raise DataError(f"Delete the prompt set {real_name!r} before purging it.")
            conn.execute("DELETE FROM prompt_sets WHERE id = ?", (set_id,))


def open_store(path: str | os.PathLike | None = None) -> Store:
    """Open (creating and migrating) the store at ``path``, default :func:`default_db_path`."""
    return Store(default_db_path() if path is None else path)
