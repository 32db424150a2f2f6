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


def stored_run(outcomes: dict[str, list[int]], ids: list[str] | None = None, hash_: str = "d") -> int:
    """A finished run with one record per (strategy, item): correct where outcomes say 1."""
    with open_store() as store:
        run = store.create_run({**META, "strategies": [{"name": n} for n in outcomes],
                                "dataset": {"name": "sentiment", "size": 40, "hash": hash_},
                                "manifest": {"packages": {"workbench": "0.1.0"}, "model_sha256": "ab" * 32,
                                             "embedder": "all-MiniLM-L6-v2", "seeds": [0, 3]}})
        for name, values in outcomes.items():
            for i, c in enumerate(values):
                item_id = ids[i] if ids else f"row-{i + 1}"
                store.add_result(run, name, i, {"id": item_id, "input": f"text {i}", "prompt": "P", "output": "o",
                                                "extracted": "positive", "rule": "label_score", "gold": "positive",
                                                "correct": bool(c), "seconds": 0.1})
        store.finish_run(run, {"strategies": [{"strategy": n, "accuracy": sum(v) / len(v), "n": len(v)}
                                              for n, v in outcomes.items()], "items": 4})
    return run


def test_show_prints_the_manifest_and_an_export_reads_back_the_same(tmp_path):
    run = stored_run({"zero": [1, 0, 1, 1], "knn4": [1, 1, 1, 1]})
    show = cli("runs", "show", str(run))
    assert show.returncode == 0, show.stderr
    assert "manifest:" in show.stdout and f"sha256 {'ab' * 32}" in show.stdout and "  seeds 0, 3" in show.stdout
    for name in ("run.jsonl", "run.csv", "report.html"):
        res = cli("runs", "export", str(run), "--output", str(tmp_path / name))
        assert (res.returncode, res.stderr.strip()) == (0, f"wrote {tmp_path / name} (8 records)")
    assert (tmp_path / "run.csv").read_text(encoding="utf-8").count("\n") == 9
    assert "<svg" in (tmp_path / "report.html").read_text(encoding="utf-8")
    from_file = cli("runs", "show", "--file", str(tmp_path / "run.jsonl"))
    assert from_file.returncode == 0, from_file.stderr
    assert from_file.stdout == show.stdout
    assert "results 8 of 20" in show.stdout  # META: first 10 items × 2 strategies
    assert cli("runs", "show", str(tmp_path / "run.jsonl")).stdout == from_file.stdout
    as_json = json.loads(cli("runs", "show", str(tmp_path / "run.jsonl"), "--json").stdout)
    assert as_json["run_id"] == run and as_json["meta"]["manifest"]["seeds"] == [0, 3]


def test_compare_two_runs_on_their_shared_items(tmp_path):
    a = stored_run({"zero": [1, 1, 1, 1, 0, 1]})
    b = stored_run({"zero": [0, 0, 0, 1, 1, 1]})
    res = cli("runs", "compare", str(a), str(b))
    assert res.returncode == 0, res.stderr
    # 3 items right in a only, 1 in b only: McNemar p = 2 * (1 + 4) / 16 = 0.625; difference (5 - 3) / 6.
    assert res.stdout.startswith(f"{a}:zero − {b}:zero: +33.3 points on 6 items (McNemar p = 0.625; 95% bootstrap CI ")
    doc = json.loads(cli("runs", "compare", str(a), str(b), "--json").stdout)
    assert (doc["only_a"], doc["only_b"], doc["n"]) == (3, 1, 6)
    # Different strategy names pair every one with every one; items match by id, not by position.
    c = stored_run({"knn4": [1, 0]}, ids=["row-6", "row-5"], hash_="other")
    res = cli("runs", "compare", str(a), str(c))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"{a}:zero − {c}:knn4: +0.0 points on 2 items (McNemar p = 1;")
    assert "were made on different dataset files; compared on the 2 item ids both have" in res.stderr
    cli("runs", "export", str(a), "--output", str(tmp_path / "a.jsonl"))
    assert cli("runs", "compare", str(tmp_path / "a.jsonl"), str(b)).stdout.startswith(f"a:zero − {b}:zero: +33.3")


@pytest.mark.parametrize(("args", "message"), [
    (["compare", "nope", "1"], "error: 'nope' is neither a run id nor a run.jsonl file; pick one from `runs list`."),
    (["export", "99", "--output", "r.html"], "error: There is no run 99; pick one from the run history."),
    (["export", "1", "--output", "r.txt"],
     "error: Cannot tell the export format of 'r.txt'; end the file name with .jsonl, .csv, .html or .json (promptfoo's results)."),
    (["show"], "error: Give a run id (or a run.jsonl), or --file RUN.jsonl, to show."),
    (["show", "--file", "no/such.jsonl"], "error: no/such.jsonl does not exist"),
])
def test_bad_export_compare_and_show_arguments_are_one_line(args, message):
    res = cli("runs", *args)
    assert (res.returncode, res.stderr.strip()) == (2, message)
