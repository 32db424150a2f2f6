"""Exact rendering: the text sent to the model, raw completion text or the model's own chat template.

:func:`render` gives the exact text sent to the model -- raw completion text for a base model,
the model's own chat template for a chat model -- with its parts labelled so a page can colour
them. The spec's reasoning mode (``spec.mode``) picks the demonstration template and the text the
answer starts with (Zero-shot-CoT's and Auto-CoT's trigger)::

    >>> from workbench.prompts.spec import PromptSpec
    >>> render(PromptSpec(reasoning="none"), [], "1 + 1").text
    'Q: 1 + 1\\nA:'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from workbench.data import Example
from workbench.errors import PromptError
from workbench.prompts.spec import DEMO_FIELDS, QUERY_FIELDS, PromptSpec
from workbench.sandbox import render_text, variables
from workbench.templates import check, fill

#: Kinds of the labelled spans of a rendered prompt; "template" is text the chat template added.
PART_KINDS = ("system", "instruction", "demo", "separator", "query", "prefix", "trigger", "template")


@dataclass(frozen=True)
class RenderedPrompt:
    """The exact text sent to the model, and how it was made."""

    text: str  # exactly what the model receives (the chat template applied for chat models)
    parts: tuple[tuple[str, str], ...]  # (kind, text) spans in order; their texts join to ``text``
    messages: tuple[dict[str, str], ...] | None  # chat messages, None for raw completion text
    demos: tuple[Example, ...]  # the demonstrations in the prompt, in order
    tokens: int | None = None  # token count under the model's tokenizer; None without a backend
    dropped: int = 0  # demonstrations dropped to fit the context window


class ChatFormatter(Protocol):
    """What rendering needs from a model: its chat template and its tokenizer."""

    is_chat: bool

    def format_chat(self, messages: Sequence[dict]) -> str: ...

    def count_tokens(self, text: str) -> int: ...


def choices_text(choices: Mapping[str, str] | None) -> str | None:
    """Kojima et al.'s layout: "(A) first (B) second"."""
    if not choices:
        return None
    return " ".join(f"({k}) {v}" for k, v in choices.items())


def _query_values(query: str | Example) -> dict[str, str | None]:
    if isinstance(query, Example):
        text, choices, own = query.input, choices_text(query.choices), query.vars or {}
    else:
        text, choices, own = query, None, {}
    if not isinstance(text, str) or not text.strip():
        raise PromptError("The query is empty; type the input the model should answer.")
    return {"input": text, "question": text, "choices": choices, **own}


def _demo_values(ex: Example) -> dict[str, str | None]:
    return {"input": ex.input, "question": ex.input, "answer": ex.answer, "rationale": ex.rationale,
            "label": ex.label, "choices": choices_text(ex.choices), **(ex.vars or {})}


def _for_item(spec: PromptSpec, what: str, query: str | Example) -> str:
    """What a ``{{ var }}`` template is called in its errors: with the item it renders for (its id and input,
    which for a promptfoo test is its description or vars), so a var one test lacks names the test.

    >>> _for_item(PromptSpec(query_template="{{ x }}", syntax="jinja"), "query template", Example("test-2", "x=1", ""))
    'query template (item test-2: x=1)'
    """
    if spec.syntax != "jinja" or not isinstance(query, Example):
        return what
    text = " ".join(str(query.input).split())
    return f"{what} (item {query.id}: {text if len(text) <= 60 else text[:57] + '...'})"


def _fill(spec: PromptSpec, template: str, values: Mapping[str, object], allowed: Sequence[str], what: str) -> str:
    """A template filled in the spec's syntax: ``{name}`` (only ``allowed`` names) or sandboxed ``{{ var }}``
    (any variable the item gives; one without a value is an error)."""
    if spec.syntax == "jinja":
        return render_text(template, {k: v for k, v in values.items() if v is not None}, what)
    return fill(template, {k: values.get(k) for k in allowed}, allowed, what)  # type: ignore[misc]


def demo_text(spec: PromptSpec, ex: Example) -> str:
    """One demonstration written with the spec's template for its reasoning mode."""
    values = _demo_values(ex)
    template = spec.demo_template_in_use
    used = variables(template) if spec.syntax == "jinja" else check(template, DEMO_FIELDS)
    if spec.mode.rationale_demos and not (ex.rationale or "").strip() and "rationale" in used:
        raise PromptError(
            f"Demonstration {ex.id!r} has no rationale, which {spec.reasoning} needs; "
            "write one or set reasoning to none."
        )
    try:
        return _fill(spec, template, values, DEMO_FIELDS, "demonstration template")
    except PromptError as err:
        raise PromptError(f"Demonstration {ex.id!r}: {err}") from None


def _demo_turns(spec: PromptSpec, ex: Example) -> tuple[str, str]:
    """A demonstration split into its user turn (the query template) and assistant turn (the rest)."""
    full = demo_text(spec, ex)
    user = _fill(spec, spec.query_template, _demo_values(ex), DEMO_FIELDS, "query template")
    if not full.startswith(user):
        raise PromptError(
            "The 'turns' chat layout splits each demonstration into the query (user turn) and the rest "
            "(assistant turn); start the demonstration template with the query template, or use 'inline'."
        )
    return user, full[len(user):].lstrip()


