"""Subcommands of the SHARP stage (rules in workflow/rules/sharp.smk): ``resolve``,
``fetch-sharp``.

``resolve`` finds the record at JSOC, or reads it from the headers of FITS files already on
disk (``--sharp-dir``); ``fetch-sharp`` downloads the record ``resolve`` wrote
(``--record``), or resolves one itself. ``ffnn boundary`` (:mod:`ffnn.cli.model`)
then turns the record's files into the bottom map.

Settings come, highest priority first, from the command line, the environment
(``JSOC_EMAIL``, ``JSOC_URL``), the ``jsoc:`` section of a YAML file given with
``--config``, and the defaults of :class:`ffnn.io.jsoc.JsocSettings`. Config example::

    jsoc:
      url: http://jsoc.stanford.edu/
      email: someone@example.org
      tolerance: 1h          # or tolerance_s: 3600
      quality: warn          # or fail
      retries: 4
      backoff_s: 2
      busy_timeout_s: 900    # how long to wait out JSOC's "try later" (status 7)
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from ffnn.io import jsoc, sharp
from ffnn.cli import add_command
from ffnn.util.errors import ConfigError
from ffnn.util.files import check_output_dir
from ffnn.util.settings import gather

log = logging.getLogger(__name__)


def jsoc_settings(args) -> jsoc.JsocSettings:
    """JsocSettings from ``args`` (command line) over environment over ``--config``."""
    section = gather(args.config, "jsoc", whole=False, url=os.environ.get("JSOC_URL") or None,
                     email=os.environ.get("JSOC_EMAIL") or None)
    tolerance = jsoc.parse_duration(args.tolerance) if args.tolerance is not None else None
    return jsoc.JsocSettings.from_mapping(
        section, url=args.jsoc_url, email=args.email, series=args.series,
        harp_series=args.harp_series, tolerance_s=tolerance, quality=args.quality,
        retries=args.retries, backoff_s=args.backoff, poll_s=args.poll,
        busy_timeout_s=args.busy_timeout)


def _add_jsoc_options(p: argparse.ArgumentParser, *, need_email: bool) -> None:
    who = p.add_argument_group("record")
    who.add_argument("--noaa", type=int, help="NOAA active-region number, e.g. 11158")
    who.add_argument("--harpnum", type=int, help="HARP number (skips the NOAA lookup)")
    who.add_argument("--time",
                     help="time: ISO UTC (2011-02-14T20:00; Z or +00:00 allowed) or JSOC TAI form "
                     "(2011.02.14_20:00:00_TAI)")
    who.add_argument("--tolerance", help="largest |T_REC - time| accepted, e.g. 1h, 30min "
                     "(default 1h)")
    net = p.add_argument_group("JSOC")
    net.add_argument("--jsoc-url", help="base URL of JSOC or a mirror (default "
                     f"{jsoc.DEFAULT_URL}; env JSOC_URL)")
    if need_email:
        net.add_argument("--email", help="export email registered at JSOC (env JSOC_EMAIL)")
    net.add_argument("--series", help=f"SHARP data series (default {jsoc.SHARP_SERIES})")
    net.add_argument("--harp-series", help="series searched for NOAA_ARS "
                     f"(default {jsoc.HARP_SERIES})")
    net.add_argument("--quality", choices=jsoc.QUALITY_MODES,
                     help="what a nonzero QUALITY does (default warn)")
    net.add_argument("--retries", type=int, help="extra attempts on network errors (default 4)")
    net.add_argument("--backoff", type=float, help="first retry delay in s, doubling (default 2)")
    net.add_argument("--poll", type=float, help="export status poll interval in s (default 5)")
    net.add_argument("--busy-timeout", type=float,
                     help="how long to keep requesting an export JSOC answers with 'try "
                     "later' (status 7), in s (default 900)")
    p.add_argument("--config", help="YAML file: its 'jsoc:' section, or JSOC settings at the top level")
    if not need_email:
        p.set_defaults(email=None)


def _check_who(args) -> None:
    if args.noaa is None and args.harpnum is None:
        raise ConfigError("give --noaa (NOAA region number) or --harpnum")
    if args.time is None:
        raise ConfigError("give --time (UTC, e.g. 2011-02-14T20:00)")


def _print_record(rec: jsoc.SharpRecord) -> None:
    head = f"NOAA {rec.noaa} -> HARP {rec.harpnum}" if rec.noaa else f"HARP {rec.harpnum}"
    print(head)
    print(f"HARPNUM  {rec.harpnum}")
    print(f"T_REC    {rec.t_rec}  ({rec.t_rec_utc[:19]} UTC)")
    print(f"QUALITY  {'unknown' if rec.quality is None else f'0x{rec.quality:08x}'}")
    for key, value in rec.keywords.items():
        if key not in ("HARPNUM", "T_REC", "QUALITY"):
            print(f"{key:<8} {value}")


def cmd_resolve(args) -> int:
    """Find the HARP holding a NOAA region and the SHARP record nearest a time (at JSOC, or in
    the headers of the FITS files of --sharp-dir); print its keywords, and write it as JSON
    with -o."""
    _check_who(args)
    settings = jsoc_settings(args)
    t = jsoc.parse_time(args.time, "--time")
    if args.sharp_dir:
        rec = jsoc.resolve_local(args.sharp_dir, args.noaa, t, settings, harpnum=args.harpnum)
    else:
        rec = jsoc.resolve(args.noaa, t, settings, harpnum=args.harpnum)
    _print_record(rec)
    if args.output:
        jsoc.write_record(rec, args.output)
    return 0


def cmd_fetch_sharp(args) -> int:
    """Download the segments of the --record written by ffnn resolve (or of the record
    resolved from --noaa/--harpnum and --time) as FITS into --outdir, and the record beside
    them (sharp.json, written last); files already complete are not fetched again."""
    check_output_dir(args.outdir, "--outdir")
    settings = jsoc_settings(args)
    client = jsoc.make_client(settings)
    if args.record:
        if args.noaa is not None or args.harpnum is not None or args.time is not None:
            raise ConfigError("give --record, or --noaa/--harpnum with --time, not both")
        rec = jsoc.read_record(args.record)
    else:
        _check_who(args)
        rec = jsoc.resolve(args.noaa, jsoc.parse_time(args.time, "--time"), settings,
                           harpnum=args.harpnum, client=client)
    result = jsoc.fetch_sharp(rec, args.outdir, settings, segments=tuple(args.segments),
                              client=client)
    jsoc.write_record(rec, Path(args.outdir) / sharp.RECORD_JSON)
    print(f"{rec.label} {rec.t_rec}: {len(result.downloaded)} of {len(result.paths)} "
          f"file(s) downloaded into {args.outdir}")
    for seg, path in result.paths.items():
        print(f"{seg:<7} {path}")
    return 0


def register(subparsers) -> None:
    """Add this group's subcommands to the top-level parser."""
    p = add_command(subparsers, "resolve", cmd_resolve, "NOAA region + time -> HARP and SHARP record",
                    inputs=("sharp_dir", "config"), outputs=("output",))
    _add_jsoc_options(p, need_email=False)
    p.add_argument("--sharp-dir", help="directory with one record's FITS files (JSOC export "
                   "or as-is names): the record is read from their headers, JSOC is not asked")
    p.add_argument("-o", "--output", help="also write the record (harpnum, t_rec, quality, keywords) "
                   "as JSON to this file")

    p = add_command(subparsers, "fetch-sharp", cmd_fetch_sharp, "download a SHARP record's Br, Bp, Bt (+errors)",
                    inputs=("record", "config"), outputs=("outdir",))
    _add_jsoc_options(p, need_email=True)
    p.add_argument("--record", help="record JSON written by 'ffnn resolve -o': download "
                   "that record, with no second query")
    p.add_argument("--outdir", required=True, help=f"directory for the FITS files and the record "
                   f"({sharp.RECORD_JSON})")
    p.add_argument("--segments", nargs="+", default=list(jsoc.SEGMENTS),
                   choices=jsoc.SEGMENTS, metavar="SEG",
                   help=f"segments to fetch, from {' '.join(jsoc.SEGMENTS)} (default all six)")
