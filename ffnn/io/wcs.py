"""Where a bottom map lies on the Sun: the CEA world coordinate system of a SHARP map.

A SHARP CEA map (Bobra et al. 2014, Sol. Phys. 289, 3549; Sun 2013, arXiv:1309.2392)
carries a FITS WCS: ``CTYPE1/2`` =
``CRLN-CEA``/``CRLT-CEA`` (Carrington longitude and latitude, cylindrical equal-area),
``CRPIX``, ``CRVAL``, ``CDELT`` (degrees), and the observer (``DATE-OBS``, ``CRLN_OBS``,
``CRLT_OBS``, ``DSUN_OBS``, ``RSUN_REF``). ``boundary.nc`` keeps these keywords as
attributes (``DATE-OBS`` as ``DATE_OBS``) *for its own grid*: after binning and any axis
flip, so that pixel ``i`` (0-based) along x sits at FITS pixel ``i + 1`` and at
``x = (i - (nx - 1)/2) dx`` Mm. Every later product on the same x, y grid (the cube, its
bottom-plane maps) is placed on the Sun with :func:`map_header`.

Binning f x f (keeping pixel edges): CDELT' = f CDELT, CRPIX' = (CRPIX - 1/2)/f + 1/2
(the FITS pixel p, 1-based, of the unbinned map lies in binned pixel (p - 1/2)/f + 1/2).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np

# Keywords that place a map on the Sun (attribute names: '-' written as '_').
WCS_KEYS = ("WCSNAME", "CTYPE1", "CTYPE2", "CUNIT1", "CUNIT2", "CRPIX1", "CRPIX2", "CRVAL1",
            "CRVAL2", "CDELT1", "CDELT2", "CROTA2", "DATE_OBS", "T_REC", "T_OBS", "CRLN_OBS",
            "CRLT_OBS", "DSUN_OBS", "RSUN_REF", "TELESCOP", "INSTRUME", "WAVELNTH", "BUNIT")
_REQUIRED = ("CTYPE1", "CTYPE2", "CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2", "CDELT1", "CDELT2")


def has_wcs(attrs: Mapping) -> bool:
    """True when ``attrs`` hold every keyword a heliographic WCS needs."""
    return all(k in attrs for k in _REQUIRED)


def wcs_attrs(attrs: Mapping) -> dict:
    """The keywords that place a map on the Sun, picked from a header or attributes.

    Parameters
    ----------
    attrs : mapping
        A FITS header or a dataset's attributes (``DATE-OBS`` or ``DATE_OBS``).

    Returns
    -------
    dict
        The :data:`WCS_KEYS` present in ``attrs`` (``DATE-OBS`` as ``DATE_OBS``), values
        as given.
    """
    out = {}
    for key in WCS_KEYS:
        for name in (key, key.replace("_", "-")):
            if name in attrs:
                out[key] = attrs[name]
                break
    return out


def binned(attrs: Mapping, factor: int, shape: tuple[int, int] | None = None,
           flip: tuple[bool, bool] = (False, False)) -> dict:
    """WCS keywords of a map binned ``factor`` x ``factor`` and/or flipped along x / y.

    ``shape`` (nx, ny) is the *binned* map size, needed only for a flip: flipping axis k
    of n pixels maps FITS pixel p to n + 1 - p and negates CDELTk.
    """
    out = wcs_attrs(attrs)
    f = int(factor)
    for k, axis in enumerate((1, 2)):
        if f"CDELT{axis}" in out:
            out[f"CDELT{axis}"] = float(out[f"CDELT{axis}"]) * f
        if f"CRPIX{axis}" in out:
            out[f"CRPIX{axis}"] = (float(out[f"CRPIX{axis}"]) - 0.5) / f + 0.5
        if flip[k]:
            if shape is None:
                raise ValueError("flipping a WCS axis needs the map shape")
            out[f"CRPIX{axis}"] = shape[k] + 1 - out[f"CRPIX{axis}"]
            out[f"CDELT{axis}"] = -out[f"CDELT{axis}"]
    return out


def map_header(attrs: Mapping, nx: int, ny: int):
    """A FITS header for an image on a bottom map's grid, from the map's attributes.

    Parameters
    ----------
    attrs : mapping
        Attributes with the WCS keywords (:data:`WCS_KEYS`) of the grid.
    nx, ny : int
        The image's size along x (columns) and y (rows).

    Returns
    -------
    `astropy.io.fits.Header` or None
        NAXIS1 = nx, NAXIS2 = ny and the WCS keywords; None when ``attrs`` carry no WCS.
        For data of shape (nx, ny), ``sunpy.map.Map((data.T, header))`` opens it.
    """
    from astropy.io import fits

    if not has_wcs(attrs):
        return None
    header = fits.Header()
    header["NAXIS"] = 2
    header["NAXIS1"] = int(nx)
    header["NAXIS2"] = int(ny)
    for key, value in wcs_attrs(attrs).items():
        if isinstance(value, np.generic):
            value = value.item()
        header[key.replace("DATE_OBS", "DATE-OBS")] = value
    header.setdefault("CUNIT1", "deg")
    header.setdefault("CUNIT2", "deg")
    return header


def heliographic_grid(attrs: Mapping, nx: int, ny: int):
    """Carrington longitude and latitude at the pixel centres of a map's grid.

    Parameters
    ----------
    attrs : mapping
        The map's attributes (or header) with its WCS keywords (:data:`WCS_KEYS`).
    nx, ny : int
        The grid's size along x and y.

    Returns
    -------
    lon, lat : `numpy.ndarray` or None
        Carrington longitude and latitude in degrees, each of shape (nx, ny); None when
        ``attrs`` carry no WCS.

    Notes
    -----
    SHARP's CEA projection is centred on the patch (CRVAL2 is its latitude), which FITS
    WCS reads as an oblique projection (Calabretta & Greisen 2002, A&A 395, 1077):
    longitude and latitude both vary along each axis, so they are 2-D.
    :func:`ffnn.io.maps.map_wcs` gives the WCS itself.
    """
    from astropy.wcs import WCS, FITSFixedWarning

    header = map_header(attrs, nx, ny)
    if header is None:
        return None
    for axis in (1, 2):  # SHARP's spelling; astropy would warn each time that it reads it as deg
        if str(header.get(f"CUNIT{axis}", "")).strip().lower() == "degree":
            header[f"CUNIT{axis}"] = "deg"
    i, j = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    with warnings.catch_warnings():
        # wcslib's 'datfix' only fills in MJD-OBS from DATE-OBS (the header carries the
        # date as SHARP writes it), and astropy reports that on every WCS it builds: a
        # harmless note that appeared twice per figures or derived run. Other fixes
        # (units, celestial keywords) still warn.
        warnings.filterwarnings("ignore", message="'datfix' made the change", category=FITSFixedWarning)
        lon, lat = WCS(header).pixel_to_world_values(i, j)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
