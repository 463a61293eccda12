"""SHARP CEA segments (FITS) → the bottom map ``boundary.nc`` (format of :mod:`ffnn.boundary`).

Components (SPEC section 5): Bx = Bp (westward), By = −Bt (Bt points south, y north),
Bz = Br. Error maps are magnitudes and are not sign-flipped: Bx_err = Bp_err,
By_err = Bt_err, Bz_err = Br_err.

Geometry: FITS rows are latitude (y), columns longitude (x); the map is transposed to the
``(x, y)`` order of the boundary format. A CEA pixel of CDELT degrees spans
CDELT·π/180·R Mm, with R = RSUN_REF from the header (696 Mm when absent): 0.03° → 0.3644 Mm.
Coordinates are pixel centres in Mm, centred on the map centre.

Binning (default 2×2) averages each block ignoring NaN; a block with no finite pixel stays
NaN. Errors of a block combine as independent: sqrt(Σσ²)/n over its finite pixels. Rows or
columns left over at the far edges (size not a multiple of the factor) are dropped. NaN
pixels are never filled: they are the "not observed" mask downstream.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path

import numpy as np
import xarray as xr
from astropy.io import fits

from ffnn.errors import ConfigError, DataError

COMPONENTS = {"Bx": ("Bp", 1.0), "By": ("Bt", -1.0), "Bz": ("Br", 1.0)}
ERRORS = {"Bx_err": "Bp_err", "By_err": "Bt_err", "Bz_err": "Br_err"}
DEFAULT_BIN = 2
DEFAULT_HEIGHT_MM = 100.0
DEFAULT_RSUN_REF_M = 696.0e6
RECORD_JSON = "sharp.json"

# Header cards that describe the file layout, not the observation: not copied to attributes.
_STRUCTURAL = re.compile(
    r"^(SIMPLE|BITPIX|NAXIS\d*|EXTEND|XTENSION|PCOUNT|GCOUNT|TFIELDS|T(TYPE|FORM|UNIT)\d+|"
    r"Z\w*|BSCALE|BZERO|BLANK|CHECKSUM|DATASUM|COMMENT|HISTORY|)$")


# ---------------------------------------------------------------- reading

def find_segments(directory) -> dict[str, Path]:
    """The segment files of one SHARP record in ``directory``, by segment name.

    Files are recognised by their JSOC names ``*.<segment>.fits``. Br, Bp, Bt are required;
    error maps are optional. Several records in one directory is an error.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"SHARP directory {directory} does not exist")
    found: dict[str, list[Path]] = {}
    for seg in ("Br", "Bp", "Bt", *ERRORS.values()):
        found[seg] = sorted(p for p in directory.glob(f"*.{seg}.fits") if not p.name.startswith("."))
    missing = [s for s in ("Br", "Bp", "Bt") if not found[s]]
    if missing:
        raise DataError(f"{directory}: no SHARP segment file(s) for {missing} (*.<segment>.fits)")
    several = [s for s, v in found.items() if len(v) > 1]
    if several:
        records = sorted(p.name[: -len(f".{several[0]}.fits")] for p in found[several[0]])
        raise DataError(f"{directory} holds {len(records)} records ({', '.join(records)}); "
                        "give one record's directory")
    return {s: v[0] for s, v in found.items() if v}


