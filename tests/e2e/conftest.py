"""Fixtures for the browser tests: one Streamlit server and one Chromium per test session.

Every test gets its own page in its own browser context (its own Streamlit
session). A failing test leaves a screenshot in artifacts/screenshots/failures/.
The actions (open a page, fill a box, click, wait) live in ``tests/e2e/harness.py``
so that ``bench/classroom.py`` uses the same ones.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.harness import (
    CHROMIUM,
    INSTALL_HINT,
    ROOT,
    chromium_available,
    launch_browser,
    new_page,
    serve,
)

ARTIFACTS = ROOT / "artifacts" / "screenshots"


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium through Playwright; skips the browser tests where it is not installed."""
    if not chromium_available():
        pytest.skip(INSTALL_HINT.format(path=CHROMIUM))
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed; `make install-dev`")
    with sync_api.sync_playwright() as pw:
        b = launch_browser(pw)
        yield b
        b.close()


@pytest.fixture(scope="session")
def server(browser, tmp_path_factory):
    """``streamlit run app.py`` on a free loopback port with its store in a temporary folder."""
    with serve(tmp_path_factory.mktemp("e2e-server")) as srv:
        yield srv


@pytest.fixture(scope="session")
def app(server) -> str:
    """Base URL of the running app."""
    return server.url


@pytest.fixture
def page(browser, request):
    """A fresh page (own Streamlit session) at 1280x800; screenshot saved if the test fails."""
    pg = new_page(browser)
    yield pg
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and not pg.is_closed():
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid.split("::", 1)[-1])
        path = ARTIFACTS / "failures" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            pg.screenshot(path=str(path))
        except Exception as err:
            print(f"could not save {path}: {err}")
    pg.context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Let fixtures see whether the test body failed (for the failure screenshot)."""
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report
