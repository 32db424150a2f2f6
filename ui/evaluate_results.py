"""The Evaluate page's Results tab: the chosen run's chart, tables, paired comparisons (forest plot), confusion
heat maps, per-item tables and downloads.

Results are always read back from the store (never kept only in session state), so a cancelled run, a past
run and a resumed run show the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd
import streamlit as st

from ui.common import app_store, user_errors
from ui.judging_results import judged, judging_section
from ui.matrix import Matrix, axis_comparisons, for_forest, matrix_chart, matrix_frame, run_matrix
from workbench.cache import describe
from workbench.data import Pool
from workbench.errors import DataError
from workbench.evaluate.metrics import chart_rows, disagreements, item_table, summarize
from workbench.report import html_report, report_from_store, to_csv, to_jsonl
from workbench.stats import paired_comparisons
from workbench.words import plural

#: Per-item table columns, in order (raw_* appear for calibrated strategies).
ITEM_COLUMNS = ("strategy", "item", "input", "prompt", "output", "extracted", "gold", "correct")
#: Height (px) of a per-item table: long prompts and outputs scroll inside it, not down the page.
ITEMS_HEIGHT = 420


def accuracy_chart(summaries) -> alt.LayerChart:
    """Accuracy per strategy with its 95% Wilson interval as error bars; raw bars beside calibrated ones."""
    rows = chart_rows(summaries)
    for r in rows:
        r["kind"] = "raw (before calibration)" if r["strategy"].endswith(" (raw)") else "accuracy"
        r["label"] = f"{r['accuracy']:.1%} [{r['ci_low']:.1%}, {r['ci_high']:.1%}] n={r['n']}"
    df = pd.DataFrame(rows)
    axis = alt.Axis(labelAngle=-30, labelLimit=0, labelOverlap=False)  # every name, whole (tilted: none collide)
    base = alt.Chart(df).encode(x=alt.X("strategy:N", sort=None, title=None, axis=axis,
                                        scale=alt.Scale(paddingInner=0.35)))
    bars = base.mark_bar().encode(
        y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title="accuracy"),
        color=alt.Color("kind:N", legend=alt.Legend(title=None, orient="bottom")),
        tooltip=["strategy", alt.Tooltip("label:N", title="accuracy [95% CI]")],
    )
    errors = base.mark_errorbar(ticks={"size": 14}, color="black").encode(
        y=alt.Y("ci_low:Q", title="accuracy"), y2="ci_high:Q")
    return (bars + errors).properties(height=320)


def summary_table(summaries) -> pd.DataFrame:
    """One row per strategy: accuracy and interval, items answered from the response cache ("8/8") and the
    throughput of the model calls actually made ("—" when every item came from the cache)."""
    rows = []
    for s in summaries:
        row = {"strategy": s.strategy, "n": s.n, "accuracy": f"{s.accuracy:.1%}",
               "95% CI": f"{s.ci_low:.1%} – {s.ci_high:.1%}"}
        if s.raw_accuracy is not None:
            row["raw accuracy"] = f"{s.raw_accuracy:.1%}"
            row["raw 95% CI"] = f"{s.raw_ci_low:.1%} – {s.raw_ci_high:.1%}"
        if s.mean_score is not None:
            row["mean score"] = round(s.mean_score, 3)  # the weighted score of the checks, averaged over items
        if s.pass_at_k is not None:
            row[f"pass@{s.repeat}"] = f"{s.pass_at_k:.1%}"
            row[f"pass^{s.repeat}"] = f"{s.pass_all_k:.1%}"
            row["flaky"] = len(s.flaky)
        row["cached"] = s.cached_text()
        row["items/s (model)"] = s.speed()
        row["fewer demos"] = s.fewer_demos  # items whose prompt had to drop demonstrations to fit the window
        rows.append(row)
    return pd.DataFrame(rows)


PAIRED_COLUMNS = ["A", "B", "items", "A − B", "95% CI (bootstrap)", "A right, B wrong", "B right, A wrong",
                  "McNemar p"]


def paired_frame(comparisons) -> pd.DataFrame:
    """Paired comparisons as a table: accuracy difference with its paired bootstrap 95% interval, and McNemar's
    exact p on the items where exactly one of the two is right. With repeats, each item's pass rate: the items
    each side passed more often and Wilcoxon's p. With several pairs, each p also Holm-adjusted, so headed."""
    repeated = any(getattr(c, "test", "McNemar") == "Wilcoxon" for c in comparisons)
    only_a, only_b, p = (("A passed more often", "B passed more often", "Wilcoxon p") if repeated else
                         ("A right, B wrong", "B right, A wrong", "McNemar p"))
    holm = any(getattr(c, "p_holm", None) is not None for c in comparisons)
    rows = [{"A": c.a, "B": c.b, "items": c.n, "A − B": f"{c.difference:+.1%}",
             "95% CI (bootstrap)": f"{c.ci_low:+.1%} – {c.ci_high:+.1%}",
             only_a: c.only_a, only_b: c.only_b, p: round(c.p_value, 4),
             **({"Holm-adjusted p": round(c.p_holm, 4)} if holm else {})} for c in comparisons]
    return pd.DataFrame(rows, columns=[*PAIRED_COLUMNS[:5], only_a, only_b, p,
                                       *(["Holm-adjusted p"] if holm else [])])


