"""The CI gate: a run's records and the gate's rules in, one verdict per (rule, strategy) out.

Two rules, as ``eval``'s flags give them (:mod:`workbench.cli.gate_args`):

- ``--fail-under X`` / ``--fail-under NAME=X``: a strategy fails when its pass rate (the table's accuracy: the
  share of its records that are correct) is below X. A named rule wins over the bare one for its strategy.
- ``--fail-if-worse BASELINE --alpha A``: a strategy fails when its pass rate on the items it shares with the
  baseline's same-named strategy (paired by item id) is lower than the baseline's and the paired test's
  two-sided p is below A -- McNemar's exact test (:func:`workbench.evaluate.pairs.compare_runs`), or, where
  either run repeats items, Wilcoxon's signed-rank test on each item's pass rate
  (:func:`workbench.stats.compare_rates`), as the run's own paired comparisons do.

A run that did not finish ("failed", "cancelled") never passes: its verdict list starts with a failed
``status`` verdict. Everything here is pure; the flags, the baseline's loading and the printing live in the CLI.

    >>> records = [{"strategy": "zero", "item_index": i, "id": f"q{i}", "correct": c}
    ...            for i, c in enumerate([True, True, False, False])]
    >>> [v.line for v in gate("finished", records, [FailUnder(0.8)])]
    ['zero 50.0% < 80.0% (--fail-under)']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from workbench.errors import ConfigError

#: The default significance level of ``--fail-if-worse`` (``--alpha``).
ALPHA = 0.05
#: The run status that can pass the gate (any other -- failed, cancelled, running -- fails it).
FINISHED = "finished"


@dataclass(frozen=True)
class FailUnder:
    """``--fail-under [NAME=]X``: pass rates below ``threshold`` fail."""

    threshold: float  # in 0..1
    strategy: str | None = None  # the strategy it names, as the table shows it (None: every strategy)

    @property
    def flag(self) -> str:
        """The flag as the user would type it: ``--fail-under 0.8`` or ``--fail-under zero=0.8``.

        >>> FailUnder(0.8, "zero").flag
        '--fail-under zero=0.8'
        """
        return f"--fail-under {'' if self.strategy is None else self.strategy + '='}{self.threshold:g}"


@dataclass(frozen=True)
class FailIfWorse:
    """``--fail-if-worse BASELINE --alpha A``: significantly lower pass rates than the baseline's fail."""

    baseline: str  # how lines name the baseline: "run 12" or "baseline.jsonl"
    records: tuple[Mapping[str, Any], ...]  # the baseline's item records, as stored or exported
    alpha: float = ALPHA  # the significance level: p below it (and a lower pass rate) fails


@dataclass(frozen=True)
class Verdict:
    """One rule on one strategy (or, for ``status``, on the run)."""

    rule: str  # "--fail-under", "--fail-if-worse" or "status"
    strategy: str | None  # the strategy judged (None: the run's status)
    passed: bool  # the rule holds (a skipped rule holds)
    line: str  # one line: the figure, the bound and the rule ("zero 72.0% < 80.0% (--fail-under)")
    skipped: bool = False  # nothing to judge (a strategy the baseline does not have)

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "strategy": self.strategy, "passed": self.passed, "line": self.line,
                "skipped": self.skipped}


def parse_fail_under(text: str) -> FailUnder:
    """One ``--fail-under`` value: ``X`` (every strategy) or ``NAME=X`` (the strategy the table names NAME; the
    last ``=`` splits, so a name may hold one). X is a number from 0 to 1.

    >>> parse_fail_under("0.8"), parse_fail_under("a/zero @ m=1")
    (FailUnder(threshold=0.8, strategy=None), FailUnder(threshold=1.0, strategy='a/zero @ m'))
    >>> parse_fail_under("zero=80")
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: --fail-under zero=80: the threshold must be a number from 0 to 1 (0.8 for 80%), not '80'.
    """
    name, _, number = text.rpartition("=")
    name = name.strip()
    try:
        value = float(number)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 1:  # NaN too
        hint = " (0.8 for 80%)" if 1 < value <= 100 else ""
        raise ConfigError(f"--fail-under {text}: the threshold must be a number from 0 to 1{hint}, not "
                          f"{number.strip()!r}.")
    if "=" in text and not name:
        raise ConfigError(f"--fail-under {text}: name the strategy before '=' (as the table shows it), or give "
                          "the number alone for every strategy.")
    return FailUnder(value, name or None)


def check_alpha(alpha: float) -> float:
    """``--alpha``: a significance level above 0 and below 1.

    >>> check_alpha(0.05)
    0.05
    >>> check_alpha(1.0)
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: --alpha must be a number above 0 and below 1 (e.g. 0.05), not 1.
    """
    if not 0 < alpha < 1:
        raise ConfigError(f"--alpha must be a number above 0 and below 1 (e.g. 0.05), not {alpha:g}.")
    return alpha


