"""A classroom server (workbench.classroom): workspaces in the store, the teacher passcode, a fair share of the model.

The store tests act as a browser's workspace (``acting_as``) the way the app does for each script run; outside
``acting_as`` (the CLI) everything is visible, as before classroom mode existed.
"""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from workbench import classroom as cr
from workbench import store as store_module
from workbench.backends.base import ModelLock
from workbench.classroom import Access, QueueFull, acting_as
from workbench.errors import ConfigError, DataError
from workbench.store import SCHEMA_VERSION, open_store

A = Access("student-a-workspace-0001")
B = Access("student-b-workspace-0002")
TEACHER = Access("teacher-browser-00000003", teacher=True)
#: Seconds any wait here may take before the test fails (a hang is a failure, not a stuck suite).
BOUND_S = 60
WAITING = "You already have a generation waiting; wait for it or press Stop."


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "wb.db")
    yield s
    s.close()


# --------------------------------------------------------------------------- the store: sets

def test_a_students_set_is_invisible_and_untouchable_for_another_student(store):
    with acting_as(A):
        store.save_set("A's set", {"prompts": [1]}, tags=["mine"])
        assert [s.name for s in store.list_sets()] == ["A's set"]
        assert store.list_sets()[0].workspace == A.workspace
    with acting_as(B):
        assert store.list_sets() == [] and store.list_sets("mine") == []
        missing = "There is no prompt set named \"A's set\"; check the name in the library."
        for action in (lambda: store.get_set("A's set"), lambda: store.versions("A's set"),
                       lambda: store.rename("A's set", "stolen"), lambda: store.delete("A's set"),
                       lambda: store.restore("A's set", 1), lambda: store.duplicate("A's set", "copy")):
            with pytest.raises(DataError) as err:
                action()
            assert str(err.value) == missing
        with pytest.raises(DataError, match=r"^A prompt set named \"A's set\" already exists; choose another name\.$"):
            store.save_set("A's set", {"prompts": ["overwritten"]})  # the name is taken; nothing is overwritten
        assert store.exists("A's set")  # names stay unique across the store
    with acting_as(A):
        assert store.get_set("A's set") == ({"prompts": [1]}, 1)
        assert [v.version for v in store.versions("A's set")] == [1]


def test_the_teacher_sees_every_workspace_and_may_change_any_set(store):
    with acting_as(A):
        store.save_set("A's set", {"p": 1})
    with acting_as(TEACHER):
        assert [(s.name, s.workspace) for s in store.list_sets()] == [("A's set", A.workspace)]
        store.save_set("A's set", {"p": 2}, note="teacher's fix")
        store.rename("A's set", "Fixed")
        store.delete("Fixed")
        store.undelete("Fixed")
        store.save_set("Lesson 1", {"p": 0})  # the teacher's sets are shared
    with acting_as(A):
        assert store.get_set("Fixed") == ({"p": 2}, 2)  # still A's, renamed and edited by the teacher
        assert {s.name: s.workspace for s in store.list_sets()} == {"Fixed": A.workspace, "Lesson 1": None}
    assert {s.name for s in store.list_sets()} == {"Fixed", "Lesson 1"}  # the CLI: everything


def test_shared_sets_are_read_only_for_students_who_save_a_copy(store):
    store.save_set("Lesson", {"p": 1})  # saved outside classroom mode (the CLI, the teacher before class): shared
    with acting_as(A):
        assert store.get_set("Lesson") == ({"p": 1}, 1)
        assert store.may_change("Lesson") is False and store.set_workspace("Lesson") is None
        read_only = "The prompt set 'Lesson' is shared by the teacher and read-only here"
        for action in (lambda: store.rename("Lesson", "Mine now"), lambda: store.delete("Lesson"),
                       lambda: store.restore("Lesson", 1), lambda: store.save_set("Lesson", {"p": "vandal"})):
            with pytest.raises(DataError, match=f"^{read_only}"):
                action()
        assert store.duplicate("Lesson", "My lesson") == 1  # a copy in A's own workspace
        assert store.may_change("My lesson") and store.set_workspace("My lesson") == A.workspace
        store.save_set("My lesson", {"p": 2})
        store.rename("My lesson", "My lesson v2")
        store.delete("My lesson v2")
        store.undelete("My lesson v2")
    assert store.get_set("Lesson") == ({"p": 1}, 1)  # untouched
    with acting_as(B):
        assert [s.name for s in store.list_sets()] == ["Lesson"]


