"""A JSOC look-alike HTTP server for tests, and synthetic SHARP CEA records to serve.

It speaks what ``drms`` sends (JSOC's jsoc_info and jsoc_fetch CGIs), under ``<base>/cgi-bin/ajax/``:

* ``jsoc_info?op=series_struct&ds=S``: the series' prime keys, keywords (with types, so drms
  converts numbers) and segments;
* ``jsoc_info?op=rs_list&ds=S[HARP][T]&key=...&seg=...``: keyword values as strings, as JSOC
  prints them (QUALITY in hex); ``HARP`` empty, a number or a comma list; ``T`` empty, one
  time, ``T1-T2`` or ``T/1h`` (JSOC TAI form ``2011.02.14_20:00:00_TAI``), either range
  optionally with a cadence ``@1h`` (see the section at the end);
* ``jsoc_fetch?op=exp_request&ds=...&notify=...`` then ``op=exp_status&requestid=...``
  (pending for ``pending_polls`` polls, then done with ``dir`` and ``data``);
* ``<base>/SUM<k>/D<n>/S00000/<filename>``: the exported FITS files.

Every record is served under every name in ``series`` (by default both
``hmi.sharp_cea_720s`` and ``hmi.sharp_720s``, whose keywords are the same).

Failure knobs (set them on a running server; they apply to later requests):

* ``fail_first(k, status=500, match=None)``: the next ``k`` requests whose path+query
  contains ``match`` get HTTP ``status``;
* ``down = True``: every request gets HTTP 500;
* ``truncate_next(k, mode)``: the next ``k`` file downloads are cut to about half, either
  with a Content-Length announcing the full file (``"body"``: the connection ends early) or
  announcing the cut size (``"file"``: a short file cut at a FITS block boundary);
* ``empty = True``: rs_list finds no records;
* ``export_error = "message"``: exports end with status 4 and that error;
* ``busy_next(k)``: the next ``k`` export requests are answered as JSOC answers a user who
  already has an export pending: status 7 and jsoc_fetch's message, no request id.

A record can lack data for some segments (``sharp_record(..., without_image=("Bp",))``):
those files are served as JSOC serves a record without an image, a complete FITS file whose
primary header carries the record's keywords and no data.

``requests`` logs every request as ``(kind, path_and_query)`` with kind one of
``series_struct``, ``rs_list``, ``exp_request``, ``exp_status``, ``file``, ``other``;
``count(kind)`` counts them.
"""

from __future__ import annotations

import io
import json
import math
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np

SHARP_SERIES = "hmi.sharp_cea_720s"
HARP_SERIES = "hmi.sharp_720s"
SEGMENTS = ("Br", "Bp", "Bt", "Br_err", "Bp_err", "Bt_err")
PIXEL_DEG = 0.03
RSUN_REF_M = 696_000_000.0


# ---------------------------------------------------------------- records and FITS

@dataclass
class FakeRecord:
    """One SHARP record: prime keys, keywords (Python values) and segment files.

    ``files`` maps segment name → FITS bytes, or is a callable returning that mapping
    (called once, on first use, so records that are never downloaded cost nothing).
    """

    harpnum: int
    t_rec: str
    keywords: dict
    files: object = None
    _cache: dict | None = field(default=None, repr=False)

    def file(self, segment: str) -> bytes | None:
        if self._cache is None:
            self._cache = dict(self.files() if callable(self.files) else (self.files or {}))
        return self._cache.get(segment)

    @property
    def time(self) -> datetime:
        return parse_tai(self.t_rec)


def parse_tai(text: str) -> datetime:
    """``2011.02.14_20:00:00_TAI`` (seconds optional) → naive datetime on the TAI scale."""
    m = re.fullmatch(r"(\d{4})\.(\d{2})\.(\d{2})_(\d{2}):(\d{2})(?::(\d{2})(?:\.\d*)?)?(?:_TAI)?",
                     text.strip())
    if not m:
        raise ValueError(f"bad JSOC time {text!r}")
    y, mo, d, h, mi, s = (int(v) if v else 0 for v in m.groups())
    return datetime(y, mo, d, h, mi, s)


def format_tai(t: datetime) -> str:
    return t.strftime("%Y.%m.%d_%H:%M:%S_TAI")


def tai_to_utc_iso(t_rec: str) -> str:
    """TAI → UTC for the DATE-OBS header (leap-second offset from astropy)."""
    from astropy.time import Time

    return Time(parse_tai(t_rec), scale="tai").utc.isot


