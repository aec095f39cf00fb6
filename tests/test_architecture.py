"""The package's shape: no import cycles, short modules, and layers that import only downwards.

Imports are read with ``ast`` from the source, at any depth (an import inside a function still
ties the two modules together), except under ``if TYPE_CHECKING:``, which never runs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "flowerdash"
MAX_LINES = 500


@dataclass(frozen=True)
class Import:
    """One imported dotted name and the line of the import statement."""

    target: str  # absolute dotted name: a module, a package, or a name inside one
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk_runtime(node: ast.AST) -> Iterator[ast.AST]:
    """Every node below ``node`` except the bodies of ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield other
                yield from _walk_runtime(other)
            continue
        yield child
        yield from _walk_runtime(child)


@cache
def imports_of(path: Path) -> tuple[Import, ...]:
    """The runtime imports of one file (see :func:`parse_imports`)."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    return parse_imports(path.read_text(encoding="utf-8"), package)


def parse_imports(source: str, package: list[str]) -> tuple[Import, ...]:
    """The runtime imports of a module of ``package``, as absolute dotted names.

    ``from a import b`` gives both ``a`` and ``a.b``, which may be a module or a name in ``a``.
    """
    tree = ast.parse(source)
    found = []
    for node in _walk_runtime(tree):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append(Import(base, node.lineno))
            found += [Import(f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return tuple(found)


def files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


@cache
def module_graph() -> dict[str, dict[str, int]]:
    """flowerdash module -> {flowerdash module it imports at run time: line of the import}.

    Importing ``a.b.c`` also runs ``a/__init__.py`` and ``a/b/__init__.py``; an edge to a
    package's ``__init__`` is kept only if that ``__init__`` itself imports flowerdash modules
    (an empty one cannot close a cycle, and every module would otherwise point at it).
    """
    modules = {module_name(p): p for p in files(PACKAGE)}
    packages = {module_name(p) for p in PACKAGE.rglob("__init__.py")}

    def imports_flowerdash(name: str) -> bool:
        return any(i.target.split(".")[0] == "flowerdash" for i in imports_of(modules[name]))

    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        edges: dict[str, int] = {}
        for imp in imports_of(path):
            if imp.target.split(".")[0] != "flowerdash" or imp.target not in modules:
                continue  # outside flowerdash, or a name defined in a module (listed as well)
            parts = imp.target.split(".")
            for i in range(1, len(parts) + 1):
                target = ".".join(parts[:i])
                if target == name or target not in modules:
                    continue
                if target in packages and not imports_flowerdash(target):
                    continue
                edges.setdefault(target, imp.line)
        graph[name] = edges
    return graph


def strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module (the cycles)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def shortest_cycle(graph: dict[str, dict[str, int]], component: list[str]) -> list[str]:
    """One shortest cycle through the first module of a component, as a closed path."""
    start, members = component[0], set(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v]):
            if w == start:
                return [*paths[v], start]
            if w in members and w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    return component


def describe_component(graph: dict[str, dict[str, int]], component: list[str]) -> str:
    """A shortest cycle of the component, then every import between its modules (to cut one)."""
    modules = {module_name(p): p for p in files(PACKAGE)}

    def edge(a: str, b: str) -> str:
        return f"      {a} -> {b}  ({modules[a].relative_to(ROOT)}:{graph[a][b]})"

    cycle = shortest_cycle(graph, component)
    inside = [edge(a, b) for a in component for b in sorted(graph[a]) if b in component]
    return "\n".join(
        [
            f"  cycle among {', '.join(component)}",
            "    for example:",
            *(edge(a, b) for a, b in zip(cycle, cycle[1:], strict=False)),
            "    all imports inside it:",
            *inside,
        ]
    )


def test_there_are_no_import_cycles_in_flowerdash():
    graph = module_graph()
    assert "flowerdash.data.sources" in graph and graph["flowerdash.data.pipelines"]
    cycles = strongly_connected(graph)
    report = [describe_component(graph, component) for component in cycles]
    assert not cycles, f"{len(cycles)} import cycle(s) in flowerdash:\n" + "\n".join(report)


def test_the_cycle_finder_finds_a_cycle_and_the_path_through_it():
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3, "d": 4}, "d": {}}
    assert strongly_connected(graph) == [["a", "b", "c"]]
    assert shortest_cycle(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]


def test_function_level_imports_count_and_type_checking_ones_do_not():
    source = """
from typing import TYPE_CHECKING
from . import sibling
from ..other import thing
if TYPE_CHECKING:
    import annotations_only
else:
    import at_run_time
def f():
    import inside_a_function
"""
    names = {i.target for i in parse_imports(source, ["pkg", "sub"])}
    assert {"pkg.sub.sibling", "pkg.other.thing", "at_run_time", "inside_a_function"} <= names
    assert "annotations_only" not in names
    # pipelines imports augment inside make_pipeline only: still an edge.
    assert "flowerdash.data.augment" in module_graph()["flowerdash.data.pipelines"]


def test_no_module_in_flowerdash_is_over_500_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in files(PACKAGE)
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines (split them along a seam): " + ", ".join(
        f"{path} ({n} lines)" for path, n in sorted(long.items())
    )


def _offending_imports(folder: Path, forbidden: tuple[str, ...]) -> list[str]:
    """'file:line imports module' for each import statement of a forbidden module or below."""
    out = {}
    for path in files(folder):
        for imp in imports_of(path):
            if any(imp.target == f or imp.target.startswith(f + ".") for f in forbidden):
                where = f"{path.relative_to(ROOT)}:{imp.line}"
                out.setdefault(where, imp.target)  # the module, before the names taken from it
    return [f"{where} imports {target}" for where, target in sorted(out.items())]


# Each package imports only packages of lower layers (docs/ARCHITECTURE.md draws the same map);
# the top-level modules (errors, settings, i18n, locales, examples) are below every package.
LAYERS = {
    "data": 1,
    "models": 2,
    "inference": 3,
    "explain": 4,
    "training": 4,
    "ui": 5,
    "cli": 5,
}


def test_packages_import_only_lower_layers():
    bad = []
    for package, layer in LAYERS.items():
        above = tuple(
            f"flowerdash.{other}"
            for other, other_layer in LAYERS.items()
            if other != package and other_layer >= layer
        )
        bad += _offending_imports(PACKAGE / package, above)
    assert not bad, "a package imports one of its own layer or above:\n" + "\n".join(bad)


def test_every_package_has_a_layer():
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")} - {"locales", "examples"}
    assert packages == set(LAYERS)


def test_only_flowerdash_ui_imports_streamlit():
    bad = [
        line
        for line in _offending_imports(PACKAGE, ("streamlit",))
        if not line.startswith("flowerdash/ui/")
    ]
    assert not bad, "streamlit is imported outside flowerdash/ui:\n" + "\n".join(bad)


def test_pages_do_not_import_tensorflow_or_keras():
    bad = _offending_imports(ROOT / "app_pages", ("tensorflow", "keras"))
    assert not bad, "pages hold layout only; move this work into flowerdash:\n" + "\n".join(bad)
