"""Pools from files: :func:`load_pool` reads a data file (:mod:`workbench.data.files`) and maps its rows onto
examples (:mod:`workbench.data.mapping`), all or nothing; the sample pools shipped with the workbench by name.

A *pool* is the list of labelled examples that demonstrations are chosen from (and, for evaluation, the dataset
a strategy is run on).
"""

from __future__ import annotations

from pathlib import Path

from workbench.data.examples import Pool
from workbench.data.files import MAX_POOL_BYTES, Source, read_rows
from workbench.data.mapping import DEFAULT_MAPPING, ColumnMapping, to_examples
from workbench.errors import DataError

_SAMPLES_DIR = Path(__file__).resolve().parents[1] / "samples"


def load_pool(
    source: Source,
    mapping: ColumnMapping = DEFAULT_MAPPING,
    fmt: str | None = None,
    name: str | None = None,
    max_bytes: int = MAX_POOL_BYTES,
) -> Pool:
    """Load a pool from a path, a ``(filename, bytes)`` upload or an uploaded file object.

    ``fmt`` ("csv", "tsv", "json", "jsonl", "parquet") overrides detection by file extension.
    ``mapping`` says which columns hold what and maps label values (see :class:`ColumnMapping`); its ``shape``
    reads published benchmark files (GSM8K, AQuA, CommonsenseQA, BIG-bench, ...: :mod:`workbench.data.shapes`).
    Raises :class:`DataError` with a one-line message; never returns a partial pool.
    """
    table = read_rows(source, fmt, max_bytes)
    examples, shape = to_examples(table.filename, list(zip(table.row_numbers, table.rows, strict=True)), mapping,
                                  where=table.where)
    return Pool(name=name or Path(table.filename).stem, examples=tuple(examples), shape=shape)


def sample_pools() -> dict[str, Path]:
    """The sample pools shipped with the workbench: name -> file."""
    return {p.stem: p for p in sorted(_SAMPLES_DIR.glob("*.jsonl"))}


def load_sample(name: str) -> Pool:
    """Load one shipped sample pool by name (see :func:`sample_pools`)."""
    pools = sample_pools()
    if name not in pools:
        raise DataError(f"no sample pool named {name!r}; choose one of {', '.join(pools)}")
    return load_pool(pools[name], name=name)
