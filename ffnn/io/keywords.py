"""SHARP keyword tables: the input of the flare forecast.

A keyword table has one row per SHARP record: ``HARPNUM``, ``T_REC`` (JSOC TAI text),
``NOAA_AR``, ``NOAA_ARS``, ``LAT_FWT``, ``LON_FWT`` and the space-weather keywords, as a
drms keyword query returns them (:func:`query_keywords`, ``ffnn sharp-keywords``) and as
``ffnn/data/flares/sharp_keywords_2010_2014.csv.gz`` holds them. The workflow's summary
table (``results/summary.tsv``) carries the same records under other identifier names
(``harpnum``, ``t_rec``, ``noaa``, ``noaa_ars``, ``lat``, ``lon``) and the same keyword
names; :func:`column` finds a column under either name, so everything downstream reads
both layouts.

Times: T_REC is TAI; :func:`record_times` converts it to UTC with astropy (34 s in 2011,
35 s from 2012-07), since flare lists are in UTC.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ffnn.util.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: Keyword-table name -> summary-table name of the identifying columns.
SUMMARY_NAMES = {
    "HARPNUM": "harpnum", "T_REC": "t_rec", "NOAA_AR": "noaa", "NOAA_ARS": "noaa_ars",
    "LAT_FWT": "lat", "LON_FWT": "lon", "QUALITY": "quality",
}
#: SHARP space-weather keywords (Bobra et al. 2014) and record sizes.
SPACE_WEATHER = (
    "USFLUX", "MEANGAM", "MEANGBT", "MEANGBZ", "MEANGBH", "MEANJZD", "TOTUSJZ", "MEANALP",
    "MEANJZH", "TOTUSJH", "ABSNJZH", "SAVNCPP", "MEANPOT", "TOTPOT", "MEANSHR", "SHRGT45",
    "R_VALUE", "AREA_ACR",
)
SIZES = ("SIZE", "SIZE_ACR", "NACR", "NPIX")
#: The columns of a keyword table, in order (what ``ffnn sharp-keywords`` asks JSOC for).
QUERY_KEYWORDS = tuple(SUMMARY_NAMES) + SPACE_WEATHER + SIZES
#: Text columns: identifiers that must not become numbers (T_REC, "11158,11159", hex).
TEXT_COLUMNS = ("T_REC", "t_rec", "NOAA_ARS", "noaa_ars", "QUALITY", "quality", "region", "t_rec_utc")

_JSOC_TIME = re.compile(r"^(\d{4})\.(\d{2})\.(\d{2})_(\d{2}:\d{2}(?::\d{2}(?:\.\d*)?)?)_TAI$")
_CADENCE = re.compile(r"^\d+(?:\.\d+)?[smhd]$")


# ---------------------------------------------------------------- reading tables


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """A keyword table (CSV) or summary table (TSV), gzip or plain, as read.

    The separator is taken from the header line (a tab means TSV). Identifier text columns
    (``T_REC``, ``NOAA_ARS``, ``QUALITY``, ``region``) stay strings.

    Raises
    ------
    DataError
        The file is missing, unreadable, empty, or has neither ``T_REC`` nor ``t_rec``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"table {path} does not exist")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt") as handle:
            header = handle.readline()
        sep = "\t" if "\t" in header else ","
        names = [n.strip() for n in header.strip().split(sep)]
        table = pd.read_csv(path, sep=sep, dtype={c: str for c in TEXT_COLUMNS if c in names})
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DataError(f"table {path} is not a readable CSV/TSV: {err}") from err
    if table.empty:
        raise DataError(f"table {path} has no rows")
    if column(table, "T_REC") is None:
        raise DataError(f"table {path} has no T_REC (keyword table) or t_rec (summary table) column; "
                        f"it has {', '.join(map(str, table.columns[:8]))}")
    return table


