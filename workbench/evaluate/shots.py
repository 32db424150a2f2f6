"""The shots curve: accuracy against the number of demonstrations K (0, 1, 2, 4, 8, 16) for one selector.

Every K is one strategy of one stored run (:func:`workbench.evaluate.runner.evaluate`): the same items, the same
selector seed and the same decoding at every K, so neighbouring Ks are compared item by item (McNemar's exact
test, :func:`workbench.stats.compare`, Holm-adjusted over the steps). A K whose prompt cannot fit the model's
window is left out before any model call, with the reason (:func:`fitting_ks`). It answers whether "little gain
past 5-6 shots" holds for the user's model and data.

    >>> parse_ks("0, 1,2,4")
    (0, 1, 2, 4)
    >>> shot_name("knn", 4)
    'knn K=4'
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from workbench.data import Example, Pool
from workbench.errors import ConfigError, DataError
from workbench.evaluate.registry import STRATEGIES
from workbench.evaluate.strategies import Strategy, make_strategy
from workbench.retrieval.selectors.registry import SELECTOR_REGISTRY
from workbench.stats import PairedComparison, compare, with_holm

if TYPE_CHECKING:
    from workbench.backends import Backend
    from workbench.evaluate.runner import EvalRun
    from workbench.prompts.spec import PromptSpec
    from workbench.store import Store

#: The Ks of the curve when none are given (the seed notes' 0, 1, 2, 4, 8, 16).
DEFAULT_KS = (0, 1, 2, 4, 8, 16)
#: The most demonstrations one K may ask for (a prompt of 256 demonstrations fits no model the workbench runs).
MAX_K = 256
#: "Little gain past 5-6 shots": the curve's gain is measured from the largest K at or below this one.
PLATEAU_FROM = 6


def selectors() -> list[str]:
    """The strategy bases a curve can use: those that take K and choose per query over the pool (random, knn,
    diverse, bm25, mmr, balanced), from the one strategy registry.

    >>> selectors()[:3]
    ['random', 'knn', 'diverse']
    """
    return [k.base for k in STRATEGIES.values()
            if k.takes_k and k.selector is not None and SELECTOR_REGISTRY[k.selector].pickable
            and not SELECTOR_REGISTRY[k.selector].carries_demos]


def parse_ks(text: str | Sequence[int], what: str = "--ks") -> tuple[int, ...]:
    """``"0,1,2,4,8"`` (or a list) -> the Ks, which must be whole numbers from 0 to :data:`MAX_K`, in rising
    order, each once; a message names the list as ``what`` (the flag, or the page's field).

    >>> parse_ks([0, 2])
    (0, 2)
    >>> parse_ks("4,2")
    Traceback (most recent call last):
    workbench.errors.ConfigError: --ks must rise (4 then 2); give them in order, e.g. 0,1,2,4,8.
    """
    parts = [p.strip() for p in text.split(",")] if isinstance(text, str) else [str(p) for p in text]
    parts = [p for p in parts if p]
    if not parts:
        raise ConfigError(f"{what} is empty; give the numbers of demonstrations, e.g. 0,1,2,4,8.")
    ks: list[int] = []
    for p in parts:
        if not (p.isascii() and p.lstrip("-").isdigit()):
            raise ConfigError(f"{what}: {p!r} is not a whole number; give e.g. 0,1,2,4,8.")
        k = int(p)
        if k < 0:
            raise ConfigError(f"{what}: K must be 0 or more, not {k}.")
        if k > MAX_K:
            raise ConfigError(f"{what}: K={k} is more than {MAX_K} demonstrations; no model window holds them.")
        if k in ks:
            raise ConfigError(f"{what} lists K={k} twice; give each K once.")
        if ks and k < ks[-1]:
            raise ConfigError(f"{what} must rise ({ks[-1]} then {k}); give them in order, e.g. 0,1,2,4,8.")
        ks.append(k)
    return tuple(ks)


def shot_name(selector: str, k: int) -> str:
    """The strategy name of one point of the curve (``random K=0`` .. ``random K=16``)."""
    return f"{selector} K={k}"


def shot_strategies(spec: PromptSpec, pool: Pool, selector: str, ks: Sequence[int], *, answer: str = "generate",
                    seed: int = 0, label_words: Mapping[str, str] | None = None) -> list[Strategy]:
    """One strategy per K: the selector's strategy (as ``eval`` builds it, answered by ``answer``) with K
    demonstrations; K=0 is the same prompt with none (not ``zero``'s direct answer trigger), so the only
    change along the curve is the demonstrations."""
    if selector not in selectors():
        raise ConfigError(f"Unknown selector {selector!r} for a shots curve; use one of {', '.join(selectors())}.")
    base = make_strategy(STRATEGIES[selector].short_name(k=1), spec, pool, answer=answer, seed=seed,
                         label_words=label_words)
    return [dataclasses.replace(base, name=shot_name(selector, k), k=k) for k in ks]


@dataclass(frozen=True)
class Dropped:
    """A K left out of the curve, and why."""

    k: int
    reason: str  # one line: what did not fit where

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def check_pool(pool: Pool, items: Sequence[Example], ks: Sequence[int]) -> None:
    """Refuse a K the pool cannot give every item: a selector never shows an item its own row, so an item that
    is in the pool has one demonstration fewer to choose from."""
    inside = {" ".join(ex.input.split()).casefold() for ex in pool}
    own = any(" ".join(ex.input.split()).casefold() in inside for ex in items)
    room = len(pool) - (1 if own else 0)
    big = max(ks, default=0)
    if big > room:
        besides = f" ({room} besides an item's own row)" if own else ""
        raise DataError(f"K={big} needs {big} demonstrations and the pool {pool.name!r} has {len(pool)}{besides}; "
                        f"give a larger --pool or Ks up to {room}.")


def _reserve(strategy: Strategy, backend: Backend, query: Example) -> int:
    """Tokens kept free after the prompt, as the run keeps them (the answer's budget, or the longest label
    word)."""
    from workbench.evaluate.answer_modes import _label_budget
    from workbench.prompts.budget import reserved_tokens

    if strategy.answer == "score":
        return _label_budget(strategy, backend)
    return reserved_tokens(strategy.spec, strategy.decoding, backend, query)


def fitting_ks(strategies: Sequence[Strategy], items: Sequence[Example], pool: Pool, backend: Backend
               ) -> tuple[list[Strategy], list[Dropped]]:
    """The strategies whose K fits the model's window, and the Ks that do not, each with its reason.

    A K fits when K demonstrations of the pool's median length after the longest item, plus what the answer
    needs, take no more than the window: past it, most items would run with fewer demonstrations than K (the
    runner drops demonstrations to fit, and counts those items as ``fewer_demos``)."""
    from workbench.prompts.rendering import render

    if not items or not strategies:
        return list(strategies), []
    window = backend.context_window
    longest = max(items, key=lambda ex: backend.count_tokens(ex.input))
    by_length = sorted(pool, key=lambda ex: backend.count_tokens(f"{ex.input} {ex.answer}"))
    median = by_length[len(by_length) // 2] if by_length else None
    kept, dropped = [], []
    for s in strategies:
        demos = [median] * s.k if median is not None else []
        tokens = render(s.spec, demos, longest, backend).tokens
        reserve = _reserve(s, backend, longest)
        if tokens + reserve > window:
            what = (f"{s.k} demonstrations of the pool's median length and the longest item take" if s.k
                    else "the longest item alone takes")
            dropped.append(Dropped(s.k, f"K={s.k}: {what} {tokens} tokens, + {reserve} for the answer, over the "
                                        f"model's {window}-token window"))
        else:
            kept.append(s)
    return kept, dropped


@dataclass(frozen=True)
class ShotPoint:
    """Accuracy at one K, with its 95% Wilson interval."""

    k: int
    strategy: str  # the run's strategy name (``knn K=4``)
    n: int  # items answered
    correct: int
    accuracy: float
    ci_low: float
    ci_high: float
    fewer_demos: int = 0  # items that ran with fewer than K demonstrations (dropped to fit the window)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ShotsCurve:
    """A finished (or stopped) curve: its points, the Ks left out, the paired steps between neighbours."""

    selector: str  # the strategy base that chose the demonstrations
    points: tuple[ShotPoint, ...]  # rising K
    steps: tuple[PairedComparison, ...]  # K_i+1 − K_i (a the larger K) for neighbours, Holm-adjusted when several
    dropped: tuple[Dropped, ...] = ()  # Ks that did not fit the window
    run_id: int | None = None  # the stored run (None: made from records alone)
    status: str = "finished"  # the run's status
    plateau: PairedComparison | None = None  # largest K <= PLATEAU_FROM vs the largest K (None: no such pair)

    def to_dict(self) -> dict[str, Any]:
        return {"selector": self.selector, "run_id": self.run_id, "status": self.status,
                "points": [p.to_dict() for p in self.points], "steps": [c.to_dict() for c in self.steps],
                "dropped": [d.to_dict() for d in self.dropped],
                "plateau": None if self.plateau is None else self.plateau.to_dict(),
                "plateau_line": self.plateau_line()}

    def plateau_line(self) -> str:
        """Whether "little gain past 5-6 shots" holds here: the gain from the largest K at most
        :data:`PLATEAU_FROM` to the largest K, with its paired test."""
        c = self.plateau
        if c is None:
            return f"no K at most {PLATEAU_FROM} and one above it: the curve cannot say what happens past 5-6 shots"
        gain = c.difference  # the larger K (a) − the smaller (b)
        holds = "holds" if c.p_value >= 0.05 or gain <= 0 else "does not hold"
        return (f"past {PLATEAU_FROM} shots: {c.b} -> {c.a} {100 * gain:+.1f} points on {c.n} items (McNemar p = "
                f"{c.p_value:.3g}): 'little gain past 5-6 shots' {holds} here")


def curve_from_records(records: Sequence[Mapping[str, Any]], ks: Mapping[str, int], selector: str,
                       dropped: Sequence[Dropped] = (), run_id: int | None = None, status: str = "finished"
                       ) -> ShotsCurve:
    """The curve of a run's records (``ks``: strategy name -> its K): points by rising K, paired tests between
    neighbours on the items both answered.

    >>> rows = [{"strategy": n, "item_index": i, "correct": ok} for n, oks in
    ...         (("r K=0", (0, 0, 1, 0)), ("r K=2", (1, 1, 1, 0))) for i, ok in enumerate(oks)]
    >>> c = curve_from_records(rows, {"r K=0": 0, "r K=2": 2}, "random")
    >>> [(p.k, p.accuracy) for p in c.points], (c.steps[0].a, c.steps[0].only_a, c.steps[0].only_b)
    ([(0, 0.25), (2, 0.75)], ('r K=2', 2, 0))
    >>> c.steps[0].difference, c.steps[0].p_value
    (0.5, 0.5)
    """
    from workbench.evaluate.metrics import summarize

    mine = [r for r in records if r.get("strategy") in ks]
    summaries = {s.strategy: s for s in summarize(mine)}
    points = tuple(sorted((ShotPoint(ks[name], name, s.n, s.correct, s.accuracy, s.ci_low, s.ci_high,
                                     s.fewer_demos) for name, s in summaries.items()), key=lambda p: p.k))
    outcome = {name: {r["item_index"]: bool(r.get("correct")) for r in mine if r["strategy"] == name}
               for name in summaries}

    def pair(small: ShotPoint, large: ShotPoint) -> PairedComparison:
        """The larger K against the smaller (its ``difference`` is the gain) on the items both answered."""
        shared = sorted(set(outcome[small.strategy]) & set(outcome[large.strategy]))
        return compare([outcome[large.strategy][i] for i in shared], [outcome[small.strategy][i] for i in shared],
                       large.strategy, small.strategy)

    steps = with_holm([pair(a, b) for a, b in pairwise(points)])
    low = [p for p in points if p.k <= PLATEAU_FROM]
    plateau = pair(low[-1], points[-1]) if low and points[-1].k > PLATEAU_FROM else None
    return ShotsCurve(selector, points, tuple(steps), tuple(dropped), run_id, status, plateau)


def shots_curve(dataset: Pool, pool: Pool | None, backend: Backend, store: Store, *, selector: str = "random",
                ks: Sequence[int] = DEFAULT_KS, spec: PromptSpec | None = None, answer: str = "generate",
                seed: int = 0, limit: int | None = None, label_words: Mapping[str, str] | None = None,
                progress: Callable[[Any], None] | None = None, **options: Any) -> tuple[ShotsCurve, EvalRun]:
    """Evaluate ``selector`` at every K of ``ks`` that fits the window, in one stored run, and the curve.

    ``spec`` default: the dataset's own (:func:`workbench.evaluate.formats.default_spec`). ``options`` go to
    :func:`~workbench.evaluate.runner.evaluate` (``embedder``, ``index``, ``cache``, ``should_stop``, ...)."""
    from workbench.evaluate.formats import default_spec
    from workbench.evaluate.runner import evaluate

    ks = parse_ks(list(ks))
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be at least 1, not {limit}.")
    if len(dataset) == 0:
        raise DataError("The dataset is empty.")
    pool = dataset if pool is None else pool
    items = list(dataset)[: limit or len(dataset)]
    check_pool(pool, items, ks)
    spec = spec or default_spec(dataset, pool)
    strategies = shot_strategies(spec, pool, selector, ks, answer=answer, seed=seed, label_words=label_words)
    kept, dropped = fitting_ks(strategies, items, pool, backend)
    if not kept:
        raise ConfigError(f"No K of {', '.join(map(str, ks))} fits the model's {backend.context_window}-token "
                          f"window ({dropped[0].reason}); give smaller Ks or a larger --context-window.")
    run = evaluate(dataset, pool, kept, backend, store, limit=limit, progress=progress, **options)
    curve = curve_from_records(run.records, {s.name: s.k for s in kept}, selector, dropped, run.run_id, run.status)
    return curve, run


# --------------------------------------------------------------------------- shown


def format_table(curve: ShotsCurve) -> str:
    """The curve as plain text: one line per K, then the paired steps, the Ks left out and the plateau line."""
    rows = [("K", "n", "accuracy", "95% CI", "fewer demos")]
    rows += [(str(p.k), str(p.n), f"{p.accuracy:.1%}", f"{p.ci_low:.1%}–{p.ci_high:.1%}", str(p.fewer_demos))
             for p in curve.points]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if curve.steps:
        lines += ["", "neighbouring K (same items; the larger K's gain in accuracy points):"]
        lines += [f"  {c.line()}" for c in curve.steps]
    lines += [f"dropped {d.reason}" for d in curve.dropped]
    if curve.points:
        lines += ["", curve.plateau_line()]
    return "\n".join(lines)


def to_html(curve: ShotsCurve) -> str:
    """The curve as an HTML section (an inline SVG line with its 95% band, the table, the steps); escaped."""
    from workbench.charts import curve_svg

    e = html.escape
    rows = "".join(f'<tr><td class="num">{p.k}</td><td class="num">{p.n}</td><td class="num">{p.accuracy:.1%}</td>'
                   f'<td class="num">{p.ci_low:.1%}–{p.ci_high:.1%}</td><td class="num">{p.fewer_demos}</td></tr>'
                   for p in curve.points)
    steps = "".join(f"<li>{e(c.line())}</li>" for c in curve.steps)
    out = [f'<h2 id="shots">Shots curve: {e(curve.selector)} demonstrations</h2>',
           "<p>The same items and seed at every K; 95% Wilson intervals; McNemar's exact test between "
           "neighbouring K (Holm-adjusted over the steps).</p>",
           f'<figure id="shots-chart">{curve_svg([p.to_dict() for p in curve.points])}</figure>',
           '<table class="shots"><thead><tr><th>K</th><th>n</th><th>accuracy</th><th>95% CI</th>'
           f"<th>fewer demos</th></tr></thead><tbody>{rows}</tbody></table>"]
    if steps:
        out.append(f"<ul>{steps}</ul>")
    out += [f"<p>Dropped {e(d.reason)}.</p>" for d in curve.dropped]
    out.append(f"<p><b>{e(curve.plateau_line())}</b></p>")
    return "\n".join(out)


def with_curve(page: str, curve: ShotsCurve) -> str:
    """A run's HTML report (:func:`workbench.report.html_report`) with the curve's section before its accuracy
    section (at the end of the body when the page has none)."""
    section = to_html(curve)
    mark = '<h2 id="accuracy">'
    if mark in page:
        return page.replace(mark, section + "\n" + mark, 1)
    return page.replace("</body>", section + "\n</body>", 1)
