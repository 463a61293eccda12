"""Flare labels from a GOES event list: GOES classes, the NCEI list format, HEK.

An event list holds one row per GOES X-ray flare in the NOAA/NCEI columns ``Flare Class``,
``Start Time``, ``Peak Time``, ``End Time`` (UTC, ``2011-02-15T01:56Z``) and ``Active Region
Number`` (0 = none given), as ``ffnn/data/flares/goes_flares_1996_2022.csv.gz`` and
:func:`write_events` (the HEK route, ``ffnn flare-events``) write it.

The label of a SHARP record (:func:`flare_labels`): 1 if the largest flare with peak in
(T_REC, T_REC + window] of any NOAA region of the HARP (``NOAA_ARS``) reaches the threshold
class (default M1.0 in 24 h), else 0. Flares count by their peak; a flare with no region
number cannot be attributed and is left out.

The flare history of a record (:func:`flare_history`), a feature of the forecast: the peak
flux of the largest flare of the same regions with peak in [T_REC - window, T_REC), strictly
before the record, so it never overlaps the label window; ``0`` when there was none.
"""

from __future__ import annotations

import logging
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ffnn.util.errors import ConfigError, DataError, FFNNError
from ffnn.util.files import write_csv
from ffnn.io.keywords import noaa_numbers, records as table_records

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD_CLASS = "M1.0"
DEFAULT_WINDOW = "24h"
#: Stem of the flare-history column name; the window in hours follows (``flare_history_24h``).
HISTORY_STEM = "flare_history"
#: The NOAA/NCEI event-list columns, in order.
NCEI_COLUMNS = ("Flare Class", "Start Time", "Peak Time", "End Time", "Active Region Number")
_NCEI_TIME = "%Y-%m-%dT%H:%MZ"

# Peak 1-8 Å flux of a class-1.0 flare, as a power of ten in W m^-2.
_LETTER_EXPONENT = {"A": -8, "B": -7, "C": -6, "M": -5, "X": -4}
_CLASS_RE = re.compile(r"^\s*([ABCMX])\s*(\d+(?:\.\d*)?)?\s*$", re.IGNORECASE)


# ---------------------------------------------------------------- GOES classes


def is_no_flare(value: Any) -> bool:
    """True for an empty class (blank, NaN, None): no flare."""
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def goes_flux(flare_class: Any) -> float:
    """The peak GOES 1-8 Å flux of a flare class.

    Parameters
    ----------
    flare_class : str
        A GOES class such as ``"M1.2"``, ``"X10"`` or a bare letter (magnitude 1.0);
        empty or a no-flare marker for no flare.

    Returns
    -------
    float
        The flux in W m^-2 (A = 1e-8, B = 1e-7, C = 1e-6, M = 1e-5, X = 1e-4 times the
        magnitude); 0.0 for no flare. Computed in decimal, so that equal classes written
        differently (``"C10"``, ``"M1.0"``) give the same float.

    Raises
    ------
    ffnn.util.errors.DataError
        For anything that is not a GOES class.
    """
    if is_no_flare(flare_class):
        return 0.0
    match = _CLASS_RE.match(str(flare_class))
    if match is None:
        raise DataError(f"unreadable GOES flare class {flare_class!r} (expected e.g. 'M1.2', 'X2.0' or empty)")
    letter, magnitude = match.group(1).upper(), match.group(2) or "1"
    return float(Decimal(magnitude).scaleb(_LETTER_EXPONENT[letter]))


def threshold_flux(threshold_class: str) -> float:
    """Flux of the threshold class; a :class:`ConfigError` if it is not a real flare class."""
    try:
        flux = goes_flux(threshold_class)
    except DataError as err:
        raise ConfigError(f"threshold class {threshold_class!r} is not a GOES class like 'M1.0'") from err
    if flux <= 0.0:
        raise ConfigError(f"threshold class {threshold_class!r} is empty; give a GOES class like 'M1.0'")
    return flux


