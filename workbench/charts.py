"""The report's charts as inline SVG (no script, no network; every name and number escaped): accuracy bars with
their 95% Wilson whiskers, a forest plot of paired differences with their intervals, a confusion-matrix heat map.

    >>> svg = bar_chart_svg([{"strategy": "a<b", "accuracy": 0.5, "ci_low": 0.3, "ci_high": 0.7}])
    >>> svg.startswith("<svg") and "a&lt;b" in svg and "a<b" not in svg
    True
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any


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
                     f'(95% CI {100 * c.ci_low:+.1f} to {100 * c.ci_high:+.1f}; {_e(getattr(c, "test", "McNemar"))} p = '
                     f'{c.p_value:.3g}, '
                     f'{_e(c.n)} items)</title>')
        parts.append(f'<text x="{left - 8}" y="{cy + 4:.1f}" text-anchor="end">{_e(label)}</text>')
        parts.append(f'<line class="ci" x1="{x_of(c.ci_low):.1f}" y1="{cy:.1f}" x2="{x_of(c.ci_high):.1f}" '
                     f'y2="{cy:.1f}" stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<circle cx="{x_of(c.difference):.1f}" cy="{cy:.1f}" r="5" fill="{colour}"/>')
        parts.append(f'<text x="{left + plot + 6}" y="{cy + 4:.1f}">{100 * c.difference:+.1f}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def curve_svg(rows: Sequence[Mapping[str, Any]], width: int = 640, height: int = 280) -> str:
    """An inline SVG line of accuracy against K (``k``, ``accuracy``, ``ci_low``, ``ci_high`` in 0..1) over its
    95% band, one dot per K: the shots curve. K sits on a square-root axis, so 0, 1, 2, 4, 8, 16 spread out.

    >>> svg = curve_svg([{"k": 0, "accuracy": 0.5, "ci_low": 0.3, "ci_high": 0.7},
    ...                  {"k": 4, "accuracy": 0.75, "ci_low": 0.5, "ci_high": 0.9}])
    >>> svg.count("<circle"), 'class="band"' in svg
    (2, True)
    """
    left, right, top, bottom = 48, 20, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    reach = max([1.0, *(float(r["k"]) ** 0.5 for r in rows)])

    def xy(k: float, v: float) -> tuple[float, float]:
        return left + plot_w * (float(k) ** 0.5) / reach, top + plot_h * (1 - min(1.0, max(0.0, float(v or 0))))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="curve" aria-label="accuracy against K" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-size="12" '
             'font-family="system-ui,sans-serif">']
    for tick in range(0, 101, 20):
        _, y = xy(0, tick / 100)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e3e7eb"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#52606d">{tick}%</text>')
    if rows:
        upper = " ".join("{:.1f},{:.1f}".format(*xy(r["k"], r["ci_high"])) for r in rows)
        lower = " ".join("{:.1f},{:.1f}".format(*xy(r["k"], r["ci_low"])) for r in reversed(rows))
        parts.append(f'<polygon class="band" points="{upper} {lower}" fill="#4c78a8" fill-opacity="0.2"/>')
        line = " ".join("{:.1f},{:.1f}".format(*xy(r["k"], r["accuracy"])) for r in rows)
        parts.append(f'<polyline points="{line}" fill="none" stroke="#4c78a8" stroke-width="2"/>')
    for r in rows:
        x, y = xy(r["k"], r["accuracy"])
        parts.append(f'<g class="point"><title>K={_e(r["k"])}: {float(r["accuracy"]):.1%} (95% CI '
                     f'{float(r["ci_low"]):.1%}–{float(r["ci_high"]):.1%})</title>'
                     f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#4c78a8"/>'
                     f'<text x="{x:.1f}" y="{height - bottom + 16}" text-anchor="middle">{_e(r["k"])}</text></g>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" fill="#52606d">'
                 "K demonstrations (accuracy, 95% Wilson band)</text></svg>")
    return "".join(parts)
