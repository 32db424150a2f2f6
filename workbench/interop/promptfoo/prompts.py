"""promptfoo ``prompts`` -> labelled :class:`~workbench.prompts.spec.PromptSpec` s, as promptfoo's
src/prompts processors read them: inline text, ``file://x.txt`` (one prompt, or several split by a line
``---``, each trimmed), ``file://x.json`` / ``.yaml`` chat messages ``[{role, content}]``, ``{id, label}`` /
``{raw, label}`` objects and the ``{file://x.txt: label}`` map. Each prompt is a zero-shot ``{{ var }}`` spec
whose rendered text is exactly the prompt (no "Q:"/"A:", nothing added); code (``.js``, ``.py``, ``:fn``) and
globs are refused in one line.

    >>> [(p.label, p.spec.query_template) for p in read_prompts(["Say {{word}}", "Shout {{word | upper}}"], None)]
    [('Say {{word}}', 'Say {{word}}'), ('Shout {{word | upper}}', 'Shout {{word | upper}}')]
    >>> split_text("Hello {{x}}\\n---\\n  Bye {{x}}  \\n")
    ['Hello {{x}}', 'Bye {{x}}']
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError, DataError, PromptError
from workbench.interop.paths import inside, is_file_ref, read_inside
from workbench.interop.promptfoo.prompt_vars import auto_wrap_raw
from workbench.interop.promptfoo.schema import PromptObject, validated
from workbench.prompts.spec import PromptSpec
from workbench.safeload import load_document

#: promptfoo's PROMPT_DELIMITER: a line that is exactly this (trimmed) separates prompts in a text file.
DELIMITER = "---"
#: Text prompt files (promptfoo reads .txt and .j2 as prompt text).
TEXT_SUFFIXES = (".txt", ".j2", ".md")
#: Chat prompt files: a list of {role, content} messages.
CHAT_SUFFIXES = (".json", ".yaml", ".yml")
#: Files that are code in promptfoo (a function that builds the prompt): never run.
CODE_SUFFIXES = (".js", ".cjs", ".mjs", ".ts", ".py", ".sh", ".rb", ".go", ".exe", ".bat")
#: The longest short label made from a prompt's text.
LABEL_CHARS = 40


@dataclass(frozen=True)
class Prompt:
    """One prompt of a config."""

    label: str  # the name shown (promptfoo's ``label``, else a short form of the text or the file)
    spec: PromptSpec  # a zero-shot {{ var }} spec: the rendered text is exactly the prompt
    key: str = ""  # promptfoo's own label for it, which a provider's ``prompts`` names (src/prompts/processors)


def split_text(text: str) -> list[str]:
    """The prompts of a text file: split at lines that are ``---``, each trimmed, empty ones dropped."""
    prompts, buffer = [], []
    for line in re.split(r"\r?\n", text):
        if line.strip() == DELIMITER:
            prompts.append("\n".join(buffer).strip())
            buffer = []
        else:
            buffer.append(line)
    prompts.append("\n".join(buffer).strip())
    return [p for p in prompts if p]


def short_label(text: str) -> str:
    """A prompt's text on one line, cut to :data:`LABEL_CHARS`.

    >>> short_label("Translate to French:\\n{{ text }} and more words than fit in a label")
    'Translate to French: {{ text }} and mor…'
    """
    flat = " ".join(text.split())
    return flat if len(flat) <= LABEL_CHARS else flat[: LABEL_CHARS - 1].rstrip() + "…"


def spec_for(template: str, where: str, messages: Any = ()) -> PromptSpec:
    """The zero-shot ``{{ var }}`` spec of a prompt (a broken template: one line naming ``where``); a text prompt
    with an unclosed tag is literal text, as promptfoo renders it (``autoWrapRawIfPartialNunjucks``)."""
    try:
        return PromptSpec(syntax="jinja", query_template=template if messages else auto_wrap_raw(template), instruction="", separator="",
                          answer_prefix="", answer_format="free", messages=messages)
    except PromptError as err:
        raise ConfigError(f"{where}: {err}") from None


def _messages(text: str, ref: str, suffix: str) -> list[Any]:
    """The messages of a chat prompt file (a list; PromptSpec checks each is {role, content})."""
    try:
        data = load_document(text, ref, fmt="json" if suffix == ".json" else "yaml", what="prompt files")
    except DataError as err:
        raise ConfigError(str(err)) from None
    if not isinstance(data, list) or not data:
        raise ConfigError(f"prompt {ref}: a chat prompt file must be a list of messages {{role, content}}.")
    return data


def _from_file(ref: str, label: str | None, folder: Path | None) -> list[Prompt]:
    name = ref[len("file://"):]
    if any(c in name for c in "*?[") or ":" in name:
        what = "a glob" if any(c in name for c in "*?[") else "a function reference (code)"
        raise ConfigError(f"prompt {ref} is {what}; name one prompt file (.txt, or .json chat messages).")
    suffix = Path(name).suffix.lower()
    if folder is None:
        raise ConfigError(f"prompt {ref}: file references need a config file's folder.")
    inside(ref, folder, "prompt")  # outside the config's folder: refused before anything else is said of it
    if suffix in CODE_SUFFIXES:
        raise ConfigError(f"prompt {ref} is code; the workbench never runs code from config files (write the prompt "
                          "in a .txt file, or chat messages in .json).")
    if suffix not in TEXT_SUFFIXES + CHAT_SUFFIXES:
        raise ConfigError(f"prompt {ref}: unknown prompt file type {suffix or '(none)'!r}; use "
                          f"{', '.join(TEXT_SUFFIXES + CHAT_SUFFIXES)}.")
    text = read_inside(ref, folder, "prompt", max_bytes=1_000_000)
    base = label or Path(name).name
    if suffix in CHAT_SUFFIXES:
        messages = _messages(text, ref, suffix)
        joined = "\n".join(str(m.get("content")) if isinstance(m, Mapping) else str(m) for m in messages)
        return [Prompt(base, spec_for(joined, f"prompt {ref}", messages), label or f"{name}: {text}")]
    texts = split_text(text)
    if not texts:
        raise ConfigError(f"prompt {ref} holds no prompt text.")
    keys = [f"{label}: {name}: {t}" if label else f"{name}: {t}" for t in texts]  # promptfoo's text file labels
    if len(texts) == 1:
        return [Prompt(base, spec_for(texts[0], f"prompt {ref}"), keys[0])]
    return [Prompt(f"{base} #{n}", spec_for(t, f"prompt {ref} #{n}"), keys[n - 1])
            for n, t in enumerate(texts, start=1)]


def _one(entry: Any, folder: Path | None, label: str | None = None) -> list[Prompt]:
    if isinstance(entry, Mapping):
        obj = validated(PromptObject, entry, "prompts")
        if (obj.id is None) == (obj.raw is None):
            raise ConfigError("prompts: a prompt object needs id (a file://) or raw (the text), one of them.")
        return _one(obj.id if obj.id is not None else obj.raw, folder, obj.label) if obj.raw is None else \
            [Prompt(obj.label or short_label(obj.raw), spec_for(obj.raw, "prompt"), obj.label or obj.raw)]
    if not isinstance(entry, str) or not entry.strip():
        raise ConfigError(f"prompts: each prompt must be text, a file:// reference or {{id, label}}, not "
                          f"{str(entry)[:60]!r}.")
    if is_file_ref(entry):
        return _from_file(entry.strip(), label, folder)
    return [Prompt(label or short_label(entry), spec_for(entry, f"prompt {short_label(entry)!r}"), label or entry)]


def read_prompts(value: Any, folder: Path | None) -> tuple[Prompt, ...]:
    """Every prompt of ``prompts`` (text, a list, or the ``{file: label}`` map), labels made unique."""
    if value is None:
        raise ConfigError("the config has no prompts; add prompts: with at least one prompt.")
    if isinstance(value, Mapping) and not ({"id", "raw"} & set(value)):
        entries = [(ref, lab) for ref, lab in value.items()]
        out = [p for ref, lab in entries for p in _one(ref, folder, lab if isinstance(lab, str) else None)]
    else:
        out = [p for entry in (value if isinstance(value, list) else [value]) for p in _one(entry, folder)]
    if not out:
        raise ConfigError("the config has no prompts; add prompts: with at least one prompt.")
    seen: dict[str, int] = {}
    unique = []
    for p in out:
        seen[p.label] = seen.get(p.label, 0) + 1
        unique.append(p if seen[p.label] == 1 else Prompt(f"{p.label} ({seen[p.label]})", p.spec, p.key))
    return tuple(unique)


def allowed(prompt: Prompt, listed: tuple[str, ...] | None) -> bool:
    """promptfoo's ``isAllowedPrompt`` (src/evaluator.ts): a provider that lists ``prompts`` runs a prompt whose
    label is listed, or starts with a listed name and ``:`` (a text file's prompts under their label).

    >>> p = Prompt("qa", spec_for("Q {{x}}", "p"), "qa: prompts.txt: Q {{x}}")
    >>> allowed(p, None), allowed(p, ("qa",)), allowed(p, ("qa: prompts.txt",)), allowed(p, ("q",))
    (True, True, True, False)
    """
    return listed is None or prompt.key in listed or any(prompt.key.startswith(f"{name}:") for name in listed)
