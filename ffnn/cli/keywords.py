"""Inputs of the flare forecast: ``sharp-keywords`` (JSOC) and ``flare-events`` (HEK).

Fetch a SHARP keyword table (keywords only, no export, no email)::

    ffnn sharp-keywords --start 2014-01-01 --end 2014-01-31 [--harpnum 3563,3604] [--cadence 1h] \\
        -o keywords.csv

Fetch the GOES flares of a time range (or of a table's records) from HEK as an event list::

    ffnn flare-events --table keywords.csv -o events.csv
"""

from __future__ import annotations

import argparse
import logging
import os

import pandas as pd

from ffnn.cli import add_command
from ffnn.util.errors import ConfigError

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    """Add ``sharp-keywords`` and ``flare-events`` to the top-level parser."""
    p = add_command(subparsers, "sharp-keywords", cmd_sharp_keywords,
                    "fetch a SHARP keyword table for a time range from JSOC",
                    outputs=("output",))
    p.add_argument("--start", required=True, help="first T_REC: ISO UTC (2014-01-01T00:00) or JSOC TAI form")
    p.add_argument("--end", required=True, help="last T_REC (included), same forms")
    p.add_argument("--harpnum", help="comma-separated HARP numbers (default: every HARP)")
    p.add_argument("--cadence", help="JSOC step between records, e.g. 1h, 12m, 1d (default: every 12-min record)")
    p.add_argument("--chunk-days", type=float, default=30.0,
                   help="longest time span of one JSOC query (default 30)")
    p.add_argument("-o", "--output", required=True, help="output CSV")
    net = p.add_argument_group("JSOC")
    net.add_argument("--jsoc-url", help="base URL of JSOC or a mirror (env JSOC_URL)")
    net.add_argument("--series", help="SHARP series (default hmi.sharp_cea_720s)")
    net.add_argument("--retries", type=int, help="retries after a network failure (default 4)")
    net.add_argument("--backoff", type=float, help="first retry delay in s, doubled each time (default 2)")

    e = add_command(subparsers, "flare-events", cmd_flare_events,
                    "fetch GOES flares from HEK as an event list (NCEI columns)",
                    inputs=("table",), outputs=("output",))
    e.add_argument("--table", help="keyword or summary table: fetch from its first T_REC to its last + --window")
    e.add_argument("--start", help="start: ISO UTC (2014-01-01T00:00) or JSOC TAI form, instead of --table")
    e.add_argument("--end", help="end, same forms, instead of --table")
    e.add_argument("--window", default="24h", help="forecast window added after the table's last record (default 24h)")
    e.add_argument("-o", "--output", required=True, help="output CSV")
    e.add_argument("--hek-url", help="HEK search URL (default LMSAL's, https://www.lmsal.com/hek/her?)")


def _harps(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(h) for h in text.split(",") if h.strip()]
    except ValueError as err:
        raise ConfigError(f"--harpnum {text!r} is not a comma-separated list of HARP numbers") from err


def cmd_sharp_keywords(args: argparse.Namespace) -> int:
    """Ask JSOC (drms query(), keywords only) for the SHARP keywords of every record in a time
    range, optionally of some HARPs and at a cadence; write them as a CSV keyword table
    for `ffnn classify`."""
    from ffnn.io import jsoc
    from ffnn.util.files import write_csv
    from ffnn.io.keywords import query_keywords

    overrides = {"url": args.jsoc_url or os.environ.get("JSOC_URL") or None, "series": args.series,
                 "retries": args.retries, "backoff_s": args.backoff}
    settings = jsoc.JsocSettings.from_mapping({}, **overrides)
    start, end = jsoc.parse_time(args.start, "--start"), jsoc.parse_time(args.end, "--end")
    table = query_keywords(start, end, settings, harps=_harps(args.harpnum), cadence=args.cadence,
                           chunk_days=args.chunk_days)
    write_csv(table, args.output)
    log.info("sharp-keywords: %d records of %d HARPs -> %s", len(table),
             table["HARPNUM"].nunique() if len(table) else 0, args.output)
    if table.empty:
        log.warning("sharp-keywords: JSOC lists no record in %s .. %s", args.start, args.end)
    return 0


def cmd_flare_events(args: argparse.Namespace) -> int:
    """Ask the Heliophysics Event Knowledgebase for the GOES flares of a time range (or of the
    records of a table plus the forecast window) and write them in the NOAA/NCEI event-
    list format that `ffnn classify --events` reads. Needs network and sunpy's net
    extras (dependencies of ffnn)."""
    from ffnn.forecast import labels
    from ffnn.io.keywords import read_table, records

    if args.table:
        if args.start or args.end:
            raise ConfigError("give --table or --start/--end, not both")
        times = records(read_table(args.table))["time"].dropna()
        if times.empty:
            raise ConfigError(f"table {args.table} has no readable T_REC")
        start, end = times.min(), times.max() + labels.window_timedelta(args.window)
    elif args.start and args.end:
        from ffnn.util.times import parse_time

        start, end = (pd.Timestamp(parse_time(text, option).utc.to_datetime(), tz="UTC")
                      for text, option in ((args.start, "--start"), (args.end, "--end")))
    else:
        raise ConfigError("give --table, or --start and --end")
    events = labels.fetch_hek_events(start, end, url=args.hek_url)
    labels.write_events(events, args.output)
    log.info("flare-events: %d GOES flares %s .. %s -> %s", len(events), f"{start:%Y-%m-%dT%H:%M}",
             f"{end:%Y-%m-%dT%H:%M}", args.output)
    return 0
