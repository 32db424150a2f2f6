"""Fixtures for the browser tests: one Streamlit server and one Chromium per test session.

Every test gets its own page in its own browser context (its own Streamlit
session). A failing test leaves a screenshot in artifacts/screenshots/failures/.
The actions (open a page, fill a box, click, wait) live in ``tests/e2e/harness.py``
so that ``bench/classroom.py`` uses the same ones.
"""

from __future__ import annotations

import re
from pathlib import Path

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


#: What Streamlit writes to the server log when the app misuses it (its logger writes no level name): a widget given
#: a default and a Session State value, deprecations, a number format that does not fit the value, ...
STREAMLIT_WARNING = re.compile(
    r"Session State API|deprecat|will be removed|Please replace|has type (float|int)|CachedWidgetWarning"
    r"|StreamlitAPIWarning|was created with a default value|is not supported|st\.\w+\(\) .* no longer")


def streamlit_warnings(log: Path, start: int = 0) -> list[str]:
    """The Streamlit warnings in a server log from byte ``start`` on (each with the line that carries it)."""
    text = log.read_bytes()[start:].decode(errors="replace") if log.exists() else ""
    return [line.strip() for line in text.splitlines() if STREAMLIT_WARNING.search(line)]


@pytest.fixture(autouse=True)
def no_streamlit_warnings(request):
    """Every browser test on the shared server: the server logs no Streamlit warning while it runs (issue 33)."""
    if not {"server", "app"} & set(request.fixturenames):
        yield
        return
    log = request.getfixturevalue("server").log
    start = log.stat().st_size if log.exists() else 0
    yield
    found = streamlit_warnings(log, start)
    if found:
        pytest.fail("Streamlit warned in the server log during this test:\n" + "\n".join(found[:5]), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Let fixtures see whether the test body failed (for the failure screenshot)."""
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report
