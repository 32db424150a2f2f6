"""Bounded reading of untrusted JSON and YAML: the one implementation the file loaders share.

A hostile or broken file must end in a loaded value or one :class:`DataError` line, never
another exception and never unbounded work. :func:`parse_json` refuses repeated keys,
nesting too deep for the parser (``RecursionError``) and integers of thousands of digits
(``ValueError``); :func:`load_yaml` first walks the YAML event stream (no objects built) to
refuse tags (``!!python/...``), anchors and aliases ("billion laughs"), deep nesting and
repeated keys, then reads it with the safe loader; :func:`check_tree` then bounds depth, text length, collection sizes and
non-finite numbers of the parsed value without recursion, and refuses lone surrogates
(text that could not be encoded, stored or printed later) and whole numbers too long to print.
:func:`read_file` is the one way a file a user names is read: regular files only (a FIFO, a
device such as ``/dev/zero``, a socket or a folder, or a link to one, is one line, never opened
for a read that would block or never end), and a byte cap on the read itself (a ``/proc`` file
says it has size 0). :func:`load_document` puts these together for a YAML or JSON document.

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
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import DataError

# A lone UTF-16 surrogate: JSON lets "\\ud800" spell one; it cannot be encoded, stored or printed.
_SURROGATE = re.compile("[\ud800-\udfff]")


#: The most bytes :func:`read_file` reads when its caller names no smaller limit (a run export).
MAX_FILE_BYTES = 100_000_000
#: The most bytes of a YAML/JSON document a person writes: a prompt spec, a prompt set (1 MB holds ~1,000
#: long demonstrations; a classroom set is a few kB).
MAX_DOCUMENT_BYTES = 1_000_000
#: The most characters of a plain (unquoted) YAML scalar that reads as a number: YAML 1.1 reads
#: ``1:2:3:...`` as a base-60 integer in quadratic time, and no setting needs a longer number.
MAX_NUMBER_CHARS = 100
#: A plain YAML scalar that the safe loader may turn into an int or a float (sign, digits, base prefixes,
#: base-60 colons, exponents); longer than MAX_NUMBER_CHARS it is refused before it is built.
_NUMBERISH = re.compile(r"[-+]?\.?[0-9][0-9a-fA-FxXoObB_:.eE+-]*")


@dataclass(frozen=True)
class Bounds:
    """Bounds on a parsed value; a value beyond one is refused with a message naming the limit."""

    max_depth: int = 10  # nested lists/objects below the top level
    max_string: int = 20_000  # characters in any one text or key
    max_items: int = 1_000  # entries of any one list or object (unless ``collection_limit`` says otherwise)
    max_int: int | None = 2**63 - 1  # largest whole number (either sign); None: only what can be printed


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
_NUMBER_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("int", "float"))
_PYTHON_TAG = "tag:yaml.org,2002:python/"


def _tag_name(tag: str) -> str:
    """'tag:yaml.org,2002:binary' -> '!!binary' (as a user writes it); other tags as they are."""
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix):] if tag.startswith(prefix) else tag


def scan_yaml(text: str, source: str, max_depth: int = Bounds.max_depth, what: str = "these files",
              max_alias_nodes: int = 0) -> None:
    """Walk the YAML event stream (no objects built): refuse tags, aliases, deep nesting and repeated keys.

    ``what`` names the kind of file in messages ("prompt-set files"). ``max_alias_nodes`` > 0 allows anchors and
    aliases while the document, every alias expanded, stays within that many nodes (a "billion laughs" is
    refused from the sizes of its anchors, before anything is built).
    """
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    # One entry per open collection: [is_mapping, next node is a key, keys seen so far].
    stack: list[list[Any]] = []
    sizes: dict[str, int] = {}  # an anchor's expanded node count
    total = 0  # nodes so far, aliases expanded

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
        if max_alias_nodes > 0 and isinstance(event, yaml.AliasEvent | yaml.ScalarEvent | yaml.CollectionStartEvent):
            total += sizes.get(event.anchor, 1) if isinstance(event, yaml.AliasEvent) else 1
            if total > max_alias_nodes:
                raise DataError(f"{source} line {line}: with its aliases (*name) expanded the document has more "
                                f"than {max_alias_nodes:,} values; {what} are limited to that.")
            if isinstance(event, yaml.AliasEvent):
                node_done()
                continue
            if isinstance(event, yaml.ScalarEvent) and event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise DataError(f"{source} line {line}: YAML anchors and aliases (&name, *name) are not allowed in "
                            f"{what}; write the value out.")
        if isinstance(event, yaml.ScalarEvent):
            if len(event.value) > MAX_NUMBER_CHARS and (
                tag in _NUMBER_TAGS or (tag is None and event.implicit[0] and _NUMBERISH.fullmatch(event.value))
            ):
                raise DataError(f"{source} line {line}: a number of {len(event.value):,} characters; the limit is "
                                f"{MAX_NUMBER_CHARS} (quote it if it is text).")
            if stack and stack[-1][0] and stack[-1][1]:
                if event.value in stack[-1][2]:
                    raise DataError(f"{source} line {line}: the key {event.value!r} appears twice in one mapping; "
                                    "keep one (a reader would silently use only the last).")
                stack[-1][2].add(event.value)
            node_done()
        elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            stack.append([isinstance(event, yaml.MappingStartEvent), True, set(), event.anchor, total - 1])
            if len(stack) > max_depth:
                raise DataError(f"{source} line {line}: nested deeper than {max_depth} levels "
                                f"(limit max_depth); {what} are shallow.")
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            _, _, _, anchor, start = stack.pop()
            if anchor:
                sizes[anchor] = total - start
            node_done()


def load_yaml(text: str, source: str, max_depth: int = Bounds.max_depth, what: str = "these files",
              max_alias_nodes: int = 0) -> Any:
    """:func:`scan_yaml`, then the safe loader; every problem is one DataError line (follow with check_tree)."""
    import yaml

    try:
        scan_yaml(text, source, max_depth, what, max_alias_nodes)
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
        if isinstance(obj, int) and not isinstance(obj, bool):
            _check_int(obj, where, bounds.max_int)
            continue
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


def _check_int(value: int, where: str, max_int: int | None) -> None:
    """Refuse a whole number beyond ``max_int`` (either sign), or too long to print at all."""
    printable = sys.get_int_max_str_digits() or 1_000_000  # 0: no limit in this Python
    if value.bit_length() > printable * 3:  # (3 bits per digit: cheaper than counting the digits)
        raise DataError(f"{where}: a whole number of {value.bit_length():,} bits; write a sensible value.")
    if max_int is not None and abs(value) > max_int:
        raise DataError(f"{where}: a whole number beyond ±{max_int:,}; write a sensible value.")


def _check_encodable(text: str, where: str) -> None:
    found = _SURROGATE.search(text)
    if found:
        raise DataError(f"{where}: a lone surrogate \\u{ord(found.group()):04x} (half of a \\u escape pair); "
                        "write the character itself.")


#: What a path that is not a regular file is, as a message names it (by ``stat`` mode).
_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
          (stat.S_ISSOCK, "a socket"))
#: Opening a FIFO for reading waits for a writer; a terminal could become the controlling one.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)


def _check_kind(path: Path, mode: int, folder: str) -> None:
    if stat.S_ISDIR(mode):
        raise DataError(f"{path} is a folder" + (f"; {folder}" if folder else ""))
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise DataError(f"{path} is {kind}, not a file; save the data to a file and give its path.")


def read_file(
    source: str | os.PathLike,
    missing: str = "",
    folder: str = "",
    max_bytes: int = MAX_FILE_BYTES,
    too_big: Callable[[str, int | None], str] | None = None,
) -> bytes:
    """The bytes of a file a user named, read with a cap: the one reader of every file the workbench is given.

    One :class:`DataError` line when the path is missing (``missing`` says what to give instead), a folder
    (``folder``), not a regular file (a FIFO, a device such as ``/dev/zero``, a socket; a link is judged by
    what it points to), unreadable, or over ``max_bytes``: by its size before reading, and by the read itself
    (a ``/proc`` file says it has size 0). ``too_big(name, size)`` words that line; ``size`` is None when the
    file gave no size and the read went past the cap.

    >>> read_file("/no/such/file.yaml", missing="give a spec file")
    Traceback (most recent call last):
    ...
    workbench.errors.DataError: /no/such/file.yaml does not exist; give a spec file
    >>> read_file("/dev/zero")
    Traceback (most recent call last):
    ...
    workbench.errors.DataError: /dev/zero is a device, not a file; save the data to a file and give its path.
    """
    path = Path(source)

    def over(size: int | None) -> DataError:
        if too_big is not None:
            return DataError(too_big(path.name, size))
        shown = f"{size:,} bytes" if size is not None else "longer than it says"
        return DataError(f"{path.name} is {shown}, over the {max_bytes:,}-byte limit.")

    try:
        info = os.stat(path)  # refused before it is opened: opening a FIFO or a device can block or act
        _check_kind(path, info.st_mode, folder)
        if info.st_size > max_bytes:
            raise over(info.st_size)
        fd = os.open(path, _OPEN_FLAGS)
        with os.fdopen(fd, "rb") as fh:
            _check_kind(path, os.fstat(fh.fileno()).st_mode, folder)  # (swapped since the stat: judge again)
            data = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise DataError(f"{path} does not exist" + (f"; {missing}" if missing else "")) from None
    except IsADirectoryError:
        raise DataError(f"{path} is a folder" + (f"; {folder}" if folder else "")) from None
    except (OSError, ValueError) as err:  # ValueError: a NUL byte in the path
        raise DataError(f"cannot read {path}: {getattr(err, 'strerror', None) or err}") from None
    if len(data) > max_bytes:
        raise over(None)
    return data


def read_stream(stream: Any, source: str = "stdin", max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """At most ``max_bytes`` of a binary stream (``sys.stdin.buffer``): :func:`read_file`'s cap for a pipe
    ("-" on the command line); a longer stream is one :class:`DataError` line, read no further.

    >>> import io
    >>> read_stream(io.BytesIO(b"0123456789"), "stdin", max_bytes=4)
    Traceback (most recent call last):
    ...
    workbench.errors.DataError: stdin is longer than 4 bytes, the limit; save it to a smaller file.
    """
    try:
        data = stream.read(max_bytes + 1)
    except OSError as err:
        raise DataError(f"cannot read {source}: {err.strerror or err}") from None
    if len(data) > max_bytes:
        raise DataError(f"{source} is longer than {max_bytes:,} bytes, the limit; save it to a smaller file.")
    return data


def decode_text(data: bytes, source: str | os.PathLike) -> str:
    """UTF-8 text of a file's bytes (a leading byte-order mark dropped); anything else is one DataError line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"cannot read {source}: it is not UTF-8 text ({err.reason} at byte {err.start}).") from None


