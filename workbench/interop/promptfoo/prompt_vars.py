"""A test's vars as promptfoo 0.119 hands them to a text prompt (src/evaluatorHelpers.ts ``renderPrompt``), so
that the workbench renders an imported prompt byte for byte as promptfoo does:

1. one final ``\\n`` of each text var is dropped (``value.replace(/\\n$/, '')``);
2. ``resolveVariables``: up to 5 passes, each replacing a var's first ``{{ name }}`` by the var ``name`` (when
   it is set), with JavaScript's ``String.replace`` (``$&``, ``$$``, ... in the value are replacement patterns);
3. each text var is rendered as a Nunjucks template with the vars (undefined names render empty), after
   ``autoWrapRawIfPartialNunjucks`` (a var with an unclosed ``{{``/``{%``/``{#`` is taken literally).

Rendering goes through the one sandbox, :func:`workbench.sandbox.render_text`, with its bounds.

    >>> prompt_vars({"name": "Ada\\n", "greeting": "Hi {{ name | upper }}", "n": 3}, "test 1")
    {'name': 'Ada', 'greeting': 'Hi ADA', 'n': 3}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from workbench.errors import ConfigError, PromptError
from workbench.sandbox import render_text, variables

#: ``resolveVariables``' pattern: ``{{ name }}`` with a plain (JavaScript ``\\w``) name.
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
#: ``resolveVariables``' most passes.
RESOLVE_PASSES = 5
#: JavaScript's multiline ``$``: before any line terminator, or at the end.
_EOL = r"(?=[\n\r\u2028\u2029]|\Z)"
#: ``autoWrapRawIfPartialNunjucks``: an opening tag with no close before the line's end.
PARTIAL_TAG = re.compile(r"(\{%[^%]*" + _EOL + r"|\{\{[^}]*" + _EOL + r"|\{#[^#]*" + _EOL + ")")
_RAW, _ENDRAW = re.compile(r"\{%\s*raw\s*%\}"), re.compile(r"\{%\s*endraw\s*%\}")


def js_string(value: Any) -> str:
    """JavaScript's ``String(value)`` of a var's value.

    >>> js_string(True), js_string(2.0), js_string(0.5), js_string(None), js_string(["a", 1]), js_string({"k": 1})
    ('true', '2', '0.5', 'null', 'a,1', '[object Object]')
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return ",".join("" if v is None else js_string(v) for v in value)
    return "[object Object]"


class JSBool(int):
    """A boolean var that prints as JavaScript's ``true``/``false`` (and tests as the boolean it is)."""

    def __str__(self) -> str:
        return "true" if self else "false"

    __repr__ = __str__


class JSNumber(float):
    """A non-integer-typed number var that prints as JavaScript's ``String()`` (``2.0`` -> ``2``)."""

    def __str__(self) -> str:
        return js_string(float(self))


class JSList(list):
    """A list var that prints as JavaScript's ``String()`` (``1,2``), its items as JS values."""

    def __str__(self) -> str:
        return js_string(list(self))


class JSObject(dict):
    """An object var that prints as JavaScript's ``String()`` (``[object Object]``), its values as JS values."""

    def __str__(self) -> str:
        return "[object Object]"


def js_value(value: Any) -> Any:
    """``value`` as it behaves in promptfoo's Nunjucks: printed with JavaScript's ``String()`` (the one conversion
    for prompts and assertions alike), a null printed empty, filters and tests working on the value itself.

    >>> [str(js_value(v)) for v in (True, 2.0, 2.5, [1, True], {"a": 1}, None, 3, "x")]
    ['true', '2', '2.5', '1,true', '[object Object]', '', '3', 'x']
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return JSBool(value)
    if isinstance(value, float):
        return JSNumber(value)
    if isinstance(value, list):
        return JSList(js_value(v) for v in value)
    if isinstance(value, dict):
        return JSObject({k: js_value(v) for k, v in value.items()})
    return value


def js_replace_first(text: str, placeholder: str, replacement: str) -> str:
    """``text.replace(placeholder, replacement)`` as JavaScript does it for a string pattern: the first
    occurrence, and ``$$``, ``$&``, ``$```, ``$'`` in ``replacement`` are patterns (no groups: ``$1`` stays).

    >>> js_replace_first("a {{x}} b", "{{x}}", "$& and $$ and $1")
    'a {{x}} and $ and $1 b'
    """
    at = text.find(placeholder)
    if at < 0:
        return text
    before, after = text[:at], text[at + len(placeholder):]
    patterns = {"$": "$", "&": placeholder, "`": before, "'": after}
    out, i = [], 0
    while i < len(replacement):
        if replacement[i] == "$" and i + 1 < len(replacement) and replacement[i + 1] in patterns:
            out.append(patterns[replacement[i + 1]])
            i += 2
        else:
            out.append(replacement[i])
            i += 1
    return before + "".join(out) + after


def resolve_variables(values: dict[str, Any]) -> dict[str, Any]:
    """promptfoo's ``resolveVariables``: each pass replaces each text var's first ``{{ name }}`` placeholder by
    the var ``name`` when it is set (a placeholder of an unset name stays, and blocks that var's later ones).

    >>> resolve_variables({"a": "{{b}}-{{c}}", "b": "B", "c": "C"})
    {'a': 'B-C', 'b': 'B', 'c': 'C'}
    """
    values = dict(values)
    for _ in range(RESOLVE_PASSES):
        resolved = True
        for key in list(values):
            value = values[key]
            match = PLACEHOLDER.search(value) if isinstance(value, str) else None
            if match and match.group(1) in values:
                values[key] = js_replace_first(value, match.group(0), js_string(values[match.group(1)]))
                resolved = False
        if resolved:
            break
    return values


def auto_wrap_raw(text: str) -> str:
    """promptfoo's ``autoWrapRawIfPartialNunjucks``: text with an unclosed tag (and no raw block) is wrapped in
    ``{% raw %}``, so it renders as it is.

    >>> auto_wrap_raw("JSON: {{"), auto_wrap_raw("{{ x }}")
    ('{% raw %}JSON: {{{% endraw %}', '{{ x }}')
    """
    wrapped = _RAW.search(text) is not None and _ENDRAW.search(text) is not None
    return "{% raw %}" + text + "{% endraw %}" if PARTIAL_TAG.search(text) and not wrapped else text


def prompt_vars(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The vars a text prompt is rendered with (steps 1-3 above), each a :func:`js_value`; a var whose template
    fails is one ConfigError line naming ``where`` and the var.

    >>> prompt_vars({"flag": True, "n": 2.0, "nums": [1, 2], "none": None, "t": "{{flag}} {{n}} {{nums}}"}, "t")
    {'flag': true, 'n': 2.0, 'nums': [1, 2], 'none': '', 't': 'true 2 1,2'}
    """
    stripped = {k: v[:-1] if isinstance(v, str) and v.endswith("\n") else v for k, v in values.items()}
    resolved = resolve_variables(stripped)
    out: dict[str, Any] = {}
    for key, value in resolved.items():
        if not isinstance(value, str) or not any(s in value for s in ("{{", "{%", "{#")):
            out[key] = js_value(value)
            continue
        template = auto_wrap_raw(value)
        try:
            names = variables(template, f"var {key!r}")
            context = {**dict.fromkeys(names, ""), **{k: js_value(v) for k, v in resolved.items()}}
            out[key] = render_text(template, context, f"var {key!r}")
        except PromptError as err:
            raise ConfigError(f"{where}: var {key!r} is rendered as a template by promptfoo, and it fails: "
                              f"{str(err).splitlines()[0]}") from None
    return out
