"""Library page: what changes the library (save a copy, rename, delete, edit as a new version, restore a version,
import) and what leaves it (the Export tab).

Actions run as button callbacks, so the set they produce is already the open one when the page draws; their
outcome is shown once as a "flash" message (:func:`show_flash`). Every widget key starts with ``lib_``.
"""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from ui import classroom as workspaces
from ui import library_files as files
from ui.common import untrusted_markdown as md
from ui.common import user_errors
from ui.library import CLASSROOM, SAVED, Opened, indexes, inputs_of, on_pick
from workbench.promptsets.exports import JSONL_SHAPES, render_jsonl, results_csv
from workbench.promptsets.files import loads, to_json, to_yaml
from workbench.promptsets.library import diff_versions, free_name, import_set, save
from workbench.promptsets.model import PromptSet
from workbench.store import Store
from workbench.words import plural

# --------------------------------------------------------------------------- flash messages

def _flash(kind: str, message: str) -> None:
    st.session_state["lib_flash"] = (kind, message)


def _flash_error(message: str) -> None:
    _flash("error", message)


def show_flash(store: Store) -> None:
    """The last action's outcome, once; a deleted set offers Undo."""
    kind, message = st.session_state.pop("lib_flash", (None, None))
    message = md(message or "")
    if kind == "error":
        st.error(message, icon="⚠️")
    elif kind == "success":
        st.success(message, icon="✅")
    elif kind == "info":
        st.info(message, icon="ℹ️")
    deleted = st.session_state.get("lib_deleted")
    if deleted:
        c1, c2 = st.columns([4, 1])
        c1.caption(md(f"Deleted {deleted!r}."))
        c2.button("Undo delete", key="lib_undo", on_click=_undelete, args=(store, deleted))


def _select(ref: str | None) -> None:
    """Open another set (callbacks only: before the picker is drawn)."""
    on_pick()
    st.session_state["lib_pick"] = ref


def _run_action(what: str, action, success: str, ref: str | None = None) -> None:
    """A button callback's action; its outcome (or its one-line error) is flashed on the next run."""
    workspaces.access()  # callbacks run before the page script: act as this browser's workspace
    with user_errors(what, show=_flash_error):
        action()
        _flash("success", success)
        if ref is not None:
            _select(ref)


# --------------------------------------------------------------------------- managing sets

def manage_view(store: Store, opened: Opened) -> None:
    """Save a copy / duplicate, rename, delete (with confirmation), edit as a new version."""
    ss = st.session_state
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    suggestion = free_name(store, opened.pset.name if opened.saved is None else f"{opened.saved} copy")
    c1.text_input("Name of the copy", value=suggestion, key="lib_copy_name")
    c2.button("Save a copy to my library" if opened.saved is None else "Duplicate", key="lib_save_copy",
              on_click=_save_copy, args=(store, opened), width="stretch")
    if opened.file is not None:
        files.manage_file(opened)
        return
    files.save_to_folder_row(store, opened.pset)
    if opened.saved is None:
        st.caption("Classroom sets are read-only: save a copy to rename, edit and version it.")
        return
    if not opened.can_change:
        st.caption("This set is shared by the teacher and read-only here: save a copy to your workspace to rename, "
                   "edit and version it.")
        return
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    c1.text_input("New name", value=opened.saved, key="lib_rename_name")
    c2.button("Rename", key="lib_rename", on_click=_rename, args=(store, opened.saved), width="stretch")
    with st.expander("Edit as YAML (saving adds a new version)"):
        st.text_area("Prompt set (YAML)", value=to_yaml(opened.pset), height=360, key="lib_yaml")
        st.text_input("What changed (version note)", key="lib_note")
        st.button("Save as a new version", key="lib_save_version", on_click=_save_version, args=(store, opened.saved))
    if ss.get("lib_confirm_delete") == opened.saved:
        st.warning(md(f"Delete {opened.saved!r}? It leaves the library; you can undo right after."), icon="🗑️")
        c1, c2 = st.columns(2)
        c1.button("Yes, delete it", key="lib_delete_yes", type="primary", on_click=_delete, args=(store, opened.saved))
        c2.button("Cancel", key="lib_delete_no", on_click=ss.pop, args=("lib_confirm_delete", None))
    else:
        st.button("Delete…", key="lib_delete", on_click=ss.__setitem__, args=("lib_confirm_delete", opened.saved))


