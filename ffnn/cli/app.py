"""The ``ffnn`` command line: one subcommand per pipeline step.

Each command group lives in its own module exposing ``register(subparsers)``, which adds
its subcommands with :func:`add_command`; a subcommand's function is called with the
parsed arguments. Errors a user can fix (``FFNNError``) are printed as one line naming the
cause, with exit status 2. Output options are named alike: ``-o/--output`` for a file,
``--outdir`` for a directory. A command run again on the work it has done (same arguments,
unchanged inputs, its outputs as it wrote them) finds it done and changes nothing
(:class:`ffnn.util.files.Done`; ``ffnn train`` finds a finished training itself).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import os
import sys
from pathlib import Path

from ffnn import __version__
from ffnn.util import files
from ffnn.util.errors import FFNNError

# Which module registers which subcommand, so that one command imports only its own
# module: sklearn (classify) or drms (sharp) cost seconds that every Snakemake job paid.
# The modules follow the rule files of workflow/rules/ (keywords: inputs of classify).
COMMANDS = {
    "ffnn.cli.lowlou": ("lowlou", "faces", "metrics", "lowlou-table"),
    "ffnn.cli.sharp": ("resolve", "fetch-sharp"),
    "ffnn.cli.model": ("boundary", "preprocess", "potential", "train", "cube", "quality"),
    "ffnn.cli.products": ("figures", "summary-row", "summary", "failures"),
    "ffnn.cli.derived": ("derived", "export"),
    "ffnn.cli.classify": ("classify",),
    "ffnn.cli.keywords": ("sharp-keywords", "flare-events"),
    "ffnn.cli.series": ("series-records", "snapshot-record", "series"),
}
COMMAND_MODULES = tuple(COMMANDS)


def add_command(subparsers, name: str, func, summary: str, inputs=(), outputs=()):
    """Add a subcommand to the ``ffnn`` parser.

    Parameters
    ----------
    subparsers : argparse subparsers action
        What ``parser.add_subparsers()`` returned (each command module's ``register``
        receives it).
    name : str
        The subcommand, e.g. ``"train"``.
    func : callable
        Runs the command: ``func(args)`` with the parsed arguments, returning the exit
        status (0 or None: success). Its docstring heads the command's ``--help``.
    summary : str
        Its line in ``ffnn --help``.
    inputs, outputs : tuple of str, optional
        The options (argument ``dest``) holding the paths it reads and writes. Run again
        with the same arguments on unchanged inputs while its outputs are as it wrote
        them, the command finds the work done and changes nothing (its
        :class:`ffnn.util.files.Done` record lies beside the first output given).

    Returns
    -------
    `argparse.ArgumentParser`
        The subcommand's parser, for its options.
    """
    parser = subparsers.add_parser(name, help=summary, description=inspect.getdoc(func) or summary)
    parser.set_defaults(func=func, inputs=tuple(inputs), outputs=tuple(outputs))
    return parser


def _done(args, argv) -> files.Done | None:
    """The record of this command's work (None: it declares or was given no output)."""
    given = [(dest, getattr(args, dest)) for dest in args.outputs if getattr(args, dest, None)]
    if not given:
        return None
    first = Path(given[0][1])
    stamp = first.with_name(f".{first.name}.ffnn-done")  # beside a directory too, not in it
    paths = []
    for dest in args.inputs:
        value = getattr(args, dest, None)
        paths += [str(v) for v in (value if isinstance(value, (list, tuple)) else [value]) if v]
    key = {"argv": list(argv), "cwd": os.getcwd(), "version": __version__, "inputs": files.fingerprint(paths)}
    return files.Done(stamp, key)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The top-level ``ffnn`` parser.

    Parameters
    ----------
    argv : list of str, optional
        The command line (without the program name). When it names a known subcommand,
        only that subcommand's module is imported (start-up time); otherwise every
        registered subcommand.

    Returns
    -------
    `argparse.ArgumentParser`
        The parser with the subcommands registered.
    """
    parser = argparse.ArgumentParser(prog="ffnn", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"ffnn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    first = next((a for a in argv or () if not a.startswith("-")), None)
    wanted = [m for m in COMMAND_MODULES if first in COMMANDS.get(m, ())] or COMMAND_MODULES
    for name in wanted:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``ffnn`` command line (the console script's entry point).

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default ``sys.argv[1:]``), e.g. ``["train", "boundary.nc",
        "--outdir", "train"]``.

    Returns
    -------
    int
        The exit status: 0 done (or found done), 1 a training that stopped without
        reason, 2 an error a user can fix (:class:`ffnn.util.errors.FFNNError`, printed
        as one line naming the region, file or setting).
    """
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        done = _done(args, argv)
        if done is not None and done.finished():
            logging.getLogger("ffnn").info("%s: outputs complete, made by the same command from the same inputs: "
                                           "nothing to do", args.command)
            return 0
        files.written(reset=True)
        result = args.func(args)
        if done is not None and not result:
            done.record(files.written())
    except FFNNError as err:
        print(f"ffnn {args.command}: error: {err}", file=sys.stderr)
        return 2
    return int(result or 0)

