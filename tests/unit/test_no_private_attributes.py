"""No code reaches into another object's private attributes: an AST walk over every source.

A leading underscore means "not part of the API": FastStream's or nats-py's may change in any
release, silently. Our own objects offer a public accessor instead. Only ``self`` and ``cls``
may touch their own ``_name``s; dunders (``__name__``, ``__class__``) are public protocol.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("libs", "services", "cli", "tools", "tests")
SKIP_DIRS = {".venv", "__pycache__", ".git", "build", "dist", ".mypy_cache", ".ruff_cache", "node_modules"}
OWN = {"self", "cls"}
REFLECTION = {"getattr", "setattr", "hasattr", "delattr"}
DOCUMENTED = {"os._exit"}
"""Underscored by history but public and documented: ``os._exit`` ends a forked child without
running the parent's exit handlers (careline_testing.zygote)."""


def is_private(name: str) -> bool:
    """``_name``, not ``__dunder__`` (a mangled ``__name`` is private too)."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_accesses(source: str) -> list[tuple[int, str]]:
    """(line, what) for every private attribute read, written or looked up by name."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and is_private(node.attr):
            owner = node.value
            what = f"{ast.unparse(owner)}.{node.attr}"
            if not (isinstance(owner, ast.Name) and owner.id in OWN) and what not in DOCUMENTED:
                found.append((node.lineno, what))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in REFLECTION:
            name = node.args[1] if len(node.args) >= 2 else None
            if isinstance(name, ast.Constant) and isinstance(name.value, str) and is_private(name.value):
                found.append((node.lineno, f"{node.func.id}(..., {name.value!r})"))
    return found


def python_files() -> list[Path]:
    files: list[Path] = []
    for top in SCANNED:
        base = ROOT / top
        files += [p for p in base.rglob("*.py") if not SKIP_DIRS.intersection(p.relative_to(ROOT).parts)]
    return sorted(files)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("broker._connection", [(1, "broker._connection")], id="attribute-read"),
        pytest.param(
            "sub._sub._pending_queue", [(1, "sub._sub._pending_queue"), (1, "sub._sub")], id="chain"
        ),
        pytest.param("x._n = 1", [(1, "x._n")], id="attribute-write"),
        pytest.param(
            "getattr(sub, '_pending_queue', None)", [(1, "getattr(..., '_pending_queue')")], id="getattr"
        ),
        pytest.param("setattr(sub, '_x', 1)", [(1, "setattr(..., '_x')")], id="setattr"),
        pytest.param("parts._replace(path='/')", [(1, "parts._replace")], id="namedtuple-too"),
        pytest.param("self._x; cls._y", [], id="own-attributes"),
        pytest.param("os._exit(0); os._environ", [(1, "os._environ")], id="documented-os-exit"),
        pytest.param("obj.__class__; getattr(obj, '__name__')", [], id="dunders"),
        pytest.param("getattr(obj, name); obj.public", [], id="public-or-dynamic"),
    ],
)
def test_the_walk_finds_private_accesses(source: str, expected: list[tuple[int, str]]) -> None:
    assert private_accesses(source) == expected


def test_the_scan_covers_every_package() -> None:
    """The walk reads the libs, the services, the CLI, the tools and these tests."""
    tops = {p.relative_to(ROOT).parts[0] for p in python_files()}
    assert tops == set(SCANNED)
    assert Path(__file__).resolve() in python_files()


def test_no_source_touches_a_private_attribute() -> None:
    hits = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in python_files()
        for line, what in private_accesses(path.read_text(encoding="utf-8"))
    ]
    assert hits == []
