"""Bounded reading of untrusted JSON and YAML: the one implementation the file loaders share.

A hostile or broken file must end in a loaded value or one :class:`DataError` line, never
another exception and never unbounded work. :func:`parse_json` refuses repeated keys,
nesting too deep for the parser (``RecursionError``) and integers of thousands of digits
(``ValueError``); :func:`load_yaml` first walks the YAML event stream (no objects built) to
refuse tags (``!!python/...``), anchors and aliases ("billion laughs"), deep nesting and
repeated keys, then reads it with the safe loader; :func:`check_tree` then bounds depth, text length, collection sizes and
non-finite numbers of the parsed value without recursion, and refuses lone surrogates
(text that could not be encoded, stored or printed later).

    >>> check_tree(parse_json('{"a": [1]}', "f.json"), "f.json", Bounds(max_depth=1))
    Traceback (most recent call last):
    ...
    workbench.errors.DataError: f.json: a[0]: nested deeper than 1 levels (limit max_depth).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import DataError

# A lone UTF-16 surrogate: JSON lets "\\ud800" spell one; it cannot be encoded, stored or printed.
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Bounds:
    """Bounds on a parsed value; a value beyond one is refused with a message naming the limit."""

    max_depth: int = 10  # nested lists/objects below the top level
    max_string: int = 20_000  # characters in any one text or key
    max_items: int = 1_000  # entries of any one list or object (unless ``collection_limit`` says otherwise)


#: ``collection_limit(loc, obj)``: (bound, what the entries are, the limit's name) for one list or object.
CollectionLimit = Callable[[tuple[Any, ...], list | dict], tuple[int, str, str]]


def path(loc: Sequence[Any]) -> str:
    """('steps', 0, 'decoding', 'top_p') -> 'steps[0].decoding.top_p'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def unique_keys(source: str) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """A json ``object_pairs_hook`` refusing repeated keys (json would silently keep the last)."""
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise DataError(f"{source}: the key {key!r} appears twice in one object; keep one "
                                "(a reader would silently use only the last).")
            out[key] = value
        return out

    return hook


def too_deep(source: str, max_depth: int) -> DataError:
    return DataError(f"{source}: nested deeper than {max_depth} levels (limit max_depth).")


def value_error(source: str, err: ValueError) -> DataError:
    """The one line for a ValueError a parser raises on a value (an integer of more than 4,300 digits)."""
    if "digits" in str(err):
        return DataError(f"{source}: a number has thousands of digits; write a sensible value.")
    return DataError(f"{source}: a value cannot be read ({err}).")


def validation_error(source: str, err) -> DataError:
    """The one line for a Pydantic ``ValidationError`` of a file: its first problem, where it is."""
    e = err.errors()[0]
    where = ".".join(str(p) for p in e["loc"])
    if e["type"] == "extra_forbidden":
        return DataError(f"{source}: unknown key {where!r}; remove it or check its spelling.")
    return DataError(f"{source}: {where}: {e['msg']}.")


def parse_json(text: str, source: str, max_depth: int = Bounds.max_depth) -> Any:
    """``json.loads`` that raises DataError for repeated keys, deep nesting and huge integers.

    A syntax error is left as :class:`json.JSONDecodeError`: each caller words it with its own
    line and column convention.
    """
    try:
        return json.loads(text, object_pairs_hook=unique_keys(source))
    except RecursionError:
        raise too_deep(source, max_depth) from None
    except json.JSONDecodeError:
        raise
    except ValueError as err:
        raise value_error(source, err) from None


#: YAML tags a file may spell out explicitly (the core schema); any other tag is refused.
_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map"))
_PYTHON_TAG = "tag:yaml.org,2002:python/"


def _tag_name(tag: str) -> str:
    """'tag:yaml.org,2002:binary' -> '!!binary' (as a user writes it); other tags as they are."""
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix):] if tag.startswith(prefix) else tag


def scan_yaml(text: str, source: str, max_depth: int = Bounds.max_depth, what: str = "these files") -> None:
    """Walk the YAML event stream (no objects built): refuse tags, aliases, deep nesting and repeated keys.

    ``what`` names the kind of file in messages ("prompt-set files").
    """
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    # One entry per open collection: [is_mapping, next node is a key, keys seen so far].
    stack: list[list[Any]] = []

    def node_done() -> None:
        if stack and stack[-1][0]:
            stack[-1][1] = not stack[-1][1]

    for event in yaml.parse(text, Loader=loader):
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        tag = getattr(event, "tag", None)
        if tag is not None and tag not in _PLAIN_TAGS and not (
            isinstance(event, yaml.ScalarEvent | yaml.SequenceStartEvent | yaml.MappingStartEvent)
            and tag in ("!", "?")
        ):
            if tag.startswith(_PYTHON_TAG) or tag.startswith("!!python"):
                raise DataError(f"{source} line {line}: the Python tag {_tag_name(tag)} is refused; "
                                f"{what} are plain data and never create Python objects.")
            raise DataError(f"{source} line {line}: the YAML tag {_tag_name(tag)!r} is not allowed; "
                            "write plain values.")
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise DataError(f"{source} line {line}: YAML anchors and aliases (&name, *name) are not allowed in "
                            f"{what}; write the value out.")
        if isinstance(event, yaml.ScalarEvent):
            if stack and stack[-1][0] and stack[-1][1]:
                if event.value in stack[-1][2]:
                    raise DataError(f"{source} line {line}: the key {event.value!r} appears twice in one mapping; "
                                    "keep one (a reader would silently use only the last).")
                stack[-1][2].add(event.value)
            node_done()
        elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            stack.append([isinstance(event, yaml.MappingStartEvent), True, set()])
            if len(stack) > max_depth:
                raise DataError(f"{source} line {line}: nested deeper than {max_depth} levels "
                                f"(limit max_depth); {what} are shallow.")
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            stack.pop()
            node_done()


