"""AppTest of the Demonstrations page: load a pool -> select -> run, with the real models."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from workbench.data import load_sample


def page() -> AppTest:
    return AppTest.from_file(str(ROOT / "pages/2_Demonstrations.py"), default_timeout=300).run()


def test_load_select_run():
    at = page()
    assert not at.exception and not at.error
    at.text_input(key="dm_query").set_value("a dull, lifeless and boring movie").run()
    at.number_input(key="dm_k").set_value(2).run()
    assert not at.exception and not at.error
    demos = at.session_state["demos"]
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
    assert query not in [d.input for d in at.session_state["demos"]]
    first = [d.input for d in at.session_state["demos"]]
    at.selectbox(key="dm_order").set_value("similar_first").run()
    assert [d.input for d in at.session_state["demos"]] == first[::-1]


def test_compare_three_selectors():
    at = page()
    at.number_input(key="dm_k").set_value(2).run()
    at.number_input(key="dmdec_max").set_value(2)
    at.button(key="dm_compare").click().run()
    assert not at.exception and not at.error
    assert len([s for s in at.success if s.value.startswith("Answer:")]) == 3
