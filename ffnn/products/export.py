"""Exports for other tools: a VTK file of the cube for ParaView/VisIt, FITS maps on the Sun.

VTK: a legacy-format (version 3.0), binary, ``STRUCTURED_POINTS`` dataset (VTK's image
data: a regular grid given by its origin and spacing, in Mm), with point data B (vector,
G), J = curl B (vector, G/Mm) and alpha (scalar, 1/Mm). Legacy binary VTK is big-endian
float32; ParaView, VisIt and VTK's own readers open it, and so does ``meshio`` (the tests
read it back with meshio). The file is written through a temporary name.

FITS: one image per footpoint product of ``derived.nc`` (``twist``, ``log10_q``,
``end_face``, ``bz``), 2-D, with the region's heliographic CEA WCS of the footpoint grid
(:mod:`ffnn.io.wcs`), so that ``sunpy.map.Map`` places it on the Sun (e.g. to overlay on AIA).
A map of flags (``end_face``) carries their key, read from ``derived.nc``'s
``flag_values`` and ``flag_meanings``: cards ``FLAGVALn`` (the code) and ``FLAGNAMn`` (its
meaning), n = 1, 2, ..., and one ``COMMENT`` line per code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from ffnn.field.cube import check_same_grid, field_array, spacing
from ffnn.util.errors import DataError
from ffnn.util.files import atomic_write
from ffnn.io.wcs import has_wcs

FORMATS = ("vtk", "fits")
FITS_PRODUCTS = {  # derived.nc variable -> FITS BUNIT
    "twist": "", "log10_q": "", "end_face": "", "bz": "G",
}


def write_vtk(cube: xr.Dataset, path, *, alpha: np.ndarray | None = None,
              current: np.ndarray | None = None, title: str = "ffnn cube") -> Path:
    """Write the cube as a legacy binary VTK STRUCTURED_POINTS file.

    Parameters
    ----------
    cube : xarray.Dataset
        Bx, By, Bz (G) on a regular (x, y, z) grid in Mm.
    path : path-like
        The .vtk file.
    alpha : ndarray, shape (nx, ny, nz), optional
        Force-free parameter (1/Mm); computed from B and J when absent.
    current : ndarray, shape (3, nx, ny, nz), optional
        curl B (G/Mm); the cube's Jx, Jy, Jz or finite differences when absent.
    title : str, optional
        The file's title line. Default "ffnn cube".

    Returns
    -------
    pathlib.Path
        ``path``: point data B (G), J (curl B, G/Mm) and alpha (1/Mm) on the cube's
        grid, origin and spacing in Mm; opens in ParaView.

    Raises
    ------
    DataError
        No B in the cube, or its grid is irregular.
    """
    from ffnn.analysis.derived import alpha_and_helicity, current as cube_current

    b = field_array(cube)
    j = current if current is not None else cube_current(cube)[0]
    alpha = alpha if alpha is not None else alpha_and_helicity(b, j)[0]
    dxyz = spacing(cube)
    nx, ny, nz = b.shape[1:]
    origin = [float(cube[c].values[0]) for c in ("x", "y", "z")]

    def vectors(v):  # VTK orders points with x fastest: (z, y, x, component)
        return np.ascontiguousarray(np.transpose(v, (3, 2, 1, 0)), dtype=">f4")

    def write(tmp):
        with open(tmp, "wb") as f:
            header = (f"# vtk DataFile Version 3.0\n{title[:250]}\nBINARY\nDATASET STRUCTURED_POINTS\n"
                      f"DIMENSIONS {nx} {ny} {nz}\nORIGIN {origin[0]!r} {origin[1]!r} {origin[2]!r}\n"
                      f"SPACING {dxyz[0]!r} {dxyz[1]!r} {dxyz[2]!r}\nPOINT_DATA {nx * ny * nz}\n")
            f.write(header.encode("ascii"))
            for name, v in (("B", b), ("J", j)):
                f.write(f"VECTORS {name} float\n".encode("ascii"))
                f.write(vectors(v).tobytes())
                f.write(b"\n")
            f.write(b"SCALARS alpha float 1\nLOOKUP_TABLE default\n")
            f.write(np.ascontiguousarray(np.transpose(alpha, (2, 1, 0)), dtype=">f4").tobytes())
            f.write(b"\n")

    return atomic_write(path, write)


def check_derived(derived: xr.Dataset, cube: xr.Dataset, formats, what: str, cube_name: str) -> None:
    """DataError of one line unless ``derived`` (named ``what``, e.g. ``--derived PATH``)
    is the derived products of ``cube`` (named ``cube_name``) that the export ``formats``
    need: alpha for vtk, the maps for fits, on the cube's grid and with the cube's bottom Bz
    at its footpoints (else it was made from another cube), with a WCS where the cube has
    one (fits)."""
    needed = (["alpha"] if "vtk" in formats else []) + (list(FITS_PRODUCTS) if "fits" in formats else [])
    missing = [name for name in needed if name not in derived]
    if missing:
        kind = " (it is a cube)" if all(c in derived for c in ("Bx", "By", "Bz")) else ""
        raise DataError(f"{what} lacks {', '.join(missing)}: not the derived.nc of 'ffnn derived'{kind}")
    try:
        check_same_grid(cube, derived, what, of="the cube's ")
    except DataError as err:
        raise DataError(f"{err}: it was made from another cube than {cube_name}") from None
    if "bz" in derived:
        # the same grid is not the same cube: the footpoints' Bz is the cube's bottom, interpolated
        bottom = cube["Bz"].isel(z=0).interp(x=derived["x_foot"], y=derived["y_foot"]).transpose("x_foot", "y_foot")
        theirs = derived["bz"].transpose("x_foot", "y_foot").values
        off = np.nanmax(np.abs(bottom.values - theirs)) if np.isfinite(theirs).any() else 0.0
        scale = float(np.nanmax(np.abs(bottom.values))) if np.isfinite(bottom.values).any() else 0.0
        if off > 1e-3 * scale + 1e-6:
            raise DataError(f"{what} was made from another cube than {cube_name}: its footpoints' bz differs "
                            f"from the cube's bottom Bz by up to {off:.3g} G")
    if "fits" in formats and has_wcs(cube.attrs) and not has_wcs(derived.attrs):
        raise DataError(f"{what} carries no WCS (CTYPE, CRPIX, CRVAL, CDELT) though {cube_name} has one: "
                        "made from another cube, so its maps cannot be placed on the Sun")


def flag_key(var: xr.DataArray) -> list[tuple[int, str]]:
    """(code, meaning) of each flag of a CF flag variable, from its ``flag_values`` and
    ``flag_meanings`` attributes; empty for another variable."""
    values, meanings = var.attrs.get("flag_values"), var.attrs.get("flag_meanings")
    if values is None or meanings is None:
        return []
    values, meanings = np.atleast_1d(values).tolist(), str(meanings).split()
    if len(values) != len(meanings):
        raise DataError(f"{var.name}: {len(values)} flag_values but {len(meanings)} flag_meanings")
    if len(values) > 9:  # FLAGVALn is a FITS keyword of 8 characters
        raise DataError(f"{var.name}: {len(values)} flags, the FITS key has room for 9")
    return [(int(v), m) for v, m in zip(values, meanings)]


def fits_map_header(derived: xr.Dataset, products=tuple(FITS_PRODUCTS)):
    """The FITS header (``astropy.io.fits.Header``) of the footpoint maps of ``derived``,
    checked before anything is written: the products must all be there and carry a WCS.

    Raises
    ------
    DataError
        ``derived`` lacks a product, or carries no WCS (a Low & Lou benchmark, or a cube
        made before the WCS was kept): the maps cannot be placed on the Sun.
    """
    from ffnn.analysis.derived import footpoint_wcs
    from ffnn.io.wcs import map_header

    missing = [name for name in products if name not in derived]
    if missing:
        raise DataError(f"the derived products lack {', '.join(repr(m) for m in missing)}")
    header = map_header(footpoint_wcs(derived), derived.sizes["x_foot"], derived.sizes["y_foot"])
    if header is None:
        raise DataError("the cube and its derived products carry no WCS (CTYPE, CRPIX, CRVAL, CDELT), "
                        "so their maps cannot be placed on the Sun; FITS maps need one, e.g. a SHARP "
                        "region's cube")
    return header


def write_fits_maps(derived: xr.Dataset, out_dir, *, products=tuple(FITS_PRODUCTS)) -> list[Path]:
    """Write the footpoint maps of a derived dataset as FITS images with the region's WCS.

    Each file ``<product>.fits`` holds the map transposed to FITS order (rows y,
    columns x) in float32 (a flag map in int16) with the heliographic CEA header of the
    footpoint grid, and for a flag map (``end_face``) the key of its codes (:func:`flag_key`): ``FLAGVALn`` = the
    code, ``FLAGNAMn`` = its meaning (n = 1, 2, ...) and a ``COMMENT`` line each. Opens
    with ``sunpy.map.Map``.

    Parameters
    ----------
    derived : `xarray.Dataset`
        Derived products of ``ffnn derived`` (:func:`ffnn.analysis.derived.derived_dataset`)
        on their footpoint grid (``xf``, ``yf``, Mm), with the region's WCS keywords.
    out_dir : path-like
        The directory for the files.
    products : tuple of str, optional
        Which maps (default :data:`FITS_PRODUCTS`: twist, log10_q, end_face, bz).

    Returns
    -------
    list of `pathlib.Path`
        The files written, ``<product>.fits``, in the order of ``products``.

    Raises
    ------
    ffnn.util.errors.DataError
        As :func:`fits_map_header` (no WCS, another grid), before any file is written.
    """
    from astropy.io import fits

    header = fits_map_header(derived, products)
    keys = {name: flag_key(derived[name]) for name in products}  # checked before the first file
    written = []
    for name in products:
        # a flag map keeps its integer codes (BITPIX 16); the others are float32
        data = derived[name].transpose("x_foot", "y_foot").values.T.astype(np.int16 if keys[name] else np.float32)
        hdr = header.copy()
        hdr["BUNIT"] = FITS_PRODUCTS.get(name, "")
        hdr["BTYPE"] = name
        hdr["COMMENT"] = str(derived[name].attrs.get("long_name", name))[:70]
        hdr["ORIGIN"] = "ffnn derived"
        for n, (code, meaning) in enumerate(keys[name], start=1):
            hdr[f"FLAGVAL{n}"] = (code, f"{name} code of flag {n}, meaning FLAGNAM{n}")
            hdr[f"FLAGNAM{n}"] = (meaning, f"meaning of {name} = {code}")
            hdr.add_comment(f"{name} = {code}: {meaning}")

        def write(tmp, data=data, hdr=hdr):
            fits.PrimaryHDU(data, hdr).writeto(tmp, overwrite=True, output_verify="silentfix")

        written.append(atomic_write(Path(out_dir) / f"{name}.fits", write))
    return written
