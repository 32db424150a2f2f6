"""Exports of a prompt set and its runs: JSONL prompts (raw text or chat messages) and the results CSV.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from workbench.csvsafe import rows_to_csv
from workbench.data import Example
from workbench.errors import DataError
from workbench.prompts import (
    render,
)
from workbench.promptsets.model import PromptSet, Step, TestCase
from workbench.promptsets.running import IndexFactory, StepRun, step_demos

if TYPE_CHECKING:
    pass

#: JSONL export shapes: raw completion text {"prompt"} or chat messages {"messages"}.
JSONL_SHAPES = ("raw", "chat")


class _MessagesOnly:
    """Stands in for a chat model when only the messages are wanted (JSONL chat export)."""

    is_chat = True

    def format_chat(self, messages: Sequence[dict]) -> str:
        return ""

    def count_tokens(self, text: str) -> int:
        return 0


def chat_messages(step: Step, demos: Sequence[Example], query: str | Example) -> list[dict[str, str]]:
    """The step's prompt as chat messages; an answer prefix or CoT trigger becomes a final assistant turn."""
    rendered = render(step.spec, demos, query, _MessagesOnly(), as_chat=True)
    messages = [dict(m) for m in rendered.messages or ()]
    if rendered.text:  # what the answer starts with (prefill); "" for most specs
        messages.append({"role": "assistant", "content": rendered.text})
    return messages


def render_jsonl(pset: PromptSet, inputs: Sequence[TestCase] | None = None, shape: str = "raw",
                 indexes: IndexFactory | None = None, meta: bool = False) -> str:
    """One JSON line per step and input: ``{"prompt": text}`` (raw) or ``{"messages": [...]}`` (chat).

    ``inputs`` default to the set's test inputs. ``meta`` adds a "meta" object (set, step,
    input, expected, model, decoding) for matching results back.
    """
    if shape not in JSONL_SHAPES:
        raise DataError(f"Unknown JSONL shape {shape!r}; use one of {', '.join(JSONL_SHAPES)}.")
    inputs = pset.tests if inputs is None else tuple(inputs)
    if not inputs:
        raise DataError(f"The set {pset.name!r} has no test inputs; give inputs to render.")
    lines = []
    for i, step in enumerate(pset.steps):
        for j, case in enumerate(inputs):
            query = case.query(f"input-{j + 1}")
            demos, _ = step_demos(step, query, indexes)
            if shape == "raw":
                row: dict[str, Any] = {"prompt": render(step.spec, demos, query, as_chat=False).text}
            else:
                row = {"messages": chat_messages(step, demos, query)}
            if meta:
                row["meta"] = {"set": pset.name, "step": i, "title": step.title, "input": case.input,
                               "expected": case.expected, "model": step.model, "decoding": step.decoding.to_dict()}
            lines.append(json.dumps(row, ensure_ascii=False))
    return "\n".join(lines) + "\n"




#: Columns of the results CSV.
RESULT_COLUMNS = ("step", "title", "model", "input", "expected", "answer", "correct", "samples", "seconds",
                  "output", "score", "checks")


def result_row(r: StepRun) -> dict[str, Any]:
    """One result as a flat row (CSV, tables); steps are numbered from 1 as the pages and the CLI show them.
    ``score`` and ``checks`` are empty when no assertion judged the output."""
    return {"step": r.step + 1, "title": r.title, "model": r.model, "input": r.case.input,
            "expected": "" if r.case.expected is None else r.case.expected,
            "answer": "" if r.answer is None else r.answer,
            "correct": "" if r.correct is None else r.correct, "samples": len(r.runs),
            "seconds": round(r.seconds, 3), "output": r.output, "score": "" if r.score is None else r.score,
            "checks": checks_text(r)}


def checks_text(r: StepRun) -> str:
    """Each check's verdict in a few words, e.g. ``is-json pass 1; contains fail 0 (does not contain 'Cairo')``."""
    parts = []
    for v in r.checks:
        why = f" ({v.error})" if v.error else ("" if v.passed else f" ({v.reason})")
        parts.append(f"{v.type} {'pass' if v.passed else 'fail'} {v.score:g}{why}")
    return "; ".join(parts)


def results_csv(results: Sequence[StepRun]) -> str:
    """Results as CSV text, one row per step and input."""
    return rows_to_csv(RESULT_COLUMNS, (result_row(r) for r in results))  # formula cells neutralised




