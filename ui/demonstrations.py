"""Demonstrations page widgets: selector settings, the chosen demos with scores, hand reordering."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench.data import Example
from workbench.retrieval import ORDERS, SELECTORS, Selection

#: Selectors compared side by side.
COMPARED = ("random", "knn", "cluster")


def settings(key: str) -> dict:
    c1, c2, c3 = st.columns(3)
    selector = c1.selectbox("Selector", list(SELECTORS), index=1, format_func=lambda s: f"{s}: {SELECTORS[s]}",
                            key=f"{key}_sel")
    k = c2.number_input("K demonstrations", 0, 32, 4, key=f"{key}_k")
    how = c3.selectbox("Order", list(ORDERS), format_func=lambda s: f"{s}: {ORDERS[s]}", key=f"{key}_order")
    seed = c1.number_input("Seed (random selector / order, k-means)", 0, 10_000, 0, key=f"{key}_seed")
    lambda_ = c2.slider("MMR λ (1 = similarity only, 0 = diversity only)", 0.0, 1.0, 0.5, key=f"{key}_lambda",
                        disabled=selector != "mmr")
    return {"selector": selector, "k": int(k), "how": how, "seed": int(seed), "lambda_": float(lambda_)}


def query_input(key: str, pool) -> str:
    mode = st.radio("Query", ["Type", "Pick from the pool"], horizontal=True, key=f"{key}_qmode")
    if mode == "Type":
        return st.text_input("Query", "a warm, funny and moving film", key=f"{key}_query")
    i = st.selectbox("Pool item (it is excluded from its own demonstrations)", range(len(pool)),
                     format_func=lambda j: pool[j].input[:90], key=f"{key}_qpick")
    return pool[i].input


def chosen_table(key: str, demos: list[Example], selection: Selection) -> list[Example]:
    """The chosen demos with similarity scores; edit the position column to reorder by hand."""
    df = pd.DataFrame({"position": range(1, len(demos) + 1), "input": [d.input for d in demos],
                       "answer": [d.answer for d in demos], "score": [round(s, 4) for s in selection.scores]})
    st.caption(f"Why: {selection.reason}")
    edited = st.data_editor(df, key=f"{key}_table", hide_index=True, width="stretch",
                            disabled=["input", "answer", "score"])
    order = sorted(range(len(demos)), key=lambda i: (edited["position"].iloc[i], i))
    return [demos[i] for i in order]
