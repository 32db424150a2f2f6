"""Decoding Lab widgets: prompt and config pickers, the comparison grid, the probability explorer
and the self-consistency panel. The page is made of these; the work is in workbench.compare and
workbench.explorer. Every widget key starts with ``lab_``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import altair as alt
import pandas as pd
import streamlit as st

from ui.common import show_prompt, user_errors
from ui.decoding_controls import decoding_controls
from ui.fields import number_field, unless_set
from ui.state import builder_state, built_prompt
from ui.streaming import queue_text, show_stopped, stop_button
from workbench.answers import AnswerFormat
from workbench.backends import Backend, Generation
from workbench.compare import (
    MAX_CONFIGS,
    Grid,
    SelfConsistency,
    diverge,
    grid_to_csv,
    grid_to_json,
    run_grid,
    self_consistency,
)
from workbench.decoding import MAX_SAMPLES, DecodingConfig
from workbench.explorer import ExplorerState, NextToken, advance, next_token, start
from workbench.prompts import PromptSpec, render
from workbench.prompts.running import stage_config
from workbench.reasoning.wrapper import SELF_CONSISTENCY
from workbench.words import plural

#: Preset each config column starts on, in order (wraps around).
DEFAULT_PRESETS = ("Greedy", "Balanced", "Precise", "Creative")
#: Most config columns side by side; more configs wrap onto further rows.
COLUMNS_PER_ROW = 4
#: Columns the decoding settings take inside one config's column, by configs per row (narrow: one, labels whole).
SETTINGS_COLUMNS = {1: 2, 2: 2}
#: The page's own inputs, kept across page switches (Streamlit forgets widgets a page did not draw); each
#: config's decoding settings are kept by ``decoding_controls`` itself.
KEPT_KEYS = ("lab_source", "lab_ab", "lab_input_a", "lab_input_b", "lab_prompt_a", "lab_prompt_b", "lab_nconf",
             "lab_runs", "lab_x_top", "lab_sc_n", "lab_sc_fmt", "lab_sc_labels", "lab_sc_step")
SPEC_SOURCE, TEXT_SOURCE = "Prompt Builder spec", "Plain text"
#: Colours of the divergence highlight: shared prefix, and where this output differs.
PREFIX_BG, TAIL_BG = "#e8e8e8", "#fff2b3"
#: Bar colours of the explorer chart.
BAR_COLOURS = {"raw probability": "#9ecae1", "after warpers": "#2171b5", "cut away": "#d9d9d9"}


# --------------------------------------------------------------------------- inputs

def prompt_inputs(backend: Backend | None) -> tuple[dict[str, str], PromptSpec | None]:
    """Prompt A (and B when asked): plain text, or the Prompt Builder's spec rendered around an input.

    Returns the exact texts by label and the spec used (None for plain text).
    """
    built = built_prompt()  # the Prompt Builder's draft (also after a hand-over to it)
    spec, demos = (built.spec, built.demos) if built is not None else (None, ())
    source = TEXT_SOURCE
    if spec is not None:
        origin = builder_state().origin  # set when a page handed a prompt over (e.g. the Library's "Open in…")
        source = st.radio("Prompt source", (SPEC_SOURCE, TEXT_SOURCE), horizontal=True, key="lab_source",
                          help="The spec and demonstrations of the Prompt Builder.",
                          **unless_set("lab_source", index=0 if origin else 1))
        if source == SPEC_SOURCE and origin:
            st.caption(f"Prompt Builder spec · from {origin}")
    two = st.toggle("Compare two prompts (A vs B)", key="lab_ab")
    labels = ("A", "B") if two else ("A",)
    texts: dict[str, str] = {}
    cols = st.columns(len(labels))
    for label, col in zip(labels, cols, strict=True):
        with col:
            if source == SPEC_SOURCE:
                query = st.text_area(f"Input {label}", key=f"lab_input_{label.lower()}", height=90)
                if query.strip():
                    with user_errors():
                        texts[label] = render(spec, demos, query, backend).text
            else:
                default = "The capital of France is" if label == "A" else "The capital of Italy is"
                key = f"lab_prompt_{label.lower()}"
                value = st.text_area(f"Prompt {label}", key=key, height=120, **unless_set(key, value=default))
                if value.strip():
                    texts[label] = value
            if label in texts and backend is not None:
                with st.expander(f"Exact text of prompt {label}", expanded=False):
                    show_prompt(texts[label], backend.count_tokens(texts[label]), backend.context_window,
                                exact=backend.capabilities.exact_token_counts)
    return texts, (spec if source == SPEC_SOURCE else None)


def config_inputs(spec: PromptSpec | None = None) -> list[tuple[str, DecodingConfig]] | None:
    """Up to MAX_CONFIGS decoding configs side by side; None when one of them is invalid (error shown)."""
    count, problem = number_field(st, "Decoding configs to compare", 2, key="lab_nconf", lo=1, hi=MAX_CONFIGS)
    if problem:
        return None
    count = int(count)
    configs: list[tuple[str, DecodingConfig]] = []
    valid = True
    per_row = min(count, COLUMNS_PER_ROW)  # as many columns as configs: two configs get half the width each
    for start_at in range(0, count, per_row):
        cols = st.columns(per_row)
        for i in range(start_at, min(count, start_at + per_row)):
            with cols[i - start_at]:
                st.markdown(f"**Config {i + 1}**")
                cfg = decoding_controls(f"lab_c{i}", DEFAULT_PRESETS[i % len(DEFAULT_PRESETS)],
                                        columns=SETTINGS_COLUMNS.get(per_row, 1))
                if cfg is None:
                    valid = False
                    continue
                if spec is not None:
                    cfg = stage_config(spec, cfg, stage=spec.mode.stages[0])  # the spec's stop strings
                configs.append((f"{i + 1}. {st.session_state[f'lab_c{i}_preset']}", cfg))
    return configs if valid else None


# --------------------------------------------------------------------------- grid

def run_and_store_grid(backend: Backend, prompts: dict[str, str], configs, runs: int) -> None:
    """Run the grid with a progress bar and keep it in the session (``lab_grid``)."""
    stop = st.empty()
    stop_button("lab_grid", stop)
    bar = st.progress(0.0, text="Waiting for the model… (the first cell is being generated)")
    waiting = st.empty()

    def on_cell(cell, done: int, total: int) -> None:  # each update is where a Stop click takes effect
        waiting.empty()
        bar.progress(done / total, text=f"{done}/{total} cells · last: prompt {cell.prompt}, {cell.config}")

    def on_wait(position: int) -> None:
        waiting.info(queue_text(position), icon="⏳")

    with user_errors():
        st.session_state["lab_grid"] = run_grid(backend, prompts, configs, runs, on_cell=on_cell, on_wait=on_wait)
    bar.empty()
    stop.empty()


def output_html(prefix: str, tail: str) -> str:
    """One output with the shared prefix greyed and the part where it differs highlighted (escaped)."""
    return ('<div class="lab-out wb-scroll" style="white-space:pre-wrap;font-family:monospace;font-size:0.85rem;'
            'border:1px solid #ddd;border-radius:6px;padding:0.5rem">'
            f'<span style="background:{PREFIX_BG};color:#555">{html.escape(prefix)}</span>'
            f'<span style="background:{TAIL_BG}">{html.escape(tail)}</span></div>')


def _settings(cfg: DecodingConfig) -> str:
    if not cfg.do_sample:
        parts = ["greedy"]
    else:
        parts = [f"T={cfg.temperature:g}"]
        parts += [f"top_k={cfg.top_k}"] if cfg.top_k else []
        parts += [f"top_p={cfg.top_p:g}"] if cfg.top_p < 1 else []
        parts += [f"min_p={cfg.min_p:g}"] if cfg.min_p else []
        parts += [f"typical_p={cfg.typical_p:g}"] if cfg.typical_p < 1 else []
        parts += [f"order: {' → '.join(cfg.sampler_order)}"] if cfg.sampler_order else []
    parts += [f"rep={cfg.repetition_penalty:g}"] if cfg.repetition_penalty != 1 else []
    return " · ".join(parts) + f" · max {cfg.max_new_tokens}"


def _caption(gen: Generation) -> str:
    seed = f"seed {gen.seed} · " if gen.seed is not None else ""
    speed = f"{gen.tokens_per_second:.1f} tokens/s" + (" with the prompt" if gen.prompt_seconds is None else "")
    return f"{seed}{plural(gen.completion_tokens, 'token')} · {gen.seconds:.2f} s · {speed} · {gen.finish_reason}"


def show_grid(grid: Grid) -> None:
    """Outputs in columns (one row of columns per prompt), divergence highlighted, and the exports."""
    configs = dict(grid.configs)
    for plabel, _ in grid.prompts:
        cells = [c for c in grid.cells if c.prompt == plabel]
        texts = [g.text for c in cells for g in c.generations]
        split = diverge(texts)
        if len(grid.prompts) > 1:
            st.subheader(f"Prompt {plabel}")
        if split.identical:
            st.caption("All outputs are identical.")
        else:
            st.caption(f"All outputs share the first {len(split.prefix)} characters (grey); "
                       "yellow is where each one differs.")
        tails = iter(split.tails)
        per_row = min(len(cells), COLUMNS_PER_ROW) or 1
        for start_at in range(0, len(cells), per_row):
            cols = st.columns(per_row)
            for cell, col in zip(cells[start_at:start_at + per_row], cols, strict=False):
                with col:
                    st.markdown(f"**{cell.config}**")
                    st.caption(_settings(configs[cell.config]))
                    for gen in cell.generations:
                        st.markdown(output_html(split.prefix, next(tails)), unsafe_allow_html=True)
                        st.caption(_caption(gen))
    st.caption(f"Grid finished in {grid.seconds:.2f} s.")
    c1, c2 = st.columns(2)
    c1.download_button("Export grid as JSON", grid_to_json(grid), "decoding_grid.json", "application/json",
                       key="lab_export_json")
    c2.download_button("Export grid as CSV", grid_to_csv(grid), "decoding_grid.csv", "text/csv",
                       key="lab_export_csv")


# --------------------------------------------------------------------------- explorer

def _shown(text: str) -> str:
    """A token as a chart label: spaces as ␣, newlines as ↵, empty as ∅."""
    return text.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥") or "∅"


def distribution_frame(nxt: NextToken) -> pd.DataFrame:
    """One row per (token, series) for the chart: raw probability and after warpers (or cut away)."""
    rows = []
    for rank, v in enumerate(nxt.views, 1):
        label = f"{rank}. {_shown(v.text)}"
        rows.append({"token": label, "series": "raw probability", "probability": v.raw_prob, "rank": rank,
                     "id": v.token_id})
        rows.append({"token": label, "series": "after warpers" if v.kept else "cut away",
                     "probability": v.warped_prob if v.kept else v.raw_prob, "rank": rank, "id": v.token_id})
    return pd.DataFrame(rows)


def probability_chart(nxt: NextToken) -> alt.Chart:
    """Grouped bars: each top token's raw probability and its probability after the warpers (grey if cut)."""
    scale = alt.Scale(domain=list(BAR_COLOURS), range=list(BAR_COLOURS.values()))
    # Every bar gets its label (Vega-Lite would drop overlapping ones: every fourth bar labelled); many bars
    # turn the labels upright so they fit.
    axis = alt.Axis(labelAngle=-45 if len(nxt.views) <= 20 else -90, labelOverlap=False, labelFontSize=11,
                    labelLimit=90)
    return (
        alt.Chart(distribution_frame(nxt))
        .mark_bar()
        .encode(
            x=alt.X("token:N", sort=alt.SortField("rank"), title=None, axis=axis),
            xOffset=alt.XOffset("series:N", sort=list(BAR_COLOURS)),
            y=alt.Y("probability:Q", title="probability"),
            color=alt.Color("series:N", scale=scale, legend=alt.Legend(orient="top", title=None)),
            tooltip=["token", "series", alt.Tooltip("probability:Q", format=".4f"), "id"],
        )
        .properties(height=320)
    )


