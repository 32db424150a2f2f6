"""The prompts folder (#27 item 6): prompt sets and specs as files, listed beside the store's sets, each content a
version, saved atomically; hostile files one line each; the shipped files in prompts/ and inside the wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from workbench.errors import DataError
from workbench.prompts.files import shipped_prompts_dir, starter_specs
from workbench.promptsets.files import CLASSROOM_DIR, classroom_sets, to_yaml
from workbench.promptsets.folder import (
    MAX_FILES,
    PromptFile,
    default_prompts_dir,
    file_history_key,
    list_folder,
    load_any,
    prompts_dir,
    save_file,
    save_set_file,
    spec_as_set,
    with_versions,
)
from workbench.promptsets.library import find_set, library_entries
from workbench.promptsets.model import PromptSet, Step, TestCase
from workbench.store import open_store

ROOT = Path(__file__).resolve().parents[1]

SET = """schema_version: 1
name: Mine
tags: [sentiment]
steps:
  - title: Zero-shot
    spec: {query_template: "Review: {input}\\nSentiment:"}
tests:
  - {input: "Lovely.", expected: positive}
"""
SPEC = """name: My spec
description: one line
example: What is 2 + 3?
spec: {query_template: "Q: {input}\\nA:"}
demos:
  - {question: "1 + 1?", answer: "2"}
