"""AppTest: the app checks every WORKBENCH_* setting when a page runs; a bad one is one red line naming it and no
page runs (no traceback, no half-drawn page)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT


def test_a_bad_setting_is_one_red_line_and_no_page(monkeypatch):
    monkeypatch.setenv("WORKBENCH_BATCH", "lots")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert [e.value for e in at.error] == [
        "The server's settings are wrong: WORKBENCH_BATCH must be a whole number of sequences from 1 to 64, "
        "not 'lots'. Fix it and restart the app."]
    assert not at.exception
    assert not at.title  # the home page did not run


def test_good_settings_let_the_page_run(monkeypatch):
    monkeypatch.setenv("WORKBENCH_BATCH", "4")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.error and not at.exception
    assert [t.value for t in at.title] == ["Prompt Workbench"]
