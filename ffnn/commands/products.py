"""Subcommands that turn a region's files into the workflow's products.

``figures``
    the five PNG figures of a region (bottom boundary observed vs model, field lines on
    the xy plane and in 3-D, height profiles, loss curve);
``summary-row``
    one region's summary row (JSON) from train.json, the metrics JSON, the height profiles
    and, for a SHARP region, the record JSON of ``ffnn resolve``;
``summary``
    rows of many regions gathered into summary.tsv / summary.nc / summary.json;
``lowlou-table``
    the Low & Lou benchmark table (Markdown) from the rows of the benchmark regions.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ffnn.errors import ConfigError, DataError

log = logging.getLogger("ffnn")


def register(subparsers) -> None:
    """Add this group's subcommands to the top-level parser."""
    p = subparsers.add_parser("figures", help="figures of one region (PNG)",
                              description="Bottom boundary observed vs model, field lines (xy "
                              "projection and 3-D), height profiles and loss curve of a region.")
    p.add_argument("--boundary", required=True, help="bottom map (boundary.nc) with the observed field")
    p.add_argument("--cube", required=True, help="model cube (cube.nc)")
    p.add_argument("--profiles", required=True, help="height profiles (profiles.nc)")
    p.add_argument("--loss", required=True, help="loss history (loss.csv of ffnn train)")
    p.add_argument("--reference", help="reference cube: its field lines are drawn dashed beside the model's")
    p.add_argument("--region", default="", help="region name for the titles")
    p.add_argument("--lines", type=int, default=30, help="number of field lines (default 30)")
    p.add_argument("--dpi", type=int, default=110)
    p.add_argument("-o", "--outdir", required=True, help="directory for the PNG files")
    p.set_defaults(func=cmd_figures)

    p = subparsers.add_parser("summary-row", help="one region's summary row (JSON)")
    p.add_argument("--region", required=True, help="region id")
    p.add_argument("--train", required=True, help="train.json written by ffnn train")
    p.add_argument("--quality", required=True, help="metrics JSON of the model (ffnn metrics --potential)")
    p.add_argument("--profiles", help="profiles.nc (whole-cube divergence- and force-free factors)")
    p.add_argument("--record", help="SHARP record JSON (ffnn resolve --json): identifiers and keywords")
    p.add_argument("--reference", help="metrics JSON of the model against a reference field")
    p.add_argument("--potential-reference", help="metrics JSON of the potential field against the reference")
    p.add_argument("--derived", help="derived.nc of ffnn derived: twist and squashing-factor columns")
    p.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                   help="extra value for the row (YAML value), e.g. noaa=11158 or lowlou_n=1")
    p.add_argument("-o", "--output", required=True, help="row JSON")
    p.set_defaults(func=cmd_summary_row)

    p = subparsers.add_parser("summary", help="gather summary rows into the summary table")
    p.add_argument("rows", nargs="+", help="row JSON files (ffnn summary-row)")
    p.add_argument("--tsv", help="tab-separated table")
    p.add_argument("--nc", help="NetCDF table (dim region, units as attributes)")
    p.add_argument("--json", help="JSON with every row and its details")
    p.add_argument("--checks", help="table of every region's trust checks (TSV), for the report")
    p.set_defaults(func=cmd_summary)

    p = subparsers.add_parser("lowlou-table", help="Low & Lou benchmark table (Markdown)")
    p.add_argument("rows", nargs="+", help="row JSON files of the benchmark regions")
    p.add_argument("-o", "--output", required=True, help="Markdown file")
    p.set_defaults(func=cmd_lowlou_table)


def _open(path, what: str):
    import xarray as xr

    try:
        return xr.load_dataset(path)
    except FileNotFoundError as err:
        raise DataError(f"{what} {path} does not exist") from err
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read {what} {path}: {err}") from err


def cmd_figures(args) -> int:
    from ffnn.cube import read_cube
    from ffnn.figures import read_loss, region_figures

    if args.lines < 0:
        raise ConfigError(f"--lines must be >= 0, got {args.lines}")
    bottom = _open(args.boundary, "bottom map")
    if "x" not in bottom.dims or "y" not in bottom.dims:
        raise DataError(f"{args.boundary} is not a bottom map (needs Bx, By, Bz on x, y)")
    cube = read_cube(args.cube)
    reference = read_cube(args.reference) if args.reference else None
    profiles = _open(args.profiles, "height profiles")
    history = read_loss(args.loss)
    written = region_figures(bottom, cube, profiles, history, args.outdir, reference=reference,
                             region=args.region, lines=args.lines, dpi=args.dpi)
    for path in written:
        log.info("wrote %s", path)
    return 0


def _meta(items) -> dict:
    import yaml

    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--meta expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            parsed = value
        # times and other YAML types stay text, so the row remains plain JSON
        plain = (type(None), bool, int, float, str, list, dict)
        out[key.strip()] = parsed if isinstance(parsed, plain) else value
    return out


def cmd_summary_row(args) -> int:
    from ffnn.summary import read_json, region_row, write_row

    train = read_json(args.train, "training record")
    quality = read_json(args.quality, "metrics file")
    record = read_json(args.record, "SHARP record file") if args.record else None
    reference = read_json(args.reference, "metrics file") if args.reference else None
    pf = read_json(args.potential_reference, "metrics file") if args.potential_reference else None
    profiles = _open(args.profiles, "height profiles") if args.profiles else None
    derived = _open(args.derived, "derived products") if args.derived else None
    row = region_row(args.region, train=train, quality=quality, record=record, profiles=profiles,
                     reference=reference, potential_reference=pf, meta=_meta(args.meta), derived=derived)
    write_row(row, args.output)
    log.info("wrote %s", args.output)
    return 0


def cmd_summary(args) -> int:
    from ffnn.summary import read_row, write_summary

    if not (args.tsv or args.nc or args.json or args.checks):
        raise ConfigError("give at least one of --tsv, --nc, --json, --checks")
    rows = [read_row(p) for p in args.rows]
    table = write_summary(rows, tsv=args.tsv, nc=args.nc, json_path=args.json, checks=args.checks)
    outputs = (args.tsv, args.nc, args.json, args.checks)
    log.info("summary of %d region(s): %s", len(table), ", ".join(p for p in outputs if p))
    for row in rows:
        if row.get("flags", "none") != "none":
            log.warning("%s: failed check(s): %s", row["region"], row["flags"])
    return 0


def cmd_lowlou_table(args) -> int:
    from ffnn.summary import lowlou_table, read_row, write_text

    rows = [read_row(p) for p in args.rows]
    write_text(lowlou_table(rows), args.output)
    log.info("wrote %s", Path(args.output))
    return 0
