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
    "ffnn.commands.keywords",
    "ffnn.commands.products",
    "ffnn.commands.derived",
    "ffnn.commands.series",
)
# Which module registers which subcommand, so that one command imports only its own
# module: sklearn (classify) or drms (sharp) cost seconds that every Snakemake job paid.
COMMANDS = {
    "ffnn.commands.core": ("lowlou", "faces", "bottom", "potential", "train", "cube", "metrics"),
    "ffnn.commands.sharp": ("resolve", "fetch-sharp", "boundary"),
    "ffnn.commands.classify": ("classify",),
    "ffnn.commands.keywords": ("sharp-keywords", "flare-events"),
    "ffnn.commands.products": ("figures", "summary-row", "summary", "lowlou-table"),
    "ffnn.commands.derived": ("derived", "export"),
    "ffnn.commands.series": ("series-records", "snapshot-record", "series"),
}


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
