"""What a prompt set or a stored run exports to promptfoo as: its strategies (model, decoding, fixed
demonstrations, checks) and its tests as items (:func:`workbench.interop.promptfoo.export.export_promptfoo`
writes them)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from workbench.data import Example
from workbench.errors import DataError, WorkbenchError
from workbench.evaluate.strategies import Strategy
from workbench.judging.registry import build_checks


def from_set(pset: Any) -> tuple[list[Strategy], list[Example]]:
    """A prompt set's steps as strategies (model, decoding, fixed demonstrations, checks) and its tests as items."""
    strategies = []
    for step in pset.steps:
        if step.select is not None:
            raise DataError(f"Step {step.title!r} chooses its demonstrations per query ({step.select.name} from "
                            f"{step.select.pool}); a promptfoo prompt is one fixed text: give it inline "
                            "demonstrations to export it.")
        try:
            strategies.append(Strategy(
                name=step.title, spec=step.spec, selector="fixed" if step.demos else None, k=len(step.demos),
                demos=step.demos, decoding=step.decoding, checks=build_checks(step.checks, step.title),
                threshold=step.threshold, model=step.model or None))
        except WorkbenchError as err:  # a ConfigError/PromptError line from the step's own checks
            raise DataError(f"Step {step.title!r}: {str(err).splitlines()[0]}") from None
    tests = [t.item(f"test-{n}") for n, t in enumerate(pset.tests, start=1)]
    if not tests:
        raise DataError(f"Prompt set {pset.name!r} has no tests; promptfoo needs tests to run its prompts on.")
    return strategies, tests


def from_run(meta: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> tuple[list[Strategy], list[Example]]:
    """A stored run's strategies (from its metadata) and its items (from the records of its first strategy: id,
    input, gold, vars, and the item's own assertions rebuilt from their stored verdicts)."""
    try:
        strategies = [Strategy.from_dict(s) for s in meta.get("strategies") or ()]
    except (WorkbenchError, KeyError, TypeError, ValueError) as err:  # a run stored by another version
        raise DataError(f"The run's strategies cannot be read back ({str(err).splitlines()[0]}).") from None
    if not strategies:
        raise DataError("The run has no strategies to export.")
    model = meta.get("model") if isinstance(meta.get("model"), str) else None
    strategies = [s if s.model else dataclasses.replace(s, model=model) for s in strategies]
    first = strategies[0]
    mine = sorted((r for r in records if r.get("strategy") == first.name and not r.get("repeat")),
                  key=lambda r: r.get("item_index", 0))
    if not mine:
        raise DataError("The run has no stored items to export as tests.")
    tests = []
    for r in mine:
        verdicts = list(r.get("checks") or ())[len(first.checks):]
        own = [_check_from_verdict(v, r.get("id")) for v in verdicts]
        tests.append(Example(id=str(r.get("id")), input=str(r.get("input", "")), answer=str(r.get("gold", "")),
                             vars=r.get("vars") if isinstance(r.get("vars"), dict) else None,
                             checks=tuple(own) or None))
    return strategies, tests


def _check_from_verdict(v: Mapping[str, Any], item: Any) -> dict[str, Any]:
    """An item's own assertion rebuilt from its stored verdict (type, value, weight, metric); one line when the
    verdict kept its value only as a shortened or non-text form."""
    value = v.get("value")
    if value is not None and (value.endswith("…") or value.startswith(("[", "{", "("))):
        raise DataError(f"Item {item!r}: its {v.get('type')!r} assertion was stored as a shortened text; export "
                        "the prompt set or the promptfoo config the run came from instead.")
    out: dict[str, Any] = {"type": v.get("type")}
    if value is not None:
        out["value"] = value
    if v.get("weight", 1.0) != 1.0:
        out["weight"] = v["weight"]
    if v.get("metric"):
        out["metric"] = v["metric"]
    return out