def paired_table(records) -> pd.DataFrame:
    """Every pair of strategies of one run on the items both ran (see :func:`paired_frame`)."""
    return paired_frame(paired_comparisons(records))


def forest_chart(comparisons, label_limit: int = 360) -> alt.LayerChart:
    """A forest plot: each pair's accuracy difference (A − B) as a dot with its 95% bootstrap interval, around a
    zero line (an interval that crosses zero: the difference may be chance). Pair names longer than
    ``label_limit`` pixels are cut (0: never)."""
    rows = [{"pair": f"{c.a} − {c.b}", "difference": c.difference, "low": c.ci_low, "high": c.ci_high,
             "p": round(c.p_value, 4), "items": c.n,
             "verdict": "A better" if c.ci_low > 0 else "B better" if c.ci_high < 0 else "may be chance",
             "label": f"{c.difference:+.1%} [{c.ci_low:+.1%}, {c.ci_high:+.1%}]"} for c in comparisons]
    df = pd.DataFrame(rows)
    y = alt.Y("pair:N", sort=None, title=None, axis=alt.Axis(labelLimit=label_limit))
    colour = alt.Color("verdict:N", title=None, legend=alt.Legend(orient="bottom"),
                       scale=alt.Scale(domain=["A better", "may be chance", "B better"],
                                       range=["#0b7a3e", "#4c78a8", "#b42318"]))
    tooltip = ["pair", alt.Tooltip("label:N", title="A − B [95% CI]"), alt.Tooltip("p:Q", title="McNemar p"),
               "items"]
    # Symmetric around zero, a whole tenth beyond the widest interval (as the HTML report's plot).
    reach = max([0.1, *(abs(v) for c in comparisons for v in (c.ci_low, c.ci_high, c.difference))])
    scale = alt.Scale(domain=[-min(1.0, (int(reach * 10) + 1) / 10), min(1.0, (int(reach * 10) + 1) / 10)])
    base = alt.Chart(df).encode(y=y)
    rules = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("low:Q", axis=alt.Axis(format="+%"), scale=scale, title="A − B accuracy (95% bootstrap interval)"),
        x2="high:Q", color=colour, tooltip=tooltip)
    dots = base.mark_circle(size=90, opacity=1).encode(x=alt.X("difference:Q", scale=scale), color=colour,
                                                       tooltip=tooltip)
    zero = alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(color="#7b8794", strokeDash=[4, 3]).encode(
        x=alt.X("zero:Q", scale=scale))
    # The page fits the whole chart (axis, title, legend: about 80 px) into this height: a row each besides.
    return (zero + rules + dots).properties(height=34 * len(rows) + 120)


