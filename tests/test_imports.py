"""No import cycle among aigw's modules, counting imports inside functions too.

A cycle hidden behind a function-level import still couples the two modules
both ways (issue 15: `vault` imported `dev` lazily while `dev` imported `vault`),
so every `import` statement of every module under cli/aigw is an edge here,
wherever it sits. `from aigw.x import name` is an edge to the module `aigw.x.name`
when that is a module, else to `aigw.x`. Only `if TYPE_CHECKING:` blocks are left
out: they never run, and annotations may name a type both ways.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cli" / "aigw"


def module_names(root: Path = PACKAGE) -> dict[str, Path]:
    """Every module of the package by dotted name (a package is its `__init__`)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that module NAME imports anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
    return {m for m in found if m in modules and m != name}


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of TREE except those under `if TYPE_CHECKING:`."""
    out, todo = [], [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """module -> the package's modules it imports."""
    modules = module_names(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for start in sorted(edges):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(edges[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(edges[nxt])))
    return None


def test_the_package_has_no_import_cycle() -> None:
    edges = graph()
    assert "aigw.vault" in edges and "aigw.dev" in edges["aigw.context"]
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def upward_imports(edges: dict[str, set[str]], lower: str, upper: str) -> list[str]:
    """Every import from package LOWER (or its modules) into package UPPER, as `a -> b`."""
    def inside(module: str, package: str) -> bool:
        return module == package or module.startswith(package + ".")

    return sorted(f"{m} -> {d}" for m in edges if inside(m, lower)
                  for d in edges[m] if inside(d, upper))


def test_slot_storage_sits_below_rotation() -> None:
    """aigw.slots (kv, journal, lock, audit, status, put) never imports aigw.rotation."""
    edges = graph()
    assert "aigw.slots.put" in edges and "aigw.slots.kv" in edges["aigw.rotation.machine"]
    assert upward_imports(edges, "aigw.slots", "aigw.rotation") == []


def test_the_layer_check_sees_an_upward_import(tmp_path: Path) -> None:
    pkg = tmp_path / "aigw"
    for sub in ("slots", "rotation"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "rotation" / "machine.py").write_text("from aigw.slots import kv\n")
    (pkg / "slots" / "kv.py").write_text("def f():\n    from aigw.rotation.machine import x\n")
    assert upward_imports(graph(pkg), "aigw.slots", "aigw.rotation") == [
        "aigw.slots.kv -> aigw.rotation.machine"]


def test_a_function_level_import_counts(tmp_path: Path) -> None:
    """The walker sees the shape of the old vault/dev cycle."""
    pkg = tmp_path / "aigw"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "vault.py").write_text("def resolve():\n    from aigw import dev\n")
    (pkg / "dev.py").write_text("from aigw.vault import resolve\n")
    assert find_cycle(graph(pkg)) == ["aigw.dev", "aigw.vault", "aigw.dev"]
