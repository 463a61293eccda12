"""Reference pages generated from the code when the site is built.

Each page is written into ``docs/reference/generated/`` at ``builder-inited`` (before Sphinx
reads the sources), so it can never drift from the code:

* ``cli.rst``: every ``ffnn`` command and option, walked from the argparse parser
  (:func:`ffnn.cli.app.build_parser`), as ``program``/``option`` directives;
* ``config.rst``: every key of ``workflow/schemas/config.schema.yaml`` with its type,
  default and description, as ``confkey`` objects (role ``:confkey:``);
* ``products.rst``: every variable of every NetCDF product with its dimensions, units and
  long name, read from tiny products made by the same functions as the workflow's
  (a 12^3 Low & Lou field, the shipped SHARP record binned by 16);
* ``api/*.rst``: one page per subpackage, a table of its public names (``__all__``) and
  the full documentation of each of its modules (autodoc).

It also resolves a cross-reference to a name re-exported by a package (``ffnn.train``,
``ffnn.io.read_sharp``) to the object's documented home (``ffnn.field.train.train``).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import yaml

DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
OUT = DOCS / "reference" / "generated"
SUBPACKAGES = ("util", "io", "field", "analysis", "forecast", "products", "pipeline", "cli")

_RST_SPECIAL = re.compile(r"([\\*`|_\[\]<>])")


def esc(text) -> str:
    """``text`` as literal reStructuredText (no markup, no references)."""
    return _RST_SPECIAL.sub(r"\\\1", str(text))


_LITERAL = re.compile(r"(``.+?``|`[^`]+`)")
_BAR = re.compile(r"(?<=[^\\\s])\||\|(?=\S)")


def plain_bars(text: str) -> str:
    """``|B|`` written in prose (a norm, not a reStructuredText substitution) escaped,
    outside inline literals and literal blocks; table rules (``| a |``) are left alone."""
    out, literal_block, indent = [], False, 0
    for line in text.splitlines():
        stripped = line.lstrip()
        depth = len(line) - len(stripped)
        if literal_block and stripped and depth <= indent:
            literal_block = False
        if literal_block or not stripped:
            out.append(line)
            continue
        out.append("".join(part if i % 2 else _BAR.sub(r"\\|", part)
                           for i, part in enumerate(_LITERAL.split(line))))
        if line.rstrip().endswith("::"):
            literal_block, indent = True, depth
    return "\n".join(out)


def _escape_docstring(app, what, name, obj, options, lines):
    lines[:] = plain_bars("\n".join(lines)).splitlines()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:  # unchanged pages are not rebuilt
        path.write_text(text)


def _heading(text: str, char: str) -> str:
    return f"{text}\n{char * len(text)}\n\n"


def _indent(text: str, n: int = 3) -> str:
    pad = " " * n
    return "\n".join(pad + line if line.strip() else "" for line in text.splitlines())


# ---------------------------------------------------------------- the command line

def command_parsers(parser: argparse.ArgumentParser | None = None):
    """(name, parser) of the ``ffnn`` parser and of each subcommand, in ``ffnn --help`` order."""
    if parser is None:
        from ffnn.cli.app import build_parser

        parser = build_parser()
    out = [("ffnn", parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.append((f"ffnn {name}", sub))
    return out


def option_names(parser: argparse.ArgumentParser) -> list[str]:
    """Every option string and positional name of ``parser`` (help options left out)."""
    names = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        names.extend(action.option_strings or [action.metavar or action.dest])
    return names


def _signature(action) -> str:
    if not action.option_strings:
        return action.metavar or action.dest
    if action.nargs == 0:
        return ", ".join(action.option_strings)
    metavar = action.metavar or action.dest.upper()
    if isinstance(metavar, tuple):
        metavar = " ".join(metavar)
    if action.nargs in ("+", "*"):
        metavar = f"{metavar} [{metavar} ...]"
    elif action.nargs == "?":
        metavar = f"[{metavar}]"
    return ", ".join(f"{o} {metavar}" for o in action.option_strings)


def _help(action) -> str:
    text = action.help or ""
    if "%(" in text:
        params = {**vars(action), "prog": "ffnn"}
        params = {k: (", ".join(map(str, v)) if k == "choices" and v else v) for k, v in params.items()}
        try:
            text = text % params
        except (KeyError, TypeError, ValueError):
            pass
    text = text.strip()
    if text and text[-1] not in ".;:)!?":
        text += "."
    lines = [esc(text)] if text else []
    if action.choices and "choices" not in text.lower() and not isinstance(action.choices, dict):
        lines.append("Choices: " + ", ".join(f"``{c}``" for c in action.choices) + ".")
    default = action.default
    if (action.option_strings and action.nargs != 0 and default not in (None, argparse.SUPPRESS, [], (), "")
            and "default" not in text.lower()):
        lines.append(f"Default: ``{default}``.")
    return " ".join(lines) or "(no help text)"


def cli_page(parser=None) -> str:
    """The reference of every ``ffnn`` command and option."""
    text = [".. This page is generated from ffnn.cli.app.build_parser by docs/_ext/ffnn_reference.py.\n\n",
            ".. _cli-reference:\n\n", _heading("Command line", "="),
            "Every ``ffnn`` command with every option, as ``ffnn COMMAND --help`` prints them "
            "(this page is generated from the same argparse parsers). Each rule of the workflow "
            "runs one of these commands (:doc:`/reference/workflow`).\n\n"]
    for name, sub in command_parsers(parser):
        text.append(f".. _cli-{name.replace(' ', '-')}:\n\n")
        text.append(_heading(f"``{name}``", "-"))
        text.append(f".. program:: {name}\n\n")
        usage = sub.format_usage().strip()
        usage = re.sub(r"^usage:\s*", "", usage)
        text.append(".. code-block:: text\n\n" + _indent(usage) + "\n\n")
        if sub.description:
            # the description is the command function's docstring, written in reStructuredText
            text.append(plain_bars(inspect.cleandoc(sub.description)) + "\n\n")
        for group in sub._action_groups:
            actions = [a for a in group._group_actions
                       if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]
            if not actions:
                continue
            title = {"positional arguments": "Arguments", "options": "Options",
                     "optional arguments": "Options"}.get(group.title, group.title)
            text.append(f"**{esc(title)}**\n\n")
            if group.description:
                text.append(esc(group.description) + "\n\n")
            for action in actions:
                text.append(f".. option:: {_signature(action)}\n\n")
                text.append(_indent(_help(action)) + "\n\n")
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                text.append("**Commands**\n\n")
                for choice in action._choices_actions:
                    text.append(f"* :ref:`ffnn {choice.dest} <cli-ffnn-{choice.dest}>`: {esc(choice.help or '')}\n")
                text.append("\n")
    return "".join(text)


# ---------------------------------------------------------------- the configuration

def schema() -> dict:
    return yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())


def _resolve(node: dict, root: dict) -> dict:
    while "$ref" in node:
        ref = node["$ref"]
        target = root
        for part in ref.lstrip("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def config_keys(root: dict | None = None) -> list[tuple[str, dict]]:
    """(dotted key, schema node) of every key the config schema describes, depth first."""
    root = root or schema()
    out = []

    def walk(prefix: str, node: dict):
        node = _resolve(node, root)
        for key, sub in (node.get("properties") or {}).items():
            path = f"{prefix}.{key}" if prefix else key
            out.append((path, _resolve(sub, root)))
            walk(path, sub)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and ("properties" in _resolve(extra, root)):
            walk(f"{prefix}.<name>", extra)

    walk("", root)
    return out


def _type(node: dict) -> str:
    if "enum" in node:
        return "one of " + ", ".join(f"``{v}``" for v in node["enum"])
    kind = node.get("type")
    if kind is None:
        return ""
    kinds = kind if isinstance(kind, list) else [kind]
    text = " or ".join(str(k) for k in kinds)
    bounds = []
    for word, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<")):
        if word in node:
            bounds.append(f"{sign} {node[word]}")
    return text + (f" ({', '.join(bounds)})" if bounds else "")


def config_page(root: dict | None = None) -> str:
    """The reference of every configuration key."""
    root = root or schema()
    text = [".. This page is generated from workflow/schemas/config.schema.yaml by docs/_ext/ffnn_reference.py.\n\n",
            ".. _config-reference:\n\n", _heading("Configuration keys", "="),
            esc(" ".join(root.get("description", "").split())) + "\n\n",
            "Every key of the workflow's configuration (``config/config.yaml``, or a file given with "
            "``--configfile``; ``--config KEY=VALUE`` on the command line), generated from "
            "``workflow/schemas/config.schema.yaml``, which the workflow validates against when it "
            "starts. *Default* is the schema's, taken by a key your config leaves out; the shipped "
            "``config/config.yaml`` sets some of them otherwise (:doc:`/howto/real-regions`).\n\n"]
    from ffnn.field.train_settings import SETTINGS  # the training settings' one source of meanings

    for key, node in config_keys(root):
        text.append(f".. confkey:: {key}\n\n")
        body = []
        setting = key.rsplit(".", 1)[-1]
        if node.get("description"):
            body.append(esc(" ".join(str(node["description"]).split())))
        elif key.split(".")[-2:-1] in (["train"], ["warm"]) and setting in SETTINGS:
            meaning, unit = SETTINGS[setting]
            body.append(esc(meaning + (f" [{unit}]" if unit else "")) + " (``ffnn train --help``).")
        kind = _type(node)
        if kind:
            body.append(f"*Type:* {kind}.")
        if "default" in node and not (isinstance(node["default"], dict) and node.get("properties")):
            default = yaml.safe_dump(node["default"], default_flow_style=True, width=1000).strip()
            default = default.removesuffix("...").strip()
            body.append(f"*Default:* ``{default}``.")
        text.append(_indent("\n\n".join(body) or "(no description)") + "\n\n")
    return "".join(text)


# ---------------------------------------------------------------- the products

def tiny_products() -> dict:
    """Small products made by the workflow's own functions: {file name: (Dataset, source)}."""
    import numpy as np

    from ffnn.analysis import lowlou, metrics
    from ffnn.analysis.derived import DerivedSettings, derived_dataset
    from ffnn.field import boundary, cube, potential
    from ffnn.products import summary

    out = {}
    ref = lowlou.lowlou_cube(shape=(12, 12, 12))
    out["reference.nc"] = (ref, "ffnn.analysis.lowlou.lowlou_cube")
    b = cube.field_array(ref)
    dxyz = cube.spacing(ref)
    derivs = metrics.derivatives(b, dxyz)
    j = metrics.curl(b, dxyz)
    div = np.gradient(b[0], dxyz[0], axis=0) + np.gradient(b[1], dxyz[1], axis=1) + np.gradient(b[2], dxyz[2], axis=2)
    fields = {"Bx": b[0], "By": b[1], "Bz": b[2], "Jx": j[0], "Jy": j[1], "Jz": j[2], "divB": div}
    model = cube.make_cube(fields, ref.x.values, ref.y.values, ref.z.values)
    out["cube.nc"] = (model, "ffnn.field.cube.model_cube (variables of ffnn.field.cube.make_cube)")
    out["profiles.nc"] = (metrics.height_profiles(b, dxyz, ref.z.values, b_pot=b, derivs=derivs),
                          "ffnn.analysis.metrics.height_profiles")
    out["derived.nc"] = (derived_dataset(model, DerivedSettings(slice_every=3)),
                         "ffnn.analysis.derived.derived_dataset")
    out["faces.nc"] = (boundary.cube_faces(ref), "ffnn.field.boundary.cube_faces")
    record = next((ROOT / "ffnn" / "data" / "sharp").glob("hmi.sharp_cea_720s.*"))
    bottom = boundary.from_sharp(record, bin_factor=16, height_mm=20)
    out["boundary.nc"] = (bottom, "ffnn.field.boundary.from_sharp")
    out["potential.nc"] = (potential.potential_cube(bottom, nz=4), "ffnn.field.potential.potential_cube")
    out["pf_faces.nc"] = (potential.potential_faces(bottom, nz=4), "ffnn.field.potential.potential_faces")
    return out


