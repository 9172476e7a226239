"""The API side's shape (issue 12, item 5), read from the source with `ast` (nothing imported):

- the domain packages of referral_api import one another one way only: no cycle between them,
  of two packages or more (`DOMAINS`; an import anywhere in a module counts, inside a function
  or under TYPE_CHECKING too);
- the kits (`KITS`: `db`, `web`, and the top-level modules in `KIT_MODULES`) import no domain,
  but for the two exceptions in `KIT_MAY_IMPORT`; nothing imports the wiring (`WIRING`) or an
  entry point, which may import anything;
- no module of referral_api imports itself back through others (no import cycle at all);
- referral_api imports nothing of the bot but its renderer of notices, its gallery of screens,
  its channels (bot.channels) and what they need
  (`BOT_ALLOWED`), and nothing it reaches from there is a handler, the bot's wiring or its
  settings;
- `bot/notices.py`, the one renderer of people's notices, reaches no handler module.

The last test runs the checks on the source with one bad import added each time (to the text
read, not to the files): they fail as they should.
"""

from __future__ import annotations

import ast
import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
API = "referral_api"
DOMAINS = frozenset({"admin", "campaigns", "followup", "outbox", "partners", "referrals",
                     "signals", "staff", "translations"})
KITS = frozenset({"db", "web"})
KIT_MODULES = frozenset(f"{API}.{name}" for name in (
    "clock", "countries", "crypto", "dependencies", "errors", "geo", "key_rotation", "passwords",
    "schemas",
    "settings",
    "suppression"))
WIRING = frozenset({f"{API}.app", f"{API}.housekeeping"})  # import every domain; nobody them
ENTRY_POINTS = frozenset({f"{API}.__main__", f"{API}.outbox.__main__"})  # run, never imported
# The only domain modules a kit module may import, and why.
KIT_MAY_IMPORT: dict[str, tuple[str, ...]] = {
    f"{API}.db.all_models": tuple(f"{API}.{d}.models" for d in sorted(DOMAINS)),  # the tables
    f"{API}.web": (f"{API}.staff.models", f"{API}.staff.service"),  # who is logged in
}
# The renderer of notices (the worker), the screens' gallery (the translation review pages),
# which channel a chat id is on (the worker sends through that channel's bot).
BOT_ALLOWED = frozenset({"bot.notices", "bot.i18n", "bot.formats", "bot.gallery",
                         "bot.catalogue_rules", "bot.channels"})
BOT_FRONT_END = ("bot.handlers", "bot.app", "bot.settings", "bot.__main__")


@dataclass(frozen=True)
class Import:
    module: str  # what is imported (a module, or the package a name comes from)
    where: str  # path:line of the import


@dataclass
class Source:
    """Every module of the packages read, by dotted name, with what each imports."""

    root: Path
    imports: dict[str, list[Import]] = field(default_factory=dict)

    def is_module(self, name: str) -> bool:
        path = self.root.joinpath(*name.split("."))
        return (path / "__init__.py").is_file() or path.with_suffix(".py").is_file()


def read(root: Path, packages: Iterable[str] = (API, "bot")) -> Source:
    source = Source(root)
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            if "migrations" in relative.parts:  # Alembic's scripts, not importable modules
                continue
            name = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
            source.imports[name] = list(imports_in(source, relative,
                                                   path.read_text(encoding="utf-8")))
    return source


def imports_in(source: Source, relative: Path, text: str) -> Iterable[Import]:
    """The imports of the module at `relative` (to the source's root) whose code is `text`."""
    name = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
    package = name if relative.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(text)):
        where = f"{relative}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, where)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            for alias in node.names:
                member = f"{base}.{alias.name}"
                yield Import(member if source.is_module(member) else base, where)


def domain_of(module: str) -> str | None:
    """The domain package a module belongs to (None: a kit, the wiring, not the API)."""
    parts = module.split(".")
    return parts[1] if parts[0] == API and len(parts) > 1 and parts[1] in DOMAINS else None


