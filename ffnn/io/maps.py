"""Bottom maps from sunpy maps, and the WCS of any ffnn product on a bottom map's grid.

A notebook user who already holds a SHARP record as ``sunpy.map.Map`` objects (read with
``sunpy.map.Map("...Bp.fits")`` or fetched with ``sunpy.net.Fido``) turns them into the
bottom map training takes with :func:`from_maps`: the same conversion as the files of a
record's directory (:func:`ffnn.io.sharp.segments_map`; Bx = Bp, By = -Bt, Bz = Br).
:func:`map_wcs` gives the `~astropy.wcs.WCS` of a bottom map, a cube's x-y grid or a
derived map, from the WCS keywords ffnn carries in their attributes (:mod:`ffnn.io.wcs`).
"""

from __future__ import annotations

from ffnn.util.errors import ConfigError, DataError

__all__ = ["from_maps", "map_wcs"]


def _segment(m, name: str):
    """(data, keywords) of a sunpy map or of a (data, header) pair."""
    if isinstance(m, tuple) and len(m) == 2:
        data, header = m
    elif hasattr(m, "data") and hasattr(m, "meta"):
        data, header = m.data, m.meta
    else:
        raise ConfigError(f"{name}: expected a sunpy map or a (data, header) pair, got {type(m).__name__}")
    # sunpy's MetaDict spells keys in lower case; FITS and ffnn's attributes in upper case
    keywords = {str(k).upper(): v for k, v in dict(header).items()
                if isinstance(v, (int, float, str)) and str(k).lower() != "keycomments"}
    return data, keywords


def from_maps(bp, bt, br, *, bp_err=None, bt_err=None, br_err=None, bin=1, height=100.0):
    """The bottom map of a SHARP record given as sunpy maps of its segments.

    Parameters
    ----------
    bp, bt, br : `sunpy.map.GenericMap` or tuple
        The SHARP CEA segments Bp (positive westward), Bt (positive southward) and Br
        (radial), in G, each a map of shape (ny, nx) or a ``(data, header)`` pair; their
        headers carry the CEA WCS (``CDELT1/2`` in degrees, ``CRPIX``, ``CRVAL``,
        ``RSUN_REF``).
    bp_err, bt_err, br_err : `sunpy.map.GenericMap` or tuple, optional
        The 1-sigma error segments, in G. Without them training counts the three
        components equally (setting ``bc_errors``).
    bin : int, optional
        Bin factor: f x f blocks averaged ignoring NaN (1: none). Default 1.
    height : float or `~astropy.units.Quantity`, optional
        Height of the box above the map; a number is read in Mm. Default 100 Mm.

    Returns
    -------
    `xarray.Dataset`
        The bottom map: dims ``(x, y)`` of shape (nx // bin, ny // bin), coordinates ``x``,
        ``y`` (pixel centres, Mm, centred on the map), ``Bx`` = Bp, ``By`` = -Bt, ``Bz`` =
        Br (G, CF ``units`` "gauss"; NaN where not observed) and the errors when given;
        attributes ``height_mm``, ``l0_mm``, the Br header's keywords and its WCS rewritten
        for the binned grid.

    Raises
    ------
    ffnn.util.errors.ConfigError
        For a bin factor that is not a positive integer, a height that is not a positive
        length, or an argument that is neither a map nor a (data, header) pair.
    ffnn.util.errors.DataError
        When the segments differ in shape or pixel size, are rotated (CROTA2 != 0) or Br
        has no finite pixel.

    Notes
    -----
    The local Cartesian components of a CEA map are Bx = Bp, By = -Bt, Bz = Br (Sun et al.
    2013, arXiv:1309.2392; Bobra et al. 2014, Sol. Phys. 289, 3549). A CEA pixel of CDELT
    degrees spans CDELT pi/180 RSUN_REF: 0.03 deg is 0.3644 Mm. Error maps are
    magnitudes and keep their sign. See :func:`ffnn.io.sharp.segments_map`.

    Examples
    --------
    >>> import sunpy.map                                           # doctest: +SKIP
    >>> bp, bt, br = (sunpy.map.Map(f"rec.{s}.fits") for s in ("Bp", "Bt", "Br"))  # doctest: +SKIP
    >>> bottom = ffnn.from_maps(bp, bt, br, bin=4)                 # doctest: +SKIP
    """
    from ffnn.io.sharp import segments_map
    from ffnn.util.units import to_value

    if isinstance(bin, bool) or int(bin) != bin:
        raise ConfigError(f"bin = {bin!r}: the bin factor must be a positive integer")
    segments = {"Bp": _segment(bp, "bp"), "Bt": _segment(bt, "bt"), "Br": _segment(br, "br")}
    for seg, m in (("Bp_err", bp_err), ("Bt_err", bt_err), ("Br_err", br_err)):
        if m is not None:
            segments[seg] = _segment(m, seg.lower())
    return segments_map(segments, bin_factor=int(bin), height_mm=to_value(height, "Mm", "height"))


def map_wcs(ds):
    """The celestial WCS of an ffnn product's x-y grid (heliographic Carrington, CEA).

    Parameters
    ----------
    ds : `xarray.Dataset`
        A bottom map, a cube (its x, y axes), or a product on the same grid, whose
        attributes carry the SHARP WCS keywords as ffnn writes them (``CTYPE1/2``,
        ``CRPIX1/2``, ``CRVAL1/2``, ``CDELT1/2``, ``DATE_OBS``, observer keywords).

    Returns
    -------
    `astropy.wcs.WCS`
        Two pixel axes: axis 0 along ``x`` (index i of the dataset's x, FITS pixel i + 1),
        axis 1 along ``y``. ``wcs.pixel_to_world(i, j)`` gives the
        `~astropy.coordinates.SkyCoord` (Carrington longitude and latitude) of the point
        ``(x[i], y[j])``, in sunpy's Carrington frame (:mod:`sunpy.coordinates`,
        observer from ``CRLN_OBS``, ``CRLT_OBS``, ``DSUN_OBS``).

    Raises
    ------
    ffnn.util.errors.DataError
        When ``ds`` carries no WCS (e.g. a Low & Lou reference field).

    Notes
    -----
    The keywords describe the dataset's own (binned, west/north oriented) grid:
    CDELT' = f CDELT and CRPIX' = (CRPIX - 1/2)/f + 1/2 for a bin factor f (Calabretta &
    Greisen 2002, A&A 395, 1077 for the CEA projection). See :mod:`ffnn.io.wcs`.
    """
    import warnings

    import sunpy.coordinates  # noqa: F401  (registers the heliographic frames with astropy.wcs)
    from astropy.wcs import WCS, FITSFixedWarning

    from ffnn.io.wcs import map_header

    header = map_header(ds.attrs, ds.sizes["x"], ds.sizes["y"])
    if header is None:
        raise DataError("this dataset carries no WCS keywords (CTYPE1/2, CRPIX, CRVAL, CDELT): "
                        "it is not on a SHARP map's grid")
    for axis in (1, 2):  # SHARP writes 'degree', which astropy reads with a warning
        if str(header.get(f"CUNIT{axis}", "")).strip().lower() == "degree":
            header[f"CUNIT{axis}"] = "deg"
    with warnings.catch_warnings():  # astropy fills MJD-OBS from DATE-OBS and says so
        warnings.simplefilter("ignore", FITSFixedWarning)
        return WCS(header)
