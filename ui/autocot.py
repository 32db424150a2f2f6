"""Auto-CoT page widgets: build with progress, inspect clusters, edit, use as demonstrations."""

from __future__ import annotations

from collections import Counter

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from ui.fields import number_field
from ui.handover import BUILDER_PAGE, demos_to_builder
from ui.state import (
    AUTOCOT_WIDGETS,
    autocot_settings,
    autocot_work,
    restore_widgets,
    save_autocot_settings,
    save_autocot_work,
    widget_values,
)
from workbench.autocot.config import REFERENCE_TASKS, AutoCoTConfig, task_for
from workbench.autocot.demo import Demo, as_examples
from workbench.autocot.embedding import clustering_texts
from workbench.autocot.files import demos_from_json, demos_to_json
from workbench.autocot.filters import question_text
from workbench.autocot.reasoner import REASONING_DECODING, zero_shot_cot_reasoner
from workbench.autocot.selection import build_demos, redo, with_fallbacks
from workbench.decoding import DecodingConfig
from workbench.evaluate.formats import infer_format
from workbench.prompts.spec import PromptSpec, next_question_stops
from workbench.reasoning import AUTO_COT
from workbench.words import plural

#: Cluster colours of the scatter: a categorical palette (Tableau 10), neighbours far apart in hue.
CLUSTER_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#edc948", "#76b7b2", "#ff9da7",
                   "#9c755f", "#bab0ac")
FORMATS = {"number": "arabic numerals", "yes_no": "Yes or No", "choice": "a choice letter",
           "label": "a label of the pool", "free": "free text"}
NO_TASK = "none"
#: Widget-key prefix of the page.
KEY = "ac"


def _apply_task() -> None:
    """A reference preset sets the clusters and steps widgets (they stay editable)."""
    task = st.session_state["ac_task"]
    cfg = AutoCoTConfig.for_task(None if task == NO_TASK else task)
    st.session_state["ac_k"], st.session_state["ac_steps"] = cfg.k, cfg.max_rationale_steps


#: The page's number fields: widget name after ``ac_`` -> (label, default, lowest, highest).
NUMBERS = {
    "k": ("Demonstrations k (clusters)", 4, 1, 16),
    "steps": ("Max rationale steps", 5, 1, 50),
    "words": ("Max question words", 60, 1, 500),
    "tries": ("Rationales tried per cluster", 8, 1, 100),
    "limit": ("Questions used (0 = all)", 0, 0, 100_000),
    "max": ("max_new_tokens per rationale", REASONING_DECODING.max_new_tokens, 16, 512),  # the reference's 256
    "seed": ("k-means++ seed", 0, 0, 10_000),
}
#: Which of the four columns each number field takes, in drawing order.
NUMBER_COLUMNS = {"k": 2, "steps": 3, "words": 0, "tries": 1, "limit": 2, "max": 3, "seed": 0}


def settings(pool) -> tuple[AutoCoTConfig | None, str, tuple[str, ...], int, int]:
    """The Auto-CoT settings, kept across pages; the reference preset and the answer type start from the pool.
    The config is None while a number is invalid (the reason under it)."""
    guessed, labels = infer_format(pool) if pool is not None else (None, ())
    tasks = [NO_TASK, *REFERENCE_TASKS]
    kept = autocot_settings()  # the page's settings as the user left them (a page switch drops the widgets)
    restore_widgets(KEY, kept, [n for n in AUTOCOT_WIDGETS if n != "fmt"])
    if "ac_fmt" not in st.session_state:
        st.session_state["ac_fmt"] = kept.fmt or (guessed.value if guessed else next(iter(FORMATS)))
    task = task_for(pool.name) if pool is not None else None
    if task and st.session_state.get("ac_task_pool") != pool.name:  # a reference dataset was picked: its preset
        st.session_state["ac_task_pool"], st.session_state["ac_task"] = pool.name, task
        _apply_task()
    c1, c2, c3, c4 = st.columns(4)
    task = c1.selectbox("Reference task preset", tasks, key="ac_task", on_change=_apply_task,
                        help="run_demo.py --task: its clusters and step limit for that dataset.")
    fmt = c2.selectbox("Answer type", list(FORMATS), format_func=FORMATS.get, key="ac_fmt")
    cols = (c1, c2, c3, c4)
    got: dict[str, int] = {}
    problems = []
    for name, (label, default, lo, hi) in NUMBERS.items():
        got[name], problem = number_field(cols[NUMBER_COLUMNS[name]], label, default, key=f"{KEY}_{name}", lo=lo,
                                          hi=hi, help="From the pool's start." if name == "limit" else None)
        problems.append(problem)
    fallback = st.checkbox("Fallback: a cluster with no passing candidate gives its nearest candidate (marked)",
                           key="ac_fallback",
                           help="A cluster none of whose candidates passes the filters gives its nearest candidate, "
                                "marked fallback. The reference drops such a cluster.")
    save_autocot_settings(widget_values(KEY, AUTOCOT_WIDGETS))
    if any(problems):
        return None, fmt, tuple(labels), 0, 0
    cfg = AutoCoTConfig.for_task(None if task == NO_TASK else task, k=got["k"], max_question_words=got["words"],
                                 max_rationale_steps=got["steps"], max_tries_per_cluster=got["tries"],
                                 fallback=bool(fallback), seed=got["seed"])
    limit, max_new = got["limit"], got["max"]
    if fmt == "label" and not labels and pool is not None:
        labels = pool.labels()
    check = "on" if cfg.checks_answer_at_end(fmt) else "off (the reference checks it on arithmetic sets only)"
    c3.caption(f"Answer in the last sentence or last 10 words: {check}")
    return cfg, fmt, tuple(labels), limit, max_new


