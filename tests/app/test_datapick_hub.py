"""AppTest of the data picker's "Hugging Face dataset" source: an id typed in the box, its splits offered from the
server's cache (read offline), ClassLabel values shown and mapped as names, the same column pickers as an upload,
and each refusal (not cached, a folder on the server, a bad id) one red line."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from tests.hf_caches import add_glue, cut_network, use_hf_home


@pytest.fixture
def glue(tmp_path, monkeypatch):
    cut_network(monkeypatch)
    return add_glue(use_hf_home(tmp_path, monkeypatch))


def picker_page() -> None:
    import streamlit as st

    from ui.datapick import data_picker

    pool = data_picker("t", "Dataset")
    if pool is not None:
        st.json({"name": pool.name, "examples": [[ex.input, ex.answer] for ex in pool.examples]}, expanded=True)


def typed(text: str) -> AppTest:
    at = AppTest.from_function(picker_page, default_timeout=60).run()
    at.radio(key="t_src").set_value("Hugging Face dataset").run()
    at.text_input(key="t_hf_id").input(text).run()
    return at


def test_an_id_offers_its_splits_and_reads_label_names(glue):
    at = typed("glue:sst2")
    assert not at.exception and not at.error, [e.value for e in at.error]
    split = at.selectbox(key="t_hf_split")
    assert split.options == ["train", "validation", "test"] and split.value == "train"
    assert at.selectbox(key="t_input").value == "sentence" and at.selectbox(key="t_answer").value == "label"
    assert "hf:glue:sst2:train: 3 rows · columns idx, sentence, label" in [c.value for c in at.caption]
    split.set_value("validation").run()
    assert json.loads(at.json[0].value) == {"name": "hf:glue:sst2:validation", "examples": [
        ["it's a charming journey", "positive"], ["unflinchingly bleak", "negative"]]}


def test_the_owner_name_form_and_a_label_map_typed_beside_the_names(glue):
    at = typed("glue/sst2")  # no repository glue/sst2 in the cache: the dataset glue, configuration sst2
    at.selectbox(key="t_hf_split").set_value("validation").run()
    values = next(d for d in at.dataframe if d.key == "t_labels_label").value
    assert list(values["value"]) == ["positive", "negative"]  # the ClassLabel's names, not 1/0
    at.session_state["t_labels_label"] = {"edited_rows": {0: {"name": "pos"}, 1: {"name": "neg"}},
                                          "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception and not at.error
    assert json.loads(at.json[0].value) == {"name": "hf:glue/sst2:validation", "examples": [
        ["it's a charming journey", "pos"], ["unflinchingly bleak", "neg"]]}


@pytest.mark.parametrize(("text", "said"), [
    ("glue:mnli", "hf:glue:mnli: not in this machine's datasets cache"),
    ("/etc", "hf:/etc: folders on the server are not offered here; type a dataset id (NAME, OWNER/NAME or "
             "NAME:CONFIG) or upload the file"),
    ("glue:sst2:train", "hf:glue:sst2:train: write the dataset as NAME, OWNER/NAME or NAME:CONFIG; the split is "
                        "picked beside it"),
])
def test_each_refusal_is_one_red_line(glue, text, said):
    at = typed(text)
    assert not at.exception and not at.json
    assert len(at.error) == 1 and at.error[0].value.startswith(said)
    assert "\n" not in at.error[0].value


def test_another_id_offers_its_own_splits(glue):
    at = typed("glue:sst2")
    at.selectbox(key="t_hf_split").set_value("validation").run()
    at.text_input(key="t_hf_id").input("glue:cola").run()
    assert not at.exception
    assert at.selectbox(key="t_hf_split").options == ["train"]
    assert at.selectbox(key="t_hf_split").value == "train"
