"""Pools of examples loaded from CSV, TSV, JSON, JSONL or Parquet, with a column and label mapping.

A *pool* is the list of labelled examples that demonstrations are chosen from (and, for evaluation, the dataset a
strategy is run on). Loading is all or nothing: :func:`load_pool` returns a complete :class:`Pool` or raises one
:class:`~workbench.errors.DataError` whose one-line message names the file, the line and the column to fix.

One concept per module:

- :mod:`workbench.data.examples`: the records, :class:`Example` (input, gold answer, optional rationale, label and
  choices; the shared schema ``{"id", "question", "answer"}``) and :class:`Pool`;
- :mod:`workbench.data.files`: reading an untrusted file into a :class:`RawTable` (formats, size limits, bounded
  parsers);
- :mod:`workbench.data.mapping`: :class:`ColumnMapping` (input column or template, answer, label map, dataset
  shape) and how rows become examples;
- :mod:`workbench.data.shapes`: published benchmark layouts (GSM8K, AQuA, CommonsenseQA, BIG-bench, a choices list
  with an index, booleans) detected and read into the shared schema; ``describe`` says how a pool's gold was read;
- :mod:`workbench.data.rowchecks`: a row's own assertions, threshold and human grade (promptfoo's ``__expected``
  CSV columns, a JSON test case's ``assert``), kept as written for :mod:`workbench.judging` to build;
- :mod:`workbench.data.hub`: Hugging Face datasets by id (``hf:glue:sst2:validation``), read offline from the
  ``datasets`` cache, the hub cache or a ``save_to_disk`` folder into a :class:`RawTable` (ClassLabel names);
  :func:`~workbench.data.hub.load_hf_rows` for lm-eval tasks;
- :mod:`workbench.data.pools`: :func:`load_pool` and the shipped sample pools.

The names below are the package's public surface (what pages, the CLI and the evaluator use); the rest is
imported from its module.
"""

from workbench.data.examples import Example, Pool
from workbench.data.files import RawTable, read_rows
from workbench.data.mapping import ColumnMapping, parse_label_map
from workbench.data.pools import load_pool, load_sample, sample_pools

__all__ = ["ColumnMapping", "Example", "Pool", "RawTable", "load_pool", "load_sample", "parse_label_map",
           "read_rows", "sample_pools"]
