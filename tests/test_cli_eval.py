"""``python -m workbench eval`` end to end in a subprocess, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from workbench.store import open_store


def cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    # WORKBENCH_DATA_DIR / WORKBENCH_CACHE_DIR come from conftest's isolation and reach the child.
    return subprocess.run([sys.executable, "-m", "workbench", "eval", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=os.environ.copy())


def test_eval_prints_a_table_and_stores_the_run():
    res = cli("--dataset", "sentiment", "--strategies", "zero,knn2", "--limit", "4", "--answer", "score",
              "--no-progress")
    assert res.returncode == 0, res.stderr
    header, rule, *rows = res.stdout.strip().splitlines()
    assert header.split()[:3] == ["strategy", "n", "accuracy"] and set(rule.replace(" ", "")) == {"-"}
    assert [r.split()[:2] for r in rows] == [["zero", "4"], ["knn2", "4"]]
    assert all(r.split()[2].endswith("%") for r in rows)
    run_id = int(res.stderr.split("run ")[-1].split()[0])
    db = Path(os.environ["WORKBENCH_DATA_DIR"]) / "workbench.db"
    assert f"stored in {db}" in res.stderr
    with open_store(db) as store:
        info = store.get_run(run_id)
        assert info.status == "finished" and info.n_results == 8
        assert info.meta["model"] == "gemma-3-270m" and info.meta["dataset"]["name"] == "sentiment"
        assert [s["name"] for s in info.meta["strategies"]] == ["zero", "knn2"]
        records = store.results(run_id)
        assert all(r["extracted"] in ("positive", "negative") for r in records)  # label scoring: never off-label
        # The printed accuracy is the stored one.
        stored = {s["strategy"]: s["accuracy"] for s in info.summary["strategies"]}
        printed = {r.split()[0]: r.split()[2] for r in rows}
        assert printed == {k: f"{v:.1%}" for k, v in stored.items()}


def test_eval_json_and_resume_of_a_finished_run():
    res = cli("--dataset", "arithmetic", "--strategies", "zero", "--limit", "2", "--json", "--no-progress")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["status"] == "finished" and doc["model"] == "gemma-3-270m"
    assert [(s["strategy"], s["n"]) for s in doc["strategies"]] == [("zero", 2)]
    again = cli("--dataset", "arithmetic", "--resume", str(doc["run_id"]), "--json", "--no-progress")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["strategies"] == doc["strategies"]  # nothing left to run, same numbers
    other = cli("--dataset", "arithmetic", "--resume", str(doc["run_id"]), "--model", "smollm2-135m-instruct",
                "--no-progress")
    assert other.returncode == 2 and other.stdout == ""
    assert other.stderr.strip() == (f"error: Run {doc['run_id']} was made with model 'gemma-3-270m', not "
                                    "'smollm2-135m-instruct'; resume it with the same model or start a new run.")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "sentiment", "--strategies", "zero,fewshot4"], "Unknown strategy 'fewshot4'"),
        (["--dataset", "sentiment", "--limit", "0"], "--limit must be at least 1"),
        (["--dataset", "arithmetic", "--answer", "score"], "label scoring needs a fixed label set"),
        (["--dataset", "sentiment", "--label-words", "positive great"], "needs the form label=word"),
        (["--dataset", "no/such/file.jsonl"], "no/such/file.jsonl"),
        (["--dataset", "sentiment", "--resume", "99999"], "There is no run 99999"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    res = cli(*args, "--no-progress")
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith("error: ") and message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr


def test_a_summary_says_when_demonstrations_were_dropped_to_fit():
    res = cli("--dataset", "sentiment", "--strategies", "knn4", "--limit", "2", "--answer", "score",
              "--context-window", "48", "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "knn4: 2 of 2 items ran with fewer demonstrations than asked (dropped to fit the context window)" \
        in res.stderr
