"""The built-in reasoning modes: answer only, Manual-CoT, Auto-CoT and Zero-shot-CoT.

* ``none`` -- demonstrations show the answer only;
* ``manual_cot`` / ``auto_cot`` -- demonstrations show a rationale before the answer (Wei et al.; Auto-CoT
  writes the rationales with the model, same shape, and its query ends "A: Let's think step by step.");
* ``zero_shot_cot`` -- Kojima et al.: the answer starts with a trigger ("Let's think step by step."), then
  a second call appends an answer trigger to extract the answer, greedily with a short budget.

    >>> ZERO_SHOT_COT.stages
    ('reasoning', 'answer')
    >>> [m.rationale_demos for m in (NONE, MANUAL_COT, AUTO_COT, ZERO_SHOT_COT)]
    [False, True, True, False]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.answers import answer_trigger
from workbench.errors import PromptError
from workbench.reasoning.base import (
    ANSWER_STAGE,
    REASONING_STAGE,
    ReasoningMode,
    TokenCounter,
    query_letters,
)

if TYPE_CHECKING:
    from workbench.data import Example
    from workbench.decoding import DecodingConfig
    from workbench.prompts.spec import PromptSpec

#: Tokens for Zero-shot-CoT's answer step (Kojima et al. give the answer call a short budget).
ANSWER_MAX_NEW_TOKENS = 32
#: Put between the reasoning and the answer trigger in the answer step's prompt.
ANSWER_TRIGGER_JOIN = "\n"


@dataclass(frozen=True)
class AnswerOnly(ReasoningMode):
    """Demonstrations and the model's reply show the answer only (the base behaviour)."""


@dataclass(frozen=True)
class FewShotCoT(ReasoningMode):
    """Demonstrations show a rationale before "The answer is X."; the answer is read after that phrase."""

    rationale_demos: bool = True  # the CoT demonstration template, each demo needs a rationale

    def reads_after_trigger(self, spec: PromptSpec) -> bool:
        return False  # the model writes "The answer is X" itself, as its demonstrations did


@dataclass(frozen=True)
class AutoCoT(FewShotCoT):
    """Few-shot CoT whose query ends with the Zero-shot-CoT trigger, as Auto-CoT's demonstrations were written."""

    def answer_trigger_text(self, spec: PromptSpec) -> str:
        return spec.cot_trigger  # Auto-CoT's query ends "A: Let's think step by step."


@dataclass(frozen=True)
class ZeroShotCoT(ReasoningMode):
    """Kojima et al.'s two stages: reasoning after the trigger, then the answer trigger and a short greedy answer."""

    stages: tuple[str, ...] = (REASONING_STAGE, ANSWER_STAGE)  # two model calls
    answer_max_new_tokens: int = ANSWER_MAX_NEW_TOKENS  # the answer step's budget at most (Kojima et al.'s 32)
    join: str = ANSWER_TRIGGER_JOIN  # between the reasoning and the answer trigger

    def check(self, spec: PromptSpec) -> None:
        if not spec.cot_trigger.strip():
            raise PromptError("Zero-shot-CoT needs a trigger phrase, e.g. \"Let's think step by step.\"")

    def answer_trigger_text(self, spec: PromptSpec) -> str:
        return spec.cot_trigger

    def final_trigger(self, spec: PromptSpec, query: str | Example | None = None) -> str:
        """The answer step's trigger for this query: the spec's own, else Kojima et al.'s for its format
        (with the item's choice letters: "among A through C")."""
        return spec.answer_trigger or answer_trigger(spec.answer_format, query_letters(spec, query))

    def stage_config(self, spec: PromptSpec, cfg: DecodingConfig, stage: str = ANSWER_STAGE) -> DecodingConfig:
        """The answer step is greedy with a short budget whatever the reasoning step samples, as Kojima et al.
        and Wang et al. read answers."""
        cfg = super().stage_config(spec, cfg, stage)
        if stage == ANSWER_STAGE:
            return cfg.replace(max_new_tokens=min(cfg.max_new_tokens, self.answer_max_new_tokens),
                               do_sample=False, n=1)
        return cfg

    def next_prompt(self, spec: PromptSpec, prompt: str, output: str, query: str | Example | None = None) -> str:
        """The answer step's prompt: the first prompt, the reasoning as generated (not stripped, as Kojima et al.'s
        ``x + z + " " + trigger``), then the join and the answer trigger."""
        return prompt + output + self.join + self.final_trigger(spec, query)

    def reserved_tokens(self, spec: PromptSpec, cfg: DecodingConfig, counter: TokenCounter,
                        query: str | Example | None = None) -> int:
        # The answer step appends the reasoning (at most max_new_tokens), the answer trigger and the answer.
        trigger = counter.count_tokens(self.join + self.final_trigger(spec, query))
        return cfg.max_new_tokens + trigger + self.stage_config(spec, cfg, ANSWER_STAGE).max_new_tokens

    def reads_after_trigger(self, spec: PromptSpec) -> bool:
        return True  # the answer step's prompt ends with the answer trigger


NONE = AnswerOnly("none", "None (answer only)", "demonstrations and the reply show the answer only")
MANUAL_COT = FewShotCoT("manual_cot", "Manual-CoT (rationale in demos)",
                        "demonstrations written by hand show a rationale before the answer (Wei et al. 2022)")
ZERO_SHOT_COT = ZeroShotCoT("zero_shot_cot", "Zero-shot-CoT (trigger + answer step)",
                            "\"Let's think step by step.\", then an answer step reads the answer (Kojima et al. 2022)")
AUTO_COT = AutoCoT("auto_cot", "Auto-CoT demos",
                   "demonstrations with model-written rationales, built by Auto-CoT (Zhang et al. 2022)")
