"""Prompt variants: several prompt specs (spec files, the Prompt Builder's prompt), each crossed with every
chosen strategy, named ``variant/strategy``; a variant's own assertions (a spec file's ``assert:``) judge every
strategy of it, after the run's own."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.data import Example, Pool
from workbench.errors import ConfigError
from workbench.evaluate.strategies import Strategy, make_strategy, parse_strategies
from workbench.judging.base import Check
from workbench.prompts import PromptSpec

#: The name of the dataset's own template (:func:`default_spec`) among prompt variants.
INFERRED = "inferred"


@dataclass(frozen=True)
class PromptVariant:
    """A prompt spec evaluated under every chosen strategy (a spec file, the Prompt Builder's prompt, ...)."""

    name: str  # prefix of its strategies' names ("a/knn4"); none while the inferred template runs alone
    spec: PromptSpec
    demos: tuple[Example, ...] = ()  # the demonstrations it was built with, run "as built" when asked
    checks: tuple[Check, ...] = ()  # its own assertions (a spec file's ``assert:``), after the run's; (): none
    threshold: float | None = None  # its pass threshold on the weighted score (None: the run's, else all must pass)


def can_score(spec: PromptSpec) -> bool:
    """Whether label scoring applies to a prompt: a label-format spec with a fixed label set."""
    return spec.answer_format == "label" and bool(spec.labels)


def cross_variants(variants: Sequence[PromptVariant], names: str | Sequence[str], pool: Pool | None,
                   as_built: bool = False, answers: Mapping[str, str] | None = None,
                   checks: Sequence[Check] = (), threshold: float | None = None, repeat: int = 1,
                   temperature: float | None = None, **options: Any) -> list[Strategy]:
    """Every variant × every strategy name (the one place the CLI and the Evaluate page cross them).

    Names get the variant as a prefix ("a/knn4") unless the inferred template runs alone; variant names
    must be distinct. ``as_built`` adds ``builtK``: a variant's own K demonstrations, fixed, in its order.
    Label words apply to the variants that have those labels. ``answers`` gives a variant (by name) its own
    answer mode instead of the run's ``answer`` (the Evaluate page: a prompt without labels generates while
    the others score).

    ``checks`` judge every strategy (promptfoo's ``defaultTest``), then each variant's own; ``threshold`` is
    the run's pass threshold, which wins over a variant's (None: each variant's own). ``temperature`` samples
    every generating strategy at it, seeded with its ``seed`` (None or 0: each strategy's own decoding, greedy unless self-consistency);
    ``repeat`` runs each item that many times (a greedy strategy refuses to repeat, in one line).
    """
    seen = [v.name for v in variants]
    dupes = sorted({n for n in seen if seen.count(n) > 1})
    if dupes:
        raise ConfigError(f"Two prompt variants are both named {dupes[0]!r}; rename one.")
    prefix = seen != [INFERRED]
    words = dict(options.pop("label_words", None) or {})
    out: list[Strategy] = []
    for v in variants:
        opts = {**options, "label_words": {lab: w for lab, w in words.items() if lab in v.spec.labels}}
        if answers and v.name in answers:
            opts["answer"] = answers[v.name]
        strategies = parse_strategies(names, v.spec, pool, **opts) if names else []
        if as_built and v.demos:
            base = make_strategy(f"random{len(v.demos)}", v.spec, pool, **opts)
            strategies.append(dataclasses.replace(base, name=f"built{len(v.demos)}", selector="fixed",
                                                  demos=tuple(v.demos), order="as_selected"))
        for s in strategies:
            judged = {"checks": (*checks, *v.checks), "threshold": threshold if threshold is not None else v.threshold,
                      "repeat": repeat, "name": f"{v.name}/{s.name}" if prefix else s.name}
            if temperature and s.answer != "score":  # sampled with the strategy's seed (repeats: seed + r)
                judged["decoding"] = s.decoding.replace(do_sample=True, temperature=temperature, seed=s.seed)
            out.append(dataclasses.replace(s, **judged))
    return out


def model_label(ref: str) -> str:
    """A model reference as a strategy name shows it: a registry id as it is, a file or folder by its name, a
    server's model by its name.

    >>> model_label("gemma-3-270m"), model_label("/models/qwen.gguf"), model_label("http://127.0.0.1:8080/v1#phi")
    ('gemma-3-270m', 'qwen.gguf', 'phi')
    """
    if "://" in ref:
        base, _, rest = ref.partition("#")
        return rest.split("#", 1)[0] or base
    return ref.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1] or ref


def cross_models(strategies: Sequence[Strategy], models: Sequence[str]) -> list[Strategy]:
    """Every strategy on every model (promptfoo's prompts x providers), named ``STRATEGY @ MODEL``; with one
    model or none the strategies are unchanged (they run on the run's own model)."""
    if len(models) <= 1:
        return list(strategies)
    labels = [model_label(m) for m in models]
    if len(set(labels)) != len(labels):
        labels = list(models)
    if len(set(labels)) != len(labels):
        raise ConfigError(f"Model {next(m for m in models if list(models).count(m) > 1)!r} is given twice.")
    return [dataclasses.replace(s, name=f"{s.name} @ {label}", model=ref)
            for s in strategies for ref, label in zip(models, labels, strict=True)]