def paired_section(comparisons, key: str) -> None:
    """The forest plot, then the table for those who read numbers."""
    st.altair_chart(forest_chart(comparisons), width="stretch", key=f"{key}_forest")
    st.dataframe(paired_frame(comparisons), hide_index=True, key=key)


def pairs_frame(pairs, where: str) -> pd.DataFrame:
    """One axis' comparisons (:func:`ui.matrix.axis_comparisons`) as a table, ``where`` (the model or prompt
    each was made on) first."""
    frame = paired_frame([c for _, c in pairs])
    frame.insert(0, where, [group for group, _ in pairs])
    return frame


#: The matrix's two axes: (``axis_comparisons``' along, heading, the column naming where each pair was made).
AXES = (("prompts", "Prompts compared on each model", "model"), ("models", "Models compared on each prompt", "prompt"))


def matrix_section(matrix: Matrix, records, where) -> None:
    """The prompt x model heat map (in ``where``) and table, then the paired comparisons along both axes: a
    forest plot and a table each."""
    measure = "pass rate" if judged(records) else "accuracy"
    where.markdown(f"**Prompt × model**: the {measure} of each prompt on each model (n: results).")
    where.altair_chart(matrix_chart(matrix, measure), width="stretch", key="ev_matrix_chart")
    st.dataframe(matrix_frame(matrix), hide_index=True, key="ev_matrix")
    axes = [(along, title, col, axis_comparisons(records, matrix, along)) for along, title, col in AXES]
    axes = [a for a in axes if a[3]]
    if not axes:
        return
    st.markdown("**Paired comparisons** on the same items, along each axis of the matrix (exact McNemar test; with "
                "repeats, Wilcoxon's on each item's pass rate; p Holm-adjusted over each axis' pairs; a line that "
                "crosses zero: the difference may be chance).")
    for along, title, where_col, pairs in axes:  # one under the other: whole pair names, the page's width
        st.markdown(f"*{title}*")
        st.altair_chart(forest_chart(for_forest(pairs), label_limit=0), width="stretch", key=f"ev_axis_{along}_forest")
        st.dataframe(pairs_frame(pairs, where_col), hide_index=True, key=f"ev_axis_{along}")


def confusion_chart(cm, strategy: str) -> alt.LayerChart:
    """A confusion matrix as a heat map: gold labels down, predictions across, the count in each cell, the colour
    its share of the gold row."""
    rows = []
    for i, gold in enumerate(cm.labels):
        total = sum(cm.counts[i]) or 1
        rows += [{"gold": gold, "predicted": col, "count": v, "share": v / total}
                 for col, v in zip(cm.columns, cm.counts[i], strict=True)]
    df = pd.DataFrame(rows)
    base = alt.Chart(df, title=strategy).encode(
        x=alt.X("predicted:N", sort=list(cm.columns), axis=alt.Axis(orient="top", labelAngle=0)),
        y=alt.Y("gold:N", sort=list(cm.labels)))
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color("share:Q", scale=alt.Scale(domain=[0, 1], scheme="blues"), legend=None),
        tooltip=["gold", "predicted", "count", alt.Tooltip("share:Q", format=".0%", title="share of gold row")])
    text = base.mark_text(fontSize=13).encode(
        text="count:Q", color=alt.condition(alt.datum.share > 0.55, alt.value("white"), alt.value("#1f2933")))
    return (cells + text).properties(width=alt.Step(56), height=alt.Step(44))  # a fixed size a cell, any labels