def read_text(source: str | os.PathLike, missing: str = "", folder: str = "", max_bytes: int = MAX_FILE_BYTES,
              too_big: Callable[[str, int | None], str] | None = None) -> str:
    """:func:`read_file` as UTF-8 text; a file that is not UTF-8 is one :class:`DataError` line."""
    return decode_text(read_file(source, missing, folder, max_bytes, too_big), source)


def load_document(
    text: str | bytes,
    source: str,
    fmt: str = "yaml",
    bounds: Bounds = Bounds(),  # frozen, so sharing the default is safe
    what: str = "these files",
    max_bytes: int = MAX_DOCUMENT_BYTES,
    collection_limit: CollectionLimit | None = None,
    holder: str = "a file",
    max_alias_nodes: int = 0,  # 0: anchors and aliases refused; N: allowed while the expanded tree has <= N nodes
) -> Any:
    r"""One YAML or JSON document a person wrote, parsed with every bound: its size, UTF-8, then
    :func:`load_yaml` (``fmt`` "yaml") or :func:`parse_json` ("json"), then :func:`check_tree`.

    >>> load_document("a: &x 1\nb: *x\n", "s.yaml", what="spec files")
    Traceback (most recent call last):
    ...
    workbench.errors.DataError: s.yaml line 1: YAML anchors and aliases (&name, *name) are not allowed in spec files; write the value out.
    >>> load_document("a: &x [1, 2]\nb: *x\n", "s.yaml", max_alias_nodes=100)
    {'a': [1, 2], 'b': [1, 2]}
    """
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise DataError(f"{source} is {size:,} bytes; {what} are limited to {max_bytes:,} bytes (max_bytes).")
    if isinstance(text, bytes):
        text = decode_text(text, source)
    text = text.removeprefix("\ufeff")
    if fmt == "json":
        try:
            data = parse_json(text, source, bounds.max_depth)
        except json.JSONDecodeError as err:
            raise DataError(f"{source} line {err.lineno}: not valid JSON ({err.msg}).") from None
    else:
        data = load_yaml(text, source, bounds.max_depth, what, max_alias_nodes)
    check_tree(data, source, bounds, collection_limit, holder)
    return data
