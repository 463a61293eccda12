"""Subcommands that turn a region's files into the workflow's products (rules in
workflow/rules/products.smk).

``figures``
    the five PNG figures of a region (bottom boundary observed vs model, field lines on
    the xy plane and in 3-D, height profiles, loss curve);
``summary-row``
    one region's summary row (JSON) from train.json, quality.json, the height profiles
    and, for a SHARP region, the record JSON of ``ffnn resolve``;
``summary``
    rows of many regions gathered into summary.tsv / summary.nc / summary.json;
``failures``
    after a run in which jobs failed (the Snakefile's ``onerror``): the reason of each,
    one line per failed job, from the logs (:mod:`ffnn.pipeline.failures`).
"""

from __future__ import annotations

import logging

from ffnn.cli import add_command
from ffnn.cli.options import positive_int
from ffnn.util.errors import ConfigError, DataError

log = logging.getLogger("ffnn")


def register(subparsers) -> None:
    """Add this group's subcommands to the top-level parser."""
    p = add_command(subparsers, "figures", cmd_figures, "figures of one region (PNG)",
                    inputs=("boundary", "cube", "profiles", "loss", "reference"), outputs=("outdir",))
    p.add_argument("--boundary", required=True, help="bottom map (boundary.nc) with the observed field")
    p.add_argument("--cube", required=True, help="model cube (cube.nc)")
    p.add_argument("--profiles", required=True, help="height profiles (profiles.nc)")
    p.add_argument("--loss", required=True, help="loss history (loss.csv of ffnn train)")
    p.add_argument("--reference", help="reference cube: its field lines are drawn dashed beside the model's")
    p.add_argument("--region", default="", help="region name for the titles")
    p.add_argument("--lines", type=int, default=30, help="number of field lines (default 30)")
    p.add_argument("--dpi", type=positive_int, default=110)
    p.add_argument("--outdir", required=True, help="directory for the PNG files")

    p = add_command(subparsers, "summary-row", cmd_summary_row, "one region's summary row (JSON)",
                    inputs=("train", "quality", "profiles", "record", "reference", "potential_reference",
                            "derived"), outputs=("output",))
    p.add_argument("--region", required=True, help="region id")
    p.add_argument("--train", required=True, help="train.json written by ffnn train")
    p.add_argument("--quality", required=True, help="quality JSON of the model (ffnn quality)")
    p.add_argument("--profiles", help="profiles.nc (whole-cube divergence- and force-free factors)")
    p.add_argument("--record", help="SHARP record JSON (ffnn resolve -o): identifiers and keywords")
    p.add_argument("--reference", help="JSON of ffnn metrics: the model against a reference field")
    p.add_argument("--potential-reference", help="JSON of ffnn metrics: the potential field against the reference")
    p.add_argument("--derived", help="derived.nc of ffnn derived: twist and squashing-factor columns")
    p.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                   help="extra value for the row (YAML value), e.g. noaa=11158 or lowlou_n=1")
    p.add_argument("-o", "--output", required=True, help="row JSON")

    p = add_command(subparsers, "summary", cmd_summary, "gather summary rows into the summary table",
                    inputs=("rows",), outputs=("tsv", "nc", "json", "checks"))
    p.add_argument("rows", nargs="+", help="row JSON files (ffnn summary-row)")
    p.add_argument("--tsv", help="tab-separated table")
    p.add_argument("--nc", help="NetCDF table (dim region, units as attributes)")
    p.add_argument("--json", help="JSON with every row and its details")
    p.add_argument("--checks", help="table of every region's trust checks (TSV), for the report")

    p = add_command(subparsers, "failures", cmd_failures,
                    "why the jobs of a run failed: one line per failed job, from the logs")
    p.add_argument("names", nargs="*", help="regions and series of the run (their logs: LOGS/<name>/)")
    p.add_argument("--logs", default="logs", help="the workflow's log directory (default: logs)")
    p.add_argument("--checks", metavar="CHECKS_TSV", help="instead, the regions whose trust checks failed, "
                   "from this table (results/checks.tsv)")


def cmd_figures(args) -> int:
    """Bottom boundary observed vs model, field lines (xy projection and 3-D), height profiles
    and loss curve of a region."""
    from ffnn.field.boundary import read_map
    from ffnn.field.cube import check_same_grid, read_cube
    from ffnn.products.figures import check_map_covers, check_profiles, read_loss, region_figures
    from ffnn.util.files import check_output_dir, read_dataset

    if args.lines < 0:
        raise ConfigError(f"--lines must be >= 0, got {args.lines}")
    check_output_dir(args.outdir, "--outdir")
    bottom = read_map(args.boundary)
    cube = read_cube(args.cube)
    check_map_covers(bottom, cube, f"--boundary {args.boundary}")
    reference = read_cube(args.reference, "--reference") if args.reference else None
    if reference is not None:
        check_same_grid(cube, reference, f"--reference {args.reference}", of="the cube's ")
    profiles = read_dataset(args.profiles, "height profiles")
    check_profiles(profiles, f"--profiles {args.profiles}", cube)
    history = read_loss(args.loss)
    written = region_figures(bottom, cube, profiles, history, args.outdir, reference=reference,
                             region=args.region, lines=args.lines, dpi=args.dpi)
    for path in written:
        log.info("wrote %s", path)
    return 0


