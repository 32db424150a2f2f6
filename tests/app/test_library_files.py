"""AppTest of the Library page with a prompts folder (WORKBENCH_PROMPTS_DIR): its files are listed beside the
shipped and saved sets, an edit on disk shows as a new version on the next run, saving writes the file, an
unreadable file is one line naming it and the listing goes on."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from workbench.promptsets.files import classroom_sets, to_yaml

SET = """schema_version: 1
name: Mine
notes: First notes.
steps:
  - title: Zero-shot
    spec: {query_template: "Review: {input}\\nSentiment:"}
tests:
  - {input: "Lovely.", expected: positive}
"""


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "mine.yaml").write_text(SET, encoding="utf-8")
    (folder / "latin1.yaml").write_bytes(b"name: caf\xe9\n")
    monkeypatch.setenv("WORKBENCH_PROMPTS_DIR", str(folder))
    return folder


def page() -> AppTest:
    return AppTest.from_file(str(ROOT / "views/6_Library.py"), default_timeout=180).run()


def origin(at: AppTest) -> str:
    return next(c.value for c in at.caption if "prompts folder" in c.value)


def test_a_file_edited_on_disk_appears_in_the_library_as_a_new_version(folder):
    at = page()
    assert not at.exception
    assert [e.value for e in at.error] == ["Some files in the prompts folder could not be read:\n\n"
                                           "- `latin1.yaml`: latin1.yaml is not UTF-8 text (offset 9); save it as "
                                           "UTF-8."]
    picker = at.selectbox(key="lib_pick")
    assert [o for o in picker.options if o.startswith("📄")] == ["📄 Mine · mine.yaml"]  # the readable one
    table = at.table[0].value
    assert table.loc["Mine", "kind"] == "file mine.yaml" and table.loc["Mine", "version"] == "v1"
    assert table.loc["latin1.yaml", "about"].startswith("unreadable: latin1.yaml is not UTF-8 text")

    picker.set_value("file:mine.yaml").run()
    assert not at.exception
    assert at.header[0].value == "Mine"
    assert origin(at).startswith(f"File `mine.yaml` in the prompts folder {folder} · version 1 · 1 step")
    assert "First notes." in [m.value for m in at.markdown]

    (folder / "mine.yaml").write_text(SET.replace("First notes.", "Edited in my editor."), encoding="utf-8")
    at.run()  # the next run of the page reads the folder again
    assert not at.exception
    assert origin(at).startswith(f"File `mine.yaml` in the prompts folder {folder} · version 2")
    assert "Edited in my editor." in [m.value for m in at.markdown]
    versions = at.dataframe[-1].value
    assert list(versions["version"]) == [1, 2]
    diff = next(c.value for c in at.code if c.language == "diff")
    assert "-notes: First notes.\n+notes: Edited in my editor.\n" in diff


def test_saving_in_the_library_writes_the_file_and_shows_its_new_version(folder):
    at = page()
    at.selectbox(key="lib_pick").set_value("file:mine.yaml").run()
    edited = SET.replace("First notes.", "Saved from the page.")
    at.text_area(key="lib_file_yaml").set_value(edited)
    at.button(key="lib_save_file").click().run()
    assert not at.exception
    assert (folder / "mine.yaml").read_text(encoding="utf-8") == edited
    assert [s.value for s in at.success] == ["Saved mine.yaml."]
    assert origin(at).startswith(f"File `mine.yaml` in the prompts folder {folder} · version 2")

    at.text_area(key="lib_file_yaml").set_value("schema_version: 1\nname: Mine\nsteps: []\n")
    at.button(key="lib_save_file").click().run()
    assert ("mine.yaml: steps: list should have at least 1 item after validation, not 0."
            in [e.value for e in at.error])
    assert (folder / "mine.yaml").read_text(encoding="utf-8") == edited  # nothing written


def test_a_shipped_set_saved_to_the_prompts_folder_opens_as_its_file(folder):
    at = page()
    at.selectbox(key="lib_pick").set_value("classroom:zero_vs_few_shot").run()
    at.text_input(key="lib_file_name").set_value("zero.yaml")
    at.button(key="lib_save_to_folder").click().run()
    assert not at.exception
    assert (folder / "zero.yaml").read_text(encoding="utf-8") == to_yaml(classroom_sets()["zero_vs_few_shot"])
    assert at.selectbox(key="lib_pick").value == "file:zero.yaml"
    assert origin(at).startswith(f"File `zero.yaml` in the prompts folder {folder} · version 1")
    at.selectbox(key="lib_pick").set_value("classroom:demo_order").run()  # another set under a taken name: refused
    at.text_input(key="lib_file_name").set_value("zero.yaml")
    at.button(key="lib_save_to_folder").click().run()
    assert (f"zero.yaml already exists in the prompts folder {folder}; open it to change it, or choose another "
            "name." in [e.value for e in at.error])
