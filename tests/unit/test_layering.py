"""Dependency direction between workspace packages, enforced by parsing imports."""

from __future__ import annotations

import ast
import tomllib
from functools import cache
from pathlib import Path

import pytest

from careline_platform.services import SERVICES

ROOT = Path(__file__).resolve().parents[2]
LIBS = ROOT / "libs"
SERVICE_ROOT = ROOT / "services"

SERVICE_PACKAGES = frozenset(s.package for s in SERVICES)  # checked against services/ below
LIB_PACKAGES = frozenset({"careline_contracts", "careline_platform", "careline_testing"})
WORKSPACE_PACKAGES = SERVICE_PACKAGES | LIB_PACKAGES
SKIP_DIRS = {".venv", "__pycache__", ".git", "build", "dist", ".mypy_cache", ".ruff_cache"}


def python_files(base: Path) -> list[Path]:
    """Every .py file under ``base``, skipping virtualenvs and caches."""
    return sorted(p for p in base.rglob("*.py") if not SKIP_DIRS.intersection(p.relative_to(base).parts))


def imported_modules(source: str) -> set[str]:
    """Absolute module names a source imports, including importlib/__import__ string calls."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            arg = node.args[0]
            is_import_call = name in {"import_module", "__import__"}
            if is_import_call and isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.add(arg.value)
    return found


@cache
def top_level_imports(path: Path) -> frozenset[str]:
    """Top-level package names imported by one file."""
    modules = imported_modules(path.read_text(encoding="utf-8"))
    return frozenset(m.split(".")[0] for m in modules)


def violations(files: list[Path], forbidden: frozenset[str]) -> list[str]:
    """``path: package`` for every forbidden import in ``files``."""
    return [
        f"{path.relative_to(ROOT)}: imports {pkg}"
        for path in files
        for pkg in sorted(top_level_imports(path) & forbidden)
    ]


def service_dirs() -> dict[str, Path]:
    """Service package name -> its service directory (services/<name>)."""
    return {f"careline_{d.name}": d for d in sorted(SERVICE_ROOT.iterdir()) if d.is_dir()}


# --- the parser itself ------------------------------------------------------------------


def test_import_parser_sees_every_import_form() -> None:
    """The parser finds plain, from, nested, TYPE_CHECKING and importlib imports."""
    source = (
        "import careline_billing.app\n"
        "from careline_profile import handlers\n"
        "from . import sibling\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from careline_testing.fakes import FakeTwilio\n"
        "def f():\n"
        "    import careline_ingress\n"
        "    importlib.import_module('careline_conversation.replies')\n"
    )
    tops = {m.split(".")[0] for m in imported_modules(source)}
    assert SERVICE_PACKAGES | {"careline_testing"} <= tops
    assert "sibling" not in tops


def test_scan_finds_the_workspace_sources() -> None:
    """The scan is not vacuous: it sees every lib and every service package."""
    lib_files = python_files(LIBS)
    assert any("careline_contracts" in p.parts for p in lib_files)
    assert any("careline_platform" in p.parts for p in lib_files)
    assert set(service_dirs()) == SERVICE_PACKAGES
    for name, directory in service_dirs().items():
        assert (directory / "src" / name / "__init__.py").is_file(), name


# --- the rules --------------------------------------------------------------------------


def test_libs_never_import_services() -> None:
    """Nothing under libs/ imports a service package."""
    assert violations(python_files(LIBS), SERVICE_PACKAGES) == []


@pytest.mark.parametrize("service", sorted(SERVICE_PACKAGES))
def test_service_never_imports_another_service(service: str) -> None:
    """A service talks to other services through events, never by importing them."""
    others = SERVICE_PACKAGES - {service}
    files = python_files(service_dirs()[service])
    assert files
    assert violations(files, others) == []


def test_contracts_import_no_platform_or_testing() -> None:
    """careline_contracts is the bottom layer: it imports neither platform nor testing."""
    files = python_files(LIBS / "contracts")
    assert files
    forbidden = frozenset({"careline_platform", "careline_testing"})
    assert violations(files, forbidden) == []


def test_platform_never_imports_testing() -> None:
    """careline_platform ships to production and must not depend on test helpers."""
    files = python_files(LIBS / "platform")
    assert files
    assert violations(files, frozenset({"careline_testing"})) == []


def test_service_sources_never_import_testing() -> None:
    """Production service code (services/*/src) does not import careline_testing."""
    files = [p for d in service_dirs().values() for p in python_files(d / "src")]
    assert files
    assert violations(files, frozenset({"careline_testing"})) == []


def _declared_workspace_deps(pyproject: Path) -> set[str]:
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    deps = data["project"].get("dependencies", [])
    names = {dep.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip() for dep in deps}
    return {n.replace("-", "_") for n in names} & WORKSPACE_PACKAGES


@pytest.mark.parametrize(
    "project",
    sorted(d for d in [*LIBS.iterdir(), *SERVICE_ROOT.iterdir()] if d.is_dir()),
    ids=lambda p: f"{Path(p).parent.name}/{Path(p).name}",
)
def test_workspace_imports_are_declared_dependencies(project: Path) -> None:
    """Each package imports other workspace packages only if its pyproject declares them."""
    pyproject = project / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip(f"{project} is not a workspace member")
    own = f"careline_{project.name}"
    allowed = _declared_workspace_deps(pyproject) | {own}
    files = python_files(project / "src")
    assert files
    assert violations(files, WORKSPACE_PACKAGES - allowed) == []