def _explorer_reset(backend: Backend, prompt: str) -> None:
    with user_errors():
        st.session_state["lab_x_state"] = start(backend, prompt)
        st.session_state["lab_x_prompt"] = prompt


def _explorer_step(backend: Backend, cfg: DecodingConfig, how: str) -> None:
    ss = st.session_state
    token_id = None
    if how == "clicked":
        token_id = ss.get("lab_x_pick")
        token_id = None if token_id is None else int(str(token_id).split(" ", 1)[0].lstrip("#"))
    with user_errors():
        ss["lab_x_state"] = advance(backend, ss["lab_x_state"], cfg, how, token_id)


def _walk_html(backend: Backend, state: ExplorerState, tail_chars: int = 300) -> str:
    colours = {"greedy": "#d8f5d8", "sampled": "#d9ecff", "clicked": "#ffe0c2"}
    prompt = "".join(backend.token_text(t) for t in state.prompt_ids[-80:])[-tail_chars:]
    chosen = "".join(f'<span title="{how}" style="background:{colours[how]}">{html.escape(backend.token_text(t))}'
                     "</span>" for t, how in zip(state.chosen, state.how, strict=True))
    return ('<div style="white-space:pre-wrap;font-family:monospace;font-size:0.85rem;border:1px solid #ddd;'
            f'border-radius:6px;padding:0.5rem"><span style="color:#888">…{html.escape(prompt)}</span>{chosen}</div>')


