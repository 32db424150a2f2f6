"""Hugging Face datasets by id, read offline: ``hf:PATH[:SPLIT]`` or ``hf:PATH:NAME:SPLIT`` from the ``datasets``
cache, the hub cache, or a local folder; never from the network, never running a loading script.

Where the rows come from, tried in order for a hub id (``glue``, ``stanfordnlp/imdb``):

1. the ``datasets`` cache (``HF_DATASETS_CACHE``, under ``HF_HOME``): the Arrow files ``load_dataset`` wrote
   (``<cache>/owner___name/<config>/<version>/<hash>/``), read by ``datasets``' own ``Cache`` builder;
2. the hub cache (``HF_HUB_CACHE``): the repository files ``hf download --repo-type dataset`` (or
   ``load_dataset``) fetched (``datasets--owner--name/snapshots/<rev>/``, ``refs/main``), read by ``datasets``' own
   folder builder (its README's ``configs``); a repository holding a loading script (``name.py``) is refused.

A local folder (``hf:/data/sst2``, ``hf:./saved``, ``hf:~/x``; not a filesystem root or the home folder, within
``MAX_FOLDER_ENTRIES`` entries and ``MAX_FOLDER_DEPTH`` levels) is a ``save_to_disk`` folder or a folder of data files.

How a configuration is told apart from an ``owner/name`` id: ``hf:glue:sst2:validation`` names it (PATH:NAME:SPLIT);
``hf:nyu-mll/glue/sst2:validation`` too (a third segment is the configuration); ``hf:glue/sst2:validation`` is the
repository ``glue/sst2`` when it is cached, else the dataset ``glue`` with configuration ``sst2``; ``[:200]`` slices.

:func:`load_hf_rows` gives the rows as ``datasets`` does (ClassLabel as integers: lm-eval's ``doc_to_target``
indexes them); :func:`hub_table` as a :class:`~workbench.data.files.RawTable`, each ClassLabel value by its name
(sst2's 0/1 -> negative/positive), for ``read_rows``' mappings, shapes and label maps. Every problem is one line.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.data.files import MAX_POOL_BYTES, PARQUET_EXPANSION, RawTable, arrow_rows
from workbench.errors import DataError

#: What a dataset source starts with on the command line and in the data picker.
PREFIX = "hf:"
#: A hub id's segment: an owner, a dataset or a configuration name, as the Hub allows them.
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
#: A split, optionally sliced the way ``datasets`` slices splits ("train", "test[:200]", "train[10%:20%]").
_SPLIT = re.compile(r"^[A-Za-z0-9_.-]{1,64}(\[[0-9%:+-]{0,40}\])?$")
#: The files of a ``save_to_disk`` folder: a DatasetDict's, a Dataset's.
_SAVED = ("dataset_dict.json", "state.json")
#: How many entries (links not followed) and levels a local folder may hold before the datasets library globs it.
MAX_FOLDER_ENTRIES = 1_000
MAX_FOLDER_DEPTH = 4
#: Rows per Arrow batch when the rows are read (each batch counts towards the decoded-bytes bound).
_BATCH = 1_000


@dataclass(frozen=True)
class HubRef:
    """A dataset named by an ``hf:`` source: where it is, which configuration, which split."""

    path: str  # a hub id ("glue", "stanfordnlp/imdb") or a local folder ("/data/sst2", "./saved", "~/x")
    name: str | None = None  # the configuration ("sst2"); None: the dataset's only (or default) one
    split: str | None = None  # the split, maybe sliced ("test[:200]"); None: the dataset's only split

    @property
    def local(self) -> bool:
        """A folder on this machine rather than a hub id."""
        return is_folder(self.path)

    def __str__(self) -> str:
        return PREFIX + ":".join(p for p in (self.path, self.name, self.split) if p)


def is_folder(path: str) -> bool:
    """Whether ``path`` names a folder on this machine (it starts ``/``, ``.`` or ``~``) rather than a hub id.

    >>> is_folder("/data/sst2"), is_folder("./saved"), is_folder("glue/sst2")
    (True, True, False)
    """
    return path.startswith(("/", ".", "~"))


def is_hub_source(source: object) -> bool:
    """Whether a dataset argument is an ``hf:`` source (a local file named so is written ``./hf:x.csv``).

    >>> is_hub_source("hf:glue/sst2:validation"), is_hub_source("data/hf.csv")
    (True, False)
    """
    return isinstance(source, str) and source.startswith(PREFIX)


def parse_ref(text: str) -> HubRef:
    """An ``hf:PATH[:SPLIT]`` or ``hf:PATH:NAME:SPLIT`` source as a :class:`HubRef` (the ``hf:`` is optional);
    a colon inside a split's slice brackets does not separate.

    >>> parse_ref("hf:glue/sst2:validation")
    HubRef(path='glue/sst2', name=None, split='validation')
    >>> parse_ref("hf:glue:sst2:train[:100]")
    HubRef(path='glue', name='sst2', split='train[:100]')
    >>> parse_ref("hf:nyu-mll/glue/sst2")
    HubRef(path='nyu-mll/glue', name='sst2', split=None)
    >>> parse_ref("hf:glue/../../etc:x")
    Traceback (most recent call last):
    workbench.errors.DataError: hf:glue/../../etc:x: 'glue/../../etc' is not a Hugging Face dataset id; write hf:NAME, hf:OWNER/NAME or a folder (hf:/path/to/folder), then :SPLIT or :CONFIG:SPLIT, e.g. hf:glue:sst2:validation
    """
    body = text[len(PREFIX):] if text.startswith(PREFIX) else text
    if "://" in body:
        raise DataError(f"{text}: a URL; the workbench reads datasets from this machine only: write the dataset's "
                        "id (hf:OWNER/NAME:SPLIT) or a folder (hf:/path/to/folder:SPLIT)")
    parts = _split_outside_brackets(body.strip())
    if not parts[0] or len(parts) > 3:
        raise DataError(f"{text}: expected hf:PATH[:SPLIT] or hf:PATH:CONFIG:SPLIT, e.g. hf:glue/sst2:validation")
    path, name, split = parts[0], (parts[1] if len(parts) == 3 else None), (parts[-1] if len(parts) > 1 else None)
    if not is_folder(path):
        segments = path.split("/")
        if len(segments) > 3 or not all(_SEGMENT.match(s) for s in segments):
            raise DataError(f"{text}: {path!r} is not a Hugging Face dataset id; write hf:NAME, hf:OWNER/NAME or a "
                            "folder (hf:/path/to/folder), then :SPLIT or :CONFIG:SPLIT, e.g. hf:glue:sst2:validation")
        if len(segments) == 3:
            if name is not None:
                raise DataError(f"{text}: the configuration is given twice ({segments[2]!r} and {name!r}); "
                                "write hf:OWNER/NAME:CONFIG:SPLIT")
            path, name = "/".join(segments[:2]), segments[2]
    return _named(text, path, name or None, split or None)


def parse_id(text: str) -> HubRef:
    """A dataset without its split, as the data picker's box takes it: ``PATH`` or ``PATH:CONFIG``.

    >>> parse_id("glue:sst2"), parse_id(" stanfordnlp/imdb ")
    (HubRef(path='glue', name='sst2', split=None), HubRef(path='stanfordnlp/imdb', name=None, split=None))
    >>> parse_id("glue:sst2:train")
    Traceback (most recent call last):
    workbench.errors.DataError: hf:glue:sst2:train: write the dataset as NAME, OWNER/NAME or NAME:CONFIG; the split is picked beside it
    """
    body = text.strip().removeprefix(PREFIX)
    if len(_split_outside_brackets(body)) > 2:
        raise DataError(f"{PREFIX}{body}: write the dataset as NAME, OWNER/NAME or NAME:CONFIG; the split is picked "
                        "beside it")
    ref = parse_ref(f"{PREFIX}{body}:x" if ":" in body else f"{PREFIX}{body}")
    return HubRef(ref.path, ref.name) if ":" in body else ref


def _named(text: str, path: str, name: str | None, split: str | None) -> HubRef:
    if name is not None and not _SEGMENT.match(name):
        raise DataError(f"{text}: {name!r} is not a configuration name (letters, digits, . _ -)")
    if split is not None and not _SPLIT.match(split):
        raise DataError(f"{text}: {split!r} is not a split name (e.g. train, validation, test or test[:200])")
    return HubRef(path, name, split)


def _checked(path: str, name: str | None, split: str) -> HubRef:
    """:func:`load_hf_rows`' arguments checked as :func:`parse_ref` checks a source.

    >>> _checked("nyu-mll/glue", "sst2", "validation")
    HubRef(path='nyu-mll/glue', name='sst2', split='validation')
    >>> _checked("glue", None, "train; rm")
    Traceback (most recent call last):
    workbench.errors.DataError: hf:glue: 'train; rm' is not a split name (e.g. train, validation, test or test[:200])
    """
    ref = HubRef(path) if is_folder(path) else parse_ref(PREFIX + path)
    if ref.split is not None:
        raise DataError(f"{PREFIX}{path}: a dataset path has no ':'; give the split separately")
    if ref.name and name and ref.name != name:
        raise DataError(f"{PREFIX}{path}: the configuration is given twice ({ref.name!r} and {name!r})")
    return _named(PREFIX + path, ref.path, name or ref.name, split)


def _split_outside_brackets(text: str) -> list[str]:
    parts, depth, current = [], 0, []
    for ch in text:
        depth += ch == "["
        depth -= ch == "]" and depth > 0
        if ch == ":" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    return [*parts, "".join(current)]


# ---- offline ------------------------------------------------------------------------------------------------------


def offline() -> Any:
    """The ``datasets`` module with every network switch off (``datasets``' and ``huggingface_hub``'s offline
    flags, set in code before any load: this process never reaches the Hub through them)."""
    try:
        import datasets
        import huggingface_hub.constants as hub_constants
    except ImportError:  # pragma: no cover - datasets is a runtime dependency
        raise DataError("reading hf: datasets needs the `datasets` package; pip install datasets") from None
    hub_constants.HF_HUB_OFFLINE = True
    datasets.config.HF_HUB_OFFLINE = True
    datasets.config.HF_DATASETS_OFFLINE = True
    datasets.config.HF_UPDATE_DOWNLOAD_COUNTS = False
    return datasets


@contextlib.contextmanager
def _quiet(datasets: Any) -> Iterator[None]:
    """``datasets``' own warnings ("Using the latest cached version ...") and progress bars off while it loads."""
    level = datasets.logging.get_verbosity()
    bars = datasets.utils.are_progress_bars_disabled()
    datasets.logging.set_verbosity_error()
    datasets.utils.disable_progress_bars()
    try:
        yield
    finally:
        datasets.logging.set_verbosity(level)
        if not bars:
            datasets.utils.enable_progress_bars()


