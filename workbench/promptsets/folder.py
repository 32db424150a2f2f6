"""The prompts folder: prompt sets and specs as YAML files a user edits and diffs in git, listed beside the
store's sets, each file's content a version in the store, saved atomically.

The folder is ``WORKBENCH_PROMPTS_DIR``, else the ``prompts/`` folder of the current project (the working
directory) when it exists, else ``prompts/`` in the user data folder (:func:`prompts_dir`). Every file is
untrusted: read by the bounded reader and loaders every file goes through, a link that points out of the folder
refused; a file that cannot be read is one line naming it and why (:attr:`PromptFile.error`), and never stops the
listing of the others. A spec file (``name``/``spec``/``demos``, :mod:`workbench.prompts.files`) is listed as a
one-step set (its example as the test input).

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "broken.yaml").write_bytes(b"\\xff\\xfe not text")
    >>> [(f.path, f.error) for f in list_folder(folder)]
    [('broken.yaml', 'broken.yaml is not UTF-8 text (offset 0); save it as UTF-8.')]
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.atomic import write_text_atomic
from workbench.errors import DataError, WorkbenchError
from workbench.prompts.files import parse_spec_file, shipped_prompts_dir
from workbench.promptsets.files import dumps, loads
from workbench.promptsets.model import DEFAULT_LIMITS, PromptSet, Step, TestCase
from workbench.safeload import Bounds, load_document, read_file

if TYPE_CHECKING:
    from workbench.store import Store

#: The file names the folder lists (sets and specs are YAML; a set may also be JSON).
SUFFIXES = (".yaml", ".yml", ".json")
#: A JSON Schema beside the files (``workbench schema > prompts/workbench.schema.json``) is not a prompt file.
SCHEMA_SUFFIX = ".schema.json"
#: Most files one listing reads (the rest are left out, said in one line): a prompts folder is tens of files.
MAX_FILES = 500
#: Deepest sub-folder a listing walks into (prompts/classroom/x.yaml is depth 1).
MAX_DEPTH = 4


@dataclass(frozen=True)
class PromptFile:
    """One file of the prompts folder as read: a set (a spec as a one-step set), or why it could not be."""

    path: str  # relative to the folder, with "/" (what the Library shows and opens by)
    kind: str = ""  # "set" or "spec"; "" when the file could not be read
    pset: PromptSet | None = None  # the set it holds (None when unreadable)
    digest: str = ""  # sha256 of the canonical document: the content a version stands for ("" when unreadable)
    error: str = ""  # one line naming the file and the problem ("" when read)
    version: int | None = None  # its version in the store's history (set by :func:`with_versions`)
    changed: bool = False  # this listing found new content (a new version was recorded)


def prompts_dir(setting: str | None, cwd: Path | None = None, data_dir: Path | None = None) -> Path:
    """The prompts folder: ``setting`` (``WORKBENCH_PROMPTS_DIR``) when given, else ``cwd/prompts`` when it is a
    folder, else ``data_dir/prompts`` (the user data folder, where the store lives).

    >>> prompts_dir("~/p", Path("/x"), Path("/d")) == Path("~/p").expanduser()
    True
    >>> prompts_dir(None, Path("/no/such/project"), Path("/d"))
    PosixPath('/d/prompts')
    """
    if setting:
        return Path(setting).expanduser()
    local = (cwd if cwd is not None else Path.cwd()) / "prompts"
    if local.is_dir():
        return local
    if data_dir is None:
        from workbench.store.database import default_db_path

        data_dir = default_db_path().parent
    return data_dir / "prompts"


def default_prompts_dir() -> Path:
    """:func:`prompts_dir` with the process's setting, working directory and data folder."""
    from workbench import settings

    return prompts_dir(settings.get("WORKBENCH_PROMPTS_DIR"))


