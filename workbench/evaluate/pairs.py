"""Two stored runs side by side: paired tests on the items both ran, and the items whose answer changed.

Items pair up by their dataset id (the item index where a record has none); strategies pair up by name
when the runs share names, else every strategy of the first run meets every one of the second. The CLI's
``runs compare`` and the Evaluate page's run history both compare through :func:`compare_runs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.answers import normalise


def _item_key(record: Mapping[str, Any]) -> str:
    return str(record.get("id") if record.get("id") is not None else record.get("item_index"))


def _by_strategy(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Mapping[str, Any]]]:
    by: dict[str, dict[str, Mapping[str, Any]]] = {}
    for r in records:
        by.setdefault(str(r.get("strategy")), {})[_item_key(r)] = r
    return by


def strategy_pairs(a, b) -> list[tuple[str, str]]:
    """The strategies compared: same-named ones when the runs share names, else every pair."""
    sa, sb = _by_strategy(a.records), _by_strategy(b.records)
    same = [s for s in sa if s in sb]
    return [(s, s) for s in same] or [(x, y) for x in sa for y in sb]


def compare_runs(a, b, name_a: str, name_b: str) -> tuple[list, int]:
    """Paired comparisons (McNemar, bootstrap interval) of two reports on the items (by dataset id) both ran.

    ``a``, ``b``: :class:`~workbench.report.RunReport` (anything with ``records``). Each comparison is named
    ``{name_a}:{strategy}`` vs ``{name_b}:{strategy}``. Returns the comparisons and the shared item count.
    """
    from workbench.stats import compare

    sa, sb = _by_strategy(a.records), _by_strategy(b.records)
    out, shared_items = [], 0
    for x, y in strategy_pairs(a, b):
        items = sorted(set(sa[x]) & set(sb[y]))
        if not items:
            continue
        shared_items = max(shared_items, len(items))
        out.append(compare([bool(sa[x][i].get("correct")) for i in items],
                           [bool(sb[y][i].get("correct")) for i in items], f"{name_a}:{x}", f"{name_b}:{y}"))
    return out, shared_items


#: How an item changed from the first run to the second.
FIXED, BROKEN, OTHER_ANSWER = "fixed (wrong → right)", "broken (right → wrong)", "other answer"


@dataclass(frozen=True)
class ChangedItem:
    """One item whose answer differs between two runs (same strategy pair)."""

    strategy_a: str
    strategy_b: str
    id: str
    input: str | None
    gold: str | None
    answer_a: str | None
    answer_b: str | None
    correct_a: bool
    correct_b: bool

    @property
    def change(self) -> str:
        if self.correct_a == self.correct_b:
            return OTHER_ANSWER
        return FIXED if self.correct_b else BROKEN


def changed_items(a, b) -> list[ChangedItem]:
    """Items both runs answered (per strategy pair, see :func:`strategy_pairs`) whose verdict or normalised
    answer differs, in the first run's item order."""
    sa, sb = _by_strategy(a.records), _by_strategy(b.records)
    out: list[ChangedItem] = []
    for x, y in strategy_pairs(a, b):
        for key, ra in sa[x].items():
            rb = sb[y].get(key)
            if rb is None:
                continue
            ca, cb = bool(ra.get("correct")), bool(rb.get("correct"))
            same = normalise(ra.get("extracted"), ra.get("format", "free")) == \
                normalise(rb.get("extracted"), rb.get("format", "free"))
            if ca == cb and same:
                continue
            out.append(ChangedItem(x, y, key, ra.get("input"), ra.get("gold"), ra.get("extracted"),
                                   rb.get("extracted"), ca, cb))
    return out