def label_section(run_id: int) -> None:
    """Classification runs: per-label accuracy and macro-F1 per strategy, and each strategy's confusion matrix as
    a heat map (the counts as a table below it)."""
    metrics = report_from_store(app_store(), run_id).label_metrics()
    if not metrics:
        return
    st.markdown("**Per label**: accuracy on each gold label, macro-F1, and where the answers went (rows: gold "
                "labels, columns: predictions; darker = a larger share of that gold label).")
    st.dataframe(pd.DataFrame([{"strategy": m.strategy, **{f"{lab} accuracy": f"{acc:.1%}" for lab, acc in
                                                           m.per_label}, "macro-F1": round(m.macro_f1, 3)}
                               for m in metrics]), hide_index=True, key="ev_per_label")
    cols = st.columns(min(len(metrics), 3))
    for i, m in enumerate(metrics):
        cols[i % len(cols)].altair_chart(confusion_chart(m.confusion, m.strategy), key=f"ev_heat_{m.strategy}")
    with st.expander("Confusion matrices as tables"):
        for m in metrics:
            cm = m.confusion
            st.caption(f"**{m.strategy}**: rows are the gold labels, columns the predictions")
            st.dataframe(pd.DataFrame(cm.counts, index=[f"gold {lab}" for lab in cm.labels], columns=list(cm.columns)),
                         key=f"ev_confusion_{m.strategy}")


def item_rows(records) -> pd.DataFrame:
    """One row per strategy × item with the prompt, raw output, extracted answer, gold and verdict."""
    calibrated = any("raw_extracted" in r for r in records)
    scored = any(r.get("checks") for r in records)  # judged by assertions: the weighted score and the checks
    rows = []
    for r in records:
        row = {"strategy": r["strategy"], "item": r["item_index"], "input": r.get("input"), "prompt": r.get("prompt"),
               "output": r.get("output"), "extracted": r.get("extracted"), "gold": r.get("gold"),
               "correct": bool(r.get("correct"))}
        if calibrated:
            row["raw extracted"] = r.get("raw_extracted")
            row["raw correct"] = r.get("raw_correct")
        if scored:
            checks = r.get("checks") or ()
            row["score"] = r.get("score")
            row["checks passed"] = f"{sum(bool(c.get('passed')) for c in checks)}/{len(checks)}"
        rows.append(row)
    return pd.DataFrame(rows, columns=[*ITEM_COLUMNS, *(("raw extracted", "raw correct") if calibrated else ()),
                                       *(("score", "checks passed") if scored else ())])


#: The run's downloads: label -> (writer of workbench.report, file extension, MIME type).
DOWNLOADS = {"JSONL": (to_jsonl, "jsonl", "application/jsonl"), "CSV": (to_csv, "csv", "text/csv"),
             "HTML report": (html_report, "html", "text/html")}


def downloads(run_id: int) -> None:
    """The run as JSONL (reads back with `workbench runs show --file`), CSV and one self-contained HTML report;
    each is written when its button is clicked."""
    cols = st.columns([1, 1, 1, 3])
    for col, (label, (write, ext, mime)) in zip(cols, DOWNLOADS.items(), strict=False):
        col.download_button(label, lambda write=write: write(report_from_store(app_store(), run_id)),
                            f"evaluate-run-{run_id}.{ext}", mime, key=f"ev_dl_{ext}", on_click="ignore",
                            help="Per-item records, the summary, paired comparisons and the run's manifest.")


def _caption(info, records: Sequence[dict]) -> str:
    meta = info.meta
    cached = f" · {describe((info.summary or {}).get('cache'))}" if info.summary else ""
    together = meta.get("batch")
    batched = "" if not together else " · one sequence at a time" if together == 1 else \
        f" · up to {together} sequences decoded together"
    return (f"{info.status} · {meta.get('dataset', {}).get('name')} · model {meta.get('model')} "
            f"({meta.get('backend')}) · {plural(len(records), 'result')} · started {info.created_at[:19]}"
            f"{batched}{cached}")


