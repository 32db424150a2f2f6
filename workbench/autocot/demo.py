"""The demonstration record: one demonstration as the reference's demo files hold it, plus where it came from,
and its use as a chain-of-thought example in a prompt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from workbench.autocot.reasoner import COT_TRIGGER
from workbench.data import Example


@dataclass(frozen=True)
class Demo:
    """A demonstration as the reference's demo files hold it, plus where it came from."""

    question: str  # as asked, without "Q: " / "\nA:" and without the answer choices
    rationale: str  # "Let's think step by step. …", whitespace collapsed (the reference's demo files)
    pred_ans: str  # the answer the model gave
    gold_ans: str | None = None  # the pool's answer, for inspection only
    cluster: int | None = None  # k-means cluster it stands for
    distance: float | None = None  # to that cluster's centre
    fallback: bool = False  # True: no candidate of its cluster passed the filters; the nearest was used
    choices: dict[str, str] | None = field(default=None, hash=False)  # multiple choice: label -> text

    def to_example(self, demo_id: str, trigger: str = COT_TRIGGER) -> Example:
        """As a CoT demonstration for the Prompt Builder (reasoning :data:`~workbench.reasoning.AUTO_COT`).

        The rationale starts with the trigger, so the default CoT template gives the
        reference's text: ``Q: {question}\\nA: Let's think step by step. {rationale} The answer is {answer}.``
        """
        rationale = self.rationale if self.rationale.startswith(trigger) else f"{trigger} {self.rationale}"
        return Example(id=demo_id, input=self.question, answer=self.pred_ans, rationale=rationale,
                       choices=self.choices)


def as_examples(demos: Sequence[Demo]) -> list[Example]:
    """Demonstrations as examples for a prompt: ids "autocot-0", …; a fallback's id ends in "-fallback"."""
    return [d.to_example(f"autocot-{i}" + ("-fallback" if d.fallback else "")) for i, d in enumerate(demos)]