def cache_folders() -> tuple[Path, Path]:
    """The ``datasets`` cache and the hub cache this process reads (``HF_HOME`` and friends, as the libraries
    read them)."""
    datasets = offline()
    import huggingface_hub.constants as hub_constants

    return Path(str(datasets.config.HF_DATASETS_CACHE)).expanduser(), Path(hub_constants.HF_HUB_CACHE).expanduser()


# ---- finding the dataset ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    """Where a dataset's rows are: a builder to read a split from, or a saved Dataset/DatasetDict."""

    ref: HubRef  # the dataset as found (the configuration told apart from the id)
    builder: Any = None  # a ``datasets`` builder (Arrow cache or folder of data files)
    saved: Any = None  # what ``load_from_disk`` returned
    files: dict[str, list[str]] | None = None  # a folder builder's data files by split (sizes checked before use)

    def splits(self) -> tuple[str, ...]:
        if self.saved is not None:
            return tuple(self.saved.keys()) if hasattr(self.saved, "keys") else (str(self.saved.split or "train"),)
        if self.files is not None:
            return tuple(self.files)
        return tuple(self.builder.info.splits or ())


def _find(ref: HubRef, allow_folder: bool = True) -> _Found:
    datasets = offline()
    with _quiet(datasets):
        if ref.local:
            if not allow_folder:
                raise DataError(f"{ref}: a folder is not accepted here; name a dataset on the Hub (hf:OWNER/NAME)")
            return _from_folder(datasets, ref)
        tries = [ref]
        if ref.name is None and ref.path.count("/") == 1:
            tries.append(HubRef(*ref.path.split("/"), ref.split))  # glue/sst2: the dataset glue, configuration sst2
        for attempt in tries:
            found = _from_cache(datasets, attempt) or _from_snapshot(datasets, attempt)
            if found is not None:
                return found
    raise DataError(_not_cached(ref))