def test_a_students_deleted_set_is_theirs_to_undelete_or_purge(store):
    with acting_as(A):
        store.save_set("draft", {})
        store.delete("draft")
    with acting_as(B):
        assert store.list_sets(include_deleted=True) == []
        for action in (lambda: store.undelete("draft"), lambda: store.purge("draft")):
            with pytest.raises(DataError, match=r"^There is no prompt set named 'draft'"):
                action()
    with acting_as(A):
        assert [s.name for s in store.list_sets(include_deleted=True)] == ["draft"]
        store.purge("draft")
    assert not store.exists("draft")


# --------------------------------------------------------------------------- the store: runs

def test_runs_belong_to_their_workspace_and_the_teacher_sees_all(store):
    shared = store.create_run({"model": "before class"})
    with acting_as(A):
        mine = store.create_run({"model": "a"})
        store.add_result(mine, "zero", 0, {"correct": True})
        assert [r.run_id for r in store.list_runs()] == [mine]
        assert store.get_run(mine).workspace == A.workspace
    with acting_as(B):
        assert store.list_runs() == []
        for action in (lambda: store.get_run(mine), lambda: store.results(mine), lambda: store.delete_run(mine),
                       lambda: store.reopen_run(mine), lambda: store.get_run(shared)):
            with pytest.raises(DataError, match=r"^There is no run \d+; pick one from the run history\.$"):
                action()
    with acting_as(TEACHER):
        assert [r.run_id for r in store.list_runs()] == [mine, shared]
        assert store.results(mine)[0]["correct"] is True
        theirs = store.create_run({"model": "t"})
    assert store.get_run(theirs).workspace == TEACHER.workspace  # the teacher's runs are their browser's
    with acting_as(Access(TEACHER.workspace)):  # the same browser after "Leave teacher mode"
        assert [r.run_id for r in store.list_runs()] == [theirs]
    with acting_as(A):
        store.delete_run(mine)
        assert store.list_runs() == []
    assert [r.run_id for r in store.list_runs()] == [theirs, shared]  # the CLI: every run


def test_a_widget_callback_acts_as_its_session_where_the_thread_has_no_user():
    """Streamlit runs a widget's callback before app.py sets the user: the store then asks the resolver (the
    session's user), not "no one" (which is everything allowed)."""
    seen, previous = [], cr._resolver  # the app's own resolver, where an AppTest imported ui.classroom
    try:
        cr.set_resolver(lambda: seen.append("asked") or A)
        assert cr.current() == A and cr.current_owner() == A.workspace and seen
        with acting_as(B):  # a user set in the thread wins
            assert cr.current() == B
        with acting_as(None):  # and so does "no one" set explicitly (loopback)
            assert cr.current() is None
        cr.set_resolver(None)
        assert cr.current() is None  # the CLI: no resolver, no one
    finally:
        cr.set_resolver(previous)


def test_a_version_3_database_gains_workspaces_and_its_rows_are_shared(tmp_path):
    path = tmp_path / "v3.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for migration in store_module.MIGRATIONS[:3]:
        migration(conn)
    conn.execute("PRAGMA user_version = 3")
    conn.execute("INSERT INTO runs (created_at, meta) VALUES ('2026-01-01', '{\"model\": \"m\"}')")
    conn.execute("INSERT INTO prompt_sets (name, created_at, updated_at) VALUES ('Old set', 'x', 'x')")
    conn.execute("INSERT INTO set_versions (set_id, version, document, tags, created_at) "
                 "VALUES (1, 1, ?, '[]', 'x')", (json.dumps({"old": True}),))
    conn.close()
    with open_store(path) as s:
        assert s.settings()["user_version"] == SCHEMA_VERSION == 4
        assert [(i.name, i.workspace) for i in s.list_sets()] == [("Old set", None)]
        assert [(r.meta, r.workspace) for r in s.list_runs()] == [({"model": "m"}, None)]
        with acting_as(A):
            assert s.get_set("Old set") == ({"old": True}, 1) and not s.may_change("Old set")
            assert s.list_runs() == []  # old runs are the teacher's
        with acting_as(TEACHER):
            assert len(s.list_runs()) == 1 and s.may_change("Old set")
        assert s.integrity_check() == "ok"


# --------------------------------------------------------------------------- item 5: the data folder is a file

