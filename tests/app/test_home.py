"""AppTest of the home page: the real default model streams a completion; errors are one line."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from workbench.backends import Generation


def home() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    return at.run()


def test_home_generates_with_the_default_model():
    at = home()
    assert not at.exception
    assert "llama.cpp" in " ".join(c.value for c in at.sidebar.caption)
    at.text_area(key="home_prompt").set_value("One, two, three, four,")
    at.number_input(key="home_max").set_value(8)
    at.button(key="home_go").click().run()
    assert not at.exception
    assert not at.error
    text = " ".join(str(m.value) for m in at.markdown)
    assert "five" in text
    assert any("tokens/s" in c.value for c in at.caption)


def test_empty_prompt_is_a_one_line_error():
    at = home()
    at.text_area(key="home_prompt").set_value("   ")
    at.button(key="home_go").click().run()
    assert [e.value for e in at.error] == ["The prompt is empty; type some text to complete."]


def test_bad_local_model_path_is_one_line():
    at = home()
    at.selectbox(key="model_choice").set_value("Local path…").run()
    at.text_input(key="model_path").set_value("/nowhere/model.gguf").run()
    assert not at.exception
    assert len(at.sidebar.error) == 1
    assert "Unknown model '/nowhere/model.gguf'" in at.sidebar.error[0].value


def test_negative_temperature_is_refused_in_the_ui():
    at = home()
    at.selectbox(key="home_preset").set_value("Custom").run()
    at.toggle(key="home_sample").set_value(True).run()
    at.number_input(key="home_topp").set_value(0.0).run()
    assert any("top_p must be in (0, 1]" in e.value for e in at.error)
    assert at.button(key="home_go").disabled


def test_the_summary_counts_decoding_speed_apart_from_the_prompt():
    at = home()
    at.text_area(key="home_prompt").set_value("One, two, three, four,")
    at.number_input(key="home_max").set_value(6)
    at.button(key="home_go").click().run()
    assert not at.exception and not at.error
    line = next(c.value for c in at.caption if "tokens/s" in c.value)
    assert re.fullmatch(r"\d+ tokens in [\d.]+ s \([\d.]+ tokens/s decoding; prompt \d+ tokens read in [\d.]+ s; "
                        r"finish: \w+\)", line), line
    assert not [b for b in at.button if b.label == "Stop"], "the Stop button goes when the generation ends"


def test_one_token_is_singular_and_its_time_is_the_prompt_time():
    """ "1 tokens in 4.76 s (0.2 tokens/s)" was the prompt's reading time passed off as decoding speed."""
    gen = Generation("Paris", 7, 1, "length", 4.76, prompt_seconds=4.70)
    assert gen.summary() == ("1 token in 4.76 s: prompt 7 tokens read in 4.70 s, no tokens/s from one token "
                             "(finish: length)")
    assert Generation("a b c", 7, 3, "stop", 1.0, prompt_seconds=0.6).tokens_per_second == pytest.approx(5.0)
    assert Generation("a b c", 7, 3, "stop", 1.5).tokens_per_second == pytest.approx(2.0)  # not measured apart


def test_the_home_page_streams_through_a_shared_batch(monkeypatch):
    """A classroom server with WORKBENCH_SHARED_BATCH: the page streams from the shared decoder, not the lock."""
    import ui.common
    from workbench.backends import registry
    from workbench.backends.llamacpp import load_llamacpp

    shared = load_llamacpp(registry.resolve_model("gemma-3-270m"), shared_batch=2)
    try:
        monkeypatch.setattr(ui.common, "cached_backend", lambda model, backend: shared)
        at = home()
        at.text_area(key="home_prompt").set_value("One, two, three, four,")
        at.number_input(key="home_max").set_value(8)
        at.button(key="home_go").click().run()
        assert not at.exception and not at.error
        assert "five" in " ".join(str(m.value) for m in at.markdown)
        assert any("tokens/s" in c.value for c in at.caption)
        assert shared.shared.running == 0 and not shared.lock.busy  # the lock was never taken for it
    finally:
        shared.close()
