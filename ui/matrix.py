"""The prompt x model matrix of a run whose strategies ran on several models (a promptfoo config's prompts x
providers, an lm-eval task on several models): one row per prompt, one column per model, each cell the pass rate
(or accuracy) and n; and the paired comparisons along both axes -- this prompt vs that one on one model, this model
vs that one on one prompt -- from the run's records, which pair item by item
(:func:`workbench.stats.paired_comparisons`).

A strategy's place in the matrix comes from its name: ``PROMPT @ MODEL`` as
:func:`workbench.evaluate.variants.cross_models` and the promptfoo import name them; a strategy without ``@`` ran
on its own model (its stored ``model``) or the run's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import altair as alt
import pandas as pd

from workbench.evaluate.variants import model_label
from workbench.stats import PairedComparison, paired_comparisons, with_holm

#: What joins a prompt and its model in a strategy's name.
AT = " @ "


@dataclass(frozen=True)
class Cell:
    """One prompt on one model."""

    prompt: str  # the row
    model: str  # the column (the model as the strategy names it)
    strategy: str  # the strategy's full name in the run
    n: int  # results (each repeat counts)
    rate: float  # pass rate, or accuracy where no assertion judged
    ci_low: float  # its 95% Wilson interval
    ci_high: float


@dataclass(frozen=True)
class Matrix:
    """The cells of a prompt x model run, rows and columns in the run's order."""

    prompts: tuple[str, ...]  # rows
    models: tuple[str, ...]  # columns
    cells: tuple[Cell, ...]  # at most one per (prompt, model)

    def cell(self, prompt: str, model: str) -> Cell | None:
        return next((c for c in self.cells if c.prompt == prompt and c.model == model), None)


def place(name: str, model: str | None, run_model: str) -> tuple[str, str]:
    """(prompt, model) of a strategy: its name split at the last ``@``, else its own model or the run's.

    >>> place("polite @ gemma-3-270m", "gemma-3-270m", "x")
    ('polite', 'gemma-3-270m')
    >>> place("acc_norm", None, "/models/qwen.gguf")
    ('acc_norm', 'qwen.gguf')
    """
    if AT in name:
        prompt, label = name.rsplit(AT, 1)
        return prompt, label
    return name, model_label(model or run_model)


def run_matrix(strategies: Sequence[Mapping], summaries: Sequence, run_model: str) -> Matrix | None:
    """The matrix of a run from its stored strategies (``meta["strategies"]``) and summaries; None when the run
    has fewer than two models (the per-strategy table says it all) or two strategies fall in one cell.

    >>> from types import SimpleNamespace as S
    >>> rows = [S(strategy=f"{p} @ {m}", n=4, accuracy=a, ci_low=0.0, ci_high=1.0)
    ...         for p, m, a in [("a", "g", 0.5), ("b", "g", 1.0), ("a", "s", 0.25)]]
    >>> m = run_matrix([{"name": r.strategy} for r in rows], rows, "g")
    >>> m.prompts, m.models, m.cell("b", "s"), m.cell("a", "s").rate
    (('a', 'b'), ('g', 's'), None, 0.25)
    >>> run_matrix([{"name": "zero"}], rows[:1], "g") is None
    True
    """
    models = {d["name"]: d.get("model") for d in strategies}
    cells = []
    for s in summaries:
        prompt, model = place(s.strategy, models.get(s.strategy), run_model)
        cells.append(Cell(prompt, model, s.strategy, s.n, s.accuracy, s.ci_low, s.ci_high))
    prompts = tuple(dict.fromkeys(c.prompt for c in cells))
    columns = tuple(dict.fromkeys(c.model for c in cells))
    if len(columns) < 2 or len({(c.prompt, c.model) for c in cells}) != len(cells):
        return None
    return Matrix(prompts, columns, tuple(cells))


