"""The prompt spec: how a prompt is built, validated on creation.

A :class:`PromptSpec` says how a prompt is built: a task description, how one
demonstration and the query are written, and a reasoning mode. Zero-, one- and
few-shot are the same spec with 0, 1 or K demonstrations (GPT-3 style: task
description + K examples + prompt). The reasoning mode is named by ``reasoning`` and
is an object of the registry (:mod:`workbench.reasoning`): ``spec.mode`` is that object,
which owns how demonstrations are written, the stages and their decoding.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.answers import EXTRACTION_STYLES, AnswerFormat
from workbench.errors import PromptError
from workbench.reasoning.base import ReasoningMode
from workbench.reasoning.modes import ZERO_SHOT_COT
from workbench.reasoning.registry import get as reasoning_mode
from workbench.sandbox import variables
from workbench.templates import check

#: How demonstrations reach a chat model: alternating user/assistant turns, or all in one user message.
CHAT_LAYOUTS = ("turns", "inline")
#: Placeholders a demonstration template may use ({question} is another name for {input}).
DEMO_FIELDS = ("input", "question", "answer", "rationale", "label", "choices")
#: Placeholders the query template may use.
QUERY_FIELDS = ("input", "question", "choices")
#: How templates write their placeholders: ``{input}`` (workbench.templates: plain names, one pass) or
#: ``{{ input }}`` with filters and loops (workbench.sandbox: the sandboxed Jinja that promptfoo's Nunjucks
#: prompts and lm-evaluation-harness's ``doc_to_text`` are written in; an item's ``vars`` are its variables).
SYNTAXES = ("braces", "jinja")


@dataclass(frozen=True)
class PromptSpec:
    """How a prompt is built. Validated on creation: a bad template or mode is a PromptError."""

    instruction: str = ""  # task description before the demonstrations; literal text, no placeholders
    demo_template: str = "Q: {input}\nA: {answer}"  # one demonstration (modes without rationales)
    cot_demo_template: str = "Q: {input}\nA: {rationale} The answer is {answer}."  # manual/auto CoT demos
    query_template: str = "Q: {input}\nA:"  # the question the model answers
    separator: str = "\n\n"  # between instruction, demonstrations and query
    answer_prefix: str = ""  # text the answer starts with (raw: after the query; chat: opens the assistant turn)
    reasoning: str = "none"  # a reasoning mode's name (workbench.reasoning.registry)
    cot_trigger: str = "Let's think step by step."  # Zero-shot-CoT trigger (Kojima et al.)
    answer_format: str = "free"  # an AnswerFormat value; picks extraction rules and the answer trigger
    answer_trigger: str | None = None  # Zero-shot-CoT answer step; None = Kojima et al.'s for answer_format
    labels: tuple[str, ...] = ()  # label set for answer_format "label"; letters for "choice"
    chat_layout: str = "turns"  # one of CHAT_LAYOUTS; chat models only
    system: str = ""  # system message; chat models only ("" = the chat template's default)
    stop: tuple[str, ...] = ()  # stop strings added to the decoding settings (e.g. "\n\n" after a few-shot answer)
    syntax: str = "braces"  # one of SYNTAXES: how the templates above write their placeholders
    messages: tuple[tuple[str, str], ...] = ()  # a chat prompt's own (role, template) messages, rendered for chat
    extract: str = "lenient"  # the answer-extraction style (workbench.answers.EXTRACTION_STYLES: lenient, kojima)
    # models in place of the query (promptfoo's JSON chat prompts; "jinja" syntax); () = the query template
    as_chat: bool | None = None  # None: as the model (its chat template if it has one); False: raw text, never a
    # chat template (promptfoo's completion providers); True: chat messages (its chat providers)

    def __post_init__(self) -> None:
        for name in ("labels", "stop"):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, Sequence):
                raise PromptError(f"{name} must be a list of text, got {value!r}.")
            object.__setattr__(self, name, tuple(value))
        object.__setattr__(self, "messages", _messages(self.messages))
        _validate(self)


    @property
    def mode(self) -> ReasoningMode:
        """The registry's object for ``reasoning``: it owns the demonstration template, stages and decoding."""
        return reasoning_mode(self.reasoning)

    @property
    def demo_template_in_use(self) -> str:
        """The template demonstrations are written with in this reasoning mode (CoT modes: the CoT one)."""
        return self.mode.demo_template(self)

    @property
    def final_answer_trigger(self) -> str:
        """The answer trigger of Zero-shot-CoT's second call."""
        return ZERO_SHOT_COT.final_trigger(self)

    def replace(self, **changes: Any) -> PromptSpec:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain YAML/JSON-able dict (prompt-set files)."""
        d = dataclasses.asdict(self)
        d["labels"], d["stop"] = list(self.labels), list(self.stop)
        if d["syntax"] == "braces":  # the default is left out: files and stored runs from before it stay equal
            del d["syntax"]
        if d["extract"] == "lenient":  # the default is left out, as syntax
            del d["extract"]
        if d["as_chat"] is None:  # the default is left out, as syntax
            del d["as_chat"]
        if self.messages:
            d["messages"] = [{"role": role, "content": content} for role, content in self.messages]
        else:  # left out when empty, as syntax: stored runs and files stay equal
            del d["messages"]
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PromptSpec:
        """Inverse of :meth:`to_dict`; missing keys take their defaults, unknown keys are a PromptError."""
        if not isinstance(data, Mapping):
            raise PromptError(f"A prompt spec must be a mapping of settings, got {type(data).__name__}.")
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise PromptError(f"Unknown prompt spec key(s): {', '.join(unknown)}; known: {', '.join(known)}.")
        return cls(**data)


#: The roles a chat prompt's message may have.
MESSAGE_ROLES = ("system", "user", "assistant")


def _messages(value: Any) -> tuple[tuple[str, str], ...]:
    """``messages`` as (role, template) pairs, from pairs or ``{role, content}`` mappings; else a PromptError."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise PromptError(f"messages must be a list of {{role, content}}, got {str(value)[:60]!r}.")
    out = []
    for m in value:
        pair = (m.get("role"), m.get("content")) if isinstance(m, Mapping) and set(m) == {"role", "content"} else m
        if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2 \
                or pair[0] not in MESSAGE_ROLES or not isinstance(pair[1], str):
            raise PromptError(f"each message must be {{role, content}} with role {', '.join(MESSAGE_ROLES)} and text "
                              f"content, got {str(m)[:60]!r}.")
        out.append((pair[0], pair[1]))
    return tuple(out)


