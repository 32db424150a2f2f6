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
  manifest and an item table; no script, no network; every text is escaped.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.csvsafe import rows_to_csv
from workbench.errors import ConfigError, DataError

#: The export formats, by file extension.
FORMATS = {".jsonl": "jsonl", ".csv": "csv", ".html": "html", ".htm": "html"}
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
                     info.created_at, info.finished_at)


def export_format(path: str | os.PathLike) -> str:
    """The export format a file name asks for ("jsonl", "csv" or "html"); one-line error otherwise."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise ConfigError(f"Cannot tell the export format of {Path(path).name!r}; end the file name with "
                          ".jsonl, .csv or .html.")
    return FORMATS[ext]


def write_report(report: RunReport, path: str | os.PathLike) -> Path:
    """Write ``report`` as JSONL, CSV or HTML according to ``path``'s extension; returns the path."""
    fmt = export_format(path)
    text = {"jsonl": to_jsonl, "csv": to_csv, "html": html_report}[fmt](report)
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
                     tuple(records), _str_or_none(head.get("created_at")), _str_or_none(head.get("finished_at")))


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


def bar_chart_svg(rows: Sequence[Mapping[str, Any]], width: int = 640) -> str:
    """An inline SVG bar chart: one horizontal bar per row (``strategy``, ``accuracy``, ``ci_low``,
    ``ci_high``, all in 0..1) with its interval as a whisker; names and numbers escaped."""
    bar_h, gap, left, right, top = 22, 10, 180, 60, 24
    plot = width - left - right
    height = top + len(rows) * (bar_h + gap) + 24
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="accuracy by strategy" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-size="12" '
             'font-family="system-ui,sans-serif">']
    for tick in range(0, 101, 20):
        x = left + plot * tick / 100
        parts.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 20}" stroke="#e3e7eb"/>')
        parts.append(f'<text x="{x:.1f}" y="{top - 10}" text-anchor="middle" fill="#52606d">{tick}%</text>')
    for i, r in enumerate(rows):
        y = top + i * (bar_h + gap)
        acc, lo, hi = (min(1.0, max(0.0, float(r.get(k) or 0.0))) for k in ("accuracy", "ci_low", "ci_high"))
        name = _e(r.get("strategy"))
        parts.append(f'<g class="bar"><title>{name}: {acc:.1%} (95% CI {lo:.1%}–{hi:.1%})</title>')
        parts.append(f'<text x="{left - 8}" y="{y + bar_h * 0.7:.1f}" text-anchor="end">{name}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{plot * acc:.1f}" height="{bar_h}" fill="#4c78a8"/>')
        cy = y + bar_h / 2
        x_lo, x_hi = left + plot * lo, left + plot * hi
        parts.append(f'<line class="whisker" x1="{x_lo:.1f}" y1="{cy:.1f}" x2="{x_hi:.1f}" y2="{cy:.1f}" '
                     'stroke="#1f2933" stroke-width="1.5"/>')
        for x in (x_lo, x_hi):
            parts.append(f'<line x1="{x:.1f}" y1="{cy - 6:.1f}" x2="{x:.1f}" y2="{cy + 6:.1f}" stroke="#1f2933" '
                         'stroke-width="1.5"/>')
        parts.append(f'<text x="{left + plot + 6}" y="{y + bar_h * 0.7:.1f}">{acc:.1%}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def _heat(share: float) -> str:
    """A cell colour from white (0) to the chart blue (1)."""
    share = min(1.0, max(0.0, share))
    r, g, b = (round(255 + (c - 255) * share) for c in (0x4c, 0x78, 0xa8))
    return f"#{r:02x}{g:02x}{b:02x}"


def confusion_svg(cm, title: str = "") -> str:
    """An inline SVG heat map of a confusion matrix: rows gold labels, columns predictions, each cell its
    count on a colour by its share of the gold row (the diagonal dark where the model is right)."""
    labels, columns = list(cm.labels), list(cm.columns)
    cell, left, top = 46, 12 + 7 * max((len(str(x)) for x in labels), default=4), 56
    width = left + cell * len(columns) + 16
    height = top + cell * len(labels) + 16
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="heatmap" '
             f'aria-label="confusion matrix {_e(title)}" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-size="12" font-family="system-ui,sans-serif">',
             f'<text x="{left}" y="14" fill="#52606d">predicted →</text>',
             f'<text x="4" y="{top - 6}" fill="#52606d">gold ↓</text>']
    for j, col in enumerate(columns):
        x = left + j * cell + cell / 2
        parts.append(f'<text x="{x:.1f}" y="{top - 8}" text-anchor="middle">{_e(col)}</text>')
    for i, label in enumerate(labels):
        row = cm.counts[i]
        total = sum(row) or 1
        y = top + i * cell
        parts.append(f'<text x="{left - 6}" y="{y + cell / 2 + 4:.1f}" text-anchor="end">{_e(label)}</text>')
        for j, value in enumerate(row):
            share = value / total
            x = left + j * cell
            ink = "#ffffff" if share > 0.55 else "#1f2933"
            parts.append(f'<g class="cell"><title>gold {_e(label)}, predicted {_e(columns[j])}: {_e(value)} '
                         f'({share:.0%} of gold {_e(label)})</title>'
                         f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" fill="{_heat(share)}" '
                         f'stroke="#d5dae0"/><text x="{x + cell / 2 - 1:.1f}" y="{y + cell / 2 + 4:.1f}" '
                         f'text-anchor="middle" fill="{ink}">{_e(value)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def forest_svg(comparisons: Sequence[Any], width: int = 640) -> str:
    """An inline SVG forest plot: one row per pair (``a − b``), the accuracy difference as a dot and its 95%
    bootstrap interval as a line, around a zero line (a pair whose line crosses zero may be chance)."""
    row_h, left, right, top = 26, 260, 70, 28
    plot = width - left - right
    reach = max([0.1, *(abs(v) for c in comparisons for v in (c.ci_low, c.ci_high, c.difference))])
    reach = min(1.0, (int(reach * 10) + 1) / 10)  # a whole tenth beyond the widest interval

    def x_of(v: float) -> float:
        return left + plot * (max(-reach, min(reach, v)) + reach) / (2 * reach)

    height = top + len(comparisons) * row_h + 28
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="forest" '
             f'aria-label="paired differences with 95% intervals" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-size="12" font-family="system-ui,sans-serif">']
    steps = 4
    for t in range(-steps, steps + 1):
        v = reach * t / steps
        x = x_of(v)
        parts.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 22}" '
                     f'stroke="{"#7b8794" if t == 0 else "#e3e7eb"}"/>')
        parts.append(f'<text x="{x:.1f}" y="{top - 10}" text-anchor="middle" fill="#52606d">'
                     f'{100 * v:+.0f}</text>')
    parts.append(f'<text x="{left + plot / 2:.1f}" y="{height - 6}" text-anchor="middle" fill="#52606d">'
                 "a − b, accuracy points (95% bootstrap interval)</text>")
    for i, c in enumerate(comparisons):
        cy = top + i * row_h + row_h / 2
        name = f"{c.a} − {c.b}"
        label = name if len(name) <= 40 else name[:39] + "…"
        colour = "#0b7a3e" if c.ci_low > 0 else "#b42318" if c.ci_high < 0 else "#4c78a8"
        parts.append(f'<g class="pair"><title>{_e(name)}: {100 * c.difference:+.1f} points '
                     f'(95% CI {100 * c.ci_low:+.1f} to {100 * c.ci_high:+.1f}; McNemar p = {c.p_value:.3g}, '
                     f'{_e(c.n)} items)</title>')
        parts.append(f'<text x="{left - 8}" y="{cy + 4:.1f}" text-anchor="end">{_e(label)}</text>')
        parts.append(f'<line class="ci" x1="{x_of(c.ci_low):.1f}" y1="{cy:.1f}" x2="{x_of(c.ci_high):.1f}" '
                     f'y2="{cy:.1f}" stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<circle cx="{x_of(c.difference):.1f}" cy="{cy:.1f}" r="5" fill="{colour}"/>')
        parts.append(f'<text x="{left + plot + 6}" y="{cy + 4:.1f}">{100 * c.difference:+.1f}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


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
           f"{_e(len({r.get('item_index') for r in report.records}))} items, status {_e(report.status)}"
           + (f", started {_e(report.created_at)}" if report.created_at else "") + ".</p>"]
    out.append('<h2 id="accuracy">Accuracy (95% Wilson interval)</h2>')
    out.append(f'<figure id="chart">{bar_chart_svg(chart_rows(summaries))}</figure>')
    out.append(_table(("strategy", "n", "correct", "accuracy", "95% CI", "cached", "items/s (model)"), [
        (_td(s.strategy), _td(s.n, True), _td(s.correct, True), _td(f"{s.accuracy:.1%}", True),
         _td(f"{s.ci_low:.1%}–{s.ci_high:.1%}", True), _td(s.cached_text(), True), _td(s.speed(), True))
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
        out.append(_table(("a", "b", "items", "a − b", "95% bootstrap CI", "only a right", "only b right",
                           "McNemar p"), [
            (_td(c.a), _td(c.b), _td(c.n, True), _td(f"{100 * c.difference:+.1f} pts", True),
             _td(f"{100 * c.ci_low:+.1f} to {100 * c.ci_high:+.1f}", True), _td(c.only_a, True),
             _td(c.only_b, True), _td(f"{c.p_value:.3g}", True)) for c in comparisons], "paired"))
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
    out.append(_table(("strategy", "#", "id", "input", "prompt", "completion", "answer", "rule", "gold", "correct",
                       "s"), [
        (_td(r.get("strategy")), _td(r.get("item_index"), True), _td(r.get("id")), _long(r.get("input")),
         _long(r.get("prompt")), _long(r.get("output")), _td(r.get("extracted")), _td(r.get("rule")),
         _td(r.get("gold")),
         '<td class="ok">✓</td>' if r.get("correct") else '<td class="bad">✗</td>', _td(r.get("seconds"), True))
        for r in shown], "items"))
    out.append('<h2 id="manifest">Manifest</h2>')
    out.append(_manifest_html(meta))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


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
