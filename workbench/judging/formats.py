"""The answer formats' own comparisons as checks: ``number``, ``choice``, ``yes_no``, ``label`` and ``exact``
(free text). An item with no assertions is judged by its format's check, exactly as
:func:`workbench.answers.is_correct` compares the extracted answer with the gold one.

    >>> from workbench.data import Example
    >>> from workbench.judging.base import Case
    >>> item = Example(id="1", input="2+2?", answer="4")
    >>> format_check("number").run(Case(output="so 4.0", item=item, extracted="4.0", fmt="number")).passed
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from workbench.answers import AnswerFormat, extract, is_correct
from workbench.judging.base import Case, Check, Finding, JudgeKind
from workbench.judging.registry import register_judge

#: Answer format -> the name of the check that judges it when an item has no assertions.
FORMAT_JUDGES: dict[str, str] = {AnswerFormat.NUMBER.value: "number", AnswerFormat.CHOICE.value: "choice",
                                 AnswerFormat.YES_NO.value: "yes_no", AnswerFormat.LABEL.value: "label",
                                 AnswerFormat.FREE.value: "exact"}


@dataclass(frozen=True)
class FormatJudge(JudgeKind):
    """The extracted answer compared with the gold one (or ``value``) under one answer format."""

    fmt: str = "free"  # the AnswerFormat value whose comparison this is
    value: str = "optional"  # default: the item's gold answer
    reads_gold: bool = True

    def prepare(self, value: Any, threshold: float | None, options) -> Any:
        return None if value is None else str(value)

    def evaluate(self, params, case: Case, threshold, tools) -> Finding:
        gold = case.item.answer if params is None else params
        if case.fmt == self.fmt:
            answer = case.extracted
        else:  # used as an assertion on another format's strategy: read the answer this format's way
            answer = extract(case.output, self.fmt, labels=case.labels or None).answer
        ok = is_correct(answer, gold, self.fmt, case.style)
        shown = "no answer found" if answer is None else f"answer {answer!r}"
        return Finding(ok, 1.0 if ok else 0.0, f"{shown} {'matches' if ok else 'does not match'} {gold!r}")


for _fmt, _name, _what in (("number", "number", "the extracted number equals the gold number"),
                           ("choice", "choice", "the extracted choice letter is the gold letter"),
                           ("yes_no", "yes_no", "the extracted yes/no is the gold one"),
                           ("label", "label", "the extracted label is the gold label"),
                           ("free", "exact", "the answer's first line equals the gold answer (case and spaces "
                                             "ignored)")):
    register_judge(FormatJudge(_name, _what, fmt=_fmt))


@cache
def format_check(fmt: str) -> Check:
    """The check that judges an item of answer format ``fmt`` when it has no assertions."""
    from workbench.judging.registry import build_check

    return build_check({"type": FORMAT_JUDGES[AnswerFormat(fmt).value]})
