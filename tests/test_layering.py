"""The layering of src/tradeexec (DESIGN.md section 3), guarded.

- No import cycle anywhere: an import inside a function or under ``TYPE_CHECKING`` counts,
  since it is a cycle a reader must hold in their head all the same.
- Nothing below the facade imports a surface: modules under ``execution/``, ``exchanges/``,
  ``store/`` and ``sim/`` (and the base modules) never import the CLI, the API, the MCP
  server, the plugin API, the demo or the testing plugin.
- The configuration imports nothing from the exchanges, execution, store, simulator or a
  surface.
- No module over 500 lines (migrations aside): one job per module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import tradeexec

SRC = Path(tradeexec.__file__).resolve().parent
ROOT = SRC.parent
SURFACES = (
    "tradeexec.cli",
    "tradeexec.api",
    "tradeexec.mcp_server",
    "tradeexec.plugin",
    "tradeexec.testing",
)
LOWER = ("tradeexec.execution", "tradeexec.exchanges", "tradeexec.store", "tradeexec.sim")
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every tradeexec module ``name`` imports, wherever the import statement stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            subs = [f"{base}.{alias.name}" for alias in node.names]
            targets = [sub for sub in subs if sub in modules] or [base]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _is(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_one() -> None:
    """The check above can fail: a made-up cycle is found."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_nothing_below_the_facade_imports_a_surface() -> None:
    graph = _graph()
    offending = {
        name: sorted(t for t in targets if _is(t, SURFACES))
        for name, targets in graph.items()
        if _is(name, LOWER) and not _is(name, SURFACES)
    }
    assert {name: found for name, found in offending.items() if found} == {}


def test_the_configuration_imports_no_layer_above_it() -> None:
    """config/ is read by every layer; it reads none of them (the account type names it checks
    are its own, told by the exchange registry)."""
    above = ("tradeexec.exchanges", "tradeexec.execution", "tradeexec.store", "tradeexec.sim")
    graph = _graph()
    offending = {
        name: sorted(t for t in targets if _is(t, (*above, *SURFACES)))
        for name, targets in graph.items()
        if _is(name, ("tradeexec.config",))
    }
    assert {name: found for name, found in offending.items() if found} == {}


def test_no_module_over_500_lines() -> None:
    long = {
        name: count
        for name, path in _modules().items()
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