def resolve(rules: Sequence[FailUnder], names: Sequence[str]) -> dict[str, FailUnder]:
    """Each strategy's ``--fail-under`` rule: its own (by name; exact, else the one name equal but for case),
    else the bare one. Two bare rules, two for one name, or a name the run does not have is one line.

    >>> resolve([FailUnder(0.8), FailUnder(0.5, "Zero")], ["zero", "knn4"])
    {'zero': FailUnder(threshold=0.5, strategy='zero'), 'knn4': FailUnder(threshold=0.8, strategy=None)}
    >>> resolve([FailUnder(0.5, "kn4")], ["zero", "knn4"])
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: --fail-under kn4=0.5 names no strategy of this run; its strategies: zero, knn4.
    """
    bare = [r for r in rules if r.strategy is None]
    if len(bare) > 1:
        raise ConfigError(f"{bare[0].flag} and {bare[1].flag} both apply to every strategy; give one (and "
                          "NAME=X for a strategy of its own).")
    out: dict[str, FailUnder] = {name: bare[0] for name in names} if bare else {}
    own: dict[str, FailUnder] = {}
    for rule in rules:
        if rule.strategy is None:
            continue
        name = _strategy_named(rule.strategy, names)
        if name is None:
            raise ConfigError(f"{rule.flag} names no strategy of this run; its strategies: {', '.join(names)}.")
        if name in own:
            raise ConfigError(f"{own[name].flag} and {rule.flag} both name {name!r}; give one.")
        own[name] = out[name] = FailUnder(rule.threshold, name)
    return {name: out[name] for name in names if name in out}


def _strategy_named(name: str, names: Sequence[str]) -> str | None:
    """The run's strategy called ``name``: the exact name, else the only one equal to it ignoring case."""
    if name in names:
        return name
    folded = [n for n in names if n.casefold() == name.casefold()]
    return folded[0] if len(folded) == 1 else None


def check_baseline(rule: FailIfWorse, names: Sequence[str], item_ids: Iterable[str] | None = None) -> None:
    """Before the run: the baseline has a strategy of the same name as one here, and (``item_ids``: the items
    this run will evaluate) shares items with it; else one line naming both sides.

    >>> base = FailIfWorse("run 3", ({"strategy": "zero", "item_index": 0, "id": "q0", "correct": True},))
    >>> check_baseline(base, ["zero"], ["q0", "q1"])
    >>> check_baseline(base, ["knn4"])
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: --fail-if-worse: run 3 has no strategy named as one of this run (this run: knn4; run 3: zero); compare runs of the same strategies.
    """
    theirs = list(dict.fromkeys(str(r.get("strategy")) for r in rule.records))
    if not rule.records:
        raise ConfigError(f"--fail-if-worse: {rule.baseline} holds no item results; choose a run that evaluated "
                          "items.")
    if not set(theirs) & set(names):
        raise ConfigError(f"--fail-if-worse: {rule.baseline} has no strategy named as one of this run (this run: "
                          f"{', '.join(names)}; {rule.baseline}: {', '.join(theirs)}); compare runs of the same "
                          "strategies.")
    if item_ids is not None and not {_item_key(r) for r in rule.records} & {str(i) for i in item_ids}:
        raise ConfigError(f"--fail-if-worse: {rule.baseline} shares no item with this run (items pair by id); "
                          "compare runs on the same dataset.")


def gate(status: str, records: Sequence[Mapping[str, Any]], under: Sequence[FailUnder] = (),
         worse: FailIfWorse | None = None, run: str = "the run", names: Sequence[str] | None = None) -> list[Verdict]:
    """The gate's verdicts on a run (``status``, its item ``records``; ``names``: its strategies, by default
    those the records hold): a failed ``status`` verdict first when the run did not finish, then ``--fail-under``
    per strategy (a strategy with no results fails it), then ``--fail-if-worse``.

    >>> rows = [{"strategy": s, "item_index": 0, "id": "q0", "correct": c} for s, c in (("a", True), ("b", False))]
    >>> [(v.strategy, v.passed, v.line) for v in gate("cancelled", rows, [FailUnder(0.5), FailUnder(0, "b")], run="run 4")]
    ... # doctest: +NORMALIZE_WHITESPACE
    [(None, False, 'run 4 ended cancelled; a run that did not finish never passes the gate'),
     ('a', True, 'a 100.0% >= 50.0% (--fail-under)'), ('b', True, 'b 0.0% >= 0.0% (--fail-under)')]
    """
    names = list(dict.fromkeys(str(r.get("strategy")) for r in records)) if names is None else list(names)
    out = []
    if status != FINISHED:
        out.append(Verdict("status", None, False, f"{run} ended {status}; a run that did not finish never passes "
                                                  "the gate"))
    rates = pass_rates(records)
    for name, rule in resolve(under, names).items():
        rate = rates.get(name)
        if rate is None:
            out.append(Verdict("--fail-under", name, False, f"{name} has no results (--fail-under)"))
            continue
        below = rate < rule.threshold
        out.append(Verdict("--fail-under", name, not below,
                           f"{name} {rate:.1%} {'<' if below else '>='} {rule.threshold:.1%} (--fail-under)"))
    if worse is not None:
        out += worse_verdicts(records, worse)
    return out


