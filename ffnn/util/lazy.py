"""Lazy exports for package ``__init__`` modules (PEP 562).

A package lists its public names and the module each lives in; a name's module is
imported the first time the name is asked for. So ``import ffnn`` (or a subpackage) costs
no torch, drms, sunpy.net or scikit-learn import: the command line, which imports only the
module of the command it runs, relies on that for its start-up time.
"""

from __future__ import annotations

import importlib
import sys

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: dict[str, str]):
    """Module ``__getattr__`` and ``__dir__`` that import each public name on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : dict of str to str
        Public name -> the module that defines it (e.g. ``{"train": "ffnn.field.api"}``).

    Returns
    -------
    getattr : callable
        The package's ``__getattr__(name)``: imports ``exports[name]``, caches the value
        in the package's namespace and returns it.
    dir : callable
        The package's ``__dir__()``: its namespace and the exported names.

    Raises
    ------
    AttributeError
        From ``getattr`` for a name the package neither holds nor exports.
    """

    def __getattr__(name: str):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
