"""Subcommands of time series (:mod:`ffnn.pipeline.series`; rules in workflow/rules/series.smk).

``series-records``
    the record list of a series: one keyword query to JSOC for every SHARP record of a
    region between two times at a cadence (``records.json``);
``snapshot-record``
    one snapshot's record from that list, written as ``ffnn resolve -o`` writes it
    (``resolve.json``): no second query;
``series``
    the snapshots' summary rows gathered into ``series.nc`` and the series figure, with
    the region's GOES flares from an event list.
"""

from __future__ import annotations

import logging

from ffnn.cli import add_command
from ffnn.cli.options import positive_int
from ffnn.util.errors import ConfigError, DataError

log = logging.getLogger("ffnn")


def register(subparsers) -> None:
    """Add this group's subcommands to the top-level parser."""
    p = add_command(subparsers, "series-records", cmd_series_records, "list the SHARP records of a time series",
                    inputs=("config",), outputs=("output",))
    who = p.add_argument_group("series")
    who.add_argument("--noaa", type=int, help="NOAA active-region number")
    who.add_argument("--harpnum", type=int, help="HARP number (skips the NOAA lookup)")
    who.add_argument("--start", required=True, help="first time: ISO UTC (2011-02-14T20:00; Z or +00:00 allowed) or JSOC TAI form ending _TAI")
    who.add_argument("--end", required=True, help="last time, same forms")
    who.add_argument("--cadence", default="12min",
                     help="time between snapshots, a multiple of 12 min (12min, 1h, 6h; default 12min)")
    who.add_argument("--name", help="series id (default ar<noaa>_<start>_<end>)")
    net = p.add_argument_group("JSOC")
    net.add_argument("--jsoc-url", help="base URL of JSOC or a mirror (env JSOC_URL)")
    net.add_argument("--series", help="SHARP data series (default hmi.sharp_cea_720s)")
    net.add_argument("--harp-series", help="series searched for NOAA_ARS (default hmi.sharp_720s)")
    net.add_argument("--tolerance", help="window around start for the NOAA -> HARP lookup (default 1h)")
    net.add_argument("--quality", choices=("warn", "fail"),
                     help="a record with nonzero QUALITY: kept with a warning, or left out (default warn)")
    net.add_argument("--retries", type=int, help="extra attempts on network errors (default 4)")
    net.add_argument("--backoff", type=float, help="first retry delay in s, doubling (default 2)")
    net.add_argument("--poll", type=float, help="unused here (accepted like ffnn resolve's)")
    net.add_argument("--busy-timeout", type=float, help="unused here (accepted like ffnn resolve's)")
    p.add_argument("--config", help="YAML file: its 'jsoc:' section, or JSOC settings at the top level")
    p.add_argument("-o", "--output", required=True, help="the record list to write (records.json)")
    p.set_defaults(email=None)

    p = add_command(subparsers, "snapshot-record", cmd_snapshot_record,
                    "one snapshot's record from a series' record list", inputs=("records",), outputs=("output",))
    p.add_argument("records", help="record list (records.json of ffnn series-records)")
    p.add_argument("--snapshot", required=True,
                   help="the snapshot: its T_REC stamp (20110214_200000_TAI) or region id")
    p.add_argument("-o", "--output", required=True, help="record JSON to write (resolve.json)")

    p = add_command(subparsers, "series", cmd_series, "gather a series' snapshots into series.nc and its figure",
                    inputs=("rows", "records", "flares"), outputs=("nc", "figure"))
    p.add_argument("rows", nargs="+", help="row JSON files of the snapshots (ffnn summary-row)")
    p.add_argument("--records", required=True, help="the series' record list (records.json)")
    p.add_argument("--nc", required=True, help="series.nc to write")
    p.add_argument("--figure", help="PNG of the quantities against time")
    p.add_argument("--flares", help="GOES event list (CSV, NOAA/NCEI layout) whose flares of the "
                   "region are marked on the figure")
    p.add_argument("--dpi", type=positive_int, default=110)


