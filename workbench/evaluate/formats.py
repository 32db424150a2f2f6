"""A dataset's own prompt: the answer format its gold answers suggest (and a warning when they look like worked
solutions), a plain spec for it, label words."""

from __future__ import annotations

import re

from workbench.answers import AnswerFormat
from workbench.data import Pool
from workbench.data.shapes import choice_order, detect
from workbench.errors import ConfigError
from workbench.escapes import unescape
from workbench.prompts import PromptSpec

#: A gold answer that is a number: "7", "-3", "1,250.50", "$4".
_NUMBER = re.compile(r"-?\$?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?|-?\.\d+")
#: A free-text gold answer over this many words (or on several lines) reads as a worked solution.
SOLUTION_WORDS = 25


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
    """The answer format the gold answers suggest, and its label set (letters for choices, in order A, B, C...).

    >>> from workbench.data import Example
    >>> infer_format(Pool("mc", (Example("1", "q", "C", choices={"C": "z", "A": "x", "B": "y"}),)))
    (<AnswerFormat.CHOICE: 'choice'>, ('A', 'B', 'C'))
    """
    answers = [ex.answer for ex in dataset]
    if any(ex.choices for ex in dataset):
        return AnswerFormat.CHOICE, tuple(choice_order([k for ex in dataset for k in (ex.choices or {})]))
    if answers and {a.casefold() for a in answers} <= {"yes", "no"}:  # however few items (no label set needed)
        return AnswerFormat.YES_NO, ()
    labels = dataset.labels()
    if labels and all(a in labels for a in answers):
        letters = all(len(lab) == 1 and lab.isalpha() for lab in labels)  # letters A, B, C...; others as first seen
        return AnswerFormat.LABEL, tuple(choice_order(labels)) if letters else labels
    if answers and all(_NUMBER.fullmatch(a.strip()) for a in answers):
        return AnswerFormat.NUMBER, ()
    return AnswerFormat.FREE, ()


def gold_warning(dataset: Pool) -> str | None:
    """One line when free-text gold answers look like worked solutions (long or several lines), which exact match
    of the output's first line would almost never equal; None when they look like answers.

    >>> from workbench.data import Example
    >>> solved = Pool("s", (Example("1", "q", "She sells 16 - 3 - 4 = 9 eggs.\\nShe makes 9 * 2 = 18.\\n#### 18"),))
    >>> gold_warning(solved)[:60]
    'The gold answers look like worked solutions (1 of 1 span sev'
    >>> gold_warning(Pool("a", (Example("1", "Capital of France?", "Paris"),))) is None
    True
    """
    if infer_format(dataset)[0] is not AnswerFormat.FREE:
        return None
    graded = [ex for ex in dataset if ex.answer and not ex.checks]  # rows with assertions judge themselves
    solved = [ex for ex in graded if "\n" in ex.answer.strip() or len(ex.answer.split()) > SOLUTION_WORDS]
    if not solved or len(solved) * 2 < len(graded):
        return None
    shape = detect(["question", "answer"], [{"question": ex.input, "answer": ex.answer} for ex in graded])
    fix = (f"read the file with the {shape.name} shape ({shape.gold})" if shape is not None and dataset.shape is None
           else "put the final answer alone in the answer column and the working in a 'rationale' column, or judge "
                "with assertions (--assert, __expected)")
    first = solved[0].answer.strip().replace("\n", " ")
    return (f"The gold answers look like worked solutions ({len(solved):,} of {len(graded):,} span several lines "
            f"or over {SOLUTION_WORDS} words, e.g. {first[:50]!r}); the output's first line will hardly ever equal "
            f"one: {fix}.")


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
