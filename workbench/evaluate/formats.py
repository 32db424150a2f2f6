"""A dataset's own prompt: the answer format its gold answers suggest, a plain spec for it, label words."""

from __future__ import annotations

import re

from workbench.answers import AnswerFormat
from workbench.data import Pool
from workbench.errors import ConfigError
from workbench.escapes import unescape
from workbench.prompts import PromptSpec

#: A gold answer that is a number: "7", "-3", "1,250.50", "$4".
_NUMBER = re.compile(r"-?\$?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?|-?\.\d+")


def parse_label_words(text: str) -> dict[str, str]:
    """``"positive= great, negative= terrible"`` -> {"positive": " great", "negative": " terrible"}.

    The word is taken exactly after "=" (so a leading space is kept); ``\\n`` stands for a newline.
    """
    out: dict[str, str] = {}
    for item in (p for p in text.split(",") if p.strip()):
        if "=" not in item:
            raise ConfigError(f"Label word {item.strip()!r} needs the form label=word, e.g. positive= great.")
        label, word = item.split("=", 1)
        word = unescape(word.rstrip())
        if not label.strip() or not word.strip():
            raise ConfigError(f"Label word {item.strip()!r} needs a label and a word, e.g. positive= great.")
        out[label.strip()] = word
    return out



def infer_format(dataset: Pool) -> tuple[AnswerFormat, tuple[str, ...]]:
    """The answer format the gold answers suggest, and its label set (letters for choices)."""
    answers = [ex.answer for ex in dataset]
    if any(ex.choices for ex in dataset):
        letters = dict.fromkeys(k for ex in dataset for k in (ex.choices or {}))
        return AnswerFormat.CHOICE, tuple(letters)
    labels = dataset.labels()
    if labels and all(a in labels for a in answers):
        if {a.casefold() for a in answers} <= {"yes", "no"}:
            return AnswerFormat.YES_NO, ()
        return AnswerFormat.LABEL, labels
    if answers and all(_NUMBER.fullmatch(a.strip()) for a in answers):
        return AnswerFormat.NUMBER, ()
    return AnswerFormat.FREE, ()


def default_spec(dataset: Pool, pool: Pool | None = None) -> PromptSpec:
    """A plain prompt spec for a dataset: Q/A lines, or Input/Label lines with an instruction for labels."""
    fmt, labels = infer_format(dataset)
    rationales = [ex.rationale for ex in (pool or dataset) if ex.rationale]
    cot_demo = "Q: {input}\nA: {rationale} The answer is {answer}."
    if rationales and all(re.search(r"answer is\s*\S+\.?\s*$", r, re.IGNORECASE) for r in rationales):
        cot_demo = "Q: {input}\nA: {rationale}"  # the rationales already end with "The answer is X."
    if fmt is AnswerFormat.LABEL:
        return PromptSpec(
            instruction=f"Classify each input as one of: {', '.join(labels)}.",
            demo_template="Input: {input}\nLabel: {answer}", query_template="Input: {input}\nLabel:",
            cot_demo_template="Input: {input}\nLabel: {rationale} The answer is {answer}.",
            answer_format=fmt.value, labels=labels, stop=("\n",),
        )
    if fmt is AnswerFormat.CHOICE:
        return PromptSpec(demo_template="Q: {input} Answer Choices: {choices}\nA: {answer}",
                          query_template="Q: {input} Answer Choices: {choices}\nA:",
                          cot_demo_template="Q: {input} Answer Choices: {choices}\nA: {rationale} The answer is "
                                            "{answer}.",
                          answer_format=fmt.value, labels=labels, stop=("\n",))
    return PromptSpec(cot_demo_template=cot_demo, answer_format=fmt.value, stop=("\n",))