def read_segment(path) -> tuple[np.ndarray, fits.Header]:
    """Image data (ny, nx) as float64 and its header, from the first HDU holding an image.

    JSOC exports put the image in a compressed HDU after an empty primary one; plain files
    have it in the primary HDU. A truncated file is an error, never padded data.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", fits.verify.VerifyWarning)
            with fits.open(path, memmap=False) as hdul:
                for hdu in hdul:
                    if (hdu.is_image or isinstance(hdu, fits.CompImageHDU)) and hdu.data is not None:
                        if hdu.data.ndim != 2:
                            raise DataError(f"{path}: image is {hdu.data.ndim}-D, expected 2-D")
                        return np.asarray(hdu.data, dtype=np.float64), hdu.header.copy()
    except (OSError, ValueError, TypeError, fits.verify.VerifyWarning) as err:
        raise DataError(f"cannot read SHARP file {path}: {err}") from err
    raise DataError(f"{path}: no image HDU")


def pixel_size_mm(header) -> tuple[float, float, float]:
    """(dx, dy, R): CEA pixel size along x and y in Mm and the solar radius used, in Mm.

    dx = |CDELT1|·π/180·R with CDELT in degrees and R = RSUN_REF (m → Mm), 696 Mm if absent.
    """
    for axis in (1, 2):
        unit = str(header.get(f"CUNIT{axis}", "degree")).strip().lower()
        if unit not in ("deg", "degree", "degrees"):
            raise DataError(f"CUNIT{axis} is {unit!r}; a SHARP CEA map has pixels in degrees")
        if f"CDELT{axis}" not in header:
            raise DataError(f"header has no CDELT{axis} (pixel size in degrees)")
    try:
        rsun_m = float(header.get("RSUN_REF", DEFAULT_RSUN_REF_M))
    except (TypeError, ValueError):
        rsun_m = DEFAULT_RSUN_REF_M
    rsun_mm = (rsun_m if math.isfinite(rsun_m) and rsun_m > 0 else DEFAULT_RSUN_REF_M) / 1e6
    dx = abs(float(header["CDELT1"])) * math.pi / 180.0 * rsun_mm
    dy = abs(float(header["CDELT2"])) * math.pi / 180.0 * rsun_mm
    return dx, dy, rsun_mm


# ---------------------------------------------------------------- binning

def _blocks(a: np.ndarray, f: int) -> np.ndarray:
    ny, nx = (a.shape[0] // f) * f, (a.shape[1] // f) * f
    if ny == 0 or nx == 0:
        raise DataError(f"map of {a.shape} pixels is smaller than the {f}×{f} bin")
    return a[:ny, :nx].reshape(ny // f, f, nx // f, f)


def bin_mean(a: np.ndarray, f: int) -> np.ndarray:
    """Mean of each f×f block ignoring NaN (all-NaN block → NaN); shape (ny//f, nx//f)."""
    if f == 1:
        return np.array(a, dtype=np.float64)
    b = _blocks(np.asarray(a, dtype=np.float64), f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the all-NaN blocks
        return np.nanmean(b, axis=(1, 3))


def bin_error(a: np.ndarray, f: int) -> np.ndarray:
    """Error of the block mean for independent errors: sqrt(Σσ²)/n over finite pixels."""
    if f == 1:
        return np.array(a, dtype=np.float64)
    b = _blocks(np.asarray(a, dtype=np.float64), f)
    n = np.isfinite(b).sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.sqrt(np.nansum(b * b, axis=(1, 3))) / n, np.nan)


# ---------------------------------------------------------------- the bottom map

def _attr_value(value):
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, float, str, np.integer, np.floating)):
        return value
    return None  # astropy's Undefined and the like


def header_attrs(header) -> dict:
    """Observation keywords of a header as NetCDF attributes (``DATE-OBS`` → ``DATE_OBS``)."""
    out = {}
    for key in header:
        if _STRUCTURAL.match(key):
            continue
        value = _attr_value(header[key])
        if value is not None:
            out[key.replace("-", "_")] = value
    return out


def _coords(n: int, d: float) -> np.ndarray:
    return (np.arange(n) - (n - 1) / 2.0) * d


