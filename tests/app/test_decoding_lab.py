"""AppTest of the Decoding Lab page with the real default model: two presets side by side, the explorer."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT


def lab() -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages/4_Decoding_Lab.py"), default_timeout=180)
    return at.run()


def test_two_presets_run_and_two_outputs_appear():
    at = lab()
    assert not at.exception
    at.text_area(key="lab_prompt_a").set_value("One, two, three, four,")
    at.selectbox(key="lab_c0_preset").set_value("Greedy")
    at.selectbox(key="lab_c1_preset").set_value("Creative")
    for i in (0, 1):
        at.number_input(key=f"lab_c{i}_max").set_value(6)
    at.button(key="lab_go").click().run()
    assert not at.exception and not at.error
    grid = at.session_state["lab_grid"]
    assert [c.config for c in grid.cells] == ["1. Greedy", "2. Creative"]
    outputs = [m.value for m in at.markdown if 'class="lab-out"' in str(m.value)]
    assert len(outputs) == 2
    assert "five" in outputs[0]
    assert any("seed 0" in c.value and "tokens/s" in c.value for c in at.caption)  # the sampled config's seed
    # The order the sampled config ran in is shown, resolved to the backend's own (llama.cpp: temperature last).
    assert any("order: top_k → typical_p → top_p → min_p → temperature" in c.value for c in at.caption)
    assert grid.configs[1][1].sampler_order[-1] == "temperature"


def test_explorer_shows_a_distribution_and_steps():
    at = lab()
    at.text_area(key="lab_prompt_a").set_value("The capital of France is")
    at.run()
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 1  # the Altair bar chart
    table = next(d.value for d in at.dataframe if "raw" in d.value.columns)
    assert len(table) == 20 and table["raw"].is_monotonic_decreasing
    assert table["kept"].any()
    at.button(key="lab_x_greedy").click().run()
    assert not at.exception
    assert at.session_state["lab_x_state"].step == 1
    assert any("Step 1" in str(m.value) for m in at.markdown)


def test_explorer_says_which_sampler_order_it_shows():
    at = lab()
    at.text_area(key="lab_prompt_a").set_value("My favourite thing to do on a rainy afternoon is")
    at.selectbox(key="lab_xd_preset").set_value("Custom").run()
    at.toggle(key="lab_xd_sample").set_value(True)
    at.number_input(key="lab_xd_temp").set_value(1.6)
    at.number_input(key="lab_xd_topk").set_value(0)
    at.number_input(key="lab_xd_topp").set_value(0.5).run()
    assert not at.exception
    native = next(c.value for c in at.caption if "survive the warpers" in c.value)
    assert "(llama.cpp order, native)" in native and native.startswith("1 of 262144")
    at.selectbox(key="lab_xd_order").set_value("transformers (temperature first)").run()
    other = next(c.value for c in at.caption if "survive the warpers" in c.value)
    assert "(transformers order)" in other and other.startswith("123 of 262144")
