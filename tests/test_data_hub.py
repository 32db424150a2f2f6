"""``hf:`` datasets read offline (workbench.data.hub): caches built in tmp_path by ``datasets`` itself, the network
cut (a socket that connects fails the test), ClassLabel names, the column mapping of files, the CLI, and every
refusal in one line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import datasets
import huggingface_hub.constants as hub_constants
import pytest

from tests.conftest import ROOT
from tests.hf_caches import SST2, SST2_ROWS, add_glue, add_imdb, cut_network, hub_snapshot, use_hf_home
from workbench.data import ColumnMapping, load_pool, read_rows
from workbench.data.hub import HubRef, hf_splits, load_hf_rows, parse_ref
from workbench.errors import DataError
from workbench.store import open_store


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    cut_network(monkeypatch)


@pytest.fixture
def hf_home(tmp_path, monkeypatch) -> Path:
    return use_hf_home(tmp_path, monkeypatch)


@pytest.fixture
def glue(hf_home) -> Path:
    return add_glue(hf_home)


@pytest.fixture
def imdb(hf_home) -> Path:
    return add_imdb(hf_home)


# ---- ids ------------------------------------------------------------------------------------------------------------


def test_ids_parse_into_path_configuration_and_split():
    assert parse_ref("hf:glue/sst2:validation") == HubRef("glue/sst2", None, "validation")
    assert parse_ref("hf:glue:sst2:validation") == HubRef("glue", "sst2", "validation")
    assert parse_ref("hf:nyu-mll/glue/sst2:test[:2]") == HubRef("nyu-mll/glue", "sst2", "test[:2]")
    assert parse_ref("hf:/data/saved:train") == HubRef("/data/saved", None, "train")
    assert parse_ref("hf:stanfordnlp/imdb") == HubRef("stanfordnlp/imdb", None, None)
    assert str(HubRef("glue", "sst2", "validation")) == "hf:glue:sst2:validation"


@pytest.mark.parametrize(("source", "message"), [
    ("hf:", "hf:: expected hf:PATH[:SPLIT] or hf:PATH:CONFIG:SPLIT, e.g. hf:glue/sst2:validation"),
    ("hf:a:b:c:d", "hf:a:b:c:d: expected hf:PATH[:SPLIT] or hf:PATH:CONFIG:SPLIT, e.g. hf:glue/sst2:validation"),
    ("hf:a/b/c/d:train", "hf:a/b/c/d:train: 'a/b/c/d' is not a Hugging Face dataset id; write hf:NAME, "
                         "hf:OWNER/NAME or a folder (hf:/path/to/folder), then :SPLIT or :CONFIG:SPLIT, e.g. "
                         "hf:glue:sst2:validation"),
    ("hf:https://x.y/z", "hf:https://x.y/z: a URL; the workbench reads datasets from this machine only"),
    ("hf:glue:sst 2:train", "hf:glue:sst 2:train: 'sst 2' is not a configuration name (letters, digits, . _ -)"),
    ("hf:glue:sst2:train;x", "hf:glue:sst2:train;x: 'train;x' is not a split name"),
    ("hf:a/b/c:d:train", "hf:a/b/c:d:train: the configuration is given twice ('c' and 'd')"),
])
def test_a_bad_id_is_one_line(source, message):
    with pytest.raises(DataError) as err:
        parse_ref(source)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


# ---- the three places rows come from --------------------------------------------------------------------------------


def test_the_datasets_cache_is_read_offline_with_label_names(glue):
    assert load_hf_rows("glue", "sst2", "validation") == [
        {"idx": 0, "sentence": "it's a charming journey", "label": 1},
        {"idx": 1, "sentence": "unflinchingly bleak", "label": 0},
    ]
    table = read_rows("hf:glue:sst2:validation")
    assert table.filename == "hf:glue:sst2:validation" and table.where == "row" and table.row_numbers == (1, 2)
    assert [row["label"] for row in table.rows] == ["positive", "negative"]
    assert hf_splits("glue", "sst2") == ("train", "validation", "test")
    assert datasets.config.HF_HUB_OFFLINE is True and hub_constants.HF_HUB_OFFLINE is True


def test_owner_name_falls_back_to_a_configuration_and_slices_work(glue):
    table = read_rows("hf:glue/sst2:train[1:]")  # no repository glue/sst2: the dataset glue, configuration sst2
    assert table.filename == "hf:glue:sst2:train[1:]"
    assert [(r["sentence"], r["label"]) for r in table.rows] == [("dull and long", "negative"),
                                                                 ("warm and funny", "positive")]


def test_the_hub_cache_snapshot_is_read_by_the_folder_builder(imdb):
    assert load_hf_rows("stanfordnlp/imdb", None, "test[:2]") == [{"text": "great cast", "label": 1},
                                                                 {"text": "a mess", "label": 0}]
    assert hf_splits("stanfordnlp/imdb") == ("train", "test")
    assert [r["label"] for r in read_rows("hf:stanfordnlp/imdb:plain_text:train").rows] == ["pos", "neg"]


def test_a_save_to_disk_folder_dict_or_single_dataset(tmp_path):
    folder = tmp_path / "saved"
    datasets.DatasetDict({s: datasets.Dataset.from_dict(c, features=SST2) for s, c in SST2_ROWS.items()}
                         ).save_to_disk(str(folder))
    assert [r["label"] for r in read_rows(f"hf:{folder}:train").rows] == ["positive", "negative", "positive"]
    assert load_hf_rows(str(folder), None, "train[-1:]") == [{"idx": 2, "sentence": "warm and funny", "label": 1}]
    one = tmp_path / "one"
    datasets.Dataset.from_dict({"question": ["2+2?"], "answer": ["4"]}).save_to_disk(str(one))
    assert read_rows(f"hf:{one}").rows == ({"question": "2+2?", "answer": "4"},)


def test_rows_go_through_the_files_mapping_and_label_maps(glue):
    pool = load_pool("hf:glue:sst2:validation", ColumnMapping(input="sentence", answer="label", id="idx"))
    assert [(e.id, e.input, e.answer, e.label) for e in pool.examples] == [
        ("0", "it's a charming journey", "positive", "positive"), ("1", "unflinchingly bleak", "negative", "negative")]
    mapped = load_pool("hf:glue:sst2:validation", ColumnMapping(input="sentence", answer="label", label=None,
                                                                label_map=(("positive", "pos"), ("negative", "neg"))))
    assert [e.answer for e in mapped.examples] == ["pos", "neg"]
    with pytest.raises(DataError, match=r"^hf:glue:sst2:test row 1: empty answer in column 'label'"):
        load_pool("hf:glue:sst2:test", ColumnMapping(input="sentence", answer="label"))  # -1: no label name
    with pytest.raises(DataError, match=r"^hf:glue:sst2:train has no column 'question' for the input; available "
                                        r"columns: idx, sentence, label$"):
        load_pool("hf:glue:sst2:train")


# ---- refusals -------------------------------------------------------------------------------------------------------


def one_line(source: str, **kwargs) -> str:
    with pytest.raises(DataError) as err:
        read_rows(source, **kwargs)
    assert "\n" not in str(err.value)
    return str(err.value)


def test_not_cached_names_the_command_to_run(hf_home):
    said = one_line("hf:glue:sst2:validation")
    assert said == (f"hf:glue:sst2:validation: not in this machine's datasets cache ({hf_home / 'datasets'}) or hub "
                    f"cache ({hf_home / 'hub'}), and the workbench never downloads; on a connected machine run python "
                    "-c \"import datasets; datasets.load_dataset('glue', 'sst2', split='validation')\" (or hf download "
                    "--repo-type dataset glue), then copy its ~/.cache/huggingface here or point HF_HOME at the copy")
    assert "(nor the dataset 'stanfordnlp' with configuration 'imdb')" in one_line("hf:stanfordnlp/imdb:test[:5]")
    assert "load_dataset('stanfordnlp/imdb', split='test')" in one_line("hf:stanfordnlp/imdb:test[:5]")


def test_unknown_split_configuration_or_folder(glue, imdb, tmp_path):
    assert one_line("hf:glue:sst2:dev") == "hf:glue:sst2:dev: no split 'dev'; it has train, validation, test"
    assert one_line("hf:glue:sst2") == "hf:glue:sst2: 'sst2' is a configuration of glue; name a split too, e.g. " \
                                       "hf:glue:sst2:train"
    assert one_line("hf:glue/sst2") == ("hf:glue:sst2: the dataset has splits train, validation, test; name one, "
                                        "e.g. hf:glue:sst2:train")
    assert one_line("hf:glue:validation") == ("hf:glue:validation: the cache holds configurations cola, sst2; name "
                                              "one, e.g. hf:glue:cola:validation")
    assert one_line("hf:glue:mnli:train").startswith("hf:glue:mnli:train: not in this machine's datasets cache")
    assert one_line("hf:stanfordnlp/imdb:unsup") == "hf:stanfordnlp/imdb:plain_text:unsup: no split 'unsup'; it " \
                                                    "has train, test"
    assert one_line(f"hf:{tmp_path}/nowhere:train") == (f"hf:{tmp_path}/nowhere:train: no folder "
                                                        f"'{tmp_path}/nowhere' on this machine (a save_to_disk folder "
                                                        "or a folder of data files)")


def test_a_loading_script_is_refused_and_never_run(hf_home):
    snap = hub_snapshot(hf_home, "someone/scripted", "# scripted\n", {})
    (snap / "scripted.py").write_text("raise SystemExit('ran')\n")
    assert one_line("hf:someone/scripted:train") == (
        "hf:someone/scripted:train: the dataset has a loading script (scripted.py) and the workbench never runs code "
        "from a dataset; on a machine that can load it, save it with dataset.save_to_disk('FOLDER') and read "
        "hf:/path/to/FOLDER:SPLIT")
    local = hf_home / "copy"
    shutil.copytree(snap, local)
    assert one_line(f"hf:{local}:train").startswith(f"hf:{local}:train: '{local}' is not a saved dataset (no "
                                                   "dataset_dict.json or state.json) and holds Python files (scripted.py)")
    (local / "scripted.py").rename(local / "copy.py")  # a local folder's loading script is named after the folder
    assert one_line(f"hf:{local}:train").startswith(f"hf:{local}:train: the dataset has a loading script (copy.py)")


def test_a_split_over_the_file_loaders_bound_is_refused(glue, imdb):
    assert one_line("hf:glue:sst2:train", max_bytes=10) == (
        "hf:glue:sst2:train: the split holds 9e-05 MB of data, over the 4e-05 MB limit; slice it, e.g. "
        "hf:glue:sst2:train[:1000]")
    said = one_line("hf:stanfordnlp/imdb:test", max_bytes=10)
    assert said.startswith("hf:stanfordnlp/imdb:plain_text:test: split 'test' is ")
    assert said.endswith("MB of files, over the 1e-05 MB limit; slice it, e.g. hf:stanfordnlp/imdb:plain_text:test[:1000]")


def test_load_hf_rows_can_refuse_folders(tmp_path):
    with pytest.raises(DataError, match=r"^hf:/x:train: a folder is not accepted here; name a dataset on the Hub"):
        load_hf_rows("/x", None, "train", allow_folder=False)


# ---- the CLI --------------------------------------------------------------------------------------------------------


def test_eval_reads_an_hf_dataset_with_the_mapping_flags(glue):
    env = {**os.environ, "HF_HOME": str(glue)}
    env.pop("HF_DATASETS_CACHE", None)
    env.pop("HF_HUB_CACHE", None)
    res = subprocess.run([sys.executable, "-m", "workbench", "eval", "--dataset", "hf:glue/sst2:validation",
                          "--input-column", "sentence", "--answer-column", "label", "--strategies", "zero",
                          "--limit", "2", "--answer", "score", "--json", "--no-progress"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["status"] == "finished" and [(s["strategy"], s["n"]) for s in doc["strategies"]] == [("zero", 2)]
    with open_store(Path(os.environ["WORKBENCH_DATA_DIR"]) / "workbench.db") as store:
        assert store.get_run(doc["run_id"]).meta["dataset"]["name"] == "hf:glue/sst2:validation"
        records = store.results(doc["run_id"])
    assert [r["gold"] for r in records] == ["positive", "negative"]  # sst2's ClassLabel names, not 1/0
    assert all(r["extracted"] in ("positive", "negative") for r in records)
    assert "Using the latest cached version" not in res.stderr  # datasets' own chatter is kept quiet
    miss = subprocess.run([sys.executable, "-m", "workbench", "eval", "--dataset", "hf:glue:mnli:validation",
                           "--limit", "2", "--no-progress"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=env)
    assert miss.returncode == 2 and miss.stdout == ""
    assert miss.stderr.startswith("error: hf:glue:mnli:validation: not in this machine's datasets cache")
    assert "datasets.load_dataset('glue', 'mnli', split='validation')" in miss.stderr
    assert len(miss.stderr.strip().splitlines()) == 1
