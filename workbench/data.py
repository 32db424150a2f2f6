"""Pools of examples loaded from CSV, TSV, JSON, JSONL or Parquet, with a column and label mapping.

A *pool* is the list of labelled examples that demonstrations are chosen from
(and, for evaluation, the dataset a strategy is run on). Loading is all or
nothing: :func:`load_pool` returns a complete :class:`Pool` or raises one
:class:`~workbench.errors.DataError` whose one-line message names the file, the
line and the column to fix. Files are untrusted: rows are read with
:mod:`workbench.safeload` (bounded nesting, text length and numbers, no repeated keys), and
a row without an input or a gold answer is refused.

The shared schema is ``{"id", "question", "answer"}`` plus optional
``"rationale"``, ``"choices"`` (label -> text) and ``"label"``. Data as it comes maps onto it
with a :class:`ColumnMapping`: which column holds the input (or an input template joining
several columns, ``"{title}. {description}"``) and the answer, and a label map turning stored
values into label names (``1=world,2=sports``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from workbench.errors import ConfigError, DataError
from workbench.safeload import Bounds, check_tree, parse_json

#: Largest file :func:`load_pool` reads; bigger uploads are refused before parsing.
MAX_POOL_BYTES = 50_000_000
#: A Parquet file is compressed: its rows may take at most this many times the byte limit once read
#: (a small file of one repeated long text would otherwise expand to gigabytes).
PARQUET_EXPANSION = 4
#: Bounds on each row (and on a CSV cell's JSON ``choices``): rows nest a few levels (row -> choices -> text),
#: a text longer than 100,000 characters fits no context window, and no row has 1,000 columns.
#: Whole numbers are kept as text of any printable length (a gold answer may be 25! = 15511210043330985984000000).
ROW_BOUNDS = Bounds(max_depth=10, max_string=100_000, max_items=1_000, max_int=None)
#: A pool without a label column is treated as classification (label = answer) when it
#: has at most this many distinct answers ...
MAX_LABEL_CLASSES = 20
#: ... and each answer is shared by at least this many examples on average.
MIN_EXAMPLES_PER_LABEL = 2

FORMATS = ("csv", "tsv", "json", "jsonl", "parquet")
_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
               ".parquet": "parquet", ".pq": "parquet"}
#: A ``{column}`` placeholder of an input template; ``{{`` and ``}}`` are literal braces.
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
#: A stored number that is a whole float ("1.0", as Parquet and pandas write integer labels with gaps).
_WHOLE_FLOAT = re.compile(r"^(-?\d+)\.0+$")
_SAMPLES_DIR = Path(__file__).resolve().parent / "samples"


@dataclass(frozen=True)
class Example:
    """One row of a pool: the input, its answer, and optional rationale / label / choices."""

    id: str
    input: str
    answer: str
    rationale: str | None = None  # chain-of-thought text shown before the answer, if any
    label: str | None = None  # class for label-balanced selection; the answer for classification pools
    choices: dict[str, str] | None = field(default=None, hash=False)  # multiple choice: label -> text

    def to_dict(self) -> dict[str, Any]:
        """The example in the shared schema (``input`` is written as ``question``)."""
        row: dict[str, Any] = {"id": self.id, "question": self.input, "answer": self.answer}
        for name in ("rationale", "label", "choices"):
            if getattr(self, name) is not None:
                row[name] = getattr(self, name)
        return row

    @classmethod
    def from_dict(cls, row: Mapping[str, Any], default_id: str = "") -> Example:
        """Inverse of :meth:`to_dict`: a row of the shared schema (``question`` is the input).

        >>> Example.from_dict({"question": "2+2?", "answer": "4"}, default_id="demo-1")
        Example(id='demo-1', input='2+2?', answer='4', rationale=None, label=None, choices=None)
        """
        row_id = row.get("id")
        return cls(id=default_id if row_id is None else str(row_id), input=row["question"],
                   answer=row["answer"], rationale=row.get("rationale"), label=row.get("label"),
                   choices=row.get("choices"))


@dataclass(frozen=True)
class ColumnMapping:
    """Which column of the file holds each field. Defaults follow the shared schema.

    ``input`` and ``answer`` must exist. ``id``, ``rationale``, ``label`` and ``choices``
    are optional while they keep their default names; a column the user names
    explicitly must exist. ``None`` switches an optional field off.

    ``input_template`` (e.g. ``"{title}. {description}"``) builds the input from several
    columns instead of ``input``; every column it names must exist. ``label_map`` turns the
    values stored in the answer (and label) column into label names, e.g. ``(("1", "world"),
    ("2", "sports"))``; with a map, a value it does not name is an error naming file, row and column.
    """

    id: str | None = "id"  # missing ids become "row-1", "row-2", ... (1-based row number)
    input: str = "question"  # the text a demonstration shows and a query is matched against
    answer: str = "answer"  # what the model should produce
    rationale: str | None = "rationale"  # optional chain-of-thought text
    label: str | None = "label"  # optional class; without it, label = answer for classification pools
    choices: str | None = "choices"  # optional dict (or JSON object text in CSV) of label -> choice text
    input_template: str | None = None  # None: the input is the ``input`` column; else "{col}" placeholders
    label_map: tuple[tuple[str, str], ...] = ()  # (stored value, label name); () keeps values as they are

    def __post_init__(self) -> None:
        object.__setattr__(self, "label_map", tuple((str(a), str(b)) for a, b in dict(self.label_map).items()))
        if self.input_template is not None:
            template_columns(self.input_template)  # a template without a placeholder is refused here

    def required(self) -> dict[str, str]:
        """Field name -> column for every column that must be present in the file."""
        defaults = ColumnMapping.__dataclass_fields__
        if self.input_template is not None:
            out = {f"input template's {{{c}}}": c for c in template_columns(self.input_template)}
            out["answer"] = self.answer
        else:
            out = {"input": self.input, "answer": self.answer}
        for name in ("id", "rationale", "label", "choices"):
            column = getattr(self, name)
            if column is not None and column != defaults[name].default:
                out[name] = column
        return out


def template_columns(template: str) -> tuple[str, ...]:
    """The columns an input template names, in order: ``"{title}. {description}"`` -> ("title", "description")."""
    names = tuple(dict.fromkeys(m.group(1).strip() for m in _PLACEHOLDER.finditer(template)
                                if m.group(1) is not None))
    if "" in names:
        raise ConfigError(f"Input template {template!r} has an empty {{}}; name a column inside the braces.")
    if not names:
        raise ConfigError(f"Input template {template!r} names no column; write columns in braces, e.g. "
                          "'{title}. {description}'.")
    return names


def render_template(template: str, row: Mapping[str, Any]) -> str:
    """The template with each ``{column}`` replaced by the row's value (``{{``/``}}``: literal braces)."""

    def sub(m: re.Match) -> str:
        if m.group(1) is None:
            return m.group(0)[0]
        return _text(row.get(m.group(1).strip()))

    return _PLACEHOLDER.sub(sub, template)


