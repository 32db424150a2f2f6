"""Evaluation runs and their item records: create, resume, add results, finish, list, delete.

On a classroom server (:func:`workbench.classroom.current` set) a run belongs to the workspace that made it
(NULL: shared, the teacher's and every run made outside classroom mode): a student lists, reads, resumes and
deletes only their own runs (another's reads as missing); the teacher sees every run. Outside a classroom (the
CLI, one user on loopback) every run is visible, as before.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from workbench.classroom import current
from workbench.errors import DataError
from workbench.store.database import Database, _dumps, _now
from workbench.store.processes import process_gone, this_process

#: States a run can finish in.
RUN_STATES = ("finished", "cancelled", "failed")
#: The state of a "running" run whose process is gone (killed, crashed, machine rebooted); resume it to finish it.
INTERRUPTED = "interrupted"


@runtime_checkable
class Record(Protocol):
    """A typed item record the store serialises (:class:`~workbench.evaluate.records.ItemRecord`)."""

    def to_dict(self) -> dict[str, Any]: ...


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
    workspace: str | None = None  # the classroom workspace that made it; None: shared (the teacher's)


_RUN_COLUMNS = ("SELECT id, created_at, finished_at, status, meta, summary, "
                "(SELECT COUNT(*) FROM results WHERE run_id = runs.id), owner, workspace")


class RunTable(Database):
    """Runs and their results (the ``runs`` and ``results`` tables)."""

    def create_run(self, meta: dict) -> int:
        """Start a run; ``meta`` holds model, backend, strategies, decoding, versions, dataset name/hash."""
        if not isinstance(meta, dict):
            raise DataError("Run metadata must be a dictionary.")
        meta = {"created_at": _now(), **meta}
        text = _dumps(meta, "run metadata")
        access = current()
        with self._tx() as conn:
            cur = conn.execute("INSERT INTO runs (created_at, meta, owner, workspace) VALUES (?, ?, ?, ?)",
                               (meta["created_at"], text, json.dumps(this_process()),
                                None if access is None else access.workspace))  # the teacher's too: runs are
            # not shared like sets; a teacher who leaves teacher mode (or opens a tab without it) still has them
            return int(cur.lastrowid)

    def reopen_run(self, run_id: int) -> None:
        """Mark a stored run "running" again, owned by this process (call it when resuming the run)."""
        self._run_row(run_id, change=True)
        with self._tx() as conn:
            cur = conn.execute("UPDATE runs SET status = 'running', finished_at = NULL, owner = ? WHERE id = ?",
                               (json.dumps(this_process()), run_id))
            if cur.rowcount == 0:
                raise DataError(f"There is no run {run_id}; pick one from the run history.")

    def add_result(self, run_id: int, strategy: str, item_index: int, record: Record | dict) -> None:
        """Store one item's record for one strategy, committed at once (a rerun of the item replaces it).

        A typed record (:class:`~workbench.evaluate.records.ItemRecord`) becomes its stored row here, at the
        store's edge; a plain dictionary is stored as it is."""
        if isinstance(record, Record):
            record = record.to_dict()
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

    def _run_row(self, run_id: int, change: bool = False) -> tuple:
        """A run's row, if the acting user sees it (and, ``change``, may change it)."""
        rows = self._query(
            f"{_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,),
        )
        access = current()
        if not rows or (access is not None and not access.sees_run(rows[0][-1])):
            raise DataError(f"There is no run {run_id}; pick one from the run history.")
        if change and access is not None and not access.may_change(rows[0][-1]):
            raise DataError(f"Run {run_id} belongs to another workspace and is read-only here.")  # defensive
        return rows[0]

    def _run_info(self, row: tuple) -> RunInfo:
        """The run of a row; a "running" run whose process is gone is marked INTERRUPTED here, for good."""
        rid, created, finished, status, meta, summary, n, owner_text, workspace = row
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
            workspace=workspace,
        )

    def get_run(self, run_id: int) -> RunInfo:
        """One run's metadata, summary and result count (a run whose process is gone reads INTERRUPTED)."""
        return self._run_info(self._run_row(run_id))

    def list_runs(self) -> list[RunInfo]:
        """All runs the acting user sees (every run outside a classroom), newest first (runs whose process is
        gone read INTERRUPTED)."""
        access = current()
        rows = self._query(f"{_RUN_COLUMNS} FROM runs ORDER BY id DESC")
        return [self._run_info(r) for r in rows if access is None or access.sees_run(r[-1])]

    def delete_run(self, run_id: int) -> None:
        """Delete a run and its results (on a classroom server: one's own; any for the teacher)."""
        self._run_row(run_id, change=True)
        with self._tx() as conn:
            if conn.execute("DELETE FROM runs WHERE id = ?", (run_id,)).rowcount == 0:
                raise DataError(f"There is no run {run_id}.")

