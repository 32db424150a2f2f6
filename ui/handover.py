"""Hand-overs between pages: typed records in session state, and the note the receiving page shows.

* Prompt Builder → Evaluate: "Evaluate this prompt" calls :func:`send`; the Evaluate page reads
  :func:`received` and shows where the prompt came from.
* Auto-CoT, Demonstrations, Library → Prompt Builder: :func:`demos_to_builder` and
  :func:`library_to_builder` replace the Builder's draft (:mod:`ui.state`); the Builder's editor then
  shows what it received, with a note of where it came from ("3 demonstrations from Auto-CoT").

Nothing goes through bare session-state keys: the pages import this module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st

from ui.state import BuilderDraft, BuilderState, DemoRow, LibraryStep, builder_state, load_into_builder, shots_for
from workbench.data import Example
from workbench.demos import SpecWithDemos
from workbench.prompts import PromptSpec, SpecFile
from workbench.words import plural

#: The one session-state key the hand-over to the Evaluate page lives under.
KEY = "handover_prompt"
#: The Builder's page file (for st.switch_page after a hand-over).
BUILDER_PAGE = "views/1_Prompt_Builder.py"


@dataclass(frozen=True)
class HandedPrompt(SpecWithDemos):
    """A prompt spec and the demonstrations it was built with (:class:`~workbench.demos.SpecWithDemos`), and
    where it came from."""

    source: str = "Prompt Builder"  # the page it came from, shown on the receiving page
    name: str = "builder"  # the variant's name in strategy names ("builder/knn4")


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


# --------------------------------------------------------------------------- into the Prompt Builder

def demos_to_builder(demos: Sequence[Example], source: str, spec: PromptSpec | None = None,
                     query: str | None = None) -> BuilderState:
    """Make ``demos`` the Builder's demonstrations, all of them used (few-shot, K = their number).

    ``spec``: a spec to go with them (Auto-CoT's); None keeps the Builder's own spec and templates.
    ``query``: an input to keep with them; None keeps the Builder's. The note names ``source``.
    """
    old = builder_state().draft
    base = BuilderDraft.of(SpecFile(name=source, spec=spec)) if spec is not None else old
    draft = dataclasses.replace(base, rows=tuple(DemoRow.of(d) for d in demos), shots=shots_for(len(demos)),
                                k=max(len(demos), 1), query=old.query if query is None else query)
    return load_into_builder(draft, source=source, origin=f"{plural(len(demos), 'demonstration')} from {source}")


def library_to_builder(set_name: str, steps: Sequence[LibraryStep], index: int = 0) -> BuilderState:
    """Open a Library set in the Builder: step ``index`` in the editor, every step offered in its picker."""
    step = steps[index]
    return load_into_builder(step.spec_file, source=f"step:{index}", steps=steps, steps_of=set_name,
                             origin=f"{step.title} of the Library set “{set_name}”")
