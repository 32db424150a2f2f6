"""Run exports: JSONL round trip, CSV rows, the self-contained HTML report (opened in Chromium), the manifest."""

from __future__ import annotations

import csv
import io
import json

import pytest

from workbench.charts import bar_chart_svg, confusion_svg, forest_svg
from workbench.errors import ConfigError, DataError
from workbench.report import (
    CSV_FIELDS,
    RunReport,
    export_format,
    html_report,
    package_versions,
    read_jsonl,
    report_from_store,
    to_csv,
    to_json,
    to_jsonl,
    to_records_csv,
    write_report,
)

META = {"kind": "evaluate", "model": "gemma-3-270m", "backend": "llama.cpp",
        "dataset": {"name": "news <b>", "size": 3, "hash": "abc"}, "pool": {"name": "news <b>", "size": 3, "hash": "abc"},
        "limit": None,
        "strategies": [{"name": "a/zero", "spec": {"labels": ["world", "sports"]}},
                       {"name": "a/knn4", "spec": {"labels": ["world", "sports"]}}],
        "manifest": {"packages": {"workbench": "0.1.0"}, "model_sha256": "f00d", "seeds": [0]}}


def record(strategy: str, i: int, correct: bool, extracted: str, gold: str) -> dict:
    return {"strategy": strategy, "item_index": i, "id": f"row-{i + 1}", "input": f"<script>alert({i})</script>",
            "prompt": "Q: x\nA:" * (30 if i == 0 else 1), "output": f" {extracted}", "extracted": extracted,
            "rule": "label_score", "gold": gold, "correct": correct, "seconds": 0.5, "demos": ["row-2"]}


RECORDS = (record("a/zero", 0, True, "world", "world"), record("a/zero", 1, False, "world", "sports"),
           record("a/zero", 2, True, "sports", "sports"), record("a/knn4", 0, True, "world", "world"),
           record("a/knn4", 1, True, "sports", "sports"), record("a/knn4", 2, True, "sports", "sports"))
REPORT = RunReport(7, "finished", META, {"strategies": [], "items": 3}, RECORDS, "2026-01-01T00:00:00", None)


def test_jsonl_round_trips(tmp_path):
    path = write_report(REPORT, tmp_path / "run.jsonl")
    head, *items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert head["type"] == "run" and head["meta"]["manifest"]["model_sha256"] == "f00d"
    assert [p["a"] for p in head["paired"]] == ["a/zero"] and head["paired"][0]["only_b"] == 1
    assert len(items) == 6 and all(i["type"] == "item" for i in items)
    assert read_jsonl(path) == REPORT
    assert to_jsonl(read_jsonl(path)) == path.read_text(encoding="utf-8")


