"""Text and JSON assertions with promptfoo's names and meaning: ``equals``, ``contains``, ``icontains``,
``contains-any``, ``contains-all``, ``icontains-any``, ``icontains-all``, ``starts-with``, ``regex``, ``is-json``
and ``contains-json`` (each ``not-`` too: :meth:`~workbench.judging.base.Check.run` inverts them). Each is a
:class:`~workbench.judging.base.JudgeKind` and one :func:`register_judge` line; the comment above each class names
the promptfoo file whose rule it follows (``src/assertions/*.ts``).

Values are untrusted: a regex or a JSON Schema is compiled when the check is built (a bad one is one line before
any model call); a regex matches with a time limit and JSON is read with :mod:`workbench.safeload`'s bounds, so a
catastrophic pattern or a JSON bomb is that item's error, not a hang.

    >>> from workbench.data import Example
    >>> from workbench.judging.base import Case
    >>> from workbench.judging.registry import build_check
    >>> item = Example("1", "q", "a")
    >>> build_check("icontains: PARIS").run(Case(output="paris, France", item=item)).passed
    True
    >>> build_check({"type": "contains-all", "value": "Paris, France"}).run(Case("Paris is in France", item)).passed
    True
    >>> build_check("is-json").run(Case(output='{"city": "Paris"}', item=item)).reason
    'the output is JSON'
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import regex

from workbench.errors import ConfigError, DataError
from workbench.judging.base import MAX_CHECKED_CHARS, Case, CheckError, Finding, JudgeKind
from workbench.judging.patterns import TIME_LIMIT_S, bounded_search, bounded_validator, refuse_unbounded
from workbench.judging.patterns import quoted as _quoted
from workbench.judging.registry import register_judge
from workbench.safeload import Bounds, check_tree, load_document, too_deep, value_error

#: Bounds on JSON read from an output: deeper, longer or bigger is that item's error (a JSON bomb), not a hang.
OUTPUT_JSON = Bounds(max_depth=100, max_string=MAX_CHECKED_CHARS, max_items=10_000, max_int=None)
#: Bounds on a JSON Schema written as text in a file or a CSV cell.
SCHEMA_JSON = Bounds(max_depth=32, max_string=20_000, max_items=1_000)


# ---- values as promptfoo reads them -------------------------------------------------------------------------

def no_file(value: Any) -> None:
    """promptfoo reads ``file://`` values from disk (and runs .js/.py ones); the workbench reads neither."""
    if isinstance(value, str) and value.strip().startswith("file://"):
        raise ConfigError(f"{value.strip()[:80]!r}: values are not read from files (file://); write the value "
                          "inline.")


