"""AppTest of the Auto-CoT page with the real default model: build -> inspect -> use; presets; dropped clusters."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from workbench.autocot import Demo


def page() -> AppTest:
    return AppTest.from_file(str(ROOT / "pages/3_Auto-CoT.py"), default_timeout=600).run()


def small_build(at: AppTest, **numbers: int) -> AppTest:
    at.selectbox(key="model_choice").set_value("smollm2-135m-instruct").run()
    for key, value in {"ac_k": 2, "ac_tries": 1, "ac_limit": 6, "ac_max": 48, **numbers}.items():
        at.number_input(key=key).set_value(value)
    return at


def test_build_with_fallback_flags_inspect_use():
    at = small_build(page())
    at.checkbox(key="ac_fallback").check()
    at.button(key="ac_build").click().run()
    assert not at.exception and not at.error
    result = at.session_state["ac_result"]
    assert len(result.demos) == 2 and len(result.assignments) == 6 and result.dropped == ()
    assert {d.cluster for d in result.demos} == {0, 1}
    assert len(at.expander) >= 2  # one per cluster, with kept/skipped reasons
    assert any("kept" in m.value or "skipped" in m.value for m in at.markdown)
    if result.fallbacks:  # each fallback is said on the page and marked in its demo and its id
        assert any("Fallback in cluster" in w.value for w in at.warning)
    at.button(key="ac_use").click().run()
    demos = at.session_state["demos"]
    assert [d.input for d in demos] == [d.question for d in result.demos]
    assert [d.id.endswith("-fallback") for d in demos] == [d.fallback for d in result.demos]
    assert all(d.rationale.startswith("Let's think step by step.") for d in demos)
    assert at.session_state["spec"].reasoning == "auto_cot"


def test_a_cluster_with_no_passing_member_is_dropped_and_said():
    at = small_build(page(), ac_words=1)  # every question is too long: nothing passes, nothing is generated
    at.button(key="ac_build").click().run()
    assert not at.exception and not at.error
    assert at.session_state["ac_result"].dropped == (0, 1) and not at.session_state["ac_demos"]
    assert next(w.value for w in at.warning).startswith("Dropped cluster 0, 1: no candidate passed the filters")
    assert all("dropped" in e.label for e in at.expander if e.label.startswith("Cluster"))
    assert not [b for b in at.button if b.key == "ac_use"]


def test_reference_preset_follows_the_pool_and_the_picker():
    at = page()
    assert at.selectbox(key="ac_task").value == "none"  # the arithmetic sample is none of the reference's sets
    at.selectbox(key="ac_pool_sample").set_value("last_letters").run()
    assert at.selectbox(key="ac_task").value == "last_letters"
    assert (at.number_input(key="ac_k").value, at.number_input(key="ac_steps").value) == (4, 7)
    at.selectbox(key="ac_task").set_value("commonsensqa").run()
    assert (at.number_input(key="ac_k").value, at.number_input(key="ac_steps").value) == (7, 5)
    assert any("off (the reference checks it on arithmetic sets only)" in c.value for c in at.caption)
    at.selectbox(key="ac_task").set_value("multiarith").run()
    assert any("last 10 words: on" in c.value for c in at.caption)


def test_imported_demos_can_be_used_without_building():
    at = AppTest.from_file(str(ROOT / "pages/3_Auto-CoT.py"), default_timeout=120)
    at.session_state["ac_demos"] = [Demo("Tom has 2 apples and buys 3. How many?", "2 + 3 = 5.", "5")]
    at.run()
    assert not at.exception
    assert [b.key for b in at.get("download_button")] == ["ac_export"]
    at.button(key="ac_use").click().run()
    assert [d.answer for d in at.session_state["demos"]] == ["5"]
    assert at.session_state["demos"][0].rationale == "Let's think step by step. 2 + 3 = 5."