def build(backend, embedder, examples, cfg: AutoCoTConfig, fmt: str, labels: tuple[str, ...], max_new: int):
    """Run Auto-CoT with a progress bar; the result goes to session state."""
    reason = zero_shot_cot_reasoner(backend, fmt, DecodingConfig(max_new_tokens=max_new), labels=labels)
    bar = st.progress(0.0, text="Embedding questions…")
    vectors = embedder.encode(clustering_texts(examples))  # "Q: …\nA:" with the choices, as the reference

    def progress(done: int, total: int) -> None:
        bar.progress(done / max(total, 1), text=f"Writing rationales… {done}/{total}")

    result = build_demos(examples, vectors, reason, cfg, progress=progress)
    bar.progress(1.0, text=f"Done: {result.note()}")
    save_autocot_work(result=result, examples=examples, demos=result.demos)


def _use_fallbacks() -> None:
    work = autocot_work()
    result = with_fallbacks(work.result, work.examples)
    save_autocot_work(result=result, demos=result.demos)


def flags(result) -> None:
    """Say which clusters were dropped (what to change, and a one-click way on) or gave a fallback demonstration."""
    if result.dropped:
        dropped = result.dropped
        written = [c for c in dropped if any(t.reasoning is not None for t in result.candidates[c])]
        st.warning(f"Dropped cluster {', '.join(map(str, dropped))}: no candidate passed the filters "
                   f"({_reasons(result, dropped)}), so the reference gives no demonstration there. Small models "
                   "often write long, unfinished rationales. What to change: use the nearest candidate of each "
                   "such cluster anyway, marked fallback (the button below; no rationale is written again), or "
                   "raise Max rationale steps, max_new_tokens or Rationales tried per cluster and build again.",
                   icon="⚠️")
        if written:
            st.button(f"Use the nearest candidate of {plural(len(written), 'dropped cluster')} (marked fallback)",
                      key="ac_use_fallbacks", on_click=_use_fallbacks, type="primary",
                      help="Instant: the rationales already written are reused; each fallback demonstration is "
                           "marked in the table and the demo file.")
    if result.fallbacks:
        st.warning(f"Fallback in cluster {', '.join(map(str, result.fallbacks))}: no candidate passed the filters; "
                   "its nearest candidate is used and marked fallback.")


def _reasons(result, clusters) -> str:
    """How often each filter failed among the clusters' candidates, most frequent first."""
    counts: Counter[str] = Counter()
    for c in clusters:
        for t in result.candidates[c]:
            for f in t.failures:
                counts[FILTER_NAMES.get(next((k for k in FILTER_NAMES if k in f), ""), f)] += 1
    return "; ".join(f"{what}: {n}×" for what, n in counts.most_common())


#: The reference's filters as a failure line names them -> as the warning says them.
FILTER_NAMES = {"steps >": "too many steps", 'does not end with "."': 'not ending with "."',
                "no answer": "no answer", "not in the last sentence": "answer not at the end",
                "words >": "question too long"}


def cluster_colours(clusters: int) -> alt.Scale:
    """One distinct colour per cluster (the palette repeats after ten)."""
    return alt.Scale(domain=[str(c) for c in range(clusters)],
                     range=[CLUSTER_COLOURS[c % len(CLUSTER_COLOURS)] for c in range(clusters)])


