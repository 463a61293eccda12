"""Argparse types shared by the subcommands of the ``ffnn`` command line."""

from __future__ import annotations

import argparse


def int_at_least(least: int):
    """An argparse ``type``: an integer >= ``least``; anything else is refused by argparse
    in one line naming the option (a loop over ``range(0, n, step)`` with a step of 0 or
    less would fail, or do nothing, far from the option)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be an integer >= {least}, not {value}")
        return value

    parse.__name__ = f"integer >= {least}"
    return parse


#: An argparse ``type`` for counts and sizes that must be positive (``--chunk``, ``--dpi``).
positive_int = int_at_least(1)


def percent(fraction: float) -> str:
    """A fraction as a percentage for a log line: ``100.0 %``, ``6.3 %``, ``0.55 %``,
    ``0 %`` (``%.2g`` wrote 100 % as ``1e+02 %``); ``nan %`` for a NaN."""
    value = 100.0 * float(fraction)
    if value != value or value == 0:
        return f"{value:g} %"
    return f"{value:.1f} %" if abs(value) >= 1 else f"{value:.2g} %"
