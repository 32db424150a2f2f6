"""Prompt Workbench: the entry point. Names every page for the navigation ("Home" first) and runs the chosen one.

The home page (model picker in the sidebar, a plain prompt box) is :func:`home`; the others are the files in views/.
"""

from pathlib import Path

import streamlit as st

from ui.classroom import sidebar as classroom_sidebar
from ui.common import RUN_SHORTCUT, page_intro, show_prompt, sidebar_model, user_errors
from ui.decoding_controls import decoding_controls
from ui.streaming import show_stopped, stream_completion
from workbench import settings
from workbench.errors import ConfigError

ROOT = Path(__file__).resolve().parent
#: The pages the home page introduces, with a one-line blurb (any other file in views/ is in the navigation too).
PAGES = [
    ("views/1_Prompt_Builder.py", "Prompt Builder", "zero/one/few-shot and chain-of-thought prompts"),
    ("views/2_Demonstrations.py", "Demonstrations", "pick and order examples by embedding retrieval"),
    ("views/3_Auto-CoT.py", "Auto-CoT", "chain-of-thought demonstrations written by the model"),
    ("views/4_Decoding_Lab.py", "Decoding Lab", "decoding settings side by side, next-token probabilities"),
    ("views/5_Evaluate.py", "Evaluate", "strategies × labelled data, accuracy with confidence"),
    ("views/6_Library.py", "Library", "saved prompt sets, import/export, classroom demos"),
    ("views/7_Speculative_Decoding.py", "Speculative Decoding", "a draft proposes tokens, the model checks them"),
]


def home() -> None:
    """The home page: what each page is for, and one prompt to complete with the chosen model."""
    st.title("Prompt Workbench")
    page_intro("Prompt engineering against a **local** language model: the same model, asked in different ways, "
               "gives different answers. Pick a model in the sidebar, then a page: build a prompt with worked "
               "examples, let the model pick or write those examples, change how it chooses each word, and measure "
               "which prompt is right most often. Below, type any text and watch the model continue it, one "
               "token at a time (Ctrl+Enter generates).")

    backend = sidebar_model()

    cols = st.columns(3)
    for i, (path, title, blurb) in enumerate(p for p in PAGES if (ROOT / p[0]).exists()):
        with cols[i % 3]:
            st.page_link(path, label=title)
            st.caption(blurb)

    st.subheader("Plain prompt")
    prompt = st.text_area("Prompt", "The capital of France is", height=120, key="home_prompt")
    as_chat = False
    if backend is not None and backend.is_chat:
        as_chat = st.toggle("Send as one user turn through the model's chat template", True, key="home_chat")
    cfg = decoding_controls("home")

    if st.button("Generate", type="primary", disabled=backend is None or cfg is None, key="home_go",
                 shortcut=RUN_SHORTCUT):
        if not prompt.strip():
            st.error("The prompt is empty; type some text to complete.", icon="⚠️")
        else:
            with user_errors("Generating"):
                text = backend.format_chat([{"role": "user", "content": prompt}]) if as_chat else prompt
                show_prompt(text, backend.count_tokens(text), backend.context_window,
                            exact=backend.capabilities.exact_token_counts)
                st.markdown("**Completion**")
                stream_completion(backend, text, cfg, key="home")
    else:
        show_stopped("home")


def pages() -> list:
    """Home, then every page file in Streamlit's order (a page added to views/ appears without editing this)."""
    from streamlit.source_util import page_sort_key

    files = sorted((ROOT / "views").glob("*.py"), key=page_sort_key)
    return [st.Page(home, title="Home", default=True),
            *(st.Page(f"views/{f.name}") for f in files)]


st.set_page_config(page_title="Prompt Workbench", page_icon="🧪", layout="wide")
try:
    settings.check_all()  # a bad WORKBENCH_* value: one line naming it, before any page runs
except ConfigError as err:
    st.error(f"The server's settings are wrong: {err} Fix it and restart the app.", icon="⚠️")
    st.stop()
classroom_sidebar()  # a classroom server: this browser's workspace, its cookie, the "Teacher" box; nothing on loopback
st.navigation(pages()).run()
