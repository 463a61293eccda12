"""The package's layout: one subpackage per pipeline stage, each importable alone, and
imports only from the stages below it (no cycles)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ffnn"
# what each subpackage may import (besides itself); ffnn.data holds the shipped data files
ALLOWED = {
    "util": set(),
    "io": {"util"},
    "field": {"util", "io"},
    "analysis": {"util", "io", "field"},
    "forecast": {"util", "io"},
    "products": {"util", "io", "field", "analysis", "forecast"},
    "pipeline": {"util", "io", "field", "analysis", "forecast", "products", "data"},
    "cli": {"util", "io", "field", "analysis", "forecast", "products", "pipeline", "data"},
}


def ffnn_imports(path: Path) -> set[str]:
    """The ffnn subpackages a module imports (top level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "ffnn" and len(parts) > 1 and parts[1] in ALLOWED | {"data": None}:
                found.add(parts[1])
    return found


def test_every_module_lies_in_a_stage():
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert not loose, f"modules outside the stage subpackages: {loose}"
    stages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())
    assert stages == sorted([*ALLOWED, "data"])


@pytest.mark.parametrize("stage", sorted(ALLOWED))
def test_imports_follow_the_stages(stage):
    wrong = {}
    for path in sorted((PACKAGE / stage).glob("*.py")):
        bad = ffnn_imports(path) - ALLOWED[stage] - {stage}
        if bad:
            wrong[path.name] = sorted(bad)
    assert not wrong, f"ffnn.{stage} may import only {sorted(ALLOWED[stage])}; found {wrong}"


def test_stage_graph_has_no_cycles():
    seen, done = set(), set()

    def visit(stage, path):
        assert stage not in seen - done, f"import cycle: {' -> '.join(path + [stage])}"
        if stage in done:
            return
        seen.add(stage)
        for dep in ALLOWED.get(stage, ()):
            visit(dep, path + [stage])
        done.add(stage)

    for stage in ALLOWED:
        visit(stage, [])


@pytest.mark.parametrize("stage", sorted(ALLOWED))
def test_each_stage_imports_alone(stage):
    """A fresh interpreter imports the subpackage alone; its __init__ says what it holds."""
    run = subprocess.run([sys.executable, "-c", f"import ffnn.{stage}"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    init = (PACKAGE / stage / "__init__.py").read_text()
    assert ast.get_docstring(ast.parse(init)), f"ffnn/{stage}/__init__.py has no docstring"


def test_every_module_imports():
    modules = [".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts) for p in sorted(PACKAGE.rglob("*.py"))
               if p.stem not in ("__init__", "__main__")]
    code = "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
