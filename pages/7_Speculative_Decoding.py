"""Speculative Decoding: drafts accepted and rejected token by token, the speed-up, the output unchanged."""

import streamlit as st

from ui import speculative as spec_ui
from ui.common import decoding_controls, sidebar_model, user_errors

st.set_page_config(page_title="Speculative Decoding", page_icon="⏩", layout="wide")
backend = sidebar_model()
st.title("Speculative Decoding")
st.caption("Draft several tokens cheaply, verify them in one pass of the model: see which drafts it accepts, "
           "how much faster it is, and that the text does not change.")

with user_errors("The settings"):
    prompt, spec, repeats = spec_ui.settings(backend)
    cfg = decoding_controls(key="spec_dec")
    ready = backend is not None and spec is not None and cfg is not None and bool(prompt.strip())
    if st.button("Run", type="primary", key="spec_go", disabled=not ready):
        with user_errors("Running speculative decoding"):
            spec_ui.run(backend, prompt, cfg, spec, repeats)
if st.session_state.get("spec_result") is not None:
    with user_errors("Showing the result"):
        spec_ui.show(st.session_state["spec_result"])
with st.expander("Why the output is unchanged, when it pays, and Medusa heads", expanded=False):
    st.markdown(spec_ui.EXPLANATION)
