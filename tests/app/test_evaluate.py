"""AppTest of the Evaluate page: sentiment sample, two strategies, a run on a few items, with the real models."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

ITEMS = 6


def page() -> AppTest:
    return AppTest.from_file(str(ROOT / "pages/5_Evaluate.py"), default_timeout=300).run()


def frame(at: AppTest, column: str):
    """The first dataframe on the page with this column."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_run_two_strategies_shows_chart_and_table():
    at = page()
    assert not at.exception and not at.error
    assert at.selectbox(key="ev_data_sample").value == "sentiment"
    at.multiselect(key="ev_strategies").set_value(["zero", "knn"])
    at.number_input(key="ev_k").set_value(2)
    at.number_input(key="ev_limit").set_value(ITEMS).run()
    assert at.radio(key="ev_answer").value == "score"  # a labelled dataset defaults to label scoring
    at.button(key="ev_run").click().run()
    assert not at.exception and not at.error
    assert len(at.get("vega_lite_chart")) == 1
    summary = frame(at, "95% CI")
    assert list(summary["strategy"]) == ["zero", "knn2"] and list(summary["n"]) == [ITEMS, ITEMS]
    items = frame(at, "prompt")
    assert len(items) == 2 * ITEMS
    assert set(items["extracted"]) <= {"positive", "negative"}  # label scoring: never off-label
    assert list(items.columns[:8]) == ["strategy", "item", "input", "prompt", "output", "extracted", "gold",
                                       "correct"]
    side = frame(at, "knn2 ✓")
    assert len(side) == ITEMS

    # Only disagreements: a subset of the items, both strategies' rows for each.
    at.toggle(key="ev_only_disagree").set_value(True).run()
    assert not at.exception
    shown = frame(at, "prompt")
    assert len(shown) <= 2 * ITEMS and len(shown) % 2 == 0
    assert all(len(set(group["extracted"])) == 2 for _, group in shown.groupby("item"))

    # The run is in the history with its export buttons.
    history = frame(at, "results")
    assert history["results"].iloc[0] == 2 * ITEMS and history["status"].iloc[0] == "finished"
    assert {b.proto.label for b in at.get("download_button")} == {"CSV", "JSON"}

    # Order sensitivity: the same K=2 demonstrations in P=2 orders, mean ± std, min, max.
    at.number_input(key="ev_os_perms").set_value(2)
    at.button(key="ev_os_run").click().run()
    assert not at.exception and not at.error
    labels = [m.label for m in at.metric]
    assert labels == ["mean ± std", "min", "max", "orders × items"]
    assert at.metric[3].value == f"2 × {ITEMS}"
    assert len(at.get("vega_lite_chart")) == 2


def test_bad_strategy_name_is_one_line_and_unlabelled_data_generates():
    at = page()
    at.text_input(key="ev_more").set_value("knn2+fancy").run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Unknown modifier 'fancy' in 'knn2+fancy'; use scN, score, gen, cal, norm, norm_token (or fallback after autocot)."]
    at.text_input(key="ev_more").set_value("")
    at.selectbox(key="ev_data_sample").set_value("arithmetic").run()
    assert not at.exception and not at.error
    assert at.radio(key="ev_answer").options == ["Generate + extract the answer"]  # no label set to score
    assert not [t for t in at.toggle if t.key == "ev_cal"]
