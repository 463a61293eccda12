"""Flare labels for the classify stage: GOES classes, label CSVs, matching, HEK fetch.

A label table has one row per observation of a region: ``noaa`` and ``time`` (or a
``region`` id), and either ``label`` (0/1) or a GOES flare class (``flare_class``,
``class`` or ``goes_class``: the largest flare within 24 h after ``time``; an empty class
means no flare). Classes become 0/1 by comparing their peak X-ray flux with a threshold
class (default ``M1.0``).

The HEK path (:func:`fetch_hek_labels`) writes exactly this format to a cache CSV, so that
a rerun reads the cache and needs no network.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ffnn.errors import ConfigError, DataError, FFNNError

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD_CLASS = "M1.0"
DEFAULT_TOLERANCE = "30min"
#: Forecast window after T_REC in which a flare counts towards the region's label.
FORECAST_WINDOW = pd.Timedelta(hours=24)
CLASS_COLUMNS = ("flare_class", "class", "goes_class")

# Peak 1-8 Å flux of a class-1.0 flare, as a power of ten in W m^-2.
_LETTER_EXPONENT = {"A": -8, "B": -7, "C": -6, "M": -5, "X": -4}
_CLASS_RE = re.compile(r"^\s*([ABCMX])\s*(\d+(?:\.\d*)?)?\s*$", re.IGNORECASE)
_JSOC_TIME_RE = re.compile(r"^(\d{4})\.(\d{2})\.(\d{2})_(\d{2}:\d{2}(?::\d{2}(?:\.\d*)?)?)(?:_(TAI|UTC|UT|Z))?$")


def is_no_flare(value: Any) -> bool:
    """True for an empty class (blank, NaN, None): no flare was recorded in the window."""
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def goes_flux(flare_class: Any) -> float:
    """Peak GOES 1-8 Å flux in W m^-2 of a class such as ``"M1.2"``; 0.0 for no flare.

    ``"X10"`` is ten times ``"X1.0"``; a bare letter means magnitude 1.0. The value is
    computed in decimal so that equal classes written differently (``"C10"``, ``"M1.0"``)
    give the same float. Raises :class:`DataError` for anything else.
    """
    if is_no_flare(flare_class):
        return 0.0
    match = _CLASS_RE.match(str(flare_class))
    if match is None:
        raise DataError(f"unreadable GOES flare class {flare_class!r} (expected e.g. 'M1.2', 'X2.0' or empty)")
    letter, magnitude = match.group(1).upper(), match.group(2) or "1"
    try:
        value = Decimal(magnitude).scaleb(_LETTER_EXPONENT[letter])
    except InvalidOperation as err:  # pragma: no cover - the regex admits only digits
        raise DataError(f"unreadable GOES flare class {flare_class!r}") from err
    return float(value)


def class_to_label(flare_class: Any, threshold_class: str = DEFAULT_THRESHOLD_CLASS) -> int:
    """1 if the flare is at least as large as ``threshold_class``, else 0 (no flare -> 0)."""
    threshold = threshold_flux(threshold_class)
    return int(goes_flux(flare_class) >= threshold)


def threshold_flux(threshold_class: str) -> float:
    """Flux of the threshold class; a :class:`ConfigError` if it is not a real flare class."""
    try:
        flux = goes_flux(threshold_class)
    except DataError as err:
        raise ConfigError(f"threshold class {threshold_class!r} is not a GOES class like 'M1.0'") from err
    if flux <= 0.0:
        raise ConfigError(f"threshold class {threshold_class!r} is empty; give a GOES class like 'M1.0'")
    return flux


def max_flare_class(classes: Iterable[Any]) -> str:
    """The largest of several GOES classes, as written; ``""`` when there is none."""
    best, best_flux = "", 0.0
    for value in classes:
        flux = goes_flux(value)
        if flux > best_flux:
            best, best_flux = str(value).strip().upper(), flux
    return best


def parse_times(values: pd.Series | Iterable[Any], what: str = "time") -> pd.Series:
    """Timestamps in UTC from ISO strings or JSOC T_REC strings (``2011.02.14_20:00:00_TAI``).

    TAI is read as UTC: the 30-odd seconds between them are far inside any matching
    tolerance. Unparseable non-empty values raise :class:`DataError`; empty ones give NaT.
    """
    series = pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values
    cleaned = series.map(_normalise_time)
    parsed = pd.to_datetime(cleaned, utc=True, errors="coerce", format="ISO8601")
    bad = parsed.isna() & cleaned.notna()
    if bad.any():
        example = series[bad].iloc[0]
        raise DataError(f"unreadable {what} {example!r} ({int(bad.sum())} such values)")
    return parsed


def _normalise_time(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    text = str(value).strip()
    if not text or text.lower() in {"nan", "nat", "none"}:
        return None
    match = _JSOC_TIME_RE.match(text)
    if match:
        year, month, day, clock, _scale = match.groups()
        return f"{year}-{month}-{day}T{clock}"
    return text


def _noaa_numbers(values: pd.Series, what: str) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna() & (values.astype(str).str.strip() != "")
    if bad.any():
        raise DataError(f"unreadable NOAA number {values[bad].iloc[0]!r} in {what}")
    return numbers.round().astype("Int64")


def labels_from_table(table: pd.DataFrame, threshold_class: str = DEFAULT_THRESHOLD_CLASS,
                      source: str = "label table") -> pd.DataFrame:
    """Normalise a raw label table to columns ``region, noaa, time, label, flare_class``.

    ``label`` (0/1, empty = unknown) wins over a class column when both are given, since
    it is the more direct statement. Rows that duplicate a (region) or (noaa, time) key keep
    the largest label: one flare in the window is enough.
    """
    threshold_flux(threshold_class)  # a bad threshold is a config problem, report it first
    columns = {c.lower().strip(): c for c in table.columns}
    has_region = "region" in columns
    if not has_region and not {"noaa", "time"} <= set(columns):
        raise DataError(f"{source} needs columns noaa and time (or region); it has {list(table.columns)}")
    class_col = next((columns[c] for c in CLASS_COLUMNS if c in columns), None)
    if "label" not in columns and class_col is None:
        raise DataError(f"{source} needs a column label (0/1) or flare_class; it has {list(table.columns)}")

    out = pd.DataFrame(index=table.index)
    if has_region:
        region = table[columns["region"]].astype("string").str.strip()
        out["region"] = region.mask(region == "")
    else:
        out["region"] = pd.NA
    out["noaa"] = _noaa_numbers(table[columns["noaa"]], source) if "noaa" in columns else pd.NA
    out["time"] = parse_times(table[columns["time"]], f"time in {source}") if "time" in columns else pd.NaT
    out["flare_class"] = table[class_col].where(table[class_col].notna(), "").astype(str).str.strip() \
        if class_col is not None else ""

    if "label" in columns:
        raw = table[columns["label"]]
        text = raw.astype("string").str.strip().str.lower()
        mapped = text.map({"1": 1.0, "0": 0.0, "1.0": 1.0, "0.0": 0.0, "true": 1.0, "false": 0.0,
                           "yes": 1.0, "no": 0.0})
        bad = mapped.isna() & text.notna() & (text != "")
        if bad.any():
            raise DataError(f"label in {source} must be 0 or 1, not {raw[bad].iloc[0]!r}")
        label = mapped.astype(float)
    else:
        label = pd.Series(np.nan, index=table.index)
    if class_col is not None:
        threshold = threshold_flux(threshold_class)
        from_class = out["flare_class"].map(lambda c: float(goes_flux(c) >= threshold))
        label = label.fillna(from_class)
    out["label"] = label

    keyless = out["region"].isna() & (out["noaa"].isna() | out["time"].isna())
    if keyless.any():
        log.warning("%s: ignoring %d rows with neither region nor noaa and time", source, int(keyless.sum()))
    out = out[~keyless & out["label"].notna()]
    by_region = out[out["region"].notna()]
    by_time = out[out["region"].isna()]
    by_region = by_region.sort_values("label").drop_duplicates("region", keep="last")
    by_time = by_time.sort_values("label").drop_duplicates(["noaa", "time"], keep="last")
    result = pd.concat([by_region, by_time]).sort_values(["noaa", "time"], na_position="last")
    result["label"] = result["label"].astype(int)
    return result.reset_index(drop=True)


def read_labels(path: str | os.PathLike, threshold_class: str = DEFAULT_THRESHOLD_CLASS) -> pd.DataFrame:
    """Read a label CSV (see the module docstring) into the normalised label table."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"label file {path} does not exist")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], comment="#")
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataError(f"label file {path} is not a readable CSV: {err}") from err
    return labels_from_table(table, threshold_class, source=f"label file {path}")


