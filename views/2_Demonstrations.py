"""Demonstrations: load a pool, let embedding retrieval pick and order the examples, run and compare."""

import streamlit as st

from ui import demonstrations as dm
from ui.builder import run_and_show, show_rendered
from ui.common import RUN_SHORTCUT, page_intro, pool_index, sidebar_model, user_errors
from ui.datapick import data_picker
from ui.decoding_controls import decoding_controls
from ui.handover import BUILDER_PAGE, demos_to_builder
from ui.state import built_prompt, set_chosen
from workbench.prompts import fit_to_window, reserved_tokens
from workbench.retrieval.choose import choose_demos
from workbench.words import plural

st.set_page_config(page_title="Demonstrations", page_icon="🎯", layout="wide")
backend = sidebar_model()
st.title("Demonstrations")
page_intro("Which worked examples a model is shown, and in what order, changes its answer. This page takes a pool "
           "of labelled examples (a sample, or your own file: pick which column is the text and which the label), "
           "finds the ones most like your question (by sentence embeddings), or random or deliberately varied "
           "ones, and shows them with their similarity scores. **Run** (Ctrl+Enter) sends the prompt with them; "
           "**Compare** runs random, nearest and diverse side by side (Liu et al. 2021; Lu et al. 2022).")

dm.restore()
pool = data_picker("dm_pool", default="sentiment")
if pool is None or backend is None:
    dm.set_aside()
    st.stop()
built = built_prompt()
if built is None:
    st.error("The Prompt Builder's spec has an error; fix it there first.", icon="⚠️")
    st.stop()
spec = built.spec
st.caption(f"Prompt spec: the Prompt Builder's current spec ({spec.reasoning}, answer format {spec.answer_format}).")
with user_errors("Choosing the demonstrations"):
    index = pool_index(pool)
    st.caption(f"{plural(len(pool), 'example')} · {index.kind} index · "
               f"labels: {', '.join(map(str, pool.labels())) or '—'}")
    query = dm.query_input(pool)
    opts = dm.settings(pool)
    dm.save()
    cfg = decoding_controls(dm.DECODING_KEY)
    if opts is None:  # K or the seed is invalid: its reason is under it; nothing runs until it is fixed
        st.button("Run", type="primary", key="dm_run", disabled=True, shortcut=RUN_SHORTCUT)
        st.stop()
    demos, selection = choose_demos(index, query, **opts)
    demos = dm.chosen_table(demos, selection)
    set_chosen(demos)
    if st.button(f"Use these {plural(len(demos), 'demonstration')} in the Prompt Builder", key="dm_use",
                 disabled=not demos, help="The Prompt Builder's editor gets them as its demonstrations "
                                          "(few-shot, all of them), with this query."):
        demos_to_builder(demos, f"the Demonstrations page ({dm.label(opts['selector'])}, {opts['how']})",
                         query=query)
        st.switch_page(BUILDER_PAGE)
    ready = cfg is not None and bool(query.strip())
    if ready:
        rendered = fit_to_window(spec, demos, query, backend, reserved_tokens(spec, cfg, backend))
        show_rendered(rendered, backend.context_window, cfg.max_new_tokens)
    elif not query.strip():
        st.info("Type a query (or pick one from the pool) to see the prompt and run it.")
    if st.button("Run", type="primary", key="dm_run", disabled=not ready, shortcut=RUN_SHORTCUT):
        with user_errors("Running the prompt"):
            run_and_show(spec, demos, query, backend, cfg, None, key="dm")
    if st.button(f"Compare {' vs '.join(map(dm.label, dm.COMPARED))}", key="dm_compare", disabled=not ready):
        for column, name in zip(st.columns(len(dm.COMPARED)), dm.COMPARED, strict=True):
            with column, user_errors(f"Running with {dm.label(name)} demonstrations"):
                st.markdown(f"**{dm.label(name)}**")
                chosen, _ = choose_demos(index, query, **{**opts, "selector": name})
                st.caption(" · ".join(d.answer for d in chosen))
                run_and_show(spec, chosen, query, backend, cfg, None, key=f"dm_{name}")
