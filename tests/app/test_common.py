"""AppTest of the widgets every page shares: an unexpected error is one red line, a classroom server is pinned."""

from __future__ import annotations

import logging

import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest

import ui.common
from tests.conftest import ROOT
from tests.e2e.harness import page_files
from ui.common import FAULT_ENV, untrusted_markdown
from workbench.backends import EMBEDDED
from workbench.backends.registry import CLASSROOM_ENV

UNEXPECTED = "failed: an unexpected {kind} (a bug in the workbench); the details are in the server log."


def run(script: str = "app.py") -> AppTest:
    return AppTest.from_file(str(ROOT / script), default_timeout=240).run()


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


@pytest.fixture
def server_log():
    """What ui.common writes to the server log."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("ui.common")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


@pytest.mark.parametrize("script", page_files())
def test_every_page_shows_an_unexpected_model_loading_error_as_one_line(script, monkeypatch, server_log):
    monkeypatch.setenv(FAULT_ENV, "Loading the model")
    at = run(script)
    assert not at.exception
    assert [e.value for e in at.sidebar.error] == ["Loading the model " + UNEXPECTED.format(kind="RuntimeError")]
    assert server_log and server_log[0].exc_info[0] is RuntimeError  # the traceback went to the log


def test_a_real_bug_while_generating_is_one_line_without_its_message(monkeypatch, server_log):
    def broken(*args, **kwargs):
        raise KeyError("/srv/secret/path")

    at = run()
    monkeypatch.setattr(ui.common, "show_prompt", broken)
    at.button(key="home_go").click().run()
    assert not at.exception
    assert errors(at) == ["Generating " + UNEXPECTED.format(kind="KeyError")]
    assert "/srv/secret" not in str(at)
    assert "/srv/secret" in str(server_log[-1].exc_info[1])


def test_the_fault_hook_fires_only_where_it_is_aimed(monkeypatch):
    monkeypatch.setenv(FAULT_ENV, "Rendering the prompt")
    at = run("pages/1_Prompt_Builder.py")
    at.text_area(key="pb_query").set_value("The movie was great.").run()
    assert not at.exception
    assert not at.sidebar.error  # only the aimed action fails
    assert errors(at) == ["Rendering the prompt " + UNEXPECTED.format(kind="RuntimeError")]
    monkeypatch.delenv(FAULT_ENV)
    at.run()
    assert not at.exception and not at.error


def test_uncaught_errors_show_no_details_in_the_browser():
    import tomllib

    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert settings["client"]["showErrorDetails"] == "none"
    assert settings["server"]["address"] == "127.0.0.1"


def test_untrusted_markdown_keeps_images_as_text():
    assert untrusted_markdown("see ![beacon](http://x/p.png) and ![ref][r]") == (
        "see !\\[beacon](http://x/p.png) and !\\[ref][r]")
    assert untrusted_markdown("plain [link](http://x) stays a link") == "plain [link](http://x) stays a link"


# ---- a classroom server --------------------------------------------------------------------------

@pytest.fixture
def classroom(monkeypatch):
    monkeypatch.setenv(CLASSROOM_ENV, "1")


def test_a_classroom_sidebar_offers_only_the_allowed_models(classroom):
    at = run()
    assert not at.exception and not at.error
    assert at.selectbox(key="model_choice").options == list(EMBEDDED)
    at.selectbox(key="backend_choice").set_value("openai-compatible").run()
    assert not at.exception
    assert at.selectbox(key="server_pick").options == []
    assert "This server allows no OpenAI-compatible server." in [i.value for i in at.sidebar.info]
    assert "server_url" not in [t.key for t in at.text_input]  # no free URL to make the server fetch


def test_a_classroom_sidebar_offers_the_allowed_servers(monkeypatch, classroom):
    monkeypatch.setenv("WORKBENCH_ALLOWED_SERVERS", "http://127.0.0.1:9/v1#m")
    at = run()
    at.selectbox(key="backend_choice").set_value("openai-compatible").run()
    assert at.selectbox(key="server_pick").options == ["http://127.0.0.1:9/v1#m"]
    assert len(at.sidebar.error) == 1 and "a bug" not in at.sidebar.error[0].value  # not running: a plain error


def test_binding_beyond_loopback_pins_by_default(monkeypatch):
    monkeypatch.delenv(CLASSROOM_ENV, raising=False)
    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    try:
        at = run()
    finally:
        config.set_option("server.address", before)
    assert "Local path…" not in at.selectbox(key="model_choice").options
    assert "Local path…" in run().selectbox(key="model_choice").options


def test_a_mistyped_classroom_switch_is_one_line(monkeypatch):
    monkeypatch.setenv(CLASSROOM_ENV, "yes please")
    at = run()
    assert not at.exception
    assert [e.value for e in at.sidebar.error] == [
        "WORKBENCH_CLASSROOM must be 1 (pin models and servers) or 0 (do not); got 'yes please'."]
