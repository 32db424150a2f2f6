"""The prompts a judge model is given, as named templates anyone can read and replace.

Each model-graded kind has a default :class:`JudgePrompt` in :data:`DEFAULTS`, structured as promptfoo's
(``src/prompts/grading.ts``; the wording is ours, written for small local models): ``llm-rubric`` asks for one
JSON object ``{"reason", "pass", "score"}``; ``factuality`` for one of the categories A-E of OpenAI evals'
``fact`` template, as JSON ``{"category", "reason"}``; ``model-graded-closedqa`` for reasoning, then ``Y`` or
``N`` on a line of its own; ``answer-relevance`` for the question an answer answers (RAGAS' answer relevancy).

A check's ``rubricPrompt`` replaces the default: text (one user message), or a list of ``{role, content}``
messages (promptfoo's form, also as a JSON string). It is a template of the workbench's safe grammar
(:mod:`workbench.templates`: ``{output}``, ``{{`` for a literal brace; nothing is evaluated), checked when the
check is built: unknown placeholders, promptfoo's Nunjucks ``{{ output }}`` and a prompt without the output are one
line each.

    >>> p = DEFAULTS["llm-rubric"]
    >>> msgs = render(p, {"output": "Hi there!", "rubric": "is a greeting", "input": "Say hi"})
    >>> [m["role"] for m in msgs], msgs[-1]["content"]
    (['system', 'user', 'assistant', 'user', 'assistant', 'user'], '<Output>\\nHi there!\\n</Output>\\n<Rubric>\\nis a greeting\\n</Rubric>')
    >>> override("Is {output} polite? Reply JSON.", "llm-rubric").messages
    (('user', 'Is {output} polite? Reply JSON.'),)
    >>> override("Grade {{ output }}", "llm-rubric")
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: rubricPrompt writes {{ output }} (promptfoo's Nunjucks); the workbench's templates write {output} ({{ and }} are literal braces).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.errors import ConfigError, PromptError
from workbench.templates import check, fill

#: The longest ``rubricPrompt`` accepted (characters over all its messages): a judge prompt, not a document.
MAX_PROMPT_CHARS = 20_000
#: The most messages a ``rubricPrompt`` may have.
MAX_MESSAGES = 8
#: The roles a judge prompt's messages may take.
ROLES = ("system", "user", "assistant")
#: The names standing for the judged output (promptfoo calls it ``output``, ``completion`` or ``answer``).
OUTPUT_NAMES = ("output", "completion", "answer")


@dataclass(frozen=True)
class JudgePrompt:
    """A judge prompt: its messages as templates, and the placeholders they may use."""

    name: str  # the kind it serves ("llm-rubric", ...) or "rubricPrompt" for a check's own
    messages: tuple[tuple[str, str], ...]  # (role, template text), in order
    allowed: tuple[str, ...]  # the placeholders the templates may use

    def text(self) -> str:
        """The templates as one readable text (for the page's editor)."""
        return "\n\n".join(f"[{role}]\n{body}" for role, body in self.messages)


# The examples are chat turns (a user message, the judge's reply), not text inside the system message as in
# promptfoo: a 135M instruct model copies a reply's form from turns far more often (measured on SmolLM2-135M:
# parseable JSON on 5 of 5 items against 0 of 3). Pass comes first in the JSON, as in promptfoo's Anthropic
# variant: a small model that stops early has then given its verdict.
_RUBRIC_SYSTEM = """\
You check an output against a rubric. The output passes when what the rubric says is true of it. Reply with one \
JSON object: {{"pass": true or false, "score": a number from 0.0 to 1.0, "reason": "one short sentence"}}"""
_RUBRIC_USER = "<Output>\n{output}\n</Output>\n<Rubric>\n{rubric}\n</Rubric>"
_RUBRIC_EXAMPLES = (
    ("user", "<Output>\nGood morning, everyone.\n</Output>\n<Rubric>\nThe text greets someone\n</Rubric>"),
    ("assistant", '{{"pass": true, "score": 1.0, "reason": "\'Good morning\' is a greeting"}}'),
    ("user", "<Output>\nArr, hand over the treasure, matey!\n</Output>\n<Rubric>\nDoes not talk like a pirate\n"
             "</Rubric>"),
    ("assistant", '{{"pass": false, "score": 0.0, "reason": "\'Arr\' and \'matey\' are pirate talk"}}'),
)

_FACT_SYSTEM = """\
You compare the facts in a submitted answer with an expert answer to the same question. Ignore style, grammar \
and punctuation. Choose the one category that fits:
(A) The submitted answer is a subset of the expert answer and fully consistent with it.
(B) The submitted answer is a superset of the expert answer and fully consistent with it.
(C) The submitted answer has the same details as the expert answer.
(D) The submitted answer and the expert answer disagree.
(E) The answers differ, but not in a way that matters for the facts.
Reply with one JSON object: {{"category": "one letter A-E", "reason": "one short sentence"}}"""
_FACT_USER = """\
<question>
{input}
</question>
<expert_answer>
{ideal}
</expert_answer>
<submitted_answer>
{completion}
</submitted_answer>"""
_FACT_EXAMPLES = (
    ("user", "<question>\nHow many legs does a spider have?\n</question>\n<expert_answer>\n8\n</expert_answer>\n"
             "<submitted_answer>\nSpiders have eight legs.\n</submitted_answer>"),
    ("assistant", '{{"category": "C", "reason": "both say eight legs"}}'),
    ("user", "<question>\nWho wrote Hamlet?\n</question>\n<expert_answer>\nWilliam Shakespeare\n</expert_answer>\n"
             "<submitted_answer>\nHamlet was written by Charles Dickens.\n</submitted_answer>"),
    ("assistant", '{{"category": "D", "reason": "Dickens is not Shakespeare"}}'),
)

_CLOSEDQA_SYSTEM = """\
You judge whether a submission meets a criterion. Reason step by step in a sentence or two, without stating \
your verdict first. Then write only Y (it meets the criterion) or N (it does not) on a line of its own."""
_CLOSEDQA_USER = """\
[BEGIN DATA]
***
[Task]: {input}
***
[Submission]: {completion}
***
[Criterion]: {criteria}
***
[END DATA]
Does the submission meet the criterion?"""
_CLOSEDQA_EXAMPLES = (
    ("user", "[BEGIN DATA]\n***\n[Task]: Greet the user.\n***\n[Submission]: Hello! Nice to see you.\n***\n"
             "[Criterion]: The submission is friendly\n***\n[END DATA]\nDoes the submission meet the criterion?"),
    ("assistant", "'Hello! Nice to see you.' is a friendly greeting.\nY"),
    ("user", "[BEGIN DATA]\n***\n[Task]: Name a fruit.\n***\n[Submission]: A carrot.\n***\n"
             "[Criterion]: The submission names a fruit\n***\n[END DATA]\nDoes the submission meet the criterion?"),
    ("assistant", "A carrot is a vegetable, not a fruit.\nN"),
)

# The last message is the judge's own, begun for it: a small chat model asked for a question otherwise answers it.
_RELEVANCE_USER = """\
Write the one question that the answer below answers.
Answer: The train to Lyon leaves from platform 4 at 9:15 every weekday morning.
Question: When and from which platform does the weekday train to Lyon leave?

Answer: {answer}"""

#: The default judge prompt of each model-graded kind.
DEFAULTS: dict[str, JudgePrompt] = {
    "llm-rubric": JudgePrompt("llm-rubric", (("system", _RUBRIC_SYSTEM), *_RUBRIC_EXAMPLES, ("user", _RUBRIC_USER)),
                              ("output", "rubric", "input")),
    "factuality": JudgePrompt("factuality", (("system", _FACT_SYSTEM), *_FACT_EXAMPLES, ("user", _FACT_USER)),
                              ("input", "ideal", "completion", "output")),
    "model-graded-closedqa": JudgePrompt("model-graded-closedqa", (("system", _CLOSEDQA_SYSTEM),
                                                                   *_CLOSEDQA_EXAMPLES, ("user", _CLOSEDQA_USER)),
                                         ("input", "criteria", "completion", "output")),
    "answer-relevance": JudgePrompt("answer-relevance", (("user", _RELEVANCE_USER), ("assistant", "Question:")),
                                    ("answer", "output")),
}

_NUNJUCKS = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def override(spec: Any, kind: str) -> JudgePrompt:
    """A check's ``rubricPrompt`` as a :class:`JudgePrompt` for ``kind``'s values, or one ConfigError line."""
    allowed = DEFAULTS[kind].allowed
    messages = _messages(spec)
    if sum(len(body) for _, body in messages) > MAX_PROMPT_CHARS:
        raise ConfigError(f"rubricPrompt is longer than {MAX_PROMPT_CHARS:,} characters.")
    used: list[str] = []
    for _, body in messages:
        m = _NUNJUCKS.search(body)
        if m is not None and m[1] in allowed:
            raise ConfigError(f"rubricPrompt writes {m[0]} (promptfoo's Nunjucks); the workbench's templates write "
                              f"{{{m[1]}}} ({{{{ and }}}} are literal braces).")
        try:
            used += check(body, allowed, "rubricPrompt")
        except PromptError as err:
            raise ConfigError(str(err)) from None
    if not set(used) & set(OUTPUT_NAMES):
        outs = " or ".join(f"{{{n}}}" for n in OUTPUT_NAMES if n in allowed)
        raise ConfigError(f"rubricPrompt never shows the judge the output; put {outs} in it.")
    return JudgePrompt("rubricPrompt", messages, allowed)


def _messages(spec: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(spec, str) and spec.lstrip().startswith("["):
        try:
            spec = json.loads(spec)
        except ValueError:
            pass  # text that happens to start with "[": one user message
    if isinstance(spec, str):
        if not spec.strip():
            raise ConfigError("rubricPrompt is empty.")
        return (("user", spec),)
    if not isinstance(spec, Sequence) or isinstance(spec, bytes) or not spec:
        raise ConfigError("rubricPrompt must be text or a list of {role, content} messages.")
    if len(spec) > MAX_MESSAGES:
        raise ConfigError(f"rubricPrompt has {len(spec)} messages; at most {MAX_MESSAGES}.")
    out = []
    for n, msg in enumerate(spec, start=1):
        if not isinstance(msg, Mapping) or set(msg) - {"role", "content"}:
            raise ConfigError(f"rubricPrompt message {n} must be a mapping with role and content only.")
        role, content = msg.get("role"), msg.get("content")
        if role not in ROLES:
            raise ConfigError(f"rubricPrompt message {n}: role must be one of {', '.join(ROLES)}, not {role!r}.")
        if not isinstance(content, str) or not content.strip():
            raise ConfigError(f"rubricPrompt message {n}: content must be non-empty text.")
        out.append((role, content))
    if all(role == "assistant" for role, _ in out):
        raise ConfigError("rubricPrompt needs a system or user message (an assistant message last begins the "
                          "judge's reply).")
    return tuple(out)


def render(prompt: JudgePrompt, values: Mapping[str, str]) -> tuple[dict[str, str], ...]:
    """The prompt's messages with ``values`` filled in (one pass: a value is never read as a template).

    >>> render(DEFAULTS["answer-relevance"], {"answer": "Paris.", "output": "Paris."})[0]["content"][-15:]
    '\\nAnswer: Paris.'
    """
    return tuple({"role": role, "content": fill(body, values, prompt.allowed, "rubricPrompt")}
                 for role, body in prompt.messages)


def reply_start(messages: Sequence[Mapping[str, str]]) -> str:
    """The judge's reply as begun for it: a last message of role ``assistant`` (the judge goes on from it), else
    "". Its reply is read with this start before it.

    >>> reply_start([{"role": "user", "content": "Answer: Paris."}, {"role": "assistant", "content": "Question:"}])
    'Question:'
    """
    return messages[-1]["content"] if messages and messages[-1]["role"] == "assistant" else ""


def as_text(messages: Sequence[Mapping[str, str]], backend: Any = None) -> str:
    """The exact text sent: through the judge's own chat template when it has one, else the messages' contents
    one after another (a base model continues the text); a begun reply (:func:`reply_start`) ends it.

    >>> as_text([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q: 2+2?"}])
    'Be brief.\\n\\nQ: 2+2?\\n'
    """
    start = reply_start(messages)
    head = [dict(m) for m in (messages[:-1] if start else messages)]
    if backend is not None and getattr(backend, "chat_template", None):
        return backend.format_chat(head) + start
    return "\n\n".join(m["content"] for m in head) + "\n" + start