def column(table: pd.DataFrame, name: str) -> pd.Series | None:
    """Column ``name`` of a keyword table, or its summary-table name (``LON_FWT`` / ``lon``); None if neither."""
    for candidate in (name, SUMMARY_NAMES.get(name)):
        if candidate is not None and candidate in table.columns:
            return table[candidate]
    return None


def noaa_numbers(value) -> list[int]:
    """The NOAA numbers of a ``NOAA_ARS`` value (``"11158,11159"`` -> [11158, 11159]); 0 and junk dropped.

    Whole numbers only: 11158 is never found inside "111580".
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    out = []
    for part in re.split(r"[,;\s]+", str(value).strip()):
        try:
            number = float(part)
        except ValueError:
            continue
        if number > 0 and number.is_integer():
            out.append(int(number))
    return out


def record_times(values: pd.Series) -> pd.Series:
    """UTC timestamps of T_REC values: JSOC TAI text (converted with astropy) or ISO UTC.

    Empty values give NaT; any other unreadable value raises :class:`DataError`.
    """
    from astropy.time import Time

    text = values.astype("string").str.strip()
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    parts = text.str.extract(_JSOC_TIME)
    tai = parts[0].notna()
    if tai.any():
        iso = parts[0] + "-" + parts[1] + "-" + parts[2] + "T" + parts[3]
        utc = Time(iso[tai].tolist(), format="isot", scale="tai").utc.datetime64
        out[tai] = pd.to_datetime(utc).tz_localize("UTC")
    rest = ~tai & text.notna() & (text != "")
    if rest.any():
        parsed = pd.to_datetime(text[rest].str.rstrip("Zz"), utc=True, errors="coerce", format="ISO8601")
        if parsed.isna().any():
            bad = text[rest][parsed.isna()]
            raise DataError(f"unreadable T_REC {bad.iloc[0]!r} ({len(bad)} such values); "
                            f"use JSOC form 2011.02.14_20:00:00_TAI or ISO UTC")
        out[rest] = parsed
    return out


def records(table: pd.DataFrame) -> pd.DataFrame:
    """The identifiers of each row: ``harpnum`` (Int64), ``t_rec`` (as written), ``time`` (UTC),
    ``noaa_ars`` (text; from ``NOAA_AR`` where ``NOAA_ARS`` is absent) and ``region`` if the
    table has it. Index as ``table``'s."""
    out = pd.DataFrame(index=table.index)
    if "region" in table.columns:
        out["region"] = table["region"]
    harpnum = column(table, "HARPNUM")
    out["harpnum"] = (pd.to_numeric(harpnum, errors="coerce").round().astype("Int64") if harpnum is not None
                      else pd.Series(pd.NA, index=table.index, dtype="Int64"))
    out["t_rec"] = column(table, "T_REC")
    out["time"] = record_times(out["t_rec"])
    ars = column(table, "NOAA_ARS")
    if ars is None:
        ars = column(table, "NOAA_AR")
    out["noaa_ars"] = (ars.map(lambda v: ",".join(map(str, noaa_numbers(v)))) if ars is not None
                       else "")
    return out


# ---------------------------------------------------------------- JSOC keyword query


def record_set(series: str, start, seconds: int, *, harps=None, cadence: str | None = None) -> str:
    """The JSOC record-set text ``series[HARPS][START/SECONDSs@CADENCE]``.

    JSOC reads ``START/DURATION`` as start <= T_REC < start + duration (TAI). ``start``: an
    astropy Time; ``seconds``: the duration; ``harps``: HARP numbers (None: every HARP);
    ``cadence``: a JSOC step such as ``1h``, ``12m``, ``1d`` (None: every 12-minute record).
    """
    from ffnn.io.jsoc import jsoc_time

    harp_text = ",".join(str(int(h)) for h in harps) if harps else ""
    step = f"@{cadence}" if cadence else ""
    return f"{series}[{harp_text}][{jsoc_time(start)}/{int(seconds)}s{step}]"


