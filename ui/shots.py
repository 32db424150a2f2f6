"""The shots curve on the Evaluate page: accuracy against K demonstrations for one selector (the same items and
seed at every K), its 95% band, the paired steps between neighbouring K and the Ks the window left out.

The run is read back from the store (its strategies' K from the run's metadata), like every Evaluate result.
"""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import pandas as pd
import streamlit as st

from ui.common import app_store
from workbench.evaluate.registry import STRATEGIES
from workbench.evaluate.shots import (
    DEFAULT_KS,
    Dropped,
    ShotsCurve,
    curve_from_records,
    parse_ks,
    selectors,
    shots_curve,
)
from workbench.reasoning.modes import NONE

#: Session-state key of the last curve the page ran (:class:`ShownCurve`).
CURVE_KEY = "ev_shots"
#: What the section says before its controls.
ABOUT = ("Does accuracy keep growing with more demonstrations? The same items and seed at K = 0, 1, 2, 4, 8, 16 "
         "(those that fit the model's window), one selector, a 95% interval per K and a paired test between "
         "neighbouring K: the seed notes say there is little gain past 5-6 shots; see whether that holds here.")


@dataclass(frozen=True)
class ShownCurve:
    """The stored run of the last curve and what only the run's start knew."""

    run_id: int
    selector: str  # the strategy base that chose the demonstrations
    dropped: tuple[Dropped, ...]  # Ks left out before the run


def curve_chart(curve: ShotsCurve) -> alt.LayerChart:
    """An Altair line of accuracy against K over its 95% Wilson band, one dot per K."""
    df = pd.DataFrame([{**p.to_dict(), "label": f"{p.accuracy:.1%} [{p.ci_low:.1%}, {p.ci_high:.1%}]"}
                       for p in curve.points])
    x = alt.X("k:Q", title="K demonstrations", scale=alt.Scale(type="sqrt"),
              axis=alt.Axis(values=[p.k for p in curve.points], format="d"))
    y = alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title="accuracy")
    base = alt.Chart(df).encode(x=x)
    band = base.mark_area(opacity=0.25).encode(y=alt.Y("ci_low:Q", title="accuracy"), y2="ci_high:Q")
    line = base.mark_line(point=True).encode(y=y, tooltip=["k", alt.Tooltip("label:N", title="accuracy [95% CI]"),
                                                           "n", "fewer_demos"])
    return (band + line).properties(height=300)


def steps_frame(curve: ShotsCurve) -> pd.DataFrame:
    """One row per step between neighbouring K: the larger K's gain, its interval and McNemar's p."""
    return pd.DataFrame([{"from": c.b, "to": c.a, "items": c.n, "gain (points)": round(100 * c.difference, 1),
                          "95% CI": f"{100 * c.ci_low:+.1f} to {100 * c.ci_high:+.1f}", "McNemar p": round(c.p_value, 4),
                          "Holm p": None if c.p_holm is None else round(c.p_holm, 4)} for c in curve.steps])


def shots_section(plan, backend) -> None:
    """The controls (selector, Ks) over the page's data, prompt and answer mode; then the last curve."""
    st.subheader("Shots curve")
    st.caption(ABOUT)
    usable = [s for s in plan.strategies if s.spec.mode is NONE and s.samples == 1 and s.answer != "choices"]
    if not usable:
        st.info("The shots curve needs a strategy without chain-of-thought (e.g. zero or knn) to take its prompt "
                "and answer mode from.")
        return
    c1, c2, c3 = st.columns([2, 2, 3])
    like = c1.selectbox("Prompt and answer like", [s.name for s in usable], key="ev_shots_like",
                        help="Its prompt and answer mode (generate, or label scoring) are used at every K.")
    names = selectors()
    selector = c2.selectbox("Selector", names, key="ev_shots_selector", format_func=lambda b: STRATEGIES[b].label,
                            help="How the K demonstrations of each item are chosen (the strategy registry's).")
    text = c3.text_input("K values", ",".join(map(str, DEFAULT_KS)), key="ev_shots_ks",
                         help="Rising, comma-separated; Ks over the model's window are left out, with the reason.")
    ks = parse_ks(text, "K values")  # a bad list: one red line (the page's user_errors box)
    if st.button("Run the shots curve", key="ev_shots_run"):
        strategy = next(s for s in usable if s.name == like)
        bar = st.progress(0.0, text="Shots…")

        def progress(p) -> None:
            bar.progress(p.fraction, text=f"{p.done}/{p.total} · {p.strategy}")

        curve, run = shots_curve(plan.dataset, plan.pool, backend, app_store(), selector=selector, ks=ks,
                                 spec=strategy.spec, answer=strategy.answer, seed=plan.seed, limit=plan.limit,
                                 label_words=dict(strategy.label_words) or None, progress=progress,
                                 cache=plan.cache)
        bar.empty()
        st.session_state[CURVE_KEY] = ShownCurve(run.run_id, selector, curve.dropped)
    shown = st.session_state.get(CURVE_KEY)
    if isinstance(shown, ShownCurve):
        curve_results(shown)


def curve_results(shown: ShownCurve) -> None:
    """The stored curve: the chart, the table, the paired steps, the Ks left out and the past-6-shots line."""
    store = app_store()
    info = store.get_run(shown.run_id)
    ks = {s["name"]: s["k"] for s in info.meta.get("strategies", []) if isinstance(s, dict)}
    curve = curve_from_records(store.results(shown.run_id), ks, shown.selector, shown.dropped, shown.run_id,
                               info.status)
    if not curve.points:
        st.info(f"Run {shown.run_id} has no answered items yet.")
        return
    st.altair_chart(curve_chart(curve), width="stretch", key="ev_shots_chart")
    st.dataframe(pd.DataFrame([p.to_dict() for p in curve.points]).drop(columns=["strategy"]), hide_index=True)
    if curve.steps:
        st.dataframe(steps_frame(curve), hide_index=True)
    for d in curve.dropped:
        st.warning(f"Left out {d.reason}.", icon="✂️")
    st.markdown(f"**{curve.plateau_line()}**")
    st.caption(f"Stored as run {shown.run_id} ({info.status}).")