def _save_copy(store: Store, opened: Opened) -> None:
    name = st.session_state.get("lib_copy_name", "").strip()

    def act() -> None:
        if opened.file is not None:
            save(store, opened.pset.renamed(name), f"Copy of the file {opened.file}", new=True)
        elif opened.saved is None:
            key = opened.ref.removeprefix(CLASSROOM)
            save(store, opened.pset.renamed(name), f"Copy of the classroom set {key}", new=True)
        else:
            store.duplicate(opened.saved, name)

    _run_action("Saving a copy", act, f"Saved a copy as {name!r}; it is open now.", SAVED + name)


def _rename(store: Store, old: str) -> None:
    new = st.session_state.get("lib_rename_name", "").strip()
    _run_action("Renaming the set", lambda: store.rename(old, new), f"Renamed {old!r} to {new!r}.", SAVED + new)


def _save_version(store: Store, name: str) -> None:
    workspaces.access()
    ss = st.session_state
    text, note = ss.get("lib_yaml", ""), ss.get("lib_note", "").strip() or "Edited in the Library"
    with user_errors("Saving the version", show=_flash_error):
        version = save(store, loads(text, "yaml", source="edited set").renamed(name), note)
        _select(SAVED + name)
        _flash("success", f"Saved version {version} of {name!r}.")


def _delete(store: Store, name: str) -> None:
    workspaces.access()
    with user_errors("Deleting the set", show=_flash_error):
        store.delete(name)
        _select(None)
        st.session_state["lib_deleted"] = name


def _undelete(store: Store, name: str) -> None:
    st.session_state.pop("lib_deleted", None)
    _run_action("Undoing the delete", lambda: store.undelete(name), f"{name!r} is back.", SAVED + name)


# --------------------------------------------------------------------------- versions

def versions_view(store: Store, opened: Opened) -> None:
    """Every version, a diff of any two, and restoring one (as a new version)."""
    if opened.file is not None:
        files.versions_file(store, opened)
        return
    if opened.saved is None:
        st.caption("Classroom sets have no history; save a copy to start one.")
        return
    versions = store.versions(opened.saved)
    st.dataframe(pd.DataFrame([{"version": v.version, "saved at": v.created_at, "note": v.note,
                                "tags": ", ".join(v.tags)} for v in versions]), hide_index=True, width="stretch")
    numbers = [v.version for v in versions]
    if len(numbers) < 2:
        st.caption("One version so far: edit and save to start a history.")
        return
    c1, c2 = st.columns(2)
    a = c1.selectbox("Compare version", numbers, index=len(numbers) - 2, key="lib_diff_a")
    b = c2.selectbox("with version", numbers, index=len(numbers) - 1, key="lib_diff_b")
    with user_errors("Comparing the versions"):
        diff = diff_versions(store, opened.saved, a, b)
        st.code(diff or "The two versions are identical.", language="diff")
    if not opened.can_change:
        return
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    c1.selectbox("Restore version", numbers[:-1], index=len(numbers) - 2, key="lib_restore_v")
    c2.button("Restore", key="lib_restore", on_click=_restore, args=(store, opened.saved), width="stretch")


def _restore(store: Store, name: str) -> None:
    workspaces.access()
    version = int(st.session_state.get("lib_restore_v") or 0)
    with user_errors("Restoring the version", show=_flash_error):
        new = store.restore(name, version)
        _select(SAVED + name)
        _flash("success", f"Restored version {version} of {name!r} as version {new}.")


