"""The import graph of introd, drawn from the source with ``ast``.

Two rules of docs/architecture.md hold here: no module of introd imports itself back
through others, and the reading core (``introd/reading/``) imports no file I/O, SQLite,
IMAP, SMTP or clock, so that it stays bytes and config in, a value out.

An edge is every ``import`` of an introd module, at module level or inside a function.
Importing ``introd.names`` from outside ``introd.reading`` also runs
``introd/reading/__init__.py``, so it is an edge to ``introd.reading`` too. An import
under ``if TYPE_CHECKING:`` never runs: it is kept apart, for types only.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "introd"
CORE = "introd.reading"

# what the reading core may use of introd: the values it returns, the reply tokens it
# checks, the per-mail budget it reads under, the name cleaner and the patterns (the one
# address pattern among them) that model uses too; the config only for its type
CORE_MAY_IMPORT = {
    "introd.model",
    "introd.tokens",
    "introd.budget",
    "introd.names",
    "introd.patterns",
}
CORE_MAY_IMPORT_FOR_TYPES = {"introd.config"}

# the parts of introd that touch the world: the state, the servers, files, the service
WORLD = {
    "introd.state",
    "introd.mailbox",
    "introd.delivery",
    "introd.sasl",
    "introd.sending",
    "introd.daemon",
    "introd.systemd",
    "introd.cli",
    "introd.wiring",
    "introd.render",
    "introd.files",
    "introd.runlock",
    "introd.oauth2",
    "introd.login",
    "introd.contacts",
    "introd.metrics",
}

# outside introd: SQLite, IMAP, SMTP, the network, files and processes, the clock
# (``datetime`` and ``calendar`` stay allowed: the core counts days from a ``now`` it is
# given, it never asks the time)
NO_IO = {
    "sqlite3",
    "imaplib",
    "imapclient",
    "smtplib",
    "aiosmtpd",
    "socket",
    "ssl",
    "select",
    "selectors",
    "asyncio",
    "urllib",
    "http",
    "requests",
    "os",
    "io",
    "pathlib",
    "shutil",
    "tempfile",
    "glob",
    "fcntl",
    "mmap",
    "subprocess",
    "signal",
    "threading",
    "multiprocessing",
    "time",
}
# calls that read a file, the terminal or the clock without an import of their own:
# builtins, and datetime.now(), date.today(), email.utils.localtime() and the like
NO_IO_CALLS = {"open", "input", "print"}
CLOCK_CALLS = {"now", "utcnow", "today", "localtime", "formatdate", "make_msgid"}


@dataclass(frozen=True)
class Import:
    importer: str
    target: str
    line: int
    for_types: bool

    def where(self) -> str:
        return f"{module_file(self.importer).relative_to(ROOT)}:{self.line}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def module_file(name: str) -> Path:
    base = ROOT.joinpath(*name.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def is_module(name: str) -> bool:
    base = ROOT.joinpath(*name.split("."))
    return (base / "__init__.py").is_file() or base.with_suffix(".py").is_file()


def is_package(name: str) -> bool:
    return (ROOT.joinpath(*name.split(".")) / "__init__.py").is_file()


def sources() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _nodes(tree: ast.AST) -> Iterator[tuple[ast.AST, bool]]:
    """Every node, with whether it sits under ``if TYPE_CHECKING:``."""
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, for_types = stack.pop()
        yield node, for_types
        if isinstance(node, ast.If) and _type_checking(node.test):
            stack.extend((child, True) for child in node.body)
            stack.extend((child, for_types) for child in node.orelse)
            continue
        stack.extend((child, for_types) for child in ast.iter_child_nodes(node))


def _from_base(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = importer if is_package(importer) else importer.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imported_names(importer: str, tree: ast.AST) -> Iterator[tuple[str, int, bool]]:
    """(module, line, for types only) for every import in ``tree``, introd or not."""
    for node, for_types in _nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, for_types
        elif isinstance(node, ast.ImportFrom):
            base = _from_base(importer, node)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield (sub if is_module(sub) else base), node.lineno, for_types


def _with_packages(importer: str, target: str) -> Iterator[str]:
    """``target`` and each package whose ``__init__`` importing it runs first (those the
    importer is not itself inside of)."""
    parts = target.split(".")
    for n in range(2, len(parts)):
        package = ".".join(parts[:n])
        if importer != package and not importer.startswith(package + "."):
            yield package
    yield target


def graph() -> list[Import]:
    edges: set[Import] = set()
    for name, path in sources().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for target, line, for_types in imported_names(name, tree):
            if target.split(".")[0] != "introd":
                continue
            for t in _with_packages(name, target):
                if t != name:
                    edges.add(Import(name, t, line, for_types))
    return sorted(edges, key=lambda e: (e.importer, e.target, e.line))


def circles(edges: list[Import]) -> list[list[Import]]:
    """One circle through each group of modules that import one another (Tarjan)."""
    out: dict[str, list[Import]] = {}
    for e in edges:
        out.setdefault(e.importer, []).append(e)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for e in out.get(v, []):
            if e.target not in index:
                visit(e.target)
                low[v] = min(low[v], low[e.target])
            elif e.target in on_stack:
                low[v] = min(low[v], index[e.target])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(out):
        if v not in index:
            visit(v)
    return [_circle_in(group, out) for group in groups]


def _circle_in(group: set[str], out: dict[str, list[Import]]) -> list[Import]:
    start = min(group)
    # breadth first from start back to start, inside the group: the shortest circle
    paths: dict[str, list[Import]] = {start: []}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for e in out.get(v, []):
            if e.target not in group:
                continue
            if e.target == start:
                return paths[v] + [e]
            if e.target not in paths:
                paths[e.target] = paths[v] + [e]
                queue.append(e.target)
    raise AssertionError(f"no circle found in {sorted(group)}")  # a group is strongly connected


def _show(circle: list[Import]) -> str:
    return " -> ".join(f"{e.importer} ({e.where()})" for e in circle) + f" -> {circle[0].importer}"


def core(name: str) -> bool:
    return name == CORE or name.startswith(CORE + ".")


def runtime_closure(edges: list[Import], start: set[str]) -> set[str]:
    out: dict[str, set[str]] = {}
    for e in edges:
        if not e.for_types:
            out.setdefault(e.importer, set()).add(e.target)
    seen = set(start)
    todo = list(start)
    while todo:
        for t in out.get(todo.pop(), ()):
            if t not in seen:
                seen.add(t)
                todo.append(t)
    return seen


# -- the rules ----------------------------------------------------------------------------
def test_the_graph_is_drawn_from_the_whole_package() -> None:
    edges = graph()
    names = sources()
    assert {"introd.reading", "introd.reading.request", "introd.daemon", "introd.state"} <= set(
        names
    )
    # a few edges every version of introd has: if these go missing the parser is wrong
    assert any(e.importer == "introd.daemon" and e.target == "introd.state" for e in edges)
    assert any(e.importer == "introd.reading" and e.target == "introd.model" for e in edges)
    assert all(e.target in names for e in edges), "an edge to a module that does not exist"


def _without(edges: list[Import], statements: set[tuple[str, int]]) -> list[Import]:
    return [e for e in edges if (e.importer, e.line) not in statements]


def test_no_import_circles() -> None:
    edges = [e for e in graph() if not e.for_types]
    found = [_show(c) for c in circles(edges)]
    assert not found, "modules that import one another:\n" + "\n".join(found)


def test_no_import_circles_through_type_imports_but_the_documented_one() -> None:
    # reading imports config for its type, config imports a validator from reading.auth:
    # the one circle docs/architecture.md allows, since the type import never runs
    edges = graph()
    documented = {
        (e.importer, e.line)
        for e in edges
        if e.for_types and core(e.importer) and e.target in CORE_MAY_IMPORT_FOR_TYPES
    }
    assert documented, "the reading core no longer imports the config for its type"
    found = [_show(c) for c in circles(_without(edges, documented))]
    assert not found, "modules that import one another:\n" + "\n".join(found)


def test_the_reading_core_imports_only_values_tokens_budget_names_and_patterns() -> None:
    wrong = []
    for e in graph():
        if not core(e.importer) or core(e.target):
            continue
        allowed = CORE_MAY_IMPORT | (CORE_MAY_IMPORT_FOR_TYPES if e.for_types else set())
        if e.target not in allowed:
            wrong.append(f"{e.where()}: {e.importer} imports {e.target}")
    assert not wrong, "\n".join(wrong)


def test_nothing_the_reading_core_loads_touches_the_world() -> None:
    edges = graph()
    loaded = runtime_closure(edges, {n for n in sources() if core(n)})
    assert not loaded & WORLD, f"the reading core loads {sorted(loaded & WORLD)}: " + "; ".join(
        f"{e.where()} {e.importer} imports {e.target}"
        for e in edges
        if e.target in WORLD and e.importer in loaded and not e.for_types
    )


def _io_in(name: str, tree: ast.AST) -> set[str]:
    found = set()
    for module, line, for_types in imported_names(name, tree):
        if module.split(".")[0] in NO_IO and not for_types:
            found.add(f"{line}: imports {module}")
    for node, _ in _nodes(tree):
        if isinstance(node, ast.Call):
            fn = node.func
            called = fn.id if isinstance(fn, ast.Name) else getattr(fn, "attr", None)
            if isinstance(fn, ast.Name) and called in NO_IO_CALLS:
                found.add(f"{node.lineno}: calls {called}()")
            elif called in CLOCK_CALLS:
                found.add(f"{node.lineno}: calls {called}()")
    return found


def test_the_reading_core_and_what_it_loads_read_no_file_socket_or_clock() -> None:
    """No SQLite, IMAP, SMTP, network, file, process or clock in the reading core, nor in
    the introd modules it loads. The one exception is the budget's CPU timer: it measures
    the CPU time a mail costs to read (``time.process_time``, armed with ``signal``), which
    is the budget's whole purpose, not the time of day."""
    sources_ = sources()
    loaded = runtime_closure(graph(), {n for n in sources_ if core(n)})
    exceptions = {"introd.budget": {"imports time", "imports signal", "imports threading"}}
    wrong = []
    for name in sorted(loaded):
        path = sources_[name]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for finding in _io_in(name, tree):
            if finding.split(": ", 1)[1] not in exceptions.get(name, set()):
                wrong.append(f"{path.relative_to(ROOT)}:{finding}")
    assert not wrong, "\n".join(wrong)


def test_the_rules_see_what_they_forbid() -> None:
    """The checks above would fail on a core that did what they forbid."""
    name = "introd.reading.request"
    bad = ast.parse(
        "import sqlite3\n"
        "from time import monotonic\n"
        "def f():\n"
        "    from datetime import datetime\n"
        "    return datetime.now(), open('x')\n"
    )
    assert sorted(_io_in(name, bad)) == [
        "1: imports sqlite3",
        "2: imports time",
        "5: calls now()",
        "5: calls open()",
    ]
    # counting days from a given now is no clock
    assert not _io_in(name, ast.parse("from datetime import timedelta\nimport calendar\n"))
    typed = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import sqlite3\n")
    assert not list(_io_in(name, typed))
    relative = ast.parse("from ..state import State\nfrom . import people\n")
    assert sorted(t for t, _, _ in imported_names(name, relative)) == [
        "introd.reading.people",
        "introd.state",
    ]
    a = Import("introd.a", "introd.b", 1, False)
    b = Import("introd.b", "introd.a", 2, False)
    c = Import("introd.b", "introd.c", 3, False)
    assert [[e.importer for e in circle] for circle in circles([a, b, c])] == [
        ["introd.a", "introd.b"]
    ]
    assert circles([a, c]) == []