def scatter_chart(result, examples, chosen: set[str]) -> alt.Chart:
    """2-D projection (PCA) of the question embeddings, coloured by cluster, chosen questions marked."""
    v = result.vectors - result.vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(v, full_matrices=False)
    xy = v @ vt[:2].T
    df = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "cluster": result.assignments.astype(str),
                       "question": [e.input for e in examples],
                       "chosen": ["chosen" if e.input in chosen else "candidate" for e in examples]})
    clusters = int(result.assignments.max()) + 1 if len(result.assignments) else 0
    return alt.Chart(df).mark_point(filled=True).encode(
        x=alt.X("x", title="PC 1"), y=alt.Y("y", title="PC 2"),
        color=alt.Color("cluster:N", scale=cluster_colours(clusters)),
        shape=alt.Shape("chosen:N", scale=alt.Scale(domain=["candidate", "chosen"], range=["circle", "diamond"])),
        size=alt.condition(alt.datum.chosen == "chosen", alt.value(260), alt.value(50)),
        tooltip=["question", "cluster"],
    ).properties(height=360)


def scatter(result, examples) -> None:
    chosen = {d.question for d in autocot_work().demos}
    st.altair_chart(scatter_chart(result, examples, chosen), width="stretch")


def clusters(result, examples) -> None:
    """Per cluster: every candidate tried, kept or skipped, and why."""
    for c, tried in enumerate(result.candidates):
        state = " · dropped" if c in result.dropped else " · fallback" if c in result.fallbacks else ""
        size = plural(int(sum(result.assignments == c)), "question")
        with st.expander(f"Cluster {c}: {size}, {len(tried)} tried{state}"):
            for cand in tried:
                verdict = "✅ kept" if not cand.failures else "❌ skipped: " + "; ".join(cand.failures)
                st.markdown(f"**{examples[cand.index].input}**  \n_distance {cand.distance:.3f}_ · {verdict}")
                if cand.reasoning is not None:
                    st.caption(f"Rationale: {cand.reasoning.rationale}  \nAnswer: {cand.reasoning.answer}")


def editor() -> list[Demo]:
    """Edit the chosen demonstrations by hand."""
    demos = autocot_work().demos
    df = pd.DataFrame([{"question": d.question, "rationale": d.rationale, "pred_ans": d.pred_ans,
                        "gold_ans": d.gold_ans, "cluster": d.cluster, "fallback": d.fallback} for d in demos])
    edited = st.data_editor(df, key="ac_editor", width="stretch", num_rows="fixed",
                            disabled=["gold_ans", "cluster", "fallback"])
    return [Demo(r.question, r.rationale, str(r.pred_ans), d.gold_ans, d.cluster, d.distance, d.fallback, d.choices)
            for r, d in zip(edited.itertuples(), demos, strict=True)]


def regenerate(backend, cfg: AutoCoTConfig, fmt: str, labels: tuple[str, ...], max_new: int) -> None:
    demos = list(autocot_work().demos)
    i = st.selectbox("Regenerate the rationale of demo", range(len(demos)), key="ac_regen_pick",
                     format_func=lambda j: f"{j}: {demos[j].question[:60]}")
    if st.button("Regenerate", key="ac_regen"):
        reason = zero_shot_cot_reasoner(backend, fmt, DecodingConfig(max_new_tokens=max_new), labels=labels)
        demos[i] = redo(demos[i], reason(question_text(demos[i].question, demos[i].choices)), cfg, fmt)
        save_autocot_work(demos=demos)
        st.rerun()


def handed_spec(fmt: str, labels: tuple[str, ...]) -> PromptSpec:
    """The spec Auto-CoT demonstrations go to the Builder with: CoT demonstrations (rationale, then "The
    answer is …"), the answer type's extraction, and a stop where the model would begin the next question."""
    spec = PromptSpec(reasoning=AUTO_COT.name, answer_format=fmt, labels=labels if fmt in ("label", "choice") else ())
    return spec.replace(stop=next_question_stops(spec))


def use_and_export(demos: list[Demo], fmt: str, labels: tuple[str, ...]) -> None:
    c1, c2 = st.columns(2)
    flagged = sum(d.fallback for d in demos)
    if c1.button("Use as demonstrations", type="primary", key="ac_use", disabled=not demos,
                 help="Open the Prompt Builder with these demonstrations (Auto-CoT reasoning, all of them used)"
                      + (f"; {plural(flagged, 'fallback')} included." if flagged else ".")):
        demos_to_builder(as_examples(demos), "Auto-CoT", spec=handed_spec(fmt, labels), query="")
        st.switch_page(BUILDER_PAGE)
    c2.download_button("Export demo file (JSON)", demos_to_json(demos), "autocot_demos.json",
                       "application/json", key="ac_export")


def importer() -> None:
    upload = st.file_uploader("Import a demo file (the reference's JSON shape)", type=["json"], key="ac_import")
    if upload is not None:
        save_autocot_work(result=None, examples=(), demos=demos_from_json(upload.getvalue(), upload.name))
