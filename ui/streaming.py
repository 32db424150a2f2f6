"""Streaming a completion into a page: the "waiting for the model" line (with the place in the queue), a Stop
button that frees the model at once, the text so far after a Stop, and the box a long output scrolls in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import streamlit as st

from ui.common import user_errors
from workbench.backends import Backend, Generation
from workbench.decoding import DecodingConfig
from workbench.errors import WorkbenchError


@contextmanager
def output_box(key: str):
    """A box for a long output (streamed text): it grows with the text up to :data:`ui.common.OUTPUT_MAX_HEIGHT`, then
    scrolls inside itself instead of pushing the rest of the page away (the key's ``wbout`` prefix is what
    :data:`ui.common.PAGE_CSS` styles)."""
    with st.container(key=f"wbout_{key}"):
        yield


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
