"""Prompt variants: several prompt specs (spec files, the Prompt Builder's prompt), each crossed with every
chosen strategy, named ``variant/strategy``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.data import Example, Pool
from workbench.errors import ConfigError
from workbench.evaluate.strategies import Strategy, make_strategy, parse_strategies
from workbench.prompts import PromptSpec

#: The name of the dataset's own template (:func:`default_spec`) among prompt variants.
INFERRED = "inferred"


@dataclass(frozen=True)
class PromptVariant:
    """A prompt spec evaluated under every chosen strategy (a spec file, the Prompt Builder's prompt, ...)."""

    name: str  # prefix of its strategies' names ("a/knn4"); none while the inferred template runs alone
    spec: PromptSpec
    demos: tuple[Example, ...] = ()  # the demonstrations it was built with, run "as built" when asked


def can_score(spec: PromptSpec) -> bool:
    """Whether label scoring applies to a prompt: a label-format spec with a fixed label set."""
    return spec.answer_format == "label" and bool(spec.labels)


def cross_variants(variants: Sequence[PromptVariant], names: str | Sequence[str], pool: Pool | None,
                   as_built: bool = False, answers: Mapping[str, str] | None = None,
                   **options: Any) -> list[Strategy]:
    """Every variant × every strategy name (the one place the CLI and the Evaluate page cross them).

    Names get the variant as a prefix ("a/knn4") unless the inferred template runs alone; variant names
    must be distinct. ``as_built`` adds ``builtK``: a variant's own K demonstrations, fixed, in its order.
    Label words apply to the variants that have those labels. ``answers`` gives a variant (by name) its own
    answer mode instead of the run's ``answer`` (the Evaluate page: a prompt without labels generates while
    the others score).
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
        out += [dataclasses.replace(s, name=f"{v.name}/{s.name}") if prefix else s for s in strategies]
    return out