def parse_label_map(text: str) -> tuple[tuple[str, str], ...]:
    """``"1=world, 2=sports"`` -> (("1", "world"), ("2", "sports")); empty text -> () (no map)."""
    pairs: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        value, sep, label = part.partition("=")
        if not sep or not value.strip() or not label.strip():
            raise ConfigError(f"Label map entry {part.strip()!r} needs the form value=label, e.g. '1=world,2=sports'.")
        if value.strip() in pairs:
            raise ConfigError(f"Label map names the value {value.strip()!r} twice; give each value once.")
        pairs[value.strip()] = label.strip()
    return tuple(pairs.items())


@dataclass(frozen=True)
class Pool:
    """A named, immutable list of examples."""

    name: str
    examples: tuple[Example, ...]

    def __len__(self) -> int:
        return len(self.examples)

    def __iter__(self) -> Iterator[Example]:
        return iter(self.examples)

    def __getitem__(self, i: int) -> Example:
        return self.examples[i]

    @cached_property
    def content_hash(self) -> str:
        """sha256 of the examples in canonical JSON; the name does not count (cache key)."""
        h = hashlib.sha256()
        for ex in self.examples:
            h.update(json.dumps(ex.to_dict(), sort_keys=True, ensure_ascii=False).encode("utf-8"))
            h.update(b"\n")
        return h.hexdigest()

    def inputs(self) -> list[str]:
        return [ex.input for ex in self.examples]

    def labels(self) -> tuple[str, ...]:
        """Distinct labels in order of first appearance; empty when the pool has none."""
        return tuple(dict.fromkeys(ex.label for ex in self.examples if ex.label is not None))


