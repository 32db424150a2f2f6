"""The records a data file becomes: an :class:`Example` (an input and its gold answer, with an optional
rationale, label and multiple-choice options) and a :class:`Pool` (a named, immutable list of them).

The shared schema is ``{"id", "question", "answer"}`` plus optional ``"rationale"``, ``"choices"``
(label -> text) and ``"label"``; :meth:`Example.to_dict` and :meth:`Example.from_dict` convert.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


@dataclass(frozen=True)
class Example:
    """One row of a pool: the input, its answer, and optional rationale / label / choices."""

    id: str
    input: str
    answer: str
    rationale: str | None = None  # chain-of-thought text shown before the answer, if any
    label: str | None = None  # class for label-balanced selection; the answer for classification pools
    choices: dict[str, str] | None = field(default=None, hash=False)  # multiple choice: label -> text
    checks: tuple[dict[str, Any] | str, ...] | None = field(default=None, hash=False)  # this row's own assertions,
    # as written (promptfoo's ``{"type", "value", ...}``, or a CSV ``__expected`` cell's text such as
    # ``"contains: Paris"``); validated by workbench.judging before any model call
    threshold: float | None = None  # this row's pass threshold on the weighted score (None: every check must pass)
    human: bool | None = None  # a person's pass/fail grade of the expected output (``__human``), for judge agreement
    vars: dict[str, Any] | None = field(default=None, hash=False)  # a test's variables for a {{ var }} template
    # (promptfoo ``vars``, an lm-eval document's fields); None: the input is the only one

    def to_dict(self) -> dict[str, Any]:
        """The example in the shared schema (``input`` is written as ``question``)."""
        row: dict[str, Any] = {"id": self.id, "question": self.input, "answer": self.answer}
        for name in ("rationale", "label", "choices", "threshold", "human", "vars"):
            if getattr(self, name) is not None:
                row[name] = getattr(self, name)
        if self.checks is not None:
            row["assert"] = [c if isinstance(c, str) else dict(c) for c in self.checks]
        return row

    @classmethod
    def from_dict(cls, row: Mapping[str, Any], default_id: str = "") -> Example:
        """Inverse of :meth:`to_dict`: a row of the shared schema (``question`` is the input).

        >>> Example.from_dict({"question": "2+2?", "answer": "4"}, default_id="demo-1")
        Example(id='demo-1', input='2+2?', answer='4', rationale=None, label=None, choices=None, checks=None, threshold=None, human=None, vars=None)
        """
        row_id = row.get("id")
        return cls(id=default_id if row_id is None else str(row_id), input=row["question"],
                   answer=row["answer"], rationale=row.get("rationale"), label=row.get("label"),
                   choices=row.get("choices"), threshold=row.get("threshold"), human=row.get("human"),
                   vars=row.get("vars"),
                   checks=None if row.get("assert") is None else tuple(c if isinstance(c, str) else dict(c)
                                                                       for c in row["assert"]))


@dataclass(frozen=True)
class Pool:
    """A named, immutable list of examples."""

    name: str
    examples: tuple[Example, ...]
    shape: str | None = None  # the dataset shape its rows were read in (workbench.data.shapes); None: as written

    def __len__(self) -> int:
        return len(self.examples)

    def __iter__(self) -> Iterator[Example]:
        return iter(self.examples)

    def __getitem__(self, i: int) -> Example:
        return self.examples[i]

    @cached_property
    def content_hash(self) -> str:
        """sha256 of the examples in canonical JSON; the name does not count (cache key)."""
        h = hashlib.sha256()
        for ex in self.examples:
            h.update(json.dumps(ex.to_dict(), sort_keys=True, ensure_ascii=False).encode("utf-8"))
            h.update(b"\n")
        return h.hexdigest()

    def inputs(self) -> list[str]:
        return [ex.input for ex in self.examples]

    def labels(self) -> tuple[str, ...]:
        """Distinct labels in order of first appearance; empty when the pool has none."""
        return tuple(dict.fromkeys(ex.label for ex in self.examples if ex.label is not None))