def _spaced(before: str, text: str) -> str:
    """``text`` with a leading space unless ``before`` is empty or ends in whitespace (Kojima's "A: Let's")."""
    return text if not before or before[-1].isspace() else " " + text


def _answer_start(spec: PromptSpec, before: str) -> list[tuple[str, str]]:
    """The answer prefix and the reasoning mode's trigger (Zero-shot-CoT, Auto-CoT); placed after ``before``."""
    out: list[tuple[str, str]] = []
    if spec.answer_prefix:
        out.append(("prefix", spec.answer_prefix))
        before += spec.answer_prefix
    trigger = spec.mode.answer_trigger_text(spec)  # Auto-CoT's query ends "A: Let's think step by step."
    if trigger is not None:
        out.append(("trigger", _spaced(before, trigger)))
    return out


def _raw_parts(spec: PromptSpec, demos: Sequence[Example], query: str | Example) -> list[tuple[str, str]]:
    parts: list[tuple[str, str]] = []
    if spec.instruction:
        parts += [("instruction", spec.instruction), ("separator", spec.separator)]
    for ex in demos:
        parts += [("demo", demo_text(spec, ex)), ("separator", spec.separator)]
    parts.append(("query", _fill(spec, spec.query_template, _query_values(query), QUERY_FIELDS,
                                 _for_item(spec, "query template", query))))
    return parts + _answer_start(spec, "".join(t for _, t in parts))


def _chat_turns(
    spec: PromptSpec, demos: Sequence[Example], query: str | Example
) -> list[tuple[str, list[tuple[str, str]]]]:
    """(role, [(kind, text)]) for each message; a message's content is its texts joined."""
    turns: list[tuple[str, list[tuple[str, str]]]] = []
    if spec.system:
        turns.append(("system", [("system", spec.system)]))
    user: list[tuple[str, str]] = []
    if spec.instruction:
        user += [("instruction", spec.instruction), ("separator", spec.separator)]
    for ex in demos:
        if spec.chat_layout == "inline":
            user += [("demo", demo_text(spec, ex)), ("separator", spec.separator)]
        else:
            asked, answered = _demo_turns(spec, ex)
            turns += [("user", [*user, ("demo", asked)]), ("assistant", [("demo", answered)])]
            user = []
    user.append(("query", _fill(spec, spec.query_template, _query_values(query), QUERY_FIELDS,
                                _for_item(spec, "query template", query))))
    turns.append(("user", user))
    return turns


def _message_turns(spec: PromptSpec, demos: Sequence[Example], query: str | Example
                   ) -> list[tuple[str, list[tuple[str, str]]]]:
    """A chat prompt's own messages (``spec.messages``), each content rendered with the item's variables."""
    if demos:
        raise PromptError("A prompt written as chat messages takes no demonstrations; write them as messages.")
    values = _query_values(query)
    kinds = {"system": "system", "user": "query", "assistant": "demo"}
    return [(role, [(kinds[role], _fill(spec, content, values, QUERY_FIELDS,
                                                       _for_item(spec, f"{role} message", query)))])
            for role, content in spec.messages]


def _locate(text: str, segments: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Label spans of ``text``: each segment where it occurs in order, the gaps as "template"."""
    parts: list[tuple[str, str]] = []
    pos = 0
    for kind, seg in segments:
        i = text.find(seg, pos) if seg else -1
        if i < 0:
            continue  # the chat template rewrote it; its text stays in a "template" span
        if i > pos:
            parts.append(("template", text[pos:i]))
        parts.append((kind, seg))
        pos = i + len(seg)
    if pos < len(text):
        parts.append(("template", text[pos:]))
    return parts


def render(
    spec: PromptSpec,
    demos: Sequence[Example],
    query: str | Example,
    backend: ChatFormatter | None = None,
    as_chat: bool | None = None,
) -> RenderedPrompt:
    """The exact prompt for ``query`` after ``demos``.

    ``as_chat`` (default: the spec's ``as_chat``, else whether the backend is a chat model) renders chat messages
    through the backend's own chat template; otherwise raw completion text, which
    needs no backend. With a backend, ``tokens`` is the prompt's token count.
    """
    demos = tuple(demos)
    if as_chat is None:
        as_chat = spec.as_chat
    if as_chat is None:
        as_chat = bool(backend is not None and backend.is_chat)
    if spec.messages and not as_chat:
        raise PromptError("This prompt is chat messages, and the model has no chat template; run it on a chat "
                          "model, or write the prompt as text.")
    if not as_chat:
        parts = _raw_parts(spec, demos, query)
        text, messages = "".join(t for _, t in parts), None
    else:
        if backend is None:
            raise PromptError("Chat rendering needs a chat model's template; pick a chat model or render raw text.")
        turns = _message_turns(spec, demos, query) if spec.messages else _chat_turns(spec, demos, query)
        messages = tuple({"role": role, "content": "".join(t for _, t in segs)} for role, segs in turns)
        head = backend.format_chat(list(messages))
        tail = _answer_start(spec, head)
        text = head + "".join(t for _, t in tail)
        parts = _locate(head, [seg for _, segs in turns for seg in segs]) + tail
    parts = tuple((k, t) for k, t in parts if t)
    tokens = backend.count_tokens(text) if backend is not None else None
    return RenderedPrompt(text=text, parts=parts, messages=messages, demos=demos, tokens=tokens)
