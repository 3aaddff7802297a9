"""The domain is plain Python: no wire contracts, HTTP, database or broker library in it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ingest.domain

DOMAIN = Path(ingest.domain.__file__).parent
FORBIDDEN = {"pydantic", "pydantic_core", "httpx", "sqlalchemy", "contracts", "faststream",
             "aiokafka"}
MODULES = sorted(DOMAIN.rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Top-level packages a module imports (anywhere in it, also inside functions)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module.split(".")[0])
    return out


def test_the_check_sees_every_domain_module() -> None:
    names = {p.stem for p in MODULES}
    assert {"model", "budget", "refresh", "sync", "catalog", "lifecycle"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_a_domain_module_imports_no_io_or_wire_library(path: Path) -> None:
    assert not imported(path) & FORBIDDEN


def test_the_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from contracts.rows import Row\n    import httpx\n")
    assert imported(bad) & FORBIDDEN == {"contracts", "httpx"}


def test_the_domains_run_kinds_are_the_wires() -> None:
    """The domain spells out the wire's run kinds (it may not import contracts): the same ones."""
    import typing

    from contracts.datasource_events import RunKind as WireRunKind
    from ingest.domain.model import RunKind

    assert typing.get_args(RunKind) == typing.get_args(WireRunKind)
