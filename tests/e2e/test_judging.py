"""Judging on the Evaluate page in a real browser (issue 26): a promptfoo-style CSV whose rows carry their own
assertions (``__expected`` columns), a prompt YAML with an ``assert:`` list, and one assertion row added on the
page; the run shows each assertion's pass rate and each item's checks, and they equal what the store holds.

The real default model answers, so the outputs are not known in advance: the page's figures are checked against
the records the server stored (read from its SQLite file), and the checks each item got against the three
places they came from.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.harness import (
    broken_labels,
    choose_radio,
    grid_rows,
    horizontal_overflow,
    open_page,
    open_tab,
    page_problems,
    rerun,
    screenshot,
    set_number,
    upload,
    wait_ready,
)
from tests.e2e.test_evaluate import RUN_BUTTON, SCREENSHOTS, press_run, strategies
from workbench.evaluate.metrics import check_rates
from workbench.store import DB_FILENAME, open_store

pytestmark = pytest.mark.e2e

#: promptfoo's CSV convention: each row's own assertions in __expected columns.
CAPITALS_CSV = (b"question,answer,__expected1,__expected2\n"
                b"What is the capital of France?,Paris,icontains: paris,not-icontains: london\n"
                b"What is the capital of Italy?,Rome,icontains: rome,\n"
                b"What is the capital of Spain?,Madrid,icontains: madrid,not-icontains: paris\n")
#: A prompt file with promptfoo's assert: list: it judges every item it runs on.
CAPITALS_YAML = b"""name: capitals
spec:
  instruction: Answer with the name of the capital city only.
  query_template: "Q: {input}\\nA:"
assert:
  - type: not-icontains
    value: "I don't know"
  - type: not-contains
    value: "http"
"""


def pick_type(page, label: str, option: str) -> None:
    """Pick an assertion type as a user does in a long list: click the picker, type to filter, click the option."""
    box = page.get_by_label(label, exact=True)
    box.scroll_into_view_if_needed()
    box.click()
    page.keyboard.type(option)
    with rerun(page):
        page.get_by_role("option", name=option, exact=True).first.click()


def grid_with(page, column: str) -> list[dict[str, str]]:
    """The rows of the first data grid on the page whose header has ``column``."""
    grids = page.locator('[data-testid="stDataFrame"]')
    for n in range(grids.count()):
        if not grids.nth(n).is_visible():  # on another tab
            continue
        grids.nth(n).scroll_into_view_if_needed()  # a grid far below the window draws its table when shown
        grids.nth(n).locator('table[role="grid"]').wait_for(state="attached", timeout=30_000)
        heads = grids.nth(n).locator('table[role="grid"] thead th').all_inner_texts()
        if column in [h.strip() for h in heads]:
            return grid_rows(page, n)
    raise AssertionError(f"no table with a {column!r} column; the page says: {page_problems(page)}")


def test_a_promptfoo_csv_a_prompt_yaml_and_a_row_judge_a_run(page, app, server):
    open_page(page, app, "views/5_Evaluate.py")
    choose_radio(page, "Upload")
    upload(page, "Dataset: CSV, TSV, JSON, JSONL, PARQUET", "capitals.csv", CAPITALS_CSV, "text/csv")
    wait_ready(page)
    assert page_problems(page) == []
    upload(page, "Prompt files (optional): YAML spec files, each a prompt variant with its own assertions",
           "capitals.yaml", CAPITALS_YAML, "application/yaml")
    wait_ready(page)
    assert page_problems(page) == []
    strategies(page, ["zero-shot"])
    set_number(page, "Items (0 = all)", 0)

    # One row on the page: a type picked, a value typed; a bad value first, said in one line, Run waiting.
    with rerun(page):
        page.get_by_role("button", name="Add an assertion").click()
    pick_type(page, "Type of assertion 1", "regex")
    box = page.get_by_role("textbox", name="Value", exact=True)
    with rerun(page):
        box.fill("([a-z]")
        box.press("Enter")
    problems = page_problems(page)
    assert problems == ["⚠️Assertion 1: assertion 'regex': the regex '([a-z]' does not compile: missing ) at position 6."]
    assert page.locator(RUN_BUTTON).is_disabled()
    with rerun(page):
        box.fill("[A-Za-z]")
        box.press("Enter")
    assert page_problems(page) == []
    assert broken_labels(page) == [] and horizontal_overflow(page) == 0  # whole labels at 1280x800

    press_run(page)
    heading = page.get_by_role("heading", name=re.compile(r"^Run \d+$"))
    heading.wait_for(timeout=300_000)
    wait_ready(page)
    assert page_problems(page) == []
    run_id = int(heading.inner_text().split()[1])
    records = open_store(server.data_dir / DB_FILENAME).results(run_id)
    assert {r["strategy"] for r in records} == {"inferred/zero", "capitals/zero"} and len(records) == 6

    # Each item's checks: the page's row first, then the prompt file's (its own strategies only), then the row's.
    expected_types = {
        "inferred/zero": [["regex", "icontains", "not-icontains"], ["regex", "icontains"],
                          ["regex", "icontains", "not-icontains"]],
        "capitals/zero": [["regex", "not-icontains", "not-contains", "icontains", "not-icontains"],
                          ["regex", "not-icontains", "not-contains", "icontains"],
                          ["regex", "not-icontains", "not-contains", "icontains", "not-icontains"]],
    }
    for r in records:
        assert [c["type"] for c in r["checks"]] == expected_types[r["strategy"]][r["item_index"]]

    # Per assertion: the page's pass counts are those of the stored verdicts.
    rates = grid_with(page, "pass rate")
    assert {(row["strategy"], row["assertion"], row["value"]): row["passed"] for row in rates} == {
        (c.strategy, c.type, "(each item its own)" if c.per_item else c.value or ""): f"{c.passed}/{c.n}"
        for c in check_rates(records)}
    assert {row["assertion"] for row in rates} == {"regex", "icontains", "not-icontains", "not-contains"}

    # Per item: every check with its verdict and reason, in the stored order (the rows the grid draws).
    checks = grid_with(page, "reason")
    stored_checks = [(r["strategy"], str(r["item_index"]), c["type"], c["reason"]) for r in records for c in r["checks"]]
    assert len(checks) >= 8  # the grid draws what fits its height
    assert [(row["strategy"], row["item"], row["check"], row["reason"]) for row in checks] == \
        stored_checks[:len(checks)]

    page.locator('[data-testid="stDataFrame"]').filter(has_text="pass rate").first.scroll_into_view_if_needed()
    screenshot(page, SCREENSHOTS / "evaluate-judging-results.png")

    # The Setup tab still holds the row after the run (the page kept it).
    open_tab(page, "Setup")
    wait_ready(page)
    value = page.get_by_role("textbox", name="Value", exact=True)
    assert value.input_value() == "[A-Za-z]"
    for _ in range(3):  # a rerun may redraw the box between finding and scrolling it: find it again
        try:
            value.scroll_into_view_if_needed(timeout=10_000)
            break
        except Exception:  # playwright's Error "not attached to the DOM" (playwright is imported only when installed)
            wait_ready(page)
    screenshot(page, SCREENSHOTS / "evaluate-judging-setup.png", full=False)
