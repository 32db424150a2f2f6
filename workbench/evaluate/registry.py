"""The one registry of prompting strategies: the base names the strategy parser knows, what the CLI's help
and the Evaluate page call them, whether they take K demonstrations and which selector chooses those.

A strategy name is a base, an optional number and ``+`` modifiers (``knn4``, ``manualcot+sc5``,
``knn4+score+cal``); :func:`workbench.evaluate.parse_strategy_name` reads the base from :data:`STRATEGIES`.
Demonstration-taking bases are labelled with their selector's label from
:data:`workbench.retrieval.selectors.registry.SELECTOR_REGISTRY`, so the Demonstrations and Evaluate pages use
one vocabulary, and whether a base needs the pool's index is its selector's to say.

    >>> STRATEGIES["diverse"].selector, STRATEGIES["diverse"].label
    ('cluster', 'diverse')
    >>> [k.base for k in kinds() if k.takes_k][:3]
    ['random', 'knn', 'diverse']
    >>> STRATEGIES["knn"].short_name(k=4), STRATEGIES["bm25"].short_name(k=4), STRATEGIES["sc"].short_name(samples=5)
    ('knn4', 'bm25_4', 'sc5')
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.reasoning.modes import AUTO_COT, MANUAL_COT, NONE, ZERO_SHOT_COT
from workbench.retrieval.selectors.registry import SELECTOR_REGISTRY


@dataclass(frozen=True)
class StrategyKind:
    """One base of a strategy name."""

    base: str  # the name's stem: "knn" in "knn4"
    description: str  # one line for the CLI's help and the Evaluate page
    selector: str | None = None  # a SELECTOR_REGISTRY name ("fixed", "autocot" included); None = no demonstrations
    reasoning: str = NONE.name  # the PromptSpec reasoning mode it runs with
    takes_k: bool = False  # the number after the base is K demonstrations
    samples: bool = False  # the number after the base is self-consistency samples ("sc5")
    alias_of: str | None = None  # another base this one is a second name of ("cluster" = "diverse")
    own_label: str | None = None  # the label when not the selector's ("zero-shot")

    def __post_init__(self) -> None:
        if self.selector is not None and self.selector not in SELECTOR_REGISTRY:
            raise ValueError(f"strategy {self.base!r}: selector {self.selector!r} is not in the selector registry")

    @property
    def label(self) -> str:
        """What pages call it: the selector's label for demonstration-taking bases (one vocabulary)."""
        if self.own_label:
            return self.own_label
        if self.selector is not None:
            return SELECTOR_REGISTRY[self.selector].label
        return self.base

    def short_name(self, k: int = 0, samples: int = 0) -> str:
        """The strategy name of this kind with K demonstrations or N samples (``knn`` + 4 -> ``knn4``): the one
        place names are composed (the parser reads them back, runs store them)."""
        if self.takes_k and k:
            return f"{self.base}{'_' if self.base[-1].isdigit() else ''}{k}"
        if self.samples and samples:
            return f"{self.base}{samples}"
        return self.base

    @property
    def needs_index(self) -> bool:
        """The pool must be embedded: a retrieval selector, or Auto-CoT's clustering (its selector says)."""
        return self.selector is not None and SELECTOR_REGISTRY[self.selector].needs_index


_KINDS = (
    StrategyKind("zero", "zero-shot: the query alone", own_label="zero-shot"),
    StrategyKind("random", "K random demonstrations (seeded)", "random", takes_k=True),
    StrategyKind("knn", "K nearest demonstrations by embedding similarity (MiniLM + FAISS)", "knn", takes_k=True),
    StrategyKind("diverse", "K diverse demonstrations: one per k-means cluster", "cluster", takes_k=True),
    StrategyKind("cluster", "K diverse demonstrations: one per k-means cluster", "cluster", takes_k=True,
                 alias_of="diverse"),
    StrategyKind("bm25", "K best lexical matches (BM25)", "bm25", takes_k=True),
    StrategyKind("mmr", "K relevant but not redundant demonstrations (MMR)", "mmr", takes_k=True),
    StrategyKind("balanced", "K nearest demonstrations of every label in turn", "label_balanced", takes_k=True),
    StrategyKind("zscot", "Zero-shot-CoT (\u201cLet's think step by step.\u201d)", reasoning=ZERO_SHOT_COT.name,
                 own_label="Zero-shot-CoT"),
    StrategyKind("manualcot", "Manual-CoT: K demonstrations with their rationales", "fixed",
                 reasoning=MANUAL_COT.name, takes_k=True, own_label="Manual-CoT"),
    StrategyKind("autocot", "Auto-CoT: K model-written rationales (slow to build)", "autocot",
                 reasoning=AUTO_COT.name, takes_k=True, own_label="Auto-CoT"),
    StrategyKind("sc", "self-consistency: sampled chains of thought, majority vote", samples=True,
                 own_label="self-consistency"),
)

#: Every base name -> its kind, in the order pages list them.
STRATEGIES: dict[str, StrategyKind] = {k.base: k for k in _KINDS}


def kinds(include_aliases: bool = False) -> list[StrategyKind]:
    """The kinds in display order; aliases (second names of one kind) only when asked."""
    return [k for k in _KINDS if include_aliases or k.alias_of is None]


def help_text() -> str:
    """One line per base for the CLI's ``--strategies`` help."""
    return "; ".join(f"{k.base}{'K' if k.takes_k else 'N' if k.samples else ''}: {k.description}" for k in kinds())