def sharp_field(nx: int, ny: int, *, peak_g: float = 1500.0, lowlou=(1, 1, 0.3, np.pi / 4)):
    """Bottom field (Br, Bp, Bt), each (ny, nx) float32 in G, from a Low & Lou field.

    The longer side of the map spans [-1, 1] of the unit box; Bz is scaled so max |Br| is
    ``peak_g``. FITS order: rows are latitude (y), columns longitude (x); Br = Bz,
    Bp = Bx, Bt = −By (Bt points south).
    """
    return _sharp_field(nx, ny, float(peak_g), tuple(lowlou))


@lru_cache(maxsize=8)
def _sharp_field(nx, ny, peak_g, lowlou):
    from ffnn.analysis.lowlou import lowlou_field

    s = 2.0 / (max(nx, ny) - 1)
    x = (np.arange(nx) - (nx - 1) / 2) * s
    y = (np.arange(ny) - (ny - 1) / 2) * s
    X, Y = np.meshgrid(x, y)  # (ny, nx): FITS row = y
    bx, by, bz = lowlou_field(X, Y, np.zeros_like(X), *lowlou)
    k = peak_g / np.nanmax(np.abs(bz))
    out = tuple((k * a).astype(np.float32) for a in (bz, bx, -by))
    for a in out:
        a.flags.writeable = False  # shared by the cache: callers copy before changing
    return out


def fits_bytes(data: np.ndarray | None, header: dict, *, compressed: bool = True,
               raw_cards: dict | None = None) -> bytes:
    """FITS file bytes as JSOC exports them: an empty primary HDU and a compressed image
    (lossless GZIP_2, so served values are exact), or one uncompressed primary image; with
    ``data`` None, the header alone in the primary HDU (a record without this segment).

    ``raw_cards`` (keyword → value text) are written verbatim, as JSOC writes values that
    FITS does not allow (``{"R_VALUE": "nan"}`` gives the card ``R_VALUE = nan``).
    """
    from astropy.io import fits

    hdr = fits.Header()
    for key, value in {**header, **{k: "" for k in raw_cards or {}}}.items():
        hdr[key] = value
    if data is None:
        hdul = fits.HDUList([fits.PrimaryHDU(header=hdr)])
    elif compressed:
        hdul = fits.HDUList([fits.PrimaryHDU(),
                             fits.CompImageHDU(data, hdr, compression_type="GZIP_2",
                                               quantize_level=0.0)])
    else:
        hdul = fits.HDUList([fits.PrimaryHDU(data, hdr)])
    buf = io.BytesIO()
    hdul.writeto(buf, checksum=not raw_cards)
    return inject_cards(buf.getvalue(), raw_cards or {})


def inject_cards(body: bytes, raw_cards: dict) -> bytes:
    """Replace the header card of each keyword in ``raw_cards`` by ``KEYWORD = <text>``,
    byte for byte (astropy would quote or refuse such values when writing)."""
    out = bytearray(body)
    for key, text in raw_cards.items():
        card = f"{key:<8}= {text}".ljust(80).encode("ascii")
        at = next((i for i in range(0, len(out), 80) if out[i:i + 10] == card[:10]), None)
        if at is None:
            raise ValueError(f"no card {key} to replace")
        out[at:at + 80] = card
    return bytes(out)


