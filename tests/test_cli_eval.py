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
    table, paired, f1 = res.stdout.strip().split("\n\n")
    assert f1.startswith("macro-F1: zero 0.") or f1.startswith("macro-F1: zero 1.")
    assert ", knn2 " in f1
    header, rule, *rows = table.splitlines()
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
    # After the table, one line per pair: difference, McNemar p, bootstrap interval (numbers from stats.py).
    from workbench.stats import paired_comparisons

    (line,) = paired.splitlines()[1:]
    assert line.strip() == paired_comparisons(records)[0].line()
    assert line.strip().startswith("zero − knn2: ") and "McNemar p = " in line and "95% bootstrap CI" in line


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


NEWS = "text,label\nStocks fell sharply,1\nThe striker scored twice,2\nElection results are in,1\nThe final ended 2-1,2\n"


def test_a_text_label_csv_with_numeric_labels_two_prompts_times_two_strategies(tmp_path):
    (tmp_path / "news.csv").write_text(NEWS, encoding="utf-8")
    for name, instruction in (("a", "Classify the news topic."), ("b", "Is this news about world or sports?")):
        (tmp_path / f"{name}.yaml").write_text(
            f"name: {name}\nspec:\n  instruction: {instruction!r}\n  answer_format: label\n"
            "  labels: [world, sports]\n", encoding="utf-8")
    out = tmp_path / "run.jsonl"
    res = cli("--dataset", str(tmp_path / "news.csv"), "--input-column", "text", "--answer-column", "label",
              "--label-map", "1=world,2=sports", "--prompt", str(tmp_path / "a.yaml"), "--prompt",
              str(tmp_path / "b.yaml"), "--strategies", "zero,knn2", "--answer", "score", "--json", "--no-progress",
              "--output", str(out))
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [(s["strategy"], s["n"]) for s in doc["strategies"]] == [
        ("a/zero", 4), ("a/knn2", 4), ("b/zero", 4), ("b/knn2", 4)]
    assert [m["strategy"] for m in doc["labels"]] == ["a/zero", "a/knn2", "b/zero", "b/knn2"]
    assert all(m["confusion"]["labels"] == ["world", "sports"] for m in doc["labels"])
    assert len(doc["paired"]) == 6 and all(0 <= p["p_value"] <= 1 and p["ci_low"] <= p["difference"] <= p["ci_high"]
                                           for p in doc["paired"])
    with open_store() as store:
        records = store.results(doc["run_id"])
        assert {r["gold"] for r in records} == {"world", "sports"}  # the label map, not "1"/"2"
        assert {r["extracted"] for r in records} <= {"world", "sports"}
        a_zero = next(r for r in records if r["strategy"] == "a/zero")
        assert a_zero["prompt"].startswith("Classify the news topic.") and "Stocks fell sharply" in a_zero["prompt"]
        manifest = store.get_run(doc["run_id"]).meta["manifest"]
    assert len(manifest["model_sha256"]) == 64 and manifest["embedder"] and manifest["packages"]["llama-cpp-python"]
    # The JSONL export reads back through `runs show` the way the stored run does.
    shown_file = subprocess.run([sys.executable, "-m", "workbench", "runs", "show", str(out)], cwd=ROOT,
                                capture_output=True, text=True, timeout=120, env=os.environ.copy())
    shown_store = subprocess.run([sys.executable, "-m", "workbench", "runs", "show", str(doc["run_id"])], cwd=ROOT,
                                 capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert shown_file.returncode == 0, shown_file.stderr
    assert shown_file.stdout == shown_store.stdout
    assert "  a/zero: " in shown_file.stdout and f"sha256 {manifest['model_sha256']}" in shown_file.stdout
    html = tmp_path / "report.html"
    export = subprocess.run([sys.executable, "-m", "workbench", "runs", "export", str(out), "--output", str(html)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert export.returncode == 0, export.stderr
    assert html.read_text(encoding="utf-8").count('class="whisker"') == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "{news}", "--answer-column", "label"],
         "error: news.csv has no column 'question' for the input; available columns: text, label"),
        (["--dataset", "{news}", "--input-column", "body", "--answer-column", "label"],
         "error: news.csv has no column 'body' for the input; available columns: text, label"),
        (["--dataset", "{news}", "--input-column", "text", "--answer-column", "label", "--label-map", "1=world"],
         "error: news.csv line 3: value '2' in column 'label' is not in the label map (1); add it to the map as "
         "'2'=NAME"),
        (["--dataset", "{news}", "--input-column", "text", "--answer-column", "label", "--label-map", "1=world,2"],
         "error: Label map entry '2' needs the form value=label, e.g. '1=world,2=sports'."),
        (["--dataset", "{news}", "--input-template", "{title}: {text}", "--answer-column", "label"],
         "error: news.csv has no column 'title' for the input template's {title}; available columns: text, label"),
        (["--dataset", "sentiment", "--output", "run.txt"],
         "error: Cannot tell the export format of 'run.txt'; end the file name with .jsonl, .csv, .html or .json (promptfoo's results)."),
        (["--dataset", "sentiment", "--prompt", "{tmp}/x/a.yaml", "--prompt", "{tmp}/y/a.yaml"],
         "are both named 'a'; rename one file."),
        (["--dataset", "sentiment", "--prompt", "{tmp}/none.yaml"], "none.yaml does not exist"),
    ],
)
def test_bad_mappings_are_one_line_and_exit_2(tmp_path, args, message):
    (tmp_path / "news.csv").write_text(NEWS, encoding="utf-8")
    for sub in ("x", "y"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "a.yaml").write_text("name: a\nspec:\n  instruction: Go.\n", encoding="utf-8")
    args = [a.replace("{news}", str(tmp_path / "news.csv")).replace("{tmp}", str(tmp_path)) for a in args]
    res = cli(*args, "--no-progress")
    assert res.returncode == 2, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert message in res.stderr.strip() and res.stderr.startswith("error: ")


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
    again = cli("--dataset", "sentiment", "--strategies", "knn4", "--limit", "2", "--answer", "score",
                "--context-window", "48", "--no-progress")
    assert "cache: 2 hits, 0 misses" in again.stderr  # the same requests, answered from the store
    off = cli("--dataset", "sentiment", "--strategies", "knn4", "--limit", "2", "--answer", "score",
              "--context-window", "48", "--no-progress", "--no-cache")
    assert "cache: off" in off.stderr

    def accuracy(res):
        return [line.split()[:3] for line in res.stdout.splitlines()[2:3]]

    assert accuracy(off) == accuracy(again) == accuracy(res)  # the same answers, whether cached or not


