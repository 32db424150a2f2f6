"""AppTest of the Demonstrations page: load a pool -> select -> run, with the real models; its settings
survive a page switch; the "fixed" selector picks pool rows; its demonstrations go to the Prompt Builder."""

from __future__ import annotations

import html
import re

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from workbench.data import load_sample

DEMONSTRATIONS, BUILDER = "views/2_Demonstrations.py", "views/1_Prompt_Builder.py"



def page() -> AppTest:
    return AppTest.from_file(str(ROOT / DEMONSTRATIONS), default_timeout=300).run()


def in_app() -> AppTest:
    """The page inside the whole app, so that switch_page walks across pages in one session."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    return at.switch_page(DEMONSTRATIONS).run()


def chosen(at: AppTest):
    return at.session_state["state_demonstrations_chosen"]


def test_load_select_run():
    at = page()
    assert not at.exception and not at.error
    at.text_input(key="dm_query").set_value("a dull, lifeless and boring movie").run()
    at.number_input(key="dm_k").set_value(2).run()
    assert not at.exception and not at.error
    demos = chosen(at)
    assert len(demos) == 2
    pool = {ex.input: ex for ex in load_sample("sentiment")}
    assert all(d.input in pool for d in demos)
    assert any("cosine" in c.value or "similar" in c.value for c in at.caption)
    at.number_input(key="dmdec_max").set_value(3)
    at.button(key="dm_run").click().run()
    assert not at.exception and not at.error
    assert any(s.value.startswith("Answer:") for s in at.success)


def test_query_from_pool_is_excluded_and_orders_change():
    at = page()
    at.radio(key="dm_qmode").set_value("Pick from the pool").run()
    at.selectbox(key="dm_qpick").set_value(0).run()
    query = load_sample("sentiment")[0].input
    assert query not in [d.input for d in chosen(at)]
    first = [d.input for d in chosen(at)]
    at.selectbox(key="dm_order").set_value("similar_first").run()
    assert [d.input for d in chosen(at)] == first[::-1]


def test_compare_three_selectors():
    at = page()
    at.number_input(key="dm_k").set_value(2).run()
    at.number_input(key="dmdec_max").set_value(2)
    at.button(key="dm_compare").click().run()
    assert not at.exception and not at.error
    assert len([s for s in at.success if s.value.startswith("Answer:")]) == 3
    assert [m.value for m in at.markdown if m.value in ("**random**", "**nearest**", "**diverse**")] == [
        "**random**", "**nearest**", "**diverse**"]  # the strategy registry's words, as on the Evaluate page


def test_query_and_settings_survive_a_page_switch():
    """Issue 19 item 1: the query, K, order and selector are there when the user comes back."""
    at = in_app()
    at.text_input(key="dm_query").set_value("a tense, gripping thriller").run()
    at.number_input(key="dm_k").set_value(3).run()
    at.selectbox(key="dm_order").set_value("similar_first").run()
    at.selectbox(key="dm_sel").set_value("bm25").run()
    assert not at.exception and not at.error
    before = [d.input for d in chosen(at)]
    at.switch_page(BUILDER).run()
    assert [t.value for t in at.title] == ["Prompt Builder"]
    at.switch_page("views/6_Library.py").run()
    at.switch_page(DEMONSTRATIONS).run()
    assert not at.exception and not at.error
    assert at.text_input(key="dm_query").value == "a tense, gripping thriller"
    assert at.number_input(key="dm_k").value == 3
    assert at.selectbox(key="dm_order").value == "similar_first"
    assert at.selectbox(key="dm_sel").value == "bm25"
    assert [d.input for d in chosen(at)] == before


def test_fixed_selector_uses_the_rows_picked():
    """Issue 19 item 4: "fixed: hand-picked" offers the pool's rows to pick, and uses exactly those."""
    pool = load_sample("sentiment")
    at = page()
    at.selectbox(key="dm_sel").set_value("fixed").run()
    assert not at.exception and not at.error
    picker = at.multiselect(key="dm_fixed")
    assert not picker.disabled and len(picker.options) == len(pool)
    picker.set_value([5, 2]).run()
    assert not at.exception and not at.error
    assert {d.input for d in chosen(at)} == {pool[5].input, pool[2].input}


def test_use_in_the_builder_shows_the_demonstrations_there():
    """Issue 19 item 2: Demonstrations -> Builder: its editor holds them (few-shot, all used), with a note."""
    at = in_app()
    at.text_input(key="dm_query").set_value("a dull, lifeless and boring movie").run()
    at.number_input(key="dm_k").set_value(2).run()
    picked = [d.input for d in chosen(at)]
    at.button(key="dm_use").click().run()
    assert not at.exception and not at.error
    assert [t.value for t in at.title] == ["Prompt Builder"]
    assert any(i.value.startswith("2 demonstrations from the Demonstrations page (nearest") for i in at.info)
    draft = at.session_state["state_builder"].draft
    assert [d.input for d in draft.used()] == picked and draft.shots == "Few-shot" and draft.k == 2
    assert draft.query == "a dull, lifeless and boring movie"
    at.switch_page(BUILDER)
    sent = html.unescape(re.sub(r"<[^>]+>", "", " ".join(str(e.proto.body) for e in at.get("html"))))
    assert all(f"Review: {p}\nSentiment:" in sent for p in picked)