def _validate(s: PromptSpec) -> None:
    for f in dataclasses.fields(s):
        value = getattr(s, f.name)
        if f.name in ("messages", "as_chat"):  # as_chat: checked below
            continue
        if f.name in ("labels", "stop"):
            if not all(isinstance(v, str) and v for v in value):
                raise PromptError(f"Every entry of {f.name} must be non-empty text, got {list(value)!r}.")
        elif not (isinstance(value, str) or (value is None and f.name == "answer_trigger")):
            raise PromptError(f"{f.name} must be text, got {value!r}.")
    mode = reasoning_mode(s.reasoning)  # an unknown mode is one line naming the registry's modes
    if s.as_chat not in (None, True, False):
        raise PromptError(f"as_chat must be true, false or unset, got {s.as_chat!r}.")
    if s.syntax not in SYNTAXES:
        raise PromptError(f"Unknown template syntax {s.syntax!r}; choose one of {', '.join(SYNTAXES)}.")
    if s.extract not in EXTRACTION_STYLES:
        raise PromptError(f"Unknown extraction style {s.extract!r}; choose one of {', '.join(EXTRACTION_STYLES)}.")
    if s.chat_layout not in CHAT_LAYOUTS:
        raise PromptError(f"Unknown chat layout {s.chat_layout!r}; choose one of {', '.join(CHAT_LAYOUTS)}.")
    try:
        fmt = AnswerFormat(s.answer_format)
    except ValueError:
        formats = ", ".join(f.value for f in AnswerFormat)
        raise PromptError(f"Unknown answer format {s.answer_format!r}; choose one of {formats}.") from None
    if fmt is AnswerFormat.LABEL and not s.labels:
        raise PromptError("The answer format 'label' needs labels; list them (e.g. positive, negative).")
    if s.syntax == "jinja":  # any variable an item gives; parsed now so a broken template fails on creation
        for name, what in (("demo_template", "demonstration template"),
                           ("cot_demo_template", "CoT demonstration template"), ("query_template", "query template")):
            variables(getattr(s, name), what)
        for role, content in s.messages:
            variables(content, f"{role} message")
    elif s.messages:
        raise PromptError("Chat messages are {{ var }} templates; give them with syntax 'jinja'.")
    else:
        check(s.demo_template, DEMO_FIELDS, "demonstration template")
        check(s.cot_demo_template, DEMO_FIELDS, "CoT demonstration template")
        names = check(s.query_template, QUERY_FIELDS, "query template")
        if "input" not in names and "question" not in names:
            raise PromptError("The query template must contain {input}, where the question goes.")
    mode.check(s)


def next_question_stops(spec: PromptSpec) -> tuple[str, ...]:
    """Where a chain of thought must stop: where the model would begin the next question (a new line
    starting like the query template, "\nQ:"); nothing earlier, so reasoning may contain blank lines.

    >>> next_question_stops(PromptSpec())
    ('\\nQ:',)
    """
    head = spec.query_template.split("{", 1)[0].strip()
    return ("\n" + head,) if head else ()
