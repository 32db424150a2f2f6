"""A person's pass/fail grades of a run's outputs, stored with the run: the human side of a judge's agreement
figure (:mod:`workbench.judging`). One grade per result row (a strategy's output on one item, a repeat its own).

The table is made on first use (``CREATE TABLE IF NOT EXISTS``), so a database of an earlier schema gains it
without a migration; its rows go with their run (``ON DELETE CASCADE``). Grades follow the run's visibility:
a classroom student grades and reads only their own runs.

    >>> from workbench.store import open_store
    >>> store = open_store(":memory:")
    >>> run = store.create_run({"model": "m"})
    >>> store.set_grades(run, {("zero", 0): True, ("zero", 1): False})
    >>> store.set_grades(run, {("zero", 1): None})  # None takes a grade back
    >>> store.grades(run)
    {('zero', 0): True}
"""

from __future__ import annotations

from collections.abc import Mapping

from workbench.errors import DataError
from workbench.store.database import _now
from workbench.store.runs import RunTable

#: The grades table: one row per graded result (run, strategy, item index), 1 = pass, 0 = fail.
GRADES_TABLE = """
CREATE TABLE IF NOT EXISTS grades (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    strategy TEXT NOT NULL,
    item_index INTEGER NOT NULL,
    human INTEGER NOT NULL CHECK (human IN (0, 1)),
    graded_at TEXT NOT NULL,
    PRIMARY KEY (run_id, strategy, item_index)
)"""


class GradeTable(RunTable):
    """Human pass/fail grades of a run's results (the ``grades`` table), beside the runs they grade."""

    def _grades_table(self) -> None:
        with self._lock:
            self._conn.execute(GRADES_TABLE)

    def set_grades(self, run_id: int, grades: Mapping[tuple[str, int], bool | None]) -> None:
        """Grade results of ``run_id``: ``{(strategy, item_index): True (pass) / False (fail) / None (ungrade)}``,
        in one transaction."""
        self._run_row(run_id, change=True)  # the run exists and may be changed
        rows = []
        for key, value in grades.items():
            if not (isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], str)
                    and isinstance(key[1], int) and not isinstance(key[1], bool)):
                raise DataError(f"A grade is keyed by (strategy, item index), not {key!r}.")
            if value is not None and not isinstance(value, bool):
                raise DataError(f"A grade is pass (True), fail (False) or none, not {value!r}.")
            rows.append((key[0], key[1], value))
        self._grades_table()
        with self._tx() as conn:
            for strategy, index, value in rows:
                if value is None:
                    conn.execute("DELETE FROM grades WHERE run_id = ? AND strategy = ? AND item_index = ?",
                                 (run_id, strategy, index))
                else:
                    conn.execute("INSERT INTO grades (run_id, strategy, item_index, human, graded_at) "
                                 "VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id, strategy, item_index) DO UPDATE "
                                 "SET human = excluded.human, graded_at = excluded.graded_at",
                                 (run_id, strategy, index, int(value), _now()))

    def grades(self, run_id: int) -> dict[tuple[str, int], bool]:
        """Every grade of ``run_id``: ``{(strategy, item_index): passed}`` (empty: none given)."""
        self._run_row(run_id)  # the acting user sees the run
        self._grades_table()
        rows = self._query("SELECT strategy, item_index, human FROM grades WHERE run_id = ? "
                           "ORDER BY strategy, item_index", (run_id,))
        return {(s, i): bool(h) for s, i, h in rows}
