"""AppTest of the Evaluate page: sentiment sample, two strategies, a run on a few items, with the real models."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

ITEMS = 6


def page() -> AppTest:
    return AppTest.from_file(str(ROOT / "views/5_Evaluate.py"), default_timeout=300).run()


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
    assert len(at.get("vega_lite_chart")) == 1 + 1 + 2  # accuracy, the paired forest plot, two confusion heat maps
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
    assert [b.proto.label for b in at.get("download_button")] == ["JSONL", "CSV", "HTML report", "JSON"]

    # Order sensitivity: the same K=2 demonstrations in P=2 orders, mean ± std, min, max.
    at.number_input(key="ev_os_perms").set_value(2)
    at.button(key="ev_os_run").click().run()
    assert not at.exception and not at.error
    labels = [m.label for m in at.metric]
    assert labels == ["mean ± std", "min", "max", "orders × items"]
    assert at.metric[3].value == f"2 × {ITEMS}"
    assert len(at.get("vega_lite_chart")) == 4 + 1


def test_bad_strategy_name_is_one_line_and_unlabelled_data_generates():
    at = page()
    at.text_input(key="ev_more").set_value("knn2+fancy").run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Unknown modifier 'fancy' in 'knn2+fancy'; use scN, score, gen, cal, norm, norm_token (or fallback after autocot; an order after a base with demonstrations: similar_last, similar_first, random, as_selected, label_interleaved, global-entropy, local-entropy)."]
    at.text_input(key="ev_more").set_value("")
    at.selectbox(key="ev_data_sample").set_value("arithmetic").run()
    assert not at.exception and not at.error
    assert at.radio(key="ev_answer").options == ["Generate + extract the answer"]  # no label set to score
    assert not [t for t in at.toggle if t.key == "ev_cal"]


# --------------------------------------------------------------------------- data as it comes

#: The most common shape there is: text,label with numeric labels.
NUMERIC_CSV = (
    b"text,label\n"
    b"A warm and funny film.,1\n"
    b"Dull and far too long.,0\n"
    b"The best thing I have seen this year.,1\n"
    b"A tedious mess.,0\n"
    b"Charming from start to finish.,1\n"
    b"I want those two hours back.,0\n"
)


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.radio(key="ev_data_src").set_value("Upload").run()
    at.file_uploader(key="ev_data_upload").upload(name, data, "text/csv")
    return at.run()


def test_text_label_csv_with_numeric_labels_maps_and_runs():
    at = upload(page(), "reviews.csv", NUMERIC_CSV)
    assert not at.exception and not at.error
    preview = at.dataframe[0].value  # the first rows, before the pickers
    assert list(preview.columns) == ["text", "label"] and len(preview) == 5
    assert at.selectbox(key="ev_data_input").value == "text"  # guessed from the column names
    assert at.selectbox(key="ev_data_answer").value == "label"
    values = next(d for d in at.dataframe if d.key == "ev_data_labels_label").value
    assert list(values["value"]) == ["1", "0"]
    # Without names the labels stay "0"/"1": the inferred template lists them.
    assert "Classify each input as one of: 1, 0." in " ".join(c.value for c in at.code)

    at.session_state["ev_data_labels_label"] = {"edited_rows": {0: {"name": "positive"}, 1: {"name": "negative"}},
                                                "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception and not at.error
    assert "Classify each input as one of: positive, negative." in " ".join(c.value for c in at.code)
    at.multiselect(key="ev_strategies").set_value(["zero", "random"])
    at.number_input(key="ev_k").set_value(2)
    at.number_input(key="ev_limit").set_value(4).run()
    assert at.radio(key="ev_answer").value == "score"
    assert [t.value for t in at.text_input if t.key.startswith("ev_word_")] == [" positive", " negative"]
    at.button(key="ev_run").click().run()
    assert not at.exception and not at.error
    items = frame(at, "prompt")
    assert len(items) == 8
    assert set(items["gold"]) == {"positive", "negative"}  # the mapped names, never "0"/"1"
    assert set(items["extracted"]) <= {"positive", "negative"}
    paired = frame(at, "McNemar p")
    assert list(paired[["A", "B"]].iloc[0]) == ["zero", "random2"] and paired["items"].iloc[0] == 4
    assert 0.0 <= paired["McNemar p"].iloc[0] <= 1.0
    assert paired["95% CI (bootstrap)"].iloc[0].count("%") == 2
    per_label = frame(at, "macro-F1")
    assert list(per_label.columns) == ["strategy", "positive accuracy", "negative accuracy", "macro-F1"]
    assert list(per_label["strategy"]) == ["zero", "random2"]
    confusions = [d.value for d in at.dataframe if list(d.value.index[:1]) == ["gold positive"]]
    assert len(confusions) == 2
    for cm, strategy in zip(confusions, ["zero", "random2"], strict=True):
        mine = items[items["strategy"] == strategy]
        assert int(cm.to_numpy().sum()) == 4
        assert cm.loc["gold positive", "positive"] + cm.loc["gold negative", "negative"] == mine["correct"].sum()


def test_bad_mapping_is_one_line_naming_the_file_and_column():
    at = upload(page(), "reviews.csv", NUMERIC_CSV)
    at.radio(key="ev_data_input_mode").set_value("a template").run()
    at.text_input(key="ev_data_input_template").set_value("{title}. {text}").run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "reviews.csv has no column 'title' for the input template's {title}; available columns: text, label"]
    assert not [b for b in at.button if b.key == "ev_run"]  # nothing to run on

    at.text_input(key="ev_data_input_template").set_value("Review: {text}").run()
    assert not at.exception and not at.error
    assert at.button(key="ev_run")


def test_a_row_that_breaks_the_file_names_its_line():
    at = upload(page(), "broken.csv", NUMERIC_CSV + b"one field too many,1,2\n")
    assert not at.exception
    assert [e.value for e in at.error] == [
        "broken.csv line 8: 3 fields but the header has 2; check quoting and delimiters"]


def run_caption(at: AppTest) -> str:
    return next(c.value for c in at.caption if " results · started " in c.value)


def test_response_cache_toggle():
    at = page()
    at.multiselect(key="ev_strategies").set_value(["zero"])
    at.number_input(key="ev_limit").set_value(3).run()
    assert at.toggle(key="ev_cache").value  # on by default
    at.button(key="ev_run").click().run()
    assert not at.exception and not at.error
    assert run_caption(at).endswith(" · cache: 0 hits, 3 misses")
    at.button(key="ev_run").click().run()  # the same requests again: all from the cache
    assert run_caption(at).endswith(" · cache: 3 hits, 0 misses")
    at.toggle(key="ev_cache").set_value(False).run()
    at.button(key="ev_run").click().run()
    assert not at.exception and not at.error
    assert run_caption(at).endswith(" · cache: off")


def test_the_reproducible_switch_runs_one_sequence_at_a_time_and_the_run_says_how_it_ran():
    from ui.common import cached_backend

    at = page()
    # the page's own model object (cached once per server process, as the app's sessions share it)
    model = cached_backend(at.selectbox(key="model_choice").value, at.selectbox(key="backend_choice").value)
    before = model.batch_size
    model.batch_size = 3  # as WORKBENCH_BATCH=3 would load it
    try:
        at.multiselect(key="ev_strategies").set_value(["zero"])
        at.radio(key="ev_answer").set_value("generate")
        at.number_input(key="ev_limit").set_value(3).run()
        assert at.toggle(key="ev_repro").value is False  # off by default: a batching model batches
        at.button(key="ev_run").click().run()
        assert not at.exception and not at.error
        assert " · up to 3 sequences decoded together" in run_caption(at)
        at.toggle(key="ev_repro").set_value(True).run()
        at.button(key="ev_run").click().run()
        assert not at.exception and not at.error
        assert " · one sequence at a time" in run_caption(at)
    finally:
        model.batch_size = before


def test_demonstration_pool_from_parquet_with_its_own_label_map():
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    pool_texts = ["Simply wonderful.", "Awful, just awful.", "A delight.", "Painfully boring."]
    buf = io.BytesIO()
    pq.write_table(pa.table({"review": pool_texts, "stars": [5, 1, 5, 1]}), buf)
    at = upload(page(), "reviews.csv", NUMERIC_CSV)
    at.session_state["ev_data_labels_label"] = {"edited_rows": {0: {"name": "positive"}, 1: {"name": "negative"}},
                                                "added_rows": [], "deleted_rows": []}
    at.toggle(key="ev_other_pool").set_value(True).run()
    at.radio(key="ev_pool_src").set_value("Upload").run()
    at.file_uploader(key="ev_pool_upload").upload("pool.parquet", buf.getvalue(), "application/octet-stream")
    at.run()
    assert not at.exception and not at.error
    assert at.selectbox(key="ev_pool_input").value == "review"
    at.selectbox(key="ev_pool_answer").set_value("stars").run()
    # Name both values: else the demonstrations would answer "5" and "1".
    at.session_state["ev_pool_labels_stars"] = {"edited_rows": {0: {"name": "positive"}, 1: {"name": "negative"}},
                                                "added_rows": [], "deleted_rows": []}
    at.multiselect(key="ev_strategies").set_value(["random"])
    at.number_input(key="ev_k").set_value(2)
    at.number_input(key="ev_limit").set_value(2).run()
    assert not at.exception and not at.error
    at.button(key="ev_run").click().run()
    assert not at.exception and not at.error
    items = frame(at, "prompt")
    assert len(items) == 2
    for prompt in items["prompt"]:
        assert sum(t in prompt for t in pool_texts) == 2  # two demonstrations from the Parquet pool
        assert "Label: 5" not in prompt and "Label: 1" not in prompt


def test_a_handed_over_prompt_whose_labels_the_data_lacks_is_flagged():
    from ui.handover import KEY, HandedPrompt
    from workbench.prompts import starter_specs

    starter = starter_specs()["sentiment"]  # labels positive, negative
    at = AppTest.from_file(str(ROOT / "views/5_Evaluate.py"), default_timeout=300)
    at.session_state[KEY] = HandedPrompt(starter.spec, tuple(starter.demos[:2]))
    at = upload(at.run(), "reviews.csv", NUMERIC_CSV)
    assert not at.exception and not at.error
    assert [w.value for w in at.warning] == [
        "builder: its labels (positive, negative) lack the dataset's 1, 0; name the label values above or edit "
        "the labels in the Prompt Builder."]
    at.session_state["ev_data_labels_label"] = {"edited_rows": {0: {"name": "positive"}, 1: {"name": "negative"}},
                                                "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception and not at.error and not at.warning


# --------------------------------------------------------------------------- issue 19: words, numbers, state


def test_the_strategy_picker_uses_the_registry_words():
    """One vocabulary: the words the Demonstrations page gets from the selector registry (random, nearest, diverse,
    balanced), with the name strategy names use where it differs."""
    from workbench.evaluate.registry import STRATEGIES, kinds
    from workbench.retrieval.selectors.registry import SELECTOR_KINDS

    options = page().multiselect(key="ev_strategies").options
    assert options[:5] == ["zero-shot (zero)", "random", "nearest (knn)", "diverse", "BM25 (bm25)"]
    assert len(options) == len(kinds())
    for base in ("random", "knn", "diverse", "balanced"):
        assert STRATEGIES[base].label == SELECTOR_KINDS[STRATEGIES[base].selector].label
        assert any(o.startswith(STRATEGIES[base].label) for o in options)


def test_an_out_of_range_number_says_why_and_run_waits():
    at = page()
    at.number_input(key="ev_k").set_value(0).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["K demonstrations must be between 1 and 32 (got 0)."]
    assert at.button(key="ev_run").disabled
    at.number_input(key="ev_k").set_value(2).run()
    assert not at.error and not at.button(key="ev_run").disabled


def test_one_result_is_singular():
    at = page()
    at.multiselect(key="ev_strategies").set_value(["zero"])
    at.number_input(key="ev_limit").set_value(1).run()
    at.button(key="ev_run").click().run()
    assert not at.exception and not at.error
    line = next(c.value for c in at.caption if " · model " in c.value)
    assert " · 1 result · " in line, line


def test_settings_survive_another_page():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    at.switch_page("views/5_Evaluate.py").run()
    at.selectbox(key="ev_data_sample").set_value("trec_questions").run()
    at.multiselect(key="ev_strategies").set_value(["zero", "diverse", "bm25"]).run()
    at.number_input(key="ev_k").set_value(3).run()
    at.number_input(key="ev_limit").set_value(5).run()
    at.text_input(key="ev_more").set_value("knn2+gen").run()
    at.toggle(key="ev_cache").set_value(False).run()
    at.toggle(key="ev_repro").set_value(True).run()
    at.switch_page("views/4_Decoding_Lab.py").run()
    assert [t.value for t in at.title] == ["Decoding Lab"]
    at.switch_page("views/5_Evaluate.py").run()
    assert not at.exception
    assert at.selectbox(key="ev_data_sample").value == "trec_questions"
    assert at.multiselect(key="ev_strategies").value == ["zero", "diverse", "bm25"]
    assert at.number_input(key="ev_k").value == 3
    assert at.number_input(key="ev_limit").value == 5
    assert at.text_input(key="ev_more").value == "knn2+gen"
    assert at.toggle(key="ev_cache").value is False
    assert at.toggle(key="ev_repro").value is True


def test_a_model_that_cannot_score_labels_says_so_and_run_waits(monkeypatch):
    from tests.fakes import fake_server

    fake_server(monkeypatch, full_logits=False, label_scoring=False, exact_token_counts=False)
    at = page()
    at.multiselect(key="ev_strategies").set_value(["zero"]).run()
    assert at.radio(key="ev_answer").value == "score"
    assert [e.value for e in at.error] == [
        "openai-compatible cannot score label words with this model (its token counts are an estimate, or the "
        "server returns no log-probabilities); choose Answer: generate, or a model or server with a tokenizer."]
    assert at.button(key="ev_run").disabled
    at.radio(key="ev_answer").set_value("generate").run()
    assert not at.error and not at.button(key="ev_run").disabled


# --------------------------------------------------------------------------- issue 33: UX II


def all_text(at: AppTest) -> str:
    """Every text the page shows (markdown, captions, alerts, widget labels and help)."""
    parts = [e.value for kind in ("markdown", "caption", "error", "warning", "info", "success") for e in at.get(kind)]
    for widget in (*at.button, *at.radio, *at.toggle, *at.selectbox, *at.multiselect, *at.number_input,
                   *at.text_input):
        parts += [widget.label, getattr(widget, "help", None) or ""]
    return "\n".join(str(p) for p in parts)


def test_the_page_is_tabs_one_click_each_and_a_run_opens_its_results():
    at = page()
    assert [t.label for t in at.tabs] == ["Setup", "Results", "Order sensitivity", "Run history"]
    assert at.session_state["ev_tab"] == "Setup"
    assert at.markdown[0].value.startswith("Which prompting strategy is better on my data?")  # what the page shows
    at.multiselect(key="ev_strategies").set_value(["zero"])
    at.number_input(key="ev_limit").set_value(2).run()
    at.button(key="ev_run").click().run()
    assert not at.exception and not at.error
    assert at.session_state["ev_tab"] == "Results"  # the results open where the user is looking
    assert [h.value for h in at.tabs[1].subheader] == [f"Run {at.session_state['ev_run_id']}"]
    assert any("results" in d.value.columns for d in at.tabs[3].dataframe)  # the history, on its own tab


def test_a_builder_prompt_without_labels_arrives_runnable_and_no_cli_flag_is_named():
    """Issue 33 #2: the Builder's prompt without a label set (Blank starter: free answers) arrives runnable."""
    from ui.handover import KEY, HandedPrompt
    from ui.state import blank_spec_file
    from workbench.data import Example

    demos = (Example("d1", "A lovely film.", "positive"), Example("d2", "A dreary film.", "negative"))
    at = AppTest.from_file(str(ROOT / "views/5_Evaluate.py"), default_timeout=300)
    at.session_state["ev_answer"] = "score"  # label scoring left on from an earlier visit
    at.session_state[KEY] = HandedPrompt(blank_spec_file().spec, demos)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "--" not in all_text(at)
    assert not at.button(key="ev_run").disabled
    at.multiselect(key="ev_strategies").set_value(["zero"])
    at.number_input(key="ev_limit").set_value(2).run()
    assert not at.error and "builder: no fixed label set" in all_text(at)
    at.button(key="ev_run").click().run()
    assert not at.exception and not at.error
    items = frame(at, "prompt")
    assert list(dict.fromkeys(items["strategy"])) == ["inferred/zero", "builder/zero", "builder/built2"]
    by = {s: set(g["output"].str.contains("positive: ")) for s, g in items.groupby("strategy")}
    assert by == {"inferred/zero": {True}, "builder/zero": {False}, "builder/built2": {False}}  # scored vs generated

    # A fresh session with a labelless prompt defaults to generating for every variant.
    fresh = AppTest.from_file(str(ROOT / "views/5_Evaluate.py"), default_timeout=300)
    fresh.session_state[KEY] = HandedPrompt(blank_spec_file().spec, demos)
    fresh.run()
    assert fresh.radio(key="ev_answer").value == "generate" and not fresh.error