def _units(attrs) -> str:
    unit = attrs.get("units")
    return f"``{unit}``" if unit not in (None, "") else "–"


def products_page(products: dict | None = None) -> str:
    """Every variable of every NetCDF product with its dimensions, units and long name."""
    from ffnn.pipeline.series import QUANTITIES
    from ffnn.products.summary import COLUMNS

    products = products if products is not None else tiny_products()
    text = [".. This page is generated by docs/_ext/ffnn_reference.py from the products' own attributes.\n\n",
            ".. _products-reference:\n\n", _heading("Product variables", "="),
            "Every variable of every NetCDF product with its dimensions, its units (UDUNITS "
            "spelling, as in the file's ``units`` attribute) and its ``long_name``. The tables are "
            "read from small products made, when this site is built, by the functions the "
            "workflow calls (a 12³ Low & Lou field; the shipped SHARP record of NOAA 11158 binned "
            "by 16), so they list what the files hold. What each file is for: "
            ":doc:`/reference/outputs`.\n\n"]
    for name, (ds, source) in products.items():
        text.append(f".. _product-{name.replace('.', '-')}:\n\n")
        text.append(_heading(f"``{name}``", "-"))
        text.append(f"Written by :func:`{source.split()[0]}`"
                    + (f" {esc(' '.join(source.split()[1:]))}" if len(source.split()) > 1 else "") + ".\n\n")
        text.append(".. list-table::\n   :header-rows: 1\n   :widths: 20 20 15 45\n\n"
                    "   * - variable\n     - dimensions\n     - units\n     - long_name\n")
        for var in list(ds.coords) + list(ds.data_vars):
            da = ds[var]
            dims = ", ".join(da.dims) or "(scalar)"
            flags = ""
            if "flag_meanings" in da.attrs:
                flags = f" (flags: {esc(da.attrs['flag_meanings'])})"
            text.append(f"   * - ``{var}``\n     - {esc(dims)}\n     - {_units(da.attrs)}\n"
                        f"     - {esc(da.attrs.get('long_name', ''))}{flags}\n")
        text.append("\n")
    # the tables whose files need a whole run: from the attribute tables they are written from
    text.append(".. _product-series-nc:\n\n" + _heading("``series.nc``", "-"))
    text.append("Written by :func:`ffnn.pipeline.series.series_dataset` on dimension ``time`` (T_REC in "
                "UTC); the quantities come from :data:`ffnn.pipeline.series.QUANTITIES`, beside "
                "``iterations``, ``warm_start`` (flags ``cold_start warm_start``), ``stop_reason``, "
                "``snapshot`` and ``t_rec``.\n\n")
    text.append(".. list-table::\n   :header-rows: 1\n   :widths: 25 15 60\n\n"
                "   * - variable\n     - units\n     - long_name\n")
    for var, (_, unit, long_name) in QUANTITIES.items():
        text.append(f"   * - ``{var}``\n     - ``{unit}``\n     - {esc(long_name)}\n")
    text.append("\n.. _product-summary-nc:\n\n" + _heading("``summary.nc`` and ``summary.tsv``", "-"))
    text.append("Written by :func:`ffnn.products.summary.write_summary`: one row per region "
                "(dimension ``region``, the ids in ``region_id``); the columns come from "
                ":data:`ffnn.products.summary.COLUMNS`, in this order (a column without units is text "
                "or a count).\n\n")
    text.append(".. list-table::\n   :header-rows: 1\n   :widths: 25 15 60\n\n"
                "   * - column\n     - units\n     - long_name\n")
    for var, (unit, long_name) in COLUMNS.items():
        text.append(f"   * - ``{var}``\n     - {f'``{unit}``' if unit else '–'}\n     - {esc(long_name)}\n")
    text.append("\n")
    return "".join(text)