def _from_folder(datasets: Any, ref: HubRef) -> _Found:
    folder = Path(ref.path).expanduser()
    if not folder.is_dir():
        raise DataError(f"{ref}: no folder {str(folder)!r} on this machine (a save_to_disk folder or a folder of "
                        "data files)")
    _check_folder(ref, folder)
    if any((folder / name).is_file() for name in _SAVED):
        if ref.name is not None:
            raise DataError(f"{ref}: a save_to_disk folder has no configurations; write hf:{ref.path}:SPLIT")
        try:
            return _Found(ref, saved=datasets.load_from_disk(str(folder), keep_in_memory=False))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise DataError(f"{ref}: {str(folder)!r} is not a readable save_to_disk folder ({_first(err)})") from None
    return _folder_builder(datasets, ref, folder)


def _check_folder(ref: HubRef, folder: Path) -> None:
    """Refuse in one line a folder too big to glob: a filesystem root, the home folder, or past the bounds."""
    real, seen = folder.resolve(), 0
    named = {real.anchor: "a filesystem root", str(Path.home().resolve()): "the home folder"}
    stack, what = [(real, 1)], named.get(str(real))
    while what is None and stack:
        here, depth = stack.pop()
        with contextlib.suppress(OSError), os.scandir(here) as entries:
            for entry in entries:
                seen, sub = seen + 1, entry.is_dir(follow_symlinks=False)
                if seen > MAX_FOLDER_ENTRIES or (sub and depth >= MAX_FOLDER_DEPTH):
                    what = f"over {MAX_FOLDER_ENTRIES:,} entries or {MAX_FOLDER_DEPTH} levels deep"
                    break
                stack.extend([(Path(entry.path), depth + 1)] if sub else [])
    if what is not None:
        raise DataError(f"{ref}: {str(folder)!r} is {what}, not a dataset's folder; give the dataset's own folder "
                        "(a save_to_disk folder or a folder of data files)")