def top_tokens_only(backend: Backend, prompt: str) -> None:
    """A backend without every logit (a server): its top next tokens, raw, and why there is no more."""
    top, bad_top = number_field(st, "Tokens shown", 20, key="lab_x_top", lo=5, hi=50)
    st.info(f"This model is served by **{backend.name}**, which returns only the most likely next tokens with "
            "their log-probabilities, not every logit. The warpers (temperature, top-k, top-p, …) reshape the "
            "whole distribution, so the explorer cannot show them faithfully here: pick an in-process model "
            "(llama.cpp or transformers) for that. The raw top tokens after your prompt:")
    if bad_top:
        return
    with user_errors():
        dist = backend.next_token_distribution(prompt, int(top))
        frame = pd.DataFrame({"token": [repr(t.text) for t in dist], "id": [t.token_id for t in dist],
                              "probability": [t.prob for t in dist]})
        st.dataframe(frame, hide_index=True, key="lab_x_top_only",
                     column_config={"probability": st.column_config.ProgressColumn(
                         "probability", min_value=0.0, max_value=1.0, format="%.4f")})


def explorer_panel(backend: Backend, prompt: str) -> None:
    """Next-token distribution raw vs after the warpers, and stepping token by token."""
    if not backend.capabilities.full_logits:
        top_tokens_only(backend, prompt)
        return
    ss = st.session_state
    left, right = st.columns([1, 2], gap="large")
    with left:
        cfg = decoding_controls("lab_xd", "Balanced", columns=1)  # a third of the page: one column
        top, bad_top = number_field(st, "Tokens shown", 20, key="lab_x_top", lo=5, hi=50)
        top = int(top)
    if cfg is None or bad_top:
        return
    if ss.get("lab_x_prompt") != prompt or "lab_x_state" not in ss:
        _explorer_reset(backend, prompt)
    state: ExplorerState | None = ss.get("lab_x_state")
    if state is None:
        return
    with right:
        cache_key = (backend.spec.id, backend.name, state, cfg, top)
        cached = ss.get("lab_x_next")
        if cached is None or cached[0] != cache_key:
            with user_errors():
                cached = (cache_key, next_token(backend, state, cfg, top))
                ss["lab_x_next"] = cached
        if cached is None or cached[0] != cache_key:
            return
        nxt: NextToken = cached[1]
        st.markdown(f"**Step {state.step}** · text so far (green greedy, blue sampled, orange clicked):")
        st.markdown(_walk_html(backend, state), unsafe_allow_html=True)
        st.altair_chart(probability_chart(nxt), width="stretch", key="lab_x_chart")
        vocab = nxt.logits.size
        st.caption(f"{nxt.kept} of {vocab} tokens survive the warpers"
                   + (f", the warpers applied in this order on {backend.name}: {nxt.order_text}" if cfg.do_sample
                      else " (greedy: only penalties apply; the top bar is picked)") + ".")
        b1, b2, b3, b4 = st.columns(4)
        b1.button("Greedy step", key="lab_x_greedy", on_click=_explorer_step, args=(backend, cfg, "greedy"))
        b2.button("Sample step", key="lab_x_sample", on_click=_explorer_step, args=(backend, cfg, "sampled"),
                  disabled=not cfg.do_sample, help="Seeded by the config's seed and the step number.")
        b3.button("Undo", key="lab_x_undo", disabled=state.step == 0,
                  on_click=lambda: ss.__setitem__("lab_x_state", ss["lab_x_state"].undo()))
        b4.button("Restart", key="lab_x_reset", on_click=_explorer_reset, args=(backend, prompt))
        options = [f"#{v.token_id} {_shown(v.text)} ({v.raw_prob:.3f})" for v in nxt.views]
        p1, p2 = st.columns([3, 1])
        p1.selectbox("Pick a token", options, key="lab_x_pick", label_visibility="collapsed")
        p2.button("Choose", key="lab_x_choose", on_click=_explorer_step, args=(backend, cfg, "clicked"))
        with st.expander("Numbers", expanded=False):
            st.dataframe(pd.DataFrame([{"token": _shown(v.text), "id": v.token_id, "raw": v.raw_prob,
                                        "after warpers": v.warped_prob, "kept": v.kept} for v in nxt.views]),
                         hide_index=True, key="lab_x_table")


