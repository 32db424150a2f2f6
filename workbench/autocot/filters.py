"""The reference's filters: a question's length, its rationale's steps and ending, and (arithmetic sets) the
answer at the end of the rationale; pure functions on text."""

from __future__ import annotations

from collections.abc import Mapping

from workbench.autocot.config import AutoCoTConfig
from workbench.autocot.reasoner import COT_TRIGGER, Reasoning
from workbench.prompts.rendering import choices_text


def question_text(question: str, choices: Mapping[str, str] | None = None) -> str:
    """The question the model reasons about: with its answer choices, laid out as the reference does.

    >>> question_text("Pick one.", {"A": "red", "B": "blue"})
    'Pick one. Answer Choices: (A) red (B) blue'
    """
    text = choices_text(choices)
    return f"{question} Answer Choices: {text}" if text else question


def asked(question: str) -> str:
    """The question as the reference stores, counts and embeds it: ``Q: {question}\\nA:`` (``run_demo.py`` reads
    the ``Q: …`` line of the Zero-shot-CoT log and adds ``"\\nA:"``); ``question`` is :func:`question_text`'s.

    >>> asked("Pick one. Answer Choices: (A) red (B) blue")
    'Q: Pick one. Answer Choices: (A) red (B) blue\\nA:'
    """
    return f"Q: {question}\nA:"


def question_words(question: str) -> int:
    """Words of the question as the reference counts them: in ``Q: {question}\\nA:``, markers included.

    >>> question_words("How many apples?")
    5
    """
    return len(asked(question).split())


def full_rationale(output: str, trigger: str = COT_TRIGGER) -> str:
    """The rationale the reference stores: the trigger followed by the reasoning output, trimmed.

    >>> full_rationale("\\nFirst, 2 + 2 = 4.\\n")
    "Let's think step by step.\\nFirst, 2 + 2 = 4."
    """
    return (trigger + (output if output[:1].isspace() else " " + output)).strip()


def rationale_steps(rationale: str) -> int:
    """Reasoning steps as the reference counts them: lines after one "\\n\\n" -> "\\n" pass.

    >>> rationale_steps("Let's think step by step.\\n\\nA.\\nB.")
    3
    """
    return len(rationale.strip().replace("\n\n", "\n").split("\n"))


def answer_at_end(rationale: str, answer: str) -> bool:
    """The reference's arithmetic check: ``answer`` is in the last sentence or is one of the last 10 words.

    The last sentence is the text before the final "." (the rationale ends with one); "in"
    is a substring test there, as in the reference. Case-insensitive.

    >>> answer_at_end("5 + 3 = 8. So she has 8 apples.", "8"), answer_at_end("It is 8. Then she left.", "8")
    (True, False)
    """
    text, answer = rationale.strip().casefold(), answer.strip().casefold()
    sentences = text.split(".")
    return (len(sentences) > 1 and answer in sentences[-2]) or answer in text.split()[-10:]


def collapse_whitespace(text: str) -> str:
    """Every run of whitespace (newlines included) as one space, as the reference writes rationales."""
    return " ".join(text.split())


def heuristic_failures(question: str, reasoning: Reasoning, cfg: AutoCoTConfig,
                       answer_format: str = "number") -> tuple[str, ...]:
    """The reference's filters a candidate fails, in its order (empty: it passes)."""
    failures = []
    words = question_words(question)
    if words > cfg.max_question_words:
        failures.append(f"question has {words} words > {cfg.max_question_words}")
    rationale = full_rationale(reasoning.rationale)
    steps = rationale_steps(rationale)
    if steps > cfg.max_rationale_steps:
        failures.append(f"rationale has {steps} steps > {cfg.max_rationale_steps}")
    if not rationale.endswith("."):
        failures.append('rationale does not end with "."')
    if not (reasoning.answer or "").strip():
        failures.append("no answer could be extracted")
    elif cfg.checks_answer_at_end(answer_format) and not answer_at_end(rationale, reasoning.answer):
        failures.append(f"answer {reasoning.answer.strip()} is not in the last sentence or the last 10 words")
    return tuple(failures)