def cmd_summary_row(args) -> int:
    from ffnn.util.files import check_output, read_dataset
    from ffnn.util.settings import assignments
    from ffnn.products.summary import read_kind, region_row, write_row

    check_output(args.output, "-o")
    train = read_kind(args.train, "train", "--train")
    quality = read_kind(args.quality, "quality", "--quality")
    record = read_kind(args.record, "record", "--record") if args.record else None
    reference = read_kind(args.reference, "metrics", "--reference") if args.reference else None
    pf = read_kind(args.potential_reference, "metrics", "--potential-reference") if args.potential_reference else None
    profiles = read_dataset(args.profiles, "height profiles") if args.profiles else None
    derived = read_dataset(args.derived, "--derived") if args.derived else None
    if derived is not None:
        from ffnn.analysis.derived import SUMMARY
        from ffnn.analysis.quality import box_mismatch

        missing = [name for name in SUMMARY if name not in derived]
        if missing:
            raise DataError(f"--derived {args.derived} is not the derived.nc of 'ffnn derived': it lacks "
                            f"{', '.join(missing)}")
        off = box_mismatch(derived, train.get("box") or {})
        if off:
            c, lo, hi, vlo, vhi = off
            raise DataError(f"--derived {args.derived} was made from another cube: its {c} spans "
                            f"[{vlo:g}, {vhi:g}], the training box of --train {args.train} [{lo:g}, {hi:g}]")
    row = region_row(args.region, train=train, quality=quality, record=record, profiles=profiles,
                     reference=reference, potential_reference=pf, meta=assignments(args.meta, "--meta"), derived=derived)
    write_row(row, args.output)
    log.info("wrote %s", args.output)
    return 0


def cmd_summary(args) -> int:
    from ffnn.products.summary import read_row, write_summary

    from ffnn.util.files import check_output

    if not (args.tsv or args.nc or args.json or args.checks):
        raise ConfigError("give at least one of --tsv, --nc, --json, --checks")
    for option in ("tsv", "nc", "json", "checks"):  # all of them, before the first is written
        if getattr(args, option):
            check_output(getattr(args, option), f"--{option}")
    rows = [read_row(p) for p in args.rows]
    table = write_summary(rows, tsv=args.tsv, nc=args.nc, json_path=args.json, checks=args.checks)
    outputs = (args.tsv, args.nc, args.json, args.checks)
    log.info("summary of %d region(s): %s", len(table), ", ".join(p for p in outputs if p))
    for row in rows:
        if row.get("flags", "none") != "none":
            log.warning("%s: failed check(s): %s", row["region"], row["flags"])
    return 0


def cmd_failures(args) -> int:
    """Print why each failed job of a workflow run failed: the error line that ends its log
    (``ffnn <command>: error: ...``, or a traceback's last line), one line per job, and
    how to gather the summary of the regions that finished; with ``--checks``, the regions
    whose trust checks failed instead. When no log ends in an error,
    one line on stderr says so. Exits 0 after reporting (the run's own status stands); a
    log directory that is not one, or names none of which has logs, are refused (2)."""
    from ffnn.pipeline.failures import failed_checks, failed_jobs

    if args.checks:
        from ffnn.products.summary import BUDGET_CHECK

        regions = failed_checks(args.checks)
        if regions:
            print(f"ffnn: trust checks failed in {len(regions)} region(s); see {args.checks} and the report:")
            for region, checks in regions:
                print(f"  {region}: {', '.join(checks)}")
        else:
            log.info("every trust check in %s passed", args.checks)
        capped = [region for region, checks in regions if BUDGET_CHECK in checks]
        if capped:
            print(f"ffnn: training stopped by its time budget (train.time_budget_s), not at max_iterations, in "
                  f"{', '.join(capped)}: a busier or slower machine gives another field; rerun where it "
                  "reaches max_iterations, or raise time_budget_s")
        return 0
    failed = failed_jobs(args.logs, args.names)
    if failed:
        print(f"ffnn: {len(failed)} job(s) failed; the last error line of each log:")
        for log_path, reason in failed:
            print(f"  {log_path}: {reason}")
        print("ffnn: the summary needs every region of the sheet; to gather those that finished: "
              "ffnn summary results/*/row.json --tsv summary_partial.tsv")
    return 0