def _folder_builder(datasets: Any, ref: HubRef, folder: Path) -> _Found:
    """A folder of data files (a hub snapshot or a local copy), read by ``datasets``' folder builder."""
    script = folder / f"{Path(ref.path).name if not ref.local else folder.resolve().name}.py"
    scripts = [script] if script.is_file() else sorted(p for p in folder.glob("*.py") if p.is_file())
    if scripts and ref.local and scripts[0] != script:  # Python files beside the data: not the dataset's script
        raise DataError(f"{ref}: {str(folder)!r} is not a saved dataset (no {' or '.join(_SAVED)}) and holds Python "
                        f"files ({scripts[0].name}), which the workbench never runs; give a save_to_disk folder or a "
                        "folder of data files")
    if scripts:
        raise DataError(f"{ref}: the dataset has a loading script ({scripts[0].name}) and the workbench never runs "
                        "code from a dataset; on a machine that can load it, save it with "
                        "dataset.save_to_disk('FOLDER') and read hf:/path/to/FOLDER:SPLIT")
    try:
        configs = list(datasets.get_dataset_config_names(str(folder)))
    except (OSError, ValueError, RuntimeError, TypeError) as err:
        raise DataError(f"{ref}: no data files the datasets library reads in {str(folder)!r} ({_first(err)})") from None
    if ref.name is not None and ref.name not in configs:
        raise DataError(f"{ref}: no configuration {ref.name!r}; it has {', '.join(configs)}")
    if ref.name is None and len(configs) > 1 and "default" not in configs:
        raise DataError(f"{ref}: the dataset has configurations {', '.join(configs)}; name one, e.g. "
                        f"{HubRef(ref.path, configs[0], ref.split or 'SPLIT')}")
    try:
        builder = datasets.load_dataset_builder(str(folder), ref.name)
    except (OSError, ValueError, RuntimeError, TypeError) as err:
        raise DataError(f"{ref}: the datasets library cannot read {str(folder)!r} ({_first(err)})") from None
    files = {str(split): list(paths) for split, paths in (builder.config.data_files or {}).items()}
    return _Found(HubRef(ref.path, ref.name or builder.config.name, ref.split), builder=builder, files=files)


