"""AppTest of the Speculative Decoding page with the real default model (llama.cpp): run, coloured output,
acceptance table, the explanation."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT


def page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "views/7_Speculative_Decoding.py"), default_timeout=300)
    return at.run()


def test_run_shows_coloured_output_and_the_acceptance_table():
    at = page()
    assert not at.exception
    assert "Fix the typos" in at.text_area(key="spec_prompt").value  # the first example is loaded
    at.number_input(key="spec_dec_max").set_value(16)
    at.number_input(key="spec_k").set_value(6)
    at.button(key="spec_go").click().run()
    assert not at.exception and not at.error
    cmp = at.session_state["spec_result"]
    trace = cmp.trace
    out = next(m.value for m in at.markdown if 'class="spec-out' in str(m.value))
    assert out.count('class="spec-tok') == len(trace.tokens) == 16
    assert "spec-accepted" in out  # a copy-heavy prompt: some drafts survive
    table = next(d.value for d in at.dataframe if "accepted" in d.value.columns)
    assert len(table) == trace.target_passes and table["accepted"].sum() == trace.accepted
    labels = {m.label: m.value for m in at.metric}
    assert labels["Acceptance rate"] == f"{trace.acceptance_rate:.0%}" and "Speed ratio" in labels
    assert any("accepted" in str(m.value) and "rejected" in str(m.value) for m in at.markdown)  # the legend


def test_picking_the_creative_example_replaces_the_prompt_and_the_explanation_is_there():
    at = page()
    creative = next(o for o in at.selectbox(key="spec_example").options if "creative" in o)
    at.selectbox(key="spec_example").set_value(creative).run()
    assert not at.exception
    assert "dragon" in at.text_area(key="spec_prompt").value
    assert any("min(1, p(x)/q(x))" in str(m.value) and "Medusa" in str(m.value) for m in at.markdown)


def test_a_draft_length_of_zero_is_one_red_line_and_disables_run():
    at = page()
    at.number_input(key="spec_k").set_value(0).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "draft_tokens" in errors[0] and "(got 0)" in errors[0] and "\n" not in errors[0]
    assert at.button(key="spec_go").disabled
    at.number_input(key="spec_k").set_value(4).run()
    assert not at.error and not at.button(key="spec_go").disabled


def test_an_empty_prompt_disables_run():
    at = page()
    at.text_area(key="spec_prompt").set_value("  ").run()
    assert at.button(key="spec_go").disabled