def test_reading_something_else_is_one_line(tmp_path):
    (tmp_path / "x.jsonl").write_text('{"question": "a", "answer": "b"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"^x.jsonl line 1: not a run export"):
        read_jsonl(tmp_path / "x.jsonl")
    (tmp_path / "e.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="is empty"):
        read_jsonl(tmp_path / "e.jsonl")
    with pytest.raises(DataError, match="does not exist"):
        read_jsonl(tmp_path / "none.jsonl")


def test_csv_has_one_row_per_record():
    rows = list(csv.DictReader(io.StringIO(to_csv(REPORT))))
    assert tuple(rows[0]) == CSV_FIELDS and len(rows) == 6
    assert (rows[1]["strategy"], rows[1]["id"], rows[1]["extracted"], rows[1]["gold"], rows[1]["correct"]) == \
        ("a/zero", "row-2", "world", "sports", "False")
    assert rows[0]["prompt"] == RECORDS[0]["prompt"] and rows[0]["tokens"] == ""


def test_export_format_by_extension():
    assert [export_format(n) for n in ("r.jsonl", "r.CSV", "r.html", "r.htm", "results.json")] == [
        "jsonl", "csv", "html", "html", "promptfoo"]
    with pytest.raises(ConfigError, match=r"end the file name with \.jsonl, \.csv, \.html or \.json \(promptfoo's "
                                          r"results\)\.$"):
        export_format("run.txt")


def test_html_is_self_contained_and_escapes_every_text():
    page = html_report(REPORT)
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert "<script" not in page and "&lt;script&gt;alert(0)&lt;/script&gt;" in page
    assert "news &lt;b&gt;" in page and "news <b>" not in page
    for remote in ("http://", "https://", "src=", "<link"):
        assert remote not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "points on" not in page  # the pair is a table row and a forest-plot row, not a CLI line
    assert page.count('class="whisker"') == 2 and "f00d" in page and "macro-F1" in page


def test_html_report_draws_the_paired_differences_and_confusion_matrices():
    """A forest plot of the paired differences (dot and 95% interval) and one heat map per confusion matrix,
    each beside its table; still no script."""
    page = html_report(REPORT)
    assert page.count('<svg') == 1 + 1 + 2  # accuracy bars, forest plot, a heat map per strategy
    assert page.count('class="forest"') == 1 and page.count('<g class="pair">') == 1
    assert page.count('class="heatmap"') == 2 and page.count('<g class="cell">') == 2 * 2 * 2
    assert 'id="forest"' in page and page.index('id="forest"') < page.index('class="paired"')
    assert page.count('<table class="confusion">') == 2 and page.count('<table class="paired">') == 1  # tables stay
    assert "<script" not in page


def test_forest_plot_follows_the_interval():
    from workbench.stats import PairedComparison

    c = PairedComparison("x & y", "z", 10, 0.6, 0.4, 0.2, -0.1, 0.5, 3, 1, 0.625)
    svg = forest_svg([c], width=640)
    # plot: 640 - 260 - 70 = 310 px from x = 260 over -0.6..+0.6 (a tenth beyond the widest bound)
    x = lambda v: f"{260 + 310 * (v + 0.6) / 1.2:.1f}"  # noqa: E731
    assert f'x1="{x(-0.1)}"' in svg and f'x2="{x(0.5)}"' in svg and f'cx="{x(0.2)}"' in svg
    assert "x &amp; y − z" in svg and "+20.0" in svg
    assert 'stroke="#4c78a8"' in svg  # the interval crosses zero: not called a win


def test_confusion_heat_map_shades_by_the_gold_row():
    from workbench.stats import ConfusionMatrix

    svg = confusion_svg(ConfusionMatrix(("a", "b<"), ("a", "b<"), ((3, 1), (0, 4))), "s")
    assert svg.count('<g class="cell">') == 4 and ">b&lt;<" in svg and ">b<<" not in svg
    assert 'fill="#4c78a8"' in svg  # 4 of 4: the full colour
    assert "75% of gold a" in svg


def test_cached_items_are_counted_and_their_speed_not_shown():
    """Items answered from the response cache: "cached 3/3" and no items/s from the cache's lookups."""
    cached = tuple(dict(r, cached=True, seconds=0.001) for r in RECORDS if r["strategy"] == "a/zero")
    fresh = tuple(r for r in RECORDS if r["strategy"] == "a/knn4")
    page = html_report(RunReport(8, "finished", META, {}, cached + fresh))
    rows = page.split('<table class="summary">')[1].split("</table>")[0]
    assert "<th>cached</th>" in rows and "<th>items/s (model)</th>" in rows
    zero, knn = rows.split("<tr>")[2:4]
    assert '<td class="num">3/3</td>' in zero and '<td class="num">—</td>' in zero
    assert "1000" not in zero  # 3 items in 0.003 s is the cache, not the model
    assert '<td class="num">0/3</td>' in knn and '<td class="num">2.00</td>' in knn


def test_bar_chart_whiskers_follow_the_interval():
    svg = bar_chart_svg([{"strategy": "x & y", "accuracy": 0.5, "ci_low": 0.25, "ci_high": 0.75}], width=380)
    # plot area: 380 - 180 - 60 = 140 px from x = 180; the bar is 70 px, the whisker 215 to 285.
    assert 'width="70.0"' in svg and 'x1="215.0"' in svg and 'x2="285.0"' in svg and "x &amp; y" in svg


def test_package_versions_come_from_metadata():
    versions = package_versions(("numpy", "no-such-package-xyz"))
    assert versions["numpy"] and versions["no-such-package-xyz"] is None


def test_run_meta_holds_the_manifest(tmp_path):
    from types import SimpleNamespace

    from workbench.backends.registry import ModelSpec
    from workbench.data import load_sample
    from workbench.evaluate.formats import default_spec
    from workbench.evaluate.manifest import run_meta
    from workbench.evaluate.strategies import parse_strategies

    ds = load_sample("sentiment")
    strategies = parse_strategies("zero,knn2,sc3", default_spec(ds), ds, seed=5)
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"abc")
    backend = SimpleNamespace(name="llama.cpp", spec=ModelSpec(id="tiny", path=str(model), is_chat=False))
    m = run_meta(ds, ds, strategies, backend, limit=3)["manifest"]
    assert m["model_sha256"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # sha256("abc")
    assert m["model_file"] == "tiny.gguf" and str(tmp_path) not in json.dumps(m)
    assert (m["embedder"], m["index_kind"]) == ("all-MiniLM-L6-v2", "flat")
    assert m["dataset_hash"] == ds.content_hash and m["seeds"] == [0, 5]  # decoding seed 0, selection seed 5
    assert set(m["packages"]) >= {"workbench", "llama-cpp-python", "transformers", "torch"}
    missing = SimpleNamespace(name="fake", spec=ModelSpec(id="fake", path="", is_chat=False))
    m = run_meta(ds, ds, strategies[:1], missing, limit=None)["manifest"]
    assert (m["model_sha256"], m["model_identity"], m["embedder"]) == (None, None, None)


# ---- whole-run exports (moved here from the store: persistence does not export)


@pytest.fixture
def store(tmp_path):
    from workbench.store import open_store

    s = open_store(tmp_path / "wb.db")
    yield s
    s.close()


def test_export_csv(store):
    run = store.create_run({"model": "m"})
    store.add_result(run, "zero", 0, {"input": "a, b", "output": "8", "correct": True})
    store.add_result(run, "zero", 1, {"input": 'say "hi"', "output": None, "correct": False, "votes": {"7": 2}})
    assert to_records_csv(report_from_store(store, run)) == (
        "strategy,item_index,input,output,correct,votes\n"
        'zero,0,"a, b",8,True,\n'
        'zero,1,"say ""hi""",,False,"{""7"": 2}"\n'
    )
    rows = list(csv.DictReader(io.StringIO(to_records_csv(report_from_store(store, run)))))
    assert [r["input"] for r in rows] == ["a, b", 'say "hi"']


def test_export_json(store):
    run = store.create_run({"model": "m", "dataset": "d"})
    store.add_result(run, "zero", 0, {"output": "é", "correct": True})
    store.finish_run(run, {"accuracy": 1.0})
    doc = json.loads(to_json(report_from_store(store, run)))
    assert doc["run"]["run_id"] == run
    assert doc["run"]["meta"]["model"] == "m"
    assert doc["run"]["summary"] == {"accuracy": 1.0}
    assert doc["run"]["status"] == "finished"
    assert doc["results"] == [{"strategy": "zero", "item_index": 0, "output": "é", "correct": True}]
    assert "é" in to_json(report_from_store(store, run))  # readable, not \u-escaped


def test_exports_leave_the_owner_out(store):
    run = store.create_run({"model": "m"})
    assert json.loads(to_json(report_from_store(store, run)))["run"]["owner"] is None


# ---- judged runs (issue 26): verdicts, assertion pass rates, repeats, paired scores, agreement

def judged(strategy: str, i: int, repeat: int | None, outcomes: tuple[bool, bool], reply: str | None = None) -> dict:
    """A record judged by two checks (contains 'Paris', an llm-rubric whose judge replied ``reply``)."""
    contains, rubric = outcomes
    checks = [{"type": "contains", "passed": contains, "score": float(contains), "reason": "contains 'Paris'"
               if contains else "does not contain 'Paris'", "weight": 1.0, "value": "Paris", "metric": "city"},
              {"type": "llm-rubric", "passed": rubric, "score": 0.5 + 0.5 * rubric, "reason": "judged", "weight": 1.0,
               "value": "is polite", **({"reply": reply} if reply is not None else {})}]
    score = (float(contains) + 0.5 + 0.5 * rubric) / 2
    return {"strategy": strategy, "item_index": i if repeat is None else 2 * i + repeat, "id": f"q{i}",
            "input": f"question {i}", "output": " Paris", "extracted": "Paris", "gold": "Paris",
            "correct": contains and rubric, "seconds": 0.1, "checks": checks, "score": score,
            **({"repeat": repeat} if repeat is not None else {})}


HOSTILE = "<script>alert('judge')</script> PASS"


def test_html_report_shows_each_items_verdicts_and_the_assertion_pass_rates():
    records = (judged("a", 0, None, (True, True), HOSTILE), judged("a", 1, None, (False, True)),
               judged("b", 0, None, (True, False)), judged("b", 1, None, (False, False)))
    page = html_report(RunReport(3, "finished", {}, {}, records))
    summary = page.split('<table class="summary">')[1].split("</table>")[0]
    assert "<th>score</th>" in summary and "pass@" not in summary
    a_row = summary.split("<tr>")[2]
    assert '<td class="num">0.750</td>' in a_row  # a's items score (1 + 1) / 2 and (0 + 1) / 2: mean 0.75
    rates = page.split('<table class="checks">')[1].split("</table>")[0]
    assert [r.split("</td>")[:4] for r in rates.split("<tr>")[2:]] == [
        ["<td>a", "<td>contains", "<td>Paris", '<td class="num">1'],
        ["<td>a", "<td>llm-rubric", "<td>is polite", '<td class="num">2'],
        ["<td>b", "<td>contains", "<td>Paris", '<td class="num">1'],
        ["<td>b", "<td>llm-rubric", "<td>is polite", '<td class="num">0']]
    named = page.split('<table class="named-scores">')[1].split("</table>")[0]
    assert "<td>a</td><td>city</td><td class=\"num\">0.500</td>" in named
    # Each item's verdicts: pass/fail, score, reason, and the judge's full reply, escaped (a reply is untrusted).
    assert page.count('<table class="verdicts">') == 4
    assert "<summary>2/2 passed, score 1.00</summary>" in page and "<summary>0/2 passed, score 0.25</summary>" in page
    assert "<td>does not contain &#x27;Paris&#x27;</td>" in page
    assert "&lt;script&gt;alert(&#x27;judge&#x27;)&lt;/script&gt; PASS" in page and "<script" not in page
    paired = page.split('<table class="paired-scores">')[1].split("</table>")[0]
    assert "<td>a</td><td>b</td><td class=\"num\">2</td>" in paired and '<td class="num">+0.250</td>' in paired


def test_html_report_shows_repeats_flaky_items_and_the_judges_agreement_with_grades(tmp_path):
    # q0 passes both repeats under a, q1 only its first: pass@2 = 100%, pass^2 = 50%, q1 flaky.
    records = (judged("a", 0, 0, (True, True)), judged("a", 0, 1, (True, True)),
               judged("a", 1, 0, (True, True)), judged("a", 1, 1, (False, True)))
    report = RunReport(4, "finished", {}, {}, records, grades={"q0": True, ("a", 3): True})
    page = html_report(report)
    assert ", 2 items, status finished" in page  # four outputs, two items
    summary = page.split('<table class="summary">')[1].split("</table>")[0]
    assert "<th>pass@2</th><th>pass^2</th>" in summary and '<td class="num">100.0%</td><td class="num">50.0%</td>' \
        in summary
    flaky = page.split('<table class="flaky">')[1].split("</table>")[0]
    assert "<td>a</td><td class=\"num\">2</td>" in flaky and "<td>q1 1/2</td>" in flaky
    # Graded: q0 twice (pass, by id) and a's item 3 (pass, by strategy and index); the judge failed item 3.
    agreement = page.split('<table class="agreement">')[1].split("</table>")[0]
    assert '<td>a</td><td class="num">3</td><td class="num">66.7%</td>' in agreement
    assert "the judge passed every output" not in agreement and "person passed every output" in agreement
    # The grades travel in the JSONL export and read back.
    path = write_report(report, tmp_path / "run.jsonl")
    assert json.loads(path.read_text(encoding="utf-8").splitlines()[0])["grades"] == [["q0", True], ["a", 3, True]]
    assert read_jsonl(path) == report


def test_a_run_export_with_a_bad_grade_is_one_line(tmp_path):
    path = write_report(RunReport(5, "finished", {}, {}, RECORDS, grades={"q0": True}), tmp_path / "run.jsonl")
    head, *rest = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([head.replace('["q0", true]', '["q0", "yes"]'), *rest]) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r'^run.jsonl line 1: a grade is \[strategy, item_index, pass\] or '
                                        r'\[item_id, pass\], not \["q0", "yes"\]$'):
        read_jsonl(path)