def sharp_keywords(harpnum: int, t_rec: str, noaa_ars: str, *, quality: int = 0,
                   lon: float = 34.0, lat: float = -20.4, nx: int = 96, ny: int = 64) -> dict:
    """Plausible SHARP keywords for a record (space-weather values are fixed numbers)."""
    noaa = [int(v) for v in noaa_ars.split(",")]
    return {
        "HARPNUM": harpnum, "T_REC": t_rec, "T_OBS": t_rec.replace(":00_TAI", ":00.00_TAI"),
        "QUALITY": int(quality), "NOAA_AR": noaa[0], "NOAA_NUM": len(noaa),
        "NOAA_ARS": noaa_ars, "LAT_FWT": lat + 0.3, "LON_FWT": lon - 0.2,
        "LAT_MIN": lat - ny * PIXEL_DEG / 2, "LAT_MAX": lat + ny * PIXEL_DEG / 2,
        "LON_MIN": lon - nx * PIXEL_DEG / 2, "LON_MAX": lon + nx * PIXEL_DEG / 2,
        "CRVAL1": lon, "CRVAL2": lat, "CRLN_OBS": 34.1, "CRLT_OBS": -6.6,
        "DSUN_OBS": 1.4766e11, "RSUN_REF": RSUN_REF_M, "CDELT1": PIXEL_DEG,
        "CDELT2": PIXEL_DEG, "NPIX": nx * ny, "SIZE": 1000.0, "AREA": 600.0, "NACR": 900,
        "SIZE_ACR": 400.0,
        "USFLUX": 2.1e22, "MEANGAM": 34.2, "MEANGBT": 95.1, "MEANGBZ": 102.3,
        "MEANGBH": 60.2, "MEANJZD": 0.31, "TOTUSJZ": 3.9e13, "MEANALP": 0.012,
        "MEANJZH": 0.0051, "TOTUSJH": 2140.5, "ABSNJZH": 320.7, "SAVNCPP": 1.2e13,
        "MEANPOT": 7200.0, "TOTPOT": 2.7e23, "MEANSHR": 38.5, "SHRGT45": 25.3,
        "R_VALUE": 4.95, "AREA_ACR": 480.3,
        "ERRVF": 1.1e19, "ERRGAM": 0.02, "ERRBT": 0.04, "ERRBZ": 0.05, "ERRBH": 0.03,
        "ERRJZ": 0.001, "ERRUSI": 3.1e10, "ERRALP": 1e-5, "ERRMIH": 1e-6, "ERRTUI": 0.9,
        "ERRTAI": 0.5, "ERRJHT": 1.1e11, "ERRMPOT": 4.1, "ERRTPOT": 1.5e20, "ERRMSHA": 0.01,
    }


def sharp_record(harpnum: int, t_rec: str, noaa_ars: str, *, nx: int = 96, ny: int = 64,
                 quality: int = 0, nan_patch: bool = True, compressed: bool = True,
                 peak_g: float = 1500.0, lowlou=(1, 1, 0.3, np.pi / 4),
                 lon: float = 34.0, lat: float = -20.4, without_image=(),
                 raw_cards: dict | None = None) -> FakeRecord:
    """A synthetic SHARP CEA record with realistic headers and the six segments.

    Data: :func:`sharp_field` on an ``nx`` × ``ny`` CEA grid of 0.03° pixels (0.3644 Mm at
    RSUN_REF = 696 Mm). With ``nan_patch`` a block of rows 5..12 and columns 9..20 is NaN
    in every segment (not aligned with 2×2 bins, so binning sees partly-NaN blocks).
    Errors: 8 G + 2 % of |B| (positive magnitudes). Headers carry every keyword of
    :func:`sharp_keywords` plus the CEA WCS, so sunpy reads them as HMI maps. Segments in
    ``without_image`` are header-only files (the record has no data for them);
    ``raw_cards`` are written verbatim into every header (:func:`fits_bytes`).
    """
    keywords = sharp_keywords(harpnum, t_rec, noaa_ars, quality=quality, lon=lon, lat=lat,
                              nx=nx, ny=ny)

    def make_files():
        br, bp, bt = sharp_field(nx, ny, peak_g=peak_g, lowlou=lowlou)
        arrays = {"Br": br, "Bp": bp, "Bt": bt}
        for name in ("Br", "Bp", "Bt"):
            arrays[f"{name}_err"] = (8.0 + 0.02 * np.abs(arrays[name])).astype(np.float32)
        files = {}
        for seg, arr in arrays.items():
            arr = arr.copy()
            if nan_patch:
                arr[5:13, 9:21] = np.nan
            files[seg] = fits_bytes(None if seg in without_image else arr,
                                    segment_header(keywords, seg, nx, ny), compressed=compressed,
                                    raw_cards=raw_cards)
        return files

    return FakeRecord(harpnum, t_rec, keywords, make_files)


def segment_header(keywords: dict, segment: str, nx: int, ny: int) -> dict:
    """FITS header cards of one exported segment: CEA WCS + the record's keywords."""
    date_obs = tai_to_utc_iso(keywords["T_REC"])
    hdr = {
        "TELESCOP": "SDO/HMI", "INSTRUME": "HMI_SIDE1", "WAVELNTH": 6173.0,
        "CONTENT": f"SHARP CEA {segment}", "BUNIT": "Mx/cm^2",
        "WCSNAME": "Carrington Heliographic", "CTYPE1": "CRLN-CEA", "CTYPE2": "CRLT-CEA",
        "CUNIT1": "degree", "CUNIT2": "degree", "CRPIX1": (nx + 1) / 2, "CRPIX2": (ny + 1) / 2,
        "CROTA2": 0.0, "DATE-OBS": date_obs, "RSUN_OBS": 974.6, "HGLN_OBS": 0.0,
        "HGLT_OBS": keywords["CRLT_OBS"], "CAR_ROT": 2107,
    }
    for key, value in keywords.items():
        hdr[key] = value
    return hdr


