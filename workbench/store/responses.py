"""The response cache's table (keys and values are made by :mod:`workbench.cache`) and remembered file hashes.
"""

from __future__ import annotations

import json
import time
from typing import Any

from workbench.errors import DataError
from workbench.store.database import Database, _dumps, _now


class ResponseTable(Database):
    """Cached model answers (least recently used evicted) and file hashes."""

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

