"""Results to keep and share: a run as JSONL, CSV or one self-contained HTML report, and its manifest.

A :class:`RunReport` is everything a run produced: its metadata (with the manifest that makes it
reproducible: package versions, the model file's sha256, embedder, dataset hash, seeds), the
per-strategy summary, the paired comparisons and the per-item records. It comes from the store
(:func:`report_from_store`) or from a JSONL export (:func:`read_jsonl`), and is written by
:func:`write_report` according to the file's extension:

* ``.jsonl``: one ``{"type": "run", ...}`` line, then one ``{"type": "item", ...}`` line per record;
  it reads back with :func:`read_jsonl` (``runs show --file``);
* ``.csv``: one row per record (:data:`CSV_FIELDS`); the manifest and summary are not in it;
* ``.html``: one file with inline SVG charts (accuracy bars with 95% Wilson whiskers, a forest plot of the
  paired differences with their intervals, a heat map per confusion matrix) beside their tables, the
  manifest and an item table; where assertions judged the items, their pass rates per strategy and each
  item's verdicts (pass/fail, score, reason, the judge's full reply); with repeats, pass@k, pass^k and the
  flaky items; no script, no network; every text (a judge's reply included) is escaped;
* ``.json``: promptfoo's results file (what ``promptfoo eval -o results.json`` writes), for tools that read it
  (:mod:`workbench.interop.promptfoo.results`).
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.charts import bar_chart_svg, confusion_svg, forest_svg
from workbench.csvsafe import rows_to_csv
from workbench.errors import ConfigError, DataError

#: The export formats, by file extension (``.json``: promptfoo's results file, workbench.interop.promptfoo.results).
FORMATS = {".jsonl": "jsonl", ".csv": "csv", ".html": "html", ".htm": "html", ".json": "promptfoo"}
#: Columns of a CSV export, one row per (strategy, item).
CSV_FIELDS = ("strategy", "item_index", "id", "input", "prompt", "output", "extracted", "rule", "gold", "correct",
              "seconds", "tokens")
#: Packages whose versions a manifest records (read from installed metadata, nothing imported).
MANIFEST_PACKAGES = ("llama-cpp-python", "transformers", "torch", "sentence-transformers",
                     "faiss-cpu", "numpy")
#: Items the HTML report's table shows at most (the JSONL/CSV exports hold all).
HTML_MAX_ITEMS = 2000
#: Characters of a prompt or completion the HTML table shows (the full text is in the JSONL export).
HTML_MAX_TEXT = 4000


# --------------------------------------------------------------------------- manifest

def package_versions(packages: Sequence[str] = MANIFEST_PACKAGES) -> dict[str, str | None]:
    """Installed version of each package (None when not installed), from package metadata only."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in packages:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


# --------------------------------------------------------------------------- the report

@dataclass(frozen=True)
class RunReport:
    """One run as exported: metadata (with its manifest), summary, paired comparisons and item records."""

    run_id: int | None  # the run's id in the store it came from; None when unknown
    status: str  # finished, cancelled, failed, ...
    meta: dict = field(repr=False)  # run_meta: model, backend, dataset, strategies, manifest, ...
    summary: dict = field(repr=False)  # {"strategies": [StrategySummary.to_dict()], "items": n, ...}
    records: tuple[dict, ...] = field(repr=False)  # per (strategy, item) records, as stored
    created_at: str | None = None  # when the run started (ISO); None when unknown
    finished_at: str | None = None  # when it ended; None while running or unknown
    grades: dict = field(default_factory=dict, repr=False)  # a person's pass/fail grades of outputs: by
    # (strategy, item_index) (given on the Evaluate page, stored with the run) or by item id (a dataset's __human)

    def comparisons(self) -> list:
        """Paired comparisons (McNemar and bootstrap) of every pair of strategies on their shared items."""
        from workbench.stats import paired_comparisons

        return paired_comparisons(self.records)

    def label_metrics(self) -> list:
        """Confusion matrix, per-label accuracy and macro-F1 per strategy; [] unless the run is classification."""
        from workbench.stats import label_metrics

        labels = _labels(self.meta)
        return label_metrics(self.records, labels) if labels else []


