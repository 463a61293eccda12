"""Time series of one region: SHARP snapshots in a time range, trained as a warm-started chain.

A series names a region (a NOAA number, a HARP number, or both), a start, an end and a
cadence (a multiple of SHARP's 12 minutes). Its snapshots are the SHARP records JSOC holds
in that range, found with one keyword query, ``series[HARP][start-end@cadence]`` (keywords
only, no segments; when only the NOAA number is given, the HARP is looked up first), and
kept in a record list, ``records.json`` (:func:`query_records`, :func:`write_records`).

Each snapshot is then a region of the workflow with its own products, named
``<series>/<T_REC>`` (``ar11158_20110214T2000_20110215T0200/20110214_200000_TAI``). Its
training starts from the model of the snapshot before it (:func:`snapshot_settings`: same
network, the box of its own map, the warm-start training settings); the first one starts
cold. :func:`series_dataset` gathers the snapshots' summary rows into ``series.nc``
(dimension ``time``; CF-1.8, UDUNITS units); :mod:`ffnn.products.series_figure` draws it.

:func:`drifting_lowlou` is the offline series of the tests and benchmarks: Low & Lou
fields whose tilt (and depth) drift by a small step per snapshot, so that the exact field
is known at every step.
"""

from __future__ import annotations

import datetime
import logging
import math
from pathlib import Path

import numpy as np

from ffnn.util.errors import ConfigError, DataError
from ffnn.util.files import read_json, write_json, write_netcdf

log = logging.getLogger(__name__)

SHARP_CADENCE_S = 720.0
# T_REC in JSOC's {T_REC:A} form, as in export file names: 20110214_200000_TAI
STAMP_PATTERN = r"\d{8}_\d{6}_TAI"
RECORDS_KEYS = ("series", "harpnum", "cadence_s", "query", "records")

# series.nc variable -> (summary-row column, UDUNITS unit, long_name)
QUANTITIES = {
    "energy": ("energy_erg", "erg", "magnetic energy E = sum |B|^2/(8 pi) dV of the model"),
    "energy_pot": ("energy_pot_erg", "erg", "energy of the potential field with the same bottom Bz"),
    "free_energy": ("free_energy_erg", "erg", "free energy E - E_pot"),
    "e_over_epot": ("e_over_epot", "1", "E / E_pot"),
    "unsigned_flux": ("unsigned_flux_mx", "maxwell", "unsigned vertical flux through the bottom, sum |Bz| dA"),
    "total_unsigned_current": ("total_unsigned_current_a", "A",
                               "total unsigned vertical current through the bottom, sum |Jz| dA"),
    "sigma_j": ("sigma_j", "1", "current-weighted sine of the angle between J and B over the cube"),
    "mean_abs_fi": ("mean_abs_fi", "1", "mean fractional flux <|f_i|> (divergence of the model)"),
    "mean_abs_tw": ("mean_abs_tw", "1", "mean |Tw| of the field lines rooted at strong-field footpoints"),
    "wall_time": ("wall_time_s", "s", "training wall-clock time of the snapshot"),
}
# only written when a snapshot has it (twist comes from the derived products)
OPTIONAL = ("mean_abs_tw",)


# ---------------------------------------------------------------- names

def series_id(noaa: int | None, harpnum: int | None, start: datetime.datetime,
              end: datetime.datetime) -> str:
    """Id of a series: ``ar<noaa>_<start>_<end>`` (``harp<N>_…`` without a NOAA number),
    times as ``YYYYmmddTHHMM``."""
    who = f"ar{int(noaa)}" if noaa else f"harp{int(harpnum)}"
    return f"{who}_{start:%Y%m%dT%H%M}_{end:%Y%m%dT%H%M}"


def stamp(t_rec: str) -> str:
    """A snapshot's part of its region id: T_REC ``2011.02.14_20:00:00_TAI`` →
    ``20110214_200000_TAI`` (JSOC's ``{T_REC:A}`` form)."""
    return str(t_rec).replace(".", "").replace(":", "").replace("-", "")


def snapshot_ids(doc: dict) -> list[str]:
    """Region ids of a record list's snapshots, in time order."""
    return [f"{doc['series']}/{stamp(r['t_rec'])}" for r in doc["records"]]


