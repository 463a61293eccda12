"""SHARP records on disk: their segment files (FITS) and the bottom map they make
(:func:`segments_map`; :func:`ffnn.field.boundary.from_sharp` reads a record's directory into it).

Files: one FITS file per segment as JSOC exports them (Bobra et al. 2014, Sol. Phys. 289,
3549), ``<record>.Br.fits`` or as-is ``Br.fits``; header cards are read one by one, since
JSOC writes values FITS does not allow (``R_VALUE = nan``). Components (Sun 2013,
arXiv:1309.2392): Bx = Bp (westward), By = -Bt (Bt points south, y north), Bz = Br; error
maps are magnitudes and keep their sign. The map is oriented x west, y north (a mirrored
segment is flipped back with its WCS), transposed to ``(x, y)``, in Mm from the map's
centre; binning averages f x f blocks ignoring NaN, errors combine as independent, NaN
pixels stay NaN (the "not observed" mask; an infinite pixel becomes NaN, logged). Blank
strips at the map's edges (rows or columns with no observed pixel: off-disk or CEA padding
near the limb) are cropped after binning, logged; holes inside stay NaN, held at 0 G by
the potential field and the held bottom alike, and left out of the trust checks.
``boundary.nc`` keeps the Br header's keywords with the WCS rewritten for its binned grid
(:func:`ffnn.io.wcs.binned`).

Details: docs page "SHARP records: files, components, binning and WCS"
(docs/topics/sharp-records.md).
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from pathlib import Path

import numpy as np
import xarray as xr
from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning

from ffnn.io import wcs
from ffnn.io.box import map_box_attrs
from ffnn.util.errors import ConfigError, DataError
from ffnn.util.files import read_json

log = logging.getLogger(__name__)

# bottom-map variable <- (segment, sign) and error variable <- error segment
SEGMENT_COMPONENTS = {"Bx": ("Bp", 1.0), "By": ("Bt", -1.0), "Bz": ("Br", 1.0)}
SEGMENT_ERRORS = {"Bx_err": "Bp_err", "By_err": "Bt_err", "Bz_err": "Br_err"}
SEGMENTS = ("Br", "Bp", "Bt", "Br_err", "Bp_err", "Bt_err")
DEFAULT_BIN = 2
DEFAULT_HEIGHT_MM = 100.0
DEFAULT_RSUN_REF_M = 696.0e6
RECORD_JSON = "sharp.json"
MM2_TO_CM2 = 1e16
MIN_PIXELS = 3  # along x and y: the fewest a box, its grid spacing and the held bottom need

# Header cards that describe the file layout, not the observation: not copied to attributes.
_STRUCTURAL = re.compile(
    r"^(SIMPLE|BITPIX|NAXIS\d*|EXTEND|XTENSION|PCOUNT|GCOUNT|TFIELDS|T(TYPE|FORM|UNIT)\d+|"
    r"Z\w*|BSCALE|BZERO|BLANK|CHECKSUM|DATASUM|COMMENT|HISTORY|)$")


class SegmentWithoutData(DataError):
    """A segment file that is complete FITS with the record's header but no image."""


# ---------------------------------------------------------------- reading

def segment_of(path) -> tuple[str, str] | None:
    """(record, segment) of a segment file name: ``<record>.<segment>.fits`` (JSOC export)
    or ``<segment>.fits`` (as-is, record ``""``); None for any other file."""
    name = Path(path).name
    if name.startswith(".") or not name.endswith(".fits"):
        return None
    record, _, segment = name[: -len(".fits")].rpartition(".")
    return (record, segment) if segment in SEGMENTS else None


# ``ffnn:<record>`` names a record shipped in the package (ffnn/data/sharp/<record>)
PACKAGE_PREFIX = "ffnn:"