def cmd_series_records(args) -> int:
    """List every SHARP record of a region between two times at a cadence, with one keyword
    query to JSOC (records.json)."""
    from ffnn.io import jsoc
    from ffnn.cli.sharp import jsoc_settings
    from ffnn.pipeline.regions import parse_cadence
    from ffnn.pipeline.series import query_records, write_records

    if args.noaa is None and args.harpnum is None:
        raise ConfigError("give --noaa (NOAA region number), --harpnum, or both")
    settings = jsoc_settings(args)
    cadence = parse_cadence(args.cadence, "--cadence")
    doc = query_records(settings, noaa=args.noaa, harpnum=args.harpnum,
                        start=jsoc.parse_time(args.start, "--start"), end=jsoc.parse_time(args.end, "--end"),
                        cadence_s=cadence, name=args.name)
    write_records(doc, args.output)
    records = doc["records"]
    who = f"NOAA {doc['noaa']} (HARP {doc['harpnum']})" if doc["noaa"] else f"HARP {doc['harpnum']}"
    print(f"series {doc['series']}: {who}, {len(records)} record(s) every {cadence / 60:g} min from "
          f"{records[0]['t_rec']} to {records[-1]['t_rec']} ({doc['query']})")
    for skipped in doc["skipped"]:
        print(f"  left out {skipped['t_rec']}: {skipped['reason']}")
    return 0


def cmd_snapshot_record(args) -> int:
    """Write one record of a series' record list as 'ffnn resolve -o' writes a record: no
    second query."""
    from ffnn.io import jsoc
    from ffnn.pipeline.series import read_records, snapshot_record

    rec = jsoc.SharpRecord.from_dict(snapshot_record(read_records(args.records), args.snapshot))
    jsoc.write_record(rec, args.output)
    print(f"{rec.label} {rec.t_rec} ({rec.t_rec_utc[:19]} UTC), QUALITY "
          f"{'unknown' if rec.quality is None else f'0x{rec.quality:08x}'}: {args.output}")
    return 0


def cmd_series(args) -> int:
    """Gather the summary rows of a series' snapshots into series.nc (time x quantity) and
    draw them against time."""
    from ffnn.pipeline.series import read_records, series_dataset, snapshot_ids, write_series
    from ffnn.products.summary import read_row

    doc = read_records(args.records)
    rows = {}
    for path in args.rows:
        row = read_row(path)
        rows[row["region"]] = row
    ids = snapshot_ids(doc)
    missing = [i for i in ids if i not in rows]
    if missing:
        raise DataError(f"series {doc['series']}: no summary row for snapshot(s) {missing}")
    extra = sorted(set(rows) - set(ids))
    if extra:
        raise DataError(f"series {doc['series']}: row(s) of other regions given: {extra}")
    records = doc["records"]
    ds = series_dataset([rows[i] for i in ids], [r["t_rec_utc"] for r in records],
                        warm=[k > 0 for k in range(len(ids))], snapshots=ids,
                        t_rec=[r["t_rec"] for r in records],
                        attrs={"title": f"ffnn time series {doc['series']}", "series": doc["series"],
                               "noaa": doc.get("noaa"), "harpnum": doc["harpnum"],
                               "cadence_s": doc["cadence_s"], "jsoc_query": doc["query"]})
    write_series(ds, args.nc)
    log.info("wrote %s (%d snapshots)", args.nc, len(ids))
    if args.figure:
        from ffnn.products.series_figure import plot_series, region_flares

        flares = None
        if args.flares:
            flares = region_flares(args.flares, noaa_numbers(doc), doc["start_utc"], doc["end_utc"])
            log.info("%d flare(s) of NOAA %s in %s", len(flares), noaa_numbers(doc), args.flares)
        who = f"NOAA {doc['noaa']} (HARP {doc['harpnum']})" if doc.get("noaa") else f"HARP {doc['harpnum']}"
        plot_series({"ffnn": ds}, args.figure, flares=flares, dpi=args.dpi,
                    title=f"{who}: {len(ids)} snapshots, {records[0]['t_rec_utc'][:16]} to "
                          f"{records[-1]['t_rec_utc'][:16]} UTC")
        log.info("wrote %s", args.figure)
    return 0


def noaa_numbers(doc: dict) -> list[int]:
    """Every NOAA region of a series: the one asked for and those its HARP lists (NOAA_ARS)."""
    from ffnn.io.jsoc import noaa_list

    numbers = {int(doc["noaa"])} if doc.get("noaa") else set()
    for rec in doc["records"]:
        numbers.update(noaa_list((rec.get("keywords") or {}).get("NOAA_ARS")))
    return sorted(n for n in numbers if n > 0)