def content_digest(document: dict[str, Any]) -> str:
    """sha256 of a document's canonical JSON (sorted keys): equal for equal content, whatever the file's layout.

    >>> content_digest({"b": 1, "a": [2]}) == content_digest({"a": [2], "b": 1})
    True
    """
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _inside(folder: Path, path: Path) -> Path:
    """``path`` with links resolved, or a DataError line when it points out of ``folder``."""
    root, target = Path(os.path.realpath(folder)), Path(os.path.realpath(path))
    if root not in target.parents:
        raise DataError(f"{path.relative_to(folder).as_posix()} is a link that points out of the prompts folder "
                        f"{folder}; copy the file in instead.")
    return target


def spec_as_set(data: dict[str, Any], source: str) -> PromptSet:
    """A spec file's mapping as a one-step set: the spec, its demonstrations and checks, its example as the test
    input (:func:`workbench.prompts.files.parse_spec_file` validates it)."""
    spec = parse_spec_file(data, source)
    step = Step(title=spec.name, spec=spec.spec, demos=spec.demos, checks=tuple(c.to_dict() for c in spec.checks),
                threshold=spec.threshold)
    tests = (TestCase(spec.example),) if spec.example.strip() else ()
    return PromptSet(name=spec.name, steps=(step,), description=spec.description, tests=tests)


def is_set_document(data: Any) -> bool:
    """A prompt set says its ``schema_version`` or has ``steps``; anything else is read as a spec file."""
    return isinstance(data, dict) and ("schema_version" in data or "steps" in data)


def _parse(data: bytes, source: str, fmt: str) -> tuple[str, PromptSet]:
    """A prompt file's bytes as ("set" or "spec", the set), by the bounded loaders; one DataError line else."""
    limits = DEFAULT_LIMITS
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{source} is not UTF-8 text (offset {err.start}); save it as UTF-8.") from None
    bounds = Bounds(max_depth=limits.max_depth, max_string=limits.max_string, max_items=limits.max_items)
    document = load_document(text, source, fmt, bounds, what="prompt files", max_bytes=limits.max_bytes,
                             holder="a prompt file")
    if is_set_document(document):
        return "set", loads(text, fmt, source, limits)  # every bound of a set file, as `sets import` reads it
    return "spec", spec_as_set(document, source)


def _read(path: Path, source: str) -> bytes:
    limits = DEFAULT_LIMITS
    hint = "give a prompt-set or spec .yaml or .json file."
    return read_file(path, missing=hint, folder=hint, max_bytes=limits.max_bytes,
                     too_big=lambda _, size: f"{source} is {'over' if size is None else f'{size:,} bytes;'} "
                                             f"prompt files are limited to {limits.max_bytes:,} bytes.")


def _fmt(path: Path) -> str:
    return "json" if path.suffix.lower() == ".json" else "yaml"


def load_any(path: str | Path) -> PromptSet:
    """A prompt-set file, or a spec file as a one-step set (:func:`spec_as_set`); one DataError line else."""
    path = Path(path)
    return _parse(_read(path, path.name), path.name, _fmt(path))[1]


def read_prompt_file(folder: Path, path: Path) -> PromptFile:
    """One file of ``folder`` read: every problem is the returned file's one-line ``error``."""
    rel = path.relative_to(folder).as_posix()
    try:
        kind, pset = _parse(_read(_inside(folder, path), rel), rel, _fmt(path))
    except WorkbenchError as err:
        return PromptFile(rel, error=" ".join(str(err).split()))
    return PromptFile(rel, kind, pset, content_digest(pset.to_dict()))


