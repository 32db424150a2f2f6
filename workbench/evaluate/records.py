"""The typed records of one evaluated item: what one strategy sent, got back and read as the answer
(:class:`ItemRecord`), or why it could not run (:class:`ItemFailure`).

An answer mode (:mod:`workbench.evaluate.answer_modes`) builds an :class:`ItemRecord` for every (strategy, item);
the store serialises it with ``to_dict()`` at its edge (:meth:`workbench.store.runs.RunTable.add_result`). Fields
that do not apply to the strategy's answer mode are None and left out of the stored row, so a row holds exactly
what happened (label scores only for scoring, votes only for self-consistency).

    >>> r = ItemRecord(id="1", input="2+2?", prompt="Q: 2+2?\\nA:", output=" 4", extracted="4", rule="first_number",
    ...                gold="4", format="number", correct=True)
    >>> ItemRecord.from_dict(r.to_dict()) == r
    True
    >>> sorted(r.to_dict())[:4]
    ['correct', 'demos', 'dropped', 'extracted']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class CheckVerdict:
    """One check's verdict on one output (an assertion, a metric, a model-graded rubric, the format's comparison).

    >>> CheckVerdict("contains", True, 1.0, "contains 'Paris'").to_dict()["type"]
    'contains'
    """

    type: str  # the check's registered name, with "not-" when negated ("contains", "not-regex", "llm-rubric")
    passed: bool  # the check holds (after negation and its threshold)
    score: float  # in [0, 1]; 1/0 for a pass/fail check
    reason: str  # one line: why it passed or failed
    weight: float = 1.0  # its share of the item's weighted score (promptfoo's ``weight``)
    metric: str | None = None  # a named score column this check feeds (promptfoo's ``metric``)
    error: str | None = None  # the check could not run (a judge's reply it could not read, a check over its time)
    reply: str | None = None  # a model-graded check: the judge's full reply
    value: str | None = None  # what the check compared with, as text (for tables and the report)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, without the fields that do not apply (None)."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> CheckVerdict:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in names})


@dataclass(frozen=True)
class ItemRecord:
    """One strategy on one item."""

    id: str  # the item's id in its dataset
    input: str  # the item's input (the query)
    prompt: str  # the exact text sent to the model
    output: str  # what the model returned (label scores as "label: loglik" for scoring)
    extracted: str | None  # the answer read from the output (None: no answer found)
    rule: str  # how it was read ("first_number", "label_score", "majority_vote", ...)
    gold: str  # the dataset's answer
    format: str  # the answer format (an AnswerFormat value)
    correct: bool  # extracted matches gold under the format's comparison
    demos: tuple[str, ...] = ()  # ids of the demonstrations in the prompt, in prompt order
    dropped: int = 0  # demonstrations dropped to fit the context window
    selection: str = ""  # why these demonstrations (the selector's reason)
    seconds: float = 0.0  # wall time of the item (a batch's wall time shared out over its items)
    batch: int | None = None  # generation: sequences the model decoded together with this one (1: alone)
    tokens: Mapping[str, int] | None = None  # {"prompt": n, "completion": n} for generation
    logliks: Mapping[str, float] | None = None  # label scoring: each label word's (normalised) score
    probs: Mapping[str, float] | None = None  # label scoring: scores normalised over the labels
    raw_extracted: str | None = None  # calibrated scoring: the answer before calibration
    raw_correct: bool | None = None  # calibrated scoring: whether that one was right
    p_cf: Mapping[str, float] | None = None  # calibrated scoring: the content-free prior
    calibrated_probs: Mapping[str, float] | None = None  # calibrated scoring: probabilities after calibration
    samples: tuple[str | None, ...] | None = None  # self-consistency: each path's answer
    agreement: float | None = None  # self-consistency: the winner's share of the votes
    outputs: tuple[str, ...] | None = None  # self-consistency: each path's text
    cached: bool | None = None  # True: every model call of the item was answered from the response cache
    checks: tuple[CheckVerdict, ...] | None = None  # judged by assertions: each check's verdict (None: the format's)
    score: float | None = None  # judged by assertions: the weighted score in [0, 1] (``correct``: the item passed)
    repeat: int | None = None  # repeated runs: which repeat this is (0-based; its seed is the decoding seed + it)
    vars: Mapping[str, Any] | None = None  # the item's own variables ({{ var }} templates: a promptfoo test's vars)

    def to_dict(self) -> dict[str, Any]:
        """The stored row: JSON-able, without the fields that do not apply (None)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name not in ("extracted",):
                continue
            if f.name == "checks":
                value = [c.to_dict() for c in value]
            out[f.name] = list(value) if isinstance(value, tuple) else dict(value) if isinstance(value, Mapping) \
                else value
        return out

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> ItemRecord:
        """A stored row back as a record (the store's ``strategy``/``item_index`` and unknown keys ignored)."""
        names = {f.name for f in fields(cls)}
        data = {k: v for k, v in row.items() if k in names}
        for name in ("demos", "samples", "outputs"):
            if isinstance(data.get(name), list):
                data[name] = tuple(data[name])
        if isinstance(data.get("checks"), list):
            data["checks"] = tuple(CheckVerdict.from_dict(c) for c in data["checks"])
        data.setdefault("extracted", None)
        return cls(**data)


@dataclass(frozen=True)
class ItemFailure:
    """An item whose generation could not run (a batch's sequence the model refused); it is not stored, so
    resuming the run tries it again. The batch's other items are unaffected."""

    index: int  # the item's position in the evaluated items
    id: str  # the item's id in its dataset
    error: str  # one line: why
