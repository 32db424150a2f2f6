"""Reading untrusted data files: CSV, TSV, JSON, JSONL or Parquet bytes become a :class:`RawTable` of rows, each
with the line (item, row) it came from, before any column mapping.

Files are untrusted: rows are read with :mod:`workbench.safeload` (bounded nesting, text length and numbers, no
repeated keys), a file over the size limit is refused before parsing, and every problem is one
:class:`~workbench.errors.DataError` line naming the file and the line.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from workbench.data.mapping import MAX_LABEL_CLASSES, ROW_BOUNDS, Row, cell_text
from workbench.errors import DataError
from workbench.safeload import parse_json

#: Largest file :func:`read_rows` reads; bigger uploads are refused before parsing.
MAX_POOL_BYTES = 50_000_000
#: A Parquet file is compressed: its rows may take at most this many times the byte limit once read
#: (a small file of one repeated long text would otherwise expand to gigabytes).
PARQUET_EXPANSION = 4

FORMATS = ("csv", "tsv", "json", "jsonl", "parquet")
_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
               ".parquet": "parquet", ".pq": "parquet"}


class Upload(Protocol):
    """What Streamlit's ``UploadedFile`` offers: a name and the bytes."""

    name: str

    def getvalue(self) -> bytes: ...


Source = str | os.PathLike | tuple[str, bytes] | Upload


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
            value = cell_text(row.get(column)).strip()
            if value:
                out[value] = None
                if len(out) >= limit:
                    break
        return tuple(out)


def read_rows(source: Source, fmt: str | None = None, max_bytes: int = MAX_POOL_BYTES) -> RawTable:
    """A file's rows, unmapped, read by the same bounded parsers as :func:`~workbench.data.pools.load_pool` (for previews).

    Raises :class:`DataError` with a one-line message (unreadable, empty, not UTF-8, malformed).
    Each row still goes through the row bounds when :func:`~workbench.data.pools.load_pool` maps it.
    An ``hf:`` source (``hf:glue:sst2:validation``) is a Hugging Face dataset read offline by
    :func:`workbench.data.hub.hub_table` under the same bounds.
    """
    if isinstance(source, str) and source.startswith("hf:"):
        from workbench.data.hub import hub_table  # hub reads through this module: imported here, not at the top

        return hub_table(source, max_bytes)
    filename, fmt, rows = _read_rows(source, fmt, max_bytes)
    return RawTable(filename, fmt, tuple(row for _, row in rows), tuple(n for n, _ in rows), _WHERE[fmt])


def _read_rows(source: Source, fmt: str | None, max_bytes: int) -> tuple[str, str, list[Row]]:
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


def _parse_delimited(filename: str, text: str, delimiter: str) -> list[Row]:
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
    rows: list[Row] = []
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


def _parse_json(filename: str, text: str) -> list[Row]:
    try:
        data = parse_json(text, filename, ROW_BOUNDS.max_depth)
    except json.JSONDecodeError as err:
        if err.msg == "Extra data" and text.lstrip().startswith("{"):
            return _parse_jsonl(filename, text)  # one object per line under a .json name (AQuA's test.json)
        raise DataError(f"{filename} is not valid JSON (line {err.lineno} column {err.colno}: {err.msg})") from None
    if isinstance(data, dict) and isinstance(data.get("examples"), list):
        data = data["examples"]  # a BIG-bench task.json (Kojima et al.'s coin_flip / last_letters too)
    elif isinstance(data, dict):
        raise DataError(f"{filename}: expected a JSON array of objects (or a BIG-bench task with an \"examples\" "
                        "list), found one object; wrap the rows in [ ]")
    if not isinstance(data, list):
        raise DataError(f"{filename}: expected a JSON array of objects, found {type(data).__name__}")
    rows: list[Row] = []
    for i, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise DataError(f"{filename} item {i}: expected an object, found {type(item).__name__}")
        rows.append((i, item))
    return rows


def _parse_jsonl(filename: str, text: str) -> list[Row]:
    rows: list[Row] = []
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


def _parse_parquet(filename: str, data: bytes, max_decoded: int) -> list[Row]:
    """Rows of a Parquet file (row numbers from 1); nested values arrive as lists and dicts. Read in batches:
    rows past ``max_decoded`` bytes once decompressed are refused before they are all in memory."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow comes with pandas/streamlit
        raise DataError(f"{filename}: reading Parquet needs pyarrow; install it or save the file as CSV") from None
    try:
        reader = pq.ParquetFile(pa.BufferReader(data))
        return arrow_rows(filename, reader.schema_arrow.names, reader.iter_batches(batch_size=1_000), max_decoded)
    except (pa.ArrowException, OSError, ValueError, TypeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"{filename} is not a readable Parquet file ({first})") from None


def arrow_rows(filename: str, names: list[str], batches: Iterable[Any], max_decoded: int) -> list[Row]:
    """Rows of Arrow record ``batches`` (a Parquet file's, a Hugging Face dataset's; row numbers from 1) as
    JSON-like data: refused once past ``max_decoded`` bytes decoded, before they are all in memory; a column
    named twice or no rows is one line."""
    if len(names) != len(set(names)):
        dupe = next(c for c in names if names.count(c) > 1)
        raise DataError(f"{filename}: the file names column {dupe!r} twice; rename one")
    records: list[dict[str, Any]] = []
    decoded = 0
    for batch in batches:
        decoded += batch.nbytes
        if decoded > max_decoded:
            raise DataError(f"{filename} holds over {_human(max_decoded)} of data once decompressed; "
                            "use a smaller file")
        records += batch.to_pylist()
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
