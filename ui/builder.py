"""Prompt-spec widgets: pick a starter, edit every part, edit demonstrations, preview and run.

The Prompt Builder page is made of these; other pages (Demonstrations, Library) call
:func:`show_rendered` / :func:`run_and_show` to reuse them. The editor's values live in the
Builder's draft (:mod:`ui.state`), so they survive a visit to another page; a starter replaces
them only when the user picks it (and confirms, when the draft was edited).
"""

from __future__ import annotations

import dataclasses
import html
import math
import time
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from ui.common import user_errors
from ui.fields import number_field
from ui.handover import library_to_builder
from ui.state import (
    BLANK,
    BUILDER_PREFIX,
    DRAFT_WIDGETS,
    SHOTS,
    BuilderDraft,
    BuilderState,
    DemoRow,
    builder_state,
    load_into_builder,
    restore_previous,
    restore_widgets,
    save_builder,
    starters,
    widget_values,
)
from ui.streaming import stream_into_page
from workbench.answers import AnswerFormat
from workbench.backends import Backend, Generation
from workbench.data import Example
from workbench.decoding import DecodingConfig
from workbench.errors import PromptError, WorkbenchError
from workbench.prompts import PromptRun, PromptSpec, RenderedPrompt, run_prompt
from workbench.prompts.spec import CHAT_LAYOUTS
from workbench.reasoning.base import ANSWER_STAGE, REASONING_STAGE
from workbench.reasoning.registry import labels as reasoning_labels
from workbench.reasoning.registry import names as reasoning_names
from workbench.words import plural

DEMO_COLUMNS = ("input", "answer", "rationale", "label")
#: Background colour of each part kind in the coloured preview.
PART_COLOURS = {"system": "#e8e0f8", "instruction": "#fff2c6", "demo": "#d9ecff", "separator": "#eeeeee",
                "query": "#d8f5d8", "prefix": "#ffe0c2", "trigger": "#ffd0d8", "template": "#f3f3f3"}
STEP = "step:"


def _text(value) -> str:
    """A table cell as text; empty and missing cells are ""."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


# --------------------------------------------------------------------------- starters and Library steps

def _options(state: BuilderState) -> list[str]:
    """The picker's options: Blank, the starters, then the steps of a Library set opened here."""
    return [*starters(), *(f"{STEP}{i}" for i in range(len(state.steps)))]


def _option_label(state: BuilderState, option: str) -> str:
    if option.startswith(STEP):
        step = state.steps[int(option.removeprefix(STEP))]
        return f"📚 {step.title} · {state.steps_of}"  # the step first: a narrow box cuts the set's name
    return option if option == BLANK else starters()[option].name


def _load(option: str) -> None:
    state = builder_state()
    if option.startswith(STEP):
        library_to_builder(state.steps_of, state.steps, int(option.removeprefix(STEP)))
    else:
        load_into_builder(starters()[option], source=option)


def _on_source(key: str) -> None:
    """The picker changed: load that starter or step, unless that would replace the user's edits
    unasked; then the page asks first."""
    ss, state = st.session_state, builder_state()
    option = ss[f"{key}_starter"]
    now = dataclasses.replace(state.draft, **widget_values(key, DRAFT_WIDGETS))  # edits of this very rerun too
    if now != state.loaded:
        ss[f"{key}_starter"] = state.source  # the picker shows what is loaded until the user confirms
        ss[f"{key}_pending"] = option
        return
    _load(option)


def _confirm(key: str, yes: bool) -> None:
    option = st.session_state.pop(f"{key}_pending", None)
    if yes and option is not None:
        _load(option)


def source_picker(key: str, state: BuilderState) -> None:
    """Starter specs (and a Library set's steps); choosing one loads it into every widget of the editor.
    Edits are never replaced without the user saying so."""
    ss = st.session_state
    options = _options(state)
    if ss.get(f"{key}_starter") not in options:
        ss[f"{key}_starter"] = state.source if state.source in options else BLANK
    st.selectbox("Starter spec", options, key=f"{key}_starter", on_change=_on_source, args=(key,),
                 format_func=lambda o: _option_label(state, o),
                 help="Loads a shipped spec (or a step of a Library set opened here) with its demonstrations; "
                      "then edit anything.")
    pending = ss.get(f"{key}_pending")
    if pending in options:
        st.warning(f"Load “{_option_label(state, pending)}”? It replaces your edits of this prompt.", icon="✋")
        c1, c2 = st.columns(2)
        c1.button("Replace my edits", key=f"{key}_confirm", on_click=_confirm, args=(key, True))
        c2.button("Keep my edits", key=f"{key}_keep", on_click=_confirm, args=(key, False))
    if state.origin:
        st.info(f"From {state.origin}." if " of the Library set " in state.origin else f"{state.origin}.",
                icon="📥")
    if state.previous is not None:
        st.button("Back to my edited prompt", key=f"{key}_previous", on_click=restore_previous,
                  help="What you had typed here before this was loaded.")


