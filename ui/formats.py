"""Format sensitivity on the Evaluate page (Sclar et al. 2023, FormatSpread): one of the page's prompts in N
plausible formats (separator, casing and names of the fields, spacing, choice numbering) on the same items and
demonstrations; the spread, the best and worst format as their exact prompts, and a paired test between them.

The run is read back from the store (its formats are its strategies, in order), like every Evaluate result.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from ui.common import app_store
from ui.fields import number_field
from workbench.evaluate.format_spread import DEFAULT_N, HINDSIGHT, MAX_N, Spread, format_spread, spread_from_records
from workbench.reasoning.modes import NONE

#: Session-state key of the last spread the page ran (:class:`ShownSpread`).
SPREAD_KEY = "ev_formats"
#: What the section says before its controls.
ABOUT = ("Does the *format* of the prompt matter as much as its content? The same prompt in several plausible "
         "formats (the separator after a field name, the casing and choice of field names, the spacing) on the "
         "same items and demonstrations (Sclar et al. 2023 found spreads of up to 76 accuracy points).")


@dataclass(frozen=True)
class ShownSpread:
    """The stored run of the last spread."""

    run_id: int


def formats_section(plan, backend) -> None:
    """The controls (prompt like, N formats, K demonstrations) over the page's data; then the last spread."""
    st.subheader("Format spread")
    st.caption(ABOUT)
    usable = [s for s in plan.strategies if s.spec.mode is NONE and s.samples == 1 and s.answer != "choices"]
    if not usable:
        st.info("The format spread needs a strategy without chain-of-thought (e.g. zero or knn) to take its prompt "
                "and answer mode from.")
        return
    c1, c2, c3 = st.columns([3, 1, 1])
    like = c1.selectbox("Prompt and answer like", [s.name for s in usable], key="ev_formats_like",
                        help="Its prompt is rewritten in every format; its answer mode (label scoring or generate) "
                             "is kept.")
    n, n_problem = number_field(c2, "Formats", DEFAULT_N, key="ev_formats_n", lo=2, hi=MAX_N,
                                help="The prompt as written first, the others drawn with the page's seed.")
    k, k_problem = number_field(c3, "Format demonstrations", 0, key="ev_formats_k", lo=0, hi=32,
                                help="Random demonstrations, the same ones at every format.")
    if st.button("Run the format spread", key="ev_formats_run", disabled=bool(n_problem or k_problem)):
        strategy = next(s for s in usable if s.name == like)
        bar = st.progress(0.0, text="Formats…")

        def progress(p) -> None:
            bar.progress(p.fraction, text=f"{p.done}/{p.total} · {p.strategy}")

        _, run = format_spread(plan.dataset, plan.pool, backend, app_store(), spec=strategy.spec, n=n, seed=plan.seed,
                               k=k, answer=strategy.answer, limit=plan.limit,
                               label_words=dict(strategy.label_words) or None, progress=progress, cache=plan.cache)
        bar.empty()
        st.session_state[SPREAD_KEY] = ShownSpread(run.run_id)
    shown = st.session_state.get(SPREAD_KEY)
    if isinstance(shown, ShownSpread):
        spread_results(shown)


def scores_frame(spread: Spread) -> pd.DataFrame:
    """One row per format: its name (what changed), items, accuracy and 95% interval; best and worst marked."""
    mark = {spread.best: "best", spread.worst: "worst"}
    return pd.DataFrame([{"format": s.name, "n": s.n, "accuracy": round(s.accuracy, 4),
                          "95% CI": f"{s.ci_low:.1%}–{s.ci_high:.1%}", "": mark.get(s.name, "")}
                         for s in spread.scores])


def spread_results(shown: ShownSpread) -> None:
    """The stored spread: the table, the best and worst prompts side by side, the test and its caveat."""
    store = app_store()
    info = store.get_run(shown.run_id)
    names = [s["name"] for s in info.meta.get("strategies", []) if isinstance(s, dict)]
    records = store.results(shown.run_id)
    if len({r["strategy"] for r in records}) < 2:
        st.info(f"Run {shown.run_id} has too few answered formats yet.")
        return
    spread = spread_from_records(records, names, shown.run_id, info.status)
    st.dataframe(scores_frame(spread), hide_index=True)
    left, right = st.columns(2)
    for column, name, prompt in ((left, "Best", spread.best), (right, "Worst", spread.worst)):
        text = spread.best_prompt if name == "Best" else spread.worst_prompt
        column.markdown(f"**{name}:** {prompt}")
        column.code(text, language=None)
        if text != text.rstrip():  # a code block hides the trailing line break the model sees
            column.caption(f"The prompt ends with {text[len(text.rstrip()):]!r}.")
    c = spread.comparison
    st.markdown(f"**Spread {100 * spread.spread:.1f} points** over {len(spread.scores)} formats "
                f"({c.accuracy_b:.1%} to {c.accuracy_a:.1%}); best − worst on the same {c.n} items: McNemar "
                f"p = {c.p_value:.3g}.")
    st.warning(f"The {HINDSIGHT}.", icon="⚠️")
    st.caption(f"Stored as run {shown.run_id} ({info.status}).")
