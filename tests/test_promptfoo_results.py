"""``--output results.json``: a run written in promptfoo's results shape (promptfoo 0.119's ``writeOutput``:
``{evalId, results: {version: 3, timestamp, prompts, results, stats}, config, shareableUrl}``), checked key by
key on a small run with the fake backend; hostile outputs and vars come back as JSON data, byte for byte."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from tests.fakes import FakeBackend
from tests.test_cli import cli
from workbench.data import Example, Pool
from workbench.evaluate.runner import evaluate
from workbench.evaluate.strategies import Strategy
from workbench.interop.promptfoo.results import results_document
from workbench.judging.registry import build_checks
from workbench.prompts import PromptSpec
from workbench.report import report_from_store, write_report
from workbench.store import open_store

HOSTILE = '</script><b>"x"</b>\n{{ \'\'.__class__ }} \\u0000 "},{"evil": 1'
ITEMS = Pool("t", (Example("a", "w=cat", "", vars={"word": "cat"}),
                   Example("b", "w=hostile", "", vars={"word": HOSTILE})))
SPEC = PromptSpec(syntax="jinja", query_template="Say {{ word }}:", answer_format="free", answer_prefix="")
RESULT_KEYS = {"cost", "gradingResult", "id", "latencyMs", "namedScores", "prompt", "promptId", "promptIdx",
               "provider", "response", "score", "success", "testCase", "testIdx", "vars", "metadata",
               "failureReason"}


def _fake(model_id: str, reply) -> FakeBackend:
    fake = FakeBackend(reply=reply)
    fake.spec = dataclasses.replace(fake.spec, id=model_id, path=f"/no/such/{model_id}")
    return fake


def _run(tmp_path, checks=("icontains: cat", {"type": "regex", "value": "t", "metric": "has_t"})):
    a = _fake("model-a", lambda prompt, seed: " cat" if "cat" in prompt else " " + HOSTILE)
    b = _fake("model-b", lambda prompt, seed: " dog")
    built = build_checks(list(checks))
    strategies = [Strategy("Say @ model-a", SPEC, model="model-a", checks=built),
                  Strategy("Say @ model-b", SPEC, model="model-b", checks=built)]
    store = open_store(tmp_path / "wb.db")
    run = evaluate(ITEMS, None, strategies, a, store, models={"model-a": a, "model-b": b})
    report = report_from_store(store, run.run_id)
    store.close()
    return report


def test_the_results_file_has_promptfoos_shape_key_by_key(tmp_path):
    report = _run(tmp_path)
    path = write_report(report, tmp_path / "results.json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc == results_document(report)
    assert set(doc) == {"evalId", "results", "config", "shareableUrl"}
    assert doc["evalId"] == f"workbench-run-{report.run_id}" and doc["shareableUrl"] is None
    summary = doc["results"]
    assert set(summary) == {"version", "timestamp", "prompts", "results", "stats"}
    assert summary["version"] == 3 and summary["timestamp"].endswith("Z")
    assert [(p["label"], p["provider"], p["raw"]) for p in summary["prompts"]] == [
        ("Say", "model-a", "Say {{ word }}:"), ("Say", "model-b", "Say {{ word }}:")]
    metrics_a = summary["prompts"][0]["metrics"]
    assert {k: metrics_a[k] for k in ("score", "testPassCount", "testFailCount", "testErrorCount",
                                      "assertPassCount", "assertFailCount", "namedScores", "namedScoresCount")} == {
        "score": 1.5, "testPassCount": 1, "testFailCount": 1, "testErrorCount": 0, "assertPassCount": 3,
        "assertFailCount": 1, "namedScores": {"has_t": 2.0}, "namedScoresCount": {"has_t": 2}}
    assert summary["stats"]["successes"] == 1 and summary["stats"]["failures"] == 3
    assert summary["stats"]["errors"] == 0
    results = summary["results"]
    assert [(r["testIdx"], r["promptIdx"], r["success"]) for r in results] == [
        (0, 0, True), (0, 1, False), (1, 0, False), (1, 1, False)]
    first, second = results[0], results[2]
    assert set(first) == RESULT_KEYS and set(second) == RESULT_KEYS | {"error"}
    assert first["vars"] == {"word": "cat"} and first["testCase"]["vars"] == {"word": "cat"}
    assert first["prompt"] == {"raw": "Say cat:", "label": "Say"}
    assert first["provider"] == {"id": "workbench:model-a", "label": "model-a"}
    assert first["response"]["output"] == " cat" and first["response"]["cached"] is False
    assert (first["score"], first["failureReason"], first["namedScores"]) == (1.0, 0, {"has_t": 1.0})
    assert first["gradingResult"] == {
        "pass": True, "score": 1.0, "reason": "All assertions passed", "namedScores": {"has_t": 1.0},
        "componentResults": [
            {"pass": True, "score": 1.0, "reason": first["gradingResult"]["componentResults"][0]["reason"],
             "assertion": {"type": "icontains", "value": "cat"}},
            {"pass": True, "score": 1.0, "reason": first["gradingResult"]["componentResults"][1]["reason"],
             "assertion": {"type": "regex", "value": "t", "metric": "has_t"}}]}
    assert first["testCase"]["assert"] == [{"type": "icontains", "value": "cat"},
                                           {"type": "regex", "value": "t", "metric": "has_t"}]
    # a failed test: promptfoo's failure reason 1 (an assertion) and its last failed check's reason as the error
    assert (second["success"], second["score"], second["failureReason"]) == (False, 0.5, 1)
    failed = [c for c in second["gradingResult"]["componentResults"] if not c["pass"]]
    assert [c["assertion"]["type"] for c in failed] == ["icontains"]
    assert second["error"] == second["gradingResult"]["reason"] == failed[-1]["reason"]
    # promptfoo's prompt id is the sha256 of the label: one prompt on two providers has one id
    assert second["promptId"] == summary["prompts"][1]["id"] == hashlib.sha256(b"Say").hexdigest()
    dog = results[1]  # both checks failed: the reason is the last one's
    assert [c["pass"] for c in dog["gradingResult"]["componentResults"]] == [False, False]
    assert dog["error"] == dog["gradingResult"]["componentResults"][1]["reason"]
    assert doc["config"]["providers"] == [{"id": "workbench:model-a", "label": "model-a"},
                                          {"id": "workbench:model-b", "label": "model-b"}]


def test_a_hostile_output_and_var_round_trip_as_json_data(tmp_path):
    report = _run(tmp_path)
    text = (write_report(report, tmp_path / "results.json")).read_text(encoding="utf-8")
    hostile = json.loads(text)["results"]["results"][2]
    assert hostile["vars"] == {"word": HOSTILE}
    assert hostile["response"]["output"] == " " + HOSTILE
    assert hostile["prompt"]["raw"] == f"Say {HOSTILE}:"  # the var is data: never rendered again
    assert "</script>" in text and '"evil": 1' not in text  # quotes escaped by the encoder, no structure added


def test_an_item_judged_by_its_format_has_that_comparison_as_its_component(tmp_path):
    fake = _fake("model-a", lambda prompt, seed: " 4")
    items = Pool("n", (Example("1", "2+2?", "4"), Example("2", "2+3?", "5")))
    spec = PromptSpec(query_template="Q: {input}\nA:", answer_format="number")
    with open_store(tmp_path / "wb.db") as store:
        run = evaluate(items, None, [Strategy("zero", spec)], fake, store)
        doc = results_document(report_from_store(store, run.run_id))
    ok, bad = doc["results"]["results"]
    assert ok["vars"] == {"input": "2+2?"} and ok["provider"] == {"id": "workbench:model-a", "label": "model-a"}
    assert ok["gradingResult"] == {"pass": True, "score": 1.0, "reason": "answer '4' matches '4'", "namedScores": {},
                                   "componentResults": [{"pass": True, "score": 1.0,
                                                         "reason": "answer '4' matches '4'",
                                                         "assertion": {"type": "number", "value": "4"}}]}
    assert (bad["success"], bad["failureReason"], bad["error"]) == (False, 1, "answer '4' does not match '5'")
    assert doc["results"]["prompts"][0]["raw"] == "Q: {{ input }}\nA:"


def test_a_check_that_could_not_judge_is_promptfoos_error(tmp_path):
    from workbench.evaluate.records import CheckVerdict
    from workbench.report import RunReport

    verdict = CheckVerdict("llm-rubric", False, 0.0, "could not judge", error="no JSON in the reply").to_dict()
    record = {"strategy": "s", "item_index": 0, "id": "1", "input": "q", "prompt": "q", "output": "o",
              "correct": False, "score": 0.0, "checks": [verdict]}
    doc = results_document(RunReport(3, "finished", {"model": "m", "strategies": [{"name": "s"}]}, {}, (record,)))
    (r,) = doc["results"]["results"]
    assert (r["failureReason"], r["error"]) == (2, "error: no JSON in the reply")
    assert doc["results"]["stats"] == {"successes": 0, "failures": 0, "errors": 1,
                                       "tokenUsage": {"total": 0, "prompt": 0, "completion": 0, "cached": 0,
                                                      "numRequests": 1}}


def test_runs_export_writes_promptfoo_results(tmp_path):
    with open_store() as store:  # the CLI reads the default store (the test's own, tests/conftest.py)
        fake = _fake("model-a", lambda prompt, seed: " cat" if "cat" in prompt else " no")
        run = evaluate(ITEMS, None, [Strategy("Say", SPEC, checks=build_checks(["icontains: cat"]))], fake, store)
    res = cli("runs", "export", str(run.run_id), "--output", str(tmp_path / "out" / "results.json"))
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert [r["success"] for r in doc["results"]["results"]] == [True, False]
    assert doc["results"]["prompts"][0]["provider"] == "model-a"


def test_eval_config_output_results_json_on_the_real_models(tmp_path, capsys):
    """``workbench eval --config`` (two prompts x the two embedded models) ``--output results.json``."""
    from tests.conftest import ROOT
    from workbench.cli import main

    out = tmp_path / "results.json"
    code = main(["eval", "--config", str(ROOT / "examples" / "promptfoo" / "promptfooconfig.yaml"), "--limit", "1",
                 "--output", str(out)])
    assert code == 0, capsys.readouterr().err
    summary = json.loads(out.read_text(encoding="utf-8"))["results"]
    assert [(p["label"], p["provider"]) for p in summary["prompts"]] == [
        ("qa", "gemma"), ("qa", "smollm2"), ("completion", "gemma"), ("completion", "smollm2")]
    results = summary["results"]
    assert [(r["testIdx"], r["promptIdx"]) for r in results] == [(0, p) for p in range(4)]
    first = results[0]
    assert first["vars"] == {"country": "France", "city": "Paris"}
    assert first["provider"] == {"id": "workbench:gemma-3-270m", "label": "gemma"}
    assert first["prompt"] == {"raw": "Q: What is the capital of France?\nA:", "label": "qa"}
    assert first["response"]["output"] == " The capital of France is Paris."
    assert [c["assertion"] for c in first["gradingResult"]["componentResults"]] == [
        {"type": "icontains", "value": "Paris"}, {"type": "not-icontains", "value": "I don't know"}]
    for r in results:  # each verdict is promptfoo's rule over its components (no threshold here)
        assert r["success"] == all(c["pass"] for c in r["gradingResult"]["componentResults"])
    stats = summary["stats"]
    assert stats["successes"] + stats["failures"] + stats["errors"] == 4
    assert stats["successes"] == sum(r["success"] for r in results)


def _promptfoo_bin():
    import os
    import shutil
    from pathlib import Path

    binary = Path(os.environ.get("PROMPTFOO_DIR", "/work/promptfoo")) / "node_modules" / ".bin" / "promptfoo"
    return binary if shutil.which("node") and binary.is_file() else None


@pytest.mark.skipif(_promptfoo_bin() is None, reason="node and promptfoo (npm i promptfoo@0.119.0) not installed")
def test_promptfoo_imports_the_results_file_and_exports_it_back_the_same(tmp_path):
    """promptfoo's own ``import`` stores the file in its database and ``export eval`` writes it back: every result
    (vars, prompt, provider, response, success, score, gradingResult, indices) and the stats come back equal."""
    import re
    import subprocess

    report = _run(tmp_path)
    path = write_report(report, tmp_path / "results.json")
    env = {"PATH": "/usr/bin:/bin", "PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1",
           "PROMPTFOO_CONFIG_DIR": str(tmp_path / "pfhome"), "HOME": str(tmp_path)}

    def promptfoo(*args):
        res = subprocess.run([str(_promptfoo_bin()), *args], capture_output=True, text=True, timeout=180, env=env,
                             cwd=tmp_path)
        assert res.returncode == 0, (res.stdout + res.stderr)[-2000:]
        return res.stdout + res.stderr

    eval_id = re.search(r"Eval with ID (\S+) has been successfully imported", promptfoo("import", str(path)))[1]
    promptfoo("export", "eval", eval_id, "-o", str(tmp_path / "back.json"))
    ours = json.loads(path.read_text(encoding="utf-8"))["results"]
    back = json.loads((tmp_path / "back.json").read_text(encoding="utf-8"))["results"]
    keys = ("vars", "prompt", "provider", "response", "success", "score", "gradingResult", "testIdx", "promptIdx",
            "latencyMs", "namedScores", "failureReason", "testCase", "error")
    order = sorted(back["results"], key=lambda r: (r["testIdx"], r["promptIdx"]))
    assert [{k: r.get(k) for k in keys} for r in order] == [{k: r.get(k) for k in keys} for r in ours["results"]]
    assert {k: back["stats"][k] for k in ("successes", "failures", "errors")} == {
        k: ours["stats"][k] for k in ("successes", "failures", "errors")}
    assert [(p["label"], p["provider"], p["metrics"]["testPassCount"]) for p in back["prompts"]] == [
        (p["label"], p["provider"], p["metrics"]["testPassCount"]) for p in ours["prompts"]]
