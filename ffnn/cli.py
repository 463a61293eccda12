"""The ``ffnn`` command line: one subcommand per pipeline step.

Each command group lives in its own module exposing ``register(subparsers)``, which adds
its subcommands with :func:`add_command`; a subcommand's function is called with the
parsed arguments. Errors a user can fix (``FFNNError``) are printed as one line naming the
cause, with exit status 2. Output options are named alike: ``-o/--output`` for a file,
``--outdir`` for a directory.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import sys

from ffnn.errors import FFNNError

# Which module registers which subcommand, so that one command imports only its own
# module: sklearn (classify) or drms (sharp) cost seconds that every Snakemake job paid.
# The modules follow the rule files of workflow/rules/ (keywords: inputs of classify).
COMMANDS = {
    "ffnn.commands.lowlou": ("lowlou", "faces", "metrics", "lowlou-table"),
    "ffnn.commands.sharp": ("resolve", "fetch-sharp"),
    "ffnn.commands.model": ("boundary", "potential", "train", "cube", "quality"),
    "ffnn.commands.products": ("figures", "summary-row", "summary"),
    "ffnn.commands.derived": ("derived", "export"),
    "ffnn.commands.classify": ("classify",),
    "ffnn.commands.keywords": ("sharp-keywords", "flare-events"),
}
COMMAND_MODULES = tuple(COMMANDS)


def add_command(subparsers, name: str, func, summary: str):
    """Add the subcommand ``name`` that runs ``func(args)``; ``summary`` is its line in
    ``ffnn --help``, and ``func``'s docstring heads its own ``--help``. Returns its parser,
    for the options."""
    parser = subparsers.add_parser(name, help=summary, description=inspect.getdoc(func) or summary)
    parser.set_defaults(func=func)
    return parser


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The top-level parser: with ``argv`` naming a known subcommand, only that
    subcommand's module is imported; otherwise every registered subcommand."""
    parser = argparse.ArgumentParser(prog="ffnn", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    first = next((a for a in argv or () if not a.startswith("-")), None)
    wanted = [m for m in COMMAND_MODULES if first in COMMANDS.get(m, ())] or COMMAND_MODULES
    for name in wanted:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        result = args.func(args)
    except FFNNError as err:
        print(f"ffnn {args.command}: error: {err}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
