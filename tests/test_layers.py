"""The layers hold: read every module's imports with ``ast`` and fail on a wrong-way import or a
cycle, naming the file and the import.

    cogs/          Discord adapters: no storage, no sqlalchemy
    bot/services/  the domain: no discord
    storage/       the database: no discord, no bot, no cogs
    bot/           never imports cogs/ (cogs are loaded by name as extensions)
    web/           the dashboard: no discord, no cogs, no storage, no sqlalchemy (reads go
                   through bot/services)

Imports under ``if TYPE_CHECKING:`` are annotations only and are not counted; imports inside
functions are (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.paths import REPO

PACKAGES = ("bot", "cogs", "storage", "web")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import of ``path`` outside ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.extend((child.lineno, alias.name) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    target = ".".join([*base, child.module] if child.module else base)
                else:
                    target = child.module or ""
                found.append((child.lineno, target))
                # `from bot import cli_base` imports the module bot.cli_base
                found.extend((child.lineno, f"{target}.{alias.name}") for alias in child.names)
            visit(child)

    visit(tree)
    return found


def project_modules() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in sorted((REPO / package).rglob("*.py"))
            if "migrations" not in p.parts}


RULES = [
    # (importer prefix, forbidden imported prefixes, why)
    ("cogs", ("storage", "sqlalchemy"), "cogs are adapters: they call services, never the database"),
    ("bot.services", ("discord", "cogs"), "services are plain Python, usable without Discord"),
    ("storage", ("discord", "bot", "cogs"), "storage owns the database and nothing above it"),
    ("bot", ("cogs",), "bot/ never reaches into the Discord adapters"),
    ("web", ("discord", "cogs", "storage", "sqlalchemy"),
     "the dashboard reads through bot/services: no Discord, no cog, no SQL"),
]


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_no_layer_imports_the_wrong_way():
    violations: dict[tuple[str, int], str] = {}
    for module, path in project_modules().items():
        for line, target in imports_of(path):
            for importer, forbidden, why in RULES:
                if _under(module, importer) and any(_under(target, f) for f in forbidden):
                    where = str(path.relative_to(REPO))
                    violations.setdefault((where, line), f"{where}:{line} imports {target} ({why})")
    violations = list(violations.values())
    assert not violations, "\n" + "\n".join(violations)


def test_no_import_cycle_between_project_modules():
    modules = project_modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        graph[module] = {t for _, t in imports_of(path) if t in modules and t != module}
    cycles: list[list[str]] = []
    # Tarjan's strongly connected components: any component of two or more modules is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strongconnect(w)
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

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    assert not cycles, "\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_guard_sees_a_wrong_way_import_and_a_cycle(tmp_path, monkeypatch):
    """The guard itself can fail: a planted cog importing storage and a two-module cycle."""
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "cogs" / "bad.py").write_text("from storage.models import Poll\n")
    (tmp_path / "web" / "page.py").write_text("def f():\n    import discord\n")
    (tmp_path / "bot" / "a.py").write_text("from bot import b\n")
    (tmp_path / "bot" / "b.py").write_text("def f():\n    from bot.a import x\n")
    (tmp_path / "bot" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from cogs.bad import Poll\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["REPO"]), "REPO", tmp_path)
    try:
        test_no_layer_imports_the_wrong_way()
    except AssertionError as exc:
        assert "cogs/bad.py:1 imports storage.models" in str(exc)
        assert "web/page.py:2 imports discord" in str(exc)
        assert "bot/c.py" not in str(exc)  # annotations only
    else:
        raise AssertionError("the layer guard missed cogs/bad.py")
    try:
        test_no_import_cycle_between_project_modules()
    except AssertionError as exc:
        assert "bot.a <-> bot.b" in str(exc)
    else:
        raise AssertionError("the cycle guard missed bot.a <-> bot.b")
