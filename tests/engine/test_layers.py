"""engine/ keeps the layers docs/architecture.md draws: no import cycles, no import against the order.

The layer table is read from docs/architecture.md (the Markdown table with the columns
`layer`, `modules` and `may import`), so the document and this test cannot drift apart.
Every import of every .py under engine/ counts, at the top of a module or inside a
function, and so does `importlib.import_module("engine.x")` with a literal name; only
the imports under `if TYPE_CHECKING:` are exempt (they never run). `from engine.x import y`
is an import of the module engine.x.y when y is one. Modules of one layer may import
each other, as long as no cycle comes of it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
PACKAGE = "engine"
MAX_TOP_MODULES = 6  # .py files directly in engine/ besides __init__.py and __main__.py
FORBIDDEN = ("flask", "web")  # engine/ never imports the web UI or its framework
DATABASE = ("sqlalchemy", "alembic", "psycopg")  # the language and base layers stay pure


@dataclass(frozen=True)
class Layer:
    name: str
    modules: tuple[str, ...]  # dotted names: each covers its submodules, except the bare root package
    may_import: frozenset[str]


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, e.g. engine.runtime.items
    path: str  # its file, relative to the root, e.g. engine/runtime/items.py
    line: int
    target: str  # the imported module, resolved to a submodule where there is one

    def where(self) -> str:
        return f"{self.path}:{self.line}"


# -- reading the layer table -------------------------------------------------------------------


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def read_layers(markdown: str) -> list[Layer]:
    """The layers of the first Markdown table with the columns `layer`, `modules` and `may import`."""
    lines = markdown.splitlines()
    for number, line in enumerate(lines):
        if not line.lstrip().startswith("|"):
            continue
        header = [cell.lower() for cell in _cells(line)]
        if not {"layer", "modules", "may import"} <= set(header):
            continue
        layer_col, modules_col, may_col = (header.index(c) for c in ("layer", "modules", "may import"))
        rows = []
        for row in lines[number + 2:]:
            if not row.lstrip().startswith("|"):
                break
            cells = _cells(row)
            rows.append((cells[layer_col].strip("`* "), cells[modules_col], cells[may_col]))
        names = {name for name, _, _ in rows}
        layers = []
        for name, modules_cell, may_cell in rows:
            modules = tuple(m for m in re.findall(r"`([^`]+)`", modules_cell)
                            if re.fullmatch(rf"{PACKAGE}(\.\w+)*", m))
            assert modules, f"docs/architecture.md: layer {name!r} names no module (write them as `engine.x`)"
            allowed = {word.strip("`* ") for word in may_cell.split(",")} - {"", "—", "-", "nothing"}
            unknown = allowed - names
            assert not unknown, f"docs/architecture.md: layer {name!r} may import unknown layers {sorted(unknown)}"
            layers.append(Layer(name, modules, frozenset(allowed)))
        return layers
    raise AssertionError("docs/architecture.md has no table with the columns `layer`, `modules`, `may import`")


def layer_of(module: str, layers: Iterable[Layer]) -> Layer | None:
    """The layer naming the longest prefix of `module` (the bare root package covers only itself)."""
    best: tuple[int, Layer] | None = None
    for layer in layers:
        for prefix in layer.modules:
            covers = module == prefix or (prefix != PACKAGE and module.startswith(prefix + "."))
            if covers and (best is None or len(prefix) > best[0]):
                best = (len(prefix), layer)
    return best[1] if best else None


# -- walking the imports -----------------------------------------------------------------------


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node but those under `if TYPE_CHECKING:` (its `else:` branch runs, so it counts)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend([node.test, *node.orelse])
        else:
            stack.extend(ast.iter_child_nodes(node))


def _imported(node: ast.AST, module: str, is_package: bool, known: set[str]) -> Iterator[str]:
    """The dotted names `node` imports (any package, not only engine)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".")
            base = base if is_package else base[:-1]
            base = base[:len(base) - (node.level - 1)]
            parent = ".".join([*base, *([node.module] if node.module else [])])
        else:
            parent = node.module or ""
        for alias in node.names:
            sub = f"{parent}.{alias.name}"
            yield sub if sub in known else parent
    elif isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if name in {"import_module", "__import__"} and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield first.value


