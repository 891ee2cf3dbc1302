"""The package has no import cycle, function-level imports included (grimp's import graph)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

grimp = pytest.importorskip("grimp")

REPO = Path(__file__).resolve().parents[2]


def strongly_connected(graph, modules: set[str]) -> list[list[str]]:
    """Return the import cycles (strongly connected components > 1 module), Tarjan's way."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in modules:
                continue
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
                cycles.append(sorted(component))

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return cycles


def describe(graph, cycle: list[str]) -> str:
    members = set(cycle)
    lines = []
    for a in cycle:
        for b in sorted(graph.find_modules_directly_imported_by(a) & members):
            where = [d["line_number"] for d in graph.get_import_details(importer=a, imported=b)]
            lines.append(f"  {a} -> {b} (line {', '.join(map(str, where))})")
    return "\n".join(lines)


def test_the_cycle_detector_finds_a_cycle_and_names_its_imports():
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b", line_number=3, line_contents="")
    graph.add_import(importer="pkg.b", imported="pkg.c", line_number=4, line_contents="")
    graph.add_import(importer="pkg.c", imported="pkg.a", line_number=9, line_contents="")
    graph.add_import(importer="pkg.d", imported="pkg.a", line_number=1, line_contents="")
    cycles = strongly_connected(graph, set(graph.modules))
    assert cycles == [["pkg.a", "pkg.b", "pkg.c"]]
    assert "pkg.c -> pkg.a (line 9)" in describe(graph, cycles[0])


def test_the_package_has_no_import_cycle(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))
    for name in [m for m in sys.modules if m == "eegbench" or m.startswith("eegbench.")]:
        monkeypatch.delitem(sys.modules, name)  # grimp locates the package by importing it
    graph = grimp.build_graph("eegbench", cache_dir=None)
    modules = set(graph.modules)
    assert len(modules) > 100  # the whole package was scanned
    cycles = strongly_connected(graph, modules)
    report = "\n".join(f"cycle of {len(c)} modules:\n{describe(graph, c)}" for c in cycles)
    print(report)
    assert not cycles, f"import cycles in eegbench:\n{report}"
