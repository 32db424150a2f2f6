"""``eval``'s CI gate: ``--fail-under``, ``--fail-if-worse``/``--alpha`` and ``--junit`` with their exit codes
(0 pass, 1 a rule failed with one stderr line per failing rule, 2 a usage error before any model loads).

Most commands run in this process on the fake backend (tests/fakes.py): the point is what the CLI does around the
model, so the outputs are scripted and every figure is worked out by hand. One test runs the real gemma-3-270m in
a subprocess, as CI runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.fakes import FakeBackend
from tests.test_cli_hardening import one_line_error, run
from tests.test_junit import check_structure

#: Eight questions whose answer is Paris (ids p0..p7), as a JSONL file holds them.
PARIS = "".join(json.dumps({"id": f"p{i}", "question": f"Which city is landmark {i} in?", "answer": "Paris"}) + "\n"
                for i in range(8))


@pytest.fixture
def fake(monkeypatch):
    """The fake model as the default model; it answers " Paris" until a test changes ``reply``."""
    from workbench.backends import DEFAULT_MODEL, choose_backend, resolve_model
    from workbench.backends.registry import ModelSpec

    backend = FakeBackend(reply=lambda prompt, seed: " Paris")
    backend.spec = ModelSpec(DEFAULT_MODEL, "", False)
    backend.name = choose_backend(resolve_model(DEFAULT_MODEL))
    monkeypatch.setattr("workbench.backends.load_backend", lambda *a, **k: backend)
    return backend


@pytest.fixture
def paris(tmp_path):
    path = tmp_path / "paris.jsonl"
    path.write_text(PARIS, encoding="utf-8")
    return str(path)


def evaluate(capsys, paris: str, *flags: str) -> tuple[int, str, str]:
    """``eval`` on the eight Paris items, strategy zero, judged by ``icontains:paris``, no cache, no bar."""
    return run(capsys, "eval", "--dataset", paris, "--strategies", "zero", "--assert", "icontains:paris",
               "--no-cache", "--no-progress", *flags)


def gate_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("gate: ")]


def run_id_of(err: str) -> int:
    return int(err.split("\nrun ")[-1].split()[0])


def answer_paris_for(fake: FakeBackend, right: int) -> None:
    """The fake answers the first ``right`` landmarks Paris and the others Rome."""
    fake.reply = lambda prompt, seed: " Paris" if int(prompt.rsplit("landmark ", 1)[1].split()[0]) < right else " Rome"


def test_fail_under_exit_codes_and_the_line_per_failing_strategy(capsys, fake, paris):
    answer_paris_for(fake, 6)  # 6 of 8: 75.0%
    code, out, err = evaluate(capsys, paris, "--fail-under", "0.75")
    assert code == 0 and gate_lines(err) == [] and out.startswith("strategy")
    code, out, err = evaluate(capsys, paris, "--fail-under", "0.8")
    assert code == 1, err
    assert gate_lines(err) == ["gate: zero 75.0% < 80.0% (--fail-under)"] and err.rstrip().endswith(
        "gate: zero 75.0% < 80.0% (--fail-under)")  # the verdict is the last thing said
    assert out.startswith("strategy")  # the table is printed as always
    # A named rule wins over the bare one for its strategy (names as the table shows them, case aside).
    code, _, err = evaluate(capsys, paris, "--fail-under", "0.9", "--fail-under", "ZERO=0.7")
    assert code == 0 and gate_lines(err) == []


def test_fail_if_worse_against_a_stored_run_and_an_exported_file(capsys, fake, paris, tmp_path):
    base_file = str(tmp_path / "base.jsonl")
    code, _, err = evaluate(capsys, paris, "--output", base_file)  # all 8 right
    assert code == 0, err
    base = run_id_of(err)
    answer_paris_for(fake, 2)  # 6 items broken, none fixed: McNemar p = 2 / 2**6
    code, _, err = evaluate(capsys, paris, "--fail-if-worse", str(base))
    assert code == 1 and gate_lines(err) == [
        f"gate: zero 25.0% vs 100.0% in run {base}, p = 0.0312 < 0.05 (--fail-if-worse)"]
    code, _, err = evaluate(capsys, paris, "--fail-if-worse", base_file, "--alpha", "0.01")
    assert code == 0 and gate_lines(err) == []
    code, _, err = evaluate(capsys, paris, "--fail-if-worse", base_file, "--fail-under", "0.5")
    assert code == 1 and gate_lines(err) == [
        "gate: zero 25.0% < 50.0% (--fail-under)",
        "gate: zero 25.0% vs 100.0% in base.jsonl, p = 0.0312 < 0.05 (--fail-if-worse)"]
    # --json carries the verdicts too; the lines still go to stderr.
    code, out, err = evaluate(capsys, paris, "--fail-if-worse", base_file, "--json")
    assert code == 1 and json.loads(out)["gate"] == [
        {"rule": "--fail-if-worse", "strategy": "zero", "passed": False, "skipped": False,
         "line": "zero 25.0% vs 100.0% in base.jsonl, p = 0.0312 < 0.05 (--fail-if-worse)"}]
    # --limit 5: the five shared items (3 broken): p = 2 / 2**3 = 0.25.
    code, _, err = evaluate(capsys, paris, "--fail-if-worse", base_file, "--limit", "5")
    assert code == 0 and gate_lines(err) == []


@pytest.mark.parametrize(("flags", "message"), [
    (["--fail-under", "-1"], "error: --fail-under -1: the threshold must be a number from 0 to 1, not '-1'."),
    (["--fail-under", "75"], "error: --fail-under 75: the threshold must be a number from 0 to 1 (0.8 for 80%), "
                             "not '75'."),
    (["--fail-under", "knn4=0.5"], "error: --fail-under knn4=0.5 names no strategy of this run; its strategies: "
                                   "zero."),
    (["--fail-if-worse", "99"], "error: There is no run 99; pick one from the run history."),
    (["--fail-if-worse", "missing.jsonl"], "error: missing.jsonl does not exist"),
    (["--alpha", "0.1"], "error: --alpha is the significance level of --fail-if-worse; add --fail-if-worse "
                         "RUN_OR_FILE, or leave out --alpha."),
    (["--fail-if-worse", "BASE", "--alpha", "0"], "error: --alpha must be a number above 0 and below 1 (e.g. 0.05), "
                                                  "not 0."),
    (["--junit", "."], "error: --junit . is a folder; give a file name"),
    (["--junit", "/proc/report.xml"], "error: --junit /proc/report.xml: cannot write files in /proc"),
])
def test_usage_errors_are_one_line_and_exit_2_before_the_model_loads(capsys, monkeypatch, fake, paris, tmp_path,
                                                                     flags, message):
    base_file = str(tmp_path / "base.jsonl")
    assert evaluate(capsys, paris, "--output", base_file)[0] == 0
    monkeypatch.setattr("workbench.backends.load_backend", None)  # never reached
    monkeypatch.chdir(tmp_path)
    flags = [base_file if f == "BASE" else f for f in flags]
    line = one_line_error(evaluate(capsys, paris, *flags))
    assert line.startswith(message), line


def test_a_baseline_of_other_strategies_or_other_items_is_one_line(capsys, monkeypatch, fake, paris, tmp_path):
    base_file = str(tmp_path / "base.jsonl")
    code, _, err = run(capsys, "eval", "--dataset", paris, "--strategies", "knn2", "--assert", "icontains:paris",
                       "--no-progress", "--output", base_file)
    assert code == 0, err
    monkeypatch.setattr("workbench.backends.load_backend", None)  # never reached
    line = one_line_error(evaluate(capsys, paris, "--fail-if-worse", base_file))
    assert line == ("error: --fail-if-worse: base.jsonl has no strategy named as one of this run (this run: zero; "
                    "base.jsonl: knn2); compare runs of the same strategies.")
    other = tmp_path / "other.jsonl"
    other.write_text(PARIS.replace('"id": "p', '"id": "x'), encoding="utf-8")
    line = one_line_error(run(capsys, "eval", "--dataset", str(other), "--strategies", "knn2", "--assert",
                              "icontains:paris", "--no-progress", "--fail-if-worse", base_file))
    assert line == ("error: --fail-if-worse: base.jsonl shares no item with this run (items pair by id); compare runs "
                    "on the same dataset.")


HOSTILE = "</testcase>]]>&\x1b[31m\x00<!--"


def test_junit_report_with_hostile_ids_and_outputs_and_the_gate_suite(capsys, fake, tmp_path):
    data = tmp_path / "hostile.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}{HOSTILE}", "question": f"Which city is landmark {i} in?",
                                        "answer": "Paris"}) + "\n" for i in range(3)), encoding="utf-8")
    fake.reply = lambda prompt, seed: " Paris" if "landmark 0 " in prompt else f" Rome{HOSTILE}"
    report = tmp_path / "report.xml"
    code, _, err = run(capsys, "eval", "--dataset", str(data), "--strategies", "zero", "--assert", "icontains:paris",
                       "--no-progress", "--fail-under", "0.5", "--junit", str(report))
    assert code == 1 and gate_lines(err) == ["gate: zero 33.3% < 50.0% (--fail-under)"]
    assert f"wrote {report}" in err
    root = check_structure(report.read_text(encoding="utf-8"))
    zero, gate = root
    clean = "</testcase>]]>&[31m<!--"
    assert [c.get("name") for c in zero.findall("testcase")] == [f"q{i}{clean}" for i in range(3)]
    assert [(p.get("name"), p.get("value")) for p in zero.find("properties")] == [
        ("run_id", str(run_id_of(err))), ("model", "gemma-3-270m"), ("status", "finished")]
    failures = [c.find("failure") for c in zero.findall("testcase")]
    assert failures[0] is None
    assert [f.get("message") for f in failures[1:]] == ["icontains: does not contain 'paris'"] * 2
    assert failures[1].text.endswith(f"output:  Rome{clean}")
    (case,) = gate.findall("testcase")
    assert case.get("name") == "--fail-under zero" and case[0].get("message") == "zero 33.3% < 50.0% (--fail-under)"


def test_junit_alone_gates_nothing_and_a_failed_run_still_writes_it(capsys, fake, paris, tmp_path):
    report = tmp_path / "report.xml"
    answer_paris_for(fake, 4)
    code, _, err = evaluate(capsys, paris, "--junit", str(report))
    assert code == 0 and gate_lines(err) == []
    root = check_structure(report.read_text(encoding="utf-8"))
    assert [s.get("name") for s in root] == ["zero"] and root.get("failures") == "4"
    # A sequence the model refuses fails the run: exit 2 with the error's one line; the report holds what ran,
    # and the gate's first verdict is the run's status.
    fake.fail = lambda prompt: "refused" if "landmark 7 " in prompt else None
    code, out, err = evaluate(capsys, paris, "--junit", str(report), "--fail-under", "0")
    assert code == 2 and out == "" and err.strip().splitlines()[-1].startswith("error: 1 item could not run")
    root = check_structure(report.read_text(encoding="utf-8"))
    zero, gate = root
    assert zero.get("tests") == "7" and zero.find("properties")[2].get("value") == "failed"
    assert "resume run 2 to try them again" in err  # this test's store is its own: the second run is run 2
    assert [c[0].get("message") for c in gate.findall("testcase") if len(c)] == [
        "run 2 ended failed; a run that did not finish never passes the gate"]


def test_the_real_model_gate_in_a_subprocess(tmp_path):
    """gemma-3-270m scores 4 sentiment reviews; the gate applied on resuming the finished run (nothing re-runs)."""
    env = os.environ.copy()

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "workbench", "eval", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=300, env=env)

    base = tmp_path / "base.jsonl"
    res = cli("--dataset", "sentiment", "--strategies", "zero", "--limit", "4", "--answer", "score", "--json",
              "--no-progress", "--output", str(base), "--junit", str(tmp_path / "a.xml"))
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    (summary,) = doc["strategies"]
    accuracy, run = summary["accuracy"], doc["run_id"]
    root = check_structure((tmp_path / "a.xml").read_text(encoding="utf-8"))
    assert int(root[0].get("tests")) == 4 and int(root[0].get("failures")) == 4 - summary["correct"]
    resume = ("--dataset", "sentiment", "--resume", str(run), "--no-progress")
    above = min(1.0, accuracy + 0.25)
    res = cli(*resume, "--fail-under", f"{above}", "--fail-if-worse", str(base))
    if accuracy < 1.0:
        assert res.returncode == 1, res.stderr
        assert gate_lines(res.stderr) == [f"gate: zero {accuracy:.1%} < {above:.1%} (--fail-under)"]
    res = cli(*resume, "--fail-under", f"{accuracy}", "--fail-if-worse", str(base))
    assert res.returncode == 0 and gate_lines(res.stderr) == [], res.stderr
    res = cli(*resume, "--fail-under", "2")
    assert res.returncode == 2 and res.stderr.strip() == ("error: --fail-under 2: the threshold must be a number from "
                                                          "0 to 1 (0.8 for 80%), not '2'.")
    assert ET.fromstring((tmp_path / "a.xml").read_bytes()).tag == "testsuites"


def test_the_ci_example_runs_what_the_parser_takes_and_the_baseline_matches():
    """examples/ci/prompts-check.yml: its two eval commands parse with the real parser, run the same items and
    strategies (so the baseline's names match), and its gate rules name strategies those commands make."""
    import shlex

    import yaml

    from workbench.cli import build_parser
    from workbench.evaluate.gate import parse_fail_under, resolve

    job = yaml.safe_load((ROOT / "examples" / "ci" / "prompts-check.yml").read_text(encoding="utf-8"))
    steps = job["jobs"]["prompts"]["steps"]
    assert job[True]["pull_request"]["paths"] == ["prompts/**", "examples/**"]  # YAML 1.1 reads "on" as True
    commands = [line for step in steps for line in step.get("run", "").splitlines() if "bin/workbench" in line]
    parsed = []
    for line in commands:
        words = shlex.split(line.replace("$GITHUB_WORKSPACE/", ""))
        assert words[0] == ".venv/bin/workbench"  # the checkout's own install (make install)
        parsed.append(build_parser().parse_args(words[1:]))
    base, check = parsed
    assert base.output == "baseline.jsonl" and check.fail_if_worse == "baseline.jsonl"
    same = ("dataset", "prompt", "strategies", "answer", "limit")
    assert [getattr(base, k) for k in same] == [getattr(check, k) for k in same]
    assert (check.junit, check.alpha) == ("report.xml", 0.05)
    assert (ROOT / check.prompt[0]).is_file()
    names = [f"{Path(check.prompt[0]).stem}/{s}" for s in check.strategies.split(",")]
    assert resolve([parse_fail_under(t) for t in check.fail_under], names) == {
        "sentiment/zero": parse_fail_under("sentiment/zero=0.5"), "sentiment/knn4": parse_fail_under("0.8")}
    uploads = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert "report.xml" in uploads["with"]["path"].split()
