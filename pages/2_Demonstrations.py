"""Demonstrations: load a pool, let embedding retrieval pick and order the examples, run and compare."""

import streamlit as st

from ui import demonstrations as dm
from ui.builder import run_and_show, show_rendered
from ui.common import decoding_controls, pool_index, pool_picker, sidebar_model, user_errors
from workbench.prompts import fit_to_window, reserved_tokens, starter_specs
from workbench.retrieval import choose_demos

st.set_page_config(page_title="Demonstrations", page_icon="🎯", layout="wide")
backend = sidebar_model()
st.title("Demonstrations")
st.caption("Which examples are shown, and in what order, changes in-context learning (Liu et al. 2021; "
           "Lu et al. 2022). Retrieval: all-MiniLM-L6-v2 embeddings in a FAISS index, cached on disk.")

pool = pool_picker("dm_pool", default="sentiment")
if pool is None or backend is None:
    st.stop()
spec = st.session_state.get("spec") or starter_specs()["sentiment"].spec
st.caption(f"Prompt spec: the Prompt Builder's current spec ({spec.reasoning}, answer format {spec.answer_format}).")
with user_errors("Choosing the demonstrations"):
    index = pool_index(pool)
    st.caption(f"{len(pool)} examples · {index.kind} index · labels: {', '.join(map(str, pool.labels())) or '—'}")
    query = dm.query_input("dm", pool)
    opts = dm.settings("dm")
    cfg = decoding_controls("dmdec")
    demos, selection = choose_demos(index, query, **opts)
    demos = dm.chosen_table("dm", demos, selection)
    if cfg is not None and query.strip():
        rendered = fit_to_window(spec, demos, query, backend, reserved_tokens(spec, cfg, backend))
        show_rendered(rendered, backend.context_window, cfg.max_new_tokens)
        st.session_state["demos"] = demos
        if st.button("Run", type="primary", key="dm_run"):
            with user_errors("Running the prompt"):
                run_and_show(spec, demos, query, backend, cfg, None)
        if st.button("Compare random vs nearest vs diverse", key="dm_compare"):
            for column, name in zip(st.columns(len(dm.COMPARED)), dm.COMPARED, strict=True):
                with column, user_errors(f"Running with {name} demonstrations"):
                    st.markdown(f"**{name}**")
                    chosen, _ = choose_demos(index, query, **{**opts, "selector": name})
                    st.caption(" · ".join(d.answer for d in chosen))
                    run_and_show(spec, chosen, query, backend, cfg, None)
