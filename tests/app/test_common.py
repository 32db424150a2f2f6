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
from workbench.backends.policy import CLASSROOM_ENV

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
    at = run("views/1_Prompt_Builder.py")
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
    # the app checks every setting before a page runs: one red line, on the page (not one per widget that reads it)
    assert [e.value for e in at.error] == [
        "The server's settings are wrong: WORKBENCH_CLASSROOM must be 1 (pin models and servers) or 0 (do not); "
        "got 'yes please'. Fix it and restart the app."]


# ---- issue 19: serving without a file watcher; every decoding field says why it is invalid ----------------------

def test_the_served_app_watches_no_files():
    """A classroom server must not watch the repository (with .venv: inotify overflows) nor rerun on save."""
    import tomllib

    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert server["fileWatcherType"] == "none"
    assert server.get("runOnSave", False) is False


#: One out-of-range value per decoding field (key suffix, value, words the reason must contain).
INVALID_FIELDS = [
    ("temp", -1.0, "temperature must be >= 0"),
    ("topk", -1, "top_k must be >= 0"),
    ("topp", 1.5, "top_p must be in (0, 1]"),
    ("minp", 1.0, "min_p must be in [0, 1)"),
    ("typ", 0.0, "typical_p must be in (0, 1]"),
    ("rep", 0.0, "repetition_penalty must be > 0"),
    ("max", 0, "max_new_tokens must be at least 1"),
    ("seed", -1, "seed must be a whole number >= 0"),
]


@pytest.mark.parametrize(("suffix", "value", "reason"), INVALID_FIELDS, ids=[f[0] for f in INVALID_FIELDS])
def test_an_invalid_decoding_field_says_why_under_itself_and_generate_waits(suffix, value, reason):
    at = run()
    at.selectbox(key="home_preset").set_value("Custom").run()
    at.toggle(key="home_sample").set_value(True).run()
    at.number_input(key=f"home_{suffix}").set_value(value).run()
    assert not at.exception
    settings = next(e for e in at.expander if e.label == "Decoding settings")
    inline = [e.value for e in settings.error]
    assert len(inline) == 1 and reason in inline[0], "the reason must be shown with the field, in the settings"
    assert at.button(key="home_go").disabled, "Generate must wait until the field is valid"
    # Fixed again: the line goes and Generate is enabled.
    fixed = {"temp": 0.7, "topk": 40, "topp": 0.9, "minp": 0.05, "typ": 1.0, "rep": 1.1, "max": 8, "seed": 3}
    at.number_input(key=f"home_{suffix}").set_value(fixed[suffix]).run()
    assert not at.error and not at.button(key="home_go").disabled


def test_a_server_without_a_tokenizer_can_be_given_one_in_the_sidebar(monkeypatch):
    import ui.common
    from tests.fakes import FakeBackend

    asked: list[tuple[str, str]] = []

    def cached(model, backend):
        asked.append((model, backend))
        return FakeBackend()

    monkeypatch.setattr(ui.common, "cached_backend", cached)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.selectbox(key="backend_choice").set_value(ui.common.SERVER_BACKEND).run()
    at.text_input(key="server_url").set_value("http://127.0.0.1:11434/v1").run()
    at.text_input(key="server_model").set_value("llama3").run()
    at.text_input(key="server_tokenizer").set_value("approximate").run()
    assert not at.exception
    assert asked[-1] == ("http://127.0.0.1:11434/v1#llama3#tokenizer=approximate", ui.common.SERVER_BACKEND)


def test_a_stale_entry_in_a_field_that_no_longer_applies_holds_nothing_back():
    """A field disabled now (a preset's own value) says nothing and does not disable Generate, even where an
    earlier Custom entry left it out of range (the red line would claim the action is held back)."""
    at = run()
    at.selectbox(key="home_preset").set_value("Custom").run()
    at.number_input(key="home_temp").set_value(-1.0).run()
    assert at.button(key="home_go").disabled
    at.selectbox(key="home_preset").set_value("Greedy").run()  # temperature is the preset's now: disabled
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert not at.button(key="home_go").disabled
