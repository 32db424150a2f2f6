"""Hugging Face caches built in a test's folder by ``datasets`` itself: the Arrow files ``load_dataset`` leaves in the
datasets cache, the repository files ``hf download`` leaves in the hub cache (tests/test_data_hub.py and the data
picker's AppTest read them offline)."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import datasets
import huggingface_hub.constants as hub_constants

SST2 = datasets.Features({"idx": datasets.Value("int32"), "sentence": datasets.Value("string"),
                          "label": datasets.ClassLabel(names=["negative", "positive"])})
SST2_ROWS = {
    "train": {"idx": [0, 1, 2], "sentence": ["a gripping film", "dull and long", "warm and funny"], "label": [1, 0, 1]},
    "validation": {"idx": [0, 1], "sentence": ["it's a charming journey", "unflinchingly bleak"], "label": [1, 0]},
    "test": {"idx": [0], "sentence": ["hidden"], "label": [-1]},  # GLUE hides test labels as -1
}
COLA = datasets.Features({"sentence": datasets.Value("string"),
                          "label": datasets.ClassLabel(names=["unacceptable", "acceptable"])})
IMDB = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])})
REV = "0123456789abcdef0123456789abcdef01234567"


def cut_network(monkeypatch) -> None:
    """Any connection attempt fails the test: the rows must come from disk (for a fixture)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network use: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def use_hf_home(tmp_path: Path, monkeypatch) -> Path:
    """An empty HF_HOME (datasets cache and hub cache) that this process's libraries read (for a fixture)."""
    home = tmp_path / "hf"
    (home / "datasets").mkdir(parents=True)
    (home / "hub").mkdir()
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", home / "datasets")
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(home / "hub"))
    return home


def arrow_cache(home: Path, repo: str, config: str, splits: dict, features) -> None:
    """What ``load_dataset(repo, config)`` leaves in the datasets cache, written by datasets' own Parquet builder
    (``<cache>/owner___name/<config>/0.0.0/<hash>/name-<split>.arrow`` and ``dataset_info.json``)."""
    from datasets.data_files import DataFilesDict
    from datasets.packaged_modules.parquet.parquet import Parquet

    *owner, name = repo.split("/")
    src = home / "src" / repo / config
    src.mkdir(parents=True)
    for split, columns in splits.items():
        datasets.Dataset.from_dict(columns, features=features).to_parquet(str(src / f"{split}.parquet"))
    stage = home / "stage"
    files = DataFilesDict.from_patterns({s: [str(src / f"{s}.parquet")] for s in splits})
    Parquet(data_files=files, cache_dir=str(stage), dataset_name=name, config_name=config, config_id=config,
            features=features, hash="0a1b2c3d").download_and_prepare()
    target = home / "datasets" / "___".join([*owner, name])
    target.mkdir(parents=True, exist_ok=True)
    shutil.move(str(stage / name / config), str(target / config))
    shutil.rmtree(stage)


def hub_snapshot(home: Path, repo: str, readme: str, files: dict[str, tuple[dict, object]]) -> Path:
    """What ``hf download --repo-type dataset REPO`` leaves in the hub cache: ``refs/main`` and the snapshot."""
    root = home / "hub" / f"datasets--{repo.replace('/', '--')}"
    snap = root / "snapshots" / REV
    snap.mkdir(parents=True)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(REV)
    (snap / "README.md").write_text(readme)
    for rel, (columns, features) in files.items():
        (snap / rel).parent.mkdir(parents=True, exist_ok=True)
        datasets.Dataset.from_dict(columns, features=features).to_parquet(str(snap / rel))
    return snap


IMDB_README = """---
configs:
- config_name: plain_text
  data_files:
  - split: train
    path: plain_text/train-*
  - split: test
    path: plain_text/test-*
---
# imdb
"""


def add_glue(hf_home: Path) -> Path:
    """glue with configurations sst2 and cola in the datasets cache, as load_dataset('glue', ...) leaves it."""
    arrow_cache(hf_home, "glue", "sst2", SST2_ROWS, SST2)
    arrow_cache(hf_home, "glue", "cola", {"train": {"sentence": ["The book was read."], "label": [1]}}, COLA)
    return hf_home


def add_imdb(hf_home: Path) -> Path:
    """stanfordnlp/imdb's Parquet files in the hub cache."""
    hub_snapshot(hf_home, "stanfordnlp/imdb", IMDB_README, {
        "plain_text/train-00000-of-00001.parquet": ({"text": ["loved it", "hated it"], "label": [1, 0]}, IMDB),
        "plain_text/test-00000-of-00001.parquet": ({"text": ["great cast", "a mess", "fine"], "label": [1, 0, 1]},
                                                   IMDB),
    })
    return hf_home
