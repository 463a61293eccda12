"""SHARP records from JSOC through the ``drms`` client (Glogowski et al. 2019, JOSS 4, 1614;
the series: Bobra et al. 2014, Sol. Phys. 289, 3549).

Three steps, each a function of plain values:

* :func:`resolve`: NOAA region number + time → the HARP holding the region (keyword
  ``NOAA_ARS``, comma-split, exact match) and the SHARP record nearest the time within a
  tolerance, with its keywords (:class:`SharpRecord`).
* :func:`fetch_sharp`: export that record's segments (Br, Bp, Bt and their errors) as FITS
  with keywords and download them; each file is complete or absent.
* :func:`make_client`: a ``drms.Client`` for any base URL (JSOC, a mirror, a test server).
* :func:`resolve_local`: the same description of a record whose FITS files are already on
  disk (a JSOC web export, sunpy's Fido), from their headers: JSOC is not asked.

Times: the user gives UTC; JSOC's ``T_REC`` is TAI (``2011.02.14_20:00:00_TAI``). Conversion
is done with astropy ``Time`` (34 s in 2011), never by string surgery.

Network failures (connection errors, HTTP 5xx, truncated bodies) are retried with
exponential backoff (:class:`JsocSettings` ``retries``, ``backoff_s``). JSOC's "try later"
answer to an export request (status 7: the user already has an export pending, which
clears by itself) is waited out the same way, for at most ``busy_timeout_s``, and logged.
A segment that JSOC serves as a complete FITS file with the record's header but no image
is the record having no data for it: one line with its QUALITY, no retry. Everything else
a user can act on is raised as one line (:class:`~ffnn.util.errors.FFNNError`) naming the
region and the cause.
"""

from __future__ import annotations

import http.client
import logging
import math
import re
import socket
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import drms
import numpy as np
from astropy.io import fits
from astropy.time import Time, TimeDelta

from ffnn.io import sharp
from ffnn.util.errors import ConfigError, DataError, FFNNError
from ffnn.util.files import atomic_write, read_json, write_json
from ffnn.util.settings import from_mapping
from ffnn.util.times import TIME_FORMS, parse_time, parse_trec  # noqa: F401 (ffnn.io.jsoc's API)

log = logging.getLogger(__name__)

DEFAULT_URL = "http://jsoc.stanford.edu/"
SHARP_SERIES = "hmi.sharp_cea_720s"
HARP_SERIES = "hmi.sharp_720s"
SEGMENTS = ("Br", "Bp", "Bt", "Br_err", "Bp_err", "Bt_err")
QUALITY_MODES = ("warn", "fail")

# Integer keywords JSOC prints in hex ("0x00000000"): drms with pandas >= 3 turns them into
# NaN, so they are excluded from its conversion and parsed here.
HEX_KEYWORDS = ("QUALITY", "QUALLEV1", "QUAL_S")

# The SHARP space-weather indices (Bobra et al. 2014) and their uncertainties: a later
# stage uses them as features, so all of them are kept.
SPACE_WEATHER_KEYWORDS = (
    "USFLUX", "MEANGAM", "MEANGBT", "MEANGBZ", "MEANGBH", "MEANJZD", "TOTUSJZ", "MEANALP",
    "MEANJZH", "TOTUSJH", "ABSNJZH", "SAVNCPP", "MEANPOT", "TOTPOT", "MEANSHR", "SHRGT45",
    "R_VALUE", "AREA_ACR",
    "ERRVF", "ERRGAM", "ERRBT", "ERRBZ", "ERRBH", "ERRJZ", "ERRUSI", "ERRALP", "ERRMIH",
    "ERRTUI", "ERRTAI", "ERRJHT", "ERRMPOT", "ERRTPOT", "ERRMSHA",
)
# Identity and position of the record: LAT/LON_FWT is the flux-weighted centre, CRVAL1/2
# the centre of the CEA map (Carrington longitude, latitude; degrees).
RECORD_KEYWORDS = (
    "HARPNUM", "T_REC", "T_OBS", "QUALITY", "NOAA_AR", "NOAA_NUM", "NOAA_ARS",
    "LAT_FWT", "LON_FWT", "LAT_MIN", "LAT_MAX", "LON_MIN", "LON_MAX", "CRVAL1", "CRVAL2",
    "CRLN_OBS", "CRLT_OBS", "DSUN_OBS", "RSUN_REF", "CDELT1", "CDELT2", "NPIX", "SIZE",
    "AREA", "NACR", "SIZE_ACR",
)
KEYWORDS = RECORD_KEYWORDS + SPACE_WEATHER_KEYWORDS

