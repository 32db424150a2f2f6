"""Chat templates: render messages with a model's own template, in a sandbox.

Chat templates are Jinja programs shipped inside model files and servers' replies,
so they are untrusted. They are rendered as Hugging Face's ``apply_chat_template``
and llama-cpp-python render them -- in Jinja's immutable sandbox, with the loop
controls ``{% break %}`` and ``{% continue %}`` -- so a hostile template cannot reach
Python objects, and bounded: its source size, its run time (a trace on the template's own
frames stops a loop that runs too long, output or not), the size of its output,
and the size of what one operation can build (``'x' * n``, ``n ** m``, an integer
argument, a ``namespace`` value). Every way a template can fail (a Jinja error, an
``{% include %}`` without a loader, ``{{ 1/0 }}``, runaway recursion, a limit) is
one PromptError naming the template's source.
"""

from __future__ import annotations

import functools
import re
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from workbench.errors import PromptError

#: Roles a message may have.
ROLES = ("system", "user", "assistant")
#: Longest template source accepted (real chat templates are a few KB).
MAX_TEMPLATE_CHARS = 200_000
#: Longest rendered text (about 1M tokens, beyond any model's window).
MAX_OUTPUT_CHARS = 4_000_000
#: Seconds a template may run (real ones take milliseconds).
MAX_RENDER_S = 3.0
#: Largest integer argument one call or filter may get (a width, a count).
MAX_INT_ARG = 1_000_000
#: Largest integer one ``*`` or ``**`` may build, in bits.
MAX_INT_BITS = 4096
#: A format width or precision of this many digits or more is refused.
FORMAT_DIGITS = re.compile(r"\d{7,}")


class _TemplateLimit(Exception):
    """A bound was reached; the message says which."""


class _Refused(Exception):
    """The template's own ``raise_exception(message)``."""


def _check_int(value: object) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT_ARG:
        raise _TemplateLimit(f"an integer argument above {MAX_INT_ARG:,}")


def _check_format(value: object) -> None:
    if isinstance(value, str) and FORMAT_DIGITS.search(value):
        raise _TemplateLimit("a format width of 7 or more digits")


