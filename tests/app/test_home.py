"""AppTest of the home page: the real default model streams a completion; errors are one line."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT


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
