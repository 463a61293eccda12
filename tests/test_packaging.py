"""environment.yml (conda) lists the same dependencies as pyproject.toml (pip).

The conda file must hold the runtime dependencies and the ``test`` extra, with the same
version specifiers; torch is pinned exactly (==2.13.0) and comes from pip (the ``pip:``
list), since a range would pull a CUDA build of several GB.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
TORCH_PIN = "==2.13.0"
# conda-only entries that are not Python dependencies of the package
CONDA_ONLY = {"python", "pip"}


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _parse(spec: str, where: str) -> tuple[str, SpecifierSet]:
    # conda allows "name >=1.0" and "name=1.0" (one '=' means a prefix match): only the
    # pip-compatible forms are used in this project, so both sides parse as PEP 508.
    text = re.sub(r"\s+", "", spec)
    try:
        req = Requirement(text)
    except Exception as err:  # packaging.requirements.InvalidRequirement
        pytest.fail(f"{where}: cannot parse dependency {spec!r}: {err}")
    return canonicalize_name(req.name), req.specifier


def pyproject_deps() -> dict[str, SpecifierSet]:
    project = _pyproject()["project"]
    extras = project.get("optional-dependencies", {})
    specs = list(project["dependencies"]) + [spec for group in extras.values() for spec in group]
    out = {}
    for spec in specs:
        name, spec_set = _parse(spec, "pyproject.toml")
        # one package may serve two extras (numpydoc: the docs build and the docstring
        # tests), but with one version specifier
        assert out.get(name, spec_set) == spec_set, f"pyproject.toml lists {name} twice, differently"
        out[name] = spec_set
    return out


def environment() -> tuple[dict[str, SpecifierSet], dict[str, SpecifierSet]]:
    """(conda dependencies, pip dependencies) of environment.yml, names canonical."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = {}, {}
    for item in env["dependencies"]:
        if isinstance(item, dict):
            assert set(item) == {"pip"}, f"environment.yml: unexpected entry {item}"
            for spec in item["pip"]:
                name, spec_set = _parse(spec, "environment.yml pip:")
                assert name not in pip, f"environment.yml pip: lists {name} twice"
                pip[name] = spec_set
        else:
            name, spec_set = _parse(str(item), "environment.yml")
            assert name not in conda, f"environment.yml lists {name} twice"
            conda[name] = spec_set
    return conda, pip


def test_environment_yml_matches_pyproject():
    wanted = pyproject_deps()
    conda, pip = environment()
    both = sorted(set(conda) & set(pip))
    assert not both, f"listed under conda and pip alike: {both}"
    have = {k: v for k, v in {**conda, **pip}.items() if k not in CONDA_ONLY}
    missing = sorted(set(wanted) - set(have))
    extra = sorted(set(have) - set(wanted))
    assert not missing, f"in pyproject.toml, not in environment.yml: {missing}"
    assert not extra, f"in environment.yml, not in pyproject.toml: {extra}"
    differ = {k: (str(wanted[k]), str(have[k])) for k in wanted if wanted[k] != have[k]}
    assert not differ, f"version specifiers differ (pyproject, environment.yml): {differ}"


def test_torch_pinned_and_from_pip():
    wanted = pyproject_deps()
    conda, pip = environment()
    assert str(wanted["torch"]) == TORCH_PIN
    assert "torch" in pip and str(pip["torch"]) == TORCH_PIN
    assert "torch" not in conda and "pytorch" not in conda


def test_python_version_agrees():
    requires = SpecifierSet(_pyproject()["project"]["requires-python"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = [d for d in env["dependencies"] if isinstance(d, str) and re.match(r"python\b", d)]
    assert python, "environment.yml names no python version"
    _, spec = _parse(python[0], "environment.yml")
    assert spec == requires, f"python {spec} in environment.yml, requires-python {requires}"


def test_a_command_imports_only_its_own_module():
    """`ffnn train` must not pay for sklearn or drms (seconds per Snakemake job)."""
    import subprocess
    import sys

    code = ("import sys; from ffnn import cli; p = cli.build_parser(['train', '--help']); "
            "print(sorted(m for m in ('sklearn', 'drms') if m in sys.modules)); "
            "print(sorted(p._subparsers._group_actions[0].choices))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded, commands = out.splitlines()
    assert loaded == "[]"
    assert "train" in commands and "classify" not in commands
    from ffnn.cli import app

    every = {c for names in app.COMMANDS.values() for c in names}
    assert set(app.build_parser([])._subparsers._group_actions[0].choices) == every


def test_sunpy_comes_with_the_extras_ffnn_uses():
    """sunpy.map reads SHARP files; sunpy.net (bs4, zeep, ...) asks HEK for GOES flares
    (`ffnn flare-events`, classify events: hek): both extras on a plain install."""
    spec = next(Requirement(s) for s in _pyproject()["project"]["dependencies"] if s.startswith("sunpy"))
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_spec = next(Requirement(re.sub(r"\s+", "", s)) for s in pip if s.startswith("sunpy"))
    assert spec.extras == conda_spec.extras == {"map", "net"}
    from sunpy.net import hek  # importable: its dependencies are installed

    assert hek.HEKClient().url.startswith("https://")
