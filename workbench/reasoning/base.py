"""The reasoning-mode base class: everything a reasoning mode decides about a prompt and its model calls.

A :class:`ReasoningMode` is named by a spec's ``reasoning`` field. It says which demonstration template
the prompt uses (and whether demonstrations need a rationale), what text starts the answer after the
answer prefix, which stages (model calls) one run makes and which decoding each stage uses, how a later
stage's prompt is built from the earlier output, how many tokens to keep free after the prompt, and how
the final answer is read. The defaults are "answer only": one stage, the plain demonstration template,
the answer read after the answer prefix when there is one::

    >>> plain = ReasoningMode("plain", "Plain", "answer only")
    >>> plain.stages, plain.rationale_demos
    (('answer',), False)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from workbench.answers import FEW_SHOT_TRIGGER, AnswerFormat, Extraction, extract

if TYPE_CHECKING:
    from workbench.data import Example
    from workbench.decoding import DecodingConfig
    from workbench.prompts.spec import PromptSpec

#: The stage whose output holds the answer; every mode's last stage.
ANSWER_STAGE = "answer"
#: A stage that writes the reasoning before a separate answer stage (Zero-shot-CoT's first call).
REASONING_STAGE = "reasoning"


class TokenCounter(Protocol):
    """What a mode needs from a model to size its later stages: its tokenizer."""

    def count_tokens(self, text: str) -> int: ...


def query_letters(spec: PromptSpec, query: str | Example | None = None) -> str | None:
    """The choice letters a multiple-choice answer may take: the item's own (A-C for a three-choice item),
    else the spec's labels; None for other formats."""
    if spec.answer_format != AnswerFormat.CHOICE:
        return None
    choices = getattr(query, "choices", None)  # an Example's choices; a plain text query has none
    if choices:
        return "".join(choices)
    return "".join(spec.labels) or None


@dataclass(frozen=True)
class ReasoningMode:
    """One reasoning mode; subclasses override the hooks that differ from "answer only"."""

    name: str  # the value of a spec's ``reasoning`` field (spec files, prompt sets, the store)
    label: str  # what pickers show
    description: str  # one line for help texts and the docs
    rationale_demos: bool = False  # demonstrations show a rationale before the answer (the CoT template)
    stages: tuple[str, ...] = (ANSWER_STAGE,)  # the model calls of one run, in order; the last is "answer"

    @property
    def answer_step(self) -> bool:
        """Whether a stage of its own reads the answer after the reasoning (Zero-shot-CoT's second call)."""
        return len(self.stages) > 1

    def check(self, spec: PromptSpec) -> None:
        """Raise a PromptError when ``spec`` cannot run in this mode (called when a spec is created)."""

    def demo_template(self, spec: PromptSpec) -> str:
        """The template one demonstration is written with."""
        return spec.cot_demo_template if self.rationale_demos else spec.demo_template

    def answer_trigger_text(self, spec: PromptSpec) -> str | None:
        """Text the answer starts with after the answer prefix (None: nothing), e.g. "Let's think step by step."."""
        return None

    def stage_config(self, spec: PromptSpec, cfg: DecodingConfig, stage: str = ANSWER_STAGE) -> DecodingConfig:
        """Decoding settings of one stage: ``cfg`` with the spec's stop strings added."""
        return cfg.replace(stop=tuple(dict.fromkeys((*cfg.stop, *spec.stop))))

    def next_prompt(self, spec: PromptSpec, prompt: str, output: str, query: str | Example | None = None) -> str:
        """The prompt of the stage after the one that was sent ``prompt`` and wrote ``output``."""
        raise NotImplementedError(f"{self.name} runs one stage; there is no prompt after it.")

    def reserved_tokens(self, spec: PromptSpec, cfg: DecodingConfig, counter: TokenCounter,
                        query: str | Example | None = None) -> int:
        """Tokens to keep free after the rendered prompt for every stage of a run."""
        return cfg.max_new_tokens

    def reads_after_trigger(self, spec: PromptSpec) -> bool:
        """Whether the final stage's prompt ends with a trigger, so the answer is the first candidate after it."""
        return bool(spec.answer_prefix.strip())

    def extract(self, spec: PromptSpec, output: str, query: str | Example | None = None) -> Extraction:
        """The answer in the final stage's output, read in the spec's extraction style: after a prompt that
        ends with a trigger, the first candidate; otherwise the one after "The answer is" when the model
        wrote it, else the last candidate."""
        labels: str | tuple[str, ...] | None = spec.labels or None
        if spec.answer_format == AnswerFormat.CHOICE:
            labels = query_letters(spec, query)
        if self.reads_after_trigger(spec):
            return extract(output, spec.answer_format, labels, after_trigger=True, style=spec.extract)
        return extract(output, spec.answer_format, labels, trigger=FEW_SHOT_TRIGGER, style=spec.extract)
