"""ARCHITECTURE.md stays true: the floors it states hold, and every module, file and dotted name it shows exists.

Imports are read from the source (``ast``). Unlike the cycle test (``tests/test_imports.py``), a floor counts
*every* import in a file -- inside functions and under ``if TYPE_CHECKING:`` too: a lazy import of Streamlit in
the library is still the library depending on Streamlit.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

DOC = ROOT / "ARCHITECTURE.md"
STDLIB = set(sys.stdlib_module_names) | {"__future__"}

#: The ground floor: modules that import no other workbench module.
GROUND = ("workbench.errors", "workbench.words", "workbench.escapes", "workbench.atomic", "workbench.csvsafe",
          "workbench.evaluate.records", "workbench.data.examples", "workbench.kojima_cleansing")
#: The first floor: modules whose only workbench imports are ``workbench.errors`` and ground-floor modules.
FIRST = ("workbench.settings", "workbench.safeload", "workbench.decoding", "workbench.answers", "workbench.stats",
         "workbench.templates", "workbench.sandbox")
#: What the backends never reach for (they sit below everything that builds prompts or stores runs).
ABOVE_BACKENDS = ("workbench.prompts", "workbench.reasoning", "workbench.retrieval", "workbench.evaluate",
                  "workbench.promptsets", "workbench.autocot", "workbench.store", "workbench.cache")


# ---- reading imports ------------------------------------------------------------------------------------------

def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources() -> dict[str, Path]:
    """Every Python file of the app, by dotted name: ``app``, ``views.*``, ``ui.*``, ``workbench.*``."""
    out = {"app": ROOT / "app.py"}
    for folder in ("views", "ui", "workbench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            out[module_name(path)] = path
    return out


MODULES = sources()


def imported_names(name: str, path: Path) -> set[str]:
    """Every name a file imports anywhere (absolute; ``from m import x`` gives ``m.x`` when that is a module of
    ours, else ``m``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out |= {f"{module}.{a.name}" if f"{module}.{a.name}" in MODULES else module for a in node.names}
    return out


def own_modules(names: set[str]) -> set[str]:
    """The modules of ours that ``names`` reach (each name's longest prefix that is a module)."""
    out = set()
    for n in names:
        parts = n.split(".")
        for k in range(len(parts), 0, -1):
            if ".".join(parts[:k]) in MODULES:
                out.add(".".join(parts[:k]))
                break
    return out


IMPORTS = {name: imported_names(name, path) for name, path in MODULES.items()}


def tops(name: str) -> set[str]:
    return {n.split(".")[0] for n in IMPORTS[name]}


def under(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_import_reader_resolves_relative_imports_and_submodules():
    assert "workbench.errors" in IMPORTS["workbench.settings"]
    assert "workbench.retrieval.selectors.knn" in IMPORTS["workbench.retrieval.selectors.registry"]
    assert own_modules({"workbench.errors.ConfigError"}) == {"workbench.errors"}


# ---- the floors ---------------------------------------------------------------------------------------------

def test_pages_import_only_streamlit_ui_and_workbench():
    bad = {n: sorted(tops(n) - STDLIB - {"streamlit", "ui", "workbench"})
           for n in MODULES if n == "app" or n.startswith("views.")}
    assert not {n: b for n, b in bad.items() if b}


def test_nothing_imports_the_pages():
    bad = {n: sorted(tops(n) & {"views", "app"}) for n in MODULES}
    assert not {n: b for n, b in bad.items() if b}


def test_the_library_imports_no_streamlit_and_no_ui():
    bad = {n: sorted(tops(n) & {"streamlit", "ui", "views", "app"}) for n in MODULES if n.startswith("workbench")}
    assert not {n: b for n, b in bad.items() if b}


def test_only_the_entry_point_imports_the_cli():
    bad = [n for n in MODULES if not under(n, ["workbench.cli"]) and n != "workbench.__main__"
           and any(under(i, ["workbench.cli"]) for i in IMPORTS[n])]
    assert not bad


def test_the_ground_floor_imports_no_workbench_module():
    bad = {n: sorted(own_modules(IMPORTS[n])) for n in GROUND}
    assert not {n: b for n, b in bad.items() if b}


def test_the_first_floor_imports_only_the_errors():
    bad = {n: sorted(own_modules(IMPORTS[n]) - {"workbench.errors", *GROUND}) for n in FIRST}
    assert not {n: b for n, b in bad.items() if b}
    assert tops("workbench.settings") - STDLIB == {"workbench"}, "settings: the standard library only"


def test_data_stands_on_errors_safeload_and_the_sandbox():
    bad = {n: sorted(m for m in own_modules(IMPORTS[n]) - {"workbench.errors", "workbench.safeload",
                                                          "workbench.sandbox"}
                     if not under(m, ["workbench.data"]))
           for n in MODULES if under(n, ["workbench.data"])}
    assert not {n: b for n, b in bad.items() if b}


def test_backends_know_nothing_above_them():
    bad = {n: sorted(m for m in own_modules(IMPORTS[n]) if under(m, ABOVE_BACKENDS))
           for n in MODULES if under(n, ["workbench.backends"])}
    assert not {n: b for n, b in bad.items() if b}


def test_the_floor_rules_of_this_test_are_the_ones_the_page_states():
    text = DOC.read_text(encoding="utf-8")
    for name in GROUND + FIRST:
        assert f"`{name.replace('.', '/')}.py`" in text, f"ARCHITECTURE.md's floor table lacks {name}"


# ---- every name the page shows exists -------------------------------------------------------------------------

DOTTED = re.compile(r"(?:workbench|ui)(?:\.[A-Za-z_]\w*)+")
PATH = re.compile(r"(?:workbench|ui|views|tests|bench)/[\w./*-]*|app\.py")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
#: A dotted word ending so is a file name (``workbench.db``), not a module.
FILE_SUFFIXES = (".db", ".md", ".py", ".toml", ".json", ".yaml", ".txt")


def doc_names() -> tuple[set[str], set[str]]:
    """(dotted names, paths) the page shows: whole inline code spans that look like one, and such words inside
    its fenced blocks (the diagram)."""
    text = DOC.read_text(encoding="utf-8")
    dotted, paths = set(), set()
    for block in FENCE.findall(text):
        dotted |= {m for m in DOTTED.findall(block) if not m.endswith(FILE_SUFFIXES)}
        paths |= {m for m in PATH.findall(block) if m.endswith((".py", "/"))}
    for span in re.findall(r"`([^`\n]+)`", FENCE.sub("", text)):
        if DOTTED.fullmatch(span) and not span.endswith(FILE_SUFFIXES):
            dotted.add(span)
        elif PATH.fullmatch(span):
            paths.add(span)
    return dotted, paths


def resolve(dotted: str) -> object:
    """Import the longest module prefix of ``dotted``, then follow the rest as attributes."""
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ModuleNotFoundError as err:
            if err.name is None or not ".".join(parts[:k]).startswith(err.name):
                raise
            continue
        for attr in parts[k:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def test_the_page_shows_names_at_all():
    dotted, paths = doc_names()
    assert "workbench.evaluate.runner.evaluate" in dotted and "workbench/settings.py" in paths
    assert len(dotted) > 40 and len(paths) > 20


@pytest.mark.parametrize("name", sorted(doc_names()[0]))
def test_every_dotted_name_on_the_page_exists(name):
    try:
        resolve(name)
    except (ImportError, AttributeError) as err:
        pytest.fail(f"ARCHITECTURE.md names {name}, which does not exist: {err}")


@pytest.mark.parametrize("path", sorted(doc_names()[1]))
def test_every_path_on_the_page_exists(path):
    if "*" in path:
        assert list(ROOT.glob(path)), f"ARCHITECTURE.md names {path}, which matches no file"
    else:
        assert (ROOT / path).exists(), f"ARCHITECTURE.md names {path}, which does not exist"


def test_every_hand_written_test_list_the_page_names_exists():
    text = FENCE.sub("", DOC.read_text(encoding="utf-8"))
    lists = set(re.findall(r"`(EXPECTED_[A-Z_]+)`", text))
    assert lists, "the page names the tests' hand-written lists"
    tests = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").glob("test_*.py"))
    missing = sorted(n for n in lists if not re.search(rf"^{n}\s*=", tests, re.M))
    assert not missing, f"ARCHITECTURE.md names test lists that no test defines: {missing}"