"""


@pytest.fixture
def store():
    s = open_store(":memory:")
    yield s
    s.close()


def test_the_shipped_files_live_in_prompts_and_load_from_there():
    assert shipped_prompts_dir() == ROOT / "prompts"
    assert CLASSROOM_DIR == ROOT / "prompts" / "classroom"
    assert not (ROOT / "workbench" / "shipped" / "classroom").exists()
    assert not (ROOT / "workbench" / "shipped" / "specs").exists()
    assert sorted(classroom_sets()) == sorted(p.stem for p in (ROOT / "prompts" / "classroom").glob("*.yaml"))
    assert sorted(starter_specs()) == sorted(p.stem for p in (ROOT / "prompts" / "specs").glob("*.yaml"))
    assert len(classroom_sets()) == 9 and len(starter_specs()) == 6


def test_the_wheel_carries_prompts_and_the_installed_package_finds_them(tmp_path):
    """Built from the checkout's files (as tests/test_install.py does), unpacked, and imported from there."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    src = tmp_path / "src"
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes((ROOT / name).read_bytes())
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "wheels"), str(src)], check=True, timeout=300, capture_output=True)
    wheel = next((tmp_path / "wheels").glob("prompt_workbench-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(n for n in names if n.startswith("workbench_app/prompts/"))
    expected = sorted(f"workbench_app/{p.relative_to(ROOT).as_posix()}" for p in (ROOT / "prompts").glob("*/*.yaml"))
    assert shipped == [*expected, "workbench_app/prompts/workbench.schema.json"] and len(shipped) == 16
    assert not any(n.startswith(("workbench/shipped/classroom", "workbench/shipped/specs")) for n in names)
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import workbench; "
            "from workbench.prompts.files import shipped_prompts_dir, starter_specs; "
            "from workbench.promptsets.files import classroom_sets; "
            "print(workbench.__file__); print(shipped_prompts_dir()); print(len(classroom_sets()), len(starter_specs()))")
    out = subprocess.run([sys.executable, "-c", code, str(unpacked)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [str(unpacked / "workbench" / "__init__.py"),
                                       str(unpacked / "workbench_app" / "prompts"), "9 6"]


def test_the_folder_is_the_setting_else_the_projects_prompts_else_the_data_folders(tmp_path):
    assert prompts_dir(str(tmp_path / "mine"), tmp_path, tmp_path / "data") == tmp_path / "mine"
    assert prompts_dir(None, tmp_path, tmp_path / "data") == tmp_path / "data" / "prompts"
    (tmp_path / "prompts").mkdir()
    assert prompts_dir(None, tmp_path, tmp_path / "data") == tmp_path / "prompts"
    assert prompts_dir("", tmp_path, tmp_path / "data") == tmp_path / "prompts"


def test_default_prompts_dir_reads_the_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_PROMPTS_DIR", str(tmp_path / "p"))
    assert default_prompts_dir() == tmp_path / "p"


def test_listing_reads_sets_and_specs_in_name_order_and_skips_other_files(tmp_path):
    (tmp_path / "b_set.yaml").write_text(SET)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a_spec.yml").write_text(SPEC)
    (tmp_path / "notes.txt").write_text("not a prompt file")
    (tmp_path / ".hidden.yaml").write_text(SET)
    (tmp_path / "workbench.schema.json").write_text("{}")
    files = list_folder(tmp_path)
    assert [(f.path, f.kind, f.pset.name, f.error) for f in files] == [
        ("b_set.yaml", "set", "Mine", ""), ("sub/a_spec.yml", "spec", "My spec", "")]
    spec = files[1].pset
    assert [s.title for s in spec.steps] == ["My spec"] and spec.tests == (TestCase("What is 2 + 3?"),)
    assert spec.steps[0].demos[0].answer == "2" and spec.description == "one line"
    assert list_folder(tmp_path / "missing") == []


def test_a_spec_file_is_a_one_step_set_with_its_checks():
    pset = spec_as_set({"name": "s", "assert": [{"type": "contains", "value": "4"}], "threshold": 0.5}, "s.yaml")
    assert pset == PromptSet("s", (Step("s", checks=({"type": "contains", "value": "4"},), threshold=0.5),))


def test_the_checkouts_own_prompts_folder_lists_none_of_the_shipped_files_twice():
    """Its classroom/ and specs/ are the shipped sets (listed as such), its schema is no prompt file."""
    assert (ROOT / "prompts" / "workbench.schema.json").is_file()
    assert list_folder(ROOT / "prompts") == []


HOSTILE = {
    "bomb.yaml": ("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n",
                  "bomb.yaml line 1: YAML anchors and aliases (&name, *name) are not allowed in prompt files; "
                  "write the value out."),
    "latin1.yaml": (b"name: caf\xe9\n", "latin1.yaml is not UTF-8 text (offset 9); save it as UTF-8."),
    "python.yaml": ("name: !!python/object/apply:os.system ['true']\n",
                    "python.yaml line 1: the Python tag !!python/object/apply:os.system is refused; prompt files are "
                    "plain data and never create Python objects."),
    "list.yaml": ("- 1\n- 2\n", "list.yaml: expected a mapping with name, spec and demos, got list."),
    "badset.yaml": ("schema_version: 1\nname: x\nsteps: []\n", None),
}


def test_hostile_files_are_one_line_each_and_never_stop_the_listing(tmp_path):
    outside = tmp_path / "outside.yaml"
    outside.write_text(SET)
    folder = tmp_path / "prompts"
    folder.mkdir()
    for name, (content, _) in HOSTILE.items():
        (folder / name).write_bytes(content.encode() if isinstance(content, str) else content)
    with open(folder / "huge.yaml", "wb") as fh:  # 50 MB, sparse: refused by its size before it is read
        fh.truncate(50_000_000)
    (folder / "escape.yaml").symlink_to(outside)
    (folder / "fine.yaml").write_text(SET)
    files = {f.path: f for f in list_folder(folder)}
    assert sorted(files) == sorted([*HOSTILE, "huge.yaml", "escape.yaml", "fine.yaml"])
    assert files["fine.yaml"].pset.name == "Mine" and files["fine.yaml"].error == ""
    for name, (_, message) in HOSTILE.items():
        assert files[name].pset is None and files[name].error.startswith(name) and "\n" not in files[name].error
        if message is not None:
            assert files[name].error == message
    assert files["badset.yaml"].error.startswith("badset.yaml: steps:")
    assert files["huge.yaml"].error == "huge.yaml is 50,000,000 bytes; prompt files are limited to 1,000,000 bytes."
    assert files["escape.yaml"].error == (f"escape.yaml is a link that points out of the prompts folder {folder}; "
                                          "copy the file in instead.")


def test_a_link_inside_the_folder_is_read(tmp_path):
    (tmp_path / "real.yaml").write_text(SET)
    (tmp_path / "alias.yaml").symlink_to(tmp_path / "real.yaml")
    assert [(f.path, f.pset.name) for f in list_folder(tmp_path)] == [("alias.yaml", "Mine"), ("real.yaml", "Mine")]


def test_a_listing_reads_at_most_max_files(tmp_path, monkeypatch):
    monkeypatch.setattr("workbench.promptsets.folder.MAX_FILES", 2)
    for n in range(4):
        (tmp_path / f"s{n}.yaml").write_text(SET)
    files = list_folder(tmp_path)
    assert [f.path for f in files] == ["s0.yaml", "s1.yaml", "…"]
    assert files[-1] == PromptFile("…", error="2 more files left out: a listing reads at most 2.")
    assert MAX_FILES == 500


def test_an_edit_on_disk_is_a_new_version_and_an_unchanged_file_keeps_its_version(store, tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(SET)
    first = with_versions(store, tmp_path, list_folder(tmp_path))
    assert [(f.version, f.changed) for f in first] == [(1, True)]
    assert [(f.version, f.changed) for f in with_versions(store, tmp_path, list_folder(tmp_path))] == [(1, False)]
    path.write_text("# a comment changes no content\n" + SET)
    assert [(f.version, f.changed) for f in with_versions(store, tmp_path, list_folder(tmp_path))] == [(1, False)]
    path.write_text(SET.replace("Lovely.", "Dreadful."))
    again = with_versions(store, tmp_path, list_folder(tmp_path))
    assert [(f.version, f.changed) for f in again] == [(2, True)]
    key = file_history_key(tmp_path, "mine.yaml")
    assert [v.version for v in store.versions(key)] == [1, 2]
    assert store.versions(key)[1].note == f"Read from mine.yaml · content {again[0].digest[:12]}"
    assert store.get_set(key, 1)[0]["tests"] == [{"input": "Lovely.", "expected": "positive"}]
    assert store.get_set(key)[0]["tests"] == [{"input": "Dreadful.", "expected": "positive"}]
    assert store.list_sets() == [] and not store.exists("Mine")  # a file's history is not a saved set


def test_library_entries_list_the_files_beside_the_classroom_and_saved_sets(store, tmp_path):
    (tmp_path / "mine.yaml").write_text(SET)
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    store.save_set("Saved one", PromptSet("Saved one", (Step("s"),)).to_dict())
    rows = library_entries(store, folder=tmp_path)
    assert [r["source"] for r in rows] == ["classroom"] * 9 + ["file", "file", "library"]
    broken, mine = rows[9], rows[10]
    assert mine == {"source": "file", "ref": str(tmp_path / "mine.yaml"), "name": "Mine", "version": 1,
                    "tags": ["sentiment"], "description": "", "deleted": False}
    assert broken["name"] == "broken.yaml" and broken["description"].startswith("unreadable: broken.yaml line")
    assert [r["name"] for r in library_entries(store, "sentiment", folder=tmp_path) if r["source"] == "file"] == ["Mine"]
    assert find_set(store, mine["ref"]) == (list_folder(tmp_path)[1].pset, "file mine.yaml")


def test_find_set_and_load_any_read_a_spec_file_as_a_one_step_set(store, tmp_path):
    (tmp_path / "spec.yaml").write_text(SPEC)
    pset, where = find_set(store, str(tmp_path / "spec.yaml"))
    assert where == "file spec.yaml" and pset.name == "My spec" and len(pset.steps) == 1
    assert load_any(tmp_path / "spec.yaml") == pset
    with pytest.raises(DataError, match=r"^nope\.yaml does not exist"):
        load_any("nope.yaml")


def test_saving_writes_the_file_atomically_inside_the_folder(tmp_path, monkeypatch):
    folder = tmp_path / "prompts"
    pset = list_folder_one(tmp_path, SET)
    path = save_set_file(folder, pset)
    assert path == folder / "Mine.yaml" and path.read_text() == to_yaml(pset)
    with pytest.raises(DataError, match=r"^Mine.yaml already exists in the prompts folder"):
        save_set_file(folder, pset)
    save_set_file(folder, pset.renamed("Mine"), "Mine.yaml", overwrite=True)
    for bad in ("../out.yaml", "/etc/x.yaml", "notes.txt"):
        with pytest.raises(DataError, match="is not a prompt file name inside the prompts folder"):
            save_file(folder, bad, SET, overwrite=True)

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        save_file(folder, "Mine.yaml", "half", overwrite=True)
    assert path.read_text() == to_yaml(pset)  # the old file is whole, and no temporary file is left
    assert sorted(p.name for p in folder.iterdir()) == ["Mine.yaml"]


def test_saving_refuses_to_write_through_a_link_out_of_the_folder(tmp_path):
    folder = tmp_path / "prompts"
    folder.mkdir()
    (tmp_path / "target.yaml").write_text("x")
    (folder / "link.yaml").symlink_to(tmp_path / "target.yaml")
    with pytest.raises(DataError, match=r"link\.yaml is a link that points out of the prompts folder"):
        save_file(folder, "link.yaml", SET, overwrite=True)
    assert (tmp_path / "target.yaml").read_text() == "x"


def list_folder_one(tmp_path: Path, text: str) -> PromptSet:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "one.yaml").write_text(text)
    return list_folder(scratch)[0].pset


def test_sets_list_shows_the_prompts_folder(tmp_path):
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "mine.yaml").write_text(SET)
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(tmp_path / "data"), "WORKBENCH_PROMPTS_DIR": ""}
    out = subprocess.run([sys.executable, "-m", "workbench", "sets", "list", "--search", "sentiment"], cwd=tmp_path,
                         capture_output=True, text=True, env={**env, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"file       {tmp_path / 'prompts' / 'mine.yaml'}  v1       sentiment" in out.stdout