def _from_cache(datasets: Any, ref: HubRef) -> _Found | None:
    """The Arrow files ``load_dataset`` left in the ``datasets`` cache, or None when it holds none of this
    dataset (or not this configuration)."""
    from datasets.naming import camelcase_to_snakecase
    from datasets.packaged_modules.cache.cache import Cache

    cache = Path(str(datasets.config.HF_DATASETS_CACHE)).expanduser()
    *owner, name = ref.path.split("/")
    root = cache / "___".join([*owner, camelcase_to_snakecase(name)])
    configs = sorted({p.parents[2].name for p in root.glob("*/*/*/dataset_info.json")})
    if (ref.name is not None and ref.name not in configs) or not configs:
        return None
    if ref.name is None and ref.split in configs:
        raise DataError(f"{ref}: {ref.split!r} is a configuration of {ref.path}; name a split too, e.g. "
                        f"{HubRef(ref.path, ref.split, 'train')}")
    if ref.name is None and len(configs) > 1:
        raise DataError(f"{ref}: the cache holds configurations {', '.join(configs)}; name one, e.g. "
                        f"{HubRef(ref.path, configs[0], ref.split or 'SPLIT')}")
    config = ref.name or configs[0]
    try:
        builder = Cache(cache_dir=str(cache), dataset_name=name, repo_id=ref.path, config_name=config,
                        version="auto", hash="auto")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(f"{ref}: its files in the datasets cache {str(root)!r} are unreadable ({_first(err)})") from None
    return _Found(HubRef(ref.path, config, ref.split), builder=builder)


def _from_snapshot(datasets: Any, ref: HubRef) -> _Found | None:
    """The repository files in the hub cache (``refs/main``'s snapshot), or None when they are not there."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    _, hub_cache = cache_folders()
    try:
        folder = snapshot_download(ref.path, repo_type="dataset", local_files_only=True, cache_dir=str(hub_cache))
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None
    if ref.name is not None:
        try:
            if ref.name not in datasets.get_dataset_config_names(folder):
                return None
        except (OSError, ValueError, RuntimeError, TypeError):
            pass  # _folder_builder says why the folder cannot be read
    return _folder_builder(datasets, ref, Path(folder))


def _not_cached(ref: HubRef) -> str:
    """One line: the dataset is not here, and the commands that fetch it (owner/name: also as NAME:CONFIG)."""
    cache, hub_cache = cache_folders()
    split = f", split={_base_split(ref.split)!r}" if ref.split else ""
    run = "python -c \"import datasets; datasets.load_dataset({}" + split + ")\""
    fetch = run.format(", ".join(repr(a) for a in (ref.path, ref.name) if a))
    also = ""
    if ref.name is None and ref.path.count("/") == 1:
        owner, name = ref.path.split("/")
        also = f" (nor the dataset {owner!r} with configuration {name!r})"
        fetch += f" for the repository, or {run.format(f'{owner!r}, {name!r}')} for the configuration"
    return (f"{ref}: not in this machine's datasets cache ({cache}) or hub cache ({hub_cache}){also}, and the "
            f"workbench never downloads; on a connected machine run {fetch} (or hf download --repo-type dataset "
            f"{ref.path}), then copy its ~/.cache/huggingface here or point HF_HOME at the copy")


def _base_split(split: str | None) -> str | None:
    """A split's name without its slice: "test[:200]" -> "test"."""
    return split.split("[", 1)[0] if split else split


