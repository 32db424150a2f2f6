"""The Evaluate page's Run history tab: the stored runs this browser may see; show, export, resume, delete; and two
runs compared on the items both ran (paired tests, forest plot, the items whose answer changed).

The list of runs comes from one function, :func:`history_runs`: on a classroom server this browser's own runs
(every run for the teacher, :func:`ui.classroom.visible_runs`), elsewhere every run.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from ui.classroom import can_delete_run, visible_runs
from ui.common import app_store
from ui.evaluate_results import paired_section
from workbench.evaluate.pairs import changed_items, compare_runs
from workbench.report import report_from_store, to_json
from workbench.words import plural

#: Session-state key of the tab the Evaluate page shows (its tabs' key; see ui.evaluate.TABS).
TAB_KEY = "ev_tab"


def history_runs(store) -> list:
    """The evaluation runs the history lists, newest first: the one place that decides which runs a user sees
    (on a classroom server, this browser's own; every run for the teacher)."""
    return [r for r in visible_runs(store) if r.meta.get("kind", "evaluate") == "evaluate"]


def _accuracies(summary: dict | None) -> str:
    if not summary:
        return ""
    return " · ".join(f"{s['strategy']} {s['accuracy']:.0%}" for s in summary.get("strategies", []))


def _label(run) -> str:
    return (f"run {run.run_id} · {run.meta.get('dataset', {}).get('name')} · "
            f"{run.created_at[:16].replace('T', ' ')}")


def history(can_resume: bool, resume: Callable[[object], None], show: Callable[[int], None]) -> None:
    """The runs this browser may see; show one (on the Results tab), export as JSON, resume a cancelled one, delete;
    compare two.

    ``can_resume``: the settings are valid and a model is loaded; ``resume(info)`` continues a stored run;
    ``show(run_id)`` puts a run on the Results tab.
    """
    s = app_store()
    runs = history_runs(s)
    if not runs:
        st.caption("No runs yet.")
        return
    df = pd.DataFrame([{"run": r.run_id, "started": r.created_at[:19].replace("T", " "), "status": r.status,
                        "model": r.meta.get("model"), "dataset": r.meta.get("dataset", {}).get("name"),
                        "results": r.n_results, "accuracy": _accuracies(r.summary)} for r in runs])
    st.dataframe(df, hide_index=True, key="ev_history", height=min(36 + 35 * len(runs), 300))
    by_id = {r.run_id: r for r in runs}
    if st.session_state.get("ev_pick") not in by_id:
        st.session_state.pop("ev_pick", None)
    c0, c1, c3, c4, c5 = st.columns([3, 1, 1, 1, 1], vertical_alignment="bottom")
    pick = c0.selectbox("Run", list(by_id), key="ev_pick", format_func=lambda i: _label(by_id[i]))
    if c1.button("Show", key="ev_show", help="Show it on the Results tab, with its JSONL, CSV and HTML report "
                                             "downloads."):
        show(pick)
    c3.download_button("JSON", lambda: to_json(report_from_store(s, pick)), f"evaluate-run-{pick}.json",
                       "application/json", key="ev_json", on_click="ignore",
                       help="The stored run as one JSON document (metadata, summary, records).")
    info = by_id[pick]
    mine = can_delete_run(info)  # a classroom server: a student resumes and deletes only their own runs
    if c4.button("Resume", key="ev_resume", disabled=not (info.status != "finished" and can_resume and mine),
                 help="Continue a cancelled run with the dataset chosen on the Setup tab (it must be the same file)."):
        resume(info)
    if c5.button("Delete", key="ev_delete", disabled=not mine):
        s.delete_run(pick)
        if st.session_state.get("ev_run_id") == pick:
            st.session_state.pop("ev_run_id")
        st.session_state.pop("ev_pick", None)
        st.rerun()
    compare_section(runs)


def compare_section(runs) -> None:
    """Two stored runs on the items both ran: McNemar and a bootstrap interval per strategy pair (same-named
    strategies pair up), a forest plot, and the items whose answer changed."""
    st.markdown("**Compare two runs** on the items both ran (the same item ids): did a change of prompt, model "
                "or setting help? Same-named strategies pair up; otherwise every strategy of A meets every one of B.")
    if len(runs) < 2:
        st.caption("Two stored runs are needed; run another evaluation first.")
        return
    by_id = {r.run_id: r for r in runs}
    ids = list(by_id)
    for key, default in (("ev_cmp_a", ids[1]), ("ev_cmp_b", ids[0])):  # the two newest: older A, newer B
        if st.session_state.get(key) not in by_id:
            st.session_state[key] = default
    c1, c2, c3 = st.columns([3, 3, 1], vertical_alignment="bottom")
    a = c1.selectbox("Run A", ids, key="ev_cmp_a", format_func=lambda i: _label(by_id[i]))
    b = c2.selectbox("Run B", ids, key="ev_cmp_b", format_func=lambda i: _label(by_id[i]))
    if c3.button("Compare", key="ev_cmp_go", disabled=a == b,
                 help="Paired tests of A against B on their shared items, and the items that changed."):
        st.session_state["ev_cmp"] = (a, b)
    if a == b:
        st.caption("Pick two different runs.")
    if st.session_state.get("ev_cmp") != (a, b):
        return
    compared(a, b)


def compared(a: int, b: int) -> None:
    store = app_store()
    ra, rb = report_from_store(store, a), report_from_store(store, b)
    comparisons, shared = compare_runs(ra, rb, str(a), str(b))
    if not comparisons:
        st.warning(f"Runs {a} and {b} share no items; compare runs made on the same dataset.", icon="⚠️")
        return
    note = ""
    if ra.meta.get("dataset", {}).get("hash") != rb.meta.get("dataset", {}).get("hash"):
        note = " (made on different dataset files: compared on the item ids both have)"
    st.caption(f"Run {a} (A) against run {b} (B) on {plural(shared, 'shared item')}{note}.")
    paired_section(comparisons, "ev_cmp_paired")
    changes = changed_items(ra, rb)
    fixed = sum(1 for c in changes if c.correct_b and not c.correct_a)
    broken = sum(1 for c in changes if c.correct_a and not c.correct_b)
    st.markdown(f"**Items that changed** from A to B: {plural(len(changes), 'item')} with another answer · "
                f"{fixed} fixed (wrong → right) · {broken} broken (right → wrong)")
    if not changes:
        st.caption("Every shared item got the same answer in both runs.")
        return
    rows = [{"A strategy": c.strategy_a, "B strategy": c.strategy_b, "id": c.id, "input": c.input, "gold": c.gold,
             "A answer": c.answer_a, "A ✓": c.correct_a, "B answer": c.answer_b, "B ✓": c.correct_b,
             "change": c.change} for c in changes]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="ev_cmp_changed", width="stretch",
                 height=min(36 + 35 * len(rows), 420),
                 column_config={"input": st.column_config.TextColumn(width="medium")})
