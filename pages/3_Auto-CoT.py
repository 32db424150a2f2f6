"""Auto-CoT: cluster questions, let the model write chain-of-thought demonstrations, inspect and use them."""

import streamlit as st

from ui import autocot as ac
from ui.common import cached_embedder, pool_picker, sidebar_model, user_errors

st.set_page_config(page_title="Auto-CoT", layout="wide")
st.title("Auto-CoT")
st.caption("Zhang et al. 2022: k-means clusters for diversity; per cluster the question nearest the centre whose "
           "Zero-shot-CoT rationale passes the heuristics (≤ 60 words, ≤ 5 steps, answer at the end).")
backend = sidebar_model()
pool = pool_picker("ac_pool", default="arithmetic")
cfg, fmt, limit, max_new = ac.settings()

with user_errors():
    ac.importer()
    if st.button("Build demonstrations", type="primary", disabled=backend is None or pool is None, key="ac_build"):
        examples = list(pool)[:limit] if limit else list(pool)
        ac.build(backend, cached_embedder(), examples, cfg, fmt, max_new)

if "ac_result" in st.session_state:
    ac.scatter(st.session_state["ac_result"], st.session_state["ac_examples"])
    ac.clusters(st.session_state["ac_result"], st.session_state["ac_examples"])
if st.session_state.get("ac_demos"):
    st.subheader("Demonstrations")
    demos = ac.editor()
    st.session_state["ac_demos"] = demos
    with user_errors():
        if backend is not None:
            ac.regenerate(backend, fmt, max_new)
        ac.use_and_export(demos, fmt)