def test_the_pool_takes_the_dataset_mapping_unless_its_own_flags_say_otherwise():
    from workbench.cli import build_parser
    from workbench.cli.common import mapping_from_args
    from workbench.data import ColumnMapping
    from workbench.errors import ConfigError

    def parse(*flags: str):
        return build_parser().parse_args(["eval", "--dataset", "d.csv", *flags])

    args = parse("--input-template", "{title}. {body}", "--answer-column", "label", "--label-map", "1=a,2=b")
    mine = ColumnMapping(input_template="{title}. {body}", answer="label", label_map=(("1", "a"), ("2", "b")))
    assert mapping_from_args(args) == mine == mapping_from_args(args, pool=True)
    args = parse("--input-template", "{title}. {body}", "--answer-column", "label", "--pool-input-column", "text",
                 "--pool-label-map", "x=a")
    assert mapping_from_args(args, pool=True) == ColumnMapping(input="text", answer="label", label_map=(("x", "a"),))
    assert mapping_from_args(parse()) == ColumnMapping()
    with pytest.raises(ConfigError, match="Give --pool-input-column or --pool-input-template, not both"):
        mapping_from_args(parse("--pool-input-column", "a", "--pool-input-template", "{b}"), pool=True)


def test_a_batching_model_decodes_items_together_unless_reproducible_and_resume_keeps_the_setting():
    env = {**os.environ, "WORKBENCH_BATCH": "3"}
    args = ["--dataset", "arithmetic", "--strategies", "zero", "--limit", "3", "--json", "--no-progress"]
    batched = subprocess.run([sys.executable, "-m", "workbench", "eval", *args], cwd=ROOT, capture_output=True,
                             text=True, timeout=300, env=env)
    alone = subprocess.run([sys.executable, "-m", "workbench", "eval", *args, "--reproducible"], cwd=ROOT,
                           capture_output=True, text=True, timeout=300, env=env)
    assert batched.returncode == 0 and alone.returncode == 0, (batched.stderr, alone.stderr)
    ids = json.loads(batched.stdout)["run_id"], json.loads(alone.stdout)["run_id"]
    with open_store(Path(os.environ["WORKBENCH_DATA_DIR"]) / "workbench.db") as store:
        assert [store.get_run(i).meta["batch"] for i in ids] == [3, 1]
        assert [r["batch"] for r in store.results(ids[0])] == [3, 3, 3]
        assert [r["batch"] for r in store.results(ids[1])] == [1, 1, 1]
    resumed = subprocess.run([sys.executable, "-m", "workbench", "eval", "--dataset", "arithmetic", "--resume",
                              str(ids[0]), "--reproducible", "--no-progress"], cwd=ROOT, capture_output=True,
                             text=True, timeout=300, env=env)
    assert resumed.returncode == 2 and resumed.stderr.strip() == (
        f"error: Run {ids[0]} was generated up to 3 sequences decoded together, not one sequence at a time; "
        "resume it with the same batching (Reproducible / WORKBENCH_BATCH) or start a new run.")
