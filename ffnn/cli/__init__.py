"""The ``ffnn`` command line: one subcommand per pipeline step, one module per rule file.

Holds :mod:`~ffnn.cli.app` (the parser and the entry point :func:`main`), :mod:`~ffnn.cli.options`
(argparse types shared by the commands) and one module per group of subcommands, named after
the workflow's rule file that runs them. May import every other subpackage of ffnn; none
imports it.
"""

from ffnn.cli.app import add_command, build_parser, main

__all__ = ["add_command", "build_parser", "main"]
