"""The domain stays pure: standard library only, no clock, no environment, no I/O."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PURE = sorted((ROOT / "rights").glob("*.py"))
FORBIDDEN_CALLS = {
    ("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time"),
    ("time", "monotonic"), ("os", "getenv"), ("os", "environ"), ("builtins", "open"),
}  # fmt: skip


@pytest.mark.parametrize("path", PURE, ids=lambda p: p.name)
def test_rights_imports_only_the_standard_library_and_itself(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or top in ("rights", "__future__"), (
                f"{path.name} imports {name}"
            )


@pytest.mark.parametrize("path", PURE, ids=lambda p: p.name)
def test_rights_reads_no_clock_and_no_environment(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert (node.value.id, node.attr) not in FORBIDDEN_CALLS, (
                f"{path.name}:{node.lineno} uses {node.value.id}.{node.attr}"
            )
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id != "open", f"{path.name}:{node.lineno} opens a file"