# --------------------------------------------------------------------------- self-consistency

def self_consistency_panel(backend: Backend, prompt: str, spec: PromptSpec | None) -> None:
    """Sample n reasoning paths, extract each answer, show the vote table and the agreement rate."""
    ss = st.session_state
    st.caption("Self-consistency (Wang et al. 2022): sample several reasoning paths and take the majority answer. "
               "Works best with a few-shot chain-of-thought prompt whose demonstrations end in \"The answer is X.\"")
    formats = [f.value for f in AnswerFormat]
    c1, c2 = st.columns(2)
    with c1:
        n, bad_n = number_field(st, "Reasoning paths", 5, key="lab_sc_n", lo=2, hi=MAX_SAMPLES)
        n = int(n)
        fmt = st.selectbox("Answer format", formats, key="lab_sc_fmt",
                           **unless_set("lab_sc_fmt", index=formats.index(spec.answer_format if spec else "number")))
        labels_text = st.text_input("Labels / choice letters (comma-separated)", key="lab_sc_labels",
                                    **unless_set("lab_sc_labels", value=", ".join(spec.labels) if spec else ""))
        answer_step = st.toggle("Zero-shot-CoT answer step", key="lab_sc_step",
                                help="After each path, append the answer trigger and read a short greedy answer "
                                     "(Kojima et al.).",
                                **unless_set("lab_sc_step", value=spec is not None and spec.mode.answer_step))
    with c2:
        cfg = decoding_controls("lab_scd", "Balanced")
    labels = [x.strip() for x in labels_text.split(",") if x.strip()]
    labels_arg: Sequence[str] | str | None = ("".join(labels) if fmt == AnswerFormat.CHOICE else labels) or None
    if st.button("Sample and vote", type="primary", key="lab_sc_go", disabled=cfg is None or bool(bad_n)):
        if spec is not None:
            cfg = stage_config(spec, cfg, stage=SELF_CONSISTENCY.sampled_stage(spec.mode))
        stop = st.empty()
        stop_button("lab_sc", stop)
        bar = st.progress(0.0, text="Waiting for the model… (sampling the first reasoning path)")
        with user_errors():  # each progress update is where a Stop click takes effect
            ss["lab_sc_result"] = self_consistency(
                backend, prompt, cfg, n, fmt, labels=labels_arg, answer_step=answer_step,
                on_path=lambda done, total: bar.progress(done / total, text=f"{done}/{total} calls"),
            )
        bar.empty()
        stop.empty()
    else:
        show_stopped("lab_sc")
    result: SelfConsistency | None = ss.get("lab_sc_result")
    if result is not None:
        show_self_consistency(result)


def show_self_consistency(result: SelfConsistency) -> None:
    """Winner, agreement rate, vote table and every path."""
    m1, m2, m3 = st.columns(3)
    m1.metric("Majority answer", "—" if result.vote.winner is None else str(result.vote.winner))
    m2.metric("Agreement", f"{result.vote.agreement:.0%}")
    m3.metric("Paths with an answer", f"{result.answered} / {len(result.paths)}")
    total = sum(c for _, c in result.vote.counts) or 1
    st.dataframe(pd.DataFrame([{"answer": str(a), "votes": c, "share": c / total} for a, c in result.vote.counts],
                              columns=["answer", "votes", "share"]), hide_index=True, key="lab_sc_votes")
    with st.expander("Reasoning paths", expanded=False):
        st.dataframe(pd.DataFrame([{"seed": p.seed, "answer": p.answer, "as written": p.raw_answer, "rule": p.rule,
                                    "text": p.text}
                                   for p in result.paths]), hide_index=True, key="lab_sc_paths")
