"""Auto-CoT page widgets: build with progress, inspect clusters, edit, use as demonstrations."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from workbench.autocot import AutoCoTConfig, Demo, build_demos, demos_from_json, demos_to_json, zero_shot_cot_reasoner
from workbench.decoding import DecodingConfig
from workbench.prompts import PromptSpec

FORMATS = {"number": "arabic numerals", "yes_no": "Yes or No", "choice": "A through E", "free": "free text"}


def settings() -> tuple[AutoCoTConfig, str, int, int]:
    c1, c2, c3, c4 = st.columns(4)
    k = c1.number_input("Demonstrations k (clusters)", 1, 16, 4, key="ac_k")
    fmt = c2.selectbox("Answer type", list(FORMATS), format_func=FORMATS.get, key="ac_fmt")
    words = c3.number_input("Max question words", 1, 500, 60, key="ac_words")
    steps = c4.number_input("Max rationale steps", 1, 50, 5, key="ac_steps")
    tries = c1.number_input("Rationales tried per cluster", 1, 20, 2, key="ac_tries")
    limit = c2.number_input("Questions used from the pool (0 = all)", 0, 100_000, 0, key="ac_limit")
    max_new = c3.number_input("max_new_tokens per rationale", 16, 512, 96, key="ac_max")
    seed = c4.number_input("k-means seed", 0, 10_000, 0, key="ac_seed")
    cfg = AutoCoTConfig(k=int(k), max_question_words=int(words), max_rationale_steps=int(steps),
                        max_tries_per_cluster=int(tries), seed=int(seed))
    return cfg, fmt, int(limit), int(max_new)


def build(backend, embedder, examples, cfg: AutoCoTConfig, fmt: str, max_new: int):
    """Run Auto-CoT with a progress bar; the result goes to session state."""
    bar = st.progress(0.0, text="Embedding questions…")
    vectors = embedder.encode([e.input for e in examples])
    reason = zero_shot_cot_reasoner(backend, fmt, DecodingConfig(max_new_tokens=max_new))

    def progress(done: int, total: int) -> None:
        bar.progress(done / max(total, 1), text=f"Writing rationales… {done}/{total}")

    result = build_demos(examples, vectors, reason, cfg, progress=progress)
    bar.progress(1.0, text=f"Done: {len(result.demos)} demonstrations")
    st.session_state["ac_result"] = result
    st.session_state["ac_examples"] = examples
    st.session_state["ac_demos"] = list(result.demos)


def scatter(result, examples) -> None:
    """2-D projection (PCA) of the question embeddings, coloured by cluster, chosen questions marked."""
    v = result.vectors - result.vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(v, full_matrices=False)
    xy = v @ vt[:2].T
    chosen = {d.question for d in st.session_state.get("ac_demos", [])}
    df = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "cluster": result.assignments.astype(str),
                       "question": [e.input for e in examples],
                       "chosen": ["chosen" if e.input in chosen else "candidate" for e in examples]})
    chart = alt.Chart(df).mark_point(filled=True).encode(
        x=alt.X("x", title="PC 1"), y=alt.Y("y", title="PC 2"), color=alt.Color("cluster:N"),
        shape=alt.Shape("chosen:N", scale=alt.Scale(domain=["candidate", "chosen"], range=["circle", "diamond"])),
        size=alt.condition(alt.datum.chosen == "chosen", alt.value(260), alt.value(50)),
        tooltip=["question", "cluster"],
    ).properties(height=360)
    st.altair_chart(chart, width="stretch")


def clusters(result, examples) -> None:
    """Per cluster: every candidate tried, kept or skipped, and why."""
    for c, tried in enumerate(result.candidates):
        with st.expander(f"Cluster {c}: {sum(result.assignments == c)} questions, {len(tried)} tried"):
            for cand in tried:
                verdict = "✅ kept" if not cand.failures else "❌ skipped: " + "; ".join(cand.failures)
                st.markdown(f"**{examples[cand.index].input}**  \n_distance {cand.distance:.3f}_ · {verdict}")
                if cand.reasoning is not None:
                    st.caption(f"Rationale: {cand.reasoning.rationale}  \nAnswer: {cand.reasoning.answer}")


def editor() -> list[Demo]:
    """Edit the chosen demonstrations by hand."""
    demos = st.session_state["ac_demos"]
    df = pd.DataFrame([{"question": d.question, "rationale": d.rationale, "pred_ans": d.pred_ans,
                        "gold_ans": d.gold_ans, "cluster": d.cluster, "fallback": d.fallback} for d in demos])
    edited = st.data_editor(df, key="ac_editor", width="stretch", num_rows="fixed",
                            disabled=["gold_ans", "cluster", "fallback"])
    return [Demo(r.question, r.rationale, str(r.pred_ans), d.gold_ans, d.cluster, d.distance, d.fallback)
            for r, d in zip(edited.itertuples(), demos, strict=True)]


def regenerate(backend, fmt: str, max_new: int) -> None:
    demos = st.session_state["ac_demos"]
    i = st.selectbox("Regenerate the rationale of demo", range(len(demos)), key="ac_regen_pick",
                     format_func=lambda j: f"{j}: {demos[j].question[:60]}")
    if st.button("Regenerate", key="ac_regen"):
        r = zero_shot_cot_reasoner(backend, fmt, DecodingConfig(max_new_tokens=max_new))(demos[i].question)
        demos[i] = Demo(demos[i].question, r.rationale, r.answer or "", demos[i].gold_ans, demos[i].cluster,
                        demos[i].distance, demos[i].fallback)
        st.rerun()


def use_and_export(demos: list[Demo], fmt: str) -> None:
    c1, c2 = st.columns(2)
    if c1.button("Use as demonstrations", type="primary", key="ac_use"):
        st.session_state["demos"] = [d.to_example(f"autocot-{i}") for i, d in enumerate(demos)]
        st.session_state["spec"] = PromptSpec(reasoning="auto_cot", answer_format=fmt)
        st.success(f"{len(demos)} Auto-CoT demonstrations are now the Prompt Builder's demonstrations.")
    c2.download_button("Export demo file (JSON)", demos_to_json(demos), "autocot_demos.json",
                       "application/json", key="ac_export")


def importer() -> None:
    upload = st.file_uploader("Import a demo file (the paper's JSON shape)", type=["json"], key="ac_import")
    if upload is not None:
        st.session_state["ac_demos"] = list(demos_from_json(upload.getvalue()))
        st.session_state.pop("ac_result", None)
