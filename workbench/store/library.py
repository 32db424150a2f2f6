"""The versioned prompt-set library: every save adds a version; soft delete, undelete, purge.

On a classroom server (:func:`workbench.classroom.current` set) a set belongs to the workspace that saved it
(NULL: shared, the teacher's). A student sees the shared sets and their own, and changes only their own; another
workspace's set reads as missing. Names stay unique across the whole store (a taken name is refused, whoever holds
it). Without a classroom user (the CLI, one user on loopback) everything is visible and changeable, as before.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from workbench.classroom import current
from workbench.errors import DataError
from workbench.store.database import Database, _dumps, _now
from workbench.store.names import _lookup_name, _tags, check_name


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
    workspace: str | None = None  # the classroom workspace it belongs to; None: shared (the teacher's)


@dataclass(frozen=True)
class VersionInfo:
    """One saved version of a prompt set."""

    version: int
    created_at: str
    note: str
    tags: tuple[str, ...]


#: What a prompt file's history is kept under in ``prompt_sets``: this prefix and the file's resolved path. A
#: control character (U+0001) no set name may hold (``check_name``), so a file's history never takes a user's
#: name, and :meth:`SetLibrary.list_sets` leaves these rows out.
FILE_KEY_PREFIX = "\x01file:"


class SetLibrary(Database):
    """Prompt sets and their versions (the ``prompt_sets`` and ``set_versions`` tables)."""

    def file_version(self, path: str, document: dict, note: str) -> tuple[int, bool]:
        """The version of a prompt file's content (the file at resolved ``path`` holds ``document`` now): its
        latest version when the content is the same (canonical JSON, as every stored set), else a new version
        with ``note``; the first time a file is read it is version 1. Returns (version, whether it is new).
        The history lives under :data:`FILE_KEY_PREFIX` + ``path``: read it with :meth:`versions` and
        :meth:`get_set` by that key."""
        if not isinstance(document, dict):
            raise DataError("A prompt set document must be a JSON object (a dictionary).")
        text = _dumps(document, "prompt set", lenient=False)
        key = FILE_KEY_PREFIX + path
        with self._tx() as conn:
            row = conn.execute("SELECT id FROM prompt_sets WHERE name = ?", (key,)).fetchone()
            if row is None:
                now = _now()
                set_id = int(conn.execute(
                    "INSERT INTO prompt_sets (name, tags, created_at, updated_at, workspace) VALUES (?, '[]', ?, ?, NULL)",
                    (key, now, now)).lastrowid)
            else:
                set_id = row[0]
                latest = conn.execute("SELECT document, version FROM set_versions WHERE set_id = ? "
                                      "ORDER BY version DESC LIMIT 1", (set_id,)).fetchone()
                if latest is not None and latest[0] == text:
                    return latest[1], False
            return self._add_version(conn, set_id, text, _tags(document.get("tags") or ()), str(note)), True

    def _set_row(self, name: str, include_deleted: bool = False, change: bool = False
                 ) -> tuple[int, str, str | None, str | None]:
        """(id, name, deleted_at, workspace) of a set the acting user sees (and, ``change``, may change)."""
        rows = self._query("SELECT id, name, deleted_at, workspace FROM prompt_sets WHERE name = ?",
                           (_lookup_name(name),))
        access = current()
        if not rows or (access is not None and not access.sees_set(rows[0][3])):
            raise DataError(f"There is no prompt set named {name!r}; check the name in the library.")
        if change and access is not None and not access.may_change(rows[0][3]):
            raise DataError(f"The prompt set {rows[0][1]!r} is shared by the teacher and read-only here; "
                            "save a copy to change it.")
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
        access = current()
        with self._tx() as conn:
            row = conn.execute("SELECT id, name, deleted_at, workspace FROM prompt_sets WHERE name = ?",
                               (name,)).fetchone()
            if row is not None and (new or row[2] is not None or (access is not None and not access.sees_set(row[3]))):
                self._check_free(conn, name)  # another workspace's set: its name is taken, nothing more is said
            if row is not None and access is not None and not access.may_change(row[3]):
                raise DataError(f"The prompt set {row[1]!r} is shared by the teacher and read-only here; "
                                "save a copy under another name to change it.")
            if row is None:
                now = _now()
                cur = conn.execute(
                    "INSERT INTO prompt_sets (name, tags, created_at, updated_at, workspace) VALUES (?, ?, ?, ?, ?)",
                    (name, json.dumps(tag_tuple), now, now, None if access is None else access.saves_as),
                )
                set_id = int(cur.lastrowid)
            else:
                set_id = row[0]
            return self._add_version(conn, set_id, text, tag_tuple, str(note))

    def exists(self, name: str) -> bool:
        """True when a set (deleted or not, in any workspace) already holds this name (names compare
        case-insensitively): the name cannot be given to another set."""
        return bool(self._query("SELECT 1 FROM prompt_sets WHERE name = ?", (_lookup_name(name),)))

    def get_set(self, name: str, version: int | None = None) -> tuple[dict, int]:
        """The document of a version (default: the latest) and its version number."""
        set_id, real_name, _, _ = self._set_row(name)
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
        """Sets whose name or a tag contains ``search`` (case-insensitive), sorted by name (on a classroom
        server: those the acting user sees, see :meth:`workbench.classroom.Access.sees_set`)."""
        access = current()
        rows = self._query(
            "SELECT s.name, v.version, v.tags, v.note, s.created_at, s.updated_at, s.deleted_at, s.workspace "
            "FROM prompt_sets s JOIN set_versions v ON v.set_id = s.id "
            "AND v.version = (SELECT MAX(version) FROM set_versions WHERE set_id = s.id) "
            "ORDER BY s.name COLLATE NOCASE"
        )
        needle = search.strip().casefold()
        out = []
        for name, version, tags, note, created, updated, deleted, workspace in rows:
            tag_tuple = tuple(json.loads(tags))
            if (deleted is not None and not include_deleted) or name.startswith(FILE_KEY_PREFIX):
                continue
            if access is not None and not access.sees_set(workspace):
                continue
            if needle and needle not in name.casefold() and not any(needle in t.casefold() for t in tag_tuple):
                continue
            out.append(SetInfo(name, version, tag_tuple, note, created, updated, deleted is not None, workspace))
        return out

    def versions(self, name: str) -> list[VersionInfo]:
        """Version history of a set, oldest first."""
        set_id, _, _, _ = self._set_row(name, include_deleted=True)
        rows = self._query(
            "SELECT version, created_at, note, tags FROM set_versions WHERE set_id = ? ORDER BY version", (set_id,)
        )
        return [VersionInfo(v, c, n, tuple(json.loads(t))) for v, c, n, t in rows]

    def rename(self, old: str, new: str) -> None:
        """Rename a set, keeping its history; refuses a name that is taken."""
        new = check_name(new)
        with self._tx() as conn:
            set_id, _, _, _ = self._set_row(old, change=True)
            self._check_free(conn, new, except_id=set_id)
            conn.execute("UPDATE prompt_sets SET name = ?, updated_at = ? WHERE id = ?", (new, _now(), set_id))

    def duplicate(self, name: str, new_name: str) -> int:
        """Copy the latest version of a set into a new set (its version 1); refuses a taken name."""
        document, version = self.get_set(name)
        tags = self.versions(name)[-1].tags
        return self.save_set(new_name, document, tags, note=f"Duplicate of {name} version {version}", new=True)

    def restore(self, name: str, version: int) -> int:
        """Add a new version equal to an old one (history is never rewritten); returns the new version."""
        self._set_row(name, change=True)
        document, _ = self.get_set(name, version)
        old = next(v for v in self.versions(name) if v.version == version)
        return self.save_set(name, document, old.tags, note=f"Restored from version {version}")

    def delete(self, name: str) -> None:
        """Soft-delete a set: hidden from the library until :meth:`undelete`; the name stays taken."""
        with self._tx() as conn:
            set_id, _, _, _ = self._set_row(name, change=True)
            conn.execute("UPDATE prompt_sets SET deleted_at = ? WHERE id = ?", (_now(), set_id))

    def _on_deleted(self, name: str, sql: str, not_deleted: str) -> None:
        """Run ``sql`` (``?`` = the set's id) on a soft-deleted set; ``not_deleted`` (with ``{name}``) otherwise."""
        with self._tx() as conn:
            set_id, real_name, deleted, _ = self._set_row(name, include_deleted=True, change=True)
            if deleted is None:
                raise DataError(not_deleted.format(name=repr(real_name)))
            conn.execute(sql, (set_id,))

    def undelete(self, name: str) -> None:
        """Bring back a soft-deleted set with its whole history."""
        self._on_deleted(name, "UPDATE prompt_sets SET deleted_at = NULL WHERE id = ?", "The prompt set {name} is not deleted.")

    def purge(self, name: str) -> None:
        """Remove a soft-deleted set and its history for good (frees the name)."""
        self._on_deleted(name, "DELETE FROM prompt_sets WHERE id = ?", "Delete the prompt set {name} before purging it.")

    def set_workspace(self, name: str) -> str | None:
        """The classroom workspace a visible set belongs to (None: shared, the teacher's)."""
        return self._set_row(name, include_deleted=True)[3]

    def may_change(self, name: str) -> bool:
        """True when the acting user may change, rename or delete the set (always outside a classroom)."""
        access = current()
        return access is None or access.may_change(self.set_workspace(name))
