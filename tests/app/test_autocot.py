"""AppTest of the Auto-CoT page with the real default model: build -> inspect -> use; presets; dropped clusters."""

from __future__ import annotations

import colorsys
import html
import re
import types

import numpy as np
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from ui.autocot import scatter_chart
from ui.state import AutoCoTWork
from workbench.autocot.demo import Demo

AUTOCOT, BUILDER = "views/3_Auto-CoT.py", "views/1_Prompt_Builder.py"



def page() -> AppTest:
    """The Auto-CoT page inside the whole app (its "Use as demonstrations" opens the Prompt Builder)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600).run()
    return at.switch_page(AUTOCOT).run()


def page_alone() -> AppTest:
    """The Auto-CoT page by itself (for tests that stay on it)."""
    return AppTest.from_file(str(ROOT / AUTOCOT), default_timeout=600).run()


def work(at: AppTest) -> AutoCoTWork:
    return at.session_state["state_autocot_work"]


def builder_draft(at: AppTest):
    return at.session_state["state_builder"].draft


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
    result = work(at).result
    assert len(result.demos) == 2 and len(result.assignments) == 6 and result.dropped == ()
    assert {d.cluster for d in result.demos} == {0, 1}
    assert len(at.expander) >= 2  # one per cluster, with kept/skipped reasons
    assert any("kept" in m.value or "skipped" in m.value for m in at.markdown)
    if result.fallbacks:  # each fallback is said on the page and marked in its demo and its id
        assert any("Fallback in cluster" in w.value for w in at.warning)
    at.button(key="ac_use").click().run()
    assert [t.value for t in at.title] == ["Prompt Builder"]  # the Builder opened, showing them
    draft = builder_draft(at)
    demos = draft.used()
    assert [d.input for d in demos] == [d.question for d in result.demos]
    assert [d.id.endswith("-fallback") for d in demos] == [d.fallback for d in result.demos]
    assert all(d.rationale.startswith("Let's think step by step.") for d in demos)
    assert draft.spec().reasoning == "auto_cot"


def test_a_cluster_with_no_passing_member_is_dropped_and_said():
    at = small_build(page_alone(), ac_words=1)  # every question is too long: nothing passes, nothing is generated
    at.button(key="ac_build").click().run()
    assert not at.exception and not at.error
    assert work(at).result.dropped == (0, 1) and not work(at).demos
    assert next(w.value for w in at.warning).startswith("Dropped cluster 0, 1: no candidate passed the filters")
    assert all("dropped" in e.label for e in at.expander if e.label.startswith("Cluster"))
    assert not [b for b in at.button if b.key == "ac_use"]


def test_reference_preset_follows_the_pool_and_the_picker():
    at = page_alone()
    assert at.selectbox(key="ac_task").value == "none"  # the arithmetic sample is none of the reference's sets
    at.selectbox(key="ac_pool_sample").set_value("last_letters").run()
    assert at.selectbox(key="ac_task").value == "last_letters"
    assert (at.number_input(key="ac_k").value, at.number_input(key="ac_steps").value) == (4, 7)
    at.selectbox(key="ac_task").set_value("commonsensqa").run()
    assert (at.number_input(key="ac_k").value, at.number_input(key="ac_steps").value) == (7, 5)
    assert any("off (the reference checks it on arithmetic sets only)" in c.value for c in at.caption)
    at.selectbox(key="ac_task").set_value("multiarith").run()
    assert any("last 10 words: on" in c.value for c in at.caption)


def test_use_as_demonstrations_shows_them_in_the_builder_and_sends_them():
    """Issue 19 item 2: the Builder shows what Auto-CoT handed over (not its starter), says where it came
    from, and its prompt contains the demonstration with its rationale."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    at.switch_page(BUILDER).run()
    at.text_area(key="pb_instruction").set_value("An instruction typed before.").run()
    at.session_state["state_autocot_work"] = AutoCoTWork(
        demos=(Demo("Tom has 2 apples and buys 3. How many?", "2 + 3 = 5.", "5"),))  # as an imported file
    at.switch_page(AUTOCOT).run()
    assert not at.exception
    assert [b.key for b in at.get("download_button")] == ["ac_export"]
    at.button(key="ac_use").click().run()
    assert not at.exception and not at.error
    assert [t.value for t in at.title] == ["Prompt Builder"]
    assert any(i.value == "1 demonstration from Auto-CoT." for i in at.info)
    at.switch_page(BUILDER)  # AppTest reruns the page it was told last; a browser follows the switch
    assert at.selectbox(key="pb_reasoning").value == "auto_cot"
    assert at.radio(key="pb_shots").value == "One-shot"
    assert at.text_area(key="pb_instruction").value == ""  # Auto-CoT's spec, not the starter's or the edit
    at.text_area(key="pb_query").set_value("Ann has 4 pens and loses 1. How many?").run()
    assert not at.exception and not at.error
    draft = builder_draft(at)
    assert [d.answer for d in draft.used()] == ["5"]
    assert draft.used()[0].rationale == "Let's think step by step. 2 + 3 = 5."
    sent = html.unescape(re.sub(r"<[^>]+>", "", " ".join(str(e.proto.body) for e in at.get("html"))))
    assert ("Q: Tom has 2 apples and buys 3. How many?\nA: Let's think step by step. 2 + 3 = 5. "
            "The answer is 5.") in sent
    assert "Q: Ann has 4 pens and loses 1. How many?\nA:" in sent
    assert draft.spec().stop == ("\nQ:",)
    at.button(key="pb_previous").click().run()  # the edits the hand-over replaced come back on request
    assert at.text_area(key="pb_instruction").value == "An instruction typed before."
    assert at.selectbox(key="pb_reasoning").value == "none"


def _hue(colour: str) -> float:
    r, g, b = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return colorsys.rgb_to_hsv(r, g, b)[0] * 360


def test_cluster_colours_are_categorical():
    """Issue 19 item 10: clusters 0 and 1 (and every pair of the first four) differ clearly in hue."""
    rng = np.random.default_rng(0)
    result = types.SimpleNamespace(vectors=rng.normal(size=(8, 5)), assignments=np.array([0, 1, 2, 3] * 2))
    examples = [types.SimpleNamespace(input=f"question {i}") for i in range(8)]
    spec = scatter_chart(result, examples, {"question 0"}).to_dict()
    scale = spec["encoding"]["color"].get("scale", {})
    colours = scale.get("range", [])
    assert scale.get("domain") == ["0", "1", "2", "3"] and len(colours) == 4, scale
    hues = [_hue(c) for c in colours]
    for i in range(4):
        for j in range(i + 1, 4):
            gap = abs(hues[i] - hues[j])
            assert min(gap, 360 - gap) > 25, f"clusters {i} and {j} look alike: {colours}"


def test_settings_survive_a_page_switch():
    """Issue 19 item 1: the Auto-CoT settings are there when the user comes back from another page."""
    at = page()
    for key, value in {"ac_k": 3, "ac_max": 40, "ac_limit": 12, "ac_words": 30}.items():
        at.number_input(key=key).set_value(value)
    at.checkbox(key="ac_fallback").check()
    at.selectbox(key="ac_fmt").set_value("free").run()
    assert not at.exception
    at.switch_page(BUILDER).run()
    at.switch_page(AUTOCOT).run()
    assert not at.exception
    assert [at.number_input(key=k).value for k in ("ac_k", "ac_max", "ac_limit", "ac_words")] == [3, 40, 12, 30]
    assert at.checkbox(key="ac_fallback").value and at.selectbox(key="ac_fmt").value == "free"