def default_records(times=("2011.02.14_19:36:00_TAI", "2011.02.14_19:48:00_TAI",
                           "2011.02.14_20:00:00_TAI", "2011.02.14_20:12:00_TAI",
                           "2011.02.14_20:24:00_TAI"), **kw) -> list[FakeRecord]:
    """Two HARPs at a 12-minute cadence: HARP 377 holds NOAA 11158 and 11159, HARP 401
    holds NOAA 11161 (its map is centred elsewhere). ``kw`` goes to :func:`sharp_record`."""
    out = []
    for t in times:
        out.append(sharp_record(377, t, "11158,11159", **kw))
        out.append(sharp_record(401, t, "11161", lon=60.0, lat=15.0, **kw))
    return out


# ---------------------------------------------------------------- record-set parsing

_RS = re.compile(r"^\s*([\w.]+)\s*((?:\[[^\]]*\])*)\s*(?:\{([^}]*)\})?\s*$")
_DURATION = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_record_set(ds: str):
    """``series[harp][time]{segs}`` → (series, harp filter, time filter, segments)."""
    m = _RS.match(ds)
    if not m:
        raise ValueError(f"cannot parse record set {ds!r}")
    series, brackets, segs = m.groups()
    parts = re.findall(r"\[([^\]]*)\]", brackets or "")
    harp = parts[0].strip() if len(parts) > 0 else ""
    when = parts[1].strip() if len(parts) > 1 else ""
    harps = None if harp == "" else {int(h) for h in harp.split(",")}
    if when == "":
        window = None
    elif "/" in when:
        start, dur = when.split("/")
        dm = re.fullmatch(r"([0-9.]+)([smhd])", dur.strip())
        t0 = parse_tai(start)
        window = (t0, t0 + timedelta(seconds=float(dm.group(1)) * _DURATION[dm.group(2)]), True)
    elif re.search(r"TAI\s*-\s*\d", when):
        a, b = re.split(r"(?<=TAI)\s*-\s*", when, maxsplit=1)
        window = (parse_tai(a), parse_tai(b), False)
    else:
        t0 = parse_tai(when)
        window = (t0, t0, False)
    seglist = [s.strip() for s in segs.split(",") if s.strip()] if segs else None
    return series.lower(), harps, window, seglist


def _select(records, harps, window):
    out = []
    for r in records:
        if harps is not None and r.harpnum not in harps:
            continue
        if window is not None:
            t0, t1, open_end = window
            if r.time < t0 or r.time > t1 or (open_end and r.time == t1):
                continue
        out.append(r)
    return sorted(out, key=lambda r: (r.harpnum, r.time))


def _jsoc_value(key: str, value) -> str:
    if key in ("QUALITY",) and isinstance(value, int):
        return f"0x{value:08x}"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    return str(value)


def _jsoc_type(key: str, value) -> str:
    if key in ("T_REC", "T_OBS"):
        return "time"
    if isinstance(value, bool) or isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    return "string"


# ---------------------------------------------------------------- the server

