"""AppTest of the shots-curve view (ui/shots.py) over the fake backend: the curve run from its button, read back
from the store (chart, points, paired steps, the K the window left out) and a bad K list as one red line."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def shots_page():
    from tests.fakes import FakeBackend
    from ui.common import user_errors
    from ui.evaluate import Plan
    from ui.shots import shots_section
    from workbench.data import Example, Pool
    from workbench.evaluate.formats import default_spec
    from workbench.evaluate.strategies import make_strategy

    gold = ("positive", "negative", "positive", "positive", "negative", "positive", "negative", "positive", "positive",
            "negative")
    data = Pool("toy", tuple(Example(f"r{i}", f"review number {i} here", g) for i, g in enumerate(gold)))
    spec = default_spec(data, data)

    def reply(prompt, seed):  # positive once the prompt holds two demonstrations or more
        return " positive" if prompt.count("Q: ") - 1 >= 2 else " negative"

    plan = Plan(data, data, (make_strategy("knn4", spec, data),), None, 4, 0)
    with user_errors("Shots curve"):
        shots_section(plan, FakeBackend(reply=reply, context_window=80))


def test_the_curve_runs_and_shows_points_steps_and_the_dropped_k():
    at = AppTest.from_function(shots_page, default_timeout=300).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="ev_shots_selector").options[:2] == ["random", "nearest"]
    at.selectbox(key="ev_shots_selector").set_value("knn")
    at.text_input(key="ev_shots_ks").input("0,1,2,4,8")
    at.button(key="ev_shots_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    points, steps = at.dataframe[0].value, at.dataframe[1].value
    assert list(points["k"]) == [0, 1, 2, 4] and list(points["correct"]) == [4, 4, 6, 6]
    assert list(steps["gain (points)"]) == [0.0, 20.0, 0.0] and list(steps["McNemar p"]) == [1.0, 0.7539, 1.0]
    assert [w.value for w in at.warning] == [
        "Left out K=8: 8 demonstrations of the pool's median length and the longest item take 62 tokens, + 32 for "
        "the answer, over the model's 80-token window."]
    assert "cannot say what happens past 5-6 shots" in at.markdown[-1].value


def test_the_chart_is_a_line_over_its_band_on_a_sqrt_k_axis():
    from ui.shots import curve_chart
    from workbench.evaluate.shots import curve_from_records

    rows = [{"strategy": f"knn K={k}", "item_index": i, "correct": ok} for k, oks in ((0, (0, 1)), (4, (1, 1)))
            for i, ok in enumerate(oks)]
    spec = curve_chart(curve_from_records(rows, {"knn K=0": 0, "knn K=4": 4}, "knn")).to_dict()
    marks = [layer["mark"]["type"] for layer in spec["layer"]]
    assert marks == ["area", "line"] and spec["layer"][1]["mark"]["point"] is True
    x = spec["layer"][1]["encoding"]["x"]
    assert x["scale"] == {"type": "sqrt"} and x["axis"]["values"] == [0, 4]
    assert [r["accuracy"] for r in next(iter(spec["datasets"].values()))] == [0.5, 1.0]


def test_a_bad_k_list_is_one_red_line():
    at = AppTest.from_function(shots_page, default_timeout=120).run()
    at.text_input(key="ev_shots_ks").input("4,2").run()
    assert not at.exception
    assert [e.value for e in at.error] == ["K values must rise (4 then 2); give them in order, e.g. 0,1,2,4,8."]


def test_the_evaluate_page_runs_the_curve_on_its_own_data_and_model():
    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "views/5_Evaluate.py"), default_timeout=300).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.number_input(key="ev_limit").set_value(2).run()  # the sentiment sample, label scoring, on gemma-3-270m
    at.selectbox(key="ev_shots_selector").set_value("knn")
    at.text_input(key="ev_shots_ks").input("0,2")
    at.button(key="ev_shots_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    points = next(d.value for d in at.dataframe if "fewer_demos" in d.value.columns)
    assert list(points["k"]) == [0, 2] and list(points["n"]) == [2, 2]
    assert any(c.value.startswith("Stored as run ") for c in at.caption)
