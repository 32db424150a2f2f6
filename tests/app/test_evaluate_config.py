"""AppTest of the Evaluate page running another tool's file (issue 27): a promptfoo config picked from
``examples/``, typed as a path or uploaded with the files it names; what it holds shown before the run; the run's
prompt x model matrix and the paired comparisons along both axes; every refusal one red line; the choice kept
across pages.

The run of the shipped example uses the real default models (2 tests); the exact figures of the matrix come from
hand-made configs on the fake backend (tests/fakes.py), one scripted fake per model.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.fakes import FakeBackend

EXAMPLE = "examples/promptfoo/promptfooconfig.yaml"
CITIES = {"France": "Paris", "Japan": "Tokyo", "Italy": "Rome"}

#: Two prompts, two providers (labels g and s), three tests judged by two assertions of defaultTest.
CONFIG = """\
description: capitals
prompts:
  - raw: "Q: What is the capital of {{country}}?\\nA:"
    label: qa
  - raw: "The capital of {{country}} is"
    label: plain
providers:
  - id: workbench:gemma-3-270m
    label: g
  - id: workbench:smollm2-135m-instruct
    label: s
defaultTest:
  assert:
    - type: icontains
      value: "{{city}}"
    - type: not-icontains
      value: "don't know"
tests:
  - vars: {country: France, city: Paris}
  - vars: {country: Japan, city: Tokyo}
  - vars: {country: Italy, city: Rome}