def js_string(value: Any) -> str:
    """A scalar as JavaScript's ``String(value)`` writes it (promptfoo compares such text).

    >>> js_string(42), js_string(4.0), js_string(0.5), js_string(True)
    ('42', '4', '0.5', 'true')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


def text_value(value: Any, *, numbers: bool = True) -> str:
    """A value that must be one text (``numbers``: a number is its text, as promptfoo's ``String(value)``)."""
    no_file(value)
    if isinstance(value, str):
        return value
    if numbers and isinstance(value, int | float) and not isinstance(value, bool):
        return js_string(value)
    wanted = "text or a number" if numbers else "text"
    raise ConfigError(f"the value must be {wanted}, not {type(value).__name__}.")


def comma_list(text: str) -> list[str]:
    """promptfoo's ``parseCommaSeparatedValues``: fields split at commas and trimmed, empty ones skipped; a field
    in double quotes keeps its commas (``\\"`` or ``""`` is a quote inside it).

    >>> comma_list('Paris, "Rome, Italy" ,, London')
    ['Paris', 'Rome, Italy', 'London']
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and (text[i].isspace() or text[i] == ","):
            i += 1
        if i >= n:
            break
        if text[i] != '"':
            j = text.find(",", i)
            j = n if j == -1 else j
            out.append(text[i:j].strip())
            i = j
            continue
        field, i, closed = [], i + 1, False
        while i < n:
            if text[i] == "\\" and i + 1 < n and text[i + 1] in '"\\':
                field.append(text[i + 1])
                i += 2
            elif text[i] == '"' and i + 1 < n and text[i + 1] == '"':
                field.append('"')
                i += 2
            elif text[i] == '"':
                i, closed = i + 1, True
                break
            else:
                field.append(text[i])
                i += 1
        if not closed:
            raise ConfigError(f"the list {text[:60]!r} has a quoted field that never ends.")
        while i < n and text[i].isspace():
            i += 1
        if i < n and text[i] != ",":
            raise ConfigError(f"the list {text[:60]!r} needs a comma after a quoted field.")
        out.append("".join(field))
    return out


def text_list(value: Any) -> tuple[str, ...]:
    """A list value: a YAML/JSON list of texts (or numbers), or one text of comma-separated fields."""
    no_file(value)
    if isinstance(value, str):
        items = comma_list(value)
    elif isinstance(value, list | tuple):
        bad = next((v for v in value if isinstance(v, dict | list | tuple) or v is None), "")
        if bad != "":
            raise ConfigError(f"every entry of the list must be text or a number, not {type(bad).__name__}.")
        items = [js_string(v) for v in value]
    else:
        raise ConfigError(f"the value must be a list or comma-separated text, not {type(value).__name__}.")
    if not items:
        raise ConfigError("the list has no entries.")
    return tuple(items)


# ---- text kinds ----------------------------------------------------------------------------------------------

# promptfoo src/assertions/equals.ts: text is compared exactly (no trimming, case matters); an object or list
# value is compared with the output read as JSON (deep, strict equality; output that is not JSON is not equal).
@dataclass(frozen=True)
class Equals(JudgeKind):
    """The output is the value (text), or is JSON equal to it (an object or list value)."""

    def prepare(self, value, threshold, options):
        if isinstance(value, dict | list):
            return ("json", value)
        return ("text", text_value(value))

    def evaluate(self, params, case: Case, threshold, tools) -> Finding:
        how, expected = params
        if how == "text":
            ok = case.output == expected
            return Finding(ok, float(ok), "the output equals the value" if ok else "the output differs from the value")
        try:
            data = output_json(case.output)
        except json.JSONDecodeError:
            return Finding(False, 0.0, "the output is not JSON, so it cannot equal the value")
        ok = strict_equal(data, expected)
        return Finding(ok, float(ok), "the output is JSON equal to the value" if ok else
                       "the output is JSON, but not equal to the value")

    def shown(self, value):
        return super().shown(json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value)


def strict_equal(a: Any, b: Any) -> bool:
    """JSON values equal as JavaScript's ``isDeepStrictEqual`` says: ``true`` is not ``1``; ``1`` is ``1.0``.

    >>> strict_equal({"a": [1, True]}, {"a": [1.0, True]}), strict_equal([1], [True])
    (True, False)
    """
    def number(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool)

    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if isinstance(x, dict) and isinstance(y, dict) and x.keys() == y.keys():
            stack.extend((x[k], y[k]) for k in x)
        elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
            stack.extend(zip(x, y, strict=True))
        elif not (x == y and (type(x) is type(y) or (number(x) and number(y)))):
            return False
    return True


# promptfoo src/assertions/contains.ts (handleContains, handleIContains): a text or number value; icontains
# lower-cases both sides (JavaScript's toLowerCase, Python's lower).
@dataclass(frozen=True)
class Contains(JudgeKind):
    """The output contains the value (``ignore_case``: both lower-cased)."""

    ignore_case: bool = False  # icontains

    def prepare(self, value, threshold, options):
        return text_value(value)

    def evaluate(self, params, case: Case, threshold, tools) -> Finding:
        out, val = (case.output.lower(), params.lower()) if self.ignore_case else (case.output, params)
        ok = val in out
        return Finding(ok, float(ok), f"{'contains' if ok else 'does not contain'} {_quoted(params)}")


# promptfoo src/assertions/contains.ts (handleContainsAny/All, handleIContainsAny/All) and
# src/util/parseCommaSeparatedValues.ts: a list, or text split at commas (quotes keep commas).
@dataclass(frozen=True)
class ContainsList(JudgeKind):
    """The output contains any (``any_``) or all of the values (``ignore_case``: lower-cased)."""

    any_: bool = True  # contains-any (False: contains-all)
    ignore_case: bool = False  # icontains-any / icontains-all

    def prepare(self, value, threshold, options):
        return text_list(value)

    def evaluate(self, params, case: Case, threshold, tools) -> Finding:
        out = case.output.lower() if self.ignore_case else case.output
        found = [v for v in params if (v.lower() if self.ignore_case else v) in out]
        if self.any_:
            ok = bool(found)
            reason = f"contains {_quoted(found[0])}" if ok else f"contains none of {len(params)} values"
        else:
            missing = [v for v in params if v not in found]
            ok = not missing
            reason = f"contains all {len(params)} values" if ok else \
                f"misses {len(missing)} of {len(params)}: {_quoted(', '.join(missing))}"
        return Finding(ok, float(ok), reason)

    def shown(self, value):
        return super().shown(", ".join(map(js_string, value)) if isinstance(value, list | tuple) else value)


# promptfoo src/assertions/startsWith.ts: the output starts with the value (exactly, no trimming).
@dataclass(frozen=True)
class StartsWith(JudgeKind):
    """The output starts with the value."""

    def prepare(self, value, threshold, options):
        return text_value(value)

    def evaluate(self, params, case: Case, threshold, tools) -> Finding:
        ok = case.output.startswith(params)
        return Finding(ok, float(ok), f"{'starts' if ok else 'does not start'} with {_quoted(params)}")


# promptfoo src/assertions/regex.ts: new RegExp(value).test(output), i.e. a search anywhere, no flags.
@dataclass(frozen=True)
class Regex(JudgeKind):
    """The regular expression matches somewhere in the output (compiled when built; matched with a time limit)."""

    def prepare(self, value, threshold, options):
        pattern = text_value(value, numbers=False)
        try:
            return regex.compile(pattern)
        except (regex.error, OverflowError, RecursionError) as err:
            raise ConfigError(f"the regex {_quoted(pattern)} does not compile: {err}.") from None

    def evaluate(self, params, case: Case, threshold, tools) -> Finding:
        found = bounded_search(params, case.output)
        shown = _quoted(params.pattern)
        return Finding(found is not None, float(found is not None),
                       f"matches {shown} at {found.start()}" if found else f"does not match {shown}")


# ---- JSON kinds ----------------------------------------------------------------------------------------------

def _not_json(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


#: The output's JSON read as JavaScript's JSON.parse reads it (promptfoo's rule): NaN and Infinity are not JSON,
#: and a repeated key keeps its last value. (safeload.parse_json refuses repeated keys: it reads files a person
#: wrote, where a repeated key is a mistake; here it is the model's output, judged as promptfoo judges it.)
_DECODER = json.JSONDecoder(parse_constant=_not_json)
_WHERE = "the output's JSON"


def _bounded_json(read: Callable[[], Any]) -> Any:
    """``read()`` (a JSON decode) within :data:`OUTPUT_JSON`: a JSON bomb is :class:`CheckError`;
    ``json.JSONDecodeError`` (not JSON) passes through."""
    try:
        got = read()
        check_tree(got[0] if isinstance(got, tuple) else got, _WHERE, OUTPUT_JSON, holder="a checked output")
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise CheckError(str(too_deep(_WHERE, OUTPUT_JSON.max_depth))) from None
    except DataError as err:
        deep = "(limit max_depth)" in str(err)  # its path would be a hundred [0]s: say it in one short line
        raise CheckError(str(too_deep(_WHERE, OUTPUT_JSON.max_depth)) if deep else str(err)) from None
    except ValueError as err:  # an integer of thousands of digits
        raise CheckError(str(value_error(_WHERE, err))) from None
    return got


def output_json(text: str) -> Any:
    """The whole output read as JSON (``json.JSONDecodeError`` when it is not), within :data:`OUTPUT_JSON`;
    a JSON bomb (too deep, too big, a number of thousands of digits) is :class:`CheckError`.

    >>> output_json(' {"a": 1, "a": 2} ')
    {'a': 2}
    """
    return _bounded_json(lambda: _DECODER.decode(text))


def json_objects(text: str) -> list[dict]:
    """Every JSON object inside ``text`` (promptfoo's ``extractJsonObjects``: from each ``{``, the object that
    starts there, then on after its end), bounded like :func:`output_json` and by TIME_LIMIT_S in all.

    >>> json_objects('The answer: {"city": "Paris"} and {"n": [1, 2]}, not {this}.')
    [{'city': 'Paris'}, {'n': [1, 2]}]
    """
    deadline = time.monotonic() + TIME_LIMIT_S
    found: list[dict] = []
    start = _OBJECT_START.search(text)
    while start is not None:
        if time.monotonic() > deadline:
            raise CheckError(f"looking for JSON in this output took over {TIME_LIMIT_S:g} s; the output is too "
                             "tangled to search.")
        got = _object_at(text, start.start())
        start = _OBJECT_START.search(text, start.start() + 1 if got is None else got[1])
        if got is not None:
            found.append(got[0])
    return found


#: Where a JSON object can start: a brace, then a key's quote or the closing brace (``{x`` cannot).
_OBJECT_START = regex.compile(r'\{[ \t\n\r]*["}]')


#: Characters first tried from each ``{``: a failed parse costs O(its position) (json works out the error's line
#: and column), so failures are first found in a window and the whole rest is read only when the window's end
#: may be why.
_WINDOW = 4096


def _object_at(text: str, i: int) -> tuple[dict, int] | None:
    """(the JSON object that starts at ``text[i]``, where it ends), or None."""
    if len(text) - i > _WINDOW:
        window = text[i:i + _WINDOW]
        try:
            obj, end = _bounded_json(lambda: _DECODER.raw_decode(window))
            return obj, i + end
        except json.JSONDecodeError as err:  # failed before the window's end: the rest cannot mend it
            if err.pos < len(window) - 16 and not err.msg.startswith("Unterminated string"):
                return None
    try:
        return _bounded_json(lambda: _DECODER.raw_decode(text, i))
    except json.JSONDecodeError:
        return None


def json_schema(value: Any) -> Any:
    """A JSON Schema value (an object, a boolean, or YAML/JSON text of one) checked as a schema and compiled to a
    validator whose ``pattern`` keywords match with a time limit; an invalid one is one ConfigError line."""
    import jsonschema
    from jsonschema.validators import validator_for

    no_file(value)
    schema = value
    if isinstance(value, str):
        try:
            schema = load_document(value, "the JSON Schema", fmt="yaml", bounds=SCHEMA_JSON, what="JSON Schemas",
                                   max_bytes=100_000)
        except DataError as err:
            raise ConfigError(str(err)) from None
    if not isinstance(schema, dict | bool):
        raise ConfigError(f"the value must be a JSON Schema (an object), not {type(schema).__name__}.")
    base = validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        base.check_schema(schema)
    except jsonschema.SchemaError as err:
        where = "/".join(map(str, err.absolute_path))
        raise ConfigError(f"the JSON Schema is invalid{' at ' + where if where else ''}: "
                          f"{err.message.splitlines()[0][:200]}.") from None
    refuse_unbounded(schema)
    return bounded_validator(base)(schema)


def schema_problem(validator: Any, data: Any) -> str | None:
    """The first way ``data`` breaks the schema (None: it conforms); a schema that cannot be applied (a ``$ref``
    to elsewhere) is :class:`CheckError`."""
    try:
        err = next(iter(validator.iter_errors(data)), None)
    except CheckError:
        raise
    except Exception as err:  # jsonschema raises many types for a schema it cannot apply (unresolvable $ref)
        raise CheckError(f"the JSON Schema cannot be applied: {str(err).splitlines()[0][:200]}") from None
    if err is None:
        return None
    where = "/".join(map(str, err.absolute_path))
    return f"{err.message.splitlines()[0][:160]}{' at ' + where if where else ''}"


# promptfoo src/assertions/json.ts (handleIsJson): the whole output parses as JSON (any JSON value) and, with a
# schema as the value, conforms to it.
@dataclass(frozen=True)
class IsJson(JudgeKind):
    """The output is JSON (and conforms to the JSON Schema given as the value)."""

    value: str = "optional"  # a JSON Schema

    def prepare(self, value, threshold, options):
        return None if value is None or value == "" else json_schema(value)

    def evaluate(self, params, case: Case, threshold, tools) -> Finding:
        try:
            data = output_json(case.output)
        except json.JSONDecodeError as err:
            return Finding(False, 0.0, f"the output is not JSON ({err.msg} at line {err.lineno} column {err.colno})")
        problem = None if params is None else schema_problem(params, data)
        if problem:
            return Finding(False, 0.0, f"the output is JSON, but breaks the schema: {problem}")
        return Finding(True, 1.0, "the output is JSON" + ("" if params is None else " conforming to the schema"))

    def shown(self, value):
        return super().shown(json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value)


# promptfoo src/assertions/json.ts (handleContainsJson) and src/util/json.ts (extractJsonObjects): some JSON
# object inside the output (each `{` tried in turn) and, with a schema, some such object conforms to it.
@dataclass(frozen=True)
class ContainsJson(IsJson):
    """The output contains a JSON object (one that conforms to the JSON Schema given as the value)."""

    def evaluate(self, params, case: Case, threshold, tools) -> Finding:
        objects = json_objects(case.output)
        if not objects:
            return Finding(False, 0.0, "the output contains no JSON object")
        if params is None:
            return Finding(True, 1.0, f"the output contains {len(objects)} JSON object(s)")
        problem = None
        for obj in objects:
            problem = schema_problem(params, obj)
            if problem is None:
                return Finding(True, 1.0, "the output contains a JSON object conforming to the schema")
        return Finding(False, 0.0, f"no JSON object in the output conforms to the schema: {problem}")


register_judge(Equals("equals", "the output is exactly the value (an object or list value: equal as JSON)"))
register_judge(Contains("contains", "the output contains the value (case matters)"))
register_judge(Contains("icontains", "the output contains the value, ignoring case", ignore_case=True))
register_judge(ContainsList("contains-any", "the output contains at least one of the values"))
register_judge(ContainsList("contains-all", "the output contains every one of the values", any_=False))
register_judge(ContainsList("icontains-any", "the output contains at least one of the values, ignoring case",
                            ignore_case=True))
register_judge(ContainsList("icontains-all", "the output contains every one of the values, ignoring case",
                            any_=False, ignore_case=True))
register_judge(StartsWith("starts-with", "the output starts with the value"))
register_judge(Regex("regex", "the regular expression matches somewhere in the output"))
register_judge(IsJson("is-json", "the output is valid JSON (optionally conforming to a JSON Schema)"))
register_judge(ContainsJson("contains-json", "the output contains a JSON object (optionally conforming to a "
                                             "JSON Schema)"))