def cadence_seconds(cadence: str | None) -> float | None:
    """Seconds of a JSOC step (``1h`` -> 3600); None for None; ConfigError if malformed."""
    if cadence is None:
        return None
    if not _CADENCE.match(str(cadence)):
        raise ConfigError(f"cadence {cadence!r} is not a JSOC step like '1h', '12m', '1d'")
    return float(cadence[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[cadence[-1]]


def query_keywords(start, end, settings, *, harps=None, cadence: str | None = None,
                   chunk_days: float = 30.0, keys=QUERY_KEYWORDS) -> pd.DataFrame:
    """SHARP keywords of every record with start <= T_REC <= end through drms ``query()`` (no export).

    Parameters
    ----------
    start, end : astropy.time.Time
        The time range (both ends included).
    settings : ffnn.io.jsoc.JsocSettings
        Server, series, retries; no email is needed (keywords only).
    harps : sequence of int, optional
        HARP numbers; None asks for every HARP.
    cadence : str, optional
        JSOC step (``1h``, ``12m``, ``1d``), counted from ``start``; None returns every
        12-minute record.
    chunk_days : float
        Longest time span of one query (rounded up to whole cadence steps): a long range is
        asked for piece by piece, so that no single JSOC answer grows without bound.
    keys : sequence of str
        Keywords to ask for (default :data:`QUERY_KEYWORDS`).

    Returns
    -------
    pandas.DataFrame
        One row per record, columns ``keys`` in order, sorted by HARPNUM and T_REC; QUALITY
        as an integer (JSOC prints it in hex).

    Raises
    ------
    ConfigError
        ``end`` before ``start``, a malformed cadence, or ``chunk_days`` <= 0.
    DataError
        JSOC rejects the query or answers something drms cannot read.
    FFNNError
        The server stays unreachable after the retries.
    """
    import drms
    from astropy.time import TimeDelta

    from ffnn.io.jsoc import make_client, with_retries

    step = cadence_seconds(cadence)
    if end < start:
        raise ConfigError(f"keyword query: end {end.utc.isot} is before start {start.utc.isot}")
    if not chunk_days > 0:
        raise ConfigError(f"chunk_days must be positive, not {chunk_days}")
    chunk = chunk_days * 86400.0
    if step:
        chunk = np.ceil(chunk / step) * step  # every piece starts on the cadence grid
    span = (end - start).to_value("s") + 1.0  # + 1 s: the half-open piece includes ``end``
    client = make_client(settings)
    keys = list(keys)
    frames = []
    for offset in np.arange(0.0, span, chunk):
        ds = record_set(settings.series, start + TimeDelta(offset, format="sec"),
                        np.ceil(min(chunk, span - offset)), harps=harps, cadence=cadence)
        try:
            frame = with_retries(lambda ds=ds: client.query(ds, key=",".join(keys), skip_conversion=["QUALITY"]),
                                 what=f"SHARP keywords {ds}", settings=settings)
        except drms.DrmsQueryError as err:
            raise DataError(f"SHARP keywords: JSOC rejected query {ds}: {err}") from err
        except (ValueError, KeyError) as err:  # a body that is not the JSON drms expects
            raise DataError(f"SHARP keywords: unexpected JSOC answer to {ds}: {err}") from err
        log.info("sharp-keywords: %s -> %d records", ds, len(frame))
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    for key in keys:
        if key not in table.columns:
            table[key] = np.nan
    table = table[keys]
    if "QUALITY" in table.columns:
        table["QUALITY"] = table["QUALITY"].map(_hex_int).astype("Int64")
    if len(table):
        times = record_times(table["T_REC"].astype(str))
        table = table.assign(_t=times.to_numpy()).sort_values(["HARPNUM", "_t"], kind="stable")
        table = table.drop(columns="_t").drop_duplicates(["HARPNUM", "T_REC"]).reset_index(drop=True)
    return table


def _hex_int(value):
    text = str(value).strip()
    try:
        return int(text, 0) if text.lower().startswith("0x") else int(float(text))
    except ValueError:
        return pd.NA