# Export-request states that mean "try again later" (status 7: the address or the IP
# already has pending exports; jsoc_fetch.c), which drms reports as errors.
TRY_LATER_STATUS = (7,)
# What fits_problem() says of a complete file that holds headers but no image.
NO_IMAGE = "the record's header but no image"


class IncompleteDownload(http.client.HTTPException):
    """A downloaded file that is shorter than announced or not a complete FITS file."""


_TRANSIENT = (urllib.error.URLError, http.client.HTTPException, ConnectionError,
              TimeoutError, socket.timeout)


@dataclass(frozen=True)
class JsocSettings:
    """How to talk to JSOC (the ``jsoc:`` config section). Durations in seconds.

    Parameters
    ----------
    url : str, optional
        Base URL of the server (CGIs under ``cgi-bin/ajax/``, files under the base).
        Default ``http://jsoc.stanford.edu/``.
    email : str, optional
        Address registered at JSOC, needed for exports only.
    series : str, optional
        The SHARP series. Default ``hmi.sharp_cea_720s``.
    harp_series : str, optional
        The series whose NOAA_ARS maps NOAA numbers to HARPs. Default ``hmi.sharp_720s``.
    tolerance_s : float, optional
        The largest |T_REC - requested time| accepted, s. Default 3600.
    quality : {"warn", "fail"}, optional
        What a nonzero QUALITY does. Default "warn".
    retries : int, optional
        Extra attempts after a network failure. Default 4.
    backoff_s, max_backoff_s : float, optional
        Wait ``backoff_s`` x 2^k (at most ``max_backoff_s``) before attempt k + 1.
        Defaults 2 and 60 s.
    poll_s : float, optional
        Export status polling interval. Default 5 s.
    export_timeout_s : float, optional
        Give up on an export after this long. Default 3600 s.
    busy_timeout_s : float, optional
        How long to keep requesting an export that JSOC answers with "try later" (waits as
        for retries). Default 900 s.
    http_timeout_s : float, optional
        Timeout of one HTTP request. Default 60 s.

    Raises
    ------
    ffnn.util.errors.ConfigError
        For an unknown quality mode, a negative duration or count, or a URL that is not
        http(s).
    """

    url: str = DEFAULT_URL
    email: str | None = None
    series: str = SHARP_SERIES
    harp_series: str = HARP_SERIES
    tolerance_s: float = 3600.0
    quality: str = "warn"
    retries: int = 4
    backoff_s: float = 2.0
    max_backoff_s: float = 60.0
    poll_s: float = 5.0
    export_timeout_s: float = 3600.0
    busy_timeout_s: float = 900.0
    http_timeout_s: float = 60.0

    def __post_init__(self):
        if self.quality not in QUALITY_MODES:
            raise ConfigError(f"jsoc quality must be one of {QUALITY_MODES}, got {self.quality!r}")
        if min(self.tolerance_s, self.retries, self.backoff_s, self.poll_s,
               self.busy_timeout_s) < 0:
            raise ConfigError("jsoc tolerance_s, retries, backoff_s, poll_s and busy_timeout_s "
                              "must be >= 0")
        if not re.match(r"^https?://", self.url or ""):
            raise ConfigError(f"JSOC URL must start with http:// or https://, got {self.url!r}")

    @classmethod
    def from_mapping(cls, mapping: dict | None, **overrides) -> "JsocSettings":
        """Settings from a config section (unknown keys are an error), then ``overrides``.

        ``tolerance`` may be given as text with a unit (``"1 h"``, ``"30 min"``) instead of
        ``tolerance_s``. Overrides that are None are ignored.
        """
        values = dict(mapping or {})
        if "tolerance" in values:
            values["tolerance_s"] = parse_duration(values.pop("tolerance"))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return from_mapping(cls, values, "jsoc setting")


