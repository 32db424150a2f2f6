"""Evaluate in a real browser: two strategies on 10 items with a chart; a long run cancelled mid-way; the
Prompt Builder's prompt handed over with "Evaluate this prompt" and run.

The server's run store (SQLite, in the server's data folder) is read directly to check
what the page says: the results exported, and that a cancelled run really stopped.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.e2e.harness import (
    click_button,
    download,
    grid_rows,
    multiselect,
    open_page,
    page_problems,
    set_number,
    set_text_area,
    toggle,
    wait_for_text,
    wait_ready,
)
from workbench.store import DB_FILENAME, open_store

pytestmark = pytest.mark.e2e

ITEMS = 10
STRATEGIES = ["zero", "knn4"]  # the page's default families (zero-shot, K nearest) at the default K


def _store(server):
    return open_store(server.data_dir / DB_FILENAME)


def test_two_strategies_on_ten_items_with_chart(page, app, server):
    open_page(page, app, "pages/5_Evaluate.py")
    set_number(page, "Items (0 = all)", ITEMS)
    click_button(page, "Run")
    heading = page.get_by_role("heading", name=re.compile(r"^Run \d+$"))
    heading.wait_for(timeout=300_000)
    wait_ready(page)
    assert page_problems(page) == []
    run_id = int(heading.inner_text().split()[1])

    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    assert chart.is_visible(), "no accuracy chart"
    box = chart.bounding_box()
    assert box["width"] > 200 and box["height"] > 200, f"the chart is squashed: {box}"
    summary = grid_rows(page)  # the summary table under the chart
    assert [r["strategy"] for r in summary] == STRATEGIES
    assert all(r["n"] == str(ITEMS) for r in summary)

    info = _store(server).get_run(run_id)
    assert info.status == "finished" and info.n_results == ITEMS * len(STRATEGIES)

    name, data = download(page, "JSON")  # the history's export of the picked (newest) run
    assert name == f"evaluate-run-{run_id}.json"
    doc = json.loads(data)
    assert doc["run"]["run_id"] == run_id
    results = doc["results"]
    assert len(results) == ITEMS * len(STRATEGIES)
    for row in summary:
        mine = [r for r in results if r["strategy"] == row["strategy"]]
        assert sorted(r["item_index"] for r in mine) == list(range(ITEMS))
        accuracy = sum(bool(r["correct"]) for r in mine) / len(mine)
        assert row["accuracy"] == f"{accuracy:.1%}", "the table's accuracy is not the exported results'"


def test_cancel_stops_a_long_evaluation(page, app, server, record_property):
    open_page(page, app, "pages/5_Evaluate.py")
    set_number(page, "Items (0 = all)", 0)  # all 40 items x 2 strategies, label scoring: an item is short
    toggle(page, "Use the response cache", on=False)  # cached items (from the test before) would run in ms
    click_button(page, "Run")
    bar = page.locator('[data-testid="stProgress"]').first
    page.wait_for_function(
        """() => { const b = document.querySelector('[data-testid="stProgress"]');
                   const m = b && b.textContent.match(/^(\\d+)\\/(\\d+) items/);
                   return m && +m[1] >= 2; }""", timeout=300_000)
    done, total = map(int, re.match(r"(\d+)/(\d+) items", bar.inner_text()).groups())
    assert total == 80
    start = time.perf_counter()
    click_button(page, "Cancel")
    warning = page.get_by_text(re.compile(r"^Run \d+ was cancelled with \d+ results stored"))
    warning.wait_for(timeout=60_000)
    stopped_s = time.perf_counter() - start
    record_property("cancel_seconds", round(stopped_s, 3))
    print(f"cancel: stopped {stopped_s:.2f} s after the click, {done} items done at the click")
    run_id, stored = map(int, re.match(r"Run (\d+) was cancelled with (\d+)", warning.inner_text()).groups())

    info = _store(server).get_run(run_id)
    assert info.status == "cancelled"
    assert info.n_results == stored
    # The item in flight at the click may still be stored; nothing after it runs.
    assert done <= stored <= done + 2, f"{stored - done} items ran after Cancel"
    time.sleep(2)
    assert _store(server).get_run(run_id).n_results == stored, "the run went on after it was cancelled"
    wait_ready(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    row = history_row(page, run_id)  # without a reload
    assert (row["status"], row["results"]) == ("cancelled", str(stored)), row


def history_row(page, run_id: int) -> dict[str, str]:
    """The run history's row of one run, as the page shows it now."""
    nth = page.locator('[data-testid="stDataFrame"]').count() - 1  # the history is the last table on the page
    return next(r for r in grid_rows(page, nth) if r.get("run") == str(run_id))


