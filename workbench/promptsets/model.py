"""The prompt-set model: a set of steps (spec, demonstrations or a selector, decoding, model), notes,
tags and test inputs; frozen dataclasses with their canonical ``to_dict``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from workbench.data import Example
from workbench.decoding import DecodingConfig
from workbench.demos import SpecWithDemos
from workbench.prompts.spec import PromptSpec
from workbench.safeload import MAX_DOCUMENT_BYTES, Bounds

#: The schema version this workbench writes and reads.
SCHEMA_VERSION = 1
#: Most demonstrations a selector may put in one prompt.
MAX_SELECT_K = 64


@dataclass(frozen=True)
class Limits:
    """Bounds for untrusted files; a file beyond one is refused with a message naming the limit."""

    max_bytes: int = MAX_DOCUMENT_BYTES  # 1 MB: a classroom set is a few kB; 1 MB holds ~1,000 long demonstrations
    max_depth: int = Bounds.max_depth  # 10: the schema itself nests 6 deep (steps[0].demos[0].choices.A)
    max_string: int = Bounds.max_string  # 20,000 characters in any one text (a long instruction or rationale)
    max_demos: int = 1_000  # inline demonstrations per step; more would not fit any context window
    max_steps: int = 50  # steps per set (one concept per step)
    max_tests: int = 1_000  # test inputs per set
    max_items: int = Bounds.max_items  # 1,000: any other list or mapping (tags, stop strings, choices)


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class SelectorSpec:
    """Choose demonstrations per query from a shipped pool (see :data:`workbench.retrieval.selectors.registry.SELECTORS`)."""

    name: str  # a selector name: random, knn, bm25, mmr, cluster, label_balanced, fixed
    k: int  # how many demonstrations
    pool: str  # a sample pool shipped with the workbench (workbench/samples/<pool>.jsonl)
    order: str = "similar_last"  # a workbench.retrieval.orders.ORDERS name
    seed: int = 0  # random selector, cluster k-means and random order
    mmr_lambda: float = 0.5  # MMR trade-off, 1 = nearest, 0 = diverse (Carbonell & Goldstein's middle)
    indices: tuple[int, ...] = ()  # pool positions for the "fixed" selector

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "k": self.k, "pool": self.pool, "order": self.order, "seed": self.seed,
                "mmr_lambda": self.mmr_lambda, "indices": list(self.indices)}


@dataclass(frozen=True)
class Step:
    """One prompt of a set: a spec, its demonstrations (inline or selected), decoding and model."""

    title: str
    spec: PromptSpec = field(default_factory=PromptSpec)
    demos: tuple[Example, ...] = ()  # inline demonstrations, in prompt order
    select: SelectorSpec | None = None  # or: choose demonstrations per query (then demos is empty)
    decoding: DecodingConfig = field(default_factory=DecodingConfig)  # n > 1: self-consistency majority vote
    model: str = ""  # a registry id or local model path; "" = whichever model is picked
    notes: str = ""  # what this step shows (Markdown)
    checks: tuple[dict[str, Any], ...] = field(default=(), hash=False)  # the file's ``assert`` list as written
    # (promptfoo's form), judging every input of this step (workbench.judging); (): the answer format's comparison
    threshold: float | None = None  # pass threshold on the checks' weighted score (None: every check must pass)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"title": self.title, "notes": self.notes, "model": self.model,
                             **SpecWithDemos(self.spec, self.demos).to_dict()}
        if self.select is not None:
            d["select"] = self.select.to_dict()
        d["decoding"] = self.decoding.to_dict()
        return _with_checks(d, self.checks, self.threshold)


@dataclass(frozen=True)
class TestCase:
    """A test input, with the expected answer when known."""

    __test__ = False  # not a pytest class

    input: str
    expected: str | None = None
    choices: dict[str, str] | None = field(default=None, hash=False)  # multiple choice: label -> text
    checks: tuple[dict[str, Any], ...] = field(default=(), hash=False)  # this input's own ``assert`` list, as
    # written; run after its step's checks (promptfoo: a test's asserts after defaultTest's)
    threshold: float | None = None  # this input's pass threshold (None: its step's; then every check must pass)

    def query(self, id_: str = "test") -> str | Example:
        """What :func:`workbench.prompts.render` takes: the text, or an Example carrying the choices."""
        if self.choices is None:
            return self.input
        return Example(id=id_, input=self.input, answer=self.expected or "", choices=self.choices)

    def item(self, id_: str = "test") -> Example:
        """The input as the dataset row its checks judge: gold = ``expected`` ("" when none), its own checks.

        >>> TestCase("Capital of France?", "Paris", checks=({"type": "icontains", "value": "paris"},)).item().checks
        ({'type': 'icontains', 'value': 'paris'},)
        """
        return Example(id=id_, input=self.input, answer=self.expected or "", choices=self.choices,
                       checks=tuple(dict(c) for c in self.checks) or None, threshold=self.threshold)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"input": self.input}
        if self.expected is not None:
            d["expected"] = self.expected
        if self.choices is not None:
            d["choices"] = dict(self.choices)
        return _with_checks(d, self.checks, self.threshold)


def _with_checks(d: dict[str, Any], checks: tuple[dict[str, Any], ...], threshold: float | None) -> dict[str, Any]:
    """``d`` with ``assert`` and ``threshold`` written when set (a set without them exports as before)."""
    if checks:
        d["assert"] = [dict(c) for c in checks]
    if threshold is not None:
        d["threshold"] = threshold
    return d


@dataclass(frozen=True)
class PromptSet:
    """Prompt specs with demonstrations, decoding and model, plus notes, tags and test inputs."""

    name: str
    steps: tuple[Step, ...]
    description: str = ""  # one line for lists
    notes: str = ""  # the explanation: what the set shows and what to look for (Markdown)
    tags: tuple[str, ...] = ()
    tests: tuple[TestCase, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The canonical document: every field, fixed key order (what the store and exports hold)."""
        return {"schema_version": SCHEMA_VERSION, "name": self.name, "description": self.description,
                "notes": self.notes, "tags": list(self.tags), "steps": [s.to_dict() for s in self.steps],
                "tests": [t.to_dict() for t in self.tests]}

    def renamed(self, name: str) -> PromptSet:
        return dataclasses.replace(self, name=name)
