"""Import circles (and imports of private names) inside a Python package, read from the AST.

    .venv/bin/python scripts/import_cycles.py                # governance/
    .venv/bin/python scripts/import_cycles.py governance --private

Every ``import`` / ``from … import`` statement of a module counts, wherever it stands: at the
top, inside a function, under ``if TYPE_CHECKING:`` (a circle that only type checkers follow
is still two modules that each need the other). Only modules of the scanned package are
nodes; an import names the module it loads (``from governance.archive import X`` → the
package ``governance.archive``; ``from governance import archive`` → the submodule, when one
exists). Importing a submodule does not add an edge to its parent packages.

Prints each circle as ``a -> b -> a`` and exits 1 when there is one. With ``--private`` it
also lists every name starting with ``_`` imported from another module (``path:line: module
imports _name from other``) and exits 1 when there is one; a package's own private
submodule (``from pkg import _impl`` inside ``pkg``) and dunder names are not private names.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, kw_only=True)
class Import:
    """One imported name: ``importer`` (module) loads ``target`` (module) at ``path:line``."""

    importer: str
    target: str
    name: str | None  # the name written after ``import`` in ``from source import name`` (None: ``import target``)
    source: str  # the module the name is taken from (``target`` itself, or its package)
    path: Path
    line: int


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name → file, for the package at ``root`` (``__init__.py`` names the package)."""
    root = root.resolve()
    base = root.parent
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(base).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _resolve_relative(importer: str, is_package: bool, level: int, module: str | None) -> str:
    parts = importer.split(".")
    if not is_package:
        parts.pop()
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts + ([module] if module else []))


def _loaded(dotted: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of ``dotted`` that is a module of the scanned package."""
    parts = dotted.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def imports(modules: dict[str, Path]) -> list[Import]:
    """Every import of a scanned module by a scanned module (self-imports left out)."""
    found: list[Import] = []
    for importer, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    target = _loaded(alias.name, modules)
                    if target is not None and target != importer:
                        found.append(
                            Import(
                                importer=importer, target=target, name=None, source=target, path=path, line=node.lineno
                            )
                        )
            elif isinstance(node, ast.ImportFrom):
                source = (
                    _resolve_relative(importer, _is_package(path), node.level, node.module)
                    if node.level
                    else node.module or ""
                )
                base = _loaded(source, modules)
                if base is None:
                    continue
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    target = submodule if base == source and submodule in modules else base  # from pkg import module
                    if target != importer:
                        found.append(
                            Import(
                                importer=importer,
                                target=target,
                                name=alias.name,
                                source=base,
                                path=path,
                                line=node.lineno,
                            )
                        )
    return found


def graph(found: list[Import]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for imp in found:
        edges.setdefault(imp.importer, set()).add(imp.target)
        edges.setdefault(imp.target, set())
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One circle per strongly connected component of more than one module (Tarjan), each as
    the modules along it, first module repeated at the end, starting at its smallest name."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    counter = 0

    def connect(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(edges) + 100))
    try:
        for node in sorted(edges):
            if node not in index:
                connect(node)
    finally:
        sys.setrecursionlimit(limit)
    return sorted(_circle_in(component, edges) for component in components)


def _circle_in(component: set[str], edges: dict[str, set[str]]) -> list[str]:
    """A shortest circle through the component's smallest module (breadth-first)."""
    start = min(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for nxt in sorted(edges[node] & component):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if nxt not in came_from:
                    came_from[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no circle through {start}")  # a component always has one


def private_imports(found: list[Import], modules: dict[str, Path]) -> list[Import]:
    """Imports of a ``_name`` from another module (dunders and a package's own ``_submodule`` aside)."""
    offenders = []
    for imp in found:
        name = imp.name
        if name is None or not name.startswith("_") or (name.startswith("__") and name.endswith("__")):
            continue
        own_submodule = f"{imp.source}.{name}" in modules and (
            imp.importer == imp.source or imp.importer.startswith(imp.source + ".")
        )
        if not own_submodule:
            offenders.append(imp)
    return sorted(offenders, key=lambda imp: (str(imp.path), imp.line, imp.name or ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("package", nargs="?", type=Path, default=Path(__file__).resolve().parent.parent / "governance")
    parser.add_argument("--private", action="store_true", help="also list imports of _private names across modules")
    args = parser.parse_args(argv)

    modules = module_files(args.package)
    found = imports(modules)
    circles = cycles(graph(found))
    for circle in circles:
        print("cycle: " + " -> ".join(circle))
    failed = bool(circles)
    if args.private:
        for imp in private_imports(found, modules):
            print(f"private: {imp.path}:{imp.line}: {imp.importer} imports {imp.name} from {imp.source}")
            failed = True
    if not failed:
        print(f"no import cycles among {len(modules)} modules of {args.package}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
