"""No import cycle among aigw's modules, counting imports inside functions too.

A cycle hidden behind a function-level import still couples the two modules
both ways (issue 15: `vault` imported `dev` lazily while `dev` imported `vault`),
so every `import` statement of every module under cli/aigw is an edge here,
wherever it sits. `from aigw.x import name` is an edge to the module `aigw.x.name`
when that is a module, else to `aigw.x`. Only `if TYPE_CHECKING:` blocks are left
out: they never run, and annotations may name a type both ways.

Beyond "no cycle", the package has an order: `LAYERS` lists every module and
package of cli/aigw bottom first, and `PACKAGE_LAYERS` every module inside each
package. A module imports only from layers below its own, never from its own
layer (the members of a layer are independent of each other). A new module fails
`test_every_module_has_a_layer` until it is placed (docs/architecture.md#layers).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cli" / "aigw"


# Bottom first, one layer a line. Layer 0 is the base: the registries (`apis`,
# `outputs`, `drivers`), the names and primitives; they import only the standard
# library, so `aigw validate` and the client can read them without loading anything.
# `fastpath` (the one switch of the fast paths) reads `envvars`; `client` (the runtime
# services import) sits right above them, below all it serves.
LAYERS = """
aigw errors envvars names apis outputs drivers fsutil proc package_data
fastpath
client
vault git gitguard tools
devstore tool_release
dev tool_install
context
catalog
client_config render_manifest render_plan render_pool
render_fast render_outputs
render
render_sync
slots
rotation
stack
agent_credentials fleet usage evals scaffold
governance
diff
commands
cli
_entry
__main__
"""

# Inside each package, bottom first; `__init__` is the package itself.
PACKAGE_LAYERS = {
    "catalog": """
        limits loader prices salvage
        merge models
        checks
        overrides
        view
        __init__
    """,
    "client": """
        httpapi
        fastpath
        ackdoc cost errors eventstream keys multipart semconv usage
        acks metrics sigv4 streaming
        wire
        wires._body
        wires.openai wires.anthropic wires.bedrock
        wires.bedrock_api_key
        wires
        config
        live router
        telemetry
        core
        transport
        dictapi sdk
        aio client
        __init__
    """,
    "commands": """
        __init__ output tools
        options
        agent_credentials apply audit destroy dev diff eval init keys plan policy render
        rotate_keys status usage validate
    """,
    "diff": """
        effects
        model
        build text
        markdown
        __init__
    """,
    "evals": """
        cache graders keyfolder prices report results
        cases
        loader
        runner
        compare
        __init__
    """,
    "governance": """
        findings inputs
        engine waivers
        __init__
    """,
    "rotation": """
        __init__ drivers drivers.base progress
        drivers.aws_iam drivers.manual evidence
        drivers.anthropic_admin drivers.openai_admin machine
        runner
    """,
    "scaffold": """
        pins source
        __init__
    """,
    "slots": """
        __init__ kv targets
        audit journal lock
        status
        put
    """,
    "stack": """
        _conn auth ids limits listing locks policy report sdkfix
        limit_providers providers spec
        __init__ readiness resources
        program
        fastplan workspace
        targets drift
        session
        run
    """,
    "usage": """
        sources
        bedrock keys prometheus report
        __init__
        render
    """,
}


def parse_layers(text: str) -> list[list[str]]:
    """LAYERS-style TEXT as one list of names per non-blank line."""
    return [line.split() for line in text.strip().splitlines() if line.strip()]


def layer_of(layers: str = LAYERS, package_layers: dict[str, str] | None = None,
             ) -> dict[str, tuple[str, int, int]]:
    """Dotted module name -> (its top-level unit, the unit's layer, its layer in the unit).

    A top-level module is its own unit (layer 0 inside it); a package's modules share
    the package's unit and are ordered by PACKAGE_LAYERS (nested names: `drivers.base`).
    """
    package_layers = PACKAGE_LAYERS if package_layers is None else package_layers
    out: dict[str, tuple[str, int, int]] = {}
    for rank, names in enumerate(parse_layers(layers)):
        for unit in names:
            dotted = "aigw" if unit == "aigw" else f"aigw.{unit}"
            inner = package_layers.get(unit)
            if inner is None:
                out[dotted] = (unit, rank, 0)
                continue
            for depth, members in enumerate(parse_layers(inner)):
                for member in members:
                    name = dotted if member == "__init__" else f"{dotted}.{member}"
                    out[name] = (unit, rank, depth)
    return out


def unplaced(modules: set[str], placed: dict[str, tuple[str, int, int]]) -> list[str]:
    """Modules with no layer, and layer entries naming no module (`stale: x`)."""
    return sorted(modules - set(placed)) + [f"stale: {m}" for m in sorted(set(placed) - modules)]


def upward(edges: dict[str, set[str]], placed: dict[str, tuple[str, int, int]]) -> list[str]:
    """Every import of a module from its own layer or one above it, as `a -> b`.

    Across units the units' layers count (so `aigw.catalog.models` importing
    `aigw.drivers` is fine and importing `aigw.rotation.registry` is not, whatever
    the module's place inside rotation); inside a unit, the modules' own layers.
    """
    bad = []
    for a, targets in edges.items():
        for b in targets:
            if a not in placed or b not in placed:
                continue  # unplaced(): reported by its own test
            (ua, ra, da), (ub, rb, db) = placed[a], placed[b]
            if (rb >= ra) if ua != ub else (db >= da):
                bad.append(f"{a} -> {b}")
    return sorted(bad)


def third_party_imports(path: Path) -> set[str]:
    """The top-level names of what PATH imports outside the standard library and aigw."""
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name.partition(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.partition(".")[0])
    return found - set(sys.stdlib_module_names) - {"__future__", "aigw"}


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


def test_every_module_has_a_layer() -> None:
    """A new module (or a moved one) fails here until LAYERS/PACKAGE_LAYERS place it."""
    modules = set(module_names())
    assert "aigw.commands.rotate_keys" in modules
    missing = unplaced(modules, layer_of())
    assert missing == [], ("place these in tests/test_imports.py's LAYERS or "
                           f"PACKAGE_LAYERS (bottom first): {missing}")


def test_no_import_goes_up_a_layer() -> None:
    """Every import, inside functions too, points to a lower layer (docs/architecture.md#layers)."""
    edges = graph()
    assert "aigw.drivers" in edges["aigw.catalog.models"]
    assert upward(edges, layer_of()) == []


def test_the_base_layer_imports_only_the_standard_library() -> None:
    """What `aigw validate` and the client read first loads no third-party package
    (the base layer and the fast-path switch: every layer below the client)."""
    modules = module_names()
    placed = layer_of()
    base = [m for m, (_u, rank, _d) in placed.items() if rank < placed["aigw.client"][1]]
    assert "aigw.names" in base and "aigw.drivers" in base
    assert {m: sorted(third_party_imports(modules[m])) for m in base
            if third_party_imports(modules[m])} == {}


def test_the_client_imports_only_the_base_layer() -> None:
    """aigw.client, which services install alone, imports from the rest of aigw only the
    layers below it (today `aigw.names` and the fast-path switch `aigw.fastpath`, which
    reads `aigw.envvars`), whose modules import only the standard library."""
    edges = graph()
    placed = layer_of()
    outside = {d for m, ds in edges.items() if m == "aigw.client" or m.startswith("aigw.client.")
               for d in ds if not (d == "aigw.client" or d.startswith("aigw.client."))}
    assert "aigw.names" in outside
    assert sorted(d for d in outside if placed[d][1] >= placed["aigw.client"][1]) == []


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    pkg = tmp_path / "aigw"
    for rel, text in {"__init__.py": "", **files}.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    return pkg


def test_the_layer_check_sees_a_package_level_upward_import(tmp_path: Path) -> None:
    """The old catalog -> rotation.registry import, inside a function, in a toy package."""
    pkg = _package(tmp_path, {
        "catalog/__init__.py": "", "catalog/models.py": "def f():\n    from aigw.rotation import registry\n",
        "rotation/__init__.py": "", "rotation/registry.py": "",
        "rotation/machine.py": "from aigw.catalog.models import f\n"})
    layers = "aigw\ncatalog\nrotation"
    inner = {"catalog": "models\n__init__", "rotation": "__init__ registry\nmachine"}
    placed = layer_of(layers, inner)
    assert unplaced(set(module_names(pkg)), placed) == []
    assert upward(graph(pkg), placed) == ["aigw.catalog.models -> aigw.rotation.registry"]


def test_the_layer_check_sees_a_same_layer_import_and_an_unplaced_module(tmp_path: Path) -> None:
    pkg = _package(tmp_path, {"names.py": "", "apis.py": "import aigw.names\n", "new.py": ""})
    placed = layer_of("aigw names apis", {})
    assert upward(graph(pkg), placed) == ["aigw.apis -> aigw.names"]
    assert unplaced(set(module_names(pkg)), placed | {"aigw.gone": ("gone", 0, 0)}) == [
        "aigw.new", "stale: aigw.gone"]
    assert third_party_imports(pkg / "apis.py") == set()
    (pkg / "names.py").write_text("import os\nimport yaml\nfrom pydantic import BaseModel\n")
    assert third_party_imports(pkg / "names.py") == {"yaml", "pydantic"}


ROOT = PACKAGE.parents[1]
IMPORTERS = ("cli", "tests", "testing", "benchmarks", "stacks", "scripts")


def defined_names(path: Path) -> set[str]:
    """Names a module defines itself (functions, classes, assignments), not the ones it imports."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            out.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return out


def borrowed_imports(root: Path = ROOT, importers: tuple[str, ...] = IMPORTERS) -> list[str]:
    """Every `from aigw.x import name` (and `__all__` entry) where module aigw.x does not
    define `name` but imports it from elsewhere: a re-export, an old path kept alive.

    A package's `__init__` may gather its modules' names (its public API); a module may not.
    An import inside an `except` handler is a fallback for an older aigw (a benchmark's
    baseline checkout), not a path kept alive, and is left out.
    """
    modules = module_names(root / "cli" / "aigw")
    plain = {m: p for m, p in modules.items() if p.name != "__init__.py"}
    defined = {m: defined_names(p) for m, p in plain.items()}
    bad = []
    for folder in importers:
        for path in sorted((root / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            where = path.relative_to(root)
            fallbacks = {id(n) for h in ast.walk(tree) if isinstance(h, ast.ExceptHandler)
                         for n in ast.walk(h)}
            for node in ast.walk(tree):
                if (isinstance(node, ast.ImportFrom) and not node.level
                        and node.module in plain and id(node) not in fallbacks):
                    bad += [f"{where}:{node.lineno}: {a.name} from {node.module}"
                            for a in node.names if f"{node.module}.{a.name}" not in modules
                            and a.name not in defined[node.module]]
            name = next((m for m, p in plain.items() if p == path), None)
            for node in tree.body if name else ():
                if (isinstance(node, ast.Assign) and any(
                        isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
                        and isinstance(node.value, ast.List | ast.Tuple)):
                    bad += [f"{where}:{node.lineno}: __all__ exports {e.value}, defined elsewhere"
                            for e in node.value.elts if isinstance(e, ast.Constant)
                            and e.value not in defined[name or ""]]
    return bad


def test_an_import_names_the_module_that_defines_it() -> None:
    """No re-exports kept for old import paths: import a name from where it is defined."""
    assert borrowed_imports() == []


def test_the_re_export_check_sees_a_borrowed_name(tmp_path: Path) -> None:
    pkg = _package(tmp_path / "cli", {
        "names.py": "X = 1\nY = 2\n", "view.py": "from aigw.names import X\n__all__ = ['X', 'f']\n"
        "def f():\n    return X\n", "user.py": "from aigw.view import X, f\nfrom aigw.names import X\n"
        "try:\n    from aigw.names import Y\nexcept ImportError:\n    from aigw.view import Y\n"})
    assert pkg.parent == tmp_path / "cli"
    assert borrowed_imports(tmp_path, ("cli",)) == [
        "cli/aigw/user.py:1: X from aigw.view", "cli/aigw/view.py:2: __all__ exports X, defined "
        "elsewhere"]
