"""Speculative Decoding: drafts accepted and rejected token by token, the speed-up, the output unchanged."""

import streamlit as st

from ui import speculative as spec_ui
from ui.common import RUN_SHORTCUT, page_intro, sidebar_model, user_errors
from ui.decoding_controls import decoding_controls

st.set_page_config(page_title="Speculative Decoding", page_icon="⏩", layout="wide")
backend = sidebar_model()
st.title("Speculative Decoding")
page_intro("A model writes one token per pass, and each pass reads all of its weights. Speculative decoding "
           "guesses several next tokens cheaply (here by copying from the prompt, or with a smaller model) and "
           "lets the model check all the guesses in one pass: it keeps the guesses it agrees with and writes its "
           "own token where it disagrees. The page runs plain and speculative decoding on the same prompt, shows "
           "which tokens were guessed right, how much faster it was, and that the text is the same.")

with user_errors("The settings"):
    prompt, spec, repeats = spec_ui.settings(backend)
    cfg = decoding_controls(key="spec_dec")
    ready = backend is not None and spec is not None and cfg is not None and bool(prompt.strip())
    if st.button("Run", type="primary", key="spec_go", disabled=not ready, shortcut=RUN_SHORTCUT):
        with user_errors("Running speculative decoding"):
            spec_ui.run(backend, prompt, cfg, spec, repeats)
if st.session_state.get("spec_result") is not None:
    with user_errors("Showing the result"):
        spec_ui.show(st.session_state["spec_result"])
with st.expander("Why the output is unchanged, when it pays, and Medusa heads", expanded=False):
    st.markdown(spec_ui.EXPLANATION)
