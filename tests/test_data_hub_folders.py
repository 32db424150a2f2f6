"""``hf:`` local folders are bounded before the datasets library globs them (review #27, finding 8): a
filesystem root, the home folder and a folder past MAX_FOLDER_ENTRIES entries or MAX_FOLDER_DEPTH levels are
one line at once; a folder holding Python files beside no saved dataset says what it is; the not-cached hint of
``owner/name`` gives the configuration's command too."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.hf_caches import cut_network, use_hf_home
from workbench.data import read_rows
from workbench.data.hub import MAX_FOLDER_DEPTH, MAX_FOLDER_ENTRIES
from workbench.errors import DataError


@pytest.fixture(autouse=True)
def hf_home(tmp_path, monkeypatch) -> Path:
    cut_network(monkeypatch)
    return use_hf_home(tmp_path / "hf", monkeypatch)


def one_line(source: str) -> str:
    start = time.monotonic()
    with pytest.raises(DataError) as err:
        read_rows(source)
    assert time.monotonic() - start < 10 and "\n" not in str(err.value)
    return str(err.value)


def test_a_filesystem_root_or_the_home_folder_is_refused_at_once(tmp_path, monkeypatch):
    assert one_line("hf:/:train") == ("hf:/:train: '/' is a filesystem root, not a dataset's folder; give the "
                                      "dataset's own folder (a save_to_disk folder or a folder of data files)")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert one_line("hf:~:train") == (f"hf:~:train: '{tmp_path}' is the home folder, not a dataset's folder; give "
                                      "the dataset's own folder (a save_to_disk folder or a folder of data files)")


def test_a_folder_past_the_bounds_is_one_line(tmp_path):
    wide = tmp_path / "wide"
    wide.mkdir()
    for i in range(MAX_FOLDER_ENTRIES + 1):
        (wide / f"{i}.csv").write_text("text,label\na,b\n")
    deep = tmp_path / "deep" / "/".join("d" * MAX_FOLDER_DEPTH)
    deep.mkdir(parents=True)
    bound = f"over {MAX_FOLDER_ENTRIES:,} entries or {MAX_FOLDER_DEPTH} levels deep, not a dataset's folder"
    assert one_line(f"hf:{wide}:train") == (f"hf:{wide}:train: '{wide}' is {bound}; give the dataset's own folder (a "
                                            "save_to_disk folder or a folder of data files)")
    assert f"'{tmp_path / 'deep'}' is {bound}" in one_line(f"hf:{tmp_path / 'deep'}:train")


def test_python_files_beside_no_saved_dataset_are_not_called_a_loading_script(tmp_path):
    app = tmp_path / "checkout"
    app.mkdir()
    (app / "app.py").write_text("print('never run')\n")
    (app / "README.md").write_text("# an app\n")
    assert one_line(f"hf:{app}:train") == (
        f"hf:{app}:train: '{app}' is not a saved dataset (no dataset_dict.json or state.json) and holds Python files "
        "(app.py), which the workbench never runs; give a save_to_disk folder or a folder of data files")


def test_the_not_cached_hint_of_owner_name_gives_the_configurations_command(hf_home):
    said = one_line("hf:glue/sst2:validation")
    assert ("run python -c \"import datasets; datasets.load_dataset('glue/sst2', split='validation')\" for the "
            "repository, or python -c \"import datasets; datasets.load_dataset('glue', 'sst2', split='validation')\" "
            "for the configuration (or hf download --repo-type dataset glue/sst2)") in said
