"""Subcommands of the sharp stage: ``resolve``, ``fetch-sharp``, ``boundary``.

``resolve`` finds the record at JSOC, or reads it from the headers of FITS files already on
disk (``--sharp-dir``); ``fetch-sharp`` downloads the record ``resolve`` wrote
(``--record``), or resolves one itself; ``boundary`` turns one record's files into the
bottom map and prints its size, pixel, box and flux balance.

Settings come, highest priority first, from the command line, the environment
(``JSOC_EMAIL``, ``JSOC_URL``), the ``jsoc:`` and ``sharp:`` sections of a YAML file given
with ``--config``, and the defaults of :class:`ffnn.jsoc.JsocSettings` and
:mod:`ffnn.sharp`. Config example::

    jsoc:
      url: http://jsoc.stanford.edu/
      email: someone@example.org
      tolerance: 1h          # or tolerance_s: 3600
      quality: warn          # or fail
      retries: 4
      backoff_s: 2
      busy_timeout_s: 900    # how long to wait out JSOC's "try later" (status 7)
    sharp:
      bin: 2
      height_mm: 100
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from ffnn import jsoc, sharp
from ffnn.errors import ConfigError

log = logging.getLogger(__name__)

SHARP_KEYS = ("bin", "height_mm")


def _read_config(path) -> dict:
    if not path:
        return {}
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read config {path}: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} is not a mapping")
    for section in ("jsoc", "sharp"):
        if not isinstance(data.get(section) or {}, dict):
            raise ConfigError(f"config {path}: section '{section}' is not a mapping")
    return data


def jsoc_settings(args) -> jsoc.JsocSettings:
    """JsocSettings from ``args`` (command line) over environment over ``--config``."""
    section = dict(_read_config(getattr(args, "config", None)).get("jsoc") or {})
    for env, key in (("JSOC_URL", "url"), ("JSOC_EMAIL", "email")):
        if os.environ.get(env):
            section[key] = os.environ[env]
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
                     help="time in UTC, ISO (2011-02-14T20:00), or JSOC TAI form ending _TAI")
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
    p.add_argument("--config", help="YAML file with 'jsoc:' and 'sharp:' sections")
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
    """``ffnn resolve``: print (and optionally write as JSON) the SHARP record."""
    _check_who(args)
    settings = jsoc_settings(args)
    t = jsoc.parse_time(args.time)
    if args.sharp_dir:
        rec = jsoc.resolve_local(args.sharp_dir, args.noaa, t, settings, harpnum=args.harpnum)
    else:
        rec = jsoc.resolve(args.noaa, t, settings, harpnum=args.harpnum)
    _print_record(rec)
    if args.json:
        jsoc.write_json(rec, args.json)
    return 0


def cmd_fetch(args) -> int:
    """``ffnn fetch-sharp``: download the segments of the ``--record`` (or of the record
    resolved from ``--noaa``/``--harpnum`` and ``--time``) into ``--out``."""
    settings = jsoc_settings(args)
    client = jsoc.make_client(settings)
    if args.record:
        if args.noaa is not None or args.harpnum is not None or args.time is not None:
            raise ConfigError("give --record, or --noaa/--harpnum with --time, not both")
        rec = jsoc.read_json(args.record)
    else:
        _check_who(args)
        rec = jsoc.resolve(args.noaa, jsoc.parse_time(args.time), settings,
                           harpnum=args.harpnum, client=client)
    result = jsoc.fetch_record(rec, args.out, settings, segments=tuple(args.segments),
                               client=client)
    jsoc.write_json(rec, args.json or Path(args.out) / sharp.RECORD_JSON)
    print(f"{rec.label} {rec.t_rec}: {len(result.downloaded)} of {len(result.paths)} "
          f"file(s) downloaded into {args.out}")
    for seg, path in result.paths.items():
        print(f"{seg:<7} {path}")
    return 0


def cmd_boundary(args) -> int:
    """``ffnn boundary``: SHARP FITS directory → bottom map NetCDF."""
    cfg = dict(_read_config(args.config).get("sharp") or {})
    unknown = sorted(set(cfg) - set(SHARP_KEYS))
    if unknown:
        raise ConfigError(f"unknown sharp setting(s) {unknown}; known: {list(SHARP_KEYS)}")
    bin_factor = args.bin if args.bin is not None else cfg.get("bin", sharp.DEFAULT_BIN)
    height = args.height_mm if args.height_mm is not None else cfg.get("height_mm",
                                                                         sharp.DEFAULT_HEIGHT_MM)
    ds = sharp.boundary_from_dir(args.directory, bin_factor=bin_factor, height_mm=height,
                                 record=args.record)
    sharp.write_boundary(ds, args.output)
    _print_boundary(ds, args.output)
    return 0


def _print_boundary(ds, output) -> None:
    from ffnn.boundary import box_of_map

    a = ds.attrs
    noaa = a.get("NOAA", a.get("NOAA_ARS"))
    noaa = f" (NOAA {noaa})" if noaa is not None else ""
    box = box_of_map(ds)
    flux = sharp.flux_summary(ds)
    print(f"{output}: {sharp.record_name(a, 'SHARP record')}{noaa}")
    print(f"  map    {ds.sizes['x']} x {ds.sizes['y']} pixels (bin {a['bin_factor']}), "
          f"{a['nan_pixels']} not observed (NaN)")
    print(f"  pixel  {a['pixel_mm_x']:.4f} x {a['pixel_mm_y']:.4f} Mm")
    print(f"  box    {box['x_max'] - box['x_min']:.1f} x {box['y_max'] - box['y_min']:.1f} x "
          f"{box['z_max']:g} Mm (x ±{box['x_max']:.4g}, y ±{box['y_max']:.4g}, z 0 to "
          f"{box['z_max']:g}; l0 {a['l0_mm']:.4g} Mm)")
    print(f"  Bz     flux {flux['signed_mx']:.3e} Mx signed, {flux['unsigned_mx']:.3e} Mx "
          f"unsigned: imbalance {100 * flux['imbalance']:+.2f} %")


def register(subparsers) -> None:
    """Add this group's subcommands to the top-level parser."""
    p = subparsers.add_parser("resolve", help="NOAA region + time -> HARP and SHARP record",
                              description="Find the HARP holding a NOAA region and the SHARP "
                              "record nearest a time; print its keywords.")
    _add_jsoc_options(p, need_email=False)
    p.add_argument("--sharp-dir", help="directory with one record's FITS files (JSOC export "
                   "or as-is names): the record is read from their headers, JSOC is not asked")
    p.add_argument("--json", help="also write the record (harpnum, t_rec, quality, keywords) "
                   "as JSON to this file")
    p.set_defaults(func=cmd_resolve)

    p = subparsers.add_parser("fetch-sharp", help="download a SHARP record's Br, Bp, Bt (+errors)",
                              description="Resolve a SHARP record and download its segments "
                              "as FITS; files already complete are not fetched again.")
    _add_jsoc_options(p, need_email=True)
    p.add_argument("--record", help="record JSON written by 'ffnn resolve --json': download "
                   "that record, with no second query")
    p.add_argument("--out", required=True, help="directory for the FITS files")
    p.add_argument("--segments", nargs="+", default=list(jsoc.SEGMENTS),
                   choices=jsoc.SEGMENTS, metavar="SEG",
                   help=f"segments to fetch, from {' '.join(jsoc.SEGMENTS)} (default all six)")
    p.add_argument("--json", help=f"where to write the record JSON (default OUT/{sharp.RECORD_JSON})")
    p.set_defaults(func=cmd_fetch)

    p = subparsers.add_parser("boundary", help="SHARP FITS directory -> bottom map NetCDF",
                              description="Build the bottom boundary (Bx = Bp, By = -Bt, "
                              "Bz = Br, Mm coordinates) from one record's FITS files.")
    p.add_argument("directory", help="directory with one record's FITS files, "
                   "<record>.Br.fits or Br.fits (Bp, Bt, errors likewise)")
    p.add_argument("-o", "--output", required=True, help="output NetCDF (boundary.nc)")
    p.add_argument("--bin", type=int, help=f"bin factor, NaN-mean (default {sharp.DEFAULT_BIN})")
    p.add_argument("--height-mm", type=float,
                   help=f"box height in Mm (default {sharp.DEFAULT_HEIGHT_MM:g})")
    p.add_argument("--record", help="record JSON (resolve.json) whose keywords complete the "
                   f"headers' (default DIRECTORY/{sharp.RECORD_JSON} when present)")
    p.add_argument("--config", help="YAML file with a 'sharp:' section (bin, height_mm)")
    p.set_defaults(func=cmd_boundary)
