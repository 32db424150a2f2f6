"""Prompt-spec widgets: pick a starter, edit every part, edit demonstrations, preview and run.

The Prompt Builder page is made of these; other pages (Demonstrations, Evaluate) call
:func:`spec_editor` / :func:`show_rendered` / :func:`run_and_show` to reuse them.
Every widget key starts with the caller's ``key`` prefix, so two editors can share a page.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from ui.common import user_errors
from workbench.answers import AnswerFormat
from workbench.backends import Backend, Generation
from workbench.data import Example
from workbench.decoding import DecodingConfig
from workbench.errors import PromptError, WorkbenchError
from workbench.prompts import (
    CHAT_LAYOUTS,
    REASONING_MODES,
    PromptRun,
    PromptSpec,
    RenderedPrompt,
    SpecFile,
    run_prompt,
    starter_specs,
)

BLANK = "Blank"
SHOTS = ("Zero-shot", "One-shot", "Few-shot")
REASONING_LABELS = {"none": "None (answer only)", "manual_cot": "Manual-CoT (rationale in demos)",
                    "zero_shot_cot": "Zero-shot-CoT (trigger + answer step)", "auto_cot": "Auto-CoT demos"}
DEMO_COLUMNS = ("input", "answer", "rationale", "label")
#: Background colour of each part kind in the coloured preview.
PART_COLOURS = {"system": "#e8e0f8", "instruction": "#fff2c6", "demo": "#d9ecff", "separator": "#eeeeee",
                "query": "#d8f5d8", "prefix": "#ffe0c2", "trigger": "#ffd0d8", "template": "#f3f3f3"}


@st.cache_data(show_spinner=False)
def _starters() -> dict[str, SpecFile]:
    return starter_specs()


def _escape(text: str) -> str:
    """Newlines and tabs as \\n and \\t, so one-line inputs can hold them."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append({"n": "\n", "t": "\t", "\\": "\\"}.get(text[i + 1], "\\" + text[i + 1]))
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _rows(demos: Sequence[Example]) -> list[dict[str, str]]:
    return [{"input": d.input, "answer": d.answer, "rationale": d.rationale or "", "label": d.label or ""}
            for d in demos]


def _text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def load_into_state(key: str, spec_file: SpecFile) -> None:
    """Put a spec file's values into the editor's widgets (used for starters and imports)."""
    s, ss = spec_file.spec, st.session_state
    ss[f"{key}_instruction"] = s.instruction
    ss[f"{key}_demo_tpl"] = s.demo_template
    ss[f"{key}_cot_tpl"] = s.cot_demo_template
    ss[f"{key}_query_tpl"] = s.query_template
    ss[f"{key}_sep"] = _escape(s.separator)
    ss[f"{key}_prefix"] = _escape(s.answer_prefix)
    ss[f"{key}_reasoning"] = s.reasoning
    ss[f"{key}_trigger"] = s.cot_trigger
    ss[f"{key}_format"] = s.answer_format
    ss[f"{key}_answer_trigger"] = s.answer_trigger or ""
    ss[f"{key}_labels"] = ", ".join(s.labels)
    ss[f"{key}_layout"] = s.chat_layout
    ss[f"{key}_system"] = s.system
    ss[f"{key}_spec_stop"] = ", ".join(_escape(x) for x in s.stop)
    ss[f"{key}_rows"] = _rows(spec_file.demos)
    ss[f"{key}_rows_v"] = ss.get(f"{key}_rows_v", 0) + 1  # a new editor key: the table starts from these rows
    ss[f"{key}_shots"] = "Few-shot" if len(spec_file.demos) > 1 else SHOTS[len(spec_file.demos)]
    ss[f"{key}_k"] = max(len(spec_file.demos), 1)
    ss[f"{key}_query"] = spec_file.example


def _on_starter(key: str) -> None:
    name = st.session_state[f"{key}_starter"]
    load_into_state(key, _starters()[name] if name != BLANK else SpecFile(name=BLANK, spec=PromptSpec()))


def _on_add(key: str) -> None:
    ss = st.session_state
    new = {c: ss.get(f"{key}_new_{c}", "") for c in DEMO_COLUMNS}
    if not new["input"].strip():
        ss[f"{key}_add_error"] = "Type the demonstration's input before adding it."
        return
    ss[f"{key}_rows"] = [*ss.get(f"{key}_current", ss[f"{key}_rows"]), new]
    ss[f"{key}_rows_v"] += 1
    for c in DEMO_COLUMNS:
        ss[f"{key}_new_{c}"] = ""


