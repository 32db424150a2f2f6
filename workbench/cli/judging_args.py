"""``eval``'s judging flags: ``--assert TYPE[:VALUE]`` (repeatable), ``--threshold``, ``--repeat``,
``--temperature`` and ``--judge MODEL``; what they build (every one checked before any model loads) and the
lines a run's summary prints for them (scores, per-assertion pass rates, flaky items).

    python -m workbench eval --dataset cities.jsonl --strategies zero --assert is-json --assert icontains:paris \
        --threshold 0.5 --repeat 3 --temperature 0.7
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

from workbench.cli.common import shown
from workbench.errors import ConfigError

#: The judging flags (argparse dests) a resumed run compares with its own strategies.
JUDGING_FLAGS = ("asserts", "threshold", "repeat", "temperature")


def add_judging_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("judging outputs (promptfoo's assertion types; with none here, in a prompt file or "
                                  "in the dataset's rows, each item is judged by its answer format)")
    g.add_argument("--assert", dest="asserts", action="append", default=None, metavar="TYPE[:VALUE]",
                   help="judge every item's output by this assertion (repeatable): contains:Paris, not-icontains:"
                        "sorry, is-json, regex:^\\d+$, similar(0.8):a city, llm-rubric:is polite (the type is "
                        "required: equals:Paris for the exact text). Added before a --prompt file's own assert: list")
    g.add_argument("--threshold", type=float, default=None, metavar="X",
                   help="an item passes when its checks' weighted score reaches X (0..1; default: every check must "
                        "pass); wins over a prompt file's threshold")
    g.add_argument("--repeat", type=int, default=None, metavar="N",
                   help="run each item N times with seeds seed..seed+N-1 and report pass@N (passed in any run), "
                        "pass^N (in every run) and the flaky items; needs sampling (--temperature)")
    g.add_argument("--temperature", type=float, default=None, metavar="T",
                   help="sample every generating strategy at temperature T, seeded with --seed (default: greedy)")
    g.add_argument("--judge", default=None, metavar="MODEL",
                   help="the model that model-graded checks (llm-rubric, factuality, ...) ask: a registry id, a local "
                        "GGUF or Hugging Face folder, or a server URL (loaded only when a check asks it; default: the local "
                        "instruct model smollm2-135m-instruct, a weak judge: check its agreement with your grades)")


@dataclasses.dataclass(frozen=True)
class JudgingFlags:
    """What the judging flags ask for, validated."""

    checks: tuple = ()  # the --assert checks, built (workbench.judging.base.Check)
    threshold: float | None = None  # --threshold (None: not given)
    repeat: int = 1  # --repeat (1: not given)
    temperature: float | None = None  # --temperature (None: each strategy's own decoding)


def judging_from_args(args: argparse.Namespace) -> JudgingFlags:
    """The judging flags built and checked: a bad assertion, a threshold outside 0..1, a repeat below 1 or a
    temperature that is not above 0 is one line naming the flag.

    >>> args = argparse.Namespace(asserts=["icontains:paris"], threshold=0.5, repeat=None, temperature=None)
    >>> flags = judging_from_args(args)
    >>> [c.to_dict() for c in flags.checks], flags.threshold, flags.repeat
    ([{'type': 'icontains', 'value': 'paris'}], 0.5, 1)
    >>> judging_from_args(argparse.Namespace(asserts=None, threshold=2.0, repeat=None, temperature=None))
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: --threshold: the pass threshold must be a number from 0 to 1, not 2.0.
    """
    from workbench.judging.verdicts import check_threshold

    checks = tuple(_assertion(text) for text in args.asserts or ())
    threshold = check_threshold(args.threshold, "--threshold") if args.threshold is not None else None
    if args.repeat is not None and args.repeat < 1:
        raise ConfigError(f"--repeat must be 1 or more, not {args.repeat}.")
    t = args.temperature
    if t is not None and not (math.isfinite(t) and t > 0):
        raise ConfigError(f"--temperature must be a number above 0, not {t:g}; leave it out for greedy decoding.")
    return JudgingFlags(checks, threshold, args.repeat or 1, t)


def _assertion(text: str):
    """One --assert built. Unlike a CSV cell, where text with no known type is an ``equals`` value (promptfoo's
    rule), a flag names its type: ``foo:bar`` is an unknown type, not the exact text "foo:bar".

    >>> _assertion("not-icontains: sorry").to_dict()
    {'type': 'not-icontains', 'value': 'sorry'}
    >>> _assertion("contians:Paris")
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: --assert 'contians:Paris': unknown assertion type 'contians'; use one of ...
    """
    from workbench.judging.registry import build_check, parse_cell

    where = f"--assert {shown(text)[:60]!r}"
    cell = parse_cell(text, where + ": ")
    if cell["type"] == "equals" and text.split(":", 1)[0].strip() != "equals":
        head, _, rest = text.partition(":")
        return build_check({"type": head.split("(", 1)[0].strip() or text, "value": rest.strip() or None}, where)
    return build_check(cell, where)


def with_repeat(strategies: Sequence, flags: JudgingFlags, temperature_given: bool) -> list:
    """Each strategy run ``flags.repeat`` times; a strategy that would give the same output every run (greedy,
    or label scoring) is one line naming --repeat and the way out."""
    if flags.repeat == 1:
        return list(strategies)
    out = []
    for s in strategies:
        try:
            out.append(dataclasses.replace(s, repeat=flags.repeat))
        except ConfigError as err:
            hint = "" if temperature_given or s.answer == "score" else "; --temperature T (e.g. 0.7) samples"
            raise ConfigError(f"--repeat {flags.repeat}: {str(err).rstrip('.')}{hint}.") from None
    return out


def check_applies(strategies: Sequence, items: Sequence, given: argparse.Namespace, source: str = "") -> None:
    """Before any model loads: every item's own assertions built (a bad one is one line naming ``source``, the
    dataset, and the item), a check's own judge model that cannot exist refused, --judge refused where no
    check is model-graded (without it they ask the local instruct model), and --threshold and
    --temperature refused where nothing would use them."""
    from workbench.judging.verdicts import Judging

    try:
        judgings = [Judging(s.checks, items, s.threshold) for s in strategies]
    except ConfigError as err:  # a row's own assertion: the dataset's name first ("cities.csv item row-3 ...")
        raise ConfigError(f"{source} {err}" if source else str(err)) from None
    graded = any(j.graded for j in judgings)
    from workbench.judging.graded import check_providers

    check_providers(c for j in judgings for c in j.all_checks)
    if given.judge is not None and not graded:
        raise ConfigError("--judge names the model that model-graded checks (llm-rubric, factuality, ...) ask, and no "
                          "check here is model-graded; add one (--assert llm-rubric:RUBRIC) or leave out --judge.")
    if given.threshold is not None and not any(j.active for j in judgings):
        raise ConfigError("--threshold applies to assertions' weighted score, and no item here has an assertion; add "
                          "--assert TYPE:VALUE (or an assert: list in the prompt file), or leave out --threshold.")
    if given.temperature is not None and all(s.answer == "score" for s in strategies):
        raise ConfigError("--temperature samples generated answers, and every strategy here scores labels; add a "
                          "generating strategy (--answer generate), or leave out --temperature.")


def judge_factory(args: argparse.Namespace) -> Callable[[], Any] | None:
    """The --judge model as a factory (loaded on the first model-graded check, like --model and on its own
    backend); an unknown model id or path is one line now, before any model loads."""
    if args.judge is None:
        return None
    from workbench.backends import resolve_model
    from workbench.backends.kinds import is_server
    from workbench.cli.common import backend_from_args

    if not is_server(args.judge, "auto"):
        resolve_model(args.judge)  # no weights are read
    judge_args = argparse.Namespace(model=args.judge, backend="auto", context_window=None)
    return lambda: backend_from_args(judge_args)


def check_resume(run: int, strategies: Sequence, args: argparse.Namespace, flags: JudgingFlags) -> None:
    """A resumed run judges as it did: a judging flag given that disagrees with a stored strategy is one line
    naming the flag and what the strategy ran with (flags left out: the run's own settings apply)."""
    for s in strategies:
        stored = {"asserts": [c.to_dict() for c in s.checks], "threshold": s.threshold, "repeat": s.repeat,
                  "temperature": s.decoding.temperature if s.decoding.do_sample else None}
        mine = {"asserts": [c.to_dict() for c in flags.checks], "threshold": flags.threshold,
                "repeat": flags.repeat, "temperature": flags.temperature}
        for name in JUDGING_FLAGS:
            if getattr(args, name) is None or mine[name] == stored[name]:
                continue
            flag = "--assert" if name == "asserts" else f"--{name}"
            ran = _ran(name, stored[name])
            raise ConfigError(f"{flag} conflicts with run {run}, whose strategy {shown(s.name)!r} ran with "
                              f"{shown(ran)}; leave out {flag} to resume it (the run's own settings apply), or "
                              "start a new run.")


def _ran(name: str, stored: Any) -> str:
    """How a stored strategy ran, for a conflict line: "assertions icontains:paris", "--repeat 2"."""
    if name == "asserts":
        return "assertions " + (", ".join(_check_text(c) for c in stored) or "none")
    if name == "threshold":
        return "no pass threshold (every check must pass)" if stored is None else f"pass threshold {stored:g}"
    if name == "repeat":
        return f"--repeat {stored}"
    return "greedy decoding" if stored is None else f"temperature {stored:g}"


def _check_text(check: dict) -> str:
    """``contains:Paris`` for a check as promptfoo writes it (its value cut to 40 characters)."""
    value = check.get("value")
    text = "" if value is None else value if isinstance(value, str) else repr(value)
    return check["type"] + (":" + (text if len(text) <= 40 else text[:39] + "…") if text else "")


def summary_lines(summaries: Sequence, records: Sequence[dict], grades: dict | None = None) -> list[str]:
    """What the judging adds under the summary table: paired comparisons of scores, named scores, per-assertion
    pass rates, flaky items, and the verdicts' agreement with a person's ``grades`` (empty when none applies)."""
    from workbench.evaluate.agreement import judge_agreement
    from workbench.evaluate.metrics import check_rates
    from workbench.score_stats import score_comparisons

    lines: list[str] = []
    scores = score_comparisons(records)
    if scores:
        lines += ["", "paired scores (same items; difference in mean score):"]
        lines += [f"  {shown(c.line())}" for c in scores]
    named = [s for s in summaries if s.named_scores]
    if named:
        lines += ["", "named scores (mean over items):"]
        lines += [f"  {shown(s.strategy)}: " + ", ".join(f"{shown(k)} {v:.3f}" for k, v in s.named_scores.items())
                  for s in named]
    rates = check_rates(records)
    if rates:
        lines += ["", "assertions (passed / judged, mean score):"]
        width = max(len(shown(r.strategy)) for r in rates)
        for r in rates:
            what = f"{r.type} (per item)" if r.per_item else _check_text({"type": r.type, "value": r.value})
            errors = f", {r.errors} could not judge" if r.errors else ""
            lines.append(f"  {shown(r.strategy).ljust(width)}  {shown(what)}: {r.passed}/{r.n} passed, mean score "
                         f"{r.mean_score:.3f}{errors}")
    flaky = [s for s in summaries if s.repeat > 1]
    if flaky:
        lines += ["", "flaky items (passed in some runs, not all):"]
        lines += [f"  {shown(s.strategy)}: " + (", ".join(shown(f.text()) for f in s.flaky) or "none")
                  for s in flaky]
    agreement = judge_agreement(records, grades) if grades else []
    if agreement:
        lines += ["", "judge agreement with human grades:"]
        lines += [f"  {shown(a.line())}" for a in agreement]
    return lines


def summary_json(records: Sequence[dict], grades: dict | None = None) -> dict[str, Any]:
    """The judging part of ``eval --json``: each assertion's pass rate per strategy, the paired comparisons of
    scores, and the agreement with a person's grades."""
    from workbench.evaluate.agreement import judge_agreement
    from workbench.evaluate.metrics import check_rates
    from workbench.score_stats import score_comparisons

    return {"checks": [{**dataclasses.asdict(r), "rate": r.rate} for r in check_rates(records)],
            "scores": [c.to_dict() for c in score_comparisons(records)],
            "agreement": [a.to_dict() for a in judge_agreement(records, grades)] if grades else []}
