"""Evaluate in a real browser: two strategies on 10 items with a chart; a long run cancelled mid-way; the
Prompt Builder's prompt handed over with "Evaluate this prompt" and run (also one without labels: it runs on
arrival); cached rows labelled; two stored runs compared on the page; setup, results and history one click each.

The server's run store (SQLite, in the server's data folder) is read directly to check
what the page says: the results exported, and that a cancelled run really stopped.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.e2e.harness import (
    ROOT,
    VIEWPORT,
    choose_radio,
    click_button,
    download,
    grid_rows,
    multiselect,
    navigate,
    open_page,
    open_tab,
    page_problems,
    rerun,
    screenshot,
    select_option,
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


#: The Run button (its accessible name also holds its keyboard shortcut, "Run Ctrl + Enter").
RUN_BUTTON = '.st-key-ev_run button'


def press_run(page) -> None:
    """Click Run once the page allows it; a Run button that stays disabled fails naming what the page says."""
    button = page.locator(RUN_BUTTON)
    try:
        page.wait_for_function("(sel) => { const b = document.querySelector(sel); return b && !b.disabled; }",
                               arg=RUN_BUTTON, timeout=30_000)
    except Exception as exc:
        raise AssertionError(f"Run stays disabled; the page says: {page_problems(page)}") from exc
    button.click()


def strategies(page, names: list[str]) -> None:
    """Pick the strategies, the picker first brought to the middle of the window (near the window's bottom edge its
    dropdown opens and closes at once, and clearing it adds a line above it)."""
    box = page.locator('[data-testid="stMultiSelect"]').filter(has=page.get_by_text("Strategies", exact=True))
    box.evaluate("e => e.scrollIntoView({block: 'center'})")
    multiselect(page, "Strategies", names)


def _store(server):
    return open_store(server.data_dir / DB_FILENAME)


def test_two_strategies_on_ten_items_with_chart(page, app, server):
    open_page(page, app, "views/5_Evaluate.py")
    set_number(page, "Items (0 = all)", ITEMS)
    press_run(page)
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

    tab(page, "Run history")
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
    open_page(page, app, "views/5_Evaluate.py")
    set_number(page, "Items (0 = all)", 0)  # all 40 items x 2 strategies, label scoring: an item is short
    toggle(page, "Use the response cache", on=False)  # cached items (from the test before) would run in ms
    press_run(page)
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


def tab(page, name: str) -> None:
    """Open one of the Evaluate page's tabs (a click; the page reruns to draw it)."""
    with rerun(page):
        open_tab(page, name)


def history_row(page, run_id: int) -> dict[str, str]:
    """The run history's row of one run, as the page shows it now (on the Run history tab)."""
    tab(page, "Run history")
    return next(r for r in panel_rows(page) if r.get("run") == str(run_id))


#: The open tab's panel (the others are hidden, and inert).
OPEN_PANEL = '[data-testid="stTabPanel"]:visible'


def panel_rows(page, nth: int = 0) -> list[dict[str, str]]:
    """The rows of the open tab's ``nth`` table, as the grid's accessible table shows them."""
    table = page.locator(f'{OPEN_PANEL} [data-testid="stDataFrame"]').nth(nth).locator('table[role="grid"]')
    table.wait_for(state="attached", timeout=30_000)
    return table.evaluate(
        """t => { const head = [...t.querySelectorAll('thead th')].map(e => e.textContent.trim());
                  return [...t.querySelectorAll('tbody tr')].map(r => Object.fromEntries(
                      [...r.querySelectorAll('td')].map((c, i) => [head[i] ?? String(i), c.textContent.trim()]))); }""")


