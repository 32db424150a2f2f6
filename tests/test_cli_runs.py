"""``python -m workbench runs list|show``: killed runs read "interrupted" and say how to resume them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.test_cli import cli
from workbench.store import open_store

META = {"kind": "evaluate", "model": "gemma-3-270m", "backend": "llama.cpp",
        "dataset": {"name": "sentiment", "size": 40, "hash": "d"},
        "pool": {"name": "sentiment", "size": 40, "hash": "d"}, "limit": 10,
        "strategies": [{"name": "zero"}, {"name": "knn4"}]}

#: A process that starts a run, stores one result, says so, and waits to be killed.
WRITER = f"""
import sys, time
from workbench.store import open_store
store = open_store()
run = store.create_run({META!r})
store.add_result(run, "zero", 0, {{"correct": True}})
print(run, flush=True)
time.sleep(120)
"""


def killed_run() -> int:
    proc = subprocess.Popen([sys.executable, "-c", WRITER], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        run = int(proc.stdout.readline())
        with open_store() as store:
            assert store.get_run(run).status == "running"  # alive: not interrupted
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return run


def test_a_run_killed_with_sigkill_is_listed_as_interrupted_with_its_resume_command():
    run = killed_run()
    res = cli("runs", "list")
    assert res.returncode == 0, res.stderr
    header, line = res.stdout.splitlines()
    assert header.split() == ["id", "status", "started", "model", "dataset", "strategies", "done"]
    assert line.split()[:2] == [str(run), "interrupted"]
    assert line.endswith(f"zero,knn4   1/20  resume: eval --resume {run}")
    show = cli("runs", "show", str(run))
    assert show.returncode == 0, show.stderr
    assert show.stdout.splitlines()[0].startswith(f"run {run}: interrupted (its process ")
    assert show.stdout.splitlines()[-1] == (f"resume: python -m workbench eval --resume {run} --dataset sentiment "
                                            "--model gemma-3-270m --backend llama.cpp")
    with open_store() as store:  # marked for good, not only shown
        assert store._query("SELECT status FROM runs WHERE id = ?", (run,)) == [("interrupted",)]


def test_a_live_run_stays_running_and_a_finished_one_offers_no_resume():
    with open_store() as store:
        live = store.create_run(META)
        done = store.create_run({**META, "dataset": {"name": "mine", "size": 5, "hash": "x"}})
        store.finish_run(done, {"strategies": [{"strategy": "zero", "accuracy": 0.6, "n": 5}], "items": 5})
    rows = {r["run_id"]: r for r in map(json.loads, cli("runs", "list", "--json").stdout.splitlines())}
    assert (rows[live]["status"], rows[live]["resume"]) == ("running", None)
    assert (rows[done]["status"], rows[done]["resume"], rows[done]["expected"]) == ("finished", None, 10)
    show = cli("runs", "show", str(done)).stdout
    assert "dataset mine (5 items); demonstrations from sentiment" in show and "  zero: 60.0% of 5" in show
    assert "resume:" not in show
    assert cli("runs", "show", str(live)).stdout.startswith(f"run {live}: running (process {os.getpid()} on ")


def test_a_cancelled_run_on_a_file_names_the_files_to_give():
    with open_store() as store:
        run = store.create_run({**META, "dataset": {"name": "mydata", "size": 8, "hash": "x"},
                                "pool": {"name": "mypool", "size": 9, "hash": "y"}})
        store.finish_run(run, {}, status="cancelled")
    out = cli("runs", "show", str(run)).stdout.splitlines()
    assert out[-2] == (f"resume: python -m workbench eval --resume {run} --dataset FILE --pool POOL_FILE "
                       "--model gemma-3-270m --backend llama.cpp")
    assert out[-1].startswith("  (FILE / POOL_FILE: the data files the run was made on")


@pytest.mark.parametrize(("args", "message"), [
    (["show", "99"], "error: There is no run 99; pick one from the run history."),
    (["list", "--limit", "-1"], "error: --limit must be 0 (all) or more, got -1."),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    res = cli("runs", *args)
    assert (res.returncode, res.stderr.strip()) == (2, message)


def test_an_empty_store_says_how_to_start_and_runs_is_a_registered_command():
    res = cli("runs", "list")
    assert (res.returncode, res.stdout) == (0, "")
    assert "python -m workbench eval" in res.stderr
    assert "runs" in cli("--help").stdout
