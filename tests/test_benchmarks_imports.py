"""The benchmark scripts are not run by the suite (they take minutes to hours), but every
name they import from this project must still exist: a refactor that moves a module must
move the benchmarks' imports with it."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((REPO / "benchmarks").rglob("*.py")) + sorted(
    (REPO / "applications").rglob("*.py"))
OWN = ("ppgan_fom", "faceutils")


def _own_imports(path: Path):
    """(line, module, name or None) of every import of this project's code in ``path``,
    including the ones inside functions."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] in OWN:
            for alias in node.names:
                yield node.lineno, node.module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in OWN:
                    yield node.lineno, alias.name, None


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_project_import_resolves(path):
    missing = []
    for line, module, name in _own_imports(path):
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            missing.append(f"{path.name}:{line}: {module} ({exc})")
            continue
        if name not in (None, "*") and not hasattr(mod, name):
            try:  # a submodule imported by name
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                missing.append(f"{path.name}:{line}: {module} has no {name}")
    assert not missing, "\n".join(missing)


def test_the_scan_sees_nested_imports():
    # bench_enhance imports inside functions; the scan must find those
    found = {(m, n) for _, m, n in _own_imports(REPO / "benchmarks" / "bench_enhance.py")}
    assert ("ppgan_fom.geometry", "resize_square") in found