def walk_imports(root: Path, package: str = PACKAGE) -> tuple[set[str], list[Import]]:
    """Every module under `root/package` and every import those modules make at run time."""
    files = sorted((root / package).rglob("*.py"))
    known = {module_name(path, root) for path in files}
    found = []
    for path in files:
        module = module_name(path, root)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _runtime_nodes(tree):
            for target in _imported(node, module, path.name == "__init__.py", known):
                found.append(Import(module, path.relative_to(root).as_posix(), getattr(node, "lineno", 0), target))
    return known, sorted(set(found), key=lambda i: (i.path, i.line, i.target))


def _ours(name: str, package: str = PACKAGE) -> bool:
    return name == package or name.startswith(package + ".")


# -- the checks --------------------------------------------------------------------------------


def find_cycles(imports: Iterable[Import], package: str = PACKAGE) -> list[str]:
    """One line per import cycle among the package's modules: the path round, with where each step is."""
    edges: dict[str, dict[str, Import]] = {}
    for imp in imports:
        if _ours(imp.target, package) and imp.target != imp.source:
            edges.setdefault(imp.source, {}).setdefault(imp.target, imp)
    reported: set[frozenset[str]] = set()
    cycles = []
    for start in sorted(edges):
        # The shortest way back to `start`, breadth first.
        back: dict[str, str] = {}
        queue, seen, closing = [start], {start}, None
        while queue and closing is None:
            current = queue.pop(0)
            for nxt in sorted(edges.get(current, {})):
                if nxt == start:
                    closing = current
                    break
                if nxt not in seen:
                    seen.add(nxt)
                    back[nxt] = current
                    queue.append(nxt)
        if closing is None:
            continue
        path = [closing]
        while path[-1] != start:
            path.append(back[path[-1]])
        path = [*reversed(path), start]
        if frozenset(path) in reported:
            continue
        reported.add(frozenset(path))
        steps = ", ".join(edges[a][b].where() for a, b in zip(path, path[1:], strict=False))
        cycles.append(f"{' -> '.join(path)} ({steps})")
    return cycles


def wrong_way(imports: Iterable[Import], layers: list[Layer], known: set[str], package: str = PACKAGE) -> list[str]:
    """One line per module in no layer and per import against the layer order."""
    problems = [f"{PACKAGE}: module {module} is in no layer of docs/architecture.md"
                for module in sorted(known) if layer_of(module, layers) is None]
    for imp in imports:
        if not _ours(imp.target, package):
            continue
        source, target = layer_of(imp.source, layers), layer_of(imp.target, layers)
        if source is None:
            continue  # reported above
        if target is None:
            problems.append(f"{imp.where()}: {imp.source} imports {imp.target}, which is in no layer")
        elif target.name != source.name and target.name not in source.may_import:
            allowed = ", ".join(sorted(source.may_import)) or "nothing of engine"
            problems.append(f"{imp.where()}: {imp.source} ({source.name}) imports {imp.target} ({target.name}); "
                            f"{source.name} may import {allowed}")
    return problems


def foreign(imports: Iterable[Import], banned: Iterable[str]) -> list[str]:
    """One line per import of a banned package (or one of its modules)."""
    banned = tuple(banned)
    return [f"{imp.where()}: {imp.source} imports {imp.target}" for imp in imports
            if any(imp.target == b or imp.target.startswith(b + ".") for b in banned)]


