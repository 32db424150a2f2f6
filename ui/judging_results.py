"""The Evaluate page's Results for a run judged by assertions: pass rate per assertion, mean score, repeats
(pass@k, pass^k, flaky items), every check of every item with its reason, a model-graded check's full judge
reply, and the user's own pass/fail grades of outputs (stored with the run) with the judge's agreement.

The figures are :mod:`workbench.evaluate.metrics`' (``check_rates``, ``summarize``); this module only draws
them and the stored verdicts (:class:`workbench.evaluate.records.CheckVerdict` rows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import streamlit as st

from ui.common import app_store, untrusted_markdown
from workbench.evaluate.agreement import judge_agreement
from workbench.evaluate.metrics import check_rates
from workbench.score_stats import score_comparisons
from workbench.words import plural

#: Height (px) of the checks and grades tables: long runs scroll inside them.
TABLE_HEIGHT = 380
#: Most judge replies shown as expanders (the rest: pick the item in the table's filter).
MAX_REPLIES = 40
#: The grade column's choices: no grade, pass, fail.
GRADE_CHOICES = ("", "pass", "fail")


def judged(records: Sequence[Mapping]) -> bool:
    """Some record was judged by assertions (not only by its answer format)."""
    return any(r.get("checks") for r in records)


def rates_frame(records: Sequence[Mapping]) -> pd.DataFrame:
    """Per strategy and assertion: how many verdicts passed, the pass rate, mean score and errors (the items' own
    assertions: one row per type)."""
    rows = [{"strategy": c.strategy, "assertion": c.type, "value": "(each item its own)" if c.per_item else c.value,
             "passed": f"{c.passed}/{c.n}", "pass rate": f"{c.rate:.0%}", "mean score": round(c.mean_score, 3),
             "errors": c.errors} for c in check_rates(records)]
    return pd.DataFrame(rows, columns=["strategy", "assertion", "value", "passed", "pass rate", "mean score",
                                       "errors"])


def checks_frame(records: Sequence[Mapping]) -> pd.DataFrame:
    """One row per check of every item: strategy, item, the check and its value, pass/fail, score, reason (or
    why it could not judge)."""
    rows = []
    for r in records:
        for c in r.get("checks") or ():
            if isinstance(c, Mapping):
                rows.append({"strategy": r["strategy"], "item": r["item_index"], "id": r.get("id"),
                             "repeat": r.get("repeat"), "check": c.get("type"), "value": c.get("value"),
                             "passed": bool(c.get("passed")), "score": c.get("score"),
                             "reason": f"could not judge: {c['error']}" if c.get("error") else c.get("reason")})
    frame = pd.DataFrame(rows, columns=["strategy", "item", "id", "repeat", "check", "value", "passed", "score",
                                        "reason"])
    return frame if frame["repeat"].notna().any() else frame.drop(columns="repeat")


def replies(records: Sequence[Mapping]) -> list[tuple[str, str]]:
    """(title, the judge's full reply) of every model-graded check, in order."""
    out = []
    for r in records:
        for c in r.get("checks") or ():
            if isinstance(c, Mapping) and c.get("reply") is not None:
                verdict = "error" if c.get("error") else "pass" if c.get("passed") else "fail"
                title = f"{r['strategy']} · item {r.get('id', r['item_index'])}" + \
                    (f" · repeat {r['repeat'] + 1}" if r.get("repeat") is not None else "") + \
                    f" · {c.get('type')}: {verdict}"
                out.append((title, str(c["reply"])))
    return out


def repeats_lines(summaries) -> list[str]:
    """One line per repeated strategy: pass@k, pass^k and its flaky items."""
    lines = []
    for s in summaries:
        if s.pass_at_k is None:
            continue
        flaky = ", ".join(f.text() for f in s.flaky) or "none"
        lines.append(f"**{s.strategy}**: {s.repeat} runs of each item · pass@{s.repeat} {s.pass_at_k:.0%} · "
                     f"pass^{s.repeat} {s.pass_all_k:.0%} · flaky items (passed in some runs only): {flaky}")
    return lines


def judging_section(run_id: int, records: Sequence[Mapping], summaries, data_grades: Mapping[str, bool]) -> None:
    """The judged run's figures and tables (nothing for a run judged by its answer format alone);
    ``data_grades``: the dataset's own human grades by item id (its ``__human`` column)."""
    if not judged(records):
        return
    st.markdown("**Assertions**: each item passes when all its checks pass (or, with a pass threshold, when their "
                "weighted mean score reaches it).")
    means = [f"{s.strategy} {s.mean_score:.3f}" for s in summaries if s.mean_score is not None]
    if means:
        st.caption("Mean weighted score: " + " · ".join(means))
    for line in repeats_lines(summaries):
        st.markdown(untrusted_markdown(line))  # item ids and strategy names come from files
    st.dataframe(rates_frame(records), hide_index=True, key="ev_check_rates", width="stretch")
    if len(summaries) > 1 and means:
        scores_section(records)
    checks = checks_frame(records)
    only_failed = st.toggle("Only failed checks", key="ev_failed_checks")
    shown = checks[~checks["passed"]] if only_failed else checks
    st.dataframe(shown, hide_index=True, key="ev_checks", width="stretch",
                 height=min(TABLE_HEIGHT, 38 + 35 * max(len(shown), 1)),
                 column_config={"reason": st.column_config.TextColumn(width="large")})
    said = replies(records)
    if said:
        st.markdown(f"**Judge replies** ({plural(len(said), 'model-graded check')}): the judge model's whole "
                    "answer, as it was read into pass / fail and a score.")
        for title, text in said[:MAX_REPLIES]:
            with st.expander(untrusted_markdown(title)):
                st.code(text, language=None, wrap_lines=True)
        if len(said) > MAX_REPLIES:
            st.caption(f"The first {MAX_REPLIES} are shown; every reply is in the run's JSONL download.")
    grades_section(run_id, records, data_grades)


def scores_frame(comparisons) -> pd.DataFrame:
    """Paired comparisons of the weighted scores: mean difference with its bootstrap interval and Wilcoxon's p
    (Holm-adjusted too with several pairs)."""
    holm = any(c.p_holm is not None for c in comparisons)
    return pd.DataFrame([{"A": c.a, "B": c.b, "items": c.n, "mean A": round(c.mean_a, 3), "mean B": round(c.mean_b, 3),
                          "A − B": f"{c.difference:+.3f}", "95% CI (bootstrap)": f"{c.ci_low:+.3f} – {c.ci_high:+.3f}",
                          "A higher": c.higher_a, "B higher": c.higher_b, "Wilcoxon p": round(c.p_value, 4),
                          **({"Holm-adjusted p": round(c.p_holm, 4)} if holm else {})} for c in comparisons])


def scores_section(records: Sequence[Mapping]) -> None:
    """Strategies compared on their scores, not only pass/fail (a rubric's 0.8 against 0.6 counts)."""
    comparisons = score_comparisons(records)
    if not comparisons:
        return
    st.markdown("**Paired scores**: the weighted scores of two strategies on the same items (a paired bootstrap "
                "interval of the mean difference, and Wilcoxon's signed-rank test).")
    st.dataframe(scores_frame(comparisons), hide_index=True, key="ev_score_pairs", width="stretch")


def _grade(value: bool | None) -> str:
    return "" if value is None else "pass" if value else "fail"


def grades_section(run_id: int, records: Sequence[Mapping], data_grades: Mapping[str, bool]) -> None:
    """Grade outputs pass/fail by hand (stored with the run at once) and see how often the judge agrees; the
    dataset's own grades (by item id) count where no grade was given here."""
    store = app_store()
    stored = store.grades(run_id)
    key, base_key = f"ev_grades_{run_id}", f"ev_grades_base_{run_id}"
    if key not in st.session_state or base_key not in st.session_state:
        # The table starts from the grades stored now and keeps that start while it lives: its edits are changes to
        # it, so the saves below must not move it (an edit in flight would be lost).
        st.session_state[base_key] = stored
    base = st.session_state[base_key]
    st.markdown("**Your grades**: mark outputs pass or fail yourself; they are stored with the run, and the "
                "judge's agreement with them says how far its verdicts can be trusted.")
    frame = pd.DataFrame([{"strategy": r["strategy"], "item": r["item_index"], "id": r.get("id"),
                           "output": r.get("output"), "judge": "pass" if r.get("correct") else "fail",
                           "your grade": _grade(base.get((r["strategy"], r["item_index"])))} for r in records])
    edited = st.data_editor(frame, hide_index=True, key=key, width="stretch",
                            height=min(TABLE_HEIGHT, 38 + 35 * max(len(frame), 1)),
                            disabled=["strategy", "item", "id", "output", "judge"],
                            column_config={"your grade": st.column_config.SelectboxColumn(
                                "your grade", options=list(GRADE_CHOICES), required=False),
                                "output": st.column_config.TextColumn(width="large")})
    changes = {}
    for row in edited.to_dict("records"):
        key = (str(row["strategy"]), int(row["item"]))
        mine = {"pass": True, "fail": False}.get(row.get("your grade") or "")
        if mine != stored.get(key):
            changes[key] = mine
    if changes:
        store.set_grades(run_id, changes)
        stored = store.grades(run_id)
    if data_grades:
        st.caption(f"The dataset grades {plural(len(data_grades), 'item')} itself (its __human column); a grade "
                   "given here wins for that output.")
    agreement_line(records, {**data_grades, **stored})


def agreement_line(records: Sequence[Mapping], grades: Mapping) -> None:
    """The judge's agreement with the grades given so far (accuracy and Cohen's κ with its interval), per
    strategy."""
    found = judge_agreement(records, grades) if grades else []
    if not found:
        st.caption("No grades yet: grade a few outputs above to see how often the judge agrees with you.")
        return
    for a in found:
        st.caption(untrusted_markdown(a.line()))