def drms_step(seconds: float) -> str:
    """A cadence in DRMS's time-step form: ``12m``, ``1h``, ``6h``, ``1d``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


# ---------------------------------------------------------------- the record list

def nearest_slot(t, step_s: float = SHARP_CADENCE_S):
    """The time of SHARP's T_REC grid (``step_s`` slots from 00:00 TAI) nearest ``t`` (an
    astropy Time), on the TAI scale: a series asked to start at 14:00 UTC starts with the
    record of 14:00 TAI, 34 s before it (2011), not with the next one."""
    from astropy.time import Time, TimeDelta

    tai = t.tai
    midnight = Time(tai.strftime("%Y-%m-%dT00:00:00"), scale="tai")
    seconds = (tai - midnight).to_value("s")
    return midnight + TimeDelta(math.floor(seconds / step_s + 0.5) * step_s, format="sec")


def _keyword_rows(client, ds: str, keys, what: str, settings) -> list[dict]:
    """Keyword rows of record set ``ds`` (drms ``query``, retried as ffnn.io.jsoc does)."""
    import drms

    from ffnn.io import jsoc

    def run():
        return client.query(ds, key=",".join(keys), skip_conversion=list(jsoc.HEX_KEYWORDS))

    try:
        frame = jsoc.with_retries(run, what=what, settings=settings)
    except drms.DrmsQueryError as err:
        raise DataError(f"{what}: JSOC rejected query {ds}: {err}") from err
    except (ValueError, KeyError) as err:  # a body that is not the JSON drms expects
        raise DataError(f"{what}: unexpected JSOC answer to {ds}: {err}") from err
    return frame.to_dict(orient="records")


def query_records(settings, *, noaa: int | None = None, harpnum: int | None = None,
                  start, end, cadence_s: float = SHARP_CADENCE_S, client=None,
                  name: str | None = None) -> dict:
    """The record list of a series: every SHARP record of the region from the record slot
    nearest ``start`` up to ``end`` (astropy Times) at ``cadence_s``, from one keyword query.

    ``settings``: :class:`ffnn.io.jsoc.JsocSettings` (series, URL, retries, quality mode).
    Without ``harpnum`` the NOAA region's HARP is looked up near ``start``
    (:func:`ffnn.io.jsoc.find_harps`); a region split over several HARPs needs ``harpnum``.
    A record with a nonzero QUALITY is kept with a warning (quality ``warn``) or left
    out, with the reason, under ``skipped`` (``fail``). Returns a JSON-ready dict:
    ``series`` (``name`` or :func:`series_id`), ``noaa``, ``harpnum``, ``start_utc``,
    ``end_utc``, ``cadence_s``, ``query``, ``records`` (each as
    :meth:`ffnn.io.jsoc.SharpRecord.to_dict`, in time order) and ``skipped``.
    Raises ConfigError for a bad range or cadence, DataError when JSOC has no record.
    """
    from ffnn.io import jsoc

    if noaa is None and harpnum is None:
        raise ConfigError("a series needs a NOAA region number or a HARP number")
    if not cadence_s > 0 or cadence_s % SHARP_CADENCE_S:
        raise ConfigError(f"series cadence {cadence_s:g} s is not a multiple of SHARP's 12 min")
    if end <= start:
        raise ConfigError(f"series end {end.utc.isot[:19]} is not after its start {start.utc.isot[:19]}")
    client = client or jsoc.make_client(settings)
    if harpnum is None:
        harps = jsoc.find_harps(client, noaa, start, settings)
        if len(harps) > 1:
            raise DataError(f"NOAA {noaa} is in HARPs {harps} near {start.utc.isot[:19]} UTC: "
                            "name one in the series sheet's harpnum column")
        harpnum = harps[0]
    label = f"NOAA {noaa} (HARP {harpnum})" if noaa else f"HARP {harpnum}"
    ds = (f"{settings.series}[{harpnum}][{jsoc.jsoc_time(nearest_slot(start))}-{jsoc.jsoc_time(end)}"
          f"@{drms_step(cadence_s)}]")
    records, skipped = [], []
    for row in _keyword_rows(client, ds, jsoc.KEYWORDS, f"{label} series", settings):
        keywords = {str(k): _plain(v) for k, v in row.items()
                    if not (isinstance(v, str) and v.strip().lower() == "invalid keylink")}
        for key in jsoc.HEX_KEYWORDS:
            if key in keywords:
                keywords[key] = jsoc.parse_hex(keywords[key])
        rec = jsoc.SharpRecord(harpnum=int(keywords["HARPNUM"]), t_rec=str(keywords["T_REC"]),
                               quality=keywords.get("QUALITY"), keywords=keywords, noaa=noaa,
                               series=settings.series)
        rec.requested = rec.t_rec_utc
        if rec.quality:
            text = f"QUALITY 0x{rec.quality:08x}"
            if settings.quality == "fail":
                log.warning("%s: record %s left out of the series (%s; jsoc quality: fail)",
                            label, rec.t_rec, text)
                skipped.append({"t_rec": rec.t_rec, "reason": text})
                continue
            log.warning("%s: record %s has %s (kept: jsoc quality is warn)", label, rec.t_rec, text)
        records.append(rec)
    if not records:
        raise DataError(f"{label}: no SHARP record from {start.utc.isot[:19]} to "
                        f"{end.utc.isot[:19]} UTC (query {ds})"
                        + (f"; {len(skipped)} left out for their QUALITY" if skipped else ""))
    records.sort(key=lambda r: r.time)
    t0 = start.utc.to_datetime()
    t1 = end.utc.to_datetime()
    return {"series": name or series_id(noaa, harpnum, t0, t1), "noaa": noaa, "harpnum": harpnum,
            "start_utc": start.utc.isot, "end_utc": end.utc.isot, "cadence_s": float(cadence_s),
            "query": ds, "records": [r.to_dict() for r in records], "skipped": skipped}


def _plain(value):
    """A keyword value as a plain JSON scalar (numpy types unwrapped, NaN kept for to_dict)."""
    if isinstance(value, np.generic):
        value = value.item()
    return int(value) if isinstance(value, bool) else value


def write_records(doc: dict, path) -> Path:
    """Write a record list as JSON."""
    return write_json(doc, path)


def read_records(path) -> dict:
    """A record list written by :func:`write_records`; DataError naming the file if it is
    missing or not one."""
    doc = read_json(path, "record list")
    missing = [k for k in RECORDS_KEYS if k not in doc]
    if missing:
        raise DataError(f"{path} is not a series record list (no {', '.join(missing)})")
    return doc


def snapshot_record(doc: dict, snapshot: str) -> dict:
    """The record (as in ``records.json``) of a snapshot given by its stamp or region id."""
    wanted = snapshot.rsplit("/", 1)[-1]
    for rec in doc["records"]:
        if stamp(rec["t_rec"]) == wanted:
            return rec
    raise DataError(f"series {doc['series']} has no snapshot {wanted} "
                    f"({len(doc['records'])} record(s) listed)")


def snapshot_settings(entry: dict, doc: dict, snapshot: str, results: str = "results") -> dict:
    """The region-table entry of one snapshot of a series (see :mod:`ffnn.pipeline.regions`).

    ``entry``: the series' entry (:func:`ffnn.pipeline.regions.series_table`); ``doc``: its record
    list. The snapshot is a SHARP region read from JSOC (``sharp_dir`` None) with the
    series' bin, box height and training overrides; every snapshot but the first adds the
    warm-start settings (``entry["warm"]``) and names the model it starts from,
    ``init_model`` = ``<results>/<previous snapshot>/train/model.pt`` (None for the first).
    """
    rec = snapshot_record(doc, snapshot)
    i = doc["records"].index(rec)
    noaa = entry.get("noaa") or _int((rec.get("keywords") or {}).get("NOAA_AR"))
    return {"kind": "sharp", "noaa": noaa, "time": rec["t_rec_utc"][:19],
            "harpnum": rec["harpnum"], "sharp_dir": None, "bin": entry["bin"],
            "height_mm": entry["height_mm"],
            "train": {**entry["train"], **(entry["warm"] if i else {})},
            "label": f"{entry['label']}, snapshot {rec['t_rec']}", "series": doc["series"],
            "snapshot": i,
            "init_model": f"{results}/{doc['series']}/{stamp(doc['records'][i - 1]['t_rec'])}/train/model.pt"
            if i else None}


def _int(value):
    try:
        return int(value) or None
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------- series.nc

def series_dataset(rows: list[dict], times, *, warm, snapshots=None, t_rec=None,
                   attrs: dict | None = None):
    """The series product: one value per snapshot of each quantity, on dimension ``time``.

    ``rows``: per snapshot, its summary row (``row.json``, :func:`ffnn.products.summary.region_row`)
    or any dict with the same columns (:data:`QUANTITIES`; ``iterations`` flat or in
    ``details``); ``times``: the snapshots' times (UTC; datetimes or ISO text); ``warm``:
    whether each snapshot started from the previous one's model; ``snapshots`` (region
    ids) and ``t_rec`` (JSOC T_REC text) are kept as auxiliary variables.

    Returns an ``xarray.Dataset`` with CF-1.8 attributes: ``time`` (encoded as seconds
    since 1970-01-01 UTC), the quantities of :data:`QUANTITIES` in UDUNITS units (missing
    values NaN; ``mean_abs_tw`` only when a snapshot has it), ``iterations``,
    ``warm_start`` (flags), ``stop_reason``. Raises DataError when lengths disagree or
    times are not increasing.
    """
    import pandas as pd
    import xarray as xr

    from ffnn import __version__

    n = len(rows)
    time = pd.to_datetime(list(times), utc=True).tz_convert(None).to_numpy()
    warm = np.asarray(list(warm), dtype=bool)
    if n == 0 or len(time) != n or warm.size != n:
        raise DataError(f"series of {n} row(s), {len(time)} time(s), {warm.size} warm flag(s)")
    if np.any(np.diff(time) <= np.timedelta64(0, "ns")):
        raise DataError("series times are not strictly increasing")

    def column(key):
        return np.array([_float(r.get(key)) for r in rows])

    data = {}
    for name, (key, unit, long_name) in QUANTITIES.items():
        values = column(key)
        if name in OPTIONAL and not np.isfinite(values).any():
            continue
        data[name] = ("time", values, {"units": unit, "long_name": long_name})
    iterations = [r.get("iterations", (r.get("details") or {}).get("iterations")) for r in rows]
    data["iterations"] = ("time", np.array([-1 if i is None else int(i) for i in iterations], dtype=np.int32),
                          {"units": "1", "long_name": "L-BFGS iterations of the snapshot's training"})
    data["warm_start"] = ("time", warm.astype(np.int8), {
        "long_name": "whether the training started from the previous snapshot's model",
        "flag_values": np.array([0, 1], dtype=np.int8), "flag_meanings": "cold_start warm_start"})
    data["stop_reason"] = ("time", np.array([str(r.get("stop_reason") or "") for r in rows], dtype=object),
                           {"long_name": "why the snapshot's training stopped"})
    for name, values, long_name in (("snapshot", snapshots, "region id of the snapshot"),
                                    ("t_rec", t_rec, "T_REC of the snapshot's SHARP record (JSOC form, TAI)")):
        if values is not None:
            data[name] = ("time", np.array([str(v) for v in values], dtype=object), {"long_name": long_name})
    ds = xr.Dataset(data, coords={"time": ("time", time, {
        "standard_name": "time", "long_name": "time of the snapshot (T_REC in UTC)", "axis": "T"})})
    ds["iterations"].encoding["_FillValue"] = np.int32(-1)
    ds.attrs = {"Conventions": "CF-1.8", "title": "ffnn time series of one region",
                "source": f"ffnn {__version__}",
                "history": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H:%M:%SZ} ffnn series",
                **{k: v for k, v in (attrs or {}).items() if v is not None}}
    # a coordinate has no missing values (CF 2.5.1): no _FillValue
    ds["time"].encoding.update(units="seconds since 1970-01-01 00:00:00", calendar="standard",
                               dtype="float64", _FillValue=None)
    return ds


def _float(value) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out if math.isfinite(out) else math.nan


def write_series(ds, path) -> Path:
    """Write ``series.nc`` (NetCDF-4; text as character arrays, which CF's checker reads)."""
    return write_netcdf(ds, path, encoding={name: {"dtype": "S1"} for name, var in ds.data_vars.items()
                                            if var.dtype == object})


# ---------------------------------------------------------------- offline series

def drifting_lowlou(count: int, *, n: int = 1, m: int = 1, l: float = 0.3, phi: float = math.pi / 4,
                    dphi: float = 0.02, dl: float = 0.0):
    """``count`` Low & Lou fields (:class:`ffnn.analysis.lowlou.LowLou`) that drift slowly: snapshot
    k has tilt ``phi + k dphi`` (rad) and source depth ``l + k dl`` (box units).

    With the default step of 0.02 rad (1.1°) per snapshot, ten snapshots turn the field's
    axis by 10°: an active region's slow evolution between 12-minute records, with the
    exact field known at every step. Raises ConfigError for a count below 1 or a depth
    that reaches the photosphere.
    """
    from ffnn.analysis.lowlou import LowLou

    if count < 1:
        raise ConfigError(f"a series needs at least one snapshot, got {count}")
    if min(l + k * dl for k in range(count)) <= 0:
        raise ConfigError(f"source depth l + k dl must stay positive (l={l}, dl={dl}, {count} snapshots)")
    return [LowLou(n, m, l + k * dl, phi + k * dphi) for k in range(count)]