def window_timedelta(window: str) -> pd.Timedelta:
    """The forecast window (``"24h"``, ``"48h"``, ``"1 day"``) as a positive Timedelta; ConfigError otherwise."""
    try:
        span = pd.Timedelta(window)
    except (ValueError, TypeError) as err:
        raise ConfigError(f"forecast window {window!r} is not a time span like '24h'") from err
    if span <= pd.Timedelta(0):
        raise ConfigError(f"forecast window {window!r} must be positive")
    return span


# ---------------------------------------------------------------- event lists


def events_from_ncei(table: pd.DataFrame, source: str = "event list") -> pd.DataFrame:
    """An NCEI-format table as ``flare_class, start, peak, end, noaa, flux`` (times UTC).

    Rows without a readable peak time or class are dropped with one warning each kind
    (the list has a few, e.g. ``1998-11-04T//://Z``); ``noaa`` is NA where the list gives 0.
    The list writes one date per event: a peak (or end) before the start fell after
    midnight and gets one day added.

    Raises
    ------
    DataError
        A column of :data:`NCEI_COLUMNS` other than the end time is missing.
    """
    missing = [c for c in NCEI_COLUMNS if c not in table.columns and c != "End Time"]
    if missing:
        raise DataError(f"{source} lacks column(s) {', '.join(repr(c) for c in missing)}; "
                        f"an event list has {', '.join(NCEI_COLUMNS)}")
    times = {}
    for name, col in (("start", "Start Time"), ("peak", "Peak Time"), ("end", "End Time")):
        text = table[col].astype("string").str.strip() if col in table.columns else pd.Series(pd.NA, index=table.index)
        times[name] = pd.to_datetime(text.str.rstrip("Zz"), utc=True, errors="coerce", format="ISO8601")
    classes = table["Flare Class"].astype("string").str.strip().str.upper()
    fluxes = {c: _flux_or_nan(c) for c in classes.dropna().unique()}
    flux = classes.map(fluxes).astype(float)
    noaa = pd.to_numeric(table["Active Region Number"], errors="coerce").round().astype("Int64")
    events = pd.DataFrame({"flare_class": classes, **times, "noaa": noaa.mask(noaa <= 0), "flux": flux})
    for name, bad in (("peak time", events["peak"].isna()), ("nonzero flare class", events["flux"].isna())):
        if bad.any():
            log.warning("%s: %d event(s) without a readable %s dropped (first: row %d)", source, int(bad.sum()),
                        name, int(np.flatnonzero(bad.to_numpy())[0]) + 2)
    events = events[events["peak"].notna() & events["flux"].notna()].copy()
    for name in ("peak", "end"):
        rolled = events[name] < events["start"]
        events.loc[rolled, name] += pd.Timedelta(days=1)
    return events.reset_index(drop=True)


def _flux_or_nan(flare_class: str) -> float:
    try:
        flux = goes_flux(flare_class)
    except DataError:
        return float("nan")
    return flux if flux > 0 else float("nan")


def read_events(path: str | os.PathLike) -> pd.DataFrame:
    """A GOES flare event list read from a file.

    Parameters
    ----------
    path : path-like
        CSV (gzip or plain) with NCEI's columns, as ``ffnn flare-events`` writes it and
        as shipped (``ffnn.data.GOES_FLARES_1996_2022``).

    Returns
    -------
    `pandas.DataFrame`
        One row per flare: peak time (UTC), class, peak flux (W m^-2) and NOAA region
        (:func:`events_from_ncei`).

    Raises
    ------
    ffnn.util.errors.DataError
        When the file does not exist, is not a readable CSV or lacks the columns.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"event list {path} does not exist")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DataError(f"event list {path} is not a readable CSV: {err}") from err
    return events_from_ncei(table, source=f"event list {path}")


def write_events(events: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``flare_class, start, peak, end, noaa`` events in the NCEI format, atomically."""
    def fmt(times: pd.Series) -> pd.Series:
        return times.dt.strftime(_NCEI_TIME).fillna("")

    table = pd.DataFrame({
        "Flare Class": events["flare_class"].astype(str),
        "Start Time": fmt(events["start"]),
        "Peak Time": fmt(events["peak"]),
        "End Time": fmt(events["end"]),
        "Active Region Number": events["noaa"].astype("Int64").fillna(0),
    })
    return write_csv(table.sort_values("Peak Time", kind="stable"), path)