# ---------------------------------------------------------------- the API

def public_names(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items()
                 if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__
                 and (inspect.isclass(v) or inspect.isfunction(v))]
    return list(names)


def home(obj, fallback: str) -> str:
    """The documented full name of ``obj`` (its defining module and qualified name)."""
    mod, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if mod and qual and mod.startswith("ffnn") and "<" not in qual:
        return f"{mod}.{qual}"
    return fallback


def _summary_line(obj) -> str:
    """The first paragraph of ``obj``'s docstring as one line of reStructuredText, its
    cross-references shown as code (they are relative to the object's module, not to the
    page of the table)."""
    doc = inspect.getdoc(obj) or ""
    para = " ".join(doc.split("\n\n")[0].split())
    para = re.sub(r":[\w:]+:`~?(?:([^`<]+?)\s*<[^`]+>|([^`]+))`",
                  lambda m: f"``{(m.group(1) or m.group(2)).lstrip('~.')}``", para)
    return plain_bars(para)


def _names_table(module) -> str:
    rows = []
    for name in public_names(module):
        obj = getattr(module, name, None)
        if obj is None:
            continue
        target = home(obj, f"{module.__name__}.{name}")
        role = "class" if inspect.isclass(obj) else "func" if callable(obj) else "data"
        line = _summary_line(obj) if (inspect.isclass(obj) or inspect.isfunction(obj)) else ""
        rows.append(f"   * - :py:{role}:`{name} <{target}>`\n     - {line}\n")
    if not rows:
        return ""
    return ".. list-table::\n   :widths: 30 70\n\n" + "".join(rows) + "\n"


