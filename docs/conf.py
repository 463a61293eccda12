"""Sphinx configuration of the ffnn documentation.

Build (offline, warnings as errors, every cross-reference checked)::

    pip install -e ".[docs]"
    sphinx-build -W --keep-going -n -b html docs docs/_build/html

The reference pages (commands, configuration keys, product variables, API) are generated
from the code by ``_ext/ffnn_reference.py`` at every build.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))  # the package of this checkout, installed or not

# one thread: the generated product pages run small field-line tracings and FFTs
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import ffnn  # noqa: E402

project = "ffnn"
author = "ffnn developers"
copyright = "ffnn developers"
version = release = ffnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "ffnn_reference",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "README.md", "**/.ipynb_checkpoints"]
templates_path = []

# MyST: $...$ maths, ::: fences, definition lists, and heading anchors for links inside pages
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist", "attrs_inline"]
myst_heading_anchors = 3

# autodoc + numpydoc: signatures without type hints (the docstrings carry types, units and
# shapes; offline there is no inventory to link numpy's or xarray's types to)
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# nitpicky mode (-n) checks every cross-reference. Offline there are no intersphinx
# inventories, so a reference to another project's object cannot resolve: those alone are
# ignored, by package (today: astropy.units.Quantity, sunpy.coordinates and the
# scikit-learn bases of ffnn.forecast.classify's feature transformer).
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|xarray|pandas|torch|astropy|sunpy|matplotlib|scipy|sklearn)(\..*)?"),
]

html_theme = "pydata_sphinx_theme"
html_title = f"ffnn {release}"
html_static_path = []
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"index": []}

# a method without a docstring of its own would show its base class's (torch's, with
# references into torch's documentation)
autodoc_inherit_docstrings = False