def record_directory(value, *, check: bool = True) -> Path:
    """The directory of one SHARP record named by ``value``: ``ffnn:<record>`` is a record
    shipped in the package (``ffnn/data/sharp/<record>``), anything else a path as given.

    The one reading of a record directory for every command (``boundary``, ``resolve
    --sharp-dir``) and the region sheet's ``sharp_dir``. With ``check``, DataError for a
    shipped record that is not in the package, naming those that are.
    """
    text = str(value)
    if not text.startswith(PACKAGE_PREFIX):
        return Path(text)
    from importlib import resources

    shipped = Path(str(resources.files("ffnn") / "data" / "sharp"))
    path = shipped / text[len(PACKAGE_PREFIX):]
    if check and not path.is_dir():
        names = sorted(p.name for p in shipped.iterdir() if p.is_dir())
        raise DataError(f"no SHARP record {text} in the package; it ships "
                        f"{', '.join(PACKAGE_PREFIX + n for n in names)}")
    return path


def find_segments(directory) -> dict[str, Path]:
    """The segment files of one SHARP record in a directory, by segment name.

    Parameters
    ----------
    directory : path-like or str
        The directory of one record's files, named ``<record>.<segment>.fits`` (JSOC
        export) or ``<segment>.fits`` (as-is); ``ffnn:<record>`` names one shipped in the
        package (:func:`record_directory`).

    Returns
    -------
    dict of str to `pathlib.Path`
        Segment name (``Br``, ``Bp``, ``Bt``, and those of ``Br_err``, ``Bp_err``,
        ``Bt_err`` present) -> its file. Other files (bitmap, continuum, READMEs) are
        ignored.

    Raises
    ------
    ffnn.util.errors.DataError
        When the directory does not exist, is a file, lacks Br, Bp or Bt, or holds
        several records.
    """
    directory = record_directory(directory)
    if not directory.exists():
        raise DataError(f"SHARP directory {directory} does not exist")
    if not directory.is_dir():
        raise DataError(f"SHARP directory {directory} is not a directory (a file: give the directory "
                        "holding the record's FITS files)")
    found: dict[str, list[Path]] = {s: [] for s in SEGMENTS}
    records: dict[str, list[str]] = {s: [] for s in SEGMENTS}
    for path in sorted(directory.iterdir()):
        named = segment_of(path)
        if named and path.is_file():
            found[named[1]].append(path)
            records[named[1]].append(named[0] or "(as-is names)")
    missing = [s for s in ("Br", "Bp", "Bt") if not found[s]]
    if missing:
        raise DataError(f"{directory}: no SHARP segment file(s) for {missing} "
                        "(<record>.<segment>.fits or <segment>.fits)")
    several = next((s for s in SEGMENTS if len(found[s]) > 1), None)
    if several:
        raise DataError(f"{directory} holds {len(found[several])} records "
                        f"({', '.join(records[several])}); give one record's directory")
    return {s: v[0] for s, v in found.items() if v}


def _card_value(card):
    """A card's value; a value astropy refuses is kept only when it reads as a number."""
    try:
        value = card.value
    except (fits.verify.VerifyError, ValueError):
        try:
            card.verify("silentfix")  # the refused value becomes its text, e.g. 'nan'
            return float(str(card.value).strip())
        except (fits.verify.VerifyError, ValueError, TypeError):
            log.debug("skipped FITS card %r: its value does not parse", card.keyword)
            return None
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, float, str, np.integer, np.floating)):
        return value
    return None  # astropy's Undefined (a card without a value) and the like


def header_keywords(header) -> dict:
    """Every observation keyword of a FITS header whose value parses, card by card.

    Layout keywords (NAXIS, BSCALE, Z*, CHECKSUM, COMMENT, ...) are left out; the first of
    repeated keywords wins, as in astropy. Names stay as in FITS (``DATE-OBS``).
    """
    out = {}
    for card in header.cards:
        key = card.keyword
        if key in out or _STRUCTURAL.match(key or ""):
            continue
        value = _card_value(card)
        if value is not None:
            out[key] = value
    return out


def _has_image(hdu) -> bool:
    return isinstance(hdu, fits.CompImageHDU) or (hdu.is_image and hdu.header.get("NAXIS", 0) > 0)