def match_labels(summary: pd.DataFrame, labels: pd.DataFrame,
                 tolerance: str | pd.Timedelta = DEFAULT_TOLERANCE) -> pd.Series:
    """The label of each summary row (float: 0.0, 1.0, or NaN where none matches).

    A label row with a ``region`` id matches that region exactly; otherwise the summary
    row's NOAA number must equal the label's and ``t_rec`` lie within ``tolerance`` of the
    label's time (the nearest label row wins).
    """
    try:
        tol = pd.Timedelta(tolerance)
    except ValueError as err:
        raise ConfigError(f"label tolerance {tolerance!r} is not a time span like '30min'") from err
    result = pd.Series(np.nan, index=summary.index, name="label", dtype=float)

    if "region" in summary.columns and labels["region"].notna().any():
        by_region = labels.dropna(subset=["region"]).set_index("region")["label"]
        result = result.fillna(summary["region"].astype("string").map(by_region).astype(float))

    by_time = labels[labels["region"].isna()].dropna(subset=["noaa", "time"])
    if by_time.empty or not {"noaa", "t_rec"} <= set(summary.columns):
        return result
    left = pd.DataFrame({
        "row": summary.index,
        "noaa": _noaa_numbers(summary["noaa"], "the summary table"),
        "time": parse_times(summary["t_rec"], "t_rec in the summary table"),
    })
    left = left.dropna(subset=["noaa", "time"])
    if left.empty:
        return result
    # merge_asof wants one plain integer dtype on both sides and sorted keys.
    left["noaa"] = left["noaa"].astype("int64")
    right = by_time[["noaa", "time", "label"]].copy()
    right["noaa"] = right["noaa"].astype("int64")
    merged = pd.merge_asof(left.sort_values("time"), right.sort_values("time"), on="time", by="noaa",
                           tolerance=tol, direction="nearest")
    matched = merged.set_index("row")["label"].astype(float)
    return result.fillna(matched.reindex(result.index))


