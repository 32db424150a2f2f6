"""AppTest of the Evaluate page's judging (issue 26): assertion rows added, removed and checked as typed, the pass
threshold, repeats (greedy refused in one line), prompt files with their own ``assert:`` list, per-item checks
and per-assertion pass rates after a run, and grades given by hand stored with the run.

The page's model is the fake backend (tests/fakes.py): these tests are about what the page does around the
model, so its outputs are scripted and every figure below is exact.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.fakes import FakeBackend

#: Three questions whose gold answers are capitals; the fake model's replies are scripted below.
CAPITALS_CSV = (b"question,answer\n"
                b"Capital of France?,Paris\n"
                b"Capital of Italy?,Rome\n"
                b"Capital of Spain?,Madrid\n")


def capital_reply(prompt: str, seed: int | None) -> str:
    """France: Paris (at seed 1, when sampled: Lyon); Italy: London; Spain: Madrid."""
    query = prompt.rsplit("Capital of", 1)[-1]
    if "France" in query:
        return " Lyon." if seed == 1 else " Paris."
    return " London." if "Italy" in query else " Madrid, of course."


@pytest.fixture
def fake(monkeypatch) -> FakeBackend:
    """The model every page's sidebar loads, and the judge the page loads: the fake."""
    import ui.common

    model = FakeBackend(reply=capital_reply)
    monkeypatch.setattr(ui.common, "cached_backend", lambda model_name, backend: model)
    return model


def page() -> AppTest:
    return AppTest.from_file(str(ROOT / "views/5_Evaluate.py"), default_timeout=120).run()


def capitals(at: AppTest) -> AppTest:
    """The capitals CSV uploaded, one strategy (zero-shot), every item."""
    at.radio(key="ev_data_src").set_value("Upload").run()
    at.file_uploader(key="ev_data_upload").upload("capitals.csv", CAPITALS_CSV, "text/csv")
    at.run()
    at.multiselect(key="ev_strategies").set_value(["zero"])
    at.number_input(key="ev_limit").set_value(0)
    return at.run()


def add_row(at: AppTest, type_: str, value: str = "", weight: float | None = None) -> int:
    """Add an assertion row and fill it in; its id (the part of its widget keys)."""
    before = {s.key for s in at.selectbox if s.key.startswith("ev_as")}
    at.button(key="ev_as_add").click().run()
    (key,) = {s.key for s in at.selectbox if s.key.startswith("ev_as")} - before
    row = int(key.removeprefix("ev_as").removesuffix("_type"))
    at.selectbox(key=key).set_value(type_)
    at.text_input(key=f"ev_as{row}_value").set_value(value)
    if weight is not None:
        at.number_input(key=f"ev_as{row}_weight").set_value(weight)
    at.run()
    return row


def rows(at: AppTest) -> list[tuple[str, str]]:
    """The assertion rows on the page, as (type, value), in order."""
    types = [s for s in at.selectbox if s.key.startswith("ev_as")]
    return [(s.value, at.text_input(key=s.key.replace("_type", "_value")).value) for s in types]