# --------------------------------------------------------------------------- export and import

def slug(name: str) -> str:
    """A file name for a set: letters, digits, - and _ only."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")[:60] or "prompt_set"


def export_view(opened: Opened) -> None:
    """Downloads: the set as YAML / JSON, its rendered prompts as JSONL, the last run's results as CSV."""
    pset, name = opened.pset, slug(opened.pset.name)
    c1, c2 = st.columns(2)
    c1.download_button("⬇ YAML (the set)", to_yaml(pset), f"{name}.yaml", "application/x-yaml", key="lib_dl_yaml",
                       width="stretch")
    c2.download_button("⬇ JSON (the set)", to_json(pset), f"{name}.json", "application/json", key="lib_dl_json",
                       width="stretch")
    st.markdown("**Rendered prompts (JSONL)**, one line per step and input, for batch inference elsewhere")
    c1, c2 = st.columns(2)
    shape = c1.radio("Shape", JSONL_SHAPES, horizontal=True, key="lib_jsonl_shape",
                     format_func={"raw": 'raw text {"prompt": …}', "chat": 'chat {"messages": […]}'}.get)
    meta = c2.toggle('Add "meta" (set, step, input, expected)', key="lib_jsonl_meta")
    inputs = inputs_of(pset)
    if not inputs:  # a set may come without test inputs: a note, not an error
        st.info("This set has no test inputs, so there are no prompts to render yet: give it inputs (Edit) to "
                "export them as JSONL.", icon="ℹ️")
    else:
        with user_errors("Rendering the JSONL"):
            jsonl = render_jsonl(pset, inputs, shape=shape, indexes=indexes, meta=meta)
            st.download_button(f"⬇ JSONL ({shape})", jsonl, f"{name}.{shape}.jsonl", "application/jsonl",
                               key="lib_dl_jsonl")
    held = st.session_state.get("lib_results")
    if held is not None and held[0] == opened.ref:
        st.download_button("⬇ Results (CSV)", results_csv(held[1]), f"{name}.results.csv", "text/csv",
                           key="lib_dl_csv")
    else:
        st.caption("Run the set to export its results as CSV.")


def importer(store: Store) -> None:
    """Upload a YAML/JSON prompt set; it is checked first, and never overwrites a saved set."""
    with st.expander("Import a prompt set (YAML or JSON)", expanded=st.session_state.get("lib_pick") is None):
        upload = st.file_uploader("A prompt-set file someone shared", type=["yaml", "yml", "json"], key="lib_upload",
                                  on_change=st.session_state.pop, args=("lib_import_name", None))
        if upload is None:
            return
        with user_errors("Reading the file"):
            pset = loads(upload.getvalue(), source=upload.name)
            st.success(md(f"{upload.name}: {pset.name!r} · {plural(len(pset.steps), 'step')} · "
                          f"{plural(len(pset.tests), 'test input')} · checked, nothing in it runs."), icon="✅")
            c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
            name = c1.text_input("Save as", value=pset.name, key="lib_import_name").strip()
            c2.button("Import", key="lib_import", type="primary", on_click=_import, args=(store, pset),
                      width="stretch")
            if name and store.exists(name):
                st.info(md(f"{name!r} is taken; the import will be saved as {free_name(store, name)!r}."))


def _import(store: Store, pset: PromptSet) -> None:
    workspaces.access()
    wanted = st.session_state.get("lib_import_name", "").strip() or pset.name
    with user_errors("Importing the set", show=_flash_error):
        name = import_set(store, pset, wanted, rename=True)
        _select(SAVED + name)
        if name.casefold() != wanted.casefold():
            _flash("info", f"A set named {wanted!r} already exists, so the import was saved as {name!r}; "
                           "nothing was overwritten.")
        else:
            _flash("success", f"Imported {name!r}; it is open now.")