class Upload(Protocol):
    """What Streamlit's ``UploadedFile`` offers: a name and the bytes."""

    name: str

    def getvalue(self) -> bytes: ...


Source = str | os.PathLike | tuple[str, bytes] | Upload


def load_pool(
    source: Source,
    mapping: ColumnMapping = ColumnMapping(),  # frozen, so sharing the default is safe
    fmt: str | None = None,
    name: str | None = None,
    max_bytes: int = MAX_POOL_BYTES,
) -> Pool:
    """Load a pool from a path, a ``(filename, bytes)`` upload or an uploaded file object.

    ``fmt`` ("csv", "tsv", "json", "jsonl", "parquet") overrides detection by file extension.
    ``mapping`` says which columns hold what and maps label values (see :class:`ColumnMapping`).
    Raises :class:`DataError` with a one-line message; never returns a partial pool.
    """
    filename, fmt, rows = _read_rows(source, fmt, max_bytes)
    examples = _to_examples(filename, rows, mapping, where=_WHERE[fmt])
    return Pool(name=name or Path(filename).stem, examples=tuple(examples))


@dataclass(frozen=True)
class RawTable:
    """A data file's rows before any mapping: for a preview, a column picker and a label-value map."""

    filename: str
    fmt: str  # one of FORMATS
    rows: tuple[dict[str, Any], ...] = field(repr=False)  # column -> value, as parsed (bounded, untrusted)
    row_numbers: tuple[int, ...] = field(repr=False)  # where each row is: CSV/JSONL line, JSON item, Parquet row
    where: str = "line"  # the word messages use for ``row_numbers``: "line", "item" or "row"

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column any row has, in first-seen order."""
        return tuple(dict.fromkeys(k for row in self.rows for k in row))

    def values(self, column: str, limit: int = MAX_LABEL_CLASSES * 5) -> tuple[str, ...]:
        """Distinct non-empty values of ``column`` as text (what a label map's keys match), first ``limit``."""
        out: dict[str, None] = {}
        for row in self.rows:
            value = _text(row.get(column)).strip()
            if value:
                out[value] = None
                if len(out) >= limit:
                    break
        return tuple(out)


def read_rows(source: Source, fmt: str | None = None, max_bytes: int = MAX_POOL_BYTES) -> RawTable:
    """A file's rows, unmapped, read by the same bounded parsers as :func:`load_pool` (for previews).

    Raises :class:`DataError` with a one-line message (unreadable, empty, not UTF-8, malformed).
    Each row still goes through the row bounds when :func:`load_pool` maps it.
    """
    filename, fmt, rows = _read_rows(source, fmt, max_bytes)
    return RawTable(filename, fmt, tuple(row for _, row in rows), tuple(n for n, _ in rows), _WHERE[fmt])


def _read_rows(source: Source, fmt: str | None, max_bytes: int) -> tuple[str, str, list[_Row]]:
    filename, data = _read_source(source, max_bytes)
    fmt = fmt or _detect_format(filename)
    if fmt not in FORMATS:
        raise DataError(f"{filename}: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "parquet":
        return filename, fmt, _parse_parquet(filename, data, PARQUET_EXPANSION * max_bytes)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(
            f"{filename} is not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}); save it as UTF-8"
        ) from None
    if not text.strip():
        raise DataError(f"{filename} is empty")
    rows = _PARSERS[fmt](filename, text)
    if not rows:
        raise DataError(f"{filename} has no rows")
    return filename, fmt, rows


def sample_pools() -> dict[str, Path]:
    """The sample pools shipped with the workbench: name -> file."""
    return {p.stem: p for p in sorted(_SAMPLES_DIR.glob("*.jsonl"))}


def load_sample(name: str) -> Pool:
    """Load one shipped sample pool by name (see :func:`sample_pools`)."""
    pools = sample_pools()
    if name not in pools:
        raise DataError(f"no sample pool named {name!r}; choose one of {', '.join(pools)}")
    return load_pool(pools[name], name=name)


# ---- reading ---------------------------------------------------------------------------


def _read_source(source: Source, max_bytes: int) -> tuple[str, bytes]:
    if isinstance(source, tuple):
        filename, data = source
        _check_size(filename, len(data), max_bytes)
        return filename, bytes(data)
    if hasattr(source, "getvalue"):
        data = source.getvalue()
        _check_size(source.name, len(data), max_bytes)
        return source.name, data
    from workbench.safeload import read_file

    path = Path(source)
    return path.name, read_file(path, folder="choose a CSV, TSV, JSON, JSONL or Parquet file", max_bytes=max_bytes,
                                too_big=lambda name, size: _too_big(name, size, max_bytes))


def _too_big(filename: str, size: int | None, max_bytes: int) -> str:
    """``size`` None: the file gave no size (a /proc file) and its read went past the limit."""
    shown = "longer than it says" if size is None else _human(size)
    return f"{filename} is {shown}, over the {_human(max_bytes)} limit; use a smaller file"


def _check_size(filename: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise DataError(_too_big(filename, size, max_bytes))


def _human(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.3g} MB" if n_bytes >= 1e6 else f"{n_bytes / 1e3:.3g} kB"


def _detect_format(filename: str) -> str:
    ext = Path(filename).suffix.lower()
    if ext not in _EXTENSIONS:
        raise DataError(f"{filename}: cannot tell the format from {ext or 'no extension'!r}; use .csv, .tsv, .json, .jsonl or .parquet")
    return _EXTENSIONS[ext]


# A parsed row: (line number for messages, {column: value}).
_Row = tuple[int, dict[str, Any]]


def _parse_delimited(filename: str, text: str, delimiter: str) -> list[_Row]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
        while not any(h.strip() for h in header):
            header = next(reader)
    except StopIteration:
        raise DataError(f"{filename} is empty") from None
    except csv.Error as err:
        raise DataError(f"{filename} line {reader.line_num}: {err}") from None
    header = [h.strip() for h in header]
    seen: set[str] = set()
    for h in header:
        if h in seen:
            raise DataError(f"{filename}: the header names column {h!r} twice; rename one")
        seen.add(h)
    rows: list[_Row] = []
    try:
        for record in reader:
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # blank line
            if len(record) != len(header):
                raise DataError(
                    f"{filename} line {reader.line_num}: {len(record)} fields but the header has {len(header)}; "
                    "check quoting and delimiters"
                )
            rows.append((reader.line_num, dict(zip(header, record, strict=True))))
    except csv.Error as err:
        raise DataError(f"{filename} line {reader.line_num}: {err}") from None
    return rows


def _parse_json(filename: str, text: str) -> list[_Row]:
    try:
        data = parse_json(text, filename, ROW_BOUNDS.max_depth)
    except json.JSONDecodeError as err:
        raise DataError(f"{filename} is not valid JSON (line {err.lineno} column {err.colno}: {err.msg})") from None
    if isinstance(data, dict):
        raise DataError(f"{filename}: expected a JSON array of objects, found one object; wrap the rows in [ ]")
    if not isinstance(data, list):
        raise DataError(f"{filename}: expected a JSON array of objects, found {type(data).__name__}")
    rows: list[_Row] = []
    for i, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise DataError(f"{filename} item {i}: expected an object, found {type(item).__name__}")
        rows.append((i, item))
    return rows


def _parse_jsonl(filename: str, text: str) -> list[_Row]:
    rows: list[_Row] = []
    # Lines end at "\n" only: str.splitlines() would also cut at U+2028 and other characters valid in JSON text.
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            item = parse_json(line, f"{filename} line {lineno}", ROW_BOUNDS.max_depth)
        except json.JSONDecodeError as err:
            raise DataError(f"{filename} line {lineno} is not valid JSON ({err.msg} at column {err.colno})") from None
        if not isinstance(item, dict):
            raise DataError(f"{filename} line {lineno}: expected a JSON object, found {type(item).__name__}")
        rows.append((lineno, item))
    return rows


def _parse_parquet(filename: str, data: bytes, max_decoded: int) -> list[_Row]:
    """Rows of a Parquet file (row numbers from 1); nested values arrive as lists and dicts. Read in batches:
    rows past ``max_decoded`` bytes once decompressed are refused before they are all in memory."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow comes with pandas/streamlit
        raise DataError(f"{filename}: reading Parquet needs pyarrow; install it or save the file as CSV") from None
    records: list[dict[str, Any]] = []
    decoded = 0
    try:
        reader = pq.ParquetFile(pa.BufferReader(data))
        names = reader.schema_arrow.names
        if len(names) != len(set(names)):
            dupe = next(c for c in names if names.count(c) > 1)
            raise DataError(f"{filename}: the file names column {dupe!r} twice; rename one")
        for batch in reader.iter_batches(batch_size=1_000):
            decoded += batch.nbytes
            if decoded > max_decoded:
                raise DataError(f"{filename} holds over {_human(max_decoded)} of data once decompressed; "
                                "use a smaller file")
            records += batch.to_pylist()
    except (pa.ArrowException, OSError, ValueError, TypeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"{filename} is not a readable Parquet file ({first})") from None
    if not records:
        raise DataError(f"{filename} has no rows")
    return [(i, {str(k): _plain(v) for k, v in row.items()}) for i, row in enumerate(records, start=1)]


def _plain(value: Any) -> Any:
    """A Parquet cell as JSON-like data: dates, decimals and bytes become text; lists and structs stay."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if value and all(isinstance(x, tuple) and len(x) == 2 for x in value):  # a Parquet map: (key, value) pairs
            return {str(k): _plain(v) for k, v in value}
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


#: The word a message uses for a row's number, by format.
_WHERE = {"csv": "line", "tsv": "line", "json": "item", "jsonl": "line", "parquet": "row"}

_PARSERS = {
    "csv": lambda f, t: _parse_delimited(f, t, ","),
    "tsv": lambda f, t: _parse_delimited(f, t, "\t"),
    "json": _parse_json,
    "jsonl": _parse_jsonl,
}


# ---- rows -> examples ------------------------------------------------------------------


def _to_examples(filename: str, rows: list[_Row], mapping: ColumnMapping, where: str) -> list[Example]:
    required = mapping.required()
    columns = list(dict.fromkeys(k for _, row in rows for k in row))
    for fname, column in required.items():
        if column not in columns:
            raise DataError(
                f"{filename} has no column {column!r} for the {fname}; available columns: {', '.join(columns)}"
            )
    examples: list[Example] = []
    first_line: dict[str, int] = {}
    for n, (lineno, row) in enumerate(rows, start=1):
        check_tree(row, f"{filename} {where} {lineno}", ROW_BOUNDS, holder="a row")
        for fname, column in required.items():
            if column not in row:
                raise DataError(f"{filename} {where} {lineno} has no column {column!r} for the {fname}")
        if mapping.input_template is not None:
            text = render_template(mapping.input_template, row)
            if not any(_text(row.get(c)).strip() for c in template_columns(mapping.input_template)):
                raise DataError(f"{filename} {where} {lineno}: empty input (columns "
                                f"{', '.join(map(repr, template_columns(mapping.input_template)))} are all empty)")
        else:
            text = _text(row.get(mapping.input))
            if not text.strip():
                raise DataError(f"{filename} {where} {lineno}: empty input in column {mapping.input!r}")
        ex_id = _text(row.get(mapping.id)) if mapping.id else ""
        ex_id = ex_id.strip() or f"row-{n}"
        if ex_id in first_line:
            raise DataError(f"{filename} {where} {lineno}: duplicate id {ex_id!r} (first on {where} {first_line[ex_id]})")
        first_line[ex_id] = lineno
        answer = _text(row.get(mapping.answer)).strip()
        if not answer:
            raise DataError(f"{filename} {where} {lineno}: empty answer in column {mapping.answer!r}; "
                            "fill in the gold answer or remove the row")
        answer = _mapped(filename, where, lineno, mapping.answer, answer, mapping.label_map)
        label = _optional(row, mapping.label)
        if label is not None and mapping.label != mapping.answer:
            label = _mapped(filename, where, lineno, mapping.label, label, mapping.label_map)
        elif label is not None:
            label = answer
        examples.append(
            Example(
                id=ex_id,
                input=text,
                answer=answer,
                rationale=_optional(row, mapping.rationale),
                label=label,
                choices=_choices(filename, where, lineno, row, mapping.choices),
            )
        )
    if not any(ex.label is not None for ex in examples) and _looks_like_classification(examples):
        examples = [_with_label(ex, ex.answer) for ex in examples]
    return examples


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _mapped(filename: str, where: str, lineno: int, column: str, value: str,
            label_map: tuple[tuple[str, str], ...]) -> str:
    """``value`` through the label map (a whole float "2.0" matches "2"); unchanged without a map."""
    if not label_map:
        return value
    names = dict(label_map)
    whole = _WHOLE_FLOAT.match(value)
    key = value if value in names or whole is None else whole.group(1)
    if key not in names:
        shown = ", ".join(list(names)[:10]) + (", ..." if len(names) > 10 else "")
        raise DataError(f"{filename} {where} {lineno}: value {value[:40]!r} in column {column!r} is not in the "
                        f"label map ({shown}); add it to the map as {value[:40]!r}=NAME")
    return names[key]


def _optional(row: Mapping[str, Any], column: str | None) -> str | None:
    if column is None:
        return None
    value = _text(row.get(column)).strip()
    return value or None


def _choices(filename: str, where: str, lineno: int, row: Mapping[str, Any], column: str | None) -> dict[str, str] | None:
    if column is None or row.get(column) in (None, ""):
        return None
    value = row[column]
    if isinstance(value, str):  # CSV/TSV: JSON object text in the cell, read as untrusted JSON
        source = f"{filename} {where} {lineno} column {column!r}"
        try:
            value = parse_json(value, source, ROW_BOUNDS.max_depth)
        except json.JSONDecodeError:
            value = None
        check_tree(value, source, ROW_BOUNDS, holder="a row")
    if not isinstance(value, dict):
        raise DataError(
            f'{filename} {where} {lineno}: column {column!r} must be an object of label -> text, e.g. {{"A": "yes"}}'
        )
    return {str(k): _text(v) for k, v in value.items()}


def _looks_like_classification(examples: list[Example]) -> bool:
    answers = {ex.answer for ex in examples}
    return (
        len(answers) <= MAX_LABEL_CLASSES
        and len(examples) >= MIN_EXAMPLES_PER_LABEL * len(answers)
    )


def _with_label(ex: Example, label: str) -> Example:
    values = {f.name: getattr(ex, f.name) for f in fields(ex)}
    values["label"] = label
    return Example(**values)