def bottom_map(segments: dict, *, bin_factor: int = DEFAULT_BIN,
               height_mm: float = DEFAULT_HEIGHT_MM, extra_attrs: dict | None = None) -> xr.Dataset:
    """The bottom map from segment images.

    ``segments``: segment name → (data (ny, nx) in G, header); Br, Bp, Bt required, error
    maps optional. ``bin_factor``: f×f NaN-mean binning (1 = none). ``height_mm``: box
    height Z in Mm. Returns dims (x, y), coordinates in Mm, Bx, By, Bz (+ errors) in G,
    attributes ``height_mm``, ``l0_mm`` = max(X, Y, Z) and the Br header's keywords.
    """
    if int(bin_factor) != bin_factor or bin_factor < 1:
        raise ConfigError(f"bin factor must be a positive integer, got {bin_factor}")
    if not (isinstance(height_mm, (int, float)) and height_mm > 0 and math.isfinite(height_mm)):
        raise ConfigError(f"box height must be a positive number of Mm, got {height_mm}")
    f = int(bin_factor)
    header = segments["Br"][1]
    shape = segments["Br"][0].shape
    for seg, (data, _) in segments.items():
        if data.shape != shape:
            raise DataError(f"segment {seg} is {data.shape} pixels, Br is {shape}")
    dx0, dy0, rsun_mm = pixel_size_mm(header)
    for seg, (_, hdr) in segments.items():
        if "CDELT1" in hdr and not np.isclose(pixel_size_mm(hdr)[:2], (dx0, dy0)).all():
            raise DataError(f"segment {seg} has another pixel size than Br")

    data_vars = {}
    for name, (seg, sign) in COMPONENTS.items():
        # negation is exact and commutes with the NaN-mean, so flip after binning
        binned = bin_mean(segments[seg][0], f)
        data_vars[name] = (("x", "y"), (-binned if sign < 0 else binned).T,
                           {"units": "G", "long_name": f"{name} = {'-' if sign < 0 else ''}{seg}",
                            "source_segment": seg})
    for name, seg in ERRORS.items():
        if seg in segments:
            data_vars[name] = (("x", "y"), bin_error(segments[seg][0], f).T,
                               {"units": "G", "long_name": f"uncertainty of {name[:2]} (from {seg})",
                                "source_segment": seg})
    nx, ny = data_vars["Bz"][1].shape
    dx, dy = dx0 * f, dy0 * f
    x, y = _coords(nx, dx), _coords(ny, dy)
    if not np.isfinite(data_vars["Bz"][1]).any():
        raise DataError("SHARP Br map has no finite pixel")
    l0 = max(float(x.max()), float(y.max()), float(height_mm))
    attrs = {**header_attrs(header), **(extra_attrs or {})}
    attrs.update({
        "title": "SHARP CEA bottom boundary (Bx = Bp, By = -Bt, Bz = Br)",
        "height_mm": float(height_mm), "l0_mm": l0, "bin_factor": f,
        "pixel_mm_x": dx, "pixel_mm_y": dy, "unbinned_pixel_mm_x": dx0,
        "unbinned_pixel_mm_y": dy0, "rsun_ref_mm": rsun_mm,
        "nan_pixels": int(np.count_nonzero(~np.isfinite(data_vars["Bz"][1]))),
    })
    ds = xr.Dataset(data_vars, coords={
        "x": ("x", x, {"units": "Mm", "long_name": "x (westward), centred on the map"}),
        "y": ("y", y, {"units": "Mm", "long_name": "y (northward), centred on the map"}),
    }, attrs=attrs)
    return ds


def read_record_json(directory) -> dict:
    """Attributes from the ``sharp.json`` that ``fetch-sharp`` leaves beside the files."""
    path = Path(directory) / RECORD_JSON
    if not path.exists():
        return {}
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read {path}: {err}") from err
    out = {k: v for k, v in (d.get("keywords") or {}).items()
           if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
    if d.get("noaa") is not None:
        out["NOAA"] = int(d["noaa"])
    if d.get("series"):
        out["series"] = str(d["series"])
    return out


def boundary_from_dir(directory, *, bin_factor: int = DEFAULT_BIN,
                      height_mm: float = DEFAULT_HEIGHT_MM) -> xr.Dataset:
    """Read one record's segment files from ``directory`` and build :func:`bottom_map`.

    Keywords: the Br header's, completed by ``sharp.json`` when present (header wins).
    """
    paths = find_segments(directory)
    segments = {seg: read_segment(p) for seg, p in paths.items()}
    extra = {k: v for k, v in read_record_json(directory).items()
             if k.replace("_", "-") not in segments["Br"][1] and k not in segments["Br"][1]}
    extra["source_files"] = " ".join(p.name for p in paths.values())
    return bottom_map(segments, bin_factor=bin_factor, height_mm=height_mm, extra_attrs=extra)


def write_boundary(ds: xr.Dataset, path) -> Path:
    """Write a bottom map to NetCDF (zlib-compressed float64, NaN kept) atomically."""
    from ffnn.cube import write_atomic

    enc = {name: {"zlib": True, "complevel": 4} for name in ds.data_vars}
    return write_atomic(ds, path, encoding=enc)