def _candidates(folder: Path) -> tuple[list[Path], int]:
    """The folder's prompt files in name order (links not followed into folders; the shipped ``classroom/`` and
    ``specs/`` folders skipped, as the checkout's own ``prompts/`` holds them: they are listed as the shipped
    sets), at most MAX_FILES; and how many more were left out."""
    shipped = {os.path.realpath(shipped_prompts_dir() / part) for part in ("classroom", "specs")}
    found: list[Path] = []
    for top, dirs, files in os.walk(folder, followlinks=False):
        here = Path(top)
        depth = len(here.relative_to(folder).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and depth < MAX_DEPTH
                         and os.path.realpath(here / d) not in shipped)
        found += [here / f for f in sorted(files) if f.lower().endswith(SUFFIXES) and not f.startswith(".")
                  and not f.lower().endswith(SCHEMA_SUFFIX)]
    found.sort(key=lambda p: p.relative_to(folder).as_posix())
    return found[:MAX_FILES], max(0, len(found) - MAX_FILES)


def list_folder(folder: Path) -> list[PromptFile]:
    """Every prompt file of ``folder`` (none when it does not exist), each read or with its one-line error."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    paths, left_out = _candidates(folder)
    files = [read_prompt_file(folder, p) for p in paths]
    if left_out:
        files.append(PromptFile("…", error=f"{left_out} more files left out: a listing reads at most {MAX_FILES}."))
    return files


def with_versions(store: Store, folder: Path, files: list[PromptFile]) -> list[PromptFile]:
    """The files with their version in the store: a file whose content changed since it was last read gets a new
    version (noted "Changed on disk")."""
    from dataclasses import replace

    out = []
    for f in files:
        if f.pset is None:
            out.append(f)
            continue
        path = os.path.realpath(Path(folder) / f.path)
        version, new = store.file_version(path, f.pset.to_dict(), f"Read from {f.path} · content {f.digest[:12]}")
        out.append(replace(f, version=version, changed=new))
    return out


def file_history_key(folder: Path, rel: str) -> str:
    """The store's key of a file's history (see :data:`workbench.store.library.FILE_KEY_PREFIX`)."""
    from workbench.store.library import FILE_KEY_PREFIX

    return FILE_KEY_PREFIX + os.path.realpath(Path(folder) / rel)


def file_name(pset: PromptSet) -> str:
    """A file name for a set: letters, digits, - and _ of its name, then ``.yaml``.

    >>> file_name(PromptSet("Zero vs few-shot!", ()))
    'Zero_vs_few-shot.yaml'
    """
    import re

    return (re.sub(r"[^A-Za-z0-9_-]+", "_", pset.name).strip("_")[:60] or "prompt_set") + ".yaml"


def save_file(folder: Path, rel: str, text: str, *, overwrite: bool) -> Path:
    """Write a set's YAML ``text`` (already validated) to ``folder/rel`` atomically (a crash never leaves half a
    file); ``rel`` stays inside the folder, and an existing file is replaced only with ``overwrite``."""
    folder = Path(folder)
    path = folder / rel
    if Path(rel).is_absolute() or ".." in Path(rel).parts or not rel.lower().endswith(SUFFIXES):
        raise DataError(f"{rel!r} is not a prompt file name inside the prompts folder; give a name such as "
                        "my_set.yaml.")
    if path.exists() or path.is_symlink():
        _inside(folder, path)
        if not overwrite:
            raise DataError(f"{rel} already exists in the prompts folder {folder}; open it to change it, or choose "
                            "another name.")
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)
    return path


def save_set_file(folder: Path, pset: PromptSet, rel: str | None = None, *, overwrite: bool = False) -> Path:
    """A set written to the prompts folder as canonical YAML (default name: :func:`file_name`)."""
    return save_file(folder, rel or file_name(pset), dumps(pset, "yaml"), overwrite=overwrite)


def file_diff(store: Store, folder: Path, rel: str, old: int, new: int) -> str:
    """Unified diff of two recorded versions of a file's content, as canonical YAML ("" when equal)."""
    import difflib

    from workbench.promptsets.files import from_dict, to_yaml

    key = file_history_key(folder, rel)
    a, b = (to_yaml(from_dict(store.get_set(key, v)[0], f"{rel} v{v}")) for v in (old, new))
    return "".join(difflib.unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True),
                                        fromfile=f"{rel} v{old}", tofile=f"{rel} v{new}"))