# --------------------------------------------------------------------------- demonstrations and K

def _on_add(key: str) -> None:
    ss, state = st.session_state, builder_state()
    new = DemoRow(**{c: ss.get(f"{key}_new_{c}", "") for c in DEMO_COLUMNS})
    if not new.input.strip():
        ss[f"{key}_add_error"] = "Type the demonstration's input before adding it."
        return
    rows = (*state.draft.rows, new)
    draft = dataclasses.replace(state.draft, rows=rows)
    if ss.get(f"{key}_shots") == "Few-shot" and int(ss.get(f"{key}_k", 1)) >= len(state.draft.rows):
        ss[f"{key}_k"] = len(rows)  # K was following the rows: it still does
        draft = dataclasses.replace(draft, k=len(rows))
    save_builder(dataclasses.replace(state, draft=draft, table_version=state.table_version + 1, add_open=True))
    for c in DEMO_COLUMNS:
        ss[f"{key}_new_{c}"] = ""


def demos_editor(key: str, state: BuilderState) -> tuple[DemoRow, ...]:
    """Demonstrations in an editable table (add rows at the bottom) plus an "add one" form that stays open."""
    ss = st.session_state
    with st.expander("Add a demonstration", expanded=state.add_open or not state.draft.rows):
        c1, c2 = st.columns(2)
        c1.text_area("Input", key=f"{key}_new_input", height=68)
        c2.text_input("Answer", key=f"{key}_new_answer")
        c2.text_input("Rationale (CoT)", key=f"{key}_new_rationale")
        c2.text_input("Label (optional)", key=f"{key}_new_label")
        st.button("Add demonstration", key=f"{key}_add", on_click=_on_add, args=(key,))
        if message := ss.pop(f"{key}_add_error", None):
            st.error(message, icon="⚠️")
    table_key = f"{key}_table_{state.table_version}"
    base = state.table if table_key in ss else state.draft.rows  # a fresh table starts from the draft's rows
    frame = pd.DataFrame([{c: getattr(r, c) for c in DEMO_COLUMNS} for r in base],
                         columns=list(DEMO_COLUMNS)).astype("string")
    edited = st.data_editor(frame, num_rows="dynamic", width="stretch", key=table_key,
                            column_config={c: st.column_config.TextColumn(c, width="medium" if c == "input" else None)
                                           for c in DEMO_COLUMNS})
    rows = []
    for i, r in enumerate(edited.to_dict("records")):
        cells = {c: _text(r.get(c)) for c in DEMO_COLUMNS}
        if not (cells["input"].strip() or cells["answer"].strip()):
            continue
        kept = base[i] if i < len(base) and base[i].input == cells["input"] else DemoRow()
        rows.append(DemoRow(**cells, id=kept.id, choices=kept.choices))  # the source's id and choices stay
    save_builder(dataclasses.replace(builder_state(), table=base))
    return tuple(rows)


def _on_shots(key: str) -> None:
    """Switching to few-shot uses every row: K follows the number of demonstrations."""
    ss = st.session_state
    if ss[f"{key}_shots"] == "Few-shot":
        ss[f"{key}_k"] = max(len(builder_state().draft.rows), 1)


#: Most demonstrations K may ask for.
MAX_K = 256


