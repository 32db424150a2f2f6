"""The prompt-set library in the store: save new versions, import with a free name, find, diff, search.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import DataError
from workbench.promptsets.files import classroom_sets, from_dict, to_yaml
from workbench.promptsets.folder import list_folder, load_any, with_versions
from workbench.promptsets.model import PromptSet
from workbench.store import MAX_NAME_LENGTH

if TYPE_CHECKING:
    from workbench.store import Store

def free_name(store: Store, name: str) -> str:
    """``name`` if no set holds it, else the first free "name (2)", "name (3)", ... (shortened to fit the limit)."""
    name = " ".join(name.split())[:MAX_NAME_LENGTH].strip()
    if not name or not store.exists(name):
        return name
    base = re.sub(r" \(\d+\)$", "", name)
    n = 2
    while True:
        suffix = f" ({n})"
        candidate = base[: MAX_NAME_LENGTH - len(suffix)].rstrip() + suffix
        if not store.exists(candidate):
            return candidate
        n += 1


def save(store: Store, pset: PromptSet, note: str = "", *, new: bool = False) -> int:
    """Save as the next version of the set named ``pset.name`` (``new``: refuse a taken name); returns it."""
    return store.save_set(pset.name, pset.to_dict(), pset.tags, note, new=new)


def import_set(store: Store, pset: PromptSet, name: str | None = None, note: str = "Imported", *,
               rename: bool = False) -> str:
    """Add an imported set as a new library set and return its name; never overwrites an existing set.

    A taken name is refused with a free one suggested, or with ``rename`` the set is saved
    under that free name ("name (2)") -- the caller says so to the user.
    """
    name = (name or pset.name).strip()
    if store.exists(name):
        if not rename:
            raise DataError(f"A prompt set named {name!r} already exists; import it as {free_name(store, name)!r} "
                            "or choose another name.")
        name = free_name(store, name)
    save(store, pset.renamed(name), note, new=True)
    return name


def get(store: Store, name: str, version: int | None = None) -> tuple[PromptSet, int]:
    """A library set (default: its latest version) and the version number; its name is the library's."""
    document, found = store.get_set(name, version)
    names = [s.name for s in store.list_sets(include_deleted=True)]
    wanted = name.strip()
    # The store compares names as SQLite's NOCASE does: ASCII letters only.
    real = wanted if wanted in names else next((n for n in names if _ascii_fold(n) == _ascii_fold(wanted)), wanted)
    return from_dict(document, f"{real} v{found}").renamed(real), found


def _ascii_fold(text: str) -> str:
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def diff_versions(store: Store, name: str, old: int, new: int) -> str:
    """Unified diff of two versions' YAML ("" when they are equal)."""
    a, _ = get(store, name, old)
    b, _ = get(store, name, new)
    lines = difflib.unified_diff(to_yaml(a).splitlines(keepends=True), to_yaml(b).splitlines(keepends=True),
                                 fromfile=f"{name} v{old}", tofile=f"{name} v{new}")
    return "".join(lines)


def step_models(pset: PromptSet) -> tuple[str, ...]:
    """The distinct model ids the steps name, in order ("" = whichever model is picked)."""
    return tuple(dict.fromkeys(s.model for s in pset.steps))



def find_set(store: Store, ref: str, version: int | None = None) -> tuple[PromptSet, str]:
    """The set ``ref`` names and where it came from: a prompt-set file path, a saved set, or a classroom set.

    A classroom set is named by its file stem (``zero_vs_few_shot``) or its title.
    """
    ref = ref.strip()
    if not ref:
        raise DataError("Name a prompt set: a saved set, a classroom set, or a .yaml/.json file.")
    path = Path(ref)
    if path.suffix.lower() in (".yaml", ".yml", ".json") or (len(ref) < 4096 and path.is_file()):
        if version is not None:
            raise DataError("--version picks a version of a saved set; a file has no versions.")
        return load_any(path), f"file {path.name}"
    if len(ref) <= MAX_NAME_LENGTH and "\n" not in ref and store.exists(ref):
        pset, found = get(store, ref, version)
        return pset, f"library, version {found}"
    if version is not None:
        raise DataError(f"There is no saved prompt set named {ref!r}; versions belong to saved sets.")
    classroom = classroom_sets()
    for key, pset in classroom.items():
        if ref.casefold() in (key.casefold(), pset.name.casefold()):
            return pset, f"classroom set {key}"
    raise DataError(f"No prompt set named {ref!r} in the library or the classroom sets, and no such file; "
                    "see `python -m workbench sets list`.")


def matches(pset: PromptSet, search: str) -> bool:
    """True when ``search`` is empty or in the set's name or one of its tags (case-insensitive)."""
    needle = search.strip().casefold()
    return not needle or needle in pset.name.casefold() or any(needle in t.casefold() for t in pset.tags)


def library_entries(store: Store, search: str = "", include_deleted: bool = False,
                    folder: Path | None = None) -> list[dict[str, Any]]:
    """Classroom sets, then the prompt files of ``folder`` (none when None), then saved sets, whose name or a tag
    matches ``search``: one plain row each.

    ``ref`` is what :func:`find_set` takes (a classroom set's file stem, a file's path, a saved set's name). A file
    that cannot be read is a row with its one-line ``error`` (and the search matches its path).
    """
    rows: list[dict[str, Any]] = []
    for key, pset in classroom_sets().items():
        if matches(pset, search):
            rows.append({"source": "classroom", "ref": key, "name": pset.name, "version": None,
                         "tags": list(pset.tags), "description": pset.description, "deleted": False})
    if folder is not None:
        for f in with_versions(store, folder, list_folder(folder)):
            if f.pset is None:
                if search.strip().casefold() in f.path.casefold():
                    rows.append({"source": "file", "ref": str(Path(folder) / f.path), "name": f.path,
                                 "version": None, "tags": [], "description": f"unreadable: {f.error}",
                                 "deleted": False, "error": f.error})
            elif matches(f.pset, search):
                rows.append({"source": "file", "ref": str(Path(folder) / f.path), "name": f.pset.name,
                             "version": f.version, "tags": list(f.pset.tags), "description": f.pset.description,
                             "deleted": False})
    for info in store.list_sets(search, include_deleted=include_deleted):
        rows.append({"source": "library", "ref": info.name, "name": info.name, "version": info.version,
                     "tags": list(info.tags), "description": info.note, "deleted": info.deleted})
    return rows
