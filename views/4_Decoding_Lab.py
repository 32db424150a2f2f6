"""Decoding Lab: decoding configs side by side, the next-token distribution raw vs warped, self-consistency."""

import streamlit as st

from ui.common import RUN_SHORTCUT, page_intro, sidebar_model, user_errors
from ui.decoding_lab import (
    KEPT_KEYS,
    config_inputs,
    explorer_panel,
    prompt_inputs,
    run_and_store_grid,
    self_consistency_panel,
    show_grid,
)
from ui.fields import keep_widgets, number_field
from ui.streaming import show_stopped

st.set_page_config(page_title="Decoding Lab", page_icon="🎛️", layout="wide")
keep_widgets(KEPT_KEYS)  # the prompt and configs survive a visit to another page
backend = sidebar_model()
st.title("Decoding Lab")
page_intro("A model does not write a word; it gives every possible next token a probability, and a *decoding* "
           "rule picks one. **Compare configs** runs the same prompt under several rules side by side (greedy, "
           "or sampling with a temperature, top-k, top-p, min-p), highlighting where the outputs part. The "
           "**Probability explorer** shows the next-token probabilities before and after those settings reshape "
           "them, one step at a time; **Self-consistency** samples several reasoning paths and takes a vote.")

prompts, spec = prompt_inputs(backend)
compare_tab, explore_tab, sc_tab = st.tabs(["Compare configs", "Probability explorer", "Self-consistency"])

with compare_tab:
    configs = config_inputs(spec)
    runs, bad_runs = number_field(st, "Run each config N times (sampled configs; seeds seed, seed+1, …)", 1,
                                  key="lab_runs", lo=1, hi=16)
    ready = backend is not None and configs is not None and bool(prompts) and not bad_runs
    if st.button("Run", type="primary", key="lab_go", disabled=not ready, shortcut=RUN_SHORTCUT):
        with user_errors("Running the configs"):
            run_and_store_grid(backend, prompts, configs, int(runs))
    else:
        show_stopped("lab_grid")
    if not prompts:
        st.info("Type a prompt (or an input for the spec) to compare configs.")
    if st.session_state.get("lab_grid") is not None:
        with user_errors("Showing the results"):
            show_grid(st.session_state["lab_grid"])

with explore_tab:
    if backend is not None and "A" in prompts:
        with user_errors("The probability explorer"):
            explorer_panel(backend, prompts["A"])
    else:
        st.info("Load a model and type prompt A to see its next-token distribution.")

with sc_tab:
    if backend is not None and "A" in prompts:
        with user_errors("Self-consistency"):
            self_consistency_panel(backend, prompts["A"], spec)
    else:
        st.info("Load a model and type prompt A to sample reasoning paths.")
