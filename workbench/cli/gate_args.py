"""``eval``'s CI gate flags: ``--fail-under [NAME=]X`` (repeatable), ``--fail-if-worse RUN_OR_FILE``,
``--alpha`` and ``--junit FILE``; what they build (every one checked before any model loads) and what the run
ends with: one stderr line per failing rule and exit status 1, the JUnit report.

    python -m workbench eval --dataset sentiment --strategies zero,knn4 --fail-under 0.8 --fail-under zero=0.6 \
        --fail-if-worse baseline.jsonl --alpha 0.05 --junit report.xml

The verdicts themselves are :mod:`workbench.evaluate.gate`'s; the XML is :mod:`workbench.junit`'s.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench.cli.common import run_ref, shown
from workbench.errors import ConfigError
from workbench.evaluate.gate import ALPHA, FailIfWorse, FailUnder

#: The exit status of a run the gate fails (a usage error is 2, as every refused command).
GATE_FAILED = 1


def add_gate_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("CI gate (exit status 1 when a rule fails, one stderr line per failing rule)")
    g.add_argument("--fail-under", action="append", default=None, metavar="[NAME=]X",
                   help="fail when a strategy's pass rate (the table's accuracy) is below X (0..1): every strategy, "
                        "or NAME=X for the strategy the table names NAME (repeatable; a named one wins over the "
                        "bare one)")
    g.add_argument("--fail-if-worse", type=run_ref, default=None, metavar="RUN_OR_FILE",
                   help="fail when a strategy's pass rate is lower than the same-named strategy's in this baseline "
                        "(a stored run id, or a run.jsonl that --output wrote), on the items both ran (paired by "
                        "id), with the paired test's p below --alpha (McNemar, exact; Wilcoxon with --repeat)")
    g.add_argument("--alpha", type=float, default=None, metavar="A",
                   help=f"the significance level of --fail-if-worse (default {ALPHA})")
    g.add_argument("--junit", default=None, metavar="report.xml",
                   help="also write a JUnit XML report for CI: a testsuite per strategy, a testcase per item, and "
                        "the gate's verdicts")


@dataclasses.dataclass(frozen=True)
class GateFlags:
    """What the gate flags ask for, validated (the baseline loaded)."""

    under: tuple[FailUnder, ...] = ()  # the --fail-under rules, parsed
    worse: FailIfWorse | None = None  # --fail-if-worse with its baseline's records and --alpha (None: not given)
    junit: str | None = None  # --junit's path (None: not given)

    @property
    def active(self) -> bool:
        """Whether any rule was given (a --junit report alone gates nothing)."""
        return bool(self.under) or self.worse is not None


def gate_from_args(args: argparse.Namespace) -> GateFlags:
    """The gate flags built and checked: a threshold outside 0..1, an --alpha outside (0, 1) or without
    --fail-if-worse, a baseline that does not exist, a --junit path no file can be written to: one line."""
    from workbench.cli.common import check_output
    from workbench.evaluate.gate import check_alpha, parse_fail_under

    under = tuple(parse_fail_under(text) for text in args.fail_under or ())
    if args.alpha is not None and args.fail_if_worse is None:
        raise ConfigError("--alpha is the significance level of --fail-if-worse; add --fail-if-worse RUN_OR_FILE, "
                          "or leave out --alpha.")
    alpha = check_alpha(args.alpha) if args.alpha is not None else ALPHA
    worse = None
    if args.fail_if_worse is not None:
        from workbench.cli.runs import load_report

        ref = args.fail_if_worse
        report = load_report(ref)  # an unknown run id or a missing or broken file: one line
        name = f"run {ref}" if isinstance(ref, int) else shown(Path(ref).name)
        worse = FailIfWorse(name, tuple(report.records), alpha)
    if args.junit is not None:
        check_output(args.junit, "--junit")
    return GateFlags(under, worse, args.junit)


def check_gate(flags: GateFlags, names: Sequence[str], item_ids: Sequence[str] | None) -> None:
    """Before the model loads: every --fail-under name is a strategy of the run, and the baseline shares a
    strategy name and items (``item_ids``: the items the run evaluates; None when unknown) with it."""
    from workbench.evaluate.gate import check_baseline, resolve

    resolve(flags.under, names)
    if flags.worse is not None:
        check_baseline(flags.worse, names, item_ids)


def verdicts_of(flags: GateFlags, run_id: int | None, status: str, records: Sequence[Mapping[str, Any]],
                names: Sequence[str]) -> list:
    """The gate's verdicts on the run of strategies ``names`` ([] when no rule was given)."""
    from workbench.evaluate.gate import gate

    return gate(status, records, flags.under, flags.worse, f"run {run_id}", names) if flags.active else []


def finish_gate(flags: GateFlags, verdicts: Sequence, run_id: int | None, status: str,
                records: Sequence[Mapping[str, Any]], models: Mapping[str, str]) -> int:
    """The JUnit report written (with the verdicts), then one stderr line per failing rule; returns the exit
    status: 0, or 1 when a rule failed."""
    from workbench.evaluate.gate import failed
    from workbench.junit import junit_xml, write_junit

    if flags.junit is not None:
        path = write_junit(flags.junit, junit_xml(records, run_id=run_id, status=status, models=models,
                                                  verdicts=verdicts))
        print(f"wrote {shown(str(path))}", file=sys.stderr)
    bad = failed(verdicts)
    for v in bad:
        print(f"gate: {shown(v.line)}", file=sys.stderr)
    return GATE_FAILED if bad else 0


def report_failed_run(flags: GateFlags, store, run_id: int, models: Mapping[str, str]) -> None:
    """A run that stopped on an error: its JUnit report (the items stored so far, and the gate's verdicts, the
    run's status first) is still written, so CI shows what ran; the error itself is the command's one line.
    ``models``: each of the run's strategies (by name) and its model."""
    if flags.junit is None:
        return
    from workbench.errors import WorkbenchError
    from workbench.junit import junit_xml, write_junit

    info = store.get_run(run_id)
    records = store.results(run_id)
    try:
        verdicts = verdicts_of(flags, run_id, info.status, records, list(models))
        write_junit(flags.junit, junit_xml(records, run_id=run_id, status=info.status, models=models,
                                           verdicts=verdicts))
    except WorkbenchError:
        pass  # the run's own error is the one line the command ends with