def pass_rates(records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Each strategy's share of correct records (the table's accuracy; every repeat counts).

    >>> pass_rates([{"strategy": "a", "correct": True}, {"strategy": "a", "correct": False}])
    {'a': 0.5}
    """
    counts: dict[str, list[int]] = {}
    for r in records:
        c = counts.setdefault(str(r.get("strategy")), [0, 0])
        c[0] += bool(r.get("correct"))
        c[1] += 1
    return {name: right / n for name, (right, n) in counts.items()}


def worse_verdicts(records: Sequence[Mapping[str, Any]], rule: FailIfWorse) -> list[Verdict]:
    """``--fail-if-worse`` on each strategy of ``records``: compared with the baseline's same-named strategy on
    the items both ran (by id). A strategy the baseline lacks is skipped; one sharing no item with it fails.

    >>> base = [{"strategy": "s", "item_index": i, "id": f"q{i}", "correct": True} for i in range(8)]
    >>> now = [dict(r, correct=False) for r in base]
    >>> [v.line for v in worse_verdicts(now, FailIfWorse("run 1", tuple(base)))]
    ['s 0.0% vs 100.0% in run 1, p = 0.00781 < 0.05 (--fail-if-worse)']
    """
    from workbench.evaluate.pairs import compare_runs
    from workbench.stats import compare_rates, is_repeated

    mine, theirs = _by_strategy(records), _by_strategy(rule.records)
    repeated = is_repeated(records) or is_repeated(rule.records)
    out = []
    for name in mine:
        if name not in theirs:
            out.append(Verdict("--fail-if-worse", name, True, f"{name}: {rule.baseline} has no strategy of this name;"
                                                             " not compared (--fail-if-worse)", skipped=True))
            continue
        if repeated:  # each item's pass rate over its repeats, paired by id
            a, b = _rates_by_id(mine[name]), _rates_by_id(theirs[name])
            shared = [k for k in a if k in b]
            c = compare_rates([a[k] for k in shared], [b[k] for k in shared]) if shared else None
        else:
            pairs, _ = compare_runs(SimpleNamespace(records=mine[name]), SimpleNamespace(records=theirs[name]),
                                    "run", "baseline")
            c = pairs[0] if pairs else None
        if c is None:
            out.append(Verdict("--fail-if-worse", name, False, f"{name} shares no item with {rule.baseline} (items "
                                                              "pair by id); nothing to compare (--fail-if-worse)"))
            continue
        worse = c.accuracy_a < c.accuracy_b and c.p_value < rule.alpha
        sign = "<" if c.p_value < rule.alpha else ">="
        out.append(Verdict("--fail-if-worse", name, not worse,
                           f"{name} {c.accuracy_a:.1%} vs {c.accuracy_b:.1%} in {rule.baseline}, p = {c.p_value:.3g} "
                           f"{sign} {rule.alpha:g} (--fail-if-worse)"))
    return out


def _item_key(record: Mapping[str, Any]) -> str:
    """An item's pairing key: its dataset id (its index where a record has none), as compare_runs pairs."""
    return str(record.get("id") if record.get("id") is not None else record.get("item_index"))


def _by_strategy(records: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    out: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        out.setdefault(str(r.get("strategy")), []).append(r)
    return out


def _rates_by_id(records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """One strategy's item pass rates by item id (a run without repeats: each item's 1.0 or 0.0).

    >>> _rates_by_id([{"strategy": "s", "item_index": 0, "id": "q", "correct": True}])
    {'q': 1.0}
    """
    from workbench.stats import is_repeated, item_means

    (means,) = item_means(records).values() or ({},)
    if is_repeated(records):
        return {str(k): v for k, v in means.items()}
    ids = {r["item_index"]: _item_key(r) for r in records}
    return {ids[k]: v for k, v in means.items()}


def failed(verdicts: Sequence[Verdict]) -> list[Verdict]:
    """The verdicts that fail the gate (the run exits 1 when there is any)."""
    return [v for v in verdicts if not v.passed]
