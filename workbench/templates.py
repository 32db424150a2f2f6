"""Safe placeholder substitution for user-written prompt templates.

Templates come from users and from imported prompt-set files, so they are never
evaluated: no ``str.format`` (which reaches attributes and items, ``{0.__class__}``)
and no Jinja. The grammar is tiny:

* ``{name}`` -- a plain identifier, replaced by its value in one pass (values are
  never substituted again, so a value containing ``{answer}`` stays literal);
* ``{{`` and ``}}`` -- a literal ``{`` and ``}``;
* anything else inside braces (``{0}``, ``{input.__class__}``, ``{input[0]}``,
  ``{input!r}``, ``{input:>9}``) and a lone ``{`` or ``}`` is a :class:`PromptError`.

    >>> fill("Q: {input}\\nA: {{answer}}", {"input": "2+2?"})
    'Q: 2+2?\\nA: {answer}'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from workbench.errors import PromptError

# One token of a template: an escaped brace, a placeholder candidate, a lone brace, or plain text.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]|[^{}]+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _parse(template: str, what: str) -> list[tuple[bool, str]]:
    """Template -> [(is_placeholder, text)]; raises PromptError on anything but plain names."""
    if not isinstance(template, str):
        raise PromptError(f"The {what} must be text, got {type(template).__name__}.")
    out: list[tuple[bool, str]] = []
    for m in _TOKEN.finditer(template):
        tok = m[0]
        if tok == "{{":
            out.append((False, "{"))
        elif tok == "}}":
            out.append((False, "}"))
        elif tok in ("{", "}"):
            raise PromptError(
                f"The {what} has a lone {tok!r} at character {m.start() + 1}; "
                "write {{ or }} for a literal brace."
            )
        elif m[1] is not None:
            name = m[1]
            if not _NAME.match(name):
                raise PromptError(
                    f"The {what} has {tok!r}, which is not a plain placeholder name; "
                    "use {name} with letters, digits and _ only, or {{ }} for literal braces."
                )
            out.append((True, name))
        else:
            out.append((False, tok))
    return out


def placeholders(template: str, what: str = "template") -> tuple[str, ...]:
    """The placeholder names a template uses, in order of first use."""
    return tuple(dict.fromkeys(text for is_name, text in _parse(template, what) if is_name))


def check(template: str, allowed: Iterable[str], what: str = "template") -> tuple[str, ...]:
    """Validate a template against the allowed names; returns its placeholders."""
    names = placeholders(template, what)
    _check_names(names, tuple(allowed), what)
    return names


def _check_names(names: Iterable[str], allowed: tuple[str, ...], what: str) -> None:
    for name in names:
        if name not in allowed:
            raise PromptError(
                f"The {what} uses unknown placeholder {{{name}}}; allowed: "
                + ", ".join(f"{{{a}}}" for a in allowed) + "."
            )


def fill(
    template: str,
    values: Mapping[str, str | None],
    allowed: Iterable[str] | None = None,
    what: str = "template",
) -> str:
    """Substitute ``{name}`` placeholders with ``values`` (text only), in one pass.

    ``allowed`` (default: the keys of ``values``) lists the names a template may use.
    A value that is missing or None for a used placeholder is a PromptError naming it.
    """
    allowed = tuple(values) if allowed is None else tuple(allowed)
    parts = _parse(template, what)
    _check_names((text for is_name, text in parts if is_name), allowed, what)
    out = []
    for is_name, text in parts:
        if not is_name:
            out.append(text)
            continue
        value = values.get(text)
        if value is None:
            raise PromptError(f"The {what} uses {{{text}}} but no value was given for it.")
        if not isinstance(value, str):
            raise PromptError(f"The value of {{{text}}} must be text, got {type(value).__name__}.")
        out.append(value)
    return "".join(out)