class FakeJSOC:
    """The server. ``start()`` returns the base URL (``http://127.0.0.1:<port>/``);
    ``stop()`` shuts it down; also a context manager. ``records`` may be changed at any
    time (``add``)."""

    def __init__(self, records=(), *, series=(SHARP_SERIES, HARP_SERIES),
                 pending_polls: int = 1):
        self.records: list[FakeRecord] = list(records)
        self.series = tuple(s.lower() for s in series)
        self.pending_polls = pending_polls
        self.requests: list[tuple[str, str]] = []
        self.down = False
        self.empty = False
        self.export_error: str | None = None
        self._busy = 0  # export requests still to answer with status 7
        self._fail = []  # [remaining, status, match]
        self._truncate = []  # modes of the next truncated downloads
        self._exports: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._httpd = None
        self._thread = None

    # -- control
    def add(self, *records: FakeRecord) -> None:
        self.records.extend(records)

    def fail_first(self, k: int, status: int = 500, match: str | None = None) -> None:
        """The next ``k`` requests containing ``match`` (any when None) get HTTP ``status``."""
        with self._lock:
            self._fail.append([int(k), int(status), match])

    def truncate_next(self, k: int = 1, mode: str = "file") -> None:
        """Cut the next ``k`` file downloads (``mode`` "file" or "body", see module doc)."""
        if mode not in ("file", "body"):
            raise ValueError(mode)
        with self._lock:
            self._truncate.extend([mode] * k)

    def busy_next(self, k: int) -> None:
        """Answer the next ``k`` export requests with status 7 ("try later")."""
        with self._lock:
            self._busy = int(k)

    def count(self, kind: str) -> int:
        with self._lock:
            return sum(1 for k, _ in self.requests if k == kind)

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> str:
        handler = type("Handler", (_Handler,), {"jsoc": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- request handling (called from the handler thread)
    def _failure_for(self, target: str) -> int | None:
        with self._lock:
            if self.down:
                return 500
            for rule in self._fail:
                remaining, status, match = rule
                if remaining > 0 and (match is None or match in target):
                    rule[0] -= 1
                    return status
        return None

    def _records_of(self, series):
        return self.records if series in self.series else None

    def series_struct(self, q):
        name = q.get("ds", "").split("[")[0].strip().lower()
        if name not in self.series:
            return {"status": 1, "error": f"Series {name} does not exist"}
        sample = self.records[0].keywords if self.records else {"HARPNUM": 0, "T_REC": ""}
        keywords = [{"name": k, "type": _jsoc_type(k, v), "recscope": "variable",
                     "defval": "", "units": "", "note": "", "linkinfo": ""}
                    for k, v in sample.items()]
        segments = [{"name": s, "type": "float", "units": "Mx/cm^2", "protocol": "fits",
                     "dims": "VARxVAR", "note": ""} for s in SEGMENTS]
        return {"note": f"fake {name}", "retention": 10000, "unitsize": 32, "archive": 1,
                "tapegroup": 1, "primekeys": ["HARPNUM", "T_REC"], "dbindex": ["HARPNUM"],
                "keywords": keywords, "links": [], "segments": segments, "status": 0}

    def rs_list(self, q):
        try:
            ds, step = split_cadence(q.get("ds", ""))
            series, harps, window, _ = parse_record_set(ds)
        except ValueError as err:
            return {"status": 1, "error": str(err)}
        records = self._records_of(series)
        if records is None:
            return {"status": 1, "error": f"Series {series} does not exist"}
        rows = [] if self.empty else on_cadence(_select(records, harps, window), window, step)
        keys = [k for k in q.get("key", "").split(",") if k]
        segs = [s for s in q.get("seg", "").split(",") if s]
        out = {"count": len(rows), "runtime": 0.01, "status": 0}
        out["keywords"] = [{"name": k, "values": [
            _jsoc_value(k, r.keywords[k]) if k in r.keywords else "Invalid KeyLink"
            for r in rows]} for k in keys]
        out["segments"] = [{"name": s, "values": [f"/SUM1/D{r.harpnum}/S00000/{s}.fits"
                                                   for r in rows],
                            "dims": ["VARxVAR"] * len(rows)} for s in segs]
        return out

    def exp_request(self, q):
        if not q.get("notify"):
            return {"status": 4, "error": "Email address not provided (notify)"}
        try:
            series, harps, window, segs = parse_record_set(q.get("ds", ""))
        except ValueError as err:
            return {"status": 4, "error": str(err)}
        records = self._records_of(series)
        if records is None:
            return {"status": 4, "error": f"Series {series} does not exist"}
        rows = _select(records, harps, window)
        fmt = q.get("filenamefmt") or f"{series}.{{HARPNUM}}.{{T_REC:A}}.{{segment}}"
        with self._lock:
            if self._busy > 0:
                self._busy -= 1
                pending = f"JSOC_20110214_{len(self._exports):03d}"
                return {"status": 7, "error": (
                    f"User {q['notify']} has 1 pending export requests ({pending}); please "
                    "wait until at least one request has completed before submitting a new one.")}
            reqid = f"JSOC_20110214_{len(self._exports) + 1:03d}"
            files, data = {}, []
            for r in rows:
                for s in segs or SEGMENTS:
                    if r.file(s) is None:
                        continue
                    name = (fmt.replace("{HARPNUM}", str(r.harpnum))
                            .replace("{T_REC:A}", r.t_rec.replace(".", "").replace(":", ""))
                            .replace("{segment}", s)) + ".fits"
                    files[name] = (r, s)
                    data.append({"record": f"{series}[{r.harpnum}][{r.t_rec}]{{{s}}}",
                                 "filename": name})
            n = len(self._exports) + 1
            self._exports[reqid] = {"polls": 0, "files": files, "data": data,
                                    "dir": f"/SUM{n}/D{1000 + n}/S00000", "error": self.export_error}
        return {"status": 2, "requestid": reqid, "method": q.get("method", "url"),
                "protocol": q.get("protocol", "FITS"), "wait": 0, "rcount": len(rows),
                "size": 0}

    def exp_status(self, q):
        reqid = q.get("requestid", "")
        with self._lock:
            exp = self._exports.get(reqid)
            if exp is None:
                return {"status": 6, "error": f"Request {reqid} not found", "requestid": reqid}
            exp["polls"] += 1
            if exp["polls"] <= self.pending_polls:
                return {"status": 1, "requestid": reqid, "wait": 0}
            if exp["error"]:
                return {"status": 4, "requestid": reqid, "error": exp["error"]}
            return {"status": 0, "requestid": reqid, "method": "url", "protocol": "FITS",
                    "dir": exp["dir"], "wait": 0, "count": len(exp["data"]),
                    "size": sum(len(r.file(s)) for r, s in exp["files"].values()),
                    "data": exp["data"]}

    def file_for(self, path: str):
        with self._lock:
            for exp in self._exports.values():
                prefix = exp["dir"] + "/"
                if path.startswith(prefix) and path[len(prefix):] in exp["files"]:
                    r, s = exp["files"][path[len(prefix):]]
                    mode = self._truncate.pop(0) if self._truncate else None
                    return r.file(s), mode
        return None, None


class _Handler(BaseHTTPRequestHandler):
    jsoc: FakeJSOC = None
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, status: int, body: bytes, ctype="application/json", length=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - http.server's naming
        jsoc = self.jsoc
        parts = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        op = q.get("op", "")
        if parts.path.endswith("/jsoc_info") or parts.path.endswith("/jsoc_fetch"):
            kind = op if op in ("series_struct", "rs_list", "exp_request", "exp_status") else "other"
        elif parts.path.startswith("/SUM"):
            kind = "file"
        else:
            kind = "other"
        with jsoc._lock:
            jsoc.requests.append((kind, self.path))
        status = jsoc._failure_for(self.path)
        if status is not None:
            self._send(status, b"<html>Internal Server Error</html>", "text/html")
            return
        if kind == "file":
            body, mode = jsoc.file_for(parts.path)
            if body is None:
                self._send(404, b"not found", "text/plain")
            elif mode == "body":
                self._send(200, body[: len(body) // 2], "application/fits", length=len(body))
            elif mode == "file":
                cut = max(2880, (len(body) // 2) // 2880 * 2880)
                self._send(200, body[:cut], "application/fits")
            else:
                self._send(200, body, "application/fits")
            return
        handlers = {"series_struct": jsoc.series_struct, "rs_list": jsoc.rs_list,
                    "exp_request": jsoc.exp_request, "exp_status": jsoc.exp_status}
        if kind not in handlers:
            self._send(404, b'{"status": 1, "error": "unknown op"}')
            return
        self._send(200, json.dumps(handlers[kind](q)).encode("latin1"))


# ---------------------------------------------------------------- cadence: [T1-T2@1h] (issue 14)
# JSOC's step syntax for a time range: ``[2011.02.14_00:00:00_TAI/1d@1h]`` keeps the records
# at start, start + 1 h, ... (every fifth 12-minute slot). Used by rs_list only.

_STEP = re.compile(r"@\s*([0-9.]+)\s*([smhd])\s*(?=\])")


def split_cadence(ds: str):
    """``series[h][T1-T2@1h]`` -> (``series[h][T1-T2]``, 3600.0); (ds, None) without a step."""
    m = _STEP.search(ds)
    if not m:
        return ds, None
    return ds[:m.start()] + ds[m.end():], float(m.group(1)) * _DURATION[m.group(2)]


def on_cadence(records, window, step):
    """The records whose time is a whole number of ``step`` seconds after the window start."""
    if step is None or window is None:
        return records
    return [r for r in records if (r.time - window[0]).total_seconds() % step == 0]