def _labels(meta: Mapping[str, Any]) -> tuple[str, ...]:
    """The run's label set when every strategy classifies (its spec has labels), else ()."""
    specs = [s.get("spec") for s in meta.get("strategies", []) if isinstance(s, dict)]
    label_sets = {tuple(sp.get("labels") or ()) for sp in specs if isinstance(sp, dict)}
    return next(iter(label_sets)) if len(label_sets) == 1 and () not in label_sets else ()


def report_from_store(store, run_id: int) -> RunReport:
    """The stored run ``run_id`` as a report (raises the store's one-line error for an unknown id)."""
    info = store.get_run(run_id)
    return RunReport(info.run_id, info.status, info.meta, info.summary or {}, tuple(store.results(run_id)),
                     info.created_at, info.finished_at, dict(store.grades(run_id)))


def export_format(path: str | os.PathLike) -> str:
    """The export format a file name asks for ("jsonl", "csv", "html" or "promptfoo"); one-line error otherwise."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise ConfigError(f"Cannot tell the export format of {Path(path).name!r}; end the file name with "
                          ".jsonl, .csv, .html or .json (promptfoo's results).")
    return FORMATS[ext]


def write_report(report: RunReport, path: str | os.PathLike) -> Path:
    """Write ``report`` as JSONL, CSV, HTML or promptfoo's results JSON according to ``path``'s extension;
    returns the path."""
    from workbench.interop.promptfoo.results import results_json

    fmt = export_format(path)
    text = {"jsonl": to_jsonl, "csv": to_csv, "html": html_report, "promptfoo": results_json}[fmt](report)
    from workbench.atomic import write_text_atomic

    path = Path(path)
    try:
        write_text_atomic(path, text, newline="" if fmt == "csv" else None)
    except OSError as err:
        raise DataError(f"cannot write {path}: {err.strerror}") from None
    return path


# --------------------------------------------------------------------------- JSONL / CSV

def to_jsonl(report: RunReport) -> str:
    """The run line (meta with manifest, summary, paired comparisons) and one line per item record."""
    head = {"type": "run", "run_id": report.run_id, "status": report.status, "created_at": report.created_at,
            "finished_at": report.finished_at, "meta": report.meta, "summary": report.summary,
            "paired": [c.to_dict() for c in report.comparisons()]}
    if report.grades:  # (strategy, item_index) keys as pairs: JSON has no tuple keys
        head["grades"] = [[*k, v] if isinstance(k, tuple) else [k, v] for k, v in report.grades.items()]
    lines = [json.dumps(head, ensure_ascii=False)]
    lines += [json.dumps({"type": "item", **r}, ensure_ascii=False) for r in report.records]
    return "\n".join(lines) + "\n"


def read_jsonl(source: str | os.PathLike) -> RunReport:
    """A report back from :func:`to_jsonl`'s file; one-line :class:`DataError` for anything else."""
    from workbench.safeload import parse_json, read_text

    path = Path(source)
    text = read_text(path, folder="give a run .jsonl file")
    head: dict | None = None
    records: list[dict] = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            item = parse_json(line, f"{path.name} line {lineno}", 20)
        except json.JSONDecodeError as err:
            raise DataError(f"{path.name} line {lineno} is not valid JSON ({err.msg})") from None
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "run" and head is None and lineno == 1:
            head = item
        elif kind == "item" and head is not None:
            records.append({k: v for k, v in item.items() if k != "type"})
        else:
            raise DataError(f"{path.name} line {lineno}: not a run export (expected a 'run' line first, then "
                            "'item' lines); write one with `eval --output run.jsonl` or `runs export`")
    if head is None:
        raise DataError(f"{path.name} is empty; write a run export with `eval --output run.jsonl`")
    meta, summary = head.get("meta"), head.get("summary")
    run_id = head.get("run_id")
    return RunReport(run_id if isinstance(run_id, int) else None, str(head.get("status", "?")),
                     meta if isinstance(meta, dict) else {}, summary if isinstance(summary, dict) else {},
                     tuple(records), _str_or_none(head.get("created_at")), _str_or_none(head.get("finished_at")),
                     _grades(head.get("grades"), path.name))