def results(dataset: Pool | None = None) -> None:
    """The chosen run (just finished, cancelled or picked in the history): chart, tables, disagreements.
    ``dataset``: the page's dataset; its own human grades count when it is the run's dataset."""
    run_id = st.session_state.get("ev_run_id")
    if run_id is None:
        st.info("No run shown yet: press **Run** above, or pick a stored run in **Run history**.")
        return
    s = app_store()
    try:
        info = s.get_run(run_id)
    except DataError:
        st.session_state.pop("ev_run_id", None)
        return
    records = s.results(run_id)
    st.subheader(f"Run {run_id}")
    st.caption(_caption(info, records))
    if not records:
        st.info("No items finished in this run yet.")
        return
    summaries = summarize(records)
    downloads(run_id)
    cached = [x for x in summaries if x.cached]
    if cached:
        st.caption("Answered from the response cache (no model call): "
                   + " · ".join(f"{x.strategy} cached: {x.cached_text()}" for x in cached)
                   + ". items/s counts only the items the model answered.")
    st.dataframe(summary_table(summaries), hide_index=True, key="ev_summary")
    left, right = st.columns(2, gap="large")
    left.altair_chart(accuracy_chart(summaries), width="stretch")
    matrix = run_matrix(info.meta.get("strategies", []), summaries, str(info.meta.get("model")))
    if matrix is not None:  # several models: prompts x models, compared along each axis
        matrix_section(matrix, records, right)
    elif len(summaries) > 1:
        comparisons = paired_comparisons(records)
        right.markdown("**Paired comparison** on the same items: only the items where two strategies differ count "
                       "(exact McNemar test; with repeats, Wilcoxon's on each item's pass rate; p < 0.05: unlikely to be chance; "
                       "with more than two strategies also Holm-adjusted for the many pairs) and a paired bootstrap interval on the "
                       "difference (a line that crosses zero: the difference may be chance).")
        right.altair_chart(forest_chart(comparisons), width="stretch", key="ev_paired_forest")
        st.dataframe(paired_frame(comparisons), hide_index=True, key="ev_paired")
    if not judged(records):  # judged by assertions, "correct" is "passed them": no per-label accuracy
        with user_errors("Per-label metrics"):
            label_section(run_id)
    with user_errors("Judging results"):
        same = dataset is not None and info.meta.get("dataset", {}).get("hash") == dataset.content_hash
        judging_section(run_id, records, summaries,
                        {ex.id: ex.human for ex in dataset if ex.human is not None} if same else {})
    for x in summaries:
        if x.fewer_demos:
            st.warning(f"{x.strategy}: {x.fewer_demos} of {plural(x.n, 'item')} ran with fewer demonstrations than "
                       "asked (dropped to fit the context window); see the per-item 'dropped' column.", icon="⚠️")
    items_section(records, len(summaries))


def items_section(records, strategies: int) -> None:
    """Per item: side by side (several strategies) and every prompt and output, optionally only disagreements."""
    st.markdown("**Per item**")
    c1, c2, c3 = st.columns([2, 2, 1])
    only = c1.toggle("Only items where strategies disagree", key="ev_only_disagree", disabled=strategies < 2)
    by = c2.radio("Disagree on", ["answer", "correct"], horizontal=True, key="ev_disagree_by",
                  format_func={"answer": "the answer", "correct": "right vs wrong"}.get, disabled=not only)
    shown = records
    if only:
        keep = set(disagreements(records, by=by))
        shown = [r for r in records if r["item_index"] in keep]
        total = len({r["item_index"] for r in records})
        c3.caption(f"{len(keep)} of {plural(total, 'item')} {'disagrees' if len(keep) == 1 else 'disagree'}")
    if strategies > 1:
        # Fits the page's width: the input column is cut to a medium width (full text on hover), the table scrolls.
        st.dataframe(pd.DataFrame(item_table(shown)), hide_index=True, key="ev_side_by_side", width="stretch",
                     height=min(ITEMS_HEIGHT, 38 + 35 * max(1, len(shown) // max(strategies, 1))),
                     column_config={"input": st.column_config.TextColumn(width="medium"),
                                    "id": st.column_config.TextColumn(width="small")})
    st.dataframe(item_rows(shown), hide_index=True, key="ev_items", width="stretch",
                 height=min(ITEMS_HEIGHT, 38 + 35 * max(len(shown), 1)),
                 column_config={"prompt": st.column_config.TextColumn(width="medium")})
