"""Regular expressions from untrusted values (a ``regex`` check, a JSON Schema's ``pattern``,
``patternProperties`` and ``additionalProperties``) matched with a time limit, so a catastrophic pattern is that
item's error, not a hang. jsonschema's own keywords call ``re.search`` with no limit; :func:`bounded_validator`
replaces every one that matches a pattern, and :func:`refuse_unbounded` refuses, when the check is built, the one
combination it cannot bound (``unevaluatedProperties`` with ``patternProperties``).

    >>> bounded_search("b+", "abbc").span()
    (1, 3)
    >>> refuse_unbounded({"patternProperties": {"^x": {}}, "unevaluatedProperties": False})
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: the JSON Schema uses unevaluatedProperties with patternProperties, which the workbench cannot match with a time limit; use additionalProperties instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import regex

from workbench.errors import ConfigError
from workbench.judging.base import CheckError

#: Seconds a check may spend on one output (a regex match, the search for JSON in it): past it, the item's
#: verdict is an error. A sane pattern takes microseconds; a catastrophic one never ends.
TIME_LIMIT_S = 1.0


def quoted(text: str) -> str:
    """``text`` quoted for a message, cut at 80 characters.

    >>> quoted("a" * 90)[-3:]
    "a…'"
    """
    return repr(text if len(text) <= 80 else text[:79] + "…")


def bounded_search(pattern: Any, text: str) -> Any:
    """``pattern.search(text)`` (a compiled ``regex`` pattern or pattern text), stopped after TIME_LIMIT_S."""
    try:
        if isinstance(pattern, str):
            return regex.search(pattern, text, timeout=TIME_LIMIT_S)
        return pattern.search(text, timeout=TIME_LIMIT_S)
    except TimeoutError:
        raise CheckError(f"the regex {quoted(getattr(pattern, 'pattern', pattern))} took over {TIME_LIMIT_S:g} s "
                         "on this output (catastrophic backtracking); simplify the pattern.") from None
    except regex.error as err:  # a pattern inside a JSON Schema, compiled on first use
        raise CheckError(f"the regex {quoted(str(pattern))} does not compile: {err}.") from None


def _keys(schema: Any) -> Iterator[str]:
    """Every mapping key anywhere in ``schema`` (a JSON value within SCHEMA_JSON's depth)."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield from map(str, node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def refuse_unbounded(schema: Any) -> None:
    """One ConfigError line for a schema whose patterns jsonschema would match with no time limit:
    ``unevaluatedProperties`` together with ``patternProperties`` (its evaluated-keys search calls ``re.search``).

    >>> refuse_unbounded({"patternProperties": {"^x": {}}, "additionalProperties": False})
    """
    keys = set(_keys(schema))
    if {"unevaluatedProperties", "patternProperties"} <= keys:
        raise ConfigError("the JSON Schema uses unevaluatedProperties with patternProperties, which the workbench "
                          "cannot match with a time limit; use additionalProperties instead.")


def _additional(instance: dict, schema: dict) -> list[str]:
    """The keys of ``instance`` that neither ``properties`` nor a ``patternProperties`` pattern covers
    (jsonschema's ``find_additional_properties``, its patterns matched by :func:`bounded_search`)."""
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    return [key for key in instance
            if key not in properties and not any(bounded_search(p, key) is not None for p in patterns)]


@cache
def bounded_validator(base: type) -> type:
    """``base`` (a jsonschema validator class) with ``pattern``, ``patternProperties`` and
    ``additionalProperties`` matched by :func:`bounded_search`."""
    from jsonschema import ValidationError, validators

    def pattern(validator, patrn, instance, schema):
        if validator.is_type(instance, "string") and bounded_search(patrn, instance) is None:
            yield ValidationError(f"{instance[:80]!r} does not match {patrn!r}")

    def pattern_properties(validator, patterns, instance, schema):
        if validator.is_type(instance, "object"):
            for patrn, subschema in patterns.items():
                for key, val in instance.items():
                    if bounded_search(patrn, key) is not None:
                        yield from validator.descend(val, subschema, path=key, schema_path=patrn)

    def additional_properties(validator, extra_schema, instance, schema):  # jsonschema's, its search bounded
        if not validator.is_type(instance, "object"):
            return
        extras = _additional(instance, schema)
        if validator.is_type(extra_schema, "object"):
            for extra in extras:
                yield from validator.descend(instance[extra], extra_schema, path=extra)
        elif not extra_schema and extras:
            shown = ", ".join(quoted(str(e)) for e in sorted(extras, key=str)[:5])
            if "patternProperties" in schema:
                patterns = ", ".join(quoted(p) for p in sorted(schema["patternProperties"])[:5])
                yield ValidationError(f"{shown} {'does' if len(extras) == 1 else 'do'} not match any of the "
                                      f"regexes: {patterns}")
            else:
                yield ValidationError(f"Additional properties are not allowed ({shown} "
                                      f"{'was' if len(extras) == 1 else 'were'} unexpected)")

    return validators.extend(base, {"pattern": pattern, "patternProperties": pattern_properties,
                                    "additionalProperties": additional_properties})