def submodules(package: str) -> list[str]:
    pkg = importlib.import_module(package)
    return sorted(f"{package}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__)
                  if not m.name.startswith("_"))


def api_pages() -> dict[str, str]:
    """{file name under api/: text}: the index and one page per subpackage."""
    import ffnn

    pages = {}
    index = [".. This page is generated by docs/_ext/ffnn_reference.py.\n\n", ".. _api-reference:\n\n",
             _heading("Python API", "="),
             "The package is organised by pipeline stage; each subpackage's page lists its public "
             "names (its ``__all__``) and documents each of its modules. A lower stage never imports "
             "a higher one: ``util`` ← ``io`` ← ``field`` ← ``analysis``; ``forecast`` uses "
             "``util`` and ``io``; ``products`` uses everything up to ``analysis`` and ``forecast``; "
             "``pipeline`` everything but ``cli``; ``cli`` everything.\n\n"]
    top = _names_table(ffnn)
    if top:
        index.append(_heading("Top-level names: ``import ffnn``", "-") + top)
    index.append(".. toctree::\n   :maxdepth: 1\n\n" + "".join(f"   ffnn.{s}\n" for s in SUBPACKAGES) + "\n")
    pages["index.rst"] = "".join(index)
    for sub in SUBPACKAGES:
        name = f"ffnn.{sub}"
        module = importlib.import_module(name)
        text = [".. This page is generated by docs/_ext/ffnn_reference.py.\n\n",
                _heading(f"``{name}``", "="),
                f".. automodule:: {name}\n   :no-members:\n\n"]
        table = _names_table(module) if getattr(module, "__all__", None) else ""
        if table:
            text.append(_heading("Public names", "-") + table)
        for mod in submodules(name):
            if mod == "ffnn.cli.__main__":
                continue
            text.append(_heading(f"``{mod}``", "-"))
            text.append(f".. automodule:: {mod}\n   :members:\n   :show-inheritance:\n\n")
        pages[f"{name}.rst"] = "".join(text)
    return pages


