"""Library page: the prompts folder's files (:mod:`workbench.promptsets.folder`) -- listed beside the shipped and
saved sets, read again on every run of the page (an edit on disk is a new version at once), edited and saved
back atomically, their versions compared; any set written to the folder as a file.

Every widget key starts with ``lib_``; actions are button callbacks that flash their outcome
(:func:`ui.library_manage.show_flash`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from ui import classroom as workspaces
from ui.common import untrusted_markdown as md
from ui.common import user_errors
from workbench.errors import DataError
from workbench.promptsets.files import loads, to_yaml
from workbench.promptsets.folder import (
    PromptFile,
    default_prompts_dir,
    file_diff,
    file_history_key,
    file_name,
    list_folder,
    save_file,
    with_versions,
)
from workbench.promptsets.model import PromptSet
from workbench.store import Store

#: A picker ref of a file: this prefix and its path in the folder.
FILE = "file:"


def listing(store: Store) -> tuple[Path, list[PromptFile]]:
    """The prompts folder and its files read now, each with its version (new content: a new version)."""
    folder = default_prompts_dir()
    return folder, with_versions(store, folder, list_folder(folder))


def problems(files: list[PromptFile]) -> None:
    """One red box naming every file that could not be read, and why (the others are listed as usual)."""
    bad = [f for f in files if f.pset is None]
    if bad:
        st.error(md("Some files in the prompts folder could not be read:\n\n"
                    + "\n".join(f"- `{f.path}`: {f.error}" for f in bad)), icon="⚠️")


def may_write() -> bool:
    """Whether this session may write the prompts folder: always off a classroom server, the teacher on one."""
    who = workspaces.access()
    return who is None or who.teacher


def find(files: list[PromptFile], ref: str) -> PromptFile:
    """The listed file a picker ref names; its one-line error when it could not be read."""
    path = ref.removeprefix(FILE)
    found = next((f for f in files if f.path == path), None)
    if found is None:
        raise DataError(f"{path} is no longer in the prompts folder; it was moved or deleted on disk.")
    if found.pset is None:
        raise DataError(found.error)
    return found


# --------------------------------------------------------------------------- editing a file

def manage_file(opened) -> None:
    """A file's editor: its YAML as on disk; saving checks it and writes the file atomically."""
    if not opened.can_change:
        st.caption("A spec file is edited in your editor or the Prompt Builder; save a copy to change it here."
                   if opened.kind == "spec" else "Only the teacher writes the prompts folder on a classroom server; "
                   "save a copy to your workspace to change it.")
        return
    folder = Path(opened.folder)
    with st.expander("Edit the file (saving writes it; the Library shows it as a new version)"):
        with user_errors("Reading the file"):
            st.text_area(f"{opened.file} (YAML)", value=(folder / opened.file).read_text(encoding="utf-8"),
                         height=360, key="lib_file_yaml")
        st.button("Save the file", key="lib_save_file", on_click=_save_file, args=(opened,))


def _save_file(opened) -> None:
    from ui.library_manage import _flash, _flash_error

    workspaces.access()
    text = st.session_state.get("lib_file_yaml", "")
    with user_errors("Saving the file", show=_flash_error):
        if not may_write():
            raise DataError("Only the teacher writes the prompts folder on a classroom server.")
        loads(text, "yaml", source=opened.file)  # checked before anything is written
        save_file(Path(opened.folder), opened.file, text, overwrite=True)
        _flash("success", f"Saved {opened.file}.")


def save_to_folder_row(store: Store, pset: PromptSet) -> None:
    """Write any open set to the prompts folder as a new file (an existing file is never replaced)."""
    if not may_write():
        return
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    c1.text_input(f"File name in the prompts folder ({default_prompts_dir()})", value=file_name(pset),
                  key="lib_file_name")
    c2.button("Save to the prompts folder", key="lib_save_to_folder", on_click=_save_new_file, args=(pset,),
              width="stretch")


def _save_new_file(pset: PromptSet) -> None:
    from ui.library_manage import _flash, _flash_error, _select

    workspaces.access()
    rel = st.session_state.get("lib_file_name", "").strip()
    with user_errors("Saving to the prompts folder", show=_flash_error):
        if not may_write():
            raise DataError("Only the teacher writes the prompts folder on a classroom server.")
        path = save_file(default_prompts_dir(), rel, to_yaml(pset), overwrite=False)
        _select(FILE + rel)
        _flash("success", f"Wrote {path}; it is open now.")


# --------------------------------------------------------------------------- versions of a file

def versions_file(store: Store, opened) -> None:
    """Every content the file has had (a version each time it changed on disk or was saved), and a diff."""
    folder = Path(opened.folder)
    versions = store.versions(file_history_key(folder, opened.file))
    st.dataframe(pd.DataFrame([{"version": v.version, "seen at": v.created_at, "note": v.note}
                               for v in versions]), hide_index=True, width="stretch")
    numbers = [v.version for v in versions]
    if len(numbers) < 2:
        st.caption("One version so far: edit the file (here or on disk) to start a history.")
        return
    c1, c2 = st.columns(2)
    a = c1.selectbox("Compare version", numbers, index=len(numbers) - 2, key="lib_diff_a")
    b = c2.selectbox("with version", numbers, index=len(numbers) - 1, key="lib_diff_b")
    with user_errors("Comparing the versions"):
        st.code(file_diff(store, folder, opened.file, a, b) or "The two versions are identical.", language="diff")
