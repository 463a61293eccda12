"""The documentation site (docs/), built for real.

* the site builds offline with ``sphinx-build -W --keep-going -n`` (warnings as errors,
  every cross-reference checked), and the build prints no warning at all;
* the reference lists every ``ffnn`` command and option of the argparse parsers, every key
  of ``workflow/schemas/config.schema.yaml`` and every product variable: each is looked up
  in the built site's inventory (``objects.inv``) or pages, against the code walked here
  independently of the page generator;
* the tutorials' commands still run: the blocks marked ``% doctest: run`` are run in order
  in a temporary directory (shell and Python), and the ``snakemake`` lines of the blocks
  marked ``% doctest: dry-run`` are planned with ``-n`` on a copy of the shipped config.

Needs the ``docs`` extra (``pip install -e ".[docs]"``, as .ci/run does); skipped with the
reason without it.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
SNAKEFILE = next(p for p in (REPO / "workflow" / "Snakefile", REPO / "Snakefile") if p.exists())

pytest.importorskip("sphinx", reason="the docs extra is not installed: pip install -e '.[docs]'")
pytest.importorskip("pydata_sphinx_theme", reason="the docs extra is not installed: pip install -e '.[docs]'")


def _env():
    env = {k: v for k, v in os.environ.items() if k not in ("JSOC_URL", "JSOC_EMAIL")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env.update(MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    return env


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built from scratch: (output directory, the build's stderr)."""
    out = tmp_path_factory.mktemp("html")
    cmd = [sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-n", "-q", "-b", "html",
           "-d", str(out / ".doctrees"), str(DOCS), str(out)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900, env=_env())
    return out, proc


def test_the_site_builds_without_a_warning(site):
    out, proc = site
    warnings = [line for line in proc.stderr.splitlines() if re.search(r"WARNING|ERROR|CRITICAL", line)]
    assert proc.returncode == 0 and not warnings, "\n".join(warnings) or proc.stderr[-3000:]
    for page in ("index", "tutorials/default-run", "tutorials/products", "explanation/trust-checks",
                 "reference/generated/api/index", "reference/generated/cli"):
        assert (out / f"{page}.html").is_file(), page
    # the figures travel with the pages that show them
    assert (out / "_images" / "11158_fieldlines_xy.png").is_file()


def _inventory(out: Path) -> dict[str, set[str]]:
    from sphinx.util.inventory import InventoryFile

    with open(out / "objects.inv", "rb") as f:
        inv = InventoryFile.load(f, "", os.path.join)
    data = getattr(inv, "data", inv)  # a dict before Sphinx 8.2, an _Inventory after
    return {kind: set(entries) for kind, entries in data.items()}


def _parsers():
    from ffnn.cli.app import build_parser

    top = build_parser()
    yield "ffnn", top
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from ((f"ffnn {name}", sub) for name, sub in action.choices.items())


def test_every_command_and_option_is_in_the_reference(site):
    out, _ = site
    options = _inventory(out).get("std:cmdoption", set())
    missing = []
    for prog, parser in _parsers():
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            for name in action.option_strings or [action.metavar or action.dest]:
                # the inventory names an option "<program, spaces as dashes>.<option>"
                if f"{prog.replace(' ', '-')}.{name}" not in options:
                    missing.append(f"{prog} {name}")
    assert len(options) > 100, "no options in the inventory: the command-line page was not built"
    assert not missing, f"not in the command-line reference: {missing}"


def _schema_keys(node, root, prefix=""):
    while "$ref" in node:
        target = root
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    for key, sub in (node.get("properties") or {}).items():
        path = f"{prefix}.{key}" if prefix else key
        yield path
        yield from _schema_keys(sub, root, path)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        yield from _schema_keys(extra, root, f"{prefix}.<name>")


def test_every_config_key_is_in_the_reference(site):
    out, _ = site
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    keys = set(_schema_keys(schema, schema))
    documented = _inventory(out).get("std:confkey", set())
    assert {"regions", "train", "train.max_iterations", "jsoc.email", "resources.train"} <= keys
    missing = sorted(keys - documented)
    assert not missing, f"config keys not in the configuration reference: {missing}"


def test_every_product_variable_is_in_the_reference_with_its_units(site):
    from ffnn.field.cube import UNITS
    from ffnn.pipeline.series import QUANTITIES
    from ffnn.products.summary import COLUMNS

    out, _ = site
    page = (out / "reference" / "generated" / "products.html").read_text()
    rows = {name: " ".join(re.sub(r"<[^>]+>", " ", cells).split()) for name, cells in
            re.findall(r"<tr[^>]*><td><p><code[^>]*><span class=\"pre\">([^<]+)</span></code></p></td>"
                       r"(.*?)</tr>", page, re.S)}
    expected = {**UNITS, **{k: v[1] for k, v in QUANTITIES.items()}, **{k: v[0] for k, v in COLUMNS.items()}}
    expected.update({"twist": "1", "log10_q": "1", "end_face": "", "alpha": "Mm-1",
                     "div_free_factor": "Mm-2", "energy_pot": "erg"})
    missing = sorted(set(expected) - set(rows))
    assert not missing, f"product variables not in the reference: {missing}"
    wrong = [name for name, unit in expected.items() if unit and unit not in rows[name]]
    assert not wrong, f"listed without their units: {wrong}"


def _blocks(page: Path, mark: str) -> list[tuple[str, str]]:
    """(language, code) of the fenced blocks preceded by the line ``% doctest: <mark>``."""
    text = page.read_text()
    return re.findall(rf"^% doctest: {mark}\n```(\w+)\n(.*?)^```", text, re.S | re.M)


def test_the_products_tutorial_runs(tmp_path):
    blocks = _blocks(DOCS / "tutorials" / "own-fits.md", "run") + _blocks(DOCS / "tutorials" / "products.md", "run")
    assert len(blocks) >= 4 and blocks[0][0] == "bash"
    for language, code in blocks:
        if language == "bash":
            cmd = ["bash", "-euo", "pipefail", "-c", code]
        else:
            cmd = [sys.executable, "-c", code]
        proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=_env())
        assert proc.returncode == 0, f"{code}\n{proc.stdout}\n{proc.stderr}"
    assert (tmp_path / "export" / "cube.vtk").is_file() and (tmp_path / "export" / "log10_q.fits").is_file()


def test_the_workflow_commands_of_the_tutorials_plan(tmp_path):
    lines = []
    for page in sorted((DOCS / "tutorials").glob("*.md")) + sorted((DOCS / "howto").glob("*.md")):
        for _, code in _blocks(page, "dry-run"):
            lines += [(page.name, line.strip()) for line in code.splitlines() if line.strip().startswith("snakemake ")]
    assert len(lines) >= 2, lines
    shutil.copytree(REPO / "config", tmp_path / "config")
    if (REPO / "profiles").is_dir():
        shutil.copytree(REPO / "profiles", tmp_path / "profiles")
    if not (tmp_path / "profiles" / "slurm").is_dir() and (REPO / "config" / "profiles" / "slurm").is_dir():
        shutil.copytree(REPO / "config" / "profiles" / "slurm", tmp_path / "profiles" / "slurm")  # before the move
    for page, line in lines:
        args = shlex.split(line)[1:]
        cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), *args, "-n"]
        proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600,
                              env={**_env(), "JSOC_EMAIL": "docs@example.org"})
        assert proc.returncode == 0, f"{page}: {line}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        assert "train" in proc.stdout, f"{page}: {line} plans no training\n{proc.stdout[-2000:]}"