def test_cancel_stops_an_auto_cot_build_and_the_history_says_so(page, app, server):
    """Cancel during the Auto-CoT build (the model writing rationales, no item run yet) stops the build at once."""
    open_page(page, app, "pages/5_Evaluate.py")
    multiselect(page, "Strategies", ["Auto-CoT"])
    set_number(page, "Items (0 = all)", 2)
    toggle(page, "Use the response cache", on=False)
    runs_before = {r.run_id for r in _store(server).list_runs()}
    click_button(page, "Run")
    wait_for_text(page, "Building the Auto-CoT demonstrations", timeout_ms=120_000)
    page.wait_for_timeout(1500)  # the model is writing a rationale now
    start = time.perf_counter()
    click_button(page, "Cancel")
    wait_for_text(page, "The run was cancelled before its first item finished", timeout_ms=60_000)
    cancelled_s = time.perf_counter() - start
    wait_ready(page)
    print(f"Auto-CoT build cancelled {cancelled_s:.2f} s after the click")
    # Nothing ran on: no new run (a run is stored once its demonstrations are built), or one without results.
    time.sleep(3)
    new = [r for r in _store(server).list_runs() if r.run_id not in runs_before]
    assert all(r.status == "cancelled" and r.n_results == 0 for r in new), new
    assert page_problems(page) == []


INSTRUCTION = "Decide whether each movie review is positive or negative."


def test_builder_prompt_is_evaluated(page, app, server):
    open_page(page, app, "pages/1_Prompt_Builder.py")
    set_number(page, "K", 2)
    set_text_area(page, "Task instruction (literal text)", INSTRUCTION)
    click_button(page, "Evaluate this prompt")
    wait_for_text(page, re.compile(r"^From the Prompt Builder: 2 demonstrations"), timeout_ms=90_000)
    wait_ready(page)
    assert page.get_by_role("heading", name="Evaluate").is_visible()
    assert page_problems(page) == []

    multiselect(page, "Strategies", ["zero"])
    set_number(page, "Items (0 = all)", 2)
    click_button(page, "Run")
    heading = page.get_by_role("heading", name=re.compile(r"^Run \d+$"))
    heading.wait_for(timeout=300_000)
    wait_ready(page)
    assert page_problems(page) == []
    run_id = int(heading.inner_text().split()[1])

    results = _store(server).results(run_id)
    assert list(dict.fromkeys(r["strategy"] for r in results)) == ["inferred/zero", "builder/zero", "builder/built2"]
    assert len(results) == 3 * 2
    mine = [r for r in results if r["strategy"].startswith("builder/")]
    assert all(r["prompt"].startswith(INSTRUCTION) for r in mine), "the built prompt was not the one evaluated"
    assert not any(r["prompt"].startswith(INSTRUCTION) for r in results if r["strategy"] == "inferred/zero")

    # The run's downloads, written when clicked.
    name, data = download(page, "JSONL")
    assert name == f"evaluate-run-{run_id}.jsonl"
    lines = [json.loads(line) for line in data.decode().splitlines()]
    assert lines[0]["type"] == "run" and lines[0]["run_id"] == run_id
    assert [(x["strategy"], x["item_index"]) for x in lines[1:]] == [(r["strategy"], r["item_index"]) for r in results]
    assert len(lines[0]["paired"]) == 3  # three strategies: three pairs
    name, data = download(page, "HTML report")
    assert name == f"evaluate-run-{run_id}.html"
    html = data.decode()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "builder/built2" in html
