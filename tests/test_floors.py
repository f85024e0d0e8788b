"""The grader's floors only go down, and no import circle: read from the code's own imports.

Each module of `grader/` stands on a floor (the table below, one line a floor, declared
once); an import may reach its own floor or one below, never one above. The imports are
read with `ast` from every file, those inside functions included (a function-level import
still makes the lower module know the upper one). A circle is looked for among the
imports made when a module loads (module level): one inside a function does not make a
circle at load time, but it still may not go up a floor.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from mnist_course.course import ROOT

GRADER = ROOT / "grader"

# Bottom up; the longest prefix names a module's floor.
FLOORS = (
    ("ground", ("grader", "grader.feedback", "grader.settings", "grader.provenance", "grader.shared_cache", "grader.scoring", "grader.variants", "grader.draws")),
    ("isolation", ("grader.isolation",)),
    ("the run's folder and data", ("grader.session",)),  # checks the folder to grade with isolation's safe files
    ("training", ("grader.training",)),
    ("reports", ("grader.reports",)),
    ("references", ("grader.references",)),
    ("checks", ("grader.checks",)),
    ("class and plugin", ("grader.classroom", "grader.plugin", "grader.notebook")),
    ("entry points", ("grader.cli", "grader.__main__", "grader.loop")),
)


def floor_of(module: str) -> int:
    best, level = -1, None
    for number, (_, prefixes) in enumerate(FLOORS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, level = len(prefix), number
    if level is None:
        raise AssertionError(f"{module} stands on no floor: add it to FLOORS in tests/test_floors.py")
    return level


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[str, int, bool]]:
    """(the grader module imported, the line, at module level?) for each import of grader code."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = []
    # what runs when the module loads: its top-level statements and all under a top-level if or try
    loaded = {id(node) for node in tree.body} | {id(n) for top in tree.body if isinstance(top, (ast.If, ast.Try)) for n in ast.walk(top)}

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # `from . import x` and `from .pkg import mod` import modules; `from .mod import name`, a name
            names = [f"{stem}.{alias.name}" if _is_module(f"{stem}.{alias.name}") else stem for alias in node.names]
        else:
            continue
        for name in names:
            if name == "grader" or name.startswith("grader."):
                found.append((name, node.lineno, id(node) in loaded))
    return found


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def import_graph(files) -> dict[str, list[tuple[str, str, bool]]]:
    """module -> [(imported module, "file:line", at load)]."""
    graph: dict[str, list[tuple[str, str, bool]]] = {}
    for path in files:
        graph[module_name(path)] = [(name, f"{path.relative_to(ROOT)}:{line}", load) for name, line, load in imports_of(path)]
    return graph


def upward(graph, floor=floor_of) -> list[str]:
    return [
        f"{where}  {importer} ({FLOORS[floor(importer)][0]}) -> {imported} ({FLOORS[floor(imported)][0]})"
        for importer, edges in sorted(graph.items())
        for imported, where, _ in edges
        if floor(imported) > floor(importer)
    ]


def circles(graph) -> list[list[str]]:
    """Every circle among imports made at load time (one per strongly connected set, named by a path round it)."""
    edges = {m: sorted({i for i, _, load in e if load and i != m and i in graph}) for m, e in graph.items()}
    found, state = [], {}

    def visit(module, path):
        state[module] = "open"
        for nxt in edges.get(module, ()):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    return found


def test_floors_only_go_down():
    graph = import_graph(sorted(GRADER.rglob("*.py")))
    assert upward(graph) == [], "imports that go up a floor:\n" + "\n".join(upward(graph))


def test_no_import_circle():
    graph = import_graph(sorted(GRADER.rglob("*.py")))
    assert circles(graph) == [], "import circles:\n" + "\n".join(" -> ".join(c) for c in circles(graph))


def test_every_grader_module_stands_on_a_floor():
    for path in GRADER.rglob("*.py"):
        floor_of(module_name(path))


def test_the_checker_sees_an_upward_import_and_a_circle():
    """Proven both ways: a graph with one import up a floor and one circle is reported."""
    graph = {
        "grader.feedback": [("grader.isolation.reply", "grader/feedback.py:1", True)],  # ground -> isolation: up
        "grader.isolation.reply": [("grader.isolation.sandbox", "x:1", True)],
        "grader.isolation.sandbox": [("grader.isolation.reply", "x:2", True)],  # a circle on one floor
    }
    assert upward(graph) == ["grader/feedback.py:1  grader.feedback (ground) -> grader.isolation.reply (isolation)"]
    assert circles(graph) == [["grader.isolation.reply", "grader.isolation.sandbox", "grader.isolation.reply"]]
    assert upward({"grader.isolation.reply": [("grader.feedback", "x:1", True)]}) == []  # down is fine


def layout_rows(readme: str) -> dict[str, set[str]]:
    """grader/README.md's "Layout" table: {folder: the modules its last column names}."""
    rows = {}
    for line in readme.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`grader/") and cells[0] != "`grader/checks/`":
            rows[cells[0].strip("`")] = set(re.findall(r"`([^`]+)`", cells[2]))
    return rows


def test_the_layout_table_names_every_module_of_each_folder():
    """A newcomer reads grader/README.md's table to find a module: it names each folder's modules, no more, no fewer
    (grader/checks/ is named by pattern: one module per exercise, course.toml's; tests/test_course.py holds it)."""
    rows = layout_rows((GRADER / "README.md").read_text(encoding="utf-8"))
    assert set(rows) == {"grader/", "grader/isolation/", "grader/training/", "grader/references/", "grader/reports/", "grader/classroom/"}
    for folder, named in rows.items():
        files = {p.name for p in (ROOT / folder).iterdir() if p.suffix in (".py", ".ini") and p.name != "__init__.py"}
        assert named == files, (folder, sorted(files - named), sorted(named - files))
