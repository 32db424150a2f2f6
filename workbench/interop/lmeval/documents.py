"""A task's documents: the rows of its splits, from data files in the task's folder or the local Hugging Face
cache, as lm-eval's ``datasets.load_dataset(path, name, **dataset_kwargs)`` gives them.

``dataset_path: json|csv|parquet`` with ``dataset_kwargs.data_files`` (a file, a list, or split -> files; a file
or a list is the split ``train``, as ``datasets`` names it) reads each file inside the task's folder with the
workbench's bounded parsers; rows are made to share one set of columns (a missing one is None, as a
``datasets`` table fills it). Any other ``dataset_path`` is a Hugging Face dataset id read offline from the local
caches (:func:`workbench.data.hub.load_hf_rows`), or a ``save_to_disk`` folder inside the task's folder.

    >>> split_files("a.jsonl"), split_files({"test": ["a.csv", "b.csv"]})
    ({'train': ['a.jsonl']}, {'test': ['a.csv', 'b.csv']})
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.errors import ConfigError
from workbench.interop.lmeval.config import TaskFile
from workbench.interop.paths import inside

#: ``dataset_path`` values that name a file format (read from ``data_files``).
FILE_FORMATS = {"json": None, "csv": "csv", "parquet": "parquet"}  # json: .json or .jsonl, by the name

Row = dict[str, Any]


def split_files(data_files: Any) -> dict[str, list[str]]:
    """``data_files`` as split -> file names (``datasets``' rule: one file or a list is the ``train`` split)."""
    def names(value: Any) -> list[str]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(v, str) and v for v in items):
            raise ConfigError(f"dataset_kwargs.data_files must name files, not {value!r}.")
        return items

    if isinstance(data_files, dict):
        return {str(split): names(files) for split, files in data_files.items()}
    return {"train": names(data_files)}


def _columns(rows: list[Row]) -> list[Row]:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return [{c: row.get(c) for c in columns} for row in rows]


def _file_rows(task: TaskFile, folder: Path, files: list[str]) -> list[Row]:
    from workbench.data.files import read_rows

    fmt = FILE_FORMATS[task.dataset_path]
    rows: list[Row] = []
    for name in files:
        path = inside(name, folder, "data_files")
        if not path.is_file():
            raise ConfigError(f"data_files {name} names a file that does not exist in {folder}.")
        rows += [dict(r) for r in read_rows(path, fmt).rows]
    return _columns(rows)


def load_splits(task: TaskFile, folder: Path, wanted: list[str]) -> dict[str, list[Row]]:
    """The rows of each split in ``wanted`` (each read once)."""
    out: dict[str, list[Row]] = {}
    if task.dataset_path in FILE_FORMATS:
        if not task.dataset_kwargs or "data_files" not in task.dataset_kwargs:
            raise ConfigError(f"dataset_path {task.dataset_path} reads dataset_kwargs.data_files; give the files "
                              "(inside the task's folder).")
        by_split = split_files(task.dataset_kwargs["data_files"])
        for split in wanted:
            if split not in by_split:
                raise ConfigError(f"the task names split {split!r}, and data_files has {', '.join(by_split)}.")
            out[split] = _file_rows(task, folder, by_split[split])
        return out
    if task.dataset_kwargs:
        raise ConfigError("dataset_kwargs.data_files applies to dataset_path json, csv or parquet.")
    from workbench.data.hub import load_hf_rows

    source, local = task.dataset_path, task.dataset_path.startswith((".", "/", "~")) or (
        folder / task.dataset_path).is_dir()
    if local:  # a save_to_disk folder or a folder of data files: inside the task's folder, as every file it names
        source = str(inside(task.dataset_path, folder, "dataset_path"))
    for split in wanted:
        out[split] = [dict(r) for r in load_hf_rows(source, task.dataset_name, split, allow_folder=local)]
    return out


def splits(task: TaskFile) -> tuple[str, str | None]:
    """(the split evaluated, the split few-shot examples come from): lm-eval's ``eval_docs`` (test, else
    validation) and ``fewshot_docs`` (fewshot_split, else training, validation, test); no few-shot split when
    no example is asked for."""
    evaluated = task.test_split or task.validation_split
    if evaluated is None:
        raise ConfigError(f"{task.task}: give test_split or validation_split (the documents to evaluate).")
    if not task.num_fewshot:
        return evaluated, None
    return evaluated, task.fewshot_split or task.training_split or task.validation_split or task.test_split
