"""The services' shape, checked on their imports: app -> subscribers -> usecases -> domain,
adapters below the use cases, and from the runtime only what a running service needs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("auth", "datasource", "ingest")

NOT_FROM = {
    # a layer never imports these parts of its own service
    "domain": {"adapters", "usecases", "app", "subscribers", "api", "web", "runner"},
    "adapters": {"usecases", "app", "subscribers", "api", "web"},
    "usecases": {"app", "subscribers", "api", "web"},
}


def _modules(path: Path, package: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module == package:  # `from auth import usecases`
                found |= {f"{package}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def _sources(service: str) -> list[tuple[Path, Path]]:
    root = ROOT / "services" / service / "src" / service
    return [(p, p.relative_to(root)) for p in sorted(root.rglob("*.py"))
            if "migrations" not in p.parts]


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_the_shared_shape(service: str) -> None:
    root = ROOT / "services" / service / "src" / service
    for part in ("app.py", "subscribers.py", "domain", "adapters", "ports.py"):
        assert (root / part).exists(), f"{service} has no {part}"
    assert (root / "usecases.py").exists() or (root / "usecases").is_dir()


@pytest.mark.parametrize("service", SERVICES)
def test_layers_import_only_downwards(service: str) -> None:
    wrong = []
    for path, rel in _sources(service):
        layer = rel.parts[0].removesuffix(".py")
        inner = {m.split(".")[1] for m in _modules(path, service)
                 if m.startswith(f"{service}.") and m.count(".") >= 1}
        if bad := inner & NOT_FROM.get(layer, set()):
            wrong.append(f"{rel}: {sorted(bad)}")
    assert not wrong, wrong


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_never_imports_the_development_stack(service: str) -> None:
    wrong = [str(rel) for path, rel in _sources(service)
             if any(m.startswith("connector_runtime.devstack") for m in _modules(path, service))]
    assert not wrong, wrong
