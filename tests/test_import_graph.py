"""The package's module import graph, built from its source (every import statement, including
imports inside functions), has no cycle: a lazy import that closes a circle is still a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import crossrec

PACKAGE_DIR = Path(crossrec.__file__).resolve().parent
PACKAGE = "crossrec"


def module_names() -> dict[str, Path]:
    out = {}
    for path in PACKAGE_DIR.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE_DIR).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join([PACKAGE, *parts])] = path
    return out


def is_submodule(modules: dict[str, Path], package: str, name: str) -> bool:
    if f"{package}.{name}" in modules:
        return True
    if package not in modules or modules[package].name != "__init__.py":
        return False
    return any(modules[package].parent.glob(f"{name}.*.so")) or any(modules[package].parent.glob(f"{name}.*.pyd"))


def resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """Absolute module name of ``from <level dots><name> import ...`` written in ``module``."""
    if level == 0:
        return name or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = resolve(module, is_package, node.level, node.module)
                # "from pkg import sub" imports the submodule pkg.sub when there is one (a compiled
                # one such as _core has no edges), and pkg itself for any other name
                subs = [alias.name for alias in node.names if is_submodule(modules, base, alias.name)]
                targets = [f"{base}.{name}" for name in subs]
                if len(subs) < len(node.names):
                    targets.append(base)
            for t in targets:
                if t in modules and t != module:
                    graph[module].add(t)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return path[path.index(n) :] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_graph_sees_the_package():
    graph = import_graph()
    assert "crossrec.models.base" in graph and "crossrec.transfer.domains" in graph
    # edges from module-level and function-level imports are both found
    assert "crossrec.models.base" in graph["crossrec.models.mf"]
    assert "crossrec.data" in graph["crossrec.transfer.domains"]


def test_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize(
    ("module", "is_package", "level", "name", "expected"),
    [
        ("crossrec.transfer.auto", False, 1, "domains", "crossrec.transfer.domains"),
        ("crossrec.transfer.auto", False, 2, "models.base", "crossrec.models.base"),
        ("crossrec.transfer", True, 1, "auto", "crossrec.transfer.auto"),
        ("crossrec.cli", False, 1, None, "crossrec"),
    ],
)
def test_relative_imports_resolve(module, is_package, level, name, expected):
    assert resolve(module, is_package, level, name) == expected


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
