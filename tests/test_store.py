"""SQLite store: runs (resume, export, SIGKILL durability) and the versioned prompt-set library."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from workbench import store as store_module
from workbench.answers import AnswerFormat
from workbench.decoding import DecodingConfig
from workbench.errors import DataError
from workbench.store import SCHEMA_VERSION, RunInfo, SetInfo, Store, VersionInfo, default_db_path, migrate, open_store
from workbench.store.processes import _proc_stat

HERE = Path(__file__).resolve().parent


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "wb.db")
    yield s
    s.close()


# --------------------------------------------------------------------------- opening


def test_default_path_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))
    assert default_db_path() == tmp_path / "data" / "workbench.db"
    with open_store() as s:
        assert s.path == str(tmp_path / "data" / "workbench.db")
    assert (tmp_path / "data" / "workbench.db").is_file()


def test_default_path_without_env_is_platform_data_dir(monkeypatch):
    monkeypatch.delenv("WORKBENCH_DATA_DIR", raising=False)
    path = default_db_path()
    assert path.name == "workbench.db"
    assert path.parent.name == "prompt-workbench"


def test_pragmas_and_schema_version(store):
    assert store.settings() == {
        "journal_mode": "wal",
        "synchronous": 1,  # NORMAL
        "foreign_keys": 1,
        "user_version": SCHEMA_VERSION,
    }
    assert store.integrity_check() == "ok"


def test_migrate_from_empty_and_idempotent(tmp_path):
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    assert migrate(conn) == 0
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert migrate(conn) == SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"runs", "results", "prompt_sets", "set_versions"} <= tables
    conn.close()


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(DataError, match="upgrade the workbench"):
        open_store(path)


def test_not_a_database_is_a_one_line_error(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DataError) as err:
        open_store(path)
    assert "\n" not in str(err.value)
    assert "WORKBENCH_DATA_DIR" in str(err.value)


def test_data_survives_reopen(tmp_path):
    with open_store(tmp_path / "wb.db") as s:
        run = s.create_run({"model": "m"})
        s.add_result(run, "zero", 0, {"ok": True})
        s.save_set("demo", {"a": 1})
    with open_store(tmp_path / "wb.db") as s:
        assert s.completed(run, "zero") == {0}
        assert s.get_set("demo") == ({"a": 1}, 1)


# --------------------------------------------------------------------------- runs


def test_run_lifecycle(store):
    meta = {"model": "gemma-3-270m", "backend": "llama.cpp", "decoding": DecodingConfig(max_new_tokens=8),
            "strategies": ["zero", "knn4"], "dataset": {"name": "sst2_dev", "sha256": "ab12"},
            "format": AnswerFormat.LABEL, "pool": Path("/data/pool.jsonl"), "labels": {"negative", "positive"}}
    run = store.create_run(meta)
    info = store.get_run(run)
    assert isinstance(info, RunInfo)
    assert (info.run_id, info.status, info.finished_at, info.summary, info.n_results) == (run, "running", None, None, 0)
    assert info.meta["decoding"]["max_new_tokens"] == 8  # dataclasses stored as dicts
    assert info.meta["decoding"]["stop"] == []
    assert info.meta["strategies"] == ["zero", "knn4"]
    assert (info.meta["format"], info.meta["pool"], info.meta["labels"]) == ("label", "/data/pool.jsonl",
                                                                            ["negative", "positive"])
    assert info.meta["created_at"] == info.created_at

    store.add_result(run, "zero", 1, {"output": "negative", "correct": False})
    store.add_result(run, "knn4", 0, {"output": "positive", "correct": True})
    store.add_result(run, "zero", 0, {"output": "positive", "correct": True})
    assert store.completed(run, "zero") == {0, 1}
    assert store.completed(run, "knn4") == {0}
    assert store.completed(run, "random4") == set()
    assert store.results(run) == [
        {"strategy": "zero", "item_index": 0, "output": "positive", "correct": True},
        {"strategy": "zero", "item_index": 1, "output": "negative", "correct": False},
        {"strategy": "knn4", "item_index": 0, "output": "positive", "correct": True},
    ]
    assert store.results(run, "knn4") == [{"strategy": "knn4", "item_index": 0, "output": "positive", "correct": True}]

    store.finish_run(run, {"accuracy": {"zero": 0.5, "knn4": 1.0}})
    info = store.get_run(run)
    assert (info.status, info.summary, info.n_results) == ("finished", {"accuracy": {"zero": 0.5, "knn4": 1.0}}, 3)
    assert info.finished_at is not None


def test_add_result_replaces_a_rerun_item(store):
    run = store.create_run({})
    store.add_result(run, "zero", 0, {"output": "first"})
    store.add_result(run, "zero", 0, {"output": "second"})
    assert store.results(run) == [{"strategy": "zero", "item_index": 0, "output": "second"}]


def test_resume_continues_after_last_committed_item(tmp_path):
    path = tmp_path / "wb.db"
    with open_store(path) as s:
        run = s.create_run({"model": "m"})
        for i in range(4):  # interrupted after item 3
            s.add_result(run, "zero", i, {"i": i})
    with open_store(path) as s:
        done = s.completed(run, "zero")
        todo = [i for i in range(6) if i not in done]
        assert todo == [4, 5]
        for i in todo:
            s.add_result(run, "zero", i, {"i": i})
        assert [r["i"] for r in s.results(run)] == [0, 1, 2, 3, 4, 5]


def test_run_errors(store):
    with pytest.raises(DataError, match="no run 99"):
        store.add_result(99, "zero", 0, {})
    with pytest.raises(DataError, match="no run 99"):
        store.get_run(99)
    with pytest.raises(DataError, match="no run 99"):
        store.finish_run(99, {})
    with pytest.raises(DataError, match="no run 99"):
        store.delete_run(99)
    run = store.create_run({})
    with pytest.raises(DataError, match="status must be one of"):
        store.finish_run(run, {}, status="done")
    with pytest.raises(DataError, match="cannot be stored as JSON"):
        store.add_result(run, "zero", 0, {"bad": object()})
    with pytest.raises(DataError, match="dictionary"):
        store.create_run(["not", "a", "dict"])


def test_list_and_delete_runs(store):
    a = store.create_run({"model": "a"})
    b = store.create_run({"model": "b"})
    store.add_result(a, "zero", 0, {"x": 1})
    assert [r.run_id for r in store.list_runs()] == [b, a]
    assert [r.n_results for r in store.list_runs()] == [0, 1]
    store.delete_run(a)
    assert [r.run_id for r in store.list_runs()] == [b]
    assert store.completed(a, "zero") == set()  # results went with the run


def test_concurrent_threads_share_one_store(store):
    run = store.create_run({})

    def work(t: int) -> None:
        for i in range(50):
            store.add_result(run, f"s{t}", i, {"t": t, "i": i})
            store.completed(run, f"s{t}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert store.get_run(run).n_results == 200
    assert all(store.completed(run, f"s{t}") == set(range(50)) for t in range(4))
    assert store.integrity_check() == "ok"


def test_sigkill_mid_run_loses_at_most_the_item_in_flight(tmp_path):
    from tests.store_writer import record
    path = tmp_path / "killed.db"
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "store_writer.py"), str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        run = int(proc.stdout.readline())
        reported = -1
        while reported < 300:  # kill only once some hundreds of commits are through
            line = proc.stdout.readline()
            assert line, "writer exited early"
            reported = int(line)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    with open_store(path) as s:
        assert s.integrity_check() == "ok"
        done = s.completed(run, "zero")
        # Every item the writer reported is there, and nothing but a gap-free prefix.
        assert done == set(range(len(done)))
        assert len(done) > reported
        assert s.results(run) == [{"strategy": "zero", "item_index": i, **record(i)} for i in range(len(done))]
        # Its process is gone, so it no longer reads "running" (and stays marked).
        assert s.get_run(run).status == "interrupted"
        assert s._query("SELECT status FROM runs WHERE id = ?", (run,)) == [("interrupted",)]
        # The run is resumable: the next item goes in after the last committed one.
        s.add_result(run, "zero", len(done), record(len(done)))
        assert s.integrity_check() == "ok"


# --------------------------------------------------------------------------- prompt-set library


def test_save_versions_and_get(store):
    assert store.save_set("Sentiment", {"prompts": ["v1"]}, tags=["sst2", "classroom"], note="first") == 1
    assert store.save_set("Sentiment", {"prompts": ["v2"]}, tags=["sst2"]) == 2
    assert store.get_set("Sentiment") == ({"prompts": ["v2"]}, 2)
    assert store.get_set("Sentiment", 1) == ({"prompts": ["v1"]}, 1)
    assert store.get_set("sentiment") == ({"prompts": ["v2"]}, 2)  # names compare case-insensitively
    history = store.versions("Sentiment")
    assert [(v.version, v.note, v.tags) for v in history] == [(1, "first", ("sst2", "classroom")), (2, "", ("sst2",))]
    assert all(isinstance(v, VersionInfo) for v in history)
    with pytest.raises(DataError, match="has no version 3"):
        store.get_set("Sentiment", 3)
    with pytest.raises(DataError, match="no prompt set named 'nope'"):
        store.get_set("nope")


def test_document_round_trip_keeps_order_and_unicode(store):
    doc = {"z": 1, "a": [1, 2.5, None, True], "nested": {"é": "ü", "k": {"deep": []}}}
    store.save_set("doc", doc)
    got, _ = store.get_set("doc")
    assert got == doc
    assert list(got) == ["z", "a", "nested"]


def test_list_sets_search_by_name_and_tag(store):
    store.save_set("Zero vs few-shot", {}, tags=["classroom", "sst2"])
    store.save_set("Order effects", {}, tags=["classroom"])
    store.save_set("Arithmetic CoT", {}, tags=["multiarith"])
    infos = store.list_sets()
    assert [i.name for i in infos] == ["Arithmetic CoT", "Order effects", "Zero vs few-shot"]
    assert isinstance(infos[0], SetInfo) and infos[0].tags == ("multiarith",) and infos[0].version == 1
    assert [i.name for i in store.list_sets("CLASSROOM")] == ["Order effects", "Zero vs few-shot"]
    assert [i.name for i in store.list_sets("few")] == ["Zero vs few-shot"]
    assert [i.name for i in store.list_sets("arith")] == ["Arithmetic CoT"]
    assert store.list_sets("nothing") == []


def test_save_new_refuses_existing_name(store):
    store.save_set("demo", {"v": 1})
    with pytest.raises(DataError) as err:
        store.save_set("Demo", {"v": 2}, new=True)
    assert str(err.value) == "A prompt set named 'demo' already exists; choose another name."
    assert store.get_set("demo") == ({"v": 1}, 1)  # untouched


def test_rename(store):
    store.save_set("a", {"v": 1})
    store.save_set("a", {"v": 2})
    store.save_set("b", {"v": 3})
    with pytest.raises(DataError) as err:
        store.rename("a", "b")
    assert str(err.value) == "A prompt set named 'b' already exists; choose another name."
    store.rename("a", "c")
    assert store.get_set("c") == ({"v": 2}, 2)  # history follows the set
    assert [v.version for v in store.versions("c")] == [1, 2]
    with pytest.raises(DataError, match="no prompt set named 'a'"):
        store.get_set("a")
    store.rename("c", "C")  # changing only the case of its own name is fine
    assert [i.name for i in store.list_sets()] == ["b", "C"]


def test_duplicate(store):
    store.save_set("orig", {"v": 1}, tags=["t"])
    store.save_set("orig", {"v": 2}, tags=["t", "u"])
    assert store.duplicate("orig", "copy") == 1
    assert store.get_set("copy") == ({"v": 2}, 1)
    assert store.versions("copy")[0].tags == ("t", "u")
    assert store.versions("copy")[0].note == "Duplicate of orig version 2"
    with pytest.raises(DataError, match="already exists"):
        store.duplicate("orig", "copy")


def test_soft_delete_undelete_purge(store):
    store.save_set("gone", {"v": 1})
    store.delete("gone")
    assert store.list_sets() == []
    assert [i.name for i in store.list_sets(include_deleted=True)] == ["gone"]
    with pytest.raises(DataError, match="is deleted; undelete it first"):
        store.get_set("gone")
    with pytest.raises(DataError, match="it is deleted; undelete or purge it"):
        store.save_set("gone", {"v": 2})  # a deleted set's name stays taken
    store.undelete("gone")
    assert store.get_set("gone") == ({"v": 1}, 1)
    with pytest.raises(DataError, match="is not deleted"):
        store.undelete("gone")
    with pytest.raises(DataError, match="before purging"):
        store.purge("gone")
    store.delete("gone")
    store.purge("gone")
    assert not store.exists("gone")
    assert store.save_set("gone", {"v": 9}, new=True) == 1


def test_restore_adds_a_version(store):
    store.save_set("s", {"v": 1}, tags=["old"])
    store.save_set("s", {"v": 2}, tags=["new"])
    assert store.restore("s", 1) == 3
    assert store.get_set("s") == ({"v": 1}, 3)
    assert store.get_set("s", 2) == ({"v": 2}, 2)  # history intact
    last = store.versions("s")[-1]
    assert (last.note, last.tags) == ("Restored from version 1", ("old",))


@pytest.mark.parametrize(
    ("name", "document", "message"),
    [
        ("", {}, "non-empty name"),
        ("   ", {}, "non-empty name"),
        ("two\nlines", {}, "one line"),
        ("x" * 121, {}, "at most 120"),
        ("ok", ["not", "a", "dict"], "JSON object"),
        ("ok", {"f": float("nan")}, "cannot be stored as JSON"),
        ("ok", {"s": {1, 2}}, "cannot be stored as JSON"),  # documents are plain JSON, nothing coerced
    ],
)
def test_save_set_validation(store, name, document, message):
    with pytest.raises(DataError, match=message):
        store.save_set(name, document)
    assert store.list_sets(include_deleted=True) == []


def test_store_is_usable_in_memory():
    with Store(":memory:") as s:
        assert s.save_set("m", {"x": 1}) == 1
        assert s.get_set("m") == ({"x": 1}, 1)


# ---- names hold no control characters (issue 20) ------------------------------------------

CONTROL_NAMES = ["nul\x00here", "esc\x1b[31mred", "bell\x07", "line\u2028sep", "para\u2029sep", "next\x85line",
                 "bidi\u202egnp.exe", "zero\u200bwidth", "del\x7f", "tab\there", "lone\ud800"]


@pytest.mark.parametrize("name", CONTROL_NAMES)
def test_names_with_control_characters_are_refused_everywhere(store, name):
    with pytest.raises(DataError, match=r"^Prompt set names may not hold control characters \(found U\+[0-9A-F]{4} "
                                        r"at position \d+\); remove it\.$"):
        store.save_set(name, {})
    store.save_set("fine", {})
    with pytest.raises(DataError, match="control characters"):
        store.rename("fine", name)
    with pytest.raises(DataError, match="control characters"):
        store.duplicate("fine", name)
    assert [s.name for s in store.list_sets(include_deleted=True)] == ["fine"]


def test_printable_unicode_names_are_kept(store):
    for name in ("Café ☕", "日本語のセット", "naïve — v2", "emoji 👩"):  # (a ZWJ emoji sequence is Cf: refused)
        store.save_set(name, {})
    assert len(store.list_sets()) == 4


def test_a_name_stored_before_the_check_can_still_be_found_and_renamed(store):
    store.save_set("legacy", {"v": 1})
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE prompt_sets SET name = ? WHERE name = 'legacy'", ("leg\x1bacy",))
    assert store.exists("leg\x1bacy")
    assert store.get_set("leg\x1bacy") == ({"v": 1}, 1)
    store.rename("leg\x1bacy", "legacy fixed")
    assert [s.name for s in store.list_sets()] == ["legacy fixed"]


def test_text_that_cannot_be_encoded_is_one_error_not_a_sqlite_crash(store):
    with pytest.raises(DataError, match="cannot be stored as JSON"):
        store.save_set("ok", {"notes": "half \ud800 pair"})
    run = store.create_run({"model": "m"})
    with pytest.raises(DataError, match="cannot be stored as JSON"):
        store.add_result(run, "zero", 0, {"output": "\udc00"})


# ---- runs whose process is gone read "interrupted" (issue 20) ---------------------------------


def _set_owner(store: Store, run: int, owner: dict | None) -> None:
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE runs SET owner = ? WHERE id = ?", (None if owner is None else json.dumps(owner), run))


def test_a_run_records_its_process_and_stays_running_while_it_lives(store):
    run = store.create_run({"model": "m"})
    info = store.get_run(run)
    assert info.status == "running"
    assert info.owner == {"pid": os.getpid(), "host": socket.gethostname(), "started": info.owner["started"]}
    assert isinstance(info.owner["started"], int)  # Linux: the process start, against pid reuse
    assert [r.status for r in store.list_runs()] == ["running"]


def test_a_reused_pid_an_unknown_host_and_an_old_run(store):
    reused, other_host, old, live = (store.create_run({"model": "m"}) for _ in range(4))
    me = store.get_run(reused).owner
    _set_owner(store, reused, {**me, "started": me["started"] - 1})  # same pid, another process
    _set_owner(store, other_host, {**me, "pid": 2**22 + 12345, "host": "not-" + me["host"]})  # cannot be checked
    _set_owner(store, old, None)  # made before owners were recorded
    assert {r.run_id: r.status for r in store.list_runs()} == {
        reused: "interrupted", other_host: "running", old: "running", live: "running"}


def test_a_zombie_process_counts_as_gone(store):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 30
        while _proc_stat(child.pid)[0] != "Z":  # exited, not reaped yet
            assert time.monotonic() < deadline
            time.sleep(0.05)
        run = store.create_run({"model": "m"})
        _set_owner(store, run, {"pid": child.pid, "host": socket.gethostname(),
                                "started": _proc_stat(child.pid)[1]})
        assert store.get_run(run).status == "interrupted"
    finally:
        child.wait()


def test_reopen_claims_an_interrupted_run_and_finish_ends_it(store):
    run = store.create_run({"model": "m"})
    _set_owner(store, run, {**store.get_run(run).owner, "started": -1})
    assert store.get_run(run).status == "interrupted"
    store.reopen_run(run)
    info = store.get_run(run)
    assert (info.status, info.owner["pid"], info.finished_at) == ("running", os.getpid(), None)
    store.finish_run(run, {"items": 1})
    assert store.get_run(run).status == "finished"
    with pytest.raises(DataError, match="There is no run 99"):
        store.reopen_run(99)


def test_a_version_1_database_gains_run_owners(tmp_path):
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    store_module.MIGRATIONS[0](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO runs (created_at, meta) VALUES ('2026-01-01', '{}')")
    conn.close()
    with open_store(path) as s:
        assert s.settings()["user_version"] == SCHEMA_VERSION
        (old,) = s.list_runs()
        assert (old.status, old.owner) == ("running", None)
        assert s.get_run(s.create_run({})).owner["pid"] == os.getpid()


def test_a_version_2_database_gains_the_response_cache(tmp_path):
    path = tmp_path / "v2.db"
    conn = sqlite3.connect(path, isolation_level=None)
    store_module.MIGRATIONS[0](conn)
    store_module.MIGRATIONS[1](conn)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("INSERT INTO runs (created_at, meta) VALUES ('2026-01-01', '{\"model\": \"m\"}')")
    conn.close()
    with open_store(path) as s:
        assert s.settings()["user_version"] == SCHEMA_VERSION
        assert [r.meta for r in s.list_runs()] == [{"model": "m"}]  # runs kept
        assert s.cache_stats() == {"entries": 0, "bytes": 0}
        s.cache_put("k", "score", [{"logprob": -1.5, "tokens": 1, "bytes": 4}], max_entries=10)
        s.remember_file_hash("/m.gguf", 3, 7, "ab")
    with open_store(path) as s:  # both survive a restart
        assert s.cache_get("k") == [{"logprob": -1.5, "tokens": 1, "bytes": 4}]
        assert (s.file_hash("/m.gguf", 3, 7), s.file_hash("/m.gguf", 3, 8)) == ("ab", None)
