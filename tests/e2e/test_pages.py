"""Visual check: every page (found in views/ at collection time) opens without a Python exception.

Each page is saved at 1280x800 (what a classroom laptop shows) and at its full
height into artifacts/screenshots/ for a reviewer; nothing may stick out sideways.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.harness import (
    broken_labels,
    exceptions,
    horizontal_overflow,
    navigate,
    navigation_titles,
    open_page,
    page_files,
    page_path,
    screenshot,
    serve,
    wait_ready,
)

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("script", page_files())
def test_page_opens_cleanly(page, app, script):
    open_page(page, app, script)
    screenshot(page, ARTIFACTS / f"{Path(script).stem}.png")
    assert exceptions(page) == []
    assert horizontal_overflow(page) == 0, "the page is wider than 1280 px: something is cut off at the side"
    assert broken_labels(page) == [], "a widget label breaks inside a word or is cut off (tests/e2e/test_layout.py)"


def test_the_navigation_calls_the_home_page_home_and_reaches_every_page(page, app):
    open_page(page, app)
    titles = navigation_titles(page)
    assert titles[0] == "Home", f"the navigation calls the home page {titles[0]!r}"
    assert "app" not in titles
    assert titles[1:] == [page_path(p).replace("_", " ") for p in page_files()[1:]]
    for title in [*titles[1:], "Home"]:
        navigate(page, title)
        assert exceptions(page) == [], title


def test_a_page_opened_first_by_its_url_has_the_same_navigation(browser, tmp_path):
    """A fresh server runs even a page opened first by its URL through app.py's navigation (a folder named pages/
    would make Streamlit run it without app.py, calling the home page "app")."""
    from tests.e2e.harness import new_page

    with serve(tmp_path) as fresh:
        pg = new_page(browser)
        try:
            open_page(pg, fresh.url, "views/4_Decoding_Lab.py")
            pg.wait_for_function("""() => { const a = document.querySelector('[data-testid="stSidebarNav"] a');
                                            return a && a.textContent.trim() === 'Home'; }""", timeout=30_000)
            wait_ready(pg)
            assert navigation_titles(pg)[0] == "Home"
            assert pg.locator("h1").first.inner_text() == "Decoding Lab"
            assert exceptions(pg) == []
        finally:
            pg.context.close()