def parse_duration(text) -> float:
    """Seconds from a number (seconds) or text with a unit: ``"1h"``, ``"30 min"``, ``"90s"``."""
    if isinstance(text, (int, float)):
        return float(text)
    m = re.fullmatch(r"\s*([0-9.]+(?:[eE][-+]?\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    scale = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400}
    if not m or m.group(2).lower() not in scale:
        raise ConfigError(f"cannot read duration {text!r}; use e.g. '1h', '30min', '90s'")
    return float(m.group(1)) * scale[m.group(2).lower()]


# ---------------------------------------------------------------- times and keyword values

def jsoc_time(t: Time) -> str:
    """JSOC TAI time string ``YYYY.MM.DD_HH:MM:SS_TAI`` (whole seconds) of ``t``."""
    iso = t.tai.strftime("%Y.%m.%d_%H:%M:%S")
    return f"{iso}_TAI"


def compact_trec(t_rec: str) -> str:
    """``2011.02.14_20:00:00_TAI`` → ``20110214_200000_TAI`` (JSOC's ``{T_REC:A}`` form)."""
    return str(t_rec).replace(".", "").replace(":", "").replace("-", "")


def parse_hex(value) -> int | None:
    """An integer keyword as JSOC prints it: ``"0x00010000"``, ``"65536"`` or a number."""
    if value is None:
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else int(value)
    text = str(value).strip()
    try:
        return int(text, 0) if text.lower().startswith("0x") else int(float(text))
    except ValueError:
        return None


def noaa_list(noaa_ars) -> list[int]:
    """The NOAA numbers in a ``NOAA_ARS`` value (``"11158,11159"``); never substrings."""
    out = []
    for part in re.split(r"[,\s]+", str(noaa_ars if noaa_ars is not None else "")):
        try:
            out.append(int(float(part)))
        except ValueError:
            continue
    return out


def _plain(value):
    """A keyword value as a plain Python scalar (numpy types unwrapped, bool → int)."""
    if isinstance(value, np.generic):
        value = value.item()
    return int(value) if isinstance(value, bool) else value


# ---------------------------------------------------------------- client and retries

def server_config(url: str) -> drms.ServerConfig:
    """A drms server configuration for JSOC (or a look-alike) at base ``url``."""
    base = url if url.endswith("/") else url + "/"
    return drms.ServerConfig(
        name=f"ffnn-{base}", cgi_baseurl=base + "cgi-bin/ajax/", cgi_jsoc_info="jsoc_info",
        cgi_jsoc_fetch="jsoc_fetch", cgi_check_address="checkAddress.sh",
        http_download_baseurl=base)


def make_client(settings: JsocSettings) -> drms.Client:
    """A ``drms.Client`` for ``settings.url``.

    The email is not given to the client: its setter would ask the server to validate it.
    Exports pass it explicitly, which skips that check.
    """
    return drms.Client(server_config(settings.url))


def _is_transient(err: BaseException) -> bool:
    if isinstance(err, urllib.error.HTTPError):
        return err.code >= 500
    return isinstance(err, _TRANSIENT)


def _describe(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return f"{err.reason}"
    if isinstance(err, IncompleteDownload):
        return str(err)
    return f"{type(err).__name__}: {err}"


def with_retries(action, *, what: str, settings: JsocSettings, sleep=time.sleep):
    """Call ``action()``; on a connection error or HTTP 5xx wait and try again.

    Gives up after ``settings.retries`` extra attempts with an FFNNError that says ``what``
    was being done and the last cause. An HTTP 4xx answer is an FFNNError at once (no retry);
    other errors pass through unchanged.
    """
    attempts = settings.retries + 1
    for attempt in range(attempts):
        try:
            return action()
        except Exception as err:  # noqa: BLE001 - sorted into transient / not below
            if isinstance(err, urllib.error.HTTPError) and err.code < 500:
                raise FFNNError(f"{what}: JSOC at {settings.url} answered {_describe(err)} "
                                f"for {err.url}") from err
            if not _is_transient(err):
                raise
            if attempt == attempts - 1:
                raise FFNNError(f"{what}: JSOC at {settings.url} failed after {attempts} "
                                f"attempt(s): {_describe(err)}") from err
            delay = min(settings.backoff_s * 2**attempt, settings.max_backoff_s)
            log.warning("%s: %s; retry %d/%d in %.3g s", what, _describe(err), attempt + 1,
                        settings.retries, delay)
            sleep(delay)
    raise AssertionError("unreachable")


def _query(client, ds: str, keys, *, what: str, settings: JsocSettings) -> list[dict]:
    """Keyword rows of record set ``ds`` (a list of dicts, hex keywords parsed)."""
    keys = list(keys)

    def run():
        return client.query(ds, key=",".join(keys), skip_conversion=list(HEX_KEYWORDS))

    try:
        frame = with_retries(run, what=what, settings=settings)
    except drms.DrmsQueryError as err:
        raise DataError(f"{what}: JSOC rejected query {ds}: {err}") from err
    except (ValueError, KeyError) as err:  # a body that is not the JSON drms expects
        raise DataError(f"{what}: unexpected JSOC answer to {ds}: {err}") from err
    rows = []
    for rec in frame.to_dict(orient="records"):
        row = {str(k): _plain(v) for k, v in rec.items()}
        for key in HEX_KEYWORDS:
            if key in row:
                row[key] = parse_hex(row[key])
        rows.append(row)
    return rows


# ---------------------------------------------------------------- resolve

@dataclass
class SharpRecord:
    """One SHARP record: its prime keys, QUALITY and keywords (values as JSOC gave them).

    Parameters
    ----------
    harpnum : int
        HARP number (prime key).
    t_rec : str
        T_REC, TAI, as JSOC writes it (``2011.02.15_02:00:00_TAI``; prime key).
    quality : int or None
        The QUALITY bits (0: no known problem).
    keywords : dict, optional
        The record's keywords (NOAA_ARS, the space-weather keywords USFLUX, TOTUSJH ...).
    noaa : int, optional
        The region asked for; None when the HARP was given directly.
    requested : str, optional
        The requested time (UTC, ISO).
    series : str, optional
        The data series. Default ``hmi.sharp_cea_720s``.
    """

    harpnum: int
    t_rec: str
    quality: int | None
    keywords: dict = field(default_factory=dict)
    noaa: int | None = None
    requested: str | None = None
    series: str = SHARP_SERIES

    @property
    def label(self) -> str:
        """How messages name the region: ``NOAA 11158 (HARP 377)`` or ``HARP 377``."""
        return f"NOAA {self.noaa} (HARP {self.harpnum})" if self.noaa else f"HARP {self.harpnum}"

    @property
    def time(self) -> Time:
        """T_REC as an astropy Time (TAI scale)."""
        return parse_trec(self.t_rec)

    @property
    def t_rec_utc(self) -> str:
        """T_REC in UTC, ISO format."""
        return self.time.utc.isot

    @property
    def record_set(self) -> str:
        """The DRMS record-set name ``series[HARPNUM][T_REC]``."""
        return f"{self.series}[{self.harpnum}][{self.t_rec}]"

    def to_dict(self) -> dict:
        """JSON-ready summary (NaN → null)."""
        def clean(v):
            return None if isinstance(v, float) and not math.isfinite(v) else v

        return {"noaa": self.noaa, "harpnum": self.harpnum, "t_rec": self.t_rec,
                "t_rec_utc": self.t_rec_utc, "requested_utc": self.requested,
                "quality": self.quality,
                "quality_hex": None if self.quality is None else f"0x{self.quality:08x}",
                "series": self.series,
                "keywords": {k: clean(v) for k, v in self.keywords.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> "SharpRecord":
        """Inverse of :meth:`to_dict` (NaN values come back as None)."""
        return cls(harpnum=int(d["harpnum"]), t_rec=d["t_rec"], quality=d.get("quality"),
                   keywords=dict(d.get("keywords") or {}), noaa=d.get("noaa"),
                   requested=d.get("requested_utc"), series=d.get("series", SHARP_SERIES))


def _window(t: Time, tolerance_s: float) -> str:
    # whole-second bounds, widened by 1 s so a record exactly at the tolerance is included
    half = TimeDelta(tolerance_s + 1.0, format="sec")
    lo, hi = t.tai - half, t.tai + half
    return f"[{jsoc_time(lo)}-{jsoc_time(hi)}]"


def _fmt_tol(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _fmt_span(seconds: float) -> str:
    """A time difference as exact as its seconds: ``60 min 26 s`` (not ``60 min``, which reads
    as inside a 1 h tolerance), ``121 min``, ``45 s``, ``60 min 0.4 s``."""
    minutes, rest = divmod(float(seconds), 60.0)
    rest_text = f"{rest:.0f}" if abs(rest - round(rest)) < 1e-6 else f"{rest:.1f}"
    if minutes == 0:
        return f"{rest_text} s"
    return f"{minutes:.0f} min" + ("" if rest_text == "0" else f" {rest_text} s")


def find_harps(client, noaa: int, t: Time, settings: JsocSettings) -> list[int]:
    """HARPNUMs whose ``NOAA_ARS`` lists ``noaa`` within the tolerance window around ``t``.

    Raises DataError when JSOC has no record at all in the window, or none holds the region.
    """
    where = f"within ±{_fmt_tol(settings.tolerance_s)} of {t.utc.isot[:19]} UTC"
    ds = f"{settings.harp_series}[]{_window(t, settings.tolerance_s)}"
    rows = _query(client, ds, ("HARPNUM", "NOAA_ARS", "T_REC"),
                  what=f"NOAA {noaa}", settings=settings)
    if not rows:
        raise DataError(f"NOAA {noaa}: no SHARP record {where} (JSOC returned no records "
                        f"for {ds})")
    harps = sorted({int(r["HARPNUM"]) for r in rows if noaa in noaa_list(r.get("NOAA_ARS"))})
    if not harps:
        raise DataError(f"NOAA {noaa}: the region is in no HARP {where} "
                        f"(NOAA_ARS of {len(rows)} record(s) checked)")
    return harps


def nearest_record(client, harpnum: int, t: Time, settings: JsocSettings,
                   noaa: int | None = None) -> SharpRecord:
    """The record of HARP ``harpnum`` in ``settings.series`` nearest ``t`` within tolerance."""
    label = f"NOAA {noaa} (HARP {harpnum})" if noaa else f"HARP {harpnum}"
    ds = f"{settings.series}[{harpnum}]{_window(t, settings.tolerance_s)}"
    rows = _query(client, ds, KEYWORDS, what=label, settings=settings)
    best, best_dt = None, math.inf
    for row in rows:
        try:
            dt = abs((parse_trec(row["T_REC"]) - t).to_value("s"))
        except (DataError, KeyError):
            continue
        if dt <= settings.tolerance_s and (dt < best_dt or (dt == best_dt and best is None)):
            best, best_dt = row, dt
    if best is None:
        raise DataError(f"{label}: no SHARP record within ±{_fmt_tol(settings.tolerance_s)} "
                        f"of {t.utc.isot[:19]} UTC in {settings.series}")
    keywords = {k: v for k, v in best.items()
                if not (isinstance(v, str) and v.strip().lower() == "invalid keylink")}
    return SharpRecord(harpnum=int(best["HARPNUM"]), t_rec=str(best["T_REC"]),
                       quality=parse_hex(best.get("QUALITY")), keywords=keywords, noaa=noaa,
                       requested=t.utc.isot, series=settings.series)


def check_quality(rec: SharpRecord, mode: str) -> None:
    """Nonzero QUALITY: log a warning (``warn``) or raise DataError (``fail``)."""
    if not rec.quality:
        return
    msg = (f"{rec.label}: QUALITY flag 0x{rec.quality:08x} set on record {rec.t_rec} "
           "(observables degraded; see the HMI QUALITY bit table)")
    if mode == "fail":
        raise DataError(msg + "; set jsoc quality to 'warn' to use it anyway")
    log.warning(msg)


def resolve(noaa: int | None, t: Time, settings: JsocSettings, *, harpnum: int | None = None,
            client=None) -> SharpRecord:
    """The SHARP record of a NOAA region (or a HARP) nearest a time, asked of JSOC.

    Parameters
    ----------
    noaa : int or None
        The NOAA active region number; matched against each HARP's NOAA_ARS list (never
        by substring).
    t : `astropy.time.Time`
        The time wanted.
    settings : JsocSettings
        Server, tolerance, QUALITY handling, retries.
    harpnum : int, optional
        The HARP, when known (then ``noaa`` may be None; given both, the HARP must list
        the region).
    client : `drms.Client`, optional
        A client to use (default: one for ``settings.url``).

    Returns
    -------
    SharpRecord
        The record nearest ``t`` within ``settings.tolerance_s``.

    Raises
    ------
    ffnn.util.errors.ConfigError
        When neither ``noaa`` nor ``harpnum`` is given.
    ffnn.util.errors.DataError
        When no HARP holds the region, no record lies within the tolerance, the HARP does
        not hold the region, or QUALITY is nonzero with ``quality: fail``.

    Notes
    -----
    When the region is in several HARPs (a split or merge), the one with the record
    nearest ``t`` wins, ties going to the lower HARPNUM. HARPs and SHARPs: Bobra et al.
    (2014, Sol. Phys. 289, 3549).
    """
    if noaa is None and harpnum is None:
        raise ConfigError("give a NOAA region number (--noaa) or a HARP number (--harpnum)")
    client = client or make_client(settings)
    candidates = [harpnum] if harpnum is not None else find_harps(client, noaa, t, settings)
    found, errors = [], []
    for h in candidates:
        try:
            found.append(nearest_record(client, h, t, settings, noaa=noaa))
        except DataError as err:
            errors.append(err)
    if not found:
        raise errors[0]
    if len(candidates) > 1:
        log.warning("NOAA %s is in HARPs %s; using the one with the nearest record", noaa,
                    candidates)
    rec = min(found, key=lambda r: (abs((r.time - t).to_value("s")), r.harpnum))
    if harpnum is not None and noaa is not None and "NOAA_ARS" in rec.keywords \
            and noaa not in noaa_list(rec.keywords["NOAA_ARS"]):
        raise DataError(f"{rec.label}: HARP {harpnum} does not hold NOAA {noaa} at {rec.t_rec} "
                        f"(NOAA_ARS = {rec.keywords['NOAA_ARS']!r})")
    check_quality(rec, settings.quality)
    return rec


def resolve_local(directory, noaa: int | None, t: Time, settings: JsocSettings, *,
                  harpnum: int | None = None) -> SharpRecord:
    """The record whose FITS files lie in ``directory``, described as :func:`resolve`
    describes a JSOC record, from the Br file's header: HARPNUM, T_REC, QUALITY and the
    :data:`KEYWORDS` it holds. JSOC is not asked.

    The checks are those of :func:`resolve`: the HARP holds ``noaa`` (NOAA_ARS), equals
    ``harpnum`` when given, T_REC lies within ``settings.tolerance_s`` of ``t``, and QUALITY
    per ``settings.quality``. The series is read from JSOC export names
    (``<series>.<HARPNUM>.<T_REC>.<segment>.fits``), else ``settings.series``.
    Raises DataError naming the directory and what does not match.
    """
    if noaa is None and harpnum is None:
        raise ConfigError("give a NOAA region number (--noaa) or a HARP number (--harpnum)")
    path = sharp.find_segments(directory)["Br"]
    _, header = sharp.read_segment(path)
    absent = [k for k in ("HARPNUM", "T_REC") if k not in header]
    if absent:
        raise DataError(f"{path}: no {' or '.join(absent)} keyword: not a SHARP record's file")
    found = int(header["HARPNUM"])
    label = f"NOAA {noaa} (HARP {found})" if noaa else f"HARP {found}"
    where = f"the record in {directory}"
    if harpnum is not None and harpnum != found:
        raise DataError(f"{label}: {where} is of HARP {found}, not HARP {harpnum}")
    if noaa is not None and noaa not in noaa_list(header.get("NOAA_ARS")):
        raise DataError(f"{label}: {where} does not hold NOAA {noaa} "
                        f"(NOAA_ARS = {header.get('NOAA_ARS')!r})")
    t_rec = str(header["T_REC"])
    dt = abs((parse_trec(t_rec) - t).to_value("s"))
    if dt > settings.tolerance_s:
        raise DataError(f"{label}: {where} has T_REC {t_rec}, {_fmt_span(dt)} from "
                        f"{t.utc.isot[:19]} UTC (tolerance ±{_fmt_tol(settings.tolerance_s)})")
    named = re.match(rf"^(.+)\.{found}\.\d{{8}}_\d{{6}}_TAI$", sharp.segment_of(path)[0])
    keywords = {k: _plain(header[k]) for k in KEYWORDS if k in header}
    keywords["QUALITY"] = parse_hex(header.get("QUALITY"))
    rec = SharpRecord(harpnum=found, t_rec=t_rec, quality=keywords["QUALITY"],
                      keywords=keywords, noaa=noaa, requested=t.utc.isot,
                      series=named.group(1) if named else settings.series)
    check_quality(rec, settings.quality)
    return rec


# ---------------------------------------------------------------- download

def local_name(rec: SharpRecord, segment: str) -> str:
    """File name of one segment: JSOC's own form ``series.HARP.T_REC.segment.fits``."""
    return f"{rec.series}.{rec.harpnum}.{compact_trec(rec.t_rec)}.{segment}.fits"


def fits_problem(path) -> str | None:
    """Why ``path`` is not a complete FITS image (None when it is).

    Checks: nonempty, a multiple of the 2880-byte FITS block, readable headers, and image
    data of the size its header announces (astropy warns and pads on a truncated file; that
    warning counts as a problem here). A complete file whose headers carry the record (T_REC)
    but no image gives :data:`NO_IMAGE`: the record has no data for the segment.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as err:
        return f"cannot stat: {err}"
    if size == 0:
        return "empty file"
    if size % 2880:
        return f"size {size} bytes is not a whole number of 2880-byte FITS blocks"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with fits.open(path, memmap=False, lazy_load_hdus=False) as hdul:
                images = [h for h in hdul if h.is_image and h.header.get("NAXIS", 0) >= 2
                          or isinstance(h, fits.CompImageHDU)]
                if not images:
                    return NO_IMAGE if any("T_REC" in h.header for h in hdul) else "no image HDU"
                data = images[0].data
                if data is None or data.ndim != 2:
                    return "image has no 2-D data"
    except Exception as err:  # noqa: BLE001 - anything astropy raises means "not usable"
        return f"not a readable FITS file: {type(err).__name__}: {err}"
    return None


def _download(url: str, dest: Path, settings: JsocSettings) -> int:
    """Fetch ``url`` into ``dest`` via a temporary name; return the size. Raises on problems.

    A short body (Content-Length mismatch) or a file that is not valid FITS raises
    :class:`IncompleteDownload` (transient) so the caller's retry loop fetches it again; a
    complete file without an image raises :class:`ffnn.io.sharp.SegmentWithoutData` (not
    retried). The temporary file is removed either way, so ``dest`` is complete or absent.
    """
    got = 0

    def fetch(tmp):
        nonlocal got
        with open(tmp, "wb") as out:
            req = drms.utils.create_request_with_header(url)
            with urllib.request.urlopen(req, timeout=settings.http_timeout_s) as resp:
                expected = resp.headers.get("Content-Length")
                while chunk := resp.read(1 << 20):
                    out.write(chunk)
                    got += len(chunk)
        if expected is not None and got != int(expected):
            raise IncompleteDownload(f"truncated: got {got} of {expected} bytes from {url}")
        problem = fits_problem(tmp)
        if problem == NO_IMAGE:
            raise sharp.SegmentWithoutData(f"{url} holds {NO_IMAGE}")
        if problem:
            raise IncompleteDownload(f"incomplete file from {url}: {problem}")

    atomic_write(dest, fetch)
    return got


@dataclass
class FetchResult:
    """Where each segment lies, and which of them this call downloaded."""

    record: SharpRecord
    paths: dict[str, Path]
    downloaded: list[str]


def fetch_sharp(rec: SharpRecord, out_dir, settings: JsocSettings, *, segments=SEGMENTS,
                 client=None) -> FetchResult:
    """Download a record's segments as FITS files (keywords in the headers).

    Parameters
    ----------
    rec : SharpRecord
        The record (:func:`resolve`).
    out_dir : path-like
        The directory for the files, named as JSOC exports them
        (``<series>.<HARPNUM>.<T_REC>.<segment>.fits``).
    settings : JsocSettings
        Server, the registered ``email`` (needed for an export), retries and timeouts.
    segments : tuple of str, optional
        Which segments. Default Br, Bp, Bt, Br_err, Bp_err, Bt_err.
    client : `drms.Client`, optional
        A client to use (default: one for ``settings.url``).

    Returns
    -------
    FetchResult
        ``record``, ``paths`` (segment -> file) and ``downloaded`` (the segments this
        call fetched).

    Raises
    ------
    ffnn.util.errors.ConfigError
        When an export is needed and ``settings.email`` is not set.
    ffnn.util.errors.FFNNError
        When JSOC fails the export, times out, or a file arrives incomplete.

    Notes
    -----
    Segments already present as complete FITS files are not fetched again; when all are
    present nothing is requested from JSOC. Files are written whole (temporary name,
    then renamed).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {s: out_dir / local_name(rec, s) for s in segments}
    missing = []
    for seg, path in paths.items():
        if path.exists():
            problem = fits_problem(path)
            if problem is None:
                continue
            log.warning("%s: %s is incomplete (%s); fetching it again", rec.label, path.name,
                        problem)
            path.unlink()
        missing.append(seg)
    if not missing:
        log.info("%s: all %d segment files present in %s", rec.label, len(paths), out_dir)
        return FetchResult(rec, paths, [])
    if not settings.email:
        raise ConfigError(f"{rec.label}: downloading {rec.t_rec} needs an export email "
                          "registered at JSOC: pass --email, set jsoc.email in the config "
                          "or the JSOC_EMAIL environment variable")
    client = client or make_client(settings)
    urls = _export_urls(client, rec, missing, settings)
    done = []
    for seg in missing:
        what = f"{rec.label}: download of {seg}"
        try:
            with_retries(lambda: _download(urls[seg], paths[seg], settings), what=what,
                         settings=settings)
        except sharp.SegmentWithoutData as err:
            raise DataError(f"{rec.label}: record {rec.record_set} has no data for segment "
                            f"{seg} (QUALITY {sharp.quality_text(rec.quality)}): JSOC served "
                            "its header without an image; not retried") from err
        done.append(seg)
        log.info("%s: %s → %s", rec.label, seg, paths[seg])
    return FetchResult(rec, paths, done)


def _finished_export(client, rec: SharpRecord, segments, what: str, settings: JsocSettings):
    """Request the export and wait until JSOC has made its files; a finished
    ``drms.ExportRequest``.

    A "try later" answer (:data:`TRY_LATER_STATUS`) is requested again after
    ``backoff_s``, doubling up to ``max_backoff_s``, for at most ``busy_timeout_s``; then
    DataError. Other export errors raise ``drms.DrmsExportError``.
    """
    ds = f"{rec.record_set}{{{','.join(segments)}}}"
    fmt = f"{rec.series}.{{HARPNUM}}.{{T_REC:A}}.{{segment}}"
    start, requests, delay = time.monotonic(), 0, settings.backoff_s
    while True:
        req = with_retries(lambda: client.export(ds, method="url", protocol="fits",
                                                 email=settings.email, filenamefmt=fmt),
                           what=what, settings=settings)
        requests += 1
        try:
            finished = with_retries(lambda: req.wait(timeout=settings.export_timeout_s,
                                                     sleep=settings.poll_s),
                                    what=what, settings=settings)
        except drms.DrmsExportError as err:
            if req.status not in TRY_LATER_STATUS:
                raise
            waited = time.monotonic() - start
            if waited + delay > settings.busy_timeout_s:
                raise DataError(f"{what}: JSOC still answers 'try later' after {requests} "
                                f"export request(s) in {waited:.0f} s (jsoc busy_timeout_s = "
                                f"{settings.busy_timeout_s:g} s): {err}") from err
            log.warning("%s: JSOC answers 'try later' (%s); export request %d again in %.3g s "
                        "(%.0f of %g s waited)", what, err, requests + 1, delay, waited,
                        settings.busy_timeout_s)
            time.sleep(delay)
            delay = min(2 * delay, settings.max_backoff_s)
            continue
        if not finished:
            raise DataError(f"{what}: JSOC did not finish within {settings.export_timeout_s:g} s"
                            f" (request {req.id})")
        return req


def _export_urls(client, rec: SharpRecord, segments, settings: JsocSettings) -> dict[str, str]:
    """Request an export of ``segments`` of ``rec`` and return each segment's URL."""
    what = f"{rec.label}: export of {rec.t_rec}"
    try:
        req = _finished_export(client, rec, segments, what, settings)
        table = with_retries(lambda: req.urls, what=what, settings=settings)
    except drms.DrmsExportError as err:
        raise DataError(f"{what}: JSOC export failed: {err}") from err
    urls = {}
    for filename, url in zip(table["filename"], table["url"]):
        for seg in segments:
            if str(filename).endswith(f".{seg}.fits"):
                urls[seg] = url
    lost = [s for s in segments if s not in urls]
    if lost:
        raise DataError(f"{what}: export holds no file for segment(s) {lost} "
                        f"(files: {list(table['filename'])})")
    return urls


def write_record(rec: SharpRecord, path) -> Path:
    """Write :meth:`SharpRecord.to_dict` as JSON."""
    return write_json(rec.to_dict(), path)


def read_record(path) -> SharpRecord:
    """Read a record written by :func:`write_record`."""
    data = read_json(path, "SHARP record file")
    try:
        return SharpRecord.from_dict(data)
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(f"cannot read SHARP record file {path}: {err!r} missing or malformed") from err


__all__ = ["JsocSettings", "SharpRecord", "FetchResult", "make_client", "server_config",
           "resolve", "resolve_local", "find_harps", "nearest_record", "check_quality",
           "fetch_sharp", "fits_problem", "parse_time", "parse_trec", "jsoc_time", "parse_hex", "noaa_list",
           "with_retries", "write_record", "read_record"]
