"""One typed place in session state where a page hands a prompt to the Evaluate page.

The Prompt Builder's "Evaluate this prompt" calls :func:`send`; the Evaluate page reads
:func:`received` and shows where the prompt came from. Nothing else goes through bare
session-state keys: both pages import this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st

from workbench.data import Example
from workbench.prompts import PromptSpec

#: The one session-state key the hand-over lives under.
KEY = "handover_prompt"


@dataclass(frozen=True)
class HandedPrompt:
    """A prompt spec and the demonstrations it was built with, and where it came from."""

    spec: PromptSpec
    demos: tuple[Example, ...]
    source: str = "Prompt Builder"
    name: str = "builder"  # the variant's name in strategy names ("builder/knn4")

    def summary(self) -> str:
        """One line: reasoning, answer format, labels, demonstrations and the query template's first line."""
        s = self.spec
        parts = [f"{len(self.demos)} demonstration{'s' if len(self.demos) != 1 else ''}",
                 f"reasoning {s.reasoning}", f"answer format {s.answer_format}"]
        if s.labels:
            parts.append(f"labels {', '.join(s.labels)}")
        first = s.query_template.strip().splitlines()[0] if s.query_template.strip() else ""
        if first:
            parts.append(f"query “{first[:60]}”")
        return " · ".join(parts)


def send(spec: PromptSpec, demos: Sequence[Example], source: str = "Prompt Builder") -> HandedPrompt:
    """Put a prompt where the Evaluate page finds it (replacing any earlier one)."""
    handed = HandedPrompt(spec=spec, demos=tuple(demos), source=source)
    st.session_state[KEY] = handed
    return handed


def received() -> HandedPrompt | None:
    """The prompt handed over in this session, if any."""
    value = st.session_state.get(KEY)
    return value if isinstance(value, HandedPrompt) else None


def clear() -> None:
    st.session_state.pop(KEY, None)