def test_cancel_stops_an_auto_cot_build_and_the_history_says_so(page, app, server):
    """Cancel during the Auto-CoT build (the model writing rationales, no item run yet) stops the build at once."""
    open_page(page, app, "views/5_Evaluate.py")
    strategies(page, ["Auto-CoT"])
    set_number(page, "Items (0 = all)", 2)
    toggle(page, "Use the response cache", on=False)
    runs_before = {r.run_id for r in _store(server).list_runs()}
    press_run(page)
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
    open_page(page, app, "views/1_Prompt_Builder.py")
    set_number(page, "K", 2)
    set_text_area(page, "Task instruction (literal text)", INSTRUCTION)
    click_button(page, "Evaluate this prompt")
    wait_for_text(page, re.compile(r"^From the Prompt Builder: 2 demonstrations"), timeout_ms=90_000)
    wait_ready(page)
    assert page.get_by_role("heading", name="Evaluate").is_visible()
    assert page_problems(page) == []

    strategies(page, ["zero"])
    set_number(page, "Items (0 = all)", 2)
    press_run(page)
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


# --------------------------------------------------------------------------- issue 33: UX II

SCREENSHOTS = ROOT / "artifacts" / "screenshots"


def main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def run_and_wait(page) -> int:
    """Press Run; the run's results open on the Results tab. Returns the run id."""
    press_run(page)
    heading = page.get_by_role("heading", name=re.compile(r"^Run \d+$"))
    heading.wait_for(timeout=300_000)
    wait_ready(page)
    return int(heading.inner_text().split()[1])


def test_a_builder_prompt_without_labels_runs_on_arrival(page, app, server):
    """Issue 33 #2: a few-shot prompt with free answers (no label set) arrives runnable; no page names a CLI flag."""
    open_page(page, app, "views/1_Prompt_Builder.py")
    select_option(page, "Answer format", "free")
    set_text_area(page, "Labels (comma-separated)", "")
    set_number(page, "K", 2)
    click_button(page, "Evaluate this prompt")
    wait_for_text(page, re.compile(r"^From the Prompt Builder: 2 demonstrations"), timeout_ms=90_000)
    wait_ready(page)
    assert page_problems(page) == [], "the hand-over arrived with an error"
    assert "--" not in main_text(page), "the page tells a browser user to pass a CLI flag"
    run = page.locator(RUN_BUTTON)
    assert run.is_enabled(), "Run is disabled on arrival"

    strategies(page, ["zero"])
    set_number(page, "Items (0 = all)", 2)
    assert page_problems(page) == [] and run.is_enabled()
    run_id = run_and_wait(page)
    assert page_problems(page) == []
    results = _store(server).results(run_id)
    assert list(dict.fromkeys(r["strategy"] for r in results)) == ["inferred/zero", "builder/zero", "builder/built2"]
    # Generate + extract for both prompts (one can't be scored; the comparison is fair), where Label scoring failed
    assert not [r for r in results if r["rule"] == "label_score"]
    assert "--" not in main_text(page)


def test_cached_rows_are_labelled_and_their_speed_is_not_the_cache(page, app, server):
    """Issue 33 #5: a rerun answered from the response cache says "cached 2/2" and shows no items/s."""
    open_page(page, app, "views/5_Evaluate.py")
    strategies(page, ["zero"])
    set_number(page, "Items (0 = all)", 2)
    toggle(page, "Use the response cache", on=True)
    run_and_wait(page)
    tab(page, "Setup")
    run_id = run_and_wait(page)  # the same requests again
    summary = next(rows for i in range(3) if (rows := panel_rows(page, i)) and "cached" in rows[0])
    assert [(r["strategy"], r["cached"], r["items/s (model)"]) for r in summary] == [("zero", "2/2", "—")]
    wait_for_text(page, "zero cached: 2/2", timeout_ms=10_000)
    _, data = download(page, "HTML report")
    html = data.decode()
    table = html.split('<table class="summary">')[1].split("</table>")[0]
    assert '<td class="num">2/2</td>' in table and '<td class="num">—</td>' in table, table
    assert _store(server).get_run(run_id).summary["cache"] == {"hits": 2, "misses": 0}