def test_a_data_dir_that_is_a_regular_file_is_one_line(tmp_path, monkeypatch, capsys):
    afile = tmp_path / "not-a-folder"
    afile.write_text("x")
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(afile))
    with pytest.raises(DataError) as err:
        open_store()
    assert str(err.value) == (f"Cannot use {afile} as the workbench data folder (it is a file, not a folder); "
                              "set WORKBENCH_DATA_DIR to a folder.")
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(afile / "deeper"))
    with pytest.raises(DataError, match=r"^Cannot use .*deeper as the workbench data folder"):
        open_store()

    from workbench.cli import main

    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(afile))
    assert main(["runs", "list"]) == 2
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "FileExistsError" not in out.err
    assert len(out.err.strip().splitlines()) == 1 and "it is a file, not a folder" in out.err


# --------------------------------------------------------------------------- classroom mode, the passcode

def test_classroom_mode_is_the_setting_else_an_address_beyond_loopback():
    assert not cr.classroom_mode("127.0.0.1", {}) and not cr.classroom_mode("localhost", {})
    assert cr.classroom_mode("0.0.0.0", {}) and cr.classroom_mode("192.168.1.20", {})
    assert cr.classroom_mode("127.0.0.1", {"WORKBENCH_CLASSROOM": "1"})
    assert not cr.classroom_mode("0.0.0.0", {"WORKBENCH_CLASSROOM": "0"})
    with pytest.raises(ConfigError, match=r"^WORKBENCH_CLASSROOM must be 1 .* or 0 .*; got 'maybe'"):
        cr.classroom_mode("0.0.0.0", {"WORKBENCH_CLASSROOM": "maybe"})


def test_the_passcode_is_the_variable_or_generated_once_and_printed(monkeypatch):
    assert cr.check_passcode(" s3cret ", {"WORKBENCH_TEACHER_PASSCODE": "s3cret"})
    assert not cr.check_passcode("S3CRET", {"WORKBENCH_TEACHER_PASSCODE": "s3cret"})
    assert not cr.check_passcode("", {"WORKBENCH_TEACHER_PASSCODE": "s3cret"})
    monkeypatch.setattr(cr, "_generated", [])
    printed: list[str] = []
    first = cr.teacher_passcode({}, printed.append)
    assert cr.teacher_passcode({}, printed.append) == first  # once per server process
    assert printed == [cr.passcode_line(first)] and first in printed[0]
    assert cr.check_passcode(first, {}) and not cr.check_passcode(first.upper(), {})


def test_serve_app_env_turns_classroom_mode_on_with_a_printed_passcode():
    printed: list[str] = []
    env = cr.classroom_env({"PATH": "/bin"}, printed.append)
    assert env["WORKBENCH_CLASSROOM"] == "1" and env["PATH"] == "/bin"
    assert printed == [cr.passcode_line(env["WORKBENCH_TEACHER_PASSCODE"])]
    assert cr.classroom_env({"WORKBENCH_CLASSROOM": "0"}, printed.append)["WORKBENCH_CLASSROOM"] == "0"


def test_workspace_ids_are_random_and_checked():
    ids = {cr.new_workspace() for _ in range(50)}
    assert len(ids) == 50 and all(cr.valid_workspace(i) for i in ids)
    for bad in ("", "short", "x" * 65, "a" * 20 + "; path=/", None, 12345678901234567890):
        assert cr.valid_workspace(bad) is None


# --------------------------------------------------------------------------- the fair share of the model lock

def _in_thread(target) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_a_workspace_gets_one_call_running_and_one_waiting_and_a_third_is_refused():
    lock = ModelLock()
    running, release = threading.Event(), threading.Event()
    a_queued, b_queued = threading.Event(), threading.Event()
    b_positions: list[int] = []

    def a_first():
        with acting_as(A), lock.hold():
            running.set()
            release.wait(BOUND_S)

    def a_second():
        with acting_as(A), lock.hold(on_wait=lambda position: a_queued.set()):
            pass

    def b_call():
        with acting_as(B), lock.hold(on_wait=lambda position: (b_positions.append(position), b_queued.set())):
            pass

    threads = [_in_thread(a_first)]
    assert running.wait(BOUND_S)
    threads.append(_in_thread(a_second))
    assert a_queued.wait(BOUND_S)
    with acting_as(A), pytest.raises(QueueFull) as err, lock.hold():
        pass  # a third tab of the same browser
    assert str(err.value) == WAITING
    assert lock.waiting == 1 and lock.fair.calls(A.workspace) == 2  # the refused call took no place
    threads.append(_in_thread(b_call))  # another student still queues, behind A's waiting call
    assert b_queued.wait(BOUND_S) and b_positions[0] == 2
    release.set()
    for t in threads:
        t.join(BOUND_S)
        assert not t.is_alive()
    assert lock.waiting == 0 and not lock.busy and lock.fair.calls(A.workspace) == 0
    with acting_as(A), lock.hold():  # the share is free again
        pass


