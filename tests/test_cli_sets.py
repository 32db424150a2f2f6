"""``python -m workbench sets``: list, show, export, import and run, against the real store and default models.

The store lives under WORKBENCH_DATA_DIR, which tests/conftest.py points at a temporary folder
for the whole session; each test uses set names of its own.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import pytest

from tests.test_cli import cli
from workbench.promptsets.files import classroom_sets, dumps, loads, to_json, to_yaml
from workbench.promptsets.library import get
from workbench.promptsets.model import PromptSet
from workbench.store import open_store

CLASSROOM = classroom_sets()


def write_set(path, name: str, fmt: str = "yaml") -> PromptSet:
    pset = CLASSROOM["zero_vs_few_shot"].renamed(name)
    path.write_text(dumps(pset, fmt), encoding="utf-8")
    return pset


def test_list_shows_classroom_sets_and_searches_by_tag():
    res = cli("sets", "list")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["source", "name", "version", "tags", "description"]
    assert sorted(line.split()[1] for line in lines[1:] if line.startswith("classroom")) == sorted(CLASSROOM)
    res = cli("sets", "list", "--search", "SELF-CONSISTENCY", "--json")
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(r["source"], r["ref"]) for r in rows] == [("classroom", "self_consistency")]


def test_import_never_overwrites_and_says_so(tmp_path):
    path = tmp_path / "shared.yaml"
    pset = write_set(path, "CLI import test")
    first = cli("sets", "import", str(path))
    assert first.returncode == 0, first.stderr
    assert first.stdout == "imported 'CLI import test' (version 1, 2 steps, 4 test inputs)\n"
    second = cli("sets", "import", str(path))
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("imported 'CLI import test (2)' (version 1")
    assert second.stderr == ("note: a prompt set named 'CLI import test' already exists; imported as "
                             "'CLI import test (2)' (nothing was overwritten).\n")
    with open_store() as store:
        assert [v.version for v in store.versions("CLI import test")] == [1]
        assert get(store, "CLI import test (2)") == (pset.renamed("CLI import test (2)"), 1)
    listed = [json.loads(line)["ref"] for line in cli("sets", "list", "--search", "cli import", "--json")
              .stdout.splitlines()]
    assert listed == ["CLI import test", "CLI import test (2)"]


def test_export_import_export_is_byte_identical_through_the_cli(tmp_path):
    exported = cli("sets", "export", "demo_order")
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == to_yaml(CLASSROOM["demo_order"])
    renamed = tmp_path / "order.json"
    renamed.write_text(to_json(loads(exported.stdout).renamed("CLI round trip")), encoding="utf-8")
    assert cli("sets", "import", str(renamed)).returncode == 0
    again = cli("sets", "export", "CLI round trip", "--format", "json", "-o", str(tmp_path / "again.json"))
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again.json").read_text(encoding="utf-8") == renamed.read_text(encoding="utf-8")


def test_export_jsonl_chat_messages_for_given_inputs():
    res = cli("sets", "export", "base_vs_instruct", "--format", "jsonl", "--shape", "chat", "--meta",
              "--input", "Why is grass green?")
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["meta"]["title"] for r in rows] == ["Base model, raw text", "Instruct model, chat template"]
    assert rows[1]["messages"] == [{"role": "user", "content": "Answer the question in one short sentence.\n\n"
                                                               "Question: Why is grass green?"}]
    assert rows[1]["meta"]["model"] == "smollm2-135m-instruct" and rows[1]["meta"]["expected"] is None


def test_show_prints_the_explanation_steps_and_exact_prompts():
    res = cli("sets", "show", "base_vs_instruct", "--prompts", "--backend", "llama.cpp")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert out.startswith("# Base model vs instruct model\n(classroom set base_vs_instruct; tags: classroom")
    assert "Instruction tuning teaches a model" in out
    assert "## Step 1: Base model, raw text\nmodel: gemma-3-270m · zero-shot (no demonstrations)" in out
    assert ("Answer the question in one short sentence.\n\nQuestion: What is the capital of France?\nAnswer:\n"
            in out)
    assert "<|im_start|>user\nAnswer the question in one short sentence.\n\nQuestion: What is" in out  # chat template
    assert "1. What is the capital of France?   [expected: Paris]" in out


def test_run_prints_answers_accuracy_and_csv():
    res = cli("sets", "run", "zero_vs_few_shot", "--backend", "llama.cpp", "--max-new-tokens", "2", "--limit", "1",
              "--csv", "-", "--no-progress", timeout=300)
    assert res.returncode == 0, res.stderr
    text, _, table = res.stdout.partition("step,title,")
    assert text.startswith("# Zero-shot vs few-shot on a base model (classroom set zero_vs_few_shot)\n")
    assert "step 2 · Few-shot (6 demonstrations) · gemma-3-270m | The jokes land" in text
    assert "step 2 · Few-shot (6 demonstrations): 1/1 correct" in text  # six demonstrations: the label is right
    rows = list(csv.DictReader(io.StringIO("step,title," + table)))
    assert [(r["step"], r["samples"], r["expected"]) for r in rows] == [("1", "1", "positive"), ("2", "1", "positive")]
    assert rows[1]["answer"] == "positive" and rows[1]["correct"] == "True"


def test_run_a_file_with_own_inputs_and_one_step(tmp_path):
    path = tmp_path / "mine.json"
    write_set(path, "CLI run file", fmt="json")
    res = cli("sets", "run", str(path), "--step", "2", "--input", "Dreadful.", "--input", "Lovely.",
              "--backend", "llama.cpp", "--max-new-tokens", "2", "--no-progress", timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("step 2 · Few-shot") == 2 and "step 1" not in res.stdout
    assert "correct" not in res.stdout  # own inputs have no expected answers


@pytest.mark.parametrize(("args", "message"), [
    (["show", "no such set"], "error: No prompt set named 'no such set' in the library or the classroom sets"),
    (["show", "demo_order", "--version", "2"], "error: There is no saved prompt set named 'demo_order'"),
    (["export", "missing.yaml"], "error: missing.yaml does not exist"),
    (["run", "demo_order", "--step", "4"], "error: --step 4 does not exist; the set has 3 steps (1-3)."),
    (["run", "demo_order", "--max-new-tokens", "0"], "error: The max_new_tokens cap must be at least 1"),
    (["import", "missing.json"], "error: missing.json does not exist"),
])
def test_user_errors_are_one_line_and_exit_2(args, message):
    res = cli("sets", *args)
    assert res.returncode == 2
    assert res.stderr.startswith(message) and res.stderr.count("\n") == 1
    assert "Traceback" not in res.stderr


def test_hostile_import_is_refused_and_nothing_is_saved(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(f"schema_version: 1\nname: CLI evil\nsteps:\n  - title: !!python/object/apply:os.system "
                    f"['touch {marker}']\n", encoding="utf-8")
    res = cli("sets", "import", str(path))
    assert res.returncode == 2
    assert res.stderr == ("error: evil.yaml line 4: the Python tag !!python/object/apply:os.system is refused; "
                          "prompt-set files are plain data and never create Python objects.\n")
    assert not marker.exists()
    with open_store() as store:
        assert not store.exists("CLI evil")


def test_import_refuses_a_name_with_control_characters_in_one_line(tmp_path):
    path = tmp_path / "evil.json"
    write_set(path, "plain", fmt="json")
    path.write_text(path.read_text(encoding="utf-8").replace('"plain"', '"evil\\u001b]0;owned\\u0007"'),
                    encoding="utf-8")
    res = cli("sets", "import", str(path))
    assert res.returncode == 2
    assert res.stderr.startswith("error: evil.json: name: prompt set names may not hold control characters")
    assert "\x1b" not in res.stderr and "\x07" not in res.stderr and len(res.stderr.splitlines()) == 1


def test_list_never_prints_raw_control_characters():
    with open_store() as store:  # a name saved before names were checked, and hostile tags
        store.save_set("legacy", {}, tags=["t\x1b[2J", "u\u2028v"])
        with sqlite3.connect(store.path) as conn:
            conn.execute("UPDATE prompt_sets SET name = ?", ("leg\x1b[31macy\x07\u2028\x9b",))
    res = cli("sets", "list")
    assert res.returncode == 0, res.stderr
    raw = ("\x1b", "\x07", "\u2028", "\x9b")
    assert not any(c in res.stdout for c in raw)
    assert "leg\\x1b[31macy\\x07\\u2028\\x9b" in res.stdout and "t\\x1b[2J, u\\u2028v" in res.stdout
    res = cli("sets", "list", "--search", "leg", "--json")
    assert not any(c in res.stdout for c in raw)
    row = json.loads(res.stdout)
    assert (row["ref"], row["tags"]) == ("leg\x1b[31macy\x07\u2028\x9b", ["t\x1b[2J", "u\u2028v"])