def _first(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__


# ---- reading a split ----------------------------------------------------------------------------------------------


def _dataset(found: _Found, max_bytes: int) -> Any:
    """The split ``found.ref`` names, as a ``datasets.Dataset`` (memory-mapped; bounded before it is read)."""
    ref = found.ref
    splits = found.splits()
    split = ref.split
    if split is None:
        if len(splits) != 1:
            raise DataError(f"{ref}: the dataset has splits {', '.join(splits)}; name one, e.g. "
                            f"{HubRef(ref.path, ref.name, splits[0] if splits else 'train')}")
        split = splits[0]
    base = _base_split(split)
    if base not in splits:
        raise DataError(f"{ref}: no split {base!r}; it has {', '.join(splits) or 'none'}")
    datasets = offline()
    with _quiet(datasets):
        try:
            if found.saved is not None:
                dataset = found.saved[base] if hasattr(found.saved, "keys") else found.saved
                return _sliced(datasets, dataset, split, base)
            if found.files is not None:
                size = sum(_size(p) for p in found.files[base])
                if size > max_bytes:
                    raise DataError(f"{ref}: split {base!r} is {size / 1e6:.3g} MB of files, over the "
                                    f"{max_bytes / 1e6:.3g} MB limit; slice it, e.g. {HubRef(ref.path, ref.name, base + '[:1000]')}")
                found.builder.download_and_prepare()
            return found.builder.as_dataset(split=split)
        except DataError:
            raise
        except (OSError, ValueError, KeyError, TypeError, AssertionError) as err:
            raise DataError(f"{ref}: cannot read split {split!r} ({_first(err)})") from None


def _sliced(datasets: Any, dataset: Any, split: str, base: str) -> Any:
    """A saved split sliced as ``datasets`` slices a builder's ("train[:100]", "train[10%:20%]")."""
    if split == base:
        return dataset
    instructions = datasets.ReadInstruction.from_spec(split).to_absolute({base: len(dataset)})
    return datasets.concatenate_datasets([dataset.select(range(i.from_, i.to)) for i in instructions])


def _size(path: str) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


def _rows(ref: HubRef, dataset: Any, max_bytes: int) -> list[tuple[int, dict[str, Any]]]:
    """The split's rows, read in Arrow batches through the file loader's bound (decoded bytes)."""
    limit = PARQUET_EXPANSION * max_bytes
    if dataset.data.nbytes > limit and len(dataset) == dataset.data.num_rows:
        raise DataError(f"{ref}: the split holds {dataset.data.nbytes / 1e6:.3g} MB of data, over the "
                        f"{limit / 1e6:.3g} MB limit; slice it, e.g. "
                        f"{HubRef(ref.path, ref.name, (_base_split(ref.split) or 'train') + '[:1000]')}")
    table = dataset.with_format("arrow")[:]
    return arrow_rows(str(ref), list(table.column_names), table.to_batches(max_chunksize=_BATCH), limit)


def hf_splits(path: str, name: str | None = None) -> tuple[str, ...]:
    """The splits of a dataset as found offline (``hf_splits("glue", "sst2")`` -> ("train", "validation",
    "test")); a dataset that is not here is one line naming the command that fetches it."""
    return _find(HubRef(path, name)).splits()


def load_hf_rows(path: str, name: str | None, split: str, *, allow_folder: bool = True,
                 max_bytes: int = MAX_POOL_BYTES) -> list[dict]:
    """The rows of one split as ``datasets`` gives them (a ClassLabel column as its integers), read offline from
    the caches or a folder (``allow_folder=False``: hub ids only, for files that name datasets).

    ``path`` is a hub id ("glue", "stanfordnlp/imdb", "nyu-mll/glue") or a folder; ``name`` the configuration;
    ``split`` may be sliced ("test[:200]"). Raises :class:`DataError` (one line) when it is not here, has no such
    configuration or split, holds a loading script, or is over the file loader's size bound.
    """
    ref = _checked(path, name, split)
    found = _find(ref, allow_folder=allow_folder)
    return [row for _, row in _rows(found.ref, _dataset(found, max_bytes), max_bytes)]


def hub_table(source: str, max_bytes: int = MAX_POOL_BYTES) -> RawTable:
    """An ``hf:`` source's rows as a :class:`RawTable`, each ClassLabel value as its name (a value without one,
    such as GLUE's -1 for a hidden test label, empty): what :func:`~workbench.data.files.read_rows` returns for
    ``hf:`` so that the column mapping, shapes and label maps are a file's."""
    found = _find(parse_ref(source))
    dataset = _dataset(found, max_bytes)
    shown = HubRef(found.ref.path, found.ref.name, found.ref.split or _only(found))
    rows = _rows(shown, dataset, max_bytes)
    names = _class_names(dataset.features)
    if names:
        for _, row in rows:
            for column, labels in names.items():
                value = row.get(column)
                row[column] = labels[value] if isinstance(value, int) and 0 <= value < len(labels) else None
    return RawTable(str(shown), "parquet", tuple(row for _, row in rows), tuple(n for n, _ in rows), "row")


def _only(found: _Found) -> str | None:
    splits = found.splits()
    return splits[0] if len(splits) == 1 else None


def _class_names(features: Any) -> dict[str, list[str]]:
    """Column -> label names for each top-level ClassLabel column."""
    from datasets import ClassLabel

    return {column: list(feature.names) for column, feature in (features or {}).items()
            if isinstance(feature, ClassLabel)}