def _grades(rows: Any, name: str) -> dict:
    """The grades of a run export's head: ``[strategy, item_index, passed]`` or ``[item_id, passed]`` rows."""
    out: dict = {}
    for row in rows if isinstance(rows, list) else ():
        if isinstance(row, list) and len(row) == 3 and isinstance(row[0], str) and type(row[1]) is int \
                and isinstance(row[2], bool):
            out[(row[0], row[1])] = row[2]
        elif isinstance(row, list) and len(row) == 2 and isinstance(row[0], str) and isinstance(row[1], bool):
            out[row[0]] = row[1]
        else:
            raise DataError(f"{name} line 1: a grade is [strategy, item_index, pass] or [item_id, pass], not "
                            f"{json.dumps(row)[:80]}")
    return out


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def to_csv(report: RunReport) -> str:
    """One row per record with :data:`CSV_FIELDS` (empty cells where a record has no such field)."""
    return rows_to_csv(CSV_FIELDS, report.records, lineterminator="\r\n")  # formula cells neutralised


def to_records_csv(report: RunReport) -> str:
    """Every record field of every item: ``strategy``, ``item_index``, then each field in first-seen order
    (nested values as JSON). :func:`to_csv` is the fixed-column table; this is the whole record."""
    columns: dict[str, None] = {"strategy": None, "item_index": None}
    for row in report.records:
        columns.update(dict.fromkeys(row))
    return rows_to_csv(list(columns), report.records)  # formula cells (and column names) neutralised


def to_json(report: RunReport) -> str:
    """The whole run as one JSON document: ``{"run": {...meta, summary...}, "results": [...]}`` (readable
    UTF-8; which host and process ran it stays out of a file that is shared)."""
    run = {"run_id": report.run_id, "created_at": report.created_at, "finished_at": report.finished_at,
           "status": report.status, "meta": report.meta, "summary": report.summary or None,
           "n_results": len(report.records), "owner": None}
    return json.dumps({"run": run, "results": list(report.records)}, ensure_ascii=False, indent=2)