def is_kit(module: str) -> bool:
    parts = module.split(".")
    return module in KIT_MODULES or (parts[0] == API and len(parts) > 1 and parts[1] in KITS)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (its nodes in order, the first repeated at the end) per strongly connected
    group of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    cycles = []
    for group in groups:
        start = min(group)
        path, seen = [start], {start}
        while True:  # walk inside the group until the walk comes back
            following = sorted(graph[path[-1]] & group)
            back = [n for n in following if n in seen]
            if back:
                path = [*path[path.index(back[0]):], back[0]]
                break
            path.append(following[0])
            seen.add(following[0])
        cycles.append(path)
    return cycles


def _explain(cycle: list[str], edges: dict[tuple[str, str], list[Import]]) -> str:
    steps = [f"{a} -> {b} ({', '.join(f'{i.where} imports {i.module}' for i in edges[a, b][:2])})"
             for a, b in itertools.pairwise(cycle)]
    return " -> ".join(cycle) + ":\n    " + "\n    ".join(steps)


def domain_cycles(source: Source) -> list[str]:
    """Cycles between domain packages, each with the imports that make it."""
    edges: dict[tuple[str, str], list[Import]] = defaultdict(list)
    for module, imports in source.imports.items():
        here = domain_of(module)
        if here is None or module in ENTRY_POINTS:
            continue
        for found in imports:
            there = domain_of(found.module)
            if there is not None and there != here:
                edges[here, there].append(found)
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    return [_explain(cycle, edges) for cycle in _cycles(graph)]


def module_cycles(source: Source) -> list[str]:
    """Import cycles between the modules of referral_api (entry points aside)."""
    edges: dict[tuple[str, str], list[Import]] = defaultdict(list)
    for module, imports in source.imports.items():
        if module.split(".")[0] != API or module in ENTRY_POINTS:
            continue
        for found in imports:
            if found.module in source.imports and found.module != module:
                edges[module, found.module].append(found)
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    return [_explain(cycle, edges) for cycle in _cycles(graph)]


def kit_imports(source: Source) -> list[str]:
    """Domain modules imported by a kit module, beyond KIT_MAY_IMPORT."""
    problems = []
    for module, imports in source.imports.items():
        if not is_kit(module):
            continue
        allowed = next((names for prefix, names in KIT_MAY_IMPORT.items()
                        if module == prefix or module.startswith(prefix + ".")), ())
        problems += [f"{found.where}: the kit module {module} imports {found.module}"
                     for found in imports
                     if domain_of(found.module) is not None and found.module not in allowed]
    return problems


def wiring_imports(source: Source) -> list[str]:
    """Imports of the wiring or of an entry point, from anywhere but the wiring and entry
    points."""
    return [f"{found.where}: {module} imports {found.module}"
            for module, imports in source.imports.items()
            if module.split(".")[0] == API and module not in WIRING | ENTRY_POINTS
            for found in imports if found.module in WIRING | ENTRY_POINTS]


def reached(source: Source, start: Iterable[str], within: str = "bot") -> dict[str, str]:
    """The modules of package `within` that `start` imports, directly or through others of
    `within` (static: every import of every module reached), each with the path to it."""
    paths: dict[str, str] = {}
    todo = [(module, module) for module in start]
    while todo:
        module, path = todo.pop()
        for found in source.imports.get(module, ()):
            if found.module.split(".")[0] == within and found.module not in paths \
                    and found.module in source.imports:
                paths[found.module] = f"{path} -> {found.module} ({found.where})"
                todo.append((found.module, paths[found.module]))
    return paths


def bot_imports(source: Source) -> list[str]:
    """What referral_api takes from the bot, beyond its renderer of notices, and any piece of
    the bot's front end reached from there."""
    api = [module for module in source.imports if module.split(".")[0] == API]
    problems = [f"{found.where}: {module} imports {found.module} (only {sorted(BOT_ALLOWED)})"
                for module in api for found in source.imports[module]
                if found.module.split(".")[0] == "bot" and found.module not in BOT_ALLOWED]
    problems += [f"referral_api reaches the bot's front end: {path}"
                 for module, path in reached(source, api).items()
                 if module.startswith(BOT_FRONT_END)]
    return problems