def starter_picker(key: str, default: str = "sentiment") -> None:
    """Starter spec selector; choosing one loads it into every widget of the editor."""
    names = [BLANK, *_starters()]
    if f"{key}_starter" not in st.session_state:
        st.session_state[f"{key}_starter"] = default if default in names else BLANK
        _on_starter(key)
    st.selectbox("Starter spec", names, key=f"{key}_starter", on_change=_on_starter, args=(key,),
                 format_func=lambda n: n if n == BLANK else _starters()[n].name,
                 help="Loads a shipped spec with its demonstrations; then edit anything.")


def demos_editor(key: str) -> list[Example]:
    """Demonstrations in an editable table (add rows at the bottom) plus a quick 'add one' form."""
    ss = st.session_state
    with st.expander("Add a demonstration", expanded=not ss[f"{key}_rows"]):
        c1, c2 = st.columns(2)
        c1.text_area("Input", key=f"{key}_new_input", height=68)
        c2.text_input("Answer", key=f"{key}_new_answer")
        c2.text_input("Rationale (CoT)", key=f"{key}_new_rationale")
        c2.text_input("Label (optional)", key=f"{key}_new_label")
        st.button("Add demonstration", key=f"{key}_add", on_click=_on_add, args=(key,))
        if message := ss.pop(f"{key}_add_error", None):
            st.error(message, icon="⚠️")
    frame = pd.DataFrame(ss[f"{key}_rows"], columns=list(DEMO_COLUMNS)).astype("string")
    edited = st.data_editor(frame, num_rows="dynamic", width="stretch", key=f"{key}_table_{ss[f'{key}_rows_v']}",
                            column_config={c: st.column_config.TextColumn(c, width="medium" if c == "input" else None)
                                           for c in DEMO_COLUMNS})
    rows = [{c: _text(r.get(c)) for c in DEMO_COLUMNS} for r in edited.to_dict("records")]
    rows = [r for r in rows if r["input"].strip() or r["answer"].strip()]
    ss[f"{key}_current"] = rows
    return [Example(id=f"row {i}", input=r["input"], answer=r["answer"], rationale=r["rationale"] or None,
                    label=r["label"] or None) for i, r in enumerate(rows, start=1)]


def shots_picker(key: str) -> int:
    """Zero/one/few-shot; returns K, the number of demonstrations to use."""
    c1, c2 = st.columns([2, 1])
    shots = c1.radio("Shots", SHOTS, key=f"{key}_shots", horizontal=True)
    k = c2.number_input("K", 0, 256, key=f"{key}_k", disabled=shots != "Few-shot",
                        help="Few-shot: how many demonstrations (the first K rows).")
    return {"Zero-shot": 0, "One-shot": 1}.get(shots, int(k))


def spec_editor(key: str, backend: Backend | None) -> tuple[PromptSpec | None, list[Example], bool]:
    """Every part of a spec, the demonstrations and K. Returns (spec or None on error, demos used, as_chat)."""
    ss = st.session_state
    starter_picker(key)
    is_chat = backend is not None and backend.is_chat
    c1, c2 = st.columns(2)
    c1.selectbox("Reasoning", REASONING_MODES, key=f"{key}_reasoning", format_func=REASONING_LABELS.get)
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
    c1, c2 = st.columns(2)
    raw = c1.toggle("Raw text (skip the chat template)", key=f"{key}_raw", disabled=not is_chat,
                    help="Chat models get their own chat template unless this is on; base models always get raw text.")
    as_chat = is_chat and not raw
    c2.radio("Demonstrations in chat", CHAT_LAYOUTS, key=f"{key}_layout", horizontal=True, disabled=not as_chat,
             format_func={"turns": "as user/assistant turns", "inline": "inline in one message"}.get)
    st.text_area("System message (chat models)", key=f"{key}_system", height=68, disabled=not as_chat)

    st.markdown("**Demonstrations**")
    demos = demos_editor(key)
    k = shots_picker(key)
    if k > len(demos):
        st.caption(f"K = {k} but there are {len(demos)} demonstrations; using all of them.")
    used = demos[:k]
    try:
        spec = PromptSpec(
            instruction=ss[f"{key}_instruction"], demo_template=ss[f"{key}_demo_tpl"],
            cot_demo_template=ss[f"{key}_cot_tpl"], query_template=ss[f"{key}_query_tpl"],
            separator=_unescape(ss[f"{key}_sep"]), answer_prefix=_unescape(ss[f"{key}_prefix"]),
            reasoning=ss[f"{key}_reasoning"], cot_trigger=ss[f"{key}_trigger"], answer_format=ss[f"{key}_format"],
            answer_trigger=ss[f"{key}_answer_trigger"].strip() or None,
            labels=tuple(x.strip() for x in ss[f"{key}_labels"].split(",") if x.strip()),
            chat_layout=ss[f"{key}_layout"], system=ss[f"{key}_system"],
            stop=tuple(_unescape(x.strip()) for x in ss[f"{key}_spec_stop"].split(",") if x.strip()),
        )
    except WorkbenchError as err:
        st.error(str(err), icon="⚠️")
        return None, used, as_chat
    ss["spec"], ss["demos"] = spec, used  # shared with the Demonstrations and Evaluate pages
    return spec, used, as_chat


