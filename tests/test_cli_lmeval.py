"""``workbench eval --task TASK.yaml`` end to end in a subprocess on the real llama.cpp gemma-3-270m: the two
shipped example tasks (a multiple_choice task and a gsm8k-style generate_until task with regex filters)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from workbench.store import open_store


def cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=os.environ.copy())


def stored(res: subprocess.CompletedProcess) -> tuple[dict, list[dict]]:
    run_id = int(res.stderr.split("run ")[-1].split()[0])
    with open_store(Path(os.environ["WORKBENCH_DATA_DIR"]) / "workbench.db") as store:
        return store.get_run(run_id).meta, store.results(run_id)


def test_a_multiple_choice_task_runs_acc_and_acc_norm():
    res = cli("eval", "--task", "examples/lm-eval/sentiment.yaml", "--limit", "3", "--no-progress")
    assert res.returncode == 0, res.stderr
    rows = [line.split() for line in res.stdout.splitlines() if line.startswith("sentiment_reviews/")]
    assert [r[:2] for r in rows] == [["sentiment_reviews/acc", "3"], ["sentiment_reviews/acc_norm", "3"]]
    meta, records = stored(res)
    assert meta["model"] == "gemma-3-270m"
    assert [s["answer"] for s in meta["strategies"]] == ["choices", "choices"]
    assert all(r["extracted"] in ("0", "1") and set(r["logliks"]) == {"0", "1"} for r in records)
    first = next(r for r in records if r["id"] == "0")
    assert first["prompt"].startswith("Decide whether each movie review is positive or negative.\n\nReview: ")
    assert first["prompt"].endswith("Review: A warm, funny film that earns every one of its tears.\nSentiment: ")
    # acc_norm ranks the same scores per character: its logliks are the same numbers, from the cache
    by = {(r["strategy"], r["id"]): r for r in records}
    assert all(by[("sentiment_reviews/acc", i)]["logliks"] == by[("sentiment_reviews/acc_norm", i)]["logliks"]
               for i in ("0", "1", "2"))
    assert "cache: 3 hits, 3 misses" in res.stdout + res.stderr


def test_a_generate_until_task_with_regex_filters_runs_its_exact_match_per_filter():
    res = cli("eval", "--task", "examples/lm-eval/arithmetic.yaml", "--limit", "3", "--no-progress")
    assert res.returncode == 0, res.stderr
    names = [line.split()[0] for line in res.stdout.splitlines() if line.startswith("arithmetic_words/")]
    assert names[:2] == ["arithmetic_words/exact_match,strict-match", "arithmetic_words/exact_match,flexible-extract"]
    _, records = stored(res)
    assert len(records) == 6
    for r in records:
        assert r["prompt"].endswith("\nAnswer:") and "Question:" not in r["output"]  # stopped at "Question:"
        (verdict,) = r["checks"]
        assert verdict["type"] == "lm-eval-exact-match" and r["correct"] == verdict["passed"]
    by = {(r["strategy"], r["id"]): r for r in records}
    assert all(by[("arithmetic_words/exact_match,strict-match", i)]["output"]
               == by[("arithmetic_words/exact_match,flexible-extract", i)]["output"] for i in ("0", "1", "2"))


def test_a_task_file_refusal_is_one_error_line(tmp_path):
    (tmp_path / "t.yaml").write_text("task: t\ndataset_path: json\nprocess_docs: !function utils.process_docs\n")
    res = cli("eval", "--task", str(tmp_path / "t.yaml"), "--no-progress")
    assert res.returncode == 2
    assert res.stderr.strip() == ("error: t.yaml line 3: '!function' loads Python code from the task's folder, and "
                                  "the workbench runs no code from files; write it as a field name or a Jinja "
                                  "template.")
