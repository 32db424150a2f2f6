"""The shape of the code (issue 30): no import cycles in ``workbench`` and ``ui``, the process environment read
only by ``workbench/settings.py``, and no module over 500 lines.

Imports are read from the source (``ast``), not by importing it. Only imports that run when a module is imported
count: those at module level, in a class body, or under a module-level ``if``/``try``/``with`` -- not those inside
functions (they run later, so they cannot make a cycle at import time) nor under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("workbench", "ui")
MAX_LINES = 500
#: The one module that reads or writes the process environment.
SETTINGS_MODULE = Path("workbench/settings.py")
ENVIRONMENT_USE = re.compile(r"os\.environ|getenv|from\s+os\s+import[^\n]*\benviron")


def source_files() -> dict[str, Path]:
    """Every module of the packages, by dotted name (a package by its own name, for its ``__init__``)."""
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def import_time_statements(body: list[ast.stmt]):
    """The import statements that run when a module (or a class body) is executed."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.ClassDef):
            yield from import_time_statements(node.body)
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from import_time_statements(node.body)
            yield from import_time_statements(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from import_time_statements(block)
        elif isinstance(node, (ast.With, ast.For, ast.While)):
            yield from import_time_statements(node.body)


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules ``name`` imports at import time. ``from pkg import sub`` is an edge to ``pkg.sub``
    when that is a module, else to ``pkg`` (its ``__init__``); parent packages are not edges of their own."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in import_time_statements(ast.parse(path.read_text(encoding="utf-8"), str(path)).body):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in modules else module
                       for alias in node.names]
        out |= {t for t in targets if t in modules and t != name}
    return out


def import_graph() -> dict[str, set[str]]:
    modules = source_files()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan), as a closed path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(_path_within(graph, set(component)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _path_within(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A closed import path through a strongly connected component, from its first module back to it."""
    start = min(component)
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:  # breadth first: the shortest way back to start
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & component):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start] if v != start else [start, start]
                if w not in parents:
                    parents[w] = v
                    nxt.append(w)
        frontier = nxt
    return sorted(component)


def test_the_cycle_finder_finds_and_names_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_imports_resolve_relative_from_and_submodules(tmp_path):
    pkg = tmp_path / "workbench"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .one import x\n")
    (pkg / "sub" / "one.py").write_text("from ..two import y\nfrom workbench.sub import two_b\n"
                                        "def later():\n    import workbench.three\n")
    (pkg / "sub" / "two_b.py").write_text("")
    (pkg / "two.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import workbench.three\n")
    (pkg / "three.py").write_text("")
    modules = {"workbench": pkg / "__init__.py", "workbench.sub": pkg / "sub" / "__init__.py",
               "workbench.sub.one": pkg / "sub" / "one.py", "workbench.sub.two_b": pkg / "sub" / "two_b.py",
               "workbench.two": pkg / "two.py", "workbench.three": pkg / "three.py"}
    assert imported_modules("workbench.sub", modules["workbench.sub"], modules) == {"workbench.sub.one"}
    assert imported_modules("workbench.sub.one", modules["workbench.sub.one"], modules) == {
        "workbench.two", "workbench.sub.two_b"}
    assert imported_modules("workbench.two", modules["workbench.two"], modules) == set()


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles (module-level imports):\n" + "\n".join(" -> ".join(c) for c in found)


def test_only_the_settings_module_touches_the_process_environment():
    offenders = []
    for path in source_files().values():
        rel = path.relative_to(ROOT)
        if rel == SETTINGS_MODULE:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if ENVIRONMENT_USE.search(line):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert not offenders, "read the environment through workbench.settings:\n" + "\n".join(offenders)


def test_no_module_is_over_500_lines():
    long = {str(p.relative_to(ROOT)): n for p in source_files().values()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split by concept): {long}"