def parts_html(parts: Sequence[tuple[str, str]]) -> str:
    """The prompt as HTML with each part on its colour; all text is escaped."""
    spans = "".join(
        f'<span title="{html.escape(kind)}" style="background:{PART_COLOURS.get(kind, "#ffffff")}">'
        f"{html.escape(text)}</span>"
        for kind, text in parts
    )
    return ('<div style="white-space:pre-wrap;font-family:monospace;font-size:0.85rem;line-height:1.5;'
            f'border:1px solid #ddd;border-radius:6px;padding:0.6rem">{spans}</div>')


def show_rendered(rendered: RenderedPrompt, window: int | None, reserved: int) -> None:
    """The exact text sent, parts coloured, its token count against the window, and any dropped demos."""
    count = f"{rendered.tokens} + {reserved} reserved / {window} tokens" if rendered.tokens is not None else ""
    st.markdown(f"**Exact text sent to the model** · {count} · {len(rendered.demos)} demonstrations")
    legend = " ".join(f'<span style="background:{c};padding:0 4px">{k}</span>' for k, c in PART_COLOURS.items()
                      if any(kind == k for kind, _ in rendered.parts))
    st.html(f'<div style="font-size:0.75rem">{legend}</div>{parts_html(rendered.parts)}')
    if rendered.dropped:
        st.warning(f"Dropped {rendered.dropped} demonstration(s) so the prompt plus {reserved} generated tokens "
                   f"fits the {window}-token context window.", icon="✂️")
    with st.expander("Plain text (to copy)"):
        st.code(rendered.text, language=None, wrap_lines=True)


def run_and_show(
    spec: PromptSpec, demos: Sequence[Example], query: str, backend: Backend, cfg: DecodingConfig, as_chat: bool
) -> PromptRun | None:
    """Run every stage, streaming each into the page; show the extracted answer and timing."""
    two_stage = spec.reasoning == "zero_shot_cot"
    start = time.perf_counter()

    def runner(name: str, prompt: str, stage_cfg: DecodingConfig) -> Generation:
        if two_stage:
            st.markdown(f"**Stage {'1 · reasoning' if name == 'reasoning' else '2 · answer'}**")
            if name == "answer":
                with st.expander("Stage 2 prompt (stage 1 prompt + reasoning + answer trigger)"):
                    st.code(prompt, language=None, wrap_lines=True)
        else:
            st.markdown("**Completion**")
        waiting = st.empty()
        stream = backend.stream(
            prompt, stage_cfg,
            on_wait=lambda pos: waiting.info(f"The model is busy; you are number {pos} in the queue…"),
        )
        st.write_stream(stream)
        waiting.empty()
        st.caption(stream.generation.summary())
        return stream.generation

    with user_errors():
        if not query.strip():
            raise PromptError("The query is empty; type the input the model should answer.")
        run = run_prompt(spec, demos, query, backend, cfg, as_chat=as_chat, runner=runner)
        answer = run.answer if run.answer is not None else "(none found)"
        st.success(f"Answer: {answer}", icon="✅")
        st.caption(f"extraction rule: {run.extraction.rule} · {len(run.stages)} call(s) · "
                   f"model {run.seconds:.2f} s · total {time.perf_counter() - start:.2f} s")
        return run
    return None