# -- the real engine ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def layers() -> list[Layer]:
    return read_layers(ARCHITECTURE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def engine_imports() -> tuple[set[str], list[Import]]:
    return walk_imports(ROOT)


def test_the_layer_table_lists_the_layers_lowest_first(layers):
    names = [layer.name for layer in layers]
    assert names[:3] == ["base", "language", "store"]
    for position, layer in enumerate(layers):
        below = set(names[:position])
        assert layer.may_import <= below, f"layer {layer.name} may import a layer above it"


def test_no_import_cycles_among_engine_modules(engine_imports):
    _, imports = engine_imports
    cycles = find_cycles(imports)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_imports_follow_the_layer_order(layers, engine_imports):
    known, imports = engine_imports
    problems = wrong_way(imports, layers, known)
    assert not problems, "imports against docs/architecture.md:\n" + "\n".join(problems)


def test_no_engine_module_imports_flask_or_web(engine_imports):
    # Stricter than the layers: not even under TYPE_CHECKING (the walk skips those, so look again).
    found = []
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            found += [f"{path.relative_to(ROOT)}:{node.lineno}: {n}" for n in names
                      if any(n == b or n.startswith(b + ".") for b in FORBIDDEN)]
    found += foreign(engine_imports[1], FORBIDDEN)
    assert not found, "engine/ imports the web side:\n" + "\n".join(sorted(set(found)))


def test_the_language_and_base_layers_never_touch_the_database(layers, engine_imports):
    _, imports = engine_imports
    pure = [i for i in imports if (layer := layer_of(i.source, layers)) and layer.name in {"base", "language"}]
    assert not foreign(pure, DATABASE)


def test_few_modules_stay_directly_in_engine():
    top = sorted(p.name for p in (ROOT / PACKAGE).glob("*.py") if p.name not in {"__init__.py", "__main__.py"})
    assert len(top) <= MAX_TOP_MODULES, f"engine/ holds {top}: put modules in the package of their layer"


# -- the checker itself, on a made-up engine ---------------------------------------------------

FAKE_TABLE = """
| layer | modules | may import |
|---|---|---|
| base | `engine.errors` | — |
| language | `engine.language` | base |
| runtime | `engine.runtime` | base, language |
| top | `engine` (its `__init__.py`), `engine.__main__` | base, language, runtime |
"""

FAKE_ENGINE: Mapping[str, str] = {
    "engine/__init__.py": "import importlib\n",
    "engine/__main__.py": "from engine.runtime import a\n",
    "engine/errors.py": "",
    "engine/language/__init__.py": "",
    "engine/language/pure.py": (
        "from typing import TYPE_CHECKING\n"
        "from engine import errors\n"
        "if TYPE_CHECKING:\n"
        "    from engine.runtime.a import Thing\n"  # exempt
        "def later():\n"
        "    import importlib\n"
        "    return importlib.import_module('engine.runtime.b')\n"  # line 7: wrong way, inside a function
    ),
    "engine/runtime/__init__.py": "",
    "engine/runtime/a.py": "from engine.errors import Problem\nfrom engine.runtime import b\n",
    "engine/runtime/b.py": "def f():\n    from .c import g\n",  # relative, inside a function
    "engine/runtime/c.py": "from engine.runtime.a import x\nimport flask\n",
    "engine/stray.py": "",
}


@pytest.fixture
def fake(tmp_path: Path) -> tuple[set[str], list[Import]]:
    for name, text in FAKE_ENGINE.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return walk_imports(tmp_path)


def test_the_checker_resolves_submodules_functions_and_relative_imports(fake):
    _, imports = fake
    edges = {(i.source, i.target) for i in imports if _ours(i.target)}
    assert ("engine.language.pure", "engine.errors") in edges  # `from engine import errors`: the module
    assert ("engine.runtime.a", "engine.runtime.b") in edges
    assert ("engine.runtime.b", "engine.runtime.c") in edges
    assert ("engine.language.pure", "engine.runtime.b") in edges  # import_module("...") with a literal
    assert ("engine.language.pure", "engine.runtime.a") not in edges  # TYPE_CHECKING is exempt


def test_the_checker_reports_a_cycle_with_its_path(fake):
    _, imports = fake
    assert find_cycles(imports) == [
        "engine.runtime.a -> engine.runtime.b -> engine.runtime.c -> engine.runtime.a "
        "(engine/runtime/a.py:2, engine/runtime/b.py:2, engine/runtime/c.py:1)"
    ]


def test_the_checker_reports_a_wrong_way_import_and_a_module_in_no_layer(fake):
    known, imports = fake
    assert wrong_way(imports, read_layers(FAKE_TABLE), known) == [
        "engine: module engine.stray is in no layer of docs/architecture.md",
        "engine/language/pure.py:7: engine.language.pure (language) imports engine.runtime.b (runtime); "
        "language may import base",
    ]
    assert foreign(imports, FORBIDDEN) == ["engine/runtime/c.py:2: engine.runtime.c imports flask"]


def test_the_checker_refuses_a_table_without_its_columns():
    with pytest.raises(AssertionError, match="no table"):
        read_layers("| layer | imports |\n|---|---|\n| base | — |\n")
