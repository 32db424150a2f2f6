"""The wheel carries every package of the library and the app: pyproject's explicit list names each folder that
has an ``__init__.py`` under workbench/ and ui/ (a package left out installs without its modules)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _listed() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return set(config["tool"]["setuptools"]["packages"])


def _on_disk() -> set[str]:
    found = set()
    for top in ("workbench", "ui"):
        for init in (ROOT / top).rglob("__init__.py"):
            if "__pycache__" not in init.parts:
                found.add(".".join(init.parent.relative_to(ROOT).parts))
    return found


def test_every_package_is_in_the_wheel():
    missing = _on_disk() - _listed()
    assert not missing, f"pyproject.toml [tool.setuptools] packages lacks {sorted(missing)}"


def test_the_list_names_no_package_that_is_gone():
    gone = {p for p in _listed() - _on_disk() if p != "workbench_app"}  # workbench_app: the repository root, mapped
    assert not gone, f"pyproject.toml lists packages that no longer exist: {sorted(gone)}"
