"""The ``ffnn`` command line: one subcommand per pipeline step, one module per rule file.

Holds :mod:`~ffnn.cli.app` (the parser and the entry point :func:`main`), :mod:`~ffnn.cli.options`
(argparse types shared by the commands) and one module per group of subcommands, named after
the workflow's rule file that runs them.

Exports: :func:`main` (the console script), :func:`build_parser`, :func:`add_command`.

May import every other subpackage of ffnn; none imports it.
"""

from ffnn.util.lazy import lazy_exports

_EXPORTS = {"add_command": "ffnn.cli.app", "build_parser": "ffnn.cli.app", "main": "ffnn.cli.app"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