def axis_comparisons(records: Sequence[Mapping], matrix: Matrix, along: str) -> list[tuple[str, PairedComparison]]:
    """Paired comparisons along one axis, each with the row or column it was made in: ``along="prompts"``
    compares the prompts on each model (``(model, prompt a vs prompt b)``), ``"models"`` the models on each
    prompt. Each pair is named by its axis' names only; the p values are Holm-adjusted over the axis' pairs.

    >>> m = Matrix(("p", "q"), ("g", "s"), tuple(Cell(p, x, f"{p} @ {x}", 2, 0.5, 0, 1) for p in "pq" for x in "gs"))
    >>> recs = [{"strategy": f"{p} @ {x}", "item_index": i, "correct": (p == "p" or x == "s") and i == 0}
    ...         for p in "pq" for x in "gs" for i in range(2)]
    >>> [(where, c.a, c.b, c.difference) for where, c in axis_comparisons(recs, m, "prompts")]
    [('g', 'p', 'q', 0.5), ('s', 'p', 'q', 0.0)]
    >>> [(where, c.a, c.b, c.difference) for where, c in axis_comparisons(recs, m, "models")]
    [('p', 'g', 's', 0.0), ('q', 'g', 's', -0.5)]
    """
    groups = matrix.models if along == "prompts" else matrix.prompts
    out: list[tuple[str, PairedComparison]] = []
    for group in groups:
        cells = [c for c in matrix.cells if (c.model if along == "prompts" else c.prompt) == group]
        names = {c.strategy: (c.prompt if along == "prompts" else c.model) for c in cells}
        subset = [r for r in records if r.get("strategy") in names]
        for c in paired_comparisons(subset):
            out.append((group, dataclasses.replace(c, a=names[c.a], b=names[c.b], p_holm=None)))
    adjusted = with_holm([c for _, c in out])
    return [(group, c) for (group, _), c in zip(out, adjusted, strict=True)]


def _cell_text(c: Cell) -> str:
    """A cell's figure as the table and the heat map write it.

    >>> _cell_text(Cell("p", "m", "p @ m", 4, 0.75, 0.3, 0.95))
    '75.0% (n=4)'
    """
    return f"{c.rate:.1%} (n={c.n})"


def matrix_frame(matrix: Matrix) -> pd.DataFrame:
    """The matrix as a table: one row per prompt, one column per model, each cell ``75.0% (n=4)`` ("—": that
    prompt did not run on that model)."""
    rows = []
    for p in matrix.prompts:
        row = {"prompt": p}
        for m in matrix.models:
            cell = matrix.cell(p, m)
            row[m] = "—" if cell is None else _cell_text(cell)
        rows.append(row)
    return pd.DataFrame(rows, columns=["prompt", *matrix.models])


def matrix_chart(matrix: Matrix, measure: str) -> alt.LayerChart:
    """A heat map: prompts down, models across, the colour the cell's rate, its figure written in it. Labels are
    never cut (no label limit); long model names tilt when there are many columns."""
    df = pd.DataFrame([{"prompt": c.prompt, "model": c.model, "rate": c.rate, "text": _cell_text(c),
                        "interval": f"{c.ci_low:.1%} – {c.ci_high:.1%}", "strategy": c.strategy}
                       for c in matrix.cells])
    tilt = -30 if len(matrix.models) > 4 else 0
    base = alt.Chart(df).encode(
        x=alt.X("model:N", sort=list(matrix.models), title="model",
                axis=alt.Axis(orient="top", labelAngle=tilt, labelLimit=0)),
        y=alt.Y("prompt:N", sort=list(matrix.prompts), title="prompt", axis=alt.Axis(labelLimit=0)))
    tooltip = ["strategy", alt.Tooltip("text:N", title=measure), alt.Tooltip("interval:N", title="95% CI")]
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color("rate:Q", title=measure, scale=alt.Scale(domain=[0, 1], scheme="greens"),
                        legend=alt.Legend(format="%", orient="bottom")), tooltip=tooltip)
    text = base.mark_text(fontSize=14).encode(
        text="text:N", color=alt.condition(alt.datum.rate > 0.6, alt.value("white"), alt.value("#1f2933")),
        tooltip=tooltip)
    return (cells + text).properties(height=alt.Step(48))


def for_forest(pairs: Sequence[tuple[str, PairedComparison]]) -> list[PairedComparison]:
    """The comparisons as the forest plot names them: ``[where] a − b``, one line each even where two rows or
    columns compare the same names.

    >>> c = PairedComparison("p", "q", 2, 1.0, 0.5, 0.5, 0.0, 1.0, 1, 0, 1.0)
    >>> [f"{x.a} − {x.b}" for x in for_forest([("gemma", c)])]
    ['[gemma] p − q']
    """
    return [dataclasses.replace(c, a=f"[{group}] {c.a}") for group, c in pairs]
