"""Demonstrations page widgets: selector settings (kept across pages), the chosen demos with scores,
hand reordering, hand-picking pool rows for the "fixed" selector."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.decoding_controls import DECODING_KEYS
from ui.fields import number_field
from ui.state import (
    DEMO_WIDGETS,
    DemoSettings,
    demo_settings,
    forget_widgets,
    restore_widgets,
    save_demo_settings,
    widget_values,
)
from workbench.data import Example
from workbench.retrieval.orders import ORDERS
from workbench.retrieval.selectors.base import Selection
from workbench.retrieval.selectors.registry import SELECTOR_KINDS

#: Selectors compared side by side (shown by their labels: random, nearest, diverse).
COMPARED = ("random", "knn", "cluster")


def label(selector: str) -> str:
    """The word the pages use for a selector (one vocabulary with Evaluate's strategies)."""
    return SELECTOR_KINDS[selector].label
#: Widget-key prefix of the page, and of its decoding settings.
KEY, DECODING_KEY = "dm", "dmdec"


def restore() -> DemoSettings:
    """Give the page's widgets their kept values back (before drawing them): a page switch drops them."""
    settings = demo_settings()
    restore_widgets(KEY, settings, DEMO_WIDGETS)
    return settings


def set_aside() -> None:
    """Before the page stops without drawing its widgets (no pool yet, e.g. while a file is being chosen): drop their
    state, so that the next run gives them back the kept values. (Left in place, Streamlit hands such widgets back
    at their bare defaults: selector random, K 0, max_new_tokens 0.)"""
    forget_widgets(KEY, DEMO_WIDGETS)
    for suffix in DECODING_KEYS:
        st.session_state.pop(f"{DECODING_KEY}_{suffix}", None)


def save() -> DemoSettings:
    """Keep the widgets' values for the next visit (after drawing them)."""
    return save_demo_settings(widget_values(KEY, DEMO_WIDGETS))


#: Most demonstrations K may ask for, and the largest seed.
MAX_K, MAX_SEED = 32, 10_000


def settings(pool) -> dict | None:
    """Selector, K, order, seed, MMR λ and (for "fixed") the hand-picked pool rows; keyword arguments of
    :func:`workbench.retrieval.choose_demos`. None while K or the seed is invalid (the reason under it)."""
    c1, c2, c3 = st.columns(3)
    selector = c1.selectbox("Selector", list(SELECTOR_KINDS), key=f"{KEY}_sel", format_func=label,
                            help="\n".join(f"- **{k.label}**: {k.description}" for k in SELECTOR_KINDS.values()))
    fixed = SELECTOR_KINDS[selector].carries_demos  # hand-picked: the rows chosen below are the demonstrations
    k, bad_k = number_field(c2, "K demonstrations", 4, key=f"{KEY}_k", lo=0, hi=MAX_K, disabled=fixed,
                            help="Hand-picked: as many as you pick." if fixed else None)
    how = c3.selectbox("Order", list(ORDERS), key=f"{KEY}_order",
                       help="\n".join(f"- **{name}**: {what}" for name, what in ORDERS.items()))
    seed, bad_seed = number_field(c1, "Seed (random selector / order, k-means)", 0, key=f"{KEY}_seed", lo=0,
                                  hi=MAX_SEED)
    lambda_ = c2.slider("MMR λ (1 = similarity only, 0 = diversity only)", 0.0, 1.0, key=f"{KEY}_lambda_",
                        disabled=selector != "mmr")
    st.session_state[f"{KEY}_fixed"] = [i for i in st.session_state.get(f"{KEY}_fixed", []) if 0 <= i < len(pool)]
    picked = st.multiselect("Hand-picked pool rows (in this order)", range(len(pool)), key=f"{KEY}_fixed",
                            format_func=lambda j: f"{j}: {pool[j].input[:70]} → {pool[j].answer}",
                            disabled=not fixed, placeholder="Choose the demonstrations" if fixed else
                            "Choose the selector “fixed” to pick rows by hand")
    if fixed and not picked:
        st.info("Pick the demonstrations above: the “fixed” selector uses exactly the rows you choose.")
    if (bad_k and not fixed) or bad_seed:
        return None
    return {"selector": selector, "k": len(picked) if fixed else int(k), "how": how, "seed": int(seed),
            "lambda_": float(lambda_), "indices": tuple(picked)}


def query_input(pool) -> str:
    mode = st.radio("Query", ["Type", "Pick from the pool"], horizontal=True, key=f"{KEY}_qmode")
    if mode == "Type":
        return st.text_input("Query", key=f"{KEY}_query")
    if st.session_state.get(f"{KEY}_qpick", 0) >= len(pool):
        st.session_state[f"{KEY}_qpick"] = 0  # another pool, shorter than the last
    i = st.selectbox("Pool item (it is excluded from its own demonstrations)", range(len(pool)),
                     format_func=lambda j: pool[j].input[:90], key=f"{KEY}_qpick")
    return pool[i].input


def chosen_table(demos: list[Example], selection: Selection) -> list[Example]:
    """The chosen demos with similarity scores; edit the position column to reorder by hand."""
    df = pd.DataFrame({"position": range(1, len(demos) + 1), "input": [d.input for d in demos],
                       "answer": [d.answer for d in demos], "score": [round(s, 4) for s in selection.scores]})
    st.caption(f"Why: {selection.reason}")
    edited = st.data_editor(df, key=f"{KEY}_table", hide_index=True, width="stretch",
                            disabled=["input", "answer", "score"])
    order = sorted(range(len(demos)), key=lambda i: (edited["position"].iloc[i], i))
    return [demos[i] for i in order]
