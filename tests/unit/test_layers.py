"""The house's floors: each package imports only the ones below it, and the pure rules do no
I/O. A new arrow that runs back up fails here before it tangles the layers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
OURS = {
    "app", "bot", "dashboard", "billing", "coaching", "scheduling", "practice", "safety",
    "prompts", "core", "sandbox", "migrations",
}  # fmt: skip
SERVICES = {"practice", "safety", "billing", "coaching", "scheduling"}
# Each package, and what it may import of ours (besides itself), lowest floor first.
MAY_IMPORT: dict[str, set[str]] = {
    "core": {"migrations"},  # the schema's history, which core.db runs
    "prompts": {"core"},
    "practice": {"core", "prompts"},
    "safety": {"core", "prompts", "practice"},
    "billing": {"core", "prompts"},
    "coaching": {"core", "prompts", "practice", "safety"},
    "scheduling": {"core", "prompts", "practice", "safety", "billing", "coaching"},
    # The dashboard is an edge beside bot/; the bot's /dashboard issues its login links.
    "dashboard": {"core", "prompts", *SERVICES},
    "bot": {"core", "prompts", "dashboard", *SERVICES},
    "sandbox": {"core", "prompts", "billing"},  # the stand-ins, and the harness
    "app": OURS - {"app", "migrations"},
}
# The rules as pure functions: they take `now` and plain data and do no I/O.
PURE = [
    "core/localtime.py",
    "core/flood.py",
    "core/longtext.py",
    "billing/lifecycle.py",
    "coaching/rules.py",
    "safety/rules.py",
    "practice/rotation.py",
    "practice/streaks.py",
    "scheduling/weekly.py",
    "scheduling/ics.py",
    "dashboard/figures.py",
    "dashboard/charts.py",
    "safety/normalise.py",
    "safety/matcher.py",
]
IO_LIBRARIES = {
    "aiogram", "aiohttp", "sqlalchemy", "sqlmodel", "stripe", "redis", "arq", "zoomus",
    "requests", "asyncio", "asyncpg", "aiosqlite",
}  # fmt: skip


def imported(path: Path) -> set[str]:
    """The top-level packages a module imports, anywhere in it (lazy imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_a_package_imports_only_the_floors_below_it(package: str) -> None:
    upward = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in (ROOT / package).rglob("*.py")
        for name in imported(path) & OURS
        if name != package and name not in MAY_IMPORT[package]
    }
    assert sorted(upward) == []


def test_nothing_imports_the_composition_root() -> None:
    users = {
        str(path.relative_to(ROOT))
        for package in OURS - {"app"}
        for path in (ROOT / package).rglob("*.py")
        if "app" in imported(path)
    }
    assert sorted(users) == []


@pytest.mark.parametrize("module", PURE)
def test_the_rules_do_no_io(module: str) -> None:
    assert sorted(imported(ROOT / module) & IO_LIBRARIES) == []


def test_the_table_knows_every_package() -> None:
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    assert packages - {"tests", "bench"} == set(MAY_IMPORT) | {"migrations"}