def load_yaml(text: str, source: str, max_depth: int = Bounds.max_depth, what: str = "these files") -> Any:
    """:func:`scan_yaml`, then the safe loader; every problem is one DataError line (follow with check_tree)."""
    import yaml

    try:
        scan_yaml(text, source, max_depth, what)
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # safe loader only
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise DataError(f"{source}{where}: not valid YAML ({getattr(err, 'problem', None) or err}).") from None
    except ValueError as err:  # e.g. an integer of more than 4,300 digits, a date like 2024-13-45
        raise value_error(source, err) from None


def _default_limit(bounds: Bounds) -> CollectionLimit:
    return lambda loc, obj: (bounds.max_items, "items", "max_items")


def check_tree(data: Any, source: str, bounds: Bounds = Bounds(),  # frozen, so sharing the default is safe
               collection_limit: CollectionLimit | None = None, holder: str = "a file") -> None:
    """Bound depth, text lengths, collection sizes and finiteness of parsed data (iterative: no recursion)."""
    limit_of = collection_limit or _default_limit(bounds)
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack:
        obj, loc = stack.pop()
        where = f"{source}: {path(loc)}"
        if len(loc) > bounds.max_depth:
            raise DataError(f"{where}: nested deeper than {bounds.max_depth} levels (limit max_depth).")
        if isinstance(obj, str):
            if len(obj) > bounds.max_string:
                raise DataError(f"{where}: text of {len(obj):,} characters; the limit is {bounds.max_string:,} "
                                "(max_string).")
            _check_encodable(obj, where)
            continue
        if isinstance(obj, float) and not math.isfinite(obj):
            raise DataError(f"{where}: {obj} is not a finite number; write a plain number.")
        if not isinstance(obj, list | dict):
            continue
        bound, what, limit_name = limit_of(loc, obj)
        if len(obj) > bound:
            raise DataError(f"{where}: {len(obj):,} {what}; {holder} may hold at most {bound:,} "
                            f"(limit {limit_name}).")
        items = obj.items() if isinstance(obj, dict) else enumerate(obj)
        for k, v in items:
            if isinstance(k, str):
                if len(k) > bounds.max_string:
                    raise DataError(f"{where}: a key of {len(k):,} characters; the limit is {bounds.max_string:,}.")
                _check_encodable(k, where)
            stack.append((v, (*loc, k)))


def _check_encodable(text: str, where: str) -> None:
    found = _SURROGATE.search(text)
    if found:
        raise DataError(f"{where}: a lone surrogate \\u{ord(found.group()):04x} (half of a \\u escape pair); "
                        "write the character itself.")


def read_file(
    source: str | os.PathLike,
    missing: str = "",
    folder: str = "",
    max_bytes: int | None = None,
    too_big: Callable[[str, int], str] | None = None,
) -> bytes:
    """The bytes of a file a user named; one :class:`DataError` line when it is missing (``missing`` says what
    to give instead), a folder (``folder``), unreadable, or over ``max_bytes`` (checked before reading;
    ``too_big(name, size)`` words that line).

    >>> read_file("/no/such/file.yaml", missing="give a spec file")
    Traceback (most recent call last):
    ...
    workbench.errors.DataError: /no/such/file.yaml does not exist; give a spec file
    """
    path = Path(source)
    try:
        if max_bytes is not None:
            size = path.stat().st_size
            if size > max_bytes and not path.is_dir():
                raise DataError(too_big(path.name, size) if too_big is not None
                                else f"{path.name} is {size:,} bytes, over the {max_bytes:,}-byte limit.")
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path} does not exist" + (f"; {missing}" if missing else "")) from None
    except IsADirectoryError:
        raise DataError(f"{path} is a folder" + (f"; {folder}" if folder else "")) from None
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror or err}") from None


def read_text(source: str | os.PathLike, missing: str = "", folder: str = "") -> str:
    """:func:`read_file` as UTF-8 text; a file that is not UTF-8 is one :class:`DataError` line."""
    data = read_file(source, missing, folder)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"cannot read {source}: it is not UTF-8 text ({err.reason} at byte {err.start}).") from None