def coverage(events: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last peak time of an event list: outside it, 'no flare' means 'not listed'."""
    if events.empty:
        raise DataError("the event list holds no events")
    return events["peak"].min(), events["peak"].max()


# ---------------------------------------------------------------- labels


def _record_flares(records: pd.DataFrame, events: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each record's NOAA numbers, one per row (``row``, ``time``, ``noaa``), and the pairs of
    such a row with every listed flare of that region (``peak``, ``flux``, ``flare_class``)."""
    exploded = pd.DataFrame({"row": records.index, "time": records["time"].to_numpy(),
                             "noaa": records["noaa_ars"].map(noaa_numbers).to_numpy()}).explode("noaa")
    exploded = exploded.dropna(subset=["noaa", "time"])
    exploded["noaa"] = exploded["noaa"].astype("int64")
    listed = events.dropna(subset=["noaa"]).astype({"noaa": "int64"})[["noaa", "peak", "flux", "flare_class"]]
    return exploded, exploded.merge(listed, on="noaa")


def _known(records: pd.DataFrame, exploded: pd.DataFrame, inside: pd.Series, what: str,
           span: tuple[pd.Timestamp, pd.Timestamp]) -> np.ndarray:
    """Rows with a time and a NOAA number whose window is inside the list's span; logs the others."""
    known = records.index.isin(exploded["row"])
    outside = known & ~inside.to_numpy()
    if outside.any():
        log.warning("%s: %d record(s) whose window is not inside the event list (%s .. %s) are left unknown",
                    what, int(outside.sum()), f"{span[0]:%Y-%m-%d}", f"{span[1]:%Y-%m-%d}")
    return known & inside.to_numpy()


def flare_labels(records: pd.DataFrame, events: pd.DataFrame, *, window: str = DEFAULT_WINDOW,
                 threshold_class: str = DEFAULT_THRESHOLD_CLASS) -> pd.DataFrame:
    """The largest flare after each record and its 0/1 label.

    Parameters
    ----------
    records : pandas.DataFrame
        ``time`` (UTC) and ``noaa_ars`` (comma-separated NOAA numbers) per record, as
        :func:`ffnn.io.keywords.records` gives them.
    events : pandas.DataFrame
        An event list from :func:`read_events`.
    window : str
        Forecast window: a flare counts when its peak lies in (time, time + window].
    threshold_class : str
        Smallest GOES class that makes a record positive.

    Returns
    -------
    pandas.DataFrame
        Index as ``records``: ``flare_class`` (the largest flare in the window, "" for
        none), ``label`` (1.0, 0.0, or NaN where the record has no time or NOAA number, or
        its window is not inside the event list's :func:`coverage`).
    """
    span = window_timedelta(window)
    threshold = threshold_flux(threshold_class)
    first, last = coverage(events)
    exploded, pairs = _record_flares(records, events)
    pairs = pairs[(pairs["peak"] > pairs["time"]) & (pairs["peak"] <= pairs["time"] + span)]
    largest = pairs.sort_values("flux", kind="stable").groupby("row").last()

    out = pd.DataFrame(index=records.index)
    out["flare_class"] = largest["flare_class"].reindex(records.index).fillna("").astype(str)
    flux = largest["flux"].reindex(records.index).fillna(0.0)
    label = (flux >= threshold).astype(float)
    inside = (records["time"] >= first) & (records["time"] + span <= last)
    out["label"] = label.where(_known(records, exploded, inside, f"labels ({window} after T_REC)", (first, last)))
    return out


def history_column(window: str = DEFAULT_WINDOW) -> str:
    """Name of the flare-history column of a window: ``flare_history_24h`` (the window in hours)."""
    hours = window_timedelta(window) / pd.Timedelta(hours=1)
    return f"{HISTORY_STEM}_{hours:g}h"


def flare_history(records: pd.DataFrame, events: pd.DataFrame, *, window: str = DEFAULT_WINDOW) -> pd.Series:
    """The peak flux of the largest flare of each record's regions in the ``window`` before it.

    A flare counts when its peak lies in [time - window, time): strictly before the record
    (a flare peaking at T_REC itself does not count; its class is not known yet), so the
    history never overlaps the label window (time, time + window] of :func:`flare_labels`.
    Flares of every NOAA region of the HARP count; flares without a region number do not.

    Parameters
    ----------
    records : pandas.DataFrame
        ``time`` (UTC) and ``noaa_ars`` per record (:func:`ffnn.io.keywords.records`).
    events : pandas.DataFrame
        An event list from :func:`read_events`.
    window : str
        How far back flares count.

    Returns
    -------
    pandas.Series
        Named :func:`history_column`, index as ``records``: peak GOES 1-8 Å flux in W m^-2
        of the largest flare, 0.0 for none, NaN where the record has no time or NOAA
        number or its window is not inside the event list's :func:`coverage` (unknown,
        not "no flare").
    """
    span = window_timedelta(window)
    first, last = coverage(events)
    exploded, pairs = _record_flares(records, events)
    pairs = pairs[(pairs["peak"] < pairs["time"]) & (pairs["peak"] >= pairs["time"] - span)]
    flux = pairs.groupby("row")["flux"].max().reindex(records.index).fillna(0.0)
    inside = (records["time"] - span >= first) & (records["time"] <= last)
    known = _known(records, exploded, inside, f"flare history ({window} before T_REC)", (first, last))
    return flux.where(known).astype(float).rename(history_column(window))


def add_flare_history(table: pd.DataFrame, events: pd.DataFrame, window: str = DEFAULT_WINDOW) -> pd.DataFrame:
    """``table`` (keyword or summary table) with its :func:`flare_history` column added or replaced."""
    history = flare_history(table_records(table), events, window=window)
    if history.name in table.columns:
        log.info("flare history: column %s of the table replaced by the one from the event list", history.name)
    return table.assign(**{history.name: history})


# ---------------------------------------------------------------- HEK


def events_frame(result: Any) -> pd.DataFrame:
    """HEK flare search results (a table or mapping of columns) as an event list."""
    def column(name):
        values = result[name]
        return [getattr(v, "isot", v) for v in (values.tolist() if hasattr(values, "tolist") else values)]

    if len(result) == 0:
        return events_from_ncei(pd.DataFrame(columns=list(NCEI_COLUMNS)), source="HEK answer")
    table = pd.DataFrame({
        "Flare Class": [str(c) if not is_no_flare(c) else "" for c in column("fl_goescls")],
        "Start Time": column("event_starttime"),
        "Peak Time": column("event_peaktime"),
        "End Time": column("event_endtime"),
        "Active Region Number": pd.to_numeric(pd.Series(column("ar_noaanum"), dtype=object), errors="coerce").fillna(0),
    })
    return events_from_ncei(table, source="HEK answer")


def fetch_hek_events(start: pd.Timestamp, end: pd.Timestamp, url: str | None = None) -> pd.DataFrame:
    """GOES flares with peak in [start, end] from the HEK, as an event list.

    Asks with sunpy's ``HEKClient`` (sunpy's ``net`` extra, a dependency of ffnn) at ``url``
    (default: LMSAL's HEK, https://www.lmsal.com/hek/her?) for events of type FL observed
    by GOES. Raises :class:`FFNNError` (one line) when the search fails.
    """
    from sunpy.net import attrs as a
    from sunpy.net.hek import HEKClient

    client = HEKClient(url) if url else HEKClient()
    iso = "%Y-%m-%dT%H:%M:%S"  # naive UTC: sunpy's time parsing wants no offset
    try:
        result = client.search(a.Time(start.strftime(iso), end.strftime(iso)), a.hek.EventType("FL"),
                               a.hek.OBS.Observatory == "GOES")
    except Exception as err:  # network errors arrive as many types; all mean the same here
        raise FFNNError(f"HEK query {start:%Y-%m-%dT%H:%M} .. {end:%Y-%m-%dT%H:%M} at {client.url} failed "
                        f"({err}); rerun when online or give an event list file") from err
    events = events_frame(result)
    return events[(events["peak"] >= start) & (events["peak"] <= end)].reset_index(drop=True)
