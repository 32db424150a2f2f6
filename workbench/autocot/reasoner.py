"""Zero-shot-CoT writing a rationale and an answer for a question (Kojima et al.'s two calls), the way Auto-CoT
asks the model for its candidates' rationales."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError, ModelError
from workbench.prompts.running import PromptJob, run_prompts
from workbench.prompts.spec import PromptSpec
from workbench.reasoning import ZERO_SHOT_COT

if TYPE_CHECKING:
    from workbench.backends import Backend

#: Zero-shot-CoT trigger: ends the reasoning prompt and starts every rationale (Kojima et al.).
COT_TRIGGER = "Let's think step by step."
#: Rationale budget: the reference's ``--max_length_cot`` (``run_inference.py``, ``api.py``).
REASONING_MAX_NEW_TOKENS = 256
#: Decoding of the reasoning call as the reference's: greedy (``temperature=0``), 256 tokens, no stop (``stop=None``
#: in ``utils.decoder_for_gpt3``); the answer step takes at most 32 of them (``--max_length_direct``).
REASONING_DECODING = DecodingConfig(max_new_tokens=REASONING_MAX_NEW_TOKENS)
#: An explicit option, not the reference's: stop a rationale where a base model would begin the next question
#: (``REASONING_DECODING.replace(stop=NEXT_QUESTION_STOP)``, ``autocot build --stop '\nQ:'``); without it a base
#: model writes on to the budget.
NEXT_QUESTION_STOP = ("\nQ:",)


@dataclass(frozen=True)
class Reasoning:
    """What Zero-shot-CoT produced for one question."""

    rationale: str  # the reasoning output as generated, after "Let's think step by step."
    answer: str | None  # extracted from the answer step; None if nothing could be extracted


#: Produces the rationale and answer for a question (Zero-shot-CoT through a backend).
ReasonFn = Callable[[str], Reasoning]


@dataclass(frozen=True)
class ZeroShotCoTReasoner:
    """Rationale + answer for a question by Zero-shot-CoT's two calls (the Prompt Builder's runner)."""

    backend: Backend
    answer_format: str = "number"  # an AnswerFormat value: picks the answer trigger and extraction
    labels: tuple[str, ...] = ()  # the label set ("label" needs it) or the choice letters
    cfg: DecodingConfig = REASONING_DECODING  # greedy reasoning, and Zero-shot-CoT's short greedy answer step
    one_at_a_time: bool = False  # True: every question alone (the exact unbatched text on a batching backend)

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(self.labels))
        if self.answer_format == "label" and not self.labels:
            raise ConfigError("Auto-CoT on a label dataset needs its label set; give the labels "
                              "(e.g. positive, negative).")
        _ = self.spec  # validated now, not at the first question

    @cached_property
    def spec(self) -> PromptSpec:
        """Zero-shot-CoT: the query ``Q: {question}\nA: Let's think step by step.``, then the answer trigger."""
        trigger = label_trigger(self.labels) if self.answer_format == "label" else None
        return PromptSpec(reasoning=ZERO_SHOT_COT.name, answer_format=self.answer_format, labels=self.labels,
                          cot_trigger=COT_TRIGGER, answer_trigger=trigger)

    def __call__(self, question: str) -> Reasoning:
        return self.many([question])[0]

    def many(self, questions: Sequence[str]) -> list[Reasoning]:
        """Rationales for several questions, each stage one ``generate`` call for all of them (a batching
        backend decodes them together); one question at a time when ``one_at_a_time``."""
        if self.one_at_a_time and len(questions) > 1:
            return [r for q in questions for r in self.many([q])]
        runs = run_prompts(self.spec, [PromptJob((), q) for q in questions], self.backend, self.cfg)
        for q, run in zip(questions, runs, strict=True):
            failed = next((st.generation for st in run.stages if st.generation.failed), None)
            if failed is not None:
                raise ModelError(f"The model could not write a rationale for {q[:60]!r}: {failed.error}")
        return [Reasoning(run.stages[0].output, run.answer) for run in runs]


def label_trigger(labels: Sequence[str]) -> str:
    """The answer trigger for a label set, in the shape of Kojima et al.'s "(Yes or No)" (the reference has no
    label sets; without the labels a model does not know what to answer).

    >>> label_trigger(["positive", "negative"]), label_trigger(["a", "b", "c"])
    ('Therefore, the answer (positive or negative) is', 'Therefore, the answer (a, b or c) is')
    """
    names = ", ".join(labels[:-1]) + " or " + labels[-1] if len(labels) > 1 else "".join(labels)
    return f"Therefore, the answer ({names}) is"


def zero_shot_cot_reasoner(
    backend: Backend,
    answer_format: str = "number",
    cfg: DecodingConfig = REASONING_DECODING,
    *,
    labels: Sequence[str] = (),
    one_at_a_time: bool = False,
) -> ZeroShotCoTReasoner:
    """The reasoner Auto-CoT uses: the test query ``Q: {question}\\nA: Let's think step by step.``, then the answer;
    by default decoded as the reference's (:data:`REASONING_DECODING`: 256 tokens, no stop; ``cfg``'s stop strings,
    e.g. :data:`NEXT_QUESTION_STOP`, end both calls)."""
    return ZeroShotCoTReasoner(backend, answer_format, tuple(labels), cfg, one_at_a_time)


def reason_all(reason: ReasonFn, questions: Sequence[str]) -> list[Reasoning]:
    """Rationales for several questions: in one batched call per stage when the reasoner can
    (:meth:`ZeroShotCoTReasoner.many`), else question by question."""
    many = getattr(reason, "many", None)
    return list(many(questions)) if many is not None else [reason(q) for q in questions]
