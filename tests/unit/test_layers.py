"""The house layout as tests: engine packages depend one way, the rest of the code goes through each
package's ``__init__``, and no module grows past what a reader takes in at once."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "engine"
MAX_MODULE_LINES = 500

# Which engine packages each one may import (docs/design.md draws the same arrows).
ALLOWED: dict[str, set[str]] = {
    "map": set(),
    "store": set(),
    "content": {"map", "store"},
    "compiler": {"map", "content"},
    "journeys": {"map", "compiler", "store"},
    "accounts": {"store"},
    "runtime": {"map", "compiler", "store", "content", "journeys"},
    "delivery": {"map", "store", "content", "journeys", "runtime"},
    "intake": {"store"},
    "kpis": {"map", "compiler", "store", "journeys"},
    "simulation": {"map", "compiler", "store", "journeys", "runtime"},
    "worker": {"map", "store", "runtime", "delivery"},
    "forecast": {"map", "compiler", "store", "journeys", "runtime", "delivery", "intake"},
    "tasks": {"map", "store", "runtime"},
    "api": {"map", "store", "content", "journeys", "accounts", "runtime", "intake", "tasks"},
    "cli": {
        "map",
        "store",
        "content",
        "compiler",
        "journeys",
        "accounts",
        "runtime",
        "delivery",
        "intake",
        "kpis",
        "simulation",
        "worker",
        "api",
        "forecast",
        "tasks",
    },
}


def _python_files(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def _imports(path: Path) -> list[ast.ImportFrom | ast.Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom | ast.Import)]


def _imported_modules(node: ast.ImportFrom | ast.Import) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return [node.module] if node.module and node.level == 0 else []


def _packages() -> list[Path]:
    return sorted(path.parent for path in ENGINE.rglob("__init__.py") if path.parent != ENGINE)


def test_every_engine_package_is_in_the_table() -> None:
    assert {p.name for p in ENGINE.iterdir() if (p / "__init__.py").exists()} == set(ALLOWED)
    assert not [p.name for p in ENGINE.glob("*.py") if p.name != "__init__.py"], "engine/ holds only packages"


def test_the_allowed_arrows_have_no_cycle() -> None:
    try:
        tuple(TopologicalSorter(ALLOWED).static_order())
    except CycleError as error:
        pytest.fail(f"the layers form a cycle: {error.args[1]}")


@pytest.mark.parametrize("path", _python_files("engine"), ids=lambda p: str(p.relative_to(ROOT)))
def test_engine_modules_import_only_the_packages_below_them(path: Path) -> None:
    package = path.relative_to(ENGINE).parts[0]
    for node in _imports(path):
        for module in _imported_modules(node):
            top = module.split(".")[0]
            assert top not in {"reflex", "journey_builder"}, (
                f"{path.name} imports {module}: engine never imports the app"
            )
            parts = module.split(".")
            if top == "engine" and len(parts) > 1 and parts[1] != package:
                assert parts[1] in ALLOWED[package], f"{package} may not import {module} (allowed: {ALLOWED[package]})"


@pytest.mark.parametrize(
    "path",
    _python_files("engine", "journey_builder", "tests", "benchmarks", "scripts", "alembic"),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_other_packages_import_through_the_package_not_its_modules(path: Path) -> None:
    for node in _imports(path):
        for module in _imported_modules(node):
            parts = module.split(".")
            if parts[0] != "engine" or len(parts) < 3:
                continue
            package = ROOT.joinpath(*parts[:-1])
            if (ROOT.joinpath(*parts) / "__init__.py").exists() or path.is_relative_to(package):
                continue
            pytest.fail(f"{path.relative_to(ROOT)} imports {module}: import from {'.'.join(parts[:-1])} instead")


@pytest.mark.parametrize("package", _packages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_package_says_what_it_holds(package: Path) -> None:
    docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8")))
    assert docstring, f"{package.relative_to(ROOT)}/__init__.py needs a docstring saying what the package holds"


@pytest.mark.parametrize("path", _python_files("engine", "journey_builder"), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_outgrows_a_reading(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)} has {lines} lines: split it by what it holds"