def test_cached_rows_say_so_and_no_items_per_second_from_the_cache():
    at = page()
    at.multiselect(key="ev_strategies").set_value(["zero"])
    at.number_input(key="ev_limit").set_value(3).run()
    at.button(key="ev_run").click().run()
    first = frame(at, "items/s (model)")
    assert list(first["cached"]) == ["0/3"] and first["items/s (model)"].iloc[0] != "—"
    at.button(key="ev_run").click().run()  # the same requests: every item from the response cache
    assert not at.exception and not at.error
    again = frame(at, "items/s (model)")
    assert list(again["cached"]) == ["3/3"] and list(again["items/s (model)"]) == ["—"]
    assert "zero cached: 3/3" in all_text(at)


def test_two_stored_runs_side_by_side_with_the_paired_test_and_the_items_that_changed():
    at = page()
    at.multiselect(key="ev_strategies").set_value(["zero"])
    at.number_input(key="ev_limit").set_value(4).run()
    at.button(key="ev_run").click().run()
    first = at.session_state["ev_run_id"]
    at.radio(key="ev_answer").set_value("generate").run()  # another way to answer: some items change
    at.button(key="ev_run").click().run()
    second = at.session_state["ev_run_id"]
    assert not at.exception and not at.error
    assert at.selectbox(key="ev_cmp_a").value == first and at.selectbox(key="ev_cmp_b").value == second
    at.button(key="ev_cmp_go").click().run()
    assert not at.exception and not at.error
    history = at.tabs[3]
    paired = next(d.value for d in history.dataframe if "McNemar p" in d.value.columns)
    assert list(paired[["A", "B", "items"]].iloc[0]) == [f"{first}:zero", f"{second}:zero", 4]
    assert 0.0 <= paired["McNemar p"].iloc[0] <= 1.0
    from ui.common import app_store

    store_records = {r: {x["item_index"]: x for x in app_store().results(r)} for r in (first, second)}
    changed = [i for i in range(4) if store_records[first][i]["extracted"] != store_records[second][i]["extracted"]
               or store_records[first][i]["correct"] != store_records[second][i]["correct"]]
    shown = [d.value for d in history.dataframe if "change" in d.value.columns]
    assert (len(shown[0]) if shown else 0) == len(changed)
    assert any(c.value.startswith(f"Run {first} (A) against run {second} (B) on 4 shared items") for c in at.caption)