def _bounded_filter(fn):
    """``fn`` with its integer and format arguments checked first (keeps Jinja's pass_* marker)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for value in (*args, *kwargs.values()):
            _check_int(value)
            _check_format(value)
        return fn(*args, **kwargs)

    return wrapper


def _environment():
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from jinja2.utils import Namespace

    class BoundedNamespace(Namespace):
        """``namespace()`` whose values cannot grow past the output bound (a loop carries them)."""

        def __setitem__(self, name, value):
            if isinstance(value, (str, list, tuple)) and len(value) > MAX_OUTPUT_CHARS:
                raise _TemplateLimit(f"a namespace value over {MAX_OUTPUT_CHARS:,} items")
            super().__setitem__(name, value)

    class BoundedSandbox(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**", "%"})

        def call_binop(self, context, operator, left, right):
            numbers = all(isinstance(v, int) and not isinstance(v, bool) for v in (left, right))
            if operator == "**" and numbers and right > 0 and abs(left).bit_length() * right > MAX_INT_BITS:
                raise _TemplateLimit(f"a power over {MAX_INT_BITS} bits")
            if operator == "*" and numbers and abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
                raise _TemplateLimit(f"a product over {MAX_INT_BITS} bits")
            if operator == "*" and not numbers:
                seq, n = (left, right) if isinstance(right, int) else (right, left)
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_OUTPUT_CHARS:
                    raise _TemplateLimit(f"a repeated sequence over {MAX_OUTPUT_CHARS:,} items")
            if operator == "%":
                _check_format(left)
                for value in right if isinstance(right, tuple) else (right,):
                    _check_int(value)
            return super().call_binop(context, operator, left, right)

        def call(__self, __context, __obj, *args, **kwargs):
            for value in (*args, *kwargs.values()):
                _check_int(value)
            return super().call(__context, __obj, *args, **kwargs)

        def wrap_str_format(self, value):
            if getattr(value, "__name__", "") in ("format", "format_map"):
                _check_format(getattr(value, "__self__", None))
            return super().wrap_str_format(value)

    def raise_exception(message: str):
        raise _Refused(message)

    # {% break %} and {% continue %}: Hugging Face's apply_chat_template and llama-cpp-python enable them too.
    env = BoundedSandbox(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters = {name: _bounded_filter(fn) for name, fn in env.filters.items()}
    env.globals["namespace"] = BoundedNamespace
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env


@lru_cache(maxsize=16)
def _compile(template: str):
    if len(template) > MAX_TEMPLATE_CHARS:
        raise _TemplateLimit(f"a source of {len(template):,} characters (the limit is {MAX_TEMPLATE_CHARS:,})")
    return _environment().from_string(template)


def _render_bounded(compiled, context: dict) -> str:
    """Render with the run time and output size bounded (see the module docstring)."""
    deadline = time.monotonic() + MAX_RENDER_S
    code = compiled.root_render_func.__code__.co_filename  # "<template>": the template's own frames

    def on_line(frame, event, arg):
        if time.monotonic() > deadline:
            raise _TemplateLimit(f"a run time over {MAX_RENDER_S:g} s")
        return on_line

    def on_call(frame, event, arg):
        return on_line if frame.f_code.co_filename == code else None

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        parts, size = [], 0
        for piece in compiled.generate(**context):
            size += len(piece)
            if size > MAX_OUTPUT_CHARS:
                raise _TemplateLimit(f"an output over {MAX_OUTPUT_CHARS:,} characters")
            if time.monotonic() > deadline:
                raise _TemplateLimit(f"a run time over {MAX_RENDER_S:g} s")
            parts.append(piece)
        return "".join(parts)
    finally:
        sys.settrace(previous)


def _reason(err: BaseException) -> str:
    from jinja2 import TemplateSyntaxError
    from jinja2.exceptions import SecurityError

    if isinstance(err, _TemplateLimit):
        return f"it reached a limit: {err}"
    if isinstance(err, SecurityError):
        return f"it tried an unsafe operation: {err}"
    if isinstance(err, TemplateSyntaxError):
        return f"it does not parse: {err.message} (line {err.lineno})"
    if isinstance(err, SyntaxError):  # Python refused the code Jinja made of it ({% break %} outside a loop)
        return f"it does not parse: {err.msg}"
    if isinstance(err, RecursionError):
        return "it recursed too deeply"
    if isinstance(err, MemoryError):
        return "it ran out of memory"
    return f"{err or 'no message'} ({type(err).__name__})"


def render_chat_template(
    template: str,
    messages: Sequence[dict],
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_generation_prompt: bool = True,
    source: str = "the model",
) -> str:
    """The exact text a chat model receives for ``messages``.

    ``source`` names where the template came from (a GGUF file, a model folder's
    ``tokenizer_config.json``, a server's ``/props``); every failure is one
    PromptError naming it.
    """
    clean = []
    for m in messages:
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise PromptError(f"Message role {role!r} is not one of {', '.join(ROLES)}.")
        if not isinstance(content, str):
            raise PromptError(f"Message content must be text (role {role}).")
        clean.append({"role": role, "content": content})
    context = {"messages": clean, "bos_token": bos_token, "eos_token": eos_token,
               "add_generation_prompt": add_generation_prompt}
    try:
        return _render_bounded(_compile(template), context)
    except _Refused as err:
        raise PromptError(f"The chat template of {source} refused the messages: {err}") from None
    except Exception as err:  # any failure of untrusted code is the template's, not the workbench's
        raise PromptError(
            f"The chat template of {source} failed: {_reason(err)}; use another model or template."
        ) from None