# ---------------------------------------------------------------- Sphinx hooks

def generate(app=None) -> None:
    _write(OUT / "cli.rst", cli_page())
    _write(OUT / "config.rst", config_page())
    _write(OUT / "products.rst", products_page())
    for name, text in api_pages().items():
        _write(OUT / "api" / name, text)


def _candidates(node) -> list[str]:
    """Full names a Python cross-reference may mean, most specific first."""
    target = node.get("reftarget", "").lstrip("~.")
    module, cls = node.get("py:module") or "", node.get("py:class") or ""
    out = []
    if module.startswith("ffnn"):
        if cls:
            out.append(f"{module}.{cls}.{target}")
        out.append(f"{module}.{target}")
    if target.startswith("ffnn"):
        out.append(target)
    return out


def _lookup(name: str):
    """The object ``name`` (a dotted path into ffnn) names, or None."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def resolve_reexport(app, env, node, contnode):
    """Resolve a Python reference into ffnn that Sphinx could not.

    A name re-exported by a package (``ffnn.train``, ``ffnn.io.read_sharp``) links to the
    object's documented home (``ffnn.field.train.train``). A name that exists in the code
    but has no entry of its own (a module constant without a docstring) is shown as code,
    unlinked. A name that does not exist stays a warning: that is a broken reference.
    """
    if node.get("refdomain") != "py":
        return None
    domain = env.get_domain("py")
    for name in _candidates(node):
        obj = _lookup(name)
        if obj is None:
            continue
        real = home(obj, name)
        if real != name:
            for role in ("obj", "class", "func", "meth", "attr", "data", "mod"):
                found = domain.resolve_xref(env, node["refdoc"], app.builder, role, real, node, contnode)
                if found is not None:
                    return found
        return contnode
    return None


def setup(app):
    app.add_object_type("confkey", "confkey", objname="configuration key",
                        indextemplate="pair: %s; configuration key")
    app.connect("builder-inited", generate)
    app.connect("missing-reference", resolve_reexport)
    app.connect("autodoc-process-docstring", _escape_docstring)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
