"""Prompt Builder: build a zero/one/few-shot or chain-of-thought prompt, see exactly what is sent, run it."""

import streamlit as st

from ui.builder import query_box, run_and_show, show_rendered, spec_editor
from ui.common import RUN_SHORTCUT, page_intro, sidebar_model, user_errors
from ui.decoding_controls import decoding_controls
from ui.handover import send
from ui.streaming import show_stopped
from workbench.prompts import fit_to_window, render, reserved_tokens

st.set_page_config(page_title="Prompt Builder", page_icon="🧱", layout="wide")
backend = sidebar_model()
st.title("Prompt Builder")
page_intro("A prompt is built from parts: a task instruction, a few worked examples (the *demonstrations*) and "
           "the question itself. Here you write each part, choose how many demonstrations the model sees (zero, one "
           "or a few: *K*), and whether it should reason first (chain of thought). The right-hand side shows the "
           "exact text the model receives, each part in its own colour, and **Run** (Ctrl+Enter) sends it and "
           "shows what the model writes and the answer read from it.")

left, right = st.columns(2, gap="large")
with left:
    spec, demos, as_chat = spec_editor(backend)
    if st.button("Evaluate this prompt", key="pb_evaluate", disabled=spec is None,
                 help="Open the Evaluate page with this spec and its demonstrations: it is evaluated on a "
                      "labelled dataset beside the page's inferred template, crossed with the strategies chosen "
                      "there."):
        send(spec, demos)
        st.switch_page("views/5_Evaluate.py")
with right:
    query = query_box()
    cfg = decoding_controls("pbdec")
    rendered = None
    if spec is not None and cfg is not None and query.strip():
        with user_errors("Rendering the prompt"):
            if backend is None:
                rendered, reserved = render(spec, demos, query), cfg.max_new_tokens
            else:
                reserved = reserved_tokens(spec, cfg, backend)
                rendered = fit_to_window(spec, demos, query, backend, reserved, as_chat=as_chat)
            show_rendered(rendered, backend.context_window if backend else None, reserved)
    elif not query.strip():
        st.info("Type an input to see the prompt.")
    if st.button("Run", type="primary", key="pb_run", disabled=rendered is None or backend is None,
                 shortcut=RUN_SHORTCUT):
        with user_errors("Running the prompt"):
            run_and_show(spec, demos, query, backend, cfg, as_chat)
    else:
        show_stopped("pb_reasoning")
        show_stopped("pb_answer")