# --- HEK ---------------------------------------------------------------------------------


def _merge_windows(starts: pd.Series) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    windows: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    for start in sorted(starts):
        end = start + FORECAST_WINDOW
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], end))
        else:
            windows.append((start, end))
    return windows


def _column(result: Any, name: str) -> list[Any]:
    values = result[name]
    return [getattr(v, "isot", v) for v in (values.tolist() if hasattr(values, "tolist") else values)]


def _hek_search(client: Any, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """GOES flare events between two times, as noaa / peak time / class."""
    from sunpy.net import attrs as a  # imported late: sunpy.net is slow and needs extras

    iso = "%Y-%m-%dT%H:%M:%S"  # naive UTC strings: sunpy's time parsing wants no tz offset
    result = client.search(a.Time(start.strftime(iso), end.strftime(iso)), a.hek.EventType("FL"),
                           a.hek.OBS.Observatory == "GOES")
    return events_frame(result)


def events_frame(result: Any) -> pd.DataFrame:
    """HEK search results (a table or mapping of columns) as ``noaa, peak, flare_class``."""
    if len(result) == 0:
        return pd.DataFrame({"noaa": pd.Series(dtype="Int64"), "peak": pd.Series(dtype="datetime64[ns, UTC]"),
                             "flare_class": pd.Series(dtype=str)})
    frame = pd.DataFrame({
        "noaa": pd.to_numeric(pd.Series(_column(result, "ar_noaanum"), dtype=object), errors="coerce"),
        "peak": parse_times(pd.Series(_column(result, "event_peaktime"), dtype=object), "HEK peak time"),
        "flare_class": [str(c) if not is_no_flare(c) else "" for c in _column(result, "fl_goescls")],
    })
    return frame.dropna(subset=["noaa", "peak"])


def fetch_hek_labels(summary: pd.DataFrame, cache: str | os.PathLike, client: Any = None) -> pd.DataFrame:
    """Largest GOES flare within 24 h after each region's T_REC, from HEK, cached to a CSV.

    Rows already in ``cache`` (same noaa and t_rec) are not fetched again, so a rerun on
    the same summary is offline. The cache holds ``noaa, time, flare_class`` (empty class =
    no GOES flare attributed to that region in the window) and is read back with
    :func:`read_labels`. Flares count by their peak time. ``client`` defaults to
    ``sunpy.net.hek.HEKClient()``; pass another object with the same ``search`` for tests.
    Returns the raw cache table (all rows, including ones for other summaries).
    """
    cache = Path(cache)
    wanted = pd.DataFrame({
        "noaa": _noaa_numbers(summary["noaa"], "the summary table") if "noaa" in summary else pd.NA,
        "time": parse_times(summary["t_rec"], "t_rec in the summary table") if "t_rec" in summary else pd.NaT,
    }).dropna().drop_duplicates()
    if cache.is_file():
        cached = pd.read_csv(cache, dtype=str, keep_default_na=False)
        cached_keys = pd.DataFrame({"noaa": _noaa_numbers(cached["noaa"], f"cache {cache}"),
                                    "time": parse_times(cached["time"], f"time in cache {cache}")})
    else:
        cached = pd.DataFrame(columns=["noaa", "time", "flare_class"])
        cached_keys = pd.DataFrame({"noaa": pd.Series(dtype="Int64"), "time": pd.Series(dtype="datetime64[ns, UTC]")})
    known = set(zip(cached_keys["noaa"].astype("int64"), cached_keys["time"]))
    missing = wanted[[(int(n), t) not in known for n, t in zip(wanted["noaa"], wanted["time"])]]
    if missing.empty:
        log.info("flare labels: all %d regions found in HEK cache %s", len(wanted), cache)
        return cached

    if client is None:
        try:
            from sunpy.net.hek import HEKClient
        except Exception as err:  # sunpy.net needs optional extras (bs4, zeep)
            raise FFNNError(f"HEK cache {cache} lacks {len(missing)} regions and sunpy.net cannot be "
                            f"imported to fetch them ({err}); give a label CSV instead") from err
        client = HEKClient()
    log.info("flare labels: fetching GOES flares from HEK for %d regions", len(missing))
    events = []
    for start, end in _merge_windows(missing["time"]):
        try:
            events.append(_hek_search(client, start, end))
        except FFNNError:
            raise
        except Exception as err:  # network errors arrive as many types; all mean the same here
            raise FFNNError(f"HEK query {start:%Y-%m-%dT%H:%M} .. {end:%Y-%m-%dT%H:%M} failed ({err}); "
                            f"rerun when online or give a label CSV") from err
    events_all = pd.concat(events, ignore_index=True) if events else events_frame([])

    rows = []
    for noaa, t_rec in zip(missing["noaa"], missing["time"]):
        in_window = events_all[(events_all["noaa"] == int(noaa)) & (events_all["peak"] >= t_rec)
                               & (events_all["peak"] <= t_rec + FORECAST_WINDOW)]
        rows.append({"noaa": str(int(noaa)), "time": t_rec.strftime("%Y-%m-%dT%H:%M:%S"),
                     "flare_class": max_flare_class(in_window["flare_class"])})
    combined = pd.concat([cached.astype(str), pd.DataFrame(rows)], ignore_index=True)
    write_csv_atomic(combined[["noaa", "time", "flare_class"]], cache)
    return combined


def write_csv_atomic(frame: pd.DataFrame, path: str | os.PathLike, sep: str = ",") -> None:
    """Write a table to ``path`` through a temporary file in the same directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            frame.to_csv(handle, sep=sep, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