def shots_picker(key: str, rows: int) -> tuple[int, str | None]:
    """Zero/one/few-shot; returns K, the number of demonstrations to use, and why K is invalid (or None); says
    when it uses fewer than there are."""
    c1, c2 = st.columns([2, 1])
    shots = c1.radio("Shots", SHOTS, key=f"{key}_shots", horizontal=True, on_change=_on_shots, args=(key,))
    few = shots == "Few-shot"
    k, problem = number_field(c2, "K", 1, key=f"{key}_k", lo=0, hi=MAX_K, disabled=not few,
                              help="Few-shot: how many demonstrations (the first K rows).")
    if few and problem:
        return 0, problem
    used = {"Zero-shot": 0, "One-shot": 1}.get(shots, int(k))
    if 0 < used < rows:
        st.caption(f"{shots}: using {used} of {rows} demonstrations (the first {plural(used, 'row')}).")
    elif used > rows:
        st.caption(f"K = {used} but there {'is' if rows == 1 else 'are'} {plural(rows, 'demonstration')}; "
                   "using all of them.")
    return used, None


# --------------------------------------------------------------------------- the editor

def spec_editor(backend: Backend | None, key: str = BUILDER_PREFIX
                ) -> tuple[PromptSpec | None, list[Example], bool]:
    """Every part of the Builder's spec, the demonstrations and K, kept in :mod:`ui.state` across pages.
    Returns (spec or None on error, demos used, as_chat). The page draws the query box
    (:func:`query_box`) after it."""
    state = builder_state()
    restore_widgets(key, state.draft, DRAFT_WIDGETS)
    source_picker(key, state)
    is_chat = backend is not None and backend.is_chat
    c1, c2 = st.columns(2)
    c1.selectbox("Reasoning", reasoning_names(), key=f"{key}_reasoning", format_func=reasoning_labels().get)
    c2.selectbox("Answer format", [f.value for f in AnswerFormat], key=f"{key}_format",
                 help="How the answer is extracted; picks Kojima et al.'s answer trigger.")
    st.text_area("Task instruction (literal text)", key=f"{key}_instruction", height=68)
    c1, c2 = st.columns(2)
    c1.text_area("Demonstration template", key=f"{key}_demo_tpl", height=80,
                 help="Placeholders: {input} {answer} {rationale} {label} {choices}; {{ }} for literal braces.")
    c2.text_area("CoT demonstration template", key=f"{key}_cot_tpl", height=80,
                 help="Used by Manual-CoT and Auto-CoT: the rationale comes before the answer.")
    c1.text_area("Query template", key=f"{key}_query_tpl", height=80, help="Placeholders: {input} {choices}.")
    with c2:
        st.text_input("Separator (\\n = newline)", key=f"{key}_sep")
        st.text_input("Answer prefix", key=f"{key}_prefix", help="Text the answer starts with.")
    c1, c2 = st.columns(2)
    c1.text_input("Zero-shot-CoT trigger", key=f"{key}_trigger")
    c2.text_input("Answer trigger (empty = Kojima et al.'s)", key=f"{key}_answer_trigger")
    c1.text_input("Labels (comma-separated)", key=f"{key}_labels")
    c2.text_input("Stop strings (comma-separated, \\n = newline)", key=f"{key}_spec_stop")
    raw = st.toggle("Raw text (skip the chat template)", key=f"{key}_raw", disabled=not is_chat,
                    help="Chat models get their own chat template unless this is on; base models always get raw text.")
    as_chat = is_chat and not raw
    st.radio("Demonstrations in chat", CHAT_LAYOUTS, key=f"{key}_layout", horizontal=True, disabled=not as_chat,
             format_func={"turns": "as user/assistant turns", "inline": "inline in one message"}.get)
    st.text_area("System message (chat models)", key=f"{key}_system", height=68, disabled=not as_chat)

    st.markdown("**Demonstrations**")
    rows = demos_editor(key, state)
    _, bad_k = shots_picker(key, len(rows))
    draft = BuilderDraft(**widget_values(key, DRAFT_WIDGETS), rows=rows)
    save_builder(dataclasses.replace(builder_state(), draft=draft))
    if bad_k:  # said under K; no prompt until it is fixed
        return None, [], as_chat
    used = draft.used()
    try:
        spec = draft.spec()
    except WorkbenchError as err:
        st.error(str(err), icon="⚠️")
        return None, used, as_chat
    return spec, used, as_chat


def query_box(key: str = BUILDER_PREFIX) -> str:
    """The Builder's input box (its value is part of the draft, restored by :func:`spec_editor`)."""
    return st.text_area("Input (the query)", key=f"{key}_query", height=100)


