"""AppTest of the Auto-CoT page with the real default model: build -> inspect -> use."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from workbench.autocot import Demo


def page() -> AppTest:
    return AppTest.from_file(str(ROOT / "pages/3_Auto-CoT.py"), default_timeout=600).run()


def test_build_inspect_use():
    at = page()
    assert not at.exception
    at.selectbox(key="model_choice").set_value("smollm2-135m-instruct").run()
    at.number_input(key="ac_k").set_value(2)
    at.number_input(key="ac_tries").set_value(1)
    at.number_input(key="ac_limit").set_value(6)
    at.number_input(key="ac_max").set_value(48)
    at.button(key="ac_build").click().run()
    assert not at.exception and not at.error
    result = at.session_state["ac_result"]
    assert len(result.demos) == 2 and len(result.assignments) == 6
    assert {d.cluster for d in result.demos} == {0, 1}
    assert len(at.expander) >= 2  # one per cluster, with kept/skipped reasons
    assert any("kept" in m.value or "skipped" in m.value for m in at.markdown)
    at.button(key="ac_use").click().run()
    demos = at.session_state["demos"]
    assert [d.input for d in demos] == [d.question for d in result.demos]
    assert all(d.rationale.startswith("Let's think step by step.") for d in demos)
    assert at.session_state["spec"].reasoning == "auto_cot"


def test_imported_demos_can_be_used_without_building():
    at = AppTest.from_file(str(ROOT / "pages/3_Auto-CoT.py"), default_timeout=120)
    at.session_state["ac_demos"] = [Demo("Tom has 2 apples and buys 3. How many?", "2 + 3 = 5.", "5")]
    at.run()
    assert not at.exception
    assert [b.key for b in at.get("download_button")] == ["ac_export"]
    at.button(key="ac_use").click().run()
    assert [d.answer for d in at.session_state["demos"]] == ["5"]
    assert at.session_state["demos"][0].rationale == "Let's think step by step. 2 + 3 = 5."