"""


def city(prompt: str) -> str:
    found = re.search(r"capital of (\w+)", prompt)
    return CITIES.get(found.group(1) if found else "", "Atlantis")


@pytest.fixture
def fakes(monkeypatch) -> dict[str, FakeBackend]:
    """The page's model factory gives a scripted fake per model: gemma-3-270m always knows the city;
    smollm2-135m-instruct knows it only in the Q/A prompt and only for France."""
    import ui.common

    models = {"gemma-3-270m": FakeBackend(reply=lambda p, s: f" {city(p)}."),
              "smollm2-135m-instruct": FakeBackend(
                  reply=lambda p, s: " Paris" if p.startswith("Q:") and "France" in p else " I don't know")}
    for name, model in models.items():  # each its own identity, as real models are (the response cache tells
        model.spec = dataclasses.replace(model.spec, id=name, path=f"/nonexistent/{name}")  # them apart by it)
    monkeypatch.setattr(ui.common, "cached_backend", lambda model, backend: models[model])
    return models


def page() -> AppTest:
    return AppTest.from_file(str(ROOT / "views/5_Evaluate.py"), default_timeout=300).run()


def frame(at: AppTest, *columns: str):
    """The first dataframe on the page with these columns."""
    return next(d.value for d in at.dataframe if set(columns) <= set(d.value.columns))


def promptfoo(at: AppTest, how: str = "Pick a file") -> AppTest:
    at.radio(key="ev_source").set_value("promptfoo").run()
    at.radio(key="ev_imp_how").set_value(how).run()
    return at


def typed(at: AppTest, path: Path) -> AppTest:
    promptfoo(at, "Type a path").text_input(key="ev_imp_path_promptfoo").set_value(str(path)).run()
    return at


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def test_the_example_config_is_picked_summarised_and_runs_on_the_real_models_as_a_matrix():
    from workbench.interop.promptfoo import load_plan

    plan = load_plan(str(ROOT / EXAMPLE))
    at = promptfoo(page())
    assert not at.exception and not errors(at)
    assert EXAMPLE in at.selectbox(key="ev_imp_pick_promptfoo").options
    at.selectbox(key="ev_imp_pick_promptfoo").set_value(EXAMPLE).run()
    # What the file holds, before anything runs: every strategy with its model, every test.
    shown = frame(at, "strategy", "answer")
    assert list(shown["strategy"]) == [s.name for s in plan.strategies]
    assert list(shown["model"]) == [s.model for s in plan.strategies]
    assert list(frame(at, "vars")["id"]) == [ex.id for ex in plan.dataset]
    headline = next(m.value for m in at.markdown if m.value.startswith("**promptfooconfig.yaml**"))
    assert f"× {len(plan.models)} models = {len(plan.strategies)} strategies · {len(plan.dataset)} tests" in headline
    at.number_input(key="ev_imp_limit").set_value(2).run()
    at.button(key="ev_run").click().run()
    assert not at.exception and not errors(at)
    summary = frame(at, "95% CI")
    assert list(summary["strategy"]) == [s.name for s in plan.strategies] and set(summary["n"]) == {2}
    prompts = list(dict.fromkeys(s.name.rsplit(" @ ", 1)[0] for s in plan.strategies))
    models = list(dict.fromkeys(s.name.rsplit(" @ ", 1)[1] for s in plan.strategies))
    matrix = frame(at, "prompt", *models)
    assert list(matrix["prompt"]) == prompts and list(matrix.columns) == ["prompt", *models]
    for _, row in matrix.iterrows():  # each cell is its strategy's figure in the summary table
        for m in models:
            figure = summary.loc[summary["strategy"] == f"{row['prompt']} @ {m}", "accuracy"].iloc[0]
            assert row[m] == f"{figure} (n=2)"
    # The exact text each item was sent, as for the page's own runs.
    items = frame(at, "prompt", "output")
    assert "Q: What is the capital of France?" in items["prompt"].iloc[0]


def test_the_matrix_and_both_axes_of_paired_comparisons_are_exact(fakes, tmp_path):
    (tmp_path / "promptfooconfig.yaml").write_text(CONFIG)
    at = typed(page(), tmp_path / "promptfooconfig.yaml")
    assert not at.exception and not errors(at)
    assert [c.value for c in at.caption if c.value.startswith("The exact text")] == \
        ["The exact text a base model gets for the first test (test-ba83056a)"] * 2
    assert [c.value for c in at.code][-1] == "The capital of France is"
    at.number_input(key="ev_imp_limit").set_value(0).run()
    at.button(key="ev_run").click().run()
    assert not at.exception and not errors(at)
    matrix = frame(at, "prompt", "g", "s")
    assert matrix.to_dict("records") == [
        {"prompt": "qa", "g": "100.0% (n=3)", "s": "33.3% (n=3)"},
        {"prompt": "plain", "g": "100.0% (n=3)", "s": "0.0% (n=3)"}]
    on_models = frame(at, "model", "A", "B")  # the prompts compared on each model
    assert [(r["model"], r["A"], r["B"], r["A − B"], r["A right, B wrong"]) for r in on_models.to_dict("records")] \
        == [("g", "qa", "plain", "+0.0%", 0), ("s", "qa", "plain", "+33.3%", 1)]
    on_prompts = next(d.value for d in at.dataframe if list(d.value.columns[:3]) == ["prompt", "A", "B"])
    assert [(r["prompt"], r["A"], r["B"], r["A − B"], r["A right, B wrong"])
            for r in on_prompts.to_dict("records")] == [("qa", "g", "s", "+66.7%", 2), ("plain", "g", "s", "+100.0%", 3)]
    assert len(at.get("vega_lite_chart")) == 4  # accuracy, the matrix heat map, one forest plot per axis
    assert at.session_state["ev_tab"] == "Results"


def test_a_config_without_providers_runs_on_the_models_chosen(fakes, tmp_path):
    (tmp_path / "c.yaml").write_text(CONFIG.split("providers:")[0] + "tests:" + CONFIG.split("tests:")[1])
    at = typed(page(), tmp_path / "c.yaml")
    assert not errors(at)
    assert list(frame(at, "strategy", "answer")["strategy"]) == ["qa", "plain"]
    at.multiselect(key="ev_imp_models").set_value(["gemma-3-270m", "smollm2-135m-instruct"]).run()
    at.button(key="ev_run").click().run()
    assert not at.exception and not errors(at)
    assert list(frame(at, "95% CI")["strategy"]) == ["qa @ gemma-3-270m", "qa @ smollm2-135m-instruct",
                                                     "plain @ gemma-3-270m", "plain @ smollm2-135m-instruct"]
    assert list(frame(at, "prompt", "gemma-3-270m").columns) == ["prompt", "gemma-3-270m", "smollm2-135m-instruct"]


def test_an_upload_brings_the_files_its_config_names_and_survives_another_page(fakes):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    at.switch_page("views/5_Evaluate.py").run()
    promptfoo(at, "Upload")
    config = CONFIG.split("tests:")[0] + "tests: file://cities.csv\n"
    at.file_uploader(key="ev_imp_upload_promptfoo").set_value([
        ("promptfooconfig.yaml", config.encode(), "application/yaml"),
        ("cities.csv", b"country,city\nJapan,Tokyo\nItaly,Rome\n", "text/csv")]).run()
    assert not at.exception and not errors(at)
    assert list(frame(at, "vars")["vars"]) == ["country=Japan, city=Tokyo", "country=Italy, city=Rome"]
    at.switch_page("views/4_Decoding_Lab.py").run()
    at.switch_page("views/5_Evaluate.py").run()
    assert not at.exception and not errors(at)
    assert at.radio(key="ev_source").value == "promptfoo" and at.radio(key="ev_imp_how").value == "Upload"
    assert any(c.value == "Uploaded together: promptfooconfig.yaml, cities.csv" for c in at.caption)
    assert list(frame(at, "vars")["vars"]) == ["country=Japan, city=Tokyo", "country=Italy, city=Rome"]


def test_the_picked_file_and_its_settings_survive_another_page(fakes):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    at.switch_page("views/5_Evaluate.py").run()
    promptfoo(at).selectbox(key="ev_imp_pick_promptfoo").set_value(EXAMPLE).run()
    at.number_input(key="ev_imp_limit").set_value(3)
    at.toggle(key="ev_imp_cache").set_value(False).run()
    at.switch_page("views/1_Prompt_Builder.py").run()
    at.switch_page("views/5_Evaluate.py").run()
    assert not at.exception and not errors(at)
    assert at.radio(key="ev_source").value == "promptfoo"
    assert at.selectbox(key="ev_imp_pick_promptfoo").value == EXAMPLE
    assert at.number_input(key="ev_imp_limit").value == 3 and at.toggle(key="ev_imp_cache").value is False
    assert any(m.value.startswith("**promptfooconfig.yaml**") for m in at.markdown)


REFUSED = {
    "unknown provider": ("prompts: ['Hi {{name}}']\nproviders: [foo:bar]\ntests: [{vars: {name: a}}]\n",
                         "provider 'foo:bar' is not supported by the workbench"),
    "a file outside its folder": ("prompts: ['file://../secret.txt']\nproviders: [workbench:gemma-3-270m]\n"
                                  "tests: [{vars: {name: a}}]\n", "prompt file://../secret.txt is outside the "
                                                                  "config's folder"),
    "a template with an unknown filter": ("prompts: ['Hi {{ name | nosuchfilter }}']\n"
                                          "providers: [workbench:gemma-3-270m]\ntests: [{vars: {name: a}}]\n",
                                          "does not parse: No filter named 'nosuchfilter'"),
    "a variable no test gives": ("prompts: ['Hi {{ nobody }}']\nproviders: [workbench:gemma-3-270m]\n"
                                 "tests: [{vars: {name: a}}]\n", "'nobody' is undefined"),
    "a template reaching for a dunder": ("prompts: [\"{{ ''.__class__ }}\"]\nproviders: [workbench:gemma-3-270m]\n"
                                         "tests: [{vars: {name: a}}]\n", "unsafe"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_refused_file_is_one_red_line_and_nothing_runs(fakes, case):
    text, said = REFUSED[case]
    at = promptfoo(page(), "Upload")
    at.file_uploader(key="ev_imp_upload_promptfoo").set_value(("promptfooconfig.yaml", text.encode(),
                                                               "application/yaml")).run()
    assert not at.exception
    assert len(at.error) == 1, errors(at)
    assert said in at.error[0].value and "\n" not in at.error[0].value
    assert not any(b.key == "ev_run" for b in at.button)  # no plan: no Run button, a line saying what to do
    assert any(c.value == "Choose a promptfoo config on the Setup tab to run." for c in at.caption)


def test_an_upload_without_a_config_and_a_missing_path_are_one_line(fakes, tmp_path):
    at = promptfoo(page(), "Upload")
    at.file_uploader(key="ev_imp_upload_promptfoo").set_value(("cities.csv", b"a\n1\n", "text/csv")).run()
    assert errors(at) == ["None of the uploaded files (cities.csv) is YAML or JSON; upload the promptfoo config too."]
    at = typed(page(), tmp_path / "nowhere.yaml")
    assert errors(at) == [f"{tmp_path / 'nowhere.yaml'}: no such file."]


def test_a_shared_server_reads_only_uploads(fakes, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CLASSROOM", "1")
    at = page()
    at.radio(key="ev_source").set_value("promptfoo").run()
    assert at.radio(key="ev_imp_how").options == ["Upload"]
    assert any("never a path on it" in c.value for c in at.caption)


def test_the_page_own_source_is_unchanged_by_default(fakes):
    at = page()
    assert at.radio(key="ev_source").value == "own"
    assert at.selectbox(key="ev_data_sample").value == "sentiment"


def test_an_lm_eval_task_is_picked_and_runs_on_two_real_models_as_a_matrix():
    from workbench.interop.lmeval import load_plan

    task = "examples/lm-eval/sentiment.yaml"
    plan = load_plan(str(ROOT / task))
    at = page()
    at.radio(key="ev_source").set_value("lm-eval").run()
    at.selectbox(key="ev_imp_pick_lm-eval").set_value(task).run()
    assert not at.exception and not errors(at)
    metrics = [s.name for s in plan.strategies]
    headline = next(m.value for m in at.markdown if m.value.startswith("**sentiment.yaml**"))
    assert headline.startswith(f"**sentiment.yaml**: {len(metrics)} metrics × the models chosen below")
    at.multiselect(key="ev_imp_models").set_value(["gemma-3-270m", "smollm2-135m-instruct"])
    at.number_input(key="ev_imp_limit").set_value(2).run()
    at.button(key="ev_run").click().run()
    assert not at.exception and not errors(at)
    assert list(frame(at, "95% CI")["strategy"]) == [f"{m} @ {model}" for m in metrics
                                                     for model in ("gemma-3-270m", "smollm2-135m-instruct")]
    matrix = frame(at, "prompt", "gemma-3-270m", "smollm2-135m-instruct")
    assert list(matrix["prompt"]) == metrics
    assert all(re.fullmatch(r"\d+\.\d% \(n=2\)", cell) for cell in matrix[["gemma-3-270m", "smollm2-135m-instruct"]]
               .to_numpy().ravel())


def test_a_number_of_tests_out_of_range_is_one_line_and_run_waits(fakes, tmp_path):
    (tmp_path / "promptfooconfig.yaml").write_text(CONFIG)
    at = typed(page(), tmp_path / "promptfooconfig.yaml")
    at.number_input(key="ev_imp_limit").set_value(1e3).run()
    assert errors(at) == ["Tests (0 = all) must be between 0 and 3 (got 1000)."]
    assert at.button(key="ev_run").disabled
    at.number_input(key="ev_imp_limit").set_value(2).run()
    assert not errors(at) and not at.button(key="ev_run").disabled


def test_a_shared_server_refuses_a_provider_it_does_not_allow_in_one_line(fakes, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CLASSROOM", "1")
    monkeypatch.setenv("WORKBENCH_ALLOWED_MODELS", "gemma-3-270m")
    at = promptfoo(page(), "Upload")
    at.file_uploader(key="ev_imp_upload_promptfoo").set_value(("promptfooconfig.yaml", CONFIG.encode(),
                                                               "application/yaml")).run()
    assert not at.exception
    assert errors(at) == ["This server loads only the models it allows; pick one of: gemma-3-270m (the teacher sets "
                          "them with WORKBENCH_ALLOWED_MODELS)."]