def test_without_a_workspace_nothing_is_refused():
    """The CLI and one user on loopback: any number of callers queue, as before."""
    lock = ModelLock()
    held, release = threading.Event(), threading.Event()
    queued = [threading.Event() for _ in range(3)]

    def first():
        with lock.hold():
            held.set()
            release.wait(BOUND_S)

    def more(event):
        with lock.hold(on_wait=lambda position: event.set()):
            pass

    threads = [_in_thread(first)]
    assert held.wait(BOUND_S)
    threads += [_in_thread(lambda e=e: more(e)) for e in queued]
    assert all(e.wait(BOUND_S) for e in queued) and lock.waiting == 3
    release.set()
    for t in threads:
        t.join(BOUND_S)
        assert not t.is_alive()


def test_stopping_a_waiting_call_frees_its_share():
    lock = ModelLock()
    release, held = threading.Event(), threading.Event()

    def first():
        with acting_as(A), lock.hold():
            held.set()
            release.wait(BOUND_S)

    class Stopped(Exception):
        pass

    def stop(position):
        raise Stopped  # Streamlit's Stop: raised where the page redraws the queue line

    thread = _in_thread(first)
    assert held.wait(BOUND_S)
    with acting_as(A), pytest.raises(Stopped), lock.hold(on_wait=stop):
        pass
    assert lock.fair.calls(A.workspace) == 1 and lock.waiting == 0
    release.set()
    thread.join(BOUND_S)
    assert lock.fair.calls(A.workspace) == 0


def test_two_running_calls_on_a_server_with_slots_get_their_own_refusal():
    lock = ModelLock(slots=2)
    release, both = threading.Event(), threading.Barrier(3)

    def hold():
        with acting_as(A), lock.hold():
            both.wait(BOUND_S)
            release.wait(BOUND_S)

    threads = [_in_thread(hold), _in_thread(hold)]
    both.wait(BOUND_S)
    with acting_as(A), pytest.raises(QueueFull, match=r"^You already have 2 generations running; wait for one"):
        with lock.hold():
            pass
    release.set()
    for t in threads:
        t.join(BOUND_S)


def test_the_shared_batch_gives_a_workspace_the_same_share():
    """WORKBENCH_SHARED_BATCH: the continuous batch across sessions refuses a third call of one workspace too."""
    from workbench.backends import registry
    from workbench.backends.llamacpp import load_llamacpp
    from workbench.decoding import DecodingConfig

    backend = load_llamacpp(registry.resolve_model("gemma-3-270m"), shared_batch=1)
    cfg = DecodingConfig(max_new_tokens=8)
    try:
        with acting_as(A):
            first = iter(backend.stream("Once upon a time", cfg))
            assert next(first)  # running (the tab reads its stream as the model writes)
        second_in, leave = threading.Event(), threading.Event()

        def second():
            with acting_as(A):
                stream = iter(backend.stream("One, two, three,", cfg))
                next(stream)  # waited for the one slot, then ran
                second_in.set()
                leave.wait(BOUND_S)
                stream.close()

        thread = _in_thread(second)
        assert second_in.wait(BOUND_S) and backend.shared.fair.calls(A.workspace) == 2
        with acting_as(A), pytest.raises(QueueFull, match=r"^You already have "):
            backend.stream("A third tab", cfg).text()
        with acting_as(A), pytest.raises(QueueFull, match=r"^You already have "):  # the model lock's calls
            backend.next_token_distribution("Review: fine. Sentiment:")  # count in the same share
        with acting_as(B):  # another student is served
            assert backend.generate(["Another student"], DecodingConfig(max_new_tokens=1))[0][0].completion_tokens
        first.close()
        leave.set()
        thread.join(BOUND_S)
        assert not thread.is_alive() and backend.shared.fair.calls(A.workspace) == 0
    finally:
        backend.close()