def renderer_imports(source: Source) -> list[str]:
    """Handler modules (or the bot's wiring) that bot/notices.py reaches."""
    return [f"bot.notices reaches {module}: {path}"
            for module, path in reached(source, ["bot.notices"]).items()
            if module.startswith(("bot.handlers", "bot.app"))]


@pytest.fixture(scope="module")
def source() -> Source:
    return read(PROJECT)


def test_every_part_of_the_api_is_named_here(source: Source) -> None:
    """A new package or top-level module must say what it is: a domain, a kit, the wiring."""
    packages = {p.name for p in (PROJECT / API).iterdir() if (p / "__init__.py").is_file()}
    assert packages == DOMAINS | KITS
    top = {m for m in source.imports if m.startswith(f"{API}.") and m.count(".") == 1
           and not (PROJECT / API / m.split(".")[1] / "__init__.py").is_file()}
    assert top == KIT_MODULES | WIRING | {f"{API}.__main__"}


def test_no_domain_imports_a_domain_that_imports_it_back(source: Source) -> None:
    assert domain_cycles(source) == []


def test_no_module_of_the_api_imports_itself_back(source: Source) -> None:
    assert module_cycles(source) == []


def test_the_kits_import_no_domain(source: Source) -> None:
    assert kit_imports(source) == []


def test_only_entry_points_import_the_wiring(source: Source) -> None:
    assert wiring_imports(source) == []


def test_the_api_takes_only_the_notice_renderer_from_the_bot(source: Source) -> None:
    assert bot_imports(source) == []


def test_the_notice_renderer_reaches_no_handler(source: Source) -> None:
    assert "bot.notices" in source.imports
    assert renderer_imports(source) == []


BAD_IMPORTS = [  # (file, line added, the check that must fail, what it must say)
    ("referral_api/partners/models.py", "from referral_api.referrals import models",
     domain_cycles, "partners -> referrals"),
    ("referral_api/outbox/service.py", "from referral_api.followup.service import enqueue",
     domain_cycles, "outbox -> followup"),
    ("referral_api/staff/service.py",  # inside a function: staff -> referrals -> staff
     "def f() -> None:\n    from referral_api.referrals.alerts import count_waiting",
     domain_cycles, "referrals -> staff"),
    ("referral_api/partners/service.py",  # a longer loop: followup -> staff -> partners -> …
     "from referral_api.followup.models import FollowupWave",
     domain_cycles, "followup -> staff -> partners -> followup"),
    ("referral_api/referrals/cards.py", "from referral_api.referrals import service",
     module_cycles, "referral_api.referrals.cards"),
    ("referral_api/web/pages.py", "from referral_api.referrals.alerts import count_waiting",
     kit_imports, "the kit module referral_api.web.pages imports"),
    ("referral_api/referrals/service.py", "from referral_api import app",
     wiring_imports, "imports referral_api.app"),
    ("referral_api/outbox/worker.py", "import bot.handlers.followup",
     bot_imports, "imports bot.handlers.followup"),
    ("referral_api/outbox/worker.py", "from bot.app import create_bot",
     bot_imports, "imports bot.app"),
    ("bot/formats.py", "from bot.app import create_bot",
     bot_imports, "reaches the bot's front end"),
    ("bot/notices.py", "from bot.handlers.followup import collected",
     renderer_imports, "bot.notices reaches bot.handlers.followup"),
    ("bot/i18n.py", "from bot.handlers import commands",
     renderer_imports, "bot.notices reaches bot.handlers"),
]


@pytest.mark.parametrize(("path", "line", "check", "said"), BAD_IMPORTS,
                         ids=[f"{p}:{c.__name__}" for p, _, c, _ in BAD_IMPORTS])
def test_the_checks_fail_on_a_bad_import(source: Source, path: str, line: str, check: object,
                                         said: str) -> None:
    """The source as it is, but with `line` at the end of the file `path`."""
    assert callable(check)
    assert check(source) == []
    relative = Path(path)
    text = (PROJECT / relative).read_text(encoding="utf-8") + f"\n{line}\n"
    name = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
    bad = Source(source.root, {**source.imports,
                               name: list(imports_in(source, relative, text))})
    problems = check(bad)
    assert problems, f"{check.__name__} did not notice {line!r} in {path}"
    assert any(said in problem for problem in problems), problems