def frame(at: AppTest, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_rows_are_added_and_removed_and_each_keeps_its_values(fake):
    at = page()
    assert not at.exception and not at.error
    assert rows(at) == []
    first = add_row(at, "icontains", "paris")
    second = add_row(at, "not-contains", "London")
    add_row(at, "equals", "Madrid")
    assert not at.error
    assert rows(at) == [("icontains", "paris"), ("not-contains", "London"), ("equals", "Madrid")]
    at.button(key=f"ev_as{first}_remove").click().run()
    assert rows(at) == [("not-contains", "London"), ("equals", "Madrid")]  # the others keep their values
    at.button(key=f"ev_as{second}_remove").click().run()
    assert rows(at) == [("equals", "Madrid")]
    # The picker offers every assertion type the registry has, each with its negation.
    from workbench.judging.registry import names

    options = at.selectbox(key=next(s.key for s in at.selectbox if s.key.startswith("ev_as"))).options
    assert [o for o in options if not o.startswith("not-")] == names(assertions_only=True)
    assert "not-icontains" in options


def test_a_row_without_its_value_is_one_line_and_run_waits(fake):
    at = capitals(page())
    row = add_row(at, "contains")
    assert [e.value for e in at.error] == ["Assertion 1: assertion 'contains' needs a value."]
    assert at.button(key="ev_run").disabled
    at.text_input(key=f"ev_as{row}_value").set_value("Paris").run()
    assert not at.error and not at.button(key="ev_run").disabled


def test_a_bad_regex_is_one_line_before_any_model_call(fake):
    from workbench.judging.registry import JUDGES, names

    names()
    if "regex" not in JUDGES:
        pytest.skip("the regex assertion has not landed")
    at = capitals(page())
    row = add_row(at, "regex", "([A-Z]")
    assert len(at.error) == 1
    line = at.error[0].value
    assert line.startswith("Assertion 1: assertion 'regex': ") and "\n" not in line
    assert at.button(key="ev_run").disabled
    at.text_input(key=f"ev_as{row}_value").set_value("^ [A-Z]").run()
    assert not at.error and not at.button(key="ev_run").disabled
    assert fake.prompts == []  # nothing was asked of the model


def test_a_threshold_out_of_range_is_one_line(fake):
    at = capitals(page())
    at.number_input(key="ev_pass_threshold").set_value(1.5).run()
    assert [e.value for e in at.error] == ["the pass threshold must be a number from 0 to 1, not 1.5."]
    assert at.button(key="ev_run").disabled


def test_a_run_shows_each_items_checks_and_each_assertions_pass_rate(fake):
    at = capitals(page())
    add_row(at, "icontains", "paris")
    add_row(at, "not-contains", "London", weight=3)
    at.button(key="ev_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    checks = frame(at, "reason")
    assert checks[["item", "check", "value", "passed", "score"]].to_dict("records") == [
        {"item": 0, "check": "icontains", "value": "paris", "passed": True, "score": 1.0},
        {"item": 0, "check": "not-contains", "value": "London", "passed": True, "score": 1.0},
        {"item": 1, "check": "icontains", "value": "paris", "passed": False, "score": 0.0},
        {"item": 1, "check": "not-contains", "value": "London", "passed": False, "score": 0.0},
        {"item": 2, "check": "icontains", "value": "paris", "passed": False, "score": 0.0},
        {"item": 2, "check": "not-contains", "value": "London", "passed": True, "score": 1.0},
    ]
    assert list(checks["reason"])[:2] == ["contains 'paris'", "not: does not contain 'London'"]
    rates = frame(at, "pass rate")
    assert rates[["assertion", "passed", "pass rate", "mean score"]].to_dict("records") == [
        {"assertion": "icontains", "passed": "1/3", "pass rate": "33%", "mean score": round(1 / 3, 3)},
        {"assertion": "not-contains", "passed": "2/3", "pass rate": "67%", "mean score": round(2 / 3, 3)},
    ]
    items = frame(at, "checks passed")
    # Weighted scores: 1, 0, and 3/4 for Spain (only the weight-3 check passes); every check must pass.
    assert list(items["score"]) == [1.0, 0.0, 0.75] and list(items["correct"]) == [True, False, False]
    assert list(items["checks passed"]) == ["2/2", "0/2", "1/2"]
    summary = frame(at, "95% CI")
    assert summary["accuracy"].iloc[0] == "33.3%" and summary["mean score"].iloc[0] == round(1.75 / 3, 3)
    assert "Mean weighted score: zero 0.583" in [c.value for c in at.caption]

    # With a pass threshold of 0.7 Spain's 0.75 passes too (promptfoo's rule).
    at.number_input(key="ev_pass_threshold").set_value(0.7).run()
    at.button(key="ev_run").click().run()
    assert not at.exception and not at.error
    assert list(frame(at, "checks passed")["correct"]) == [True, False, True]


def test_repeats_refuse_greedy_in_one_line_and_show_flaky_items(fake):
    at = capitals(page())
    add_row(at, "icontains", "paris")
    at.number_input(key="ev_repeat").set_value(2).run()
    at.number_input(key="ev_repeat_temp").set_value(0).run()
    assert [e.value for e in at.error] == [
        "zero: repeating greedy decoding gives the same output every time; sample (a temperature above 0) to "
        "repeat, or repeat once."]
    assert at.button(key="ev_run").disabled
    at.number_input(key="ev_repeat_temp").set_value(0.7).run()
    assert not at.error
    at.button(key="ev_run").click().run()
    assert not at.exception and not at.error
    checks = frame(at, "reason")
    assert list(checks["repeat"]) == [0, 1, 0, 1, 0, 1]
    assert list(checks["passed"]) == [True, False, False, False, False, False]  # France: Paris, then Lyon
    summary = frame(at, "95% CI")
    assert summary[["n", "pass@2", "pass^2", "flaky"]].to_dict("records") == [
        {"n": 6, "pass@2": "33.3%", "pass^2": "0.0%", "flaky": 1}]
    assert ("**zero**: 2 runs of each item · pass@2 33% · pass^2 0% · flaky items (passed in some runs only): "
            "row-1 1/2") in [m.value for m in at.markdown]


SPEC_YAML = b"""name: capitals
spec:
  instruction: Answer with the capital city.
assert:
  - type: icontains
    value: madrid
"""


def test_a_prompt_files_assertions_judge_its_strategies_after_the_rows(fake):
    at = capitals(page())
    add_row(at, "not-contains", "London")
    at.file_uploader(key="ev_prompt_files").upload("capitals.yaml", SPEC_YAML, "application/yaml")
    at.run()
    assert not at.exception and not at.error
    assert at.multiselect(key="ev_variants").value == ["inferred", "capitals"]
    assert at.multiselect(key="ev_variants").format_func("capitals") == "capitals: prompt file, 1 assertion"
    at.button(key="ev_run").click().run()
    assert not at.exception and not at.error
    checks = frame(at, "reason")
    mine = checks[checks["strategy"] == "capitals/zero"]
    assert list(zip(mine["item"], mine["check"], mine["passed"], strict=True)) == [
        (0, "not-contains", True), (0, "icontains", False), (1, "not-contains", False), (1, "icontains", False),
        (2, "not-contains", True), (2, "icontains", True)]
    inferred = checks[checks["strategy"] == "inferred/zero"]
    assert list(inferred["check"]) == ["not-contains"] * 3  # the file's assertions judge its own prompt only
    # The two prompts' scores compared item by item: inferred 1, 0, 1 against capitals 0.5, 0, 1.
    pairs = frame(at, "Wilcoxon p")
    assert pairs[["A", "B", "items", "mean A", "mean B", "A − B", "A higher", "B higher"]].to_dict("records") == [
        {"A": "inferred/zero", "B": "capitals/zero", "items": 3, "mean A": 0.667, "mean B": 0.5, "A − B": "+0.167",
         "A higher": 1, "B higher": 0}]
    assert "Holm-adjusted p" not in pairs.columns  # one pair: nothing to adjust


def test_a_bad_prompt_file_is_one_line_naming_it(fake):
    at = capitals(page())
    at.file_uploader(key="ev_prompt_files").upload("bad.yaml", SPEC_YAML.replace(b"icontains", b"python"),
                                                   "application/yaml")
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and at.error[0].value.startswith("bad.yaml assertion 1: Assertion type 'python' runs "
                                                               "code from the file")


def test_grades_given_by_hand_are_stored_with_the_run(fake):
    from ui.common import app_store

    at = capitals(page())
    add_row(at, "icontains", "paris")
    at.button(key="ev_run").click().run()
    run_id = at.session_state["ev_run_id"]
    grades = frame(at, "your grade")
    assert list(grades["judge"]) == ["pass", "fail", "fail"] and list(grades["your grade"]) == ["", "", ""]
    at.session_state[f"ev_grades_{run_id}"] = {"edited_rows": {0: {"your grade": "pass"}, 1: {"your grade": "fail"},
                                                               2: {"your grade": "pass"}},
                                               "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception and not at.error
    assert app_store().grades(run_id) == {("zero", 0): True, ("zero", 1): False, ("zero", 2): True}
    # judge pass/fail/fail against pass/fail/pass: 2 of 3 agree; κ = (2/3 - 4/9) / (1 - 4/9) = 0.4
    line = next(c.value for c in at.caption if "agrees" in c.value)
    assert line.startswith("zero: the judge agrees with the human grades on 66.7% of 3 outputs (Cohen's κ = 0.40, "
                           "95% bootstrap CI "), line
    # Taken back: the grade is gone from the store too.
    at.session_state[f"ev_grades_{run_id}"] = {"edited_rows": {0: {"your grade": "pass"}}, "added_rows": [],
                                               "deleted_rows": []}
    at.run()
    assert app_store().grades(run_id) == {("zero", 0): True}


def test_the_rows_and_the_judging_settings_survive_another_page(fake):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("views/5_Evaluate.py").run()
    add_row(at, "icontains", "paris")
    add_row(at, "not-contains", "London", weight=2)
    at.number_input(key="ev_pass_threshold").set_value(0.5)
    at.number_input(key="ev_repeat").set_value(3).run()
    at.switch_page("views/4_Decoding_Lab.py").run()
    at.switch_page("views/5_Evaluate.py").run()
    assert not at.exception
    assert rows(at) == [("icontains", "paris"), ("not-contains", "London")]
    weights = [n.value for n in at.number_input if n.key.startswith("ev_as") and n.key.endswith("_weight")]
    assert weights == [1.0, 2.0]
    assert at.number_input(key="ev_pass_threshold").value == 0.5
    assert at.number_input(key="ev_repeat").value == 3


GSM8K_JSONL = (b'{"question": "Tom has 3 apples and buys 2 more. How many now?", "answer": "3 + 2 = 5\\n#### 5"}\n'
               b'{"question": "A box holds 4 pens. How many pens in 3 boxes?", "answer": "4 * 3 = 12\\n#### 12"}\n')


def test_the_page_says_how_a_published_shape_is_read(fake):
    at = page()
    at.radio(key="ev_data_src").set_value("Upload").run()
    at.file_uploader(key="ev_data_upload").upload("gsm8k.jsonl", GSM8K_JSONL, "application/jsonl")
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    from workbench.data.shapes import SHAPES

    lines = [c.value for c in at.caption if SHAPES["gsm8k"].gold in c.value]
    assert len(lines) == 1 and "gsm8k" in lines[0] and "2 rationales found" in lines[0], lines  # said once
    assert not at.warning


def test_worked_solutions_as_gold_answers_get_one_warning(fake):
    solved = (b"question,answer\n"
              b"Tom has 3 apples and buys 2 more. How many now?,\"He starts with 3 apples.\nHe buys 2 more: "
              b"3 + 2 = 5.\nThe answer is 5.\"\n"
              b"A box holds 4 pens. How many pens in 3 boxes?,\"Each box holds 4 pens.\nThere are 3 boxes: "
              b"4 * 3 = 12.\nThe answer is 12.\"\n")
    at = page()
    at.radio(key="ev_data_src").set_value("Upload").run()
    at.file_uploader(key="ev_data_upload").upload("solved.csv", solved, "text/csv")
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(at.warning) == 1 and at.warning[0].value.startswith("The gold answers look like worked solutions (2 "
                                                                   "of 2 span several lines or over")


# --------------------------------------------------------------------------- model-graded checks


def judge_reply(prompt: str, seed: int | None) -> str:
    """The fake as a judge: a rubric prompt's verdict on whether the judged output names Paris; else a capital."""
    if "<Rubric>" in prompt:
        judged = prompt.rsplit("<Output>", 1)[-1].split("</Output>", 1)[0]
        ok = "Paris" in judged
        return f' {{"reason": "{"names" if ok else "does not name"} Paris", "pass": {str(ok).lower()}, "score": ' \
               f'{float(ok)}}}'
    return capital_reply(prompt, seed)


def test_a_rubric_row_offers_the_judge_the_caveat_and_the_exact_prompt_and_a_run_shows_the_reply(monkeypatch):
    import ui.common
    from ui.assertions import JUDGE_CAVEAT
    from workbench.judging.judge_prompts import DEFAULTS

    model = FakeBackend(reply=judge_reply)
    loaded: list[str] = []

    def cached(name: str, backend: str) -> FakeBackend:
        loaded.append(name)
        return model

    monkeypatch.setattr(ui.common, "cached_backend", cached)
    at = capitals(page())
    assert not [s for s in at.selectbox if s.key == "ev_judge"]  # no model-graded check: no judge to pick
    row = add_row(at, "llm-rubric", "names the capital of France")
    assert not at.exception and not at.error
    assert at.selectbox(key="ev_judge").value == "smollm2-135m-instruct"  # the local instruct model, as the CLI's
    assert JUDGE_CAVEAT in [c.value for c in at.caption]
    boxes = [a for a in at.text_area if a.key.startswith(f"ev_as{row}_llm-rubric_m")]
    assert [(b.label, b.value) for b in boxes] == [(f"Message {i}: {role}", body) for i, (role, body)
                                                    in enumerate(DEFAULTS["llm-rubric"].messages, start=1)]

    # An edited prompt that never shows the judge the output is one line; Back to the default mends it.
    (shows_output,) = [b for b in boxes if "{output}" in b.value]
    shows_output.set_value("Is this polite? {rubric}").run()
    assert [e.value for e in at.error] == [
        "Assertion 1: assertion 'llm-rubric': rubricPrompt never shows the judge the output; put {output} in it."]
    assert at.button(key="ev_run").disabled
    at.button(key=f"ev_as{row}_prompt_reset").click().run()
    assert not at.error

    # The judge is loaded only when a check first asks it: at Run, not while the page is set up.
    assert "smollm2-135m-instruct" not in loaded
    at.button(key="ev_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "smollm2-135m-instruct" in loaded
    checks = frame(at, "reason")
    assert list(zip(checks["passed"], checks["reason"], strict=True)) == [
        (True, "names Paris"), (False, "does not name Paris"), (False, "does not name Paris")]
    assert [e.label for e in at.expander if e.label.startswith("zero · item")] == [
        "zero · item row-1 · llm-rubric: pass", "zero · item row-2 · llm-rubric: fail",
        "zero · item row-3 · llm-rubric: fail"]
    assert ' {"reason": "names Paris", "pass": true, "score": 1.0}'.strip() in [c.value.strip() for c in at.code]


# --------------------------------------------------------------------------- the store's side


def test_grades_go_with_their_run_and_bad_keys_are_one_line(tmp_path):
    from workbench.errors import DataError
    from workbench.store import open_store

    store = open_store(tmp_path / "w.db")
    run = store.create_run({"model": "m"})
    store.set_grades(run, {("zero", 0): True, ("zero", 1): False})
    assert store.grades(run) == {("zero", 0): True, ("zero", 1): False}
    with pytest.raises(DataError, match=r"^A grade is keyed by \(strategy, item index\), not 'zero'\.$"):
        store.set_grades(run, {"zero": True})
    with pytest.raises(DataError, match=r"^A grade is pass \(True\), fail \(False\) or none, not 'yes'\.$"):
        store.set_grades(run, {("zero", 0): "yes"})
    with pytest.raises(DataError, match="There is no run 99"):
        store.set_grades(99, {("zero", 0): True})
    store.delete_run(run)
    assert store._query("SELECT COUNT(*) FROM grades") == [(0,)]  # the deleted run's grades went with it


def test_item_ids_from_a_file_cannot_load_images_in_the_judge_replies(monkeypatch):
    """An id such as ``![x](http://…)`` is shown as text in the judge replies' titles, never as an image."""
    import ui.common

    judge = FakeBackend(reply=lambda prompt, seed: ' {"pass": true, "score": 1, "reason": "fine"}')
    monkeypatch.setattr(ui.common, "cached_backend", lambda model_name, backend: judge)
    hostile = b'id,question,answer\n"![x](http://attacker.example/b.png)",Capital of France?,Paris\n'
    at = page()
    at.radio(key="ev_data_src").set_value("Upload").run()
    at.file_uploader(key="ev_data_upload").upload("hostile.csv", hostile, "text/csv")
    at.run()
    at.multiselect(key="ev_strategies").set_value(["zero"])
    at.run()
    add_row(at, "llm-rubric", "names a city")
    at.button(key="ev_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    titles = [e.label for e in at.expander if "item" in e.label and "llm-rubric" in e.label]
    assert titles == ["zero · item !\\[x](http://attacker.example/b.png) · llm-rubric: pass"]
