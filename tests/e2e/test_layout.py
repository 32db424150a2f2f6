"""Layouts at 1280x800 (a classroom laptop): no widget label breaks inside a word or is cut off, nothing sticks out.

Every page is checked (and saved under artifacts/screenshots/ for a person to look at) by
tests/e2e/test_pages.py; here the Decoding Lab twice more, with two and with four configs, their decoding settings
open. The automated check measures each word of
each visible label: its characters must lie on one line ("tempe rature" in a quarter-width column fails), and
the label must fit its box.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.harness import (
    broken_labels,
    click_button,
    horizontal_overflow,
    open_page,
    open_tab,
    page_files,
    rerun,
    screenshot,
    select_option,
    set_number,
    wait_ready,
)

pytestmark = pytest.mark.e2e



#: The width of each config's column (the column holding a "Config N" heading).
CONFIG_WIDTHS_JS = r"""() => [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')]
    .filter(e => /^Config \d$/.test(e.textContent.trim()))
    .map(e => e.closest('[data-testid="stColumn"]').getBoundingClientRect().width)"""


def open_settings(page) -> None:
    """Open every closed "Decoding settings" expander of the compare tab."""
    for summary in page.locator('[data-testid="stExpander"] summary', has_text="Decoding settings").all():
        if summary.is_visible() and summary.locator("xpath=..").get_attribute("open") is None:
            summary.click()
    page.wait_for_timeout(300)


@pytest.mark.parametrize("configs", [2, 4])
def test_decoding_lab_configs_fit(page, app, configs):
    open_page(page, app, "views/4_Decoding_Lab.py")
    set_number(page, "Decoding configs to compare", configs)
    select_option(page, "Decoding preset", "Custom", nth=0)  # config 1: every field editable
    open_settings(page)
    wait_ready(page)
    screenshot(page, ARTIFACTS / f"layout-decoding-lab-{configs}-configs.png")
    widths = page.evaluate(CONFIG_WIDTHS_JS)
    assert len(widths) == configs
    assert broken_labels(page) == []
    assert horizontal_overflow(page) == 0
    main = page.get_by_role("textbox", name="Prompt A", exact=True).bounding_box()["width"]  # the content width
    assert min(widths) > main / configs * 0.8, f"config columns {widths} px wide in a {main:.0f} px page"


def test_evaluate_side_by_side_table_fits(page, app):
    open_page(page, app, "views/5_Evaluate.py")
    set_number(page, "Items (0 = all)", 3)
    with rerun(page, start_timeout_ms=10_000):
        click_button(page, "Run")
    page.get_by_role("heading", name=re.compile(r"^Run \d+$")).wait_for(timeout=300_000)
    wait_ready(page)
    table = page.locator('[data-testid="stDataFrame"]').filter(has=page.get_by_text("knn4 ✓")).first
    table.wait_for(timeout=60_000)
    table.scroll_into_view_if_needed()
    screenshot(page, ARTIFACTS / "layout-evaluate-results.png", full=False)
    box = table.bounding_box()
    main = page.locator('[data-testid="stMainBlockContainer"]').bounding_box()
    assert box["x"] + box["width"] <= main["x"] + main["width"] + 1, "the side-by-side table sticks out"
    assert broken_labels(page) == []
    assert horizontal_overflow(page) == 0


def _open_every_expander(page) -> None:
    for summary in page.locator('[data-testid="stExpander"] summary').all():
        if summary.is_visible() and summary.locator("xpath=..").get_attribute("open") is None:
            summary.click()
    page.wait_for_timeout(300)


@pytest.mark.parametrize("script", page_files())
def test_no_widget_label_is_cut_on_any_page_with_its_expanders_and_tabs_open(page, app, script):
    """Issue 33: every page at 1280x800, each tab in turn with every expander open: no widget label, checkbox or
    toggle text, select value or button label is cut off ("Fallback: a cluster with…") or breaks inside a word."""
    open_page(page, app, script)
    tabs = [t.strip() for t in page.locator('[data-testid="stTab"]').all_inner_texts()] or [""]
    cut: dict[str, list[str]] = {}
    for tab in tabs:
        if tab:
            open_tab(page, tab)
            wait_ready(page)
        _open_every_expander(page)
        if found := broken_labels(page):
            cut[tab or "page"] = found
    assert cut == {}, f"{script}: labels cut off or broken at 1280x800"


@pytest.mark.parametrize("order", ["llama.cpp", "transformers"])
def test_the_explorers_sampler_order_shows_whole(page, app, order):
    """Issue 33 item 7: the probability explorer's settings take a third of the page; its Sampler order showed
    "transformers (temperature…"."""
    open_page(page, app, "views/4_Decoding_Lab.py")
    open_tab(page, "Probability explorer")
    wait_ready(page)
    _open_every_expander(page)
    boxes = page.get_by_label("Sampler order", exact=True)  # the other tabs' settings have one too (hidden)
    visible = [i for i in range(boxes.count()) if boxes.nth(i).is_visible()]
    assert len(visible) == 1
    select_option(page, "Sampler order", re.compile("^" + re.escape(order)), nth=visible[0])
    wait_ready(page)
    assert broken_labels(page) == []
