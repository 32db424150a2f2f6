"""AppTest of the Decoding Lab page with the real default model: two presets side by side, the explorer."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT


def lab() -> AppTest:
    at = AppTest.from_file(str(ROOT / "views/4_Decoding_Lab.py"), default_timeout=180)
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
    outputs = [m.value for m in at.markdown if 'class="lab-out' in str(m.value)]
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


def test_a_server_without_every_logit_gets_its_top_tokens_and_the_reason_not_a_warped_picture(monkeypatch):
    from tests.fakes import fake_server

    fake_server(monkeypatch, full_logits=False, beam_search=False, exact_token_counts=False)
    at = lab()
    at.text_area(key="lab_prompt_a").set_value("The capital of France is a city")
    at.run()
    assert not at.exception and not at.error
    assert any("returns only the most likely next tokens" in i.value for i in at.info)
    assert not at.get("vega_lite_chart")  # no warped-distribution chart
    table = next(d.value for d in at.dataframe if "probability" in d.value.columns)
    assert 1 <= len(table) <= 20 and list(table.columns) == ["token", "id", "probability"]
    assert "lab_x_state" not in at.session_state  # the stepping explorer never started
    assert any("≈ " in str(m.value) and "an estimate: the server has no tokenizer" in str(m.value)
               for m in at.markdown)  # token counts from an estimate say so


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
    at.selectbox(key="lab_xd_order").set_value("transformers").run()
    other = next(c.value for c in at.caption if "survive the warpers" in c.value)
    assert "(transformers order)" in other and other.startswith("110 of 262144")  # gemma-3-270m, exact kernels


# ---- issue 19: layouts that fit, fields that say why, inputs that survive a page switch --------------------------

def config_columns(at: AppTest) -> list:
    return [c for c in at.columns if c.markdown and str(c.markdown[0].value).startswith("**Config")]


@pytest.mark.parametrize("count", [2, 3, 4])
def test_as_many_columns_as_configs_and_narrow_settings_in_one_column(count):
    at = lab()
    at.number_input(key="lab_nconf").set_value(count).run()
    assert not at.exception
    cols = config_columns(at)
    assert len(cols) == count
    assert all(c.weight == pytest.approx(1 / count) for c in cols), "two configs get half the width each"
    inner = [len(c.columns) for c in cols]  # the decoding settings' own columns inside a config column
    assert inner == [2 if count == 2 else 0] * count, "narrow configs stack their settings in one column"


def test_explorer_chart_labels_every_bar():
    at = lab()
    at.text_area(key="lab_prompt_a").set_value("The capital of France is").run()
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    assert spec["encoding"]["x"]["axis"]["labelOverlap"] is False, "Vega-Lite drops labels that would overlap"


def test_an_invalid_config_field_says_why_in_its_column_and_run_waits():
    at = lab()
    at.text_area(key="lab_prompt_a").set_value("The capital of France is").run()
    at.selectbox(key="lab_c1_preset").set_value("Custom").run()
    at.number_input(key="lab_c1_temp").set_value(-1.0).run()
    assert not at.exception
    first, second = config_columns(at)
    assert not first.error
    assert [e.value for e in second.error] == [
        "temperature must be >= 0 (got -1.0); use 0 or greedy for deterministic output."]
    assert at.button(key="lab_go").disabled
    at.number_input(key="lab_nconf").set_value(9).run()
    assert "Decoding configs to compare must be between 1 and 8 (got 9)." in [e.value for e in at.error]
    assert at.button(key="lab_go").disabled


def test_prompt_and_configs_survive_another_page():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    at.switch_page("views/4_Decoding_Lab.py").run()
    at.text_area(key="lab_prompt_a").set_value("Once upon a time").run()
    at.number_input(key="lab_nconf").set_value(3).run()
    at.selectbox(key="lab_c2_preset").set_value("Custom").run()
    at.number_input(key="lab_c2_temp").set_value(1.3).run()
    at.number_input(key="lab_c0_max").set_value(7).run()
    at.selectbox(key="lab_xd_preset").set_value("Creative").run()
    at.switch_page("views/5_Evaluate.py").run()
    assert [t.value for t in at.title] == ["Evaluate"]
    at.switch_page("views/1_Prompt_Builder.py").run()
    at.switch_page("views/4_Decoding_Lab.py").run()
    assert not at.exception
    assert at.text_area(key="lab_prompt_a").value == "Once upon a time"
    assert at.number_input(key="lab_nconf").value == 3
    assert at.selectbox(key="lab_c2_preset").value == "Custom"
    assert at.number_input(key="lab_c2_temp").value == pytest.approx(1.3)
    assert at.number_input(key="lab_c0_max").value == 7
    assert at.selectbox(key="lab_xd_preset").value == "Creative"


def test_the_prompt_builders_prompt_is_a_source_even_before_the_builder_was_opened():
    from workbench.prompts import starter_specs

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    at.switch_page("views/4_Decoding_Lab.py").run()
    assert not at.exception
    at.radio(key="lab_source").set_value("Prompt Builder spec").run()
    at.text_area(key="lab_input_a").set_value("A joyless, plodding film.").run()
    assert not at.exception and not at.error
    starter = starter_specs()["sentiment"]
    shown = " ".join(c.value for c in at.code)
    assert starter.spec.instruction in shown and "A joyless, plodding film." in shown
    assert any(d.input in shown for d in starter.demos)
