"""AppTest of the data picker's "Dataset shape" select (issue 26 item 5: the shape is detected from the data, shown
to the user, overridable): a small GSM8K-style JSONL upload read as detected (gold = the number after ####), as
written (None: the whole solution is the gold) and forced as AQuA (one red line); the choice outlives a page that
does not draw the picker.
"""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from workbench.data.shapes import SHAPES

GSM8K_JSONL = (b'{"question": "Tom has 3 apples and buys 2 more. How many now?", "answer": "3 + 2 = <<3+2=5>>5\\n#### 5"}\n'
               b'{"question": "A box holds 4 pens. How many pens in 3 boxes?", "answer": "4 * 3 = 12\\n#### 1,2"}\n')


def picker_page() -> None:
    """A page with the shared picker (or, with "away" set, without it, as another page would be)."""
    import streamlit as st

    from ui.datapick import data_picker

    if st.session_state.get("away"):
        st.write("another page")
    else:
        pool = data_picker("t", "Dataset")
        if pool is not None:
            st.json({"gold": [ex.answer for ex in pool.examples], "shape": pool.shape}, expanded=True)


def uploaded() -> AppTest:
    at = AppTest.from_function(picker_page, default_timeout=60).run()
    at.radio(key="t_src").set_value("Upload").run()
    at.file_uploader(key="t_upload").upload("tiny.jsonl", GSM8K_JSONL, "application/jsonl")
    return at.run()


def read(at: AppTest) -> dict:
    """What the picker handed the page: each example's gold answer and the pool's shape."""
    assert not at.exception and not at.error, [e.value for e in at.error]
    return json.loads(at.json[0].value)


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def test_auto_detects_gsm8k_and_reads_the_gold_as_numbers():
    at = uploaded()
    select = at.selectbox(key="t_shape")
    assert select.value == "auto"
    assert select.options == ["Detect (auto)", *SHAPES, "None: read the columns as written"]
    assert read(at) == {"gold": ["5", "12"], "shape": "gsm8k"}
    assert f"detected: gsm8k — gold = {SHAPES['gsm8k'].gold}; 2 rationales found" in captions(at)
    assert "GSM8K: question, answer = a worked solution ending '#### 18'" in select.help
    assert [s.key for s in at.selectbox] == ["t_shape"]  # the shape reads the question and the gold: no column pickers


def test_none_keeps_the_solution_as_the_gold():
    at = uploaded()
    at.selectbox(key="t_shape").set_value("none").run()
    assert read(at) == {"gold": ["3 + 2 = <<3+2=5>>5\n#### 5", "4 * 3 = 12\n#### 1,2"], "shape": None}
    assert at.selectbox(key="t_answer").value == "answer"  # the columns are picked as written
    assert "no shape — gold as written in the answer column; 0 rationales found" in captions(at)


def test_forcing_a_shape_that_does_not_fit_is_one_red_line():
    at = uploaded()
    at.selectbox(key="t_shape").set_value("aqua").run()
    assert not at.exception and not at.json
    assert [e.value for e in at.error] == [
        "tiny.jsonl has no column 'options' for the aqua shape; available columns: question, answer"]


def test_the_shape_chosen_survives_a_page_without_the_picker():
    at = uploaded()
    at.selectbox(key="t_shape").set_value("none").run()
    at.session_state["away"] = True
    at.run()
    assert "t_shape" not in [s.key for s in at.selectbox]
    at.session_state["away"] = False
    at.run()
    at.file_uploader(key="t_upload").upload("tiny.jsonl", GSM8K_JSONL, "application/jsonl")
    at.run()
    assert at.selectbox(key="t_shape").value == "none"
    assert read(at)["shape"] is None
