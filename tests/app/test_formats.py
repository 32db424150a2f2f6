"""AppTest of the format-spread view (ui/formats.py) over the fake backend whose label scores depend on the
format: the spread run from its button and read back from the store (table, best and worst prompts, the test and
its hindsight caveat)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def formats_page():
    from tests.test_format_spread import SPEC, FormatScorer, toy
    from ui.common import user_errors
    from ui.evaluate import Plan
    from ui.formats import formats_section
    from workbench.evaluate.strategies import make_strategy

    data = toy()
    plan = Plan(data, data, (make_strategy("zero", SPEC, data, answer="score"),), None, 0, 0)
    with user_errors("Format spread"):
        formats_section(plan, FormatScorer())


def test_the_spread_runs_and_shows_best_worst_and_the_caveat():
    at = AppTest.from_function(formats_page, default_timeout=300).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.number_input(key="ev_formats_n").set_value(4)
    at.button(key="ev_formats_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    assert list(table["format"]) == ["F0 as written", "F1 sep ' = '; input 'Q'; fields ' '; examples '\\n\\n\\n'",
                                     "F2 sep ' - '; lower; input 'Q'; answer 'Output'",
                                     "F3 sep ':\\n'; UPPER; answer 'Label'; fields ' '"]
    assert list(table["accuracy"]) == [1.0, 0.6667, 0.3333, 0.0] and list(table[""]) == ["best", "", "", "worst"]
    assert [c.value for c in at.code] == ["Classify.\n\nReview: review 0 good\nSentiment:",
                                          "Classify.\n\nREVIEW:\nreview 0 good LABEL:"]
    assert "The prompt ends with '\\n'." in [c.value for c in at.caption]
    assert any(m.value.startswith("**Spread 100.0 points** over 4 formats (0.0% to 100.0%); best − worst on the "
                                  "same 6 items: McNemar p = 0.0312.") for m in at.markdown)
    assert at.warning[0].value.startswith("The best and worst are picked after seeing the results")
    assert any(c.value.startswith("Stored as run ") for c in at.caption)


def test_no_usable_strategy_is_said():
    def page():
        from tests.test_format_spread import SPEC, FormatScorer, toy
        from ui.evaluate import Plan
        from ui.formats import formats_section
        from workbench.evaluate.strategies import make_strategy

        data = toy()
        plan = Plan(data, data, (make_strategy("zscot", SPEC, data),), None, 0, 0)
        formats_section(plan, FormatScorer())

    at = AppTest.from_function(page, default_timeout=120).run()
    assert not at.exception
    assert at.info[0].value.startswith("The format spread needs a strategy without chain-of-thought")


def test_the_evaluate_page_runs_the_spread_on_its_own_data_and_model():
    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "views/5_Evaluate.py"), default_timeout=300).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.number_input(key="ev_limit").set_value(2).run()  # the sentiment sample, label scoring, on gemma-3-270m
    at.number_input(key="ev_formats_n").set_value(2)
    at.button(key="ev_formats_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    table = next(d.value for d in at.dataframe if "format" in d.value.columns)
    assert table["format"].iloc[0] == "F0 as written" and list(table["n"]) == [2, 2]
    assert any(c.value.startswith("Stored as run ") for c in at.caption)
