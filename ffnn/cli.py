"""The ``ffnn`` command line: one subcommand per pipeline step.

Each command group lives in its own module exposing ``register(subparsers)``; every
subcommand sets ``func`` on its parser, called with the parsed arguments. Errors a user
can fix (``FFNNError``) are printed as one line naming the cause, with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from ffnn.errors import FFNNError

COMMAND_MODULES = (
    "ffnn.commands.core",
    "ffnn.commands.sharp",
    "ffnn.commands.classify",
    "ffnn.commands.products",
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="ffnn", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    parser = build_parser()
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
