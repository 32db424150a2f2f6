"""Helper for tests/test_store.py: write results into a store until killed.

Usage: ``python tests/store_writer.py DB_PATH``. Prints the run id, then each item
index right after its row is committed, so the parent knows what must survive.
"""

from __future__ import annotations

import sys

from workbench.store import open_store

#: Upper bound so a writer the test forgot to kill still ends.
MAX_ITEMS = 200_000


def record(i: int) -> dict:
    """The record for item i; the test rebuilds it to check every committed row is intact."""
    return {"input": f"question {i}", "output": f"answer {i} " + "x" * 2000, "extracted": str(i), "correct": i % 3 == 0}


def main() -> None:
    store = open_store(sys.argv[1])
    run_id = store.create_run({"model": "writer", "dataset": "synthetic"})
    print(run_id, flush=True)
    for i in range(MAX_ITEMS):
        store.add_result(run_id, "zero", i, record(i))
        print(i, flush=True)


if __name__ == "__main__":
    main()