def parts_html(parts: Sequence[tuple[str, str]]) -> str:
    """The prompt as HTML with each part on its colour; all text is escaped."""
    spans = "".join(
        f'<span title="{html.escape(kind)}" style="background:{PART_COLOURS.get(kind, "#ffffff")}">'
        f"{html.escape(text)}</span>"
        for kind, text in parts
    )
    return ('<div class="wb-scroll" style="white-space:pre-wrap;font-family:monospace;font-size:0.85rem;line-height:1.5;'
            f'border:1px solid #ddd;border-radius:6px;padding:0.6rem">{spans}</div>')


def show_rendered(rendered: RenderedPrompt, window: int | None, reserved: int) -> None:
    """The exact text sent, parts coloured, its token count against the window, and any dropped demos."""
    count = f"{rendered.tokens} + {reserved} reserved / {window} tokens" if rendered.tokens is not None else ""
    st.markdown(f"**Exact text sent to the model** · {count} · {plural(len(rendered.demos), 'demonstration')}")
    legend = " ".join(f'<span style="background:{c};padding:0 4px">{k}</span>' for k, c in PART_COLOURS.items()
                      if any(kind == k for kind, _ in rendered.parts))
    st.html(f'<div style="font-size:0.75rem">{legend}</div>{parts_html(rendered.parts)}')
    if rendered.dropped:
        st.warning(f"Dropped {plural(rendered.dropped, 'demonstration')} so the prompt plus {reserved} generated tokens "
                   f"fits the {window}-token context window.", icon="✂️")
    with st.expander("Plain text (to copy)"):
        st.code(rendered.text, language=None, wrap_lines=True)


def empty_reasoning(gen: Generation, cfg: DecodingConfig) -> str:
    """Why Zero-shot-CoT's reasoning panel is empty: what stopped the model, and what to change."""
    wrote = f"{plural(gen.completion_tokens, 'token')}, no visible text" if gen.text else "nothing"
    if gen.finish_reason == "length":
        why = f"max_new_tokens ({cfg.max_new_tokens}) ran out"
    elif cfg.stop:
        shown = ", ".join(repr(s) for s in cfg.stop)
        why = f"it began a stop string ({shown}) or ended its text at once"
    else:
        why = "it ended its text at once"
    return (f"The reasoning stage wrote {wrote}: {why}. The answer stage below asks for the answer without "
            "any reasoning. A base model often does this after \"Let's think step by step.\"; try a Manual-CoT "
            "demonstration, another model, more max_new_tokens, or fewer stop strings.")


def run_and_show(
    spec: PromptSpec, demos: Sequence[Example], query: str, backend: Backend, cfg: DecodingConfig, as_chat: bool,
    key: str = "pb",
) -> PromptRun | None:
    """Run every stage, streaming each into the page; show the extracted answer and timing. ``key`` names the
    stages' Stop buttons (``{key}_reasoning``, ``{key}_answer``): one per run shown on a page."""
    stages = spec.mode.stages
    two_stage = spec.mode.answer_step
    start = time.perf_counter()

    def runner(name: str, prompt: str, stage_cfg: DecodingConfig) -> Generation:
        if two_stage:
            st.markdown(f"**Stage {stages.index(name) + 1} · {name}**")
            if name == ANSWER_STAGE:
                with st.expander("Stage 2 prompt (stage 1 prompt + reasoning + answer trigger)"):
                    st.code(prompt, language=None, wrap_lines=True)
        else:
            st.markdown("**Completion**")
        gen = stream_into_page(backend, prompt, stage_cfg, key=f"{key}_{name}")
        if two_stage and name == REASONING_STAGE and not gen.text.strip():
            st.info(empty_reasoning(gen, stage_cfg), icon="💭")
        return gen

    with user_errors():
        if not query.strip():
            raise PromptError("The query is empty; type the input the model should answer.")
        run = run_prompt(spec, demos, query, backend, cfg, as_chat=as_chat, runner=runner)
        answer = run.answer if run.answer is not None else "(none found)"
        st.success(f"Answer: {answer}", icon="✅")
        st.caption(f"extraction rule: {run.extraction.rule} · {plural(len(run.stages), 'call')} · "
                   f"model {run.seconds:.2f} s · total {time.perf_counter() - start:.2f} s")
        return run
    return None
