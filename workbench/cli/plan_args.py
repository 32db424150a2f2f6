"""``eval --config`` (a promptfoo config) and ``eval --task`` (an lm-eval task): the file read as a
:class:`~workbench.interop.plan.Plan`, the run's flags applied to its strategies or refused in one line, and
the models its strategies name.

A flag is never silently dropped. Applied to every strategy of the plan, as on a ``--prompt`` run:
``--assert`` (added to each strategy's own checks), ``--threshold`` (wins over the file's), ``--temperature``
(samples every generating strategy), ``--repeat`` (as :func:`~workbench.cli.judging_args.with_repeat`),
``--seed`` (the strategies' seed, and the sampling seed of those that sample), ``--limit``, ``--extract``,
``--context-window``. Refused, naming the flag: the ones whose meaning the file itself decides (``--k``,
``--answer``, ``--calibrate``, ``--label-words``, ``--score-norm``) and the ones that give items or prompts
(``--dataset``, ``--prompt``, ``--strategies``, ``--resume``, ``--pool``, ``--shape``).
"""

from __future__ import annotations

import dataclasses
import sys

from workbench.cli.common import shown
from workbench.errors import ConfigError

#: Why a flag cannot apply to a plan, by flag and by the file kind (``--config``, ``--task``).
DECIDED_BY_FILE = {
    "k": {"--config": "the config's prompts are zero-shot (a prompt holds its own examples)",
          "--task": "the task's num_fewshot sets its few-shot examples"},
    "answer": {"--config": "the config's assertions judge each prompt's generated output",
               "--task": "the task's output_type decides how it answers"},
    "calibrate": {"--config": "the config's prompts generate; nothing scores labels",
                  "--task": "the task's metrics (acc, acc_norm, exact_match) decide the scoring"},
    "label_words": {"--config": "the config's prompts generate; nothing scores labels",
                    "--task": "the task's doc_to_choice gives each document's choices"},
    "score_norm": {"--config": "the config's prompts generate; nothing scores labels",
                   "--task": "the task's metrics (acc: summed, acc_norm: per character) decide it"},
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def plan_from_args(args, given: dict):
    """The :class:`~workbench.interop.plan.Plan` of ``--config`` (promptfoo) or ``--task`` (lm-eval), or None;
    a flag that the file decides instead is refused in one line naming it, before the file is read."""
    chosen = [(flag, value) for flag, value in (("--config", args.config), ("--task", args.task)) if value]
    if not chosen:
        if args.dataset is None:
            raise ConfigError("Give --dataset (a sample name or a data file), --config (a promptfoo config) or "
                              "--task (an lm-eval task YAML).")
        return None
    if len(chosen) > 1:
        raise ConfigError("Give --config or --task, not both.")
    flag, path = chosen[0]
    clashes = [("--dataset", args.dataset), ("--prompt", args.prompt), ("--strategies", given.get("strategies")),
               ("--resume", args.resume), ("--pool", args.pool), ("--shape", args.shape)]
    clash = next((name for name, value in clashes if value), None)
    if clash is not None:
        raise ConfigError(f"{flag} {shown(path)} gives the items and prompts itself; leave out {clash}.")
    for name, why in DECIDED_BY_FILE.items():
        if given.get(name) is not None:
            raise ConfigError(f"{_flag(name)} does not apply to {flag}: {why[flag]}; leave out {_flag(name)}.")
    if flag == "--config":
        from workbench.interop.promptfoo import load_plan

        return load_plan(path)
    from workbench.interop.lmeval import load_plan

    return load_plan(path, limit=args.limit)  # only the documents the run uses are rendered


def plan_models(plan, refs: list[str], model_given: bool) -> list[str]:
    """The run's model references: the plan's own (its providers), else ``--model``'s; both is one line."""
    if plan.models and model_given:
        raise ConfigError(f"{shown(plan.source)} names its own models (providers); leave out --model, or drop the "
                          "providers from the file to run its prompts on --model.")
    for note in plan.notes:
        print(f"note: {shown(note)}", file=sys.stderr)
    return list(plan.models) or refs


def plan_strategies(plan, refs: list[str], flags, given: dict) -> list:
    """The plan's strategies on their models, with the run's judging flags (``flags``: a
    :class:`~workbench.cli.judging_args.JudgingFlags`) and ``--seed`` applied to every one of them."""
    from workbench.cli.judging_args import with_repeat
    from workbench.evaluate.variants import cross_models

    strategies = list(plan.strategies) if plan.models else cross_models(plan.strategies, refs)
    if flags.temperature and not any(s.answer == "generate" for s in strategies):
        raise ConfigError(f"--temperature samples generated answers, and every strategy of {shown(plan.source)} "
                          "scores its choices; leave out --temperature.")
    seed = given.get("seed")
    out = []
    for s in strategies:
        changed: dict = {"checks": (*flags.checks, *s.checks)}
        if flags.threshold is not None:
            changed["threshold"] = flags.threshold
        if seed is not None:
            changed["seed"] = seed
        decoding = s.decoding
        if flags.temperature and s.answer == "generate":  # seeded as --prompt runs are (repeats: seed + r)
            own = decoding.seed if decoding.do_sample else s.seed
            decoding = decoding.replace(do_sample=True, temperature=flags.temperature, seed=own)
        if seed is not None and decoding.do_sample:
            decoding = decoding.replace(seed=seed)
        out.append(dataclasses.replace(s, decoding=decoding, **changed))
    return with_repeat(out, flags, flags.temperature is not None)


def run_models(args, strategies: list, backend) -> dict:
    """The models of the run's strategies by reference: the loaded ``backend`` for the first, a loader for the
    others (each loads when its first strategy starts)."""
    from workbench.backends import DEFAULT_CONTEXT_WINDOW, load_backend

    window = args.context_window or DEFAULT_CONTEXT_WINDOW
    refs = list(dict.fromkeys(s.model for s in strategies if s.model is not None))

    def loader(ref: str):
        return lambda: load_backend(ref, args.backend, window)

    return {ref: backend if ref == args.model else loader(ref) for ref in refs}
