"""The Jinja sandbox: every template a user, a file, a model or a server gives is rendered here.

Two kinds of untrusted template meet it: a model's **chat template** (a Jinja program inside a GGUF
file or a server's reply, rendered as Hugging Face's ``apply_chat_template`` does: blocks trimmed, the
loop controls ``{% break %}`` and ``{% continue %}``) and a **prompt template** a user wrote with
``{{ variables }}`` (promptfoo's Nunjucks prompts, lm-evaluation-harness's ``doc_to_text``: blocks kept
as written, an unknown variable an error). Both run in Jinja's immutable sandbox, so a template cannot
reach Python objects (``{{ ''.__class__ }}`` is refused), and bounded: its source size, its run time (a
trace on the template's own frames stops a loop that runs too long, output or not), the size of its
output, and what one operation can build (``'x' * n``, ``n ** m``, an integer argument, a ``namespace``
value). Every way a template can fail is one PromptError line.

    >>> render_text("Translate {{ text | upper }} to {{ lang }}.", {"text": "hi", "lang": "French"})
    'Translate HI to French.'
    >>> variables("{% for m in messages %}{{ m.content }}{% endfor %} {{ name }}")
    ('messages', 'name')
    >>> render_text("{{ ''.__class__ }}", {})
    Traceback (most recent call last):
    ...
    workbench.errors.PromptError: The template tried an unsafe operation: access to attribute '__class__' of 'str' object is unsafe.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import time
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from workbench.errors import PromptError

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


class TemplateLimit(Exception):
    """A bound was reached; the message says which."""


class Refused(Exception):
    """The template's own ``raise_exception(message)``."""


def _check_int(value: object) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT_ARG:
        raise TemplateLimit(f"an integer argument above {MAX_INT_ARG:,}")


def _check_format(value: object) -> None:
    if isinstance(value, str) and FORMAT_DIGITS.search(value):
        raise TemplateLimit("a format width of 7 or more digits")


def _bounded_filter(fn):
    """``fn`` with its integer and format arguments checked first (keeps Jinja's pass_* marker)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for value in (*args, *kwargs.values()):
            _check_int(value)
            _check_format(value)
        return fn(*args, **kwargs)

    return wrapper


def _environment(chat: bool):
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from jinja2.utils import Namespace

    class BoundedNamespace(Namespace):
        """``namespace()`` whose values cannot grow past the output bound (a loop carries them)."""

        def __setitem__(self, name, value):
            if isinstance(value, (str, list, tuple)) and len(value) > MAX_OUTPUT_CHARS:
                raise TemplateLimit(f"a namespace value over {MAX_OUTPUT_CHARS:,} items")
            super().__setitem__(name, value)

    class BoundedSandbox(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**", "%"})

        def call_binop(self, context, operator, left, right):
            numbers = all(isinstance(v, int) and not isinstance(v, bool) for v in (left, right))
            if operator == "**" and numbers and right > 0 and abs(left).bit_length() * right > MAX_INT_BITS:
                raise TemplateLimit(f"a power over {MAX_INT_BITS} bits")
            if operator == "*" and numbers and abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
                raise TemplateLimit(f"a product over {MAX_INT_BITS} bits")
            if operator == "*" and not numbers:
                seq, n = (left, right) if isinstance(right, int) else (right, left)
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_OUTPUT_CHARS:
                    raise TemplateLimit(f"a repeated sequence over {MAX_OUTPUT_CHARS:,} items")
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
        raise Refused(message)

    # {% break %} and {% continue %}: Hugging Face's apply_chat_template and llama-cpp-python enable them too.
    # A prompt template keeps its blocks' whitespace (Nunjucks and lm-eval's Jinja do) and refuses a variable
    # it was not given instead of rendering it empty.
    options = ({"trim_blocks": True, "lstrip_blocks": True} if chat
               else {"undefined": StrictUndefined, "keep_trailing_newline": True})
    env = BoundedSandbox(extensions=["jinja2.ext.loopcontrols"], **options)
    if not chat:  # Nunjucks' name for tojson, as JSON.stringify writes it (promptfoo prompts use it)
        env.filters["dump"] = lambda value, indent=None: json.dumps(value, ensure_ascii=False, indent=indent,
                                                                    separators=None if indent else (",", ":"))
    env.filters = {name: _bounded_filter(fn) for name, fn in env.filters.items()}
    env.globals["namespace"] = BoundedNamespace
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env


@lru_cache(maxsize=64)
def compile_template(template: str, chat: bool = True):
    if len(template) > MAX_TEMPLATE_CHARS:
        raise TemplateLimit(f"a source of {len(template):,} characters (the limit is {MAX_TEMPLATE_CHARS:,})")
    return _environment(chat).from_string(template)


def render_bounded(compiled, context: dict) -> str:
    """Render with the run time and output size bounded (see the module docstring)."""
    deadline = time.monotonic() + MAX_RENDER_S
    code = compiled.root_render_func.__code__.co_filename  # "<template>": the template's own frames

    def on_line(frame, event, arg):
        if time.monotonic() > deadline:
            raise TemplateLimit(f"a run time over {MAX_RENDER_S:g} s")
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
                raise TemplateLimit(f"an output over {MAX_OUTPUT_CHARS:,} characters")
            if time.monotonic() > deadline:
                raise TemplateLimit(f"a run time over {MAX_RENDER_S:g} s")
            parts.append(piece)
        return "".join(parts)
    finally:
        sys.settrace(previous)


def failure_reason(err: BaseException) -> str:
    from jinja2 import TemplateSyntaxError
    from jinja2.exceptions import SecurityError

    if isinstance(err, TemplateLimit):
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




def _prompt_error(err: BaseException, what: str) -> PromptError:
    from jinja2 import UndefinedError

    if isinstance(err, UndefinedError):
        return PromptError(f"The {what} uses a value it was not given: {err.message}.")
    reason = failure_reason(err).removeprefix("it ").rstrip(".")
    return PromptError(f"The {what} {reason}.")


def variables(template: str, what: str = "template") -> tuple[str, ...]:
    """The variables a prompt template reads from outside, sorted (a loop's own names are not among them);
    a template that does not parse is one PromptError line."""
    from jinja2 import meta

    if not isinstance(template, str):
        raise PromptError(f"The {what} must be text, got {type(template).__name__}.")
    try:
        compiled = compile_template(template, chat=False)
        return tuple(sorted(meta.find_undeclared_variables(compiled.environment.parse(template))))
    except Exception as err:
        raise _prompt_error(err, what) from None


def render_text(template: str, values: Mapping[str, Any], what: str = "template") -> str:
    """A prompt template rendered with ``values`` in the sandbox, bounded; every failure is one PromptError."""
    if not isinstance(template, str):
        raise PromptError(f"The {what} must be text, got {type(template).__name__}.")
    try:
        return render_bounded(compile_template(template, chat=False), dict(values))
    except Refused as err:
        raise PromptError(f"The {what} refused its values: {err}") from None
    except Exception as err:  # any failure of untrusted code is the template's, not the workbench's
        raise _prompt_error(err, what) from None
