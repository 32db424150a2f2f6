"""AppTest of a classroom server (WORKBENCH_CLASSROOM=1): each session its own workspace in the Library, the teacher
passcode box (ui.classroom.sidebar), and the run history helpers the Evaluate page calls.

Every AppTest is its own session with no browser cookie, so each is a new browser: a new workspace.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from workbench.classroom import Access, acting_as
from workbench.promptsets.files import classroom_sets
from workbench.promptsets.library import save
from workbench.store import open_store

PASSCODE = "correct horse battery"
DEMO = "classroom:zero_vs_few_shot"
#: The Library page as app.py runs it on a classroom server: the classroom sidebar first, then the page.
LIBRARY_WITH_SIDEBAR = f"""
import runpy
from ui.classroom import sidebar
sidebar()
runpy.run_path({str(ROOT / "views/6_Library.py")!r}, run_name="__main__")
"""


@pytest.fixture(autouse=True)
def classroom(monkeypatch):
    monkeypatch.setenv("WORKBENCH_CLASSROOM", "1")
    monkeypatch.setenv("WORKBENCH_TEACHER_PASSCODE", PASSCODE)


def library(with_sidebar: bool = False) -> AppTest:
    if with_sidebar:
        return AppTest.from_string(LIBRARY_WITH_SIDEBAR, default_timeout=180).run()
    return AppTest.from_file(str(ROOT / "views/6_Library.py"), default_timeout=180).run()


def saved_options(at: AppTest) -> list[str]:
    return [o for o in at.selectbox(key="lib_pick").options if o.startswith("💾")]


def save_a_copy(at: AppTest, name: str) -> AppTest:
    at.selectbox(key="lib_pick").set_value(DEMO).run()
    at.text_input(key="lib_copy_name").set_value(name).run()
    at.button(key="lib_save_copy").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="lib_pick").value == f"library:{name}"
    return at


def test_a_students_saved_set_is_theirs_alone():
    student_a = save_a_copy(library(), "A's copy")
    assert saved_options(student_a) == ["💾 A's copy"]
    assert [b.key for b in student_a.button if b.key in ("lib_rename", "lib_delete")] == ["lib_rename", "lib_delete"]

    student_b = library()
    assert saved_options(student_b) == []  # another browser: not listed
    assert not student_b.exception and not student_b.error
    with open_store() as store:  # A's set, in A's workspace
        (info,) = store.list_sets()
        assert info.name == "A's copy" and info.workspace == student_a.session_state["classroom_ws"]
        assert info.workspace != student_b.session_state["classroom_ws"]


def test_a_shared_set_is_read_only_for_a_student_who_saves_a_copy():
    with open_store() as store:  # the teacher's, saved before class
        save(store, classroom_sets()["demo_order"].renamed("Lesson"), "first")
    at = library()
    assert saved_options(at) == ["💾 Lesson · shared, read-only"]
    at.selectbox(key="lib_pick").set_value("library:Lesson").run()
    assert not at.exception and not at.error
    keys = {b.key for b in at.button}
    assert {"lib_rename", "lib_delete", "lib_save_version", "lib_restore"}.isdisjoint(keys)
    assert "lib_save_copy" in keys
    assert any("shared by the teacher and read-only here" in c.value for c in at.caption)
    at.text_input(key="lib_copy_name").set_value("My lesson").run()
    at.button(key="lib_save_copy").click().run()
    assert at.selectbox(key="lib_pick").value == "library:My lesson"
    assert {"lib_rename", "lib_delete"} <= {b.key for b in at.button}  # the copy is the student's own


def test_the_teacher_passcode_shows_every_workspace_and_may_delete_a_students_set():
    student = save_a_copy(library(), "Student work")
    workspace = student.session_state["classroom_ws"]

    teacher = library(with_sidebar=True)
    assert saved_options(teacher) == []  # not yet the teacher: another browser
    teacher.text_input(key="classroom_passcode").set_value("guess").run()
    assert [e.value for e in teacher.error] == ["That is not the teacher passcode."]
    assert saved_options(teacher) == []
    teacher.text_input(key="classroom_passcode").set_value(PASSCODE).run()
    assert not teacher.error and not teacher.exception
    assert teacher.session_state["classroom_teacher"] is True
    assert any(s.value.startswith("Teacher mode: you see every workspace") for s in teacher.success)
    shown = [*(t.value for t in teacher.text_input), *(m.value for m in teacher.markdown),
             *(c.value for c in teacher.caption), *(s.value for s in teacher.success)]
    assert not [t for t in shown if PASSCODE in str(t)]  # never in the page ...
    kept = teacher.session_state
    assert not [k for k in ("classroom_passcode", "_kept_widgets") if k in kept and PASSCODE in str(kept[k])]
    assert saved_options(teacher) == [f"💾 Student work · workspace {workspace[:6]}"]

    teacher.selectbox(key="lib_pick").set_value("library:Student work").run()
    teacher.button(key="lib_delete").click().run()
    teacher.button(key="lib_delete_yes").click().run()
    assert not teacher.error
    with open_store() as store:
        assert store.list_sets() == [] and store.exists("Student work")  # soft-deleted by the teacher

    teacher.button(key="classroom_leave").click().run()
    assert teacher.session_state["classroom_teacher"] is False
    assert teacher.text_input(key="classroom_passcode").value == ""


def test_loopback_has_no_passcode_box_and_sees_everything(monkeypatch):
    monkeypatch.delenv("WORKBENCH_CLASSROOM")
    with open_store() as store, acting_as(Access("someone-elses-browser-01")):
        store.save_set("Theirs", {"schema_version": 1, "name": "Theirs", "steps": [{"title": "t"}]})
    at = library(with_sidebar=True)
    assert not at.exception
    assert "classroom_passcode" not in [t.key for t in at.text_input]
    assert not [e for e in at.sidebar if getattr(e, "label", None) == "Teacher"]
    assert saved_options(at) == ["💾 Theirs"]


RUNS = """
import streamlit as st
from ui.classroom import can_delete_run, sidebar, visible_runs
from ui.common import app_store
sidebar()
for run in visible_runs(app_store()):
    st.write(f"run {run.run_id} deletable={can_delete_run(run)}")
"""


def test_the_run_history_helpers_show_a_student_their_own_runs_and_the_teacher_all():
    at = AppTest.from_string(RUNS, default_timeout=60).run()
    mine = Access(at.session_state["classroom_ws"])
    with open_store() as store:
        shared = store.create_run({"model": "before class"})
        with acting_as(mine):
            own = store.create_run({"model": "m"})
        with acting_as(Access("another-students-browser")):
            store.create_run({"model": "theirs"})
    at.run()
    assert [m.value for m in at.markdown] == [f"run {own} deletable=True"]
    at.text_input(key="classroom_passcode").set_value(PASSCODE).run()
    lines = [m.value for m in at.markdown]
    assert len(lines) == 3 and lines[-1] == f"run {shared} deletable=True"
