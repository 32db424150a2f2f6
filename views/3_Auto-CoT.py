"""Auto-CoT: cluster questions, let the model write chain-of-thought demonstrations, inspect and use them."""

import streamlit as st

from ui import autocot as ac
from ui.common import RUN_SHORTCUT, cached_embedder, page_intro, sidebar_model, user_errors
from ui.datapick import data_picker
from ui.state import autocot_work, save_autocot_work

st.set_page_config(page_title="Auto-CoT", layout="wide")
st.title("Auto-CoT")
page_intro("Writing worked examples with reasoning by hand is slow, so Auto-CoT lets the model write them. It "
           "groups the questions of a pool into clusters of similar questions, so the examples cover different "
           "kinds of question; for each cluster it asks the model to \"think step by step\" about the question "
           "nearest the cluster's centre, and keeps that reasoning if it is short and ends in an answer. The "
           "scatter shows the clusters, the table the examples, which you can edit and send to the Prompt Builder.")
st.caption("Zhang et al. 2022, as amazon-science/auto-cot's run_demo.py: k-means++ clusters for diversity; per "
           "cluster the member nearest the centre whose Zero-shot-CoT rationale passes the filters (question ≤ 60 "
           "words, rationale ≤ 5 lines and ending with \".\", an answer; on arithmetic sets the answer in the last "
           "sentence or last 10 words). A cluster with no passing member is dropped unless Fallback is ticked.")
backend = sidebar_model()
pool = data_picker("ac_pool", default="arithmetic")
cfg, fmt, labels, limit, max_new = ac.settings(pool)

with user_errors("Building the Auto-CoT demonstrations"):
    ac.importer()
    if st.button("Build demonstrations", type="primary", key="ac_build", shortcut=RUN_SHORTCUT,
                 disabled=backend is None or pool is None or cfg is None):
        examples = list(pool)[:limit] if limit else list(pool)
        ac.build(backend, cached_embedder(), examples, cfg, fmt, labels, max_new)

work = autocot_work()
if work.result is not None:
    ac.flags(work.result)
    ac.scatter(work.result, work.examples)
    ac.clusters(work.result, work.examples)
if work.demos:
    st.subheader("Demonstrations")
    demos = ac.editor()
    save_autocot_work(demos=demos)
    with user_errors("Using the Auto-CoT demonstrations"):
        if backend is not None and cfg is not None:
            ac.regenerate(backend, cfg, fmt, labels, max_new)
        ac.use_and_export(demos, fmt, labels)