# --------------------------------------------------------------------------- HTML

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;
color:#1f2933}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #d5dae0;padding:.25rem .5rem;vertical-align:top;text-align:left}
th{background:#f1f4f7}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#0b7a3e}.bad{color:#b42318}
details pre{white-space:pre-wrap;max-width:60rem;font-size:.8rem;background:#f7f8fa;padding:.4rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;font-size:.85rem}dt{font-weight:600}
""".strip()


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    """An HTML table; header cells are escaped here, row cells must be escaped HTML already."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(rows_cell for rows_cell in row) + "</tr>" for row in rows)
    return f'<table class="{_e(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _td(value: Any, num: bool = False) -> str:
    return f'<td class="num">{_e(value)}</td>' if num else f"<td>{_e(value)}</td>"


def _long(value: Any) -> str:
    text = "" if value is None else str(value)
    short = text if len(text) <= 80 else text[:77] + "…"
    if len(text) <= 80:
        return f"<td>{_e(text)}</td>"
    shown = text[:HTML_MAX_TEXT] + ("…" if len(text) > HTML_MAX_TEXT else "")
    return f"<td><details><summary>{_e(short)}</summary><pre>{_e(shown)}</pre></details></td>"


def html_report(report: RunReport) -> str:
    """The whole report as one self-contained HTML page (inline CSS and SVG; no script, no network)."""
    from workbench.evaluate.metrics import chart_rows, summarize

    meta = report.meta
    summaries = summarize(report.records) if report.records else []
    dataset = meta.get("dataset") if isinstance(meta.get("dataset"), dict) else {}
    title = f"Run {report.run_id if report.run_id is not None else ''}: {dataset.get('name', '')}".strip()
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
           f"<h1>{_e(title)}</h1>",
           f"<p>Model <b>{_e(meta.get('model', '-'))}</b> ({_e(meta.get('backend', '-'))}), "
           f"{_e(len({_item(r) for r in report.records}))} items, status {_e(report.status)}"
           + (f", started {_e(report.created_at)}" if report.created_at else "") + ".</p>"]
    out.append('<h2 id="accuracy">Accuracy (95% Wilson interval)</h2>')
    out.append(f'<figure id="chart">{bar_chart_svg(chart_rows(summaries))}</figure>')
    scored = any(s.mean_score is not None for s in summaries)
    k = max((s.repeat for s in summaries), default=1)
    out.append(_table(("strategy", "n", "correct", "accuracy", "95% CI", *(("score",) if scored else ()),
                       *((f"pass@{k}", f"pass^{k}") if k > 1 else ()), "cached", "items/s (model)"), [
        (_td(s.strategy), _td(s.n, True), _td(s.correct, True), _td(f"{s.accuracy:.1%}", True),
         _td(f"{s.ci_low:.1%}–{s.ci_high:.1%}", True),
         *((_td("" if s.mean_score is None else f"{s.mean_score:.3f}", True),) if scored else ()),
         *(_td("" if v is None else f"{v:.1%}", True) for v in ((s.pass_at_k, s.pass_all_k) if k > 1 else ())),
         _td(s.cached_text(), True), _td(s.speed(), True))
        for s in summaries], "summary"))
    if any(s.cached for s in summaries):
        out.append("<p>cached: items answered from the response cache (no model call); items/s counts only the "
                   "items the model answered, over the time it took.</p>")
    comparisons = report.comparisons()
    if comparisons:
        out.append('<h2 id="paired">Paired comparisons</h2><p>Difference in accuracy on the items both strategies '
                   "ran, McNemar's exact test on the items where exactly one is right, and a paired bootstrap "
                   "95% interval of the difference.</p>")
        out.append(f'<figure id="forest">{forest_svg(comparisons)}</figure>')
        tests = sorted({c.test for c in comparisons})
        holm = any(c.p_holm is not None for c in comparisons)
        out.append(_table(("a", "b", "items", "a − b", "95% bootstrap CI", "only a right", "only b right",
                           f"{tests[0]} p" if len(tests) == 1 else "p", *(("Holm-adjusted p",) if holm else ())), [
            (_td(c.a), _td(c.b), _td(c.n, True), _td(f"{100 * c.difference:+.1f} pts", True),
             _td(f"{100 * c.ci_low:+.1f} to {100 * c.ci_high:+.1f}", True), _td(c.only_a, True),
             _td(c.only_b, True), _td(f"{c.p_value:.3g}" + ("" if len(tests) == 1 else f" ({c.test})"), True),
             *((_td("" if c.p_holm is None else f"{c.p_holm:.3g}", True),) if holm else ()))
            for c in comparisons], "paired"))
        if any(c.test == "Wilcoxon" for c in comparisons):
            out.append("<p>Repeated items: each item's outcome is its pass rate over its runs; the test is "
                       "Wilcoxon's signed-rank on the per-item differences, and “only a right” counts the items "
                       "with a higher pass rate under a.</p>")
        if holm:
            out.append("<p>Holm-adjusted p: the p-values adjusted over every pair of this run (Holm's step-down), "
                       "so that “below 0.05” holds for the family, not for one pair picked afterwards.</p>")
    out += _judging_html(report, summaries)
    metrics = report.label_metrics()
    if metrics:
        out.append('<h2 id="labels">Per label</h2>')
        for m in metrics:
            out.append(f"<h3>{_e(m.strategy)}: macro-F1 {m.macro_f1:.3f}</h3>")
            cm = m.confusion
            acc = dict(m.per_label)
            out.append(f'<figure class="confusion-chart">{confusion_svg(cm, m.strategy)}</figure>')
            out.append(_table(("gold \\ predicted", *cm.columns, "accuracy"), [
                (_td(label), *(_td(v, True) for v in cm.counts[i]), _td(f"{acc[label]:.1%}", True))
                for i, label in enumerate(cm.labels)], "confusion"))
    out.append('<h2 id="items">Items</h2>')
    shown = report.records[:HTML_MAX_ITEMS]
    if len(report.records) > len(shown):
        out.append(f"<p>The first {len(shown)} of {len(report.records)} records; the JSONL export holds all.</p>")
    judged = any(r.get("checks") for r in shown)
    out.append(_table(("strategy", "#", "id", "input", "prompt", "completion", "answer", "rule", "gold", "correct",
                       *(("checks",) if judged else ()), "s"), [
        (_td(r.get("strategy")), _td(r.get("item_index"), True), _td(r.get("id")), _long(r.get("input")),
         _long(r.get("prompt")), _long(r.get("output")), _td(r.get("extracted")), _td(r.get("rule")),
         _td(r.get("gold")),
         '<td class="ok">✓</td>' if r.get("correct") else '<td class="bad">✗</td>',
         *((_checks_cell(r),) if judged else ()), _td(r.get("seconds"), True))
        for r in shown], "items"))
    out.append('<h2 id="manifest">Manifest</h2>')
    out.append(_manifest_html(meta))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _judging_html(report: RunReport, summaries: Sequence[Any]) -> list[str]:
    """The assertions' pass rates per strategy, the paired comparisons of scores, named scores, and the repeats'
    flaky items (nothing when no item was judged by assertions or repeated)."""
    from workbench.evaluate.metrics import check_rates

    out: list[str] = []
    rates = check_rates(report.records)
    if rates:
        out.append('<h2 id="checks">Assertions</h2><p>Each assertion\'s verdicts per strategy: how many passed, '
                   "their mean score, and how many could not be judged (an error is a failed verdict). Items pass "
                   "by promptfoo's rule: every check passes, or the weighted score reaches the threshold.</p>")
        out.append(_table(("strategy", "assertion", "value", "passed", "judged", "pass rate", "mean score",
                           "errors"), [
            (_td(r.strategy), _td(r.type), _td("(per item)" if r.per_item else r.value), _td(r.passed, True),
             _td(r.n, True), _td(f"{r.rate:.1%}", True), _td(f"{r.mean_score:.3f}", True), _td(r.errors, True))
            for r in rates], "checks"))
    from workbench.score_stats import score_comparisons

    scores = score_comparisons(report.records)
    if scores:
        holm = any(c.p_holm is not None for c in scores)
        out.append('<h3 id="paired-scores">Paired scores</h3><p>The mean difference of the weighted scores on the '
                   "items both strategies scored, a paired bootstrap 95% interval and Wilcoxon's signed-rank p"
                   + (" (Holm-adjusted over the pairs too)" if holm else "") + ".</p>")
        out.append(_table(("a", "b", "items", "mean a", "mean b", "a − b", "95% bootstrap CI", "a higher",
                           "b higher", "Wilcoxon p", *(("Holm-adjusted p",) if holm else ())), [
            (_td(c.a), _td(c.b), _td(c.n, True), _td(f"{c.mean_a:.3f}", True), _td(f"{c.mean_b:.3f}", True),
             _td(f"{c.difference:+.3f}", True), _td(f"{c.ci_low:+.3f} to {c.ci_high:+.3f}", True),
             _td(c.higher_a, True), _td(c.higher_b, True), _td(f"{c.p_value:.3g}", True),
             *((_td("" if c.p_holm is None else f"{c.p_holm:.3g}", True),) if holm else ()))
            for c in scores], "paired-scores"))
    from workbench.evaluate.agreement import judge_agreement

    agreement = judge_agreement(report.records, report.grades) if report.grades else []
    if agreement:
        out.append('<h3 id="agreement">Judge agreement with human grades</h3><p>How often the verdict (the '
                   "checks' combined pass) equals a person's grade of the same output, and Cohen's κ: agreement "
                   "beyond chance, with a bootstrap 95% interval over items. A judge to trust agrees well above "
                   "chance.</p>")
        out.append(_table(("strategy", "graded", "agree", "Cohen's κ", "95% CI", "both pass", "both fail",
                           "judge only", "person only", "note"), [
            (_td(a.strategy), _td(a.n, True), _td(f"{a.accuracy:.1%}", True),
             _td("undefined" if a.kappa is None else f"{a.kappa:.2f}", True),
             _td("" if a.kappa_low is None else f"{a.kappa_low:.2f} to {a.kappa_high:.2f}", True),
             _td(a.both_pass, True), _td(a.both_fail, True), _td(a.judge_only, True), _td(a.human_only, True),
             _td(a.note)) for a in agreement], "agreement"))
    named = [(s.strategy, name, value) for s in summaries for name, value in s.named_scores.items()]
    if named:
        out.append('<h3 id="named-scores">Named scores (mean over items)</h3>')
        out.append(_table(("strategy", "metric", "mean score"), [
            (_td(a), _td(name), _td(f"{value:.3f}", True)) for a, name, value in named], "named-scores"))
    repeated = [s for s in summaries if s.repeat > 1]
    if repeated:
        out.append('<h2 id="flaky">Repeats and flaky items</h2><p>Each item ran k times (seeds seed … seed+k−1): '
                   "pass@k is the share of items passed in at least one run, pass^k in every run; a flaky item "
                   "passed in some runs and failed in others.</p>")
        out.append(_table(("strategy", "k", "pass@k", "pass^k", "flaky items"), [
            (_td(s.strategy), _td(s.repeat, True), _td(f"{s.pass_at_k or 0:.1%}", True),
             _td(f"{s.pass_all_k or 0:.1%}", True), _td(", ".join(f.text() for f in s.flaky) or "none"))
            for s in repeated], "flaky"))
    return out


def _checks_cell(record: Mapping[str, Any]) -> str:
    """An item's verdicts: "2/3 passed, score 0.67", opening to one row per check (type, value, pass, score,
    reason or error, and a model-graded check's full reply; all escaped: a reply is untrusted text)."""
    checks = [c for c in record.get("checks") or () if isinstance(c, Mapping)]
    if not checks:
        return "<td></td>"
    rows = []
    for c in checks:
        reply = c.get("reply")
        why = f"error: {c['error']}" if c.get("error") else c.get("reason")
        rows.append(
            (_td(c.get("type")), _td(c.get("value")),
             '<td class="ok">✓</td>' if c.get("passed") else '<td class="bad">✗</td>', _td(c.get("score"), True),
             _td(why), "<td></td>" if reply is None else
             f"<td><details><summary>reply</summary><pre>{_e(str(reply)[:HTML_MAX_TEXT])}</pre></details></td>"))
    passed = sum(bool(c.get("passed")) for c in checks)
    score = record.get("score")
    head = f"{passed}/{len(checks)} passed" + (f", score {score:.2f}" if isinstance(score, int | float) else "")
    table = _table(("check", "value", "pass", "score", "reason", "judge's reply"), rows, "verdicts")
    return f"<td><details><summary>{_e(head)}</summary>{table}</details></td>"


def _item(record: Mapping[str, Any]) -> Any:
    """Which dataset item a record ran (repeat r of item i is stored at i * k + r: ``item_index - repeat``)."""
    index, repeat = record.get("item_index"), record.get("repeat")
    return index - repeat if isinstance(index, int) and isinstance(repeat, int) else index


def _manifest_html(meta: Mapping[str, Any]) -> str:
    items = [(k, v) for k, v in meta.items() if k not in ("strategies", "manifest")]
    manifest = meta.get("manifest")
    if isinstance(manifest, dict):
        items += list(manifest.items())
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v)}"
                   "</dd>" for k, v in items)
    strategies = meta.get("strategies") if isinstance(meta.get("strategies"), list) else []
    specs = "".join(f"<details><summary>{_e(s.get('name'))}</summary><pre>"
                    f"{_e(json.dumps(s, indent=2, ensure_ascii=False))}</pre></details>"
                    for s in strategies if isinstance(s, dict))
    return f"<dl>{rows}</dl>{specs}"