def test_two_stored_runs_compared_on_the_page_with_the_paired_test(page, app, server):
    """Issue 33 #8: the Run history puts two stored runs side by side: McNemar, bootstrap interval, changed items."""
    open_page(page, app, "views/5_Evaluate.py")
    strategies(page, ["zero"])
    set_number(page, "Items (0 = all)", 4)
    first = run_and_wait(page)
    tab(page, "Setup")
    choose_radio(page, "Generate + extract the answer")
    second = run_and_wait(page)
    tab(page, "Run history")
    select_option(page, "Run A", re.compile(f"^run {first} "))
    select_option(page, "Run B", re.compile(f"^run {second} "))
    with rerun(page):
        click_button(page, "Compare")
    wait_for_text(page, f"Run {first} (A) against run {second} (B) on 4 shared items", timeout_ms=60_000)
    assert page_problems(page) == []
    panel = page.locator(OPEN_PANEL)
    assert panel.locator('[data-testid="stVegaLiteChart"]').count() >= 1, "no forest plot"
    paired = next(rows for i in range(4) if (rows := panel_rows(page, i)) and "McNemar p" in rows[0])
    assert [(r["A"], r["B"], r["items"]) for r in paired] == [(f"{first}:zero", f"{second}:zero", "4")]
    assert 0.0 <= float(paired[0]["McNemar p"]) <= 1.0
    a, b = (_store(server).results(x) for x in (first, second))
    changed = sum(1 for x, y in zip(a, b, strict=True) if x["correct"] != y["correct"] or
                  (x["extracted"] or "").strip().lower() != (y["extracted"] or "").strip().lower())
    wait_for_text(page, re.compile(rf"^Items that changed from A to B: {changed} items? with another answer"))
    screenshot(page, SCREENSHOTS / "evaluate-compare.png", full=False)


def page_height(page) -> int:
    return page.evaluate("""() => { const m = document.querySelector('[data-testid="stMain"]');
                                    return m ? m.scrollHeight : document.body.scrollHeight; }""")


def test_setup_results_and_history_are_one_click_each(page, app, server, record_property):
    """Issue 33 #10: after a run the results are open where the user looks; each part is one click away, and no
    tab is a 5,300 px column."""
    open_page(page, app, "views/5_Evaluate.py")
    assert [t.strip() for t in page.locator('[data-testid="stTab"]').all_inner_texts()] == [
        "Setup", "Results", "Order sensitivity", "Run history"]
    set_number(page, "Items (0 = all)", 4)
    # Far down the Setup tab, Ctrl+Enter runs (the page's main action); the results open in view.
    page.get_by_text("Use the response cache", exact=True).scroll_into_view_if_needed()
    page.keyboard.press("Control+Enter")
    heading = page.get_by_role("heading", name=re.compile(r"^Run \d+$"))
    heading.wait_for(timeout=300_000)
    wait_ready(page)
    page.wait_for_timeout(800)  # the scroll to the tabs
    run_id = int(heading.inner_text().split()[1])
    box = heading.bounding_box()
    assert heading.is_visible() and 0 <= box["y"] < VIEWPORT["height"], f"results not in view: {box}"
    heights = {"Results": page_height(page)}
    screenshot(page, SCREENSHOTS / "evaluate-results.png")
    for name, marker in (("Run history", page.get_by_role("button", name="Show", exact=True)),
                         ("Setup", page.get_by_text("Sample pool", exact=True)),
                         ("Results", heading)):
        tab(page, name)  # one click
        assert marker.first.is_visible(), f"{name} is not one click away"
        heights[name] = page_height(page)
        assert page_problems(page) == []
    screenshot(page, SCREENSHOTS / "evaluate-setup.png", full=False)
    print(f"Evaluate page height after a run at 1280x800, per tab: {heights}")
    for name, px in heights.items():
        record_property(f"height_{name}", px)
    assert max(heights.values()) < 5300 * 0.6, heights

    # Another page and back: the same tab is open, and the kept settings put back no Session State warning.
    navigate(page, "Decoding Lab")
    navigate(page, "Evaluate")
    assert page.get_by_role("heading", name=f"Run {run_id}").is_visible(), "the Results tab was not kept"
    warnings = [line for line in server.log.read_text().splitlines()
                if "Session State API" in line and re.search(r"""key ['"]ev_""", line)]
    assert warnings == []
