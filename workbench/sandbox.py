"""The Jinja sandbox: every template a user, a file, a model or a server gives is rendered here.

Two kinds of untrusted template meet it: a model's **chat template** (a Jinja program inside a GGUF
file or a server's reply, rendered as Hugging Face's ``apply_chat_template`` does: blocks trimmed, the
loop controls ``{% break %}`` and ``{% continue %}``) and a **prompt template** a user wrote with
``{{ variables }}`` (promptfoo's Nunjucks prompts, lm-evaluation-harness's ``doc_to_text``: blocks kept
as written, an unknown variable an error). Both run in Jinja's immutable sandbox, so a template cannot
reach Python objects (``{{ ''.__class__ }}`` is refused), and bounded: its source size, its run time (a
trace on the template's own frames stops a loop that runs too long, output or not), the size of its
output, and what one operation can build (``'x' * n``, ``n ** m``, an integer argument, a ``namespace``
value, and every operation whose result can outgrow its inputs -- ``~``, ``+``, ``replace``, ``join``, ``sum``,
``format``/``%`` fields, paddings, ``indent``, ``wordwrap``, ``tojson`` -- sized before Python builds it, so one C
call cannot outrun the time and memory bounds; filters and calls also check the deadline). Every way a template
can fail is one PromptError line.

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
import threading
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


#: The deadline of the render running on this thread (filters and calls check it between C calls).
_CLOCK = threading.local()
#: The string methods and filters whose result can outgrow their inputs, each sized before it runs.
_GROWING = frozenset({"replace", "join", "center", "ljust", "rjust", "zfill", "expandtabs", "format",
                      "str.format", "str.format_map", "indent", "wordwrap", "sum", "tojson", "dump"})


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


def _tick() -> None:
    if time.monotonic() > getattr(_CLOCK, "deadline", float("inf")):
        raise TemplateLimit(f"a run time over {MAX_RENDER_S:g} s")


def _size(value: object) -> int:
    """Characters and items ``value`` holds, nested ones counted (stops once past the output bound; a number
    counts as its list's item).

    >>> _size(["ab", ("c", "def")])  # 2 items + 2 + (2 items + 1 + 3)
    10
    """
    total, stack = 0, [value]
    while stack and total <= MAX_OUTPUT_CHARS:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, (list, tuple, set, frozenset, dict)):
            total += len(item)
            if total <= MAX_OUTPUT_CHARS:
                stack.extend(item.items() if isinstance(item, dict) else item)
    return total


def _grow(size: int) -> None:
    if size > MAX_OUTPUT_CHARS:
        raise TemplateLimit(f"a value over {MAX_OUTPUT_CHARS:,} characters")


def _bounded(value):
    _grow(_size(value))
    return value


def _items(values) -> list | tuple | str | Mapping:
    """``values`` as a sequence, a generator drawn one bounded item at a time."""
    if isinstance(values, (list, tuple, str, Mapping)):
        return values
    out, size = [], 0
    for item in values:
        _tick()
        size += _size(item) + 1
        _grow(size)
        out.append(item)
    return out


def _widest(text: str, args) -> int:
    """The widest width or precision a format string or its integer arguments can ask for."""
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    numbers += [abs(a) for a in args if isinstance(a, int) and not isinstance(a, bool)]
    return max(numbers, default=0)


def _format_size(text: str, args, fields: int) -> int:
    """An upper bound on a ``%`` or ``str.format`` result: every field at its widest, holding its biggest value."""
    biggest = max((_size(a) for a in args), default=0)
    return len(text) + fields * (_widest(text, args) + biggest)


def _presize(name: str, args: tuple, kwargs: dict) -> None:
    """Refuse a growing operation (``name`` in _GROWING) whose result would pass the output bound, before it runs:
    ``args[0]`` is the text or value it works on (a str method's own string)."""
    if not args:
        return
    value, rest, extra = args[0], args[1:], tuple(kwargs.values())
    text = value if isinstance(value, str) else ""
    if name == "replace" and len(rest) >= 2:
        old, new = str(rest[0]), str(rest[1])
        text = str(value)
        hits = len(text) + 1 if not old else text.count(old)
        count = rest[2] if len(rest) > 2 else kwargs.get("count")
        if isinstance(count, int) and count >= 0:
            hits = min(hits, count)
        _grow(len(text) + hits * max(len(new) - len(old), 0))
    elif name in ("join", "sum"):
        sep = rest[0] if rest and isinstance(rest[0], str) else ""
        items = value if name == "sum" or isinstance(value, (list, tuple)) else ()
        _grow(sum(_size(item) + len(sep) for item in items) + _size(kwargs.get("start", "")))
    elif name in ("center", "ljust", "rjust", "zfill") and rest and isinstance(rest[0], int):
        _grow(max(len(text), rest[0]))
    elif name == "expandtabs":
        width = (rest + extra + (8,))[0]
        _grow(len(text) + text.count("\t") * (width if isinstance(width, int) else 8))
    elif name == "format":  # the filter and the % operator: printf style
        values = rest[0] if len(rest) == 1 and isinstance(rest[0], tuple) else (*rest, *extra)
        _grow(_format_size(text, values, text.count("%")))
    elif name in ("str.format", "str.format_map"):
        values = (*rest[0].values(),) if name == "str.format_map" and rest and isinstance(rest[0], Mapping) else ()
        _grow(_format_size(text, (*rest, *extra, *values), text.count("{")))
    elif name == "indent":
        width = (*rest, kwargs.get("width", 4))[0]
        width = len(str(width)) if not isinstance(width, int) else width
        text = str(value)
        _grow(len(text) + (text.count("\n") + 1) * max(width, 0))
    elif name == "wordwrap":
        wrap = kwargs.get("wrapstring") or (rest[2] if len(rest) > 2 else None) or "\n"
        text = str(value)
        _grow(len(text) + (len(text) + 1) * len(str(wrap)))
    elif name in ("tojson", "dump"):
        indent = (rest + extra + (0,))[0]
        _grow(_size(value) * (6 + (indent if isinstance(indent, int) else 0)))


def _bounded_filter(fn, name: str = ""):
    """``fn`` with its integer and format arguments checked first, a growing filter's result sized before it
    runs and every result after (keeps Jinja's pass_* marker)."""
    from jinja2.utils import _PassArg

    skip = 1 if _PassArg.from_obj(fn) is not None else 0

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        _tick()
        for value in (*args, *kwargs.values()):
            _check_int(value)
        if name == "format" and len(args) > skip:  # only the format string itself, not any text with digits
            _check_format(args[skip])
        if name in _GROWING:
            if name in ("join", "sum") and len(args) > skip:
                args = (*args[:skip], _items(args[skip]), *args[skip + 1:])
            _presize(name, args[skip:], kwargs)
        return _bounded(fn(*args, **kwargs))

    return wrapper


def _bounded_join(join):
    """Jinja's ``~`` (``str_join``/``markup_join`` in a compiled template), sized before it joins."""

    def wrapper(seq):
        seq = tuple(seq)
        _tick()
        _grow(sum(_size(item) for item in seq))
        return _bounded(join(seq))

    return wrapper


def _bounded_concat(pieces) -> str:
    """A captured block's text (``{% set x %}``, a macro's body), sized before it is joined."""
    pieces = list(pieces)
    _grow(sum(len(piece) for piece in pieces))
    return "".join(pieces)


def _environment(chat: bool):
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from jinja2.utils import Namespace

    class BoundedNamespace(Namespace):
        """``namespace()`` whose values cannot grow past the output bound (a loop carries them)."""

        def __setitem__(self, name, value):
            if _size(value) > MAX_OUTPUT_CHARS:
                raise TemplateLimit(f"a namespace value over {MAX_OUTPUT_CHARS:,} items")
            super().__setitem__(name, value)

    class BoundedSandbox(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**", "%", "+"})
        concat = staticmethod(_bounded_concat)

        def call_binop(self, context, operator, left, right):
            _tick()
            if operator == "+" and all(isinstance(v, (str, list, tuple)) for v in (left, right)):
                _grow(_size(left) + _size(right))
            numbers = all(isinstance(v, int) and not isinstance(v, bool) for v in (left, right))
            if operator == "**" and numbers and right > 0 and abs(left).bit_length() * right > MAX_INT_BITS:
                raise TemplateLimit(f"a power over {MAX_INT_BITS} bits")
            if operator == "*" and numbers and abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
                raise TemplateLimit(f"a product over {MAX_INT_BITS} bits")
            if operator == "*" and not numbers:
                seq, n = (left, right) if isinstance(right, int) else (right, left)
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and _size(seq) * n > MAX_OUTPUT_CHARS:
                    raise TemplateLimit(f"a repeated sequence over {MAX_OUTPUT_CHARS:,} items")
            if operator == "%":
                _check_format(left)
                for value in right if isinstance(right, tuple) else (right,):
                    _check_int(value)
                if isinstance(left, str):
                    _presize("format", (left, right), {})
            return _bounded(super().call_binop(context, operator, left, right))

        def call(__self, __context, __obj, *args, **kwargs):
            _tick()
            for value in (*args, *kwargs.values()):
                _check_int(value)
            owner, name = getattr(__obj, "__self__", None), getattr(__obj, "__name__", "")
            if isinstance(owner, str) and name in ("join", "replace", "center", "ljust", "rjust", "zfill",
                                                   "expandtabs"):  # format: wrap_str_format
                if name == "join" and args:
                    args = (_items(args[0]), *args[1:])
                    _presize("join", (args[0], owner), {})
                else:
                    _presize(name, (owner, *args), kwargs)
            return _bounded(super().call(__context, __obj, *args, **kwargs))

        def wrap_str_format(self, value):
            wrapped = super().wrap_str_format(value)
            if wrapped is None:
                return None
            owner, name = value.__self__, "str." + value.__name__
            _check_format(owner)

            def sized(*args, **kwargs):  # every field at its widest, before Python builds it
                _presize(name, (owner, *args), kwargs)
                return wrapped(*args, **kwargs)

            return sized

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
    env.filters = {name: _bounded_filter(fn, name) for name, fn in env.filters.items()}
    lipsum = env.globals["lipsum"]
    env.globals["lipsum"] = lambda n=5, html=True, min=20, max=100: (  # Jinja's own parameter names
        _grow(n * max * 12 if isinstance(n, int) and isinstance(max, int) else 0) or lipsum(n, html, min, max))
    env.globals["namespace"] = BoundedNamespace
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env


@lru_cache(maxsize=64)
def compile_template(template: str, chat: bool = True):
    if len(template) > MAX_TEMPLATE_CHARS:
        raise TemplateLimit(f"a source of {len(template):,} characters (the limit is {MAX_TEMPLATE_CHARS:,})")
    compiled = _environment(chat).from_string(template)
    names = compiled.root_render_func.__globals__  # the compiled module's names: `~` calls its str_join
    for join in ("str_join", "markup_join"):
        names[join] = _bounded_join(names[join])
    return compiled


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

    previous, outer = sys.gettrace(), getattr(_CLOCK, "deadline", None)
    sys.settrace(on_call)
    _CLOCK.deadline = deadline
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
        _CLOCK.deadline = outer if outer is not None else float("inf")


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
    return f"{str(err).rstrip('.') or 'no message'} ({type(err).__name__})"




def _prompt_error(err: BaseException, what: str) -> PromptError:
    from jinja2 import UndefinedError

    if isinstance(err, UndefinedError):
        return PromptError(f"The {what} uses a value it was not given: {err.message}.")
    reason = failure_reason(err).rstrip(".")  # "it reached a limit: ...", or Python's own words: "failed: ..."
    return PromptError(f"The {what} {reason[3:] if reason.startswith('it ') else 'failed: ' + reason}.")


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
