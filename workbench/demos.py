"""A prompt spec with its demonstrations: the one value for "this prompt, built with these examples".

The records that carry a prompt from one place to another hold one: a hand-over between pages
(:class:`ui.handover.HandedPrompt` adds where it came from), and the ``spec``/``demos`` pair of a spec
file or a prompt-set step is written through :meth:`SpecWithDemos.to_dict`. The demonstrations are kept
as a tuple in prompt order, whatever sequence they were given as.

    >>> from workbench.data import Example
    >>> from workbench.prompts.spec import PromptSpec
    >>> built = SpecWithDemos(PromptSpec(answer_format="number"), [Example("d", "2+2", "4")])
    >>> built.demos == (Example("d", "2+2", "4"),), built.summary()
    (True, '1 demonstration · reasoning none · answer format number · query “Q: {input}”')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.data import Example
from workbench.prompts.spec import PromptSpec
from workbench.words import plural


@dataclass(frozen=True)
class SpecWithDemos:
    """A prompt spec and the demonstrations it was built with, in prompt order."""

    spec: PromptSpec  # templates, reasoning mode, answer format and labels
    demos: tuple[Example, ...] = ()  # the demonstrations, in prompt order (none: zero-shot)

    def __post_init__(self) -> None:
        object.__setattr__(self, "demos", tuple(self.demos))

    def summary(self) -> str:
        """One line: demonstrations, reasoning, answer format, labels and the query template's first line."""
        s = self.spec
        parts = [plural(len(self.demos), "demonstration"), f"reasoning {s.reasoning}",
                 f"answer format {s.answer_format}"]
        if s.labels:
            parts.append(f"labels {', '.join(s.labels)}")
        first = s.query_template.strip().splitlines()[0] if s.query_template.strip() else ""
        if first:
            parts.append(f"query “{first[:60]}”")
        return " · ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """``{"spec": …, "demos": […]}`` as spec files and prompt sets write them (spec first, demos in order)."""
        return {"spec": self.spec.to_dict(), "demos": [d.to_dict() for d in self.demos]}
