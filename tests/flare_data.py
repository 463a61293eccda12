"""Synthetic SHARP keyword tables with a GOES event list whose labels follow a known model.

:func:`synthetic_flares` makes ``n_harps`` regions with ``per_harp`` records each, 48 h apart
(so no flare falls in the window of two records of a region); every fourth HARP holds two
NOAA regions. Keywords are log-normal like
SHARP's; the log-odds of a major flare is ``TRUE_SLOPE * (log10 TOTUSJH - 3)`` plus a
region offset and a constant. Each record gets one flare 12 h after T_REC in its region:
M2.0 when positive, C3.0 otherwise; two unattributed B1.0 flares bracket the list so that
every record's window lies inside it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from astropy.time import Time

TRUE_SLOPE = 3.0
KEYWORDS = ("USFLUX", "TOTUSJZ", "TOTUSJH", "ABSNJZH", "SAVNCPP", "TOTPOT", "MEANGAM", "MEANGBT",
            "MEANGBZ", "MEANGBH", "MEANPOT", "MEANSHR", "MEANJZD", "MEANALP", "MEANJZH", "SHRGT45")
START = pd.Timestamp("2012-01-01T00:00:00", tz="UTC")


def jsoc_tai(times: pd.Series) -> list[str]:
    """UTC timestamps as JSOC T_REC text (TAI)."""
    tai = Time([t.strftime("%Y-%m-%dT%H:%M:%S") for t in times], scale="utc").tai
    return [f"{s}_TAI" for s in tai.strftime("%Y.%m.%d_%H:%M:%S")]


def synthetic_flares(n_harps: int = 40, per_harp: int = 8, seed: int = 1):
    """(keyword table, NCEI event list, true 0/1 labels as a Series aligned with the table)."""
    rng = np.random.default_rng(seed)
    rows, events = [], []
    for h in range(n_harps):
        harpnum, noaa = 100 + h, 11400 + h
        offset = rng.normal(0, 0.3)
        lat, lon0 = rng.uniform(-30, 30), rng.uniform(-70, 0)
        first = START + pd.Timedelta(hours=int(rng.integers(0, 24 * 200)))
        for k in range(per_harp):
            t = first + pd.Timedelta(hours=48 * k)
            totusjh = 10 ** rng.normal(3.0, 0.4)
            ars = f"{noaa},{noaa + 500}" if h % 4 == 0 else str(noaa)  # some HARPs hold two regions
            row = {"HARPNUM": harpnum, "t_utc": t, "NOAA_AR": noaa, "NOAA_ARS": ars,
                   "LAT_FWT": lat, "LON_FWT": lon0 + 26.0 * k}
            for name in KEYWORDS:
                row[name] = 10 ** rng.normal(1.0, 0.5) * (1 if rng.random() < 0.5 or not name.startswith("MEANJ") else -1)
            row["TOTUSJH"] = totusjh
            row["USFLUX"] = 10 ** rng.normal(22, 0.4)
            row["SHRGT45"] = rng.uniform(0, 80)
            logit = TRUE_SLOPE * (np.log10(totusjh) - 3.0) + offset - 1.0
            positive = rng.random() < 1 / (1 + np.exp(-logit))
            rows.append({**row, "label": int(positive)})
            peak = t + pd.Timedelta(hours=12)
            events.append({"Flare Class": "M2.0" if positive else "C3.0", "peak": peak, "noaa": noaa})
    table = pd.DataFrame(rows)
    times = table.pop("t_utc")
    table.insert(1, "T_REC", jsoc_tai(times))
    labels = table.pop("label")
    for peak in (times.min() - pd.Timedelta(days=1), times.max() + pd.Timedelta(days=3)):
        events.append({"Flare Class": "B1.0", "peak": peak, "noaa": 0})
    ev = pd.DataFrame(events).sort_values("peak")
    ncei = pd.DataFrame({
        "Flare Class": ev["Flare Class"],
        "Start Time": (ev["peak"] - pd.Timedelta(minutes=10)).dt.strftime("%Y-%m-%dT%H:%MZ"),
        "Peak Time": ev["peak"].dt.strftime("%Y-%m-%dT%H:%MZ"),
        "End Time": (ev["peak"] + pd.Timedelta(minutes=20)).dt.strftime("%Y-%m-%dT%H:%MZ"),
        "Active Region Number": ev["noaa"],
    })
    return table, ncei.reset_index(drop=True), labels


def summary_layout(table: pd.DataFrame) -> pd.DataFrame:
    """The same records in the workflow's summary-table layout (lower-case identifiers)."""
    out = table.rename(columns={"HARPNUM": "harpnum", "T_REC": "t_rec", "NOAA_AR": "noaa",
                                "NOAA_ARS": "noaa_ars", "LAT_FWT": "lat", "LON_FWT": "lon"})
    out.insert(0, "region", [f"ar{n}_{i}" for i, n in enumerate(out["noaa"])])
    out["energy_erg"] = 1e32
    return out
