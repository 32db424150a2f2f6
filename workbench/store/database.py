"""The database: one SQLite file (WAL, synchronous=NORMAL, foreign keys on), its connection behind a
lock, write transactions, and the schema migrations. :class:`Database` is the base of the tables' classes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from workbench import settings
from workbench.errors import DataError

#: Environment variable that moves the database (and other user data) elsewhere.
DATA_DIR_ENV = "WORKBENCH_DATA_DIR"
#: Application name used for the platform data directory.
APP_NAME = "prompt-workbench"
#: File name of the database inside the data directory.
DB_FILENAME = "workbench.db"
#: Seconds a writer waits for another process's write lock before failing.
BUSY_TIMEOUT_S = 30.0


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


def _migrate_v4(conn: sqlite3.Connection) -> None:
    # Classroom workspaces (workbench.classroom): the browser workspace a prompt set or a run belongs to;
    # NULL = shared (the teacher's; every row made before classroom mode, and everything made outside it).
    _run_script(
        conn,
        """
        ALTER TABLE prompt_sets ADD COLUMN workspace TEXT;
        ALTER TABLE runs ADD COLUMN workspace TEXT;
        CREATE INDEX runs_workspace ON runs (workspace);
        """
    )


#: Migration i brings a database from schema version i to i + 1; PRAGMA user_version records where it is.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_migrate_v1, _migrate_v2, _migrate_v3, _migrate_v4)
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


def default_db_path() -> Path:
    """``$WORKBENCH_DATA_DIR/workbench.db``, else the platform user data dir / prompt-workbench / workbench.db."""
    override = settings.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser() / DB_FILENAME
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / DB_FILENAME


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


class Database:
    """Runs and prompt sets in one SQLite file. Thread-safe: one connection behind a lock.

    One shared connection (``check_same_thread=False``) serialised by an RLock suits
    Streamlit, which runs every script rerun in a fresh thread: per-thread connections
    would pile up. Other processes (the CLI next to the app) are handled by WAL and a
    busy timeout.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        if self.path != ":memory:":
            folder = Path(self.path).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as err:  # a regular file where the folder should be, no permission, a read-only disk
                why = "it is a file, not a folder" if folder.exists() and not folder.is_dir() else (
                    err.strerror or type(err).__name__).lower()
                raise DataError(f"Cannot use {folder} as the workbench data folder ({why}); "
                                f"set {DATA_DIR_ENV} to a folder.") from None
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

    def __enter__(self) -> Database:
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