def quality_text(quality) -> str:
    """A QUALITY keyword as JSOC prints it (``0x00000400``), or ``unknown``."""
    try:
        if isinstance(quality, str):
            quality = int(quality, 0)
        return f"0x{int(quality):08x}"
    except (TypeError, ValueError):
        return "unknown"


def record_name(keywords: dict, fallback: str) -> str:
    """How messages name the record of a header: ``HARP 377 T_REC 2011.02.15_02:00:00_TAI``."""
    if "HARPNUM" in keywords and "T_REC" in keywords:
        return f"HARP {keywords['HARPNUM']} T_REC {keywords['T_REC']}"
    return fallback


def read_segment(path) -> tuple[np.ndarray, dict]:
    """The image and header keywords of one SHARP segment file.

    Parameters
    ----------
    path : path-like
        A FITS file as JSOC writes it: the image in the first HDU that holds one
        (tile-compressed RICE after an empty primary HDU, or plain).

    Returns
    -------
    data : `numpy.ndarray`
        The image, shape (ny, nx) (rows latitude, columns longitude), float64, in the
        segment's unit (G for the field and error segments); BSCALE/BZERO applied, BLANK
        pixels NaN.
    keywords : dict
        The header's keywords (:func:`header_keywords`): cards astropy refuses are
        skipped, a value such as ``R_VALUE = nan`` is kept as a number.

    Raises
    ------
    SegmentWithoutData
        For a complete file whose header carries the record (T_REC) but no image.
    ffnn.util.errors.DataError
        For anything else unreadable: a missing, truncated or damaged file (never padded
        data), or an image that is not 2-D.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            # astropy warns and pads with zeros when a file is truncated: an error here
            warnings.simplefilter("error", fits.verify.VerifyWarning)
            warnings.filterwarnings("error", message="File may have been truncated", category=AstropyUserWarning)
            with fits.open(path, memmap=False) as hdul:
                for hdu in hdul:
                    if _has_image(hdu) and hdu.data is not None:
                        if hdu.data.ndim != 2:
                            raise DataError(f"{path}: image is {hdu.data.ndim}-D, expected 2-D")
                        return np.asarray(hdu.data, dtype=np.float64), header_keywords(hdu.header)
                keywords = {}
                for hdu in hdul:
                    keywords = {**header_keywords(hdu.header), **keywords}
    except (FileNotFoundError, PermissionError, IsADirectoryError) as err:
        raise DataError(f"cannot read SHARP file {path}: {err.strerror}") from err
    except (OSError, ValueError, TypeError, fits.verify.VerifyWarning, AstropyUserWarning) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise DataError(f"cannot read SHARP file {path}: truncated or damaged FITS ({first})") from err
    if "T_REC" not in keywords:
        raise DataError(f"cannot read SHARP file {path}: no image HDU")
    segment = (segment_of(path) or ("", path.name))[1]
    raise SegmentWithoutData(
        f"{record_name(keywords, path.name)} has no data for segment {segment}: {path} holds "
        f"the record's header but no image (QUALITY {quality_text(keywords.get('QUALITY'))})")


def check_one_record(segments: dict, directory) -> None:
    """Raise DataError when the segments' headers (segment name -> (data, keywords), as
    from :func:`read_segment`) name different records: HARPNUM or T_REC differ from Br's.
    The message names ``directory``, the segment and the two values."""
    reference = segments["Br"][1]
    for seg, (_, keywords) in segments.items():
        for key in ("HARPNUM", "T_REC"):
            if key in keywords and key in reference and str(keywords[key]) != str(reference[key]):
                raise DataError(f"SHARP directory {directory}: segment {seg} has {key} {keywords[key]}, "
                                f"Br has {reference[key]}: segments of different records")


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

def header_attrs(keywords) -> dict:
    """Keywords (of :func:`header_keywords`, or a FITS header) as NetCDF attributes:
    layout keywords left out, ``DATE-OBS`` → ``DATE_OBS``."""
    if isinstance(keywords, fits.Header):
        keywords = header_keywords(keywords)
    return {k.replace("-", "_"): v for k, v in keywords.items() if not _STRUCTURAL.match(k)}


def _oriented(data: np.ndarray, attrs: dict, segment: str):
    """(data, attrs, flip): the segment with x west and y north, its WCS keywords to match,
    and which axes (x, y) were flipped."""
    try:
        rotation = float(attrs.get("CROTA2", 0.0))
    except (TypeError, ValueError):
        rotation = 0.0
    if abs(rotation) > 1e-6:
        raise DataError(f"segment {segment}: CROTA2 = {rotation:g} deg; only unrotated CEA "
                        "maps (CROTA2 = 0, as SHARP writes them) are supported")
    flip = tuple(float(attrs.get(f"CDELT{axis}", 1.0)) < 0 for axis in (1, 2))
    if any(flip):
        ny, nx = data.shape
        # unbinned, before binning, so that the binned map is the unmirrored file's exactly
        attrs = {**attrs, **wcs.binned(attrs, 1, (nx, ny), flip)}
        data = data[::-1 if flip[1] else 1, ::-1 if flip[0] else 1]
    return data, attrs, flip


def _coords(n: int, d: float) -> np.ndarray:
    return (np.arange(n) - (n - 1) / 2.0) * d


def _observed_rectangle(data_vars: dict, name: str, f: int):
    """(index, (x0, y0)): the smallest rectangle of the binned map (x, y) that holds every
    pixel with an observed (finite) component, and its first pixel; logs one line when it
    is smaller than the map (blank edge strips: off-disk or CEA padding near the limb).

    A strip with no observation is cropped rather than carried: held at 0 G under the
    model and in the potential field alike it would add a box of invented boundary, and
    no value there is observed. Holes inside the rectangle stay NaN: the potential field
    and the held bottom count them as 0 G (:mod:`ffnn.field.potential`,
    :func:`ffnn.field.train.hold_observed_bottom`), the trust checks leave them out.
    """
    observed = np.zeros(data_vars["Bz"][1].shape, dtype=bool)
    for name_ in SEGMENT_COMPONENTS:
        observed |= np.isfinite(data_vars[name_][1])
    nx, ny = observed.shape
    cols, rows = np.flatnonzero(observed.any(axis=1)), np.flatnonzero(observed.any(axis=0))
    x0, x1, y0, y1 = cols[0], cols[-1] + 1, rows[0], rows[-1] + 1
    if (x0, x1, y0, y1) != (0, nx, 0, ny):
        blank = nx * ny - (x1 - x0) * (y1 - y0)
        log.info("%s: %d of its %d x %d pixels (bin %d) lie in blank edge strips with no observed "
                 "pixel; the map is cropped to the %d x %d pixels that hold the observations "
                 "(x %d to %d, y %d to %d of the binned map)", name, blank, nx, ny, f,
                 x1 - x0, y1 - y0, x0, x1 - 1, y0, y1 - 1)
    return (slice(x0, x1), slice(y0, y1)), (int(x0), int(y0))


def segments_map(segments: dict, *, bin_factor: int = DEFAULT_BIN,
               height_mm: float = DEFAULT_HEIGHT_MM, extra_attrs: dict | None = None) -> xr.Dataset:
    """The bottom map from a SHARP record's segment images.

    Parameters
    ----------
    segments : dict
        Segment name -> (data, keywords): data of shape (ny, nx) in G, keywords as from
        :func:`read_segment` (or an `astropy.io.fits.Header`). Br, Bp, Bt required,
        Br_err, Bp_err, Bt_err optional.
    bin_factor : int, optional
        f x f NaN-mean binning (1: none). Default 2.
    height_mm : float, optional
        Box height Z in Mm. Default 100.
    extra_attrs : dict, optional
        Attributes added where the header has no such keyword (e.g. a record JSON's).

    Returns
    -------
    `xarray.Dataset`
        Dims ``(x, y)`` of shape (nx // f, ny // f) (rows or columns left over dropped),
        coordinates ``x``, ``y`` (pixel centres, Mm, centred on the map; x west, y
        north), ``Bx`` = Bp, ``By`` = -Bt, ``Bz`` = Br and errors in G; attributes
        ``height_mm``, ``l0_mm`` = max(X, Y, Z), ``bin_factor``, pixel sizes, the Br
        header's keywords with its WCS for the binned grid, then ``extra_attrs``.

    Raises
    ------
    ffnn.util.errors.ConfigError
        For a bin factor that is not a positive integer, or a height that is not a
        positive finite number.
    ffnn.util.errors.DataError
        When segments differ in shape or pixel size, a map is rotated (CROTA2 != 0) or
        Br has no finite pixel.

    Notes
    -----
    Bx = Bp, By = -Bt, Bz = Br (Sun 2013, arXiv:1309.2392); a block's errors combine as
    independent, sqrt(sum sigma^2)/n; a CEA pixel of CDELT degrees is CDELT pi/180
    RSUN_REF long. A segment stored mirrored (negative CDELT) is flipped back with its
    WCS.
    """
    if int(bin_factor) != bin_factor or bin_factor < 1:
        raise ConfigError(f"bin factor must be a positive integer, got {bin_factor}")
    if not (isinstance(height_mm, (int, float)) and height_mm > 0 and math.isfinite(height_mm)):
        raise ConfigError(f"box height must be a positive number of Mm, got {height_mm}")
    f = int(bin_factor)
    oriented, flipped = {}, []
    infinite = {}
    for seg, (data, keywords) in segments.items():
        data, attrs, flip = _oriented(np.asarray(data, dtype=np.float64), header_attrs(keywords), seg)
        if np.isinf(data).any():  # not a measurement: not observed, as NaN (BLANK) pixels are
            infinite[seg] = int(np.isinf(data).sum())
            data = np.where(np.isinf(data), np.nan, data)
        oriented[seg] = (data, attrs)
        flipped += [f"{seg} along {axis}" for axis, done in zip("xy", flip) if done]
    header = oriented["Br"][1]
    if infinite:
        log.warning("%s: %s infinite: not observed, masked as NaN like the pixels JSOC leaves blank",
                    record_name(header, "SHARP record"),
                    ", ".join(f"{n} pixel(s) of {seg}" for seg, n in infinite.items()))
    if flipped:
        log.info("%s: stored mirrored (negative CDELT); flipped %s so that x runs west and "
                 "y north", record_name(header, "SHARP record"), ", ".join(flipped))
    shape = oriented["Br"][0].shape
    for seg, (data, _) in oriented.items():
        if data.shape != shape:
            raise DataError(f"segment {seg} is {data.shape} pixels, Br is {shape}")
    ny0, nx0 = shape
    if min(nx0 // f, ny0 // f) < MIN_PIXELS:
        raise ConfigError(f"bin factor {f} leaves a {nx0 // f} x {ny0 // f} pixel map of the {nx0} x {ny0} "
                          f"pixel record; a box needs at least {MIN_PIXELS} x {MIN_PIXELS} pixels: "
                          f"bin {max(1, min(nx0, ny0) // MIN_PIXELS)} at most")
    dx0, dy0, rsun_mm = pixel_size_mm(header)
    for seg, (_, hdr) in oriented.items():
        if "CDELT1" in hdr and not np.isclose(pixel_size_mm(hdr)[:2], (dx0, dy0)).all():
            raise DataError(f"segment {seg} has another pixel size than Br")

    data_vars = {}
    for name, (seg, sign) in SEGMENT_COMPONENTS.items():
        # negation is exact and commutes with the NaN-mean, so flip after binning
        binned = bin_mean(oriented[seg][0], f)
        data_vars[name] = (("x", "y"), (-binned if sign < 0 else binned).T,
                           {"units": "gauss", "long_name": f"{name} = {'-' if sign < 0 else ''}{seg}",
                            "source_segment": seg})
    for name, seg in SEGMENT_ERRORS.items():
        if seg in oriented:
            data_vars[name] = (("x", "y"), bin_error(oriented[seg][0], f).T,
                               {"units": "gauss", "long_name": f"uncertainty of {name[:2]} (from {seg})",
                                "source_segment": seg})
    if not np.isfinite(data_vars["Bz"][1]).any():
        raise DataError("SHARP Br map has no finite pixel")
    n_binned = data_vars["Bz"][1].size
    crop, (x0, y0) = _observed_rectangle(data_vars, record_name(header, "SHARP record"), f)
    data_vars = {k: (dims, a[crop], attrs) for k, (dims, a, attrs) in data_vars.items()}
    nx, ny = data_vars["Bz"][1].shape
    if min(nx, ny) < MIN_PIXELS:
        raise DataError(f"the observed pixels span {nx} x {ny} pixels of the map (bin {f}); a box needs "
                        f"at least {MIN_PIXELS} x {MIN_PIXELS}")
    dx, dy = dx0 * f, dy0 * f
    x, y = _coords(nx, dx), _coords(ny, dy)
    extra = {k: v for k, v in (extra_attrs or {}).items() if k not in header}
    placed = wcs.binned(header, f)
    for axis, offset in ((1, x0), (2, y0)):  # pixel 1 of the cropped map is pixel offset + 1 of the binned one
        if f"CRPIX{axis}" in placed:
            placed[f"CRPIX{axis}"] -= offset
    attrs = {**header, **extra, **placed}
    attrs.update({
        "title": "SHARP CEA bottom boundary (Bx = Bp, By = -Bt, Bz = Br)",
        **map_box_attrs(x, y, height_mm), "bin_factor": f,
        "pixel_mm_x": dx, "pixel_mm_y": dy, "unbinned_pixel_mm_x": dx0,
        "unbinned_pixel_mm_y": dy0, "rsun_ref_mm": rsun_mm,
        "nan_pixels": int(np.count_nonzero(~np.isfinite(data_vars["Bz"][1]))),
        "cropped_edge_pixels": int(n_binned - nx * ny),
    })
    ds = xr.Dataset(data_vars, coords={
        "x": ("x", x, {"units": "Mm", "long_name": "x (westward), centred on the map", "axis": "X"}),
        "y": ("y", y, {"units": "Mm", "long_name": "y (northward), centred on the map", "axis": "Y"}),
    }, attrs=attrs)
    return ds


def flux_summary(ds: xr.Dataset) -> dict:
    """Signed and unsigned flux of Bz through a bottom map, and their ratio.

    Parameters
    ----------
    ds : `xarray.Dataset`
        A bottom map: ``Bz`` in G, attributes ``pixel_mm_x``, ``pixel_mm_y`` (Mm).

    Returns
    -------
    dict
        ``signed_mx`` = sum Bz dA and ``unsigned_mx`` = sum |Bz| dA over the finite
        pixels, in Mx (G cm^2), dA = dx dy (a CEA pixel's true area); ``imbalance`` =
        signed / unsigned (dimensionless; NaN for a map without flux).
    """
    area_cm2 = float(ds.attrs["pixel_mm_x"]) * float(ds.attrs["pixel_mm_y"]) * MM2_TO_CM2
    bz = ds["Bz"].values
    signed = float(np.nansum(bz)) * area_cm2
    unsigned = float(np.nansum(np.abs(bz))) * area_cm2
    return {"signed_mx": signed, "unsigned_mx": unsigned,
            "imbalance": signed / unsigned if unsigned > 0 else float("nan")}


def read_record_json(path) -> dict:
    """Attributes from a record JSON (``resolve.json``, or the ``sharp.json`` that
    ``fetch-sharp`` leaves beside the files): its keywords, ``NOAA`` and ``series``;
    {} when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return {}
    d = read_json(path, "record file")
    out = {k: v for k, v in (d.get("keywords") or {}).items()
           if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
    if d.get("noaa") is not None:
        out["NOAA"] = int(d["noaa"])
    if d.get("series"):
        out["series"] = str(d["series"])
    return out
