"""Exports for other tools: a VTK file of the cube for ParaView/VisIt, FITS maps on the Sun.

VTK: a legacy-format (version 3.0), binary, ``STRUCTURED_POINTS`` dataset (VTK's image
data: a regular grid given by its origin and spacing, in Mm), with point data B (vector,
G), J = curl B (vector, G/Mm) and alpha (scalar, 1/Mm). Legacy binary VTK is big-endian
float32; ParaView, VisIt and VTK's own readers open it, and so does ``meshio`` (the tests
read it back with meshio). The file is written through a temporary name.

FITS: one image per footpoint product of ``derived.nc`` (``twist``, ``log10_q``,
``end_face``, ``bz``), 2-D, with the region's heliographic CEA WCS of the footpoint grid
(:mod:`ffnn.wcs`), so that ``sunpy.map.Map`` places it on the Sun (e.g. to overlay on AIA).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from ffnn.cube import field_array, spacing
from ffnn.errors import DataError
from ffnn.files import atomic_write

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

    Returns
    -------
    pathlib.Path

    Raises
    ------
    DataError
        No B in the cube, or its grid is irregular.
    """
    from ffnn.derived import alpha_and_helicity, current as cube_current

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


def fits_map_header(derived: xr.Dataset, products=tuple(FITS_PRODUCTS)):
    """The FITS header (``astropy.io.fits.Header``) of the footpoint maps of ``derived``,
    checked before anything is written: the products must all be there and carry a WCS.

    Raises
    ------
    DataError
        ``derived`` lacks a product, or carries no WCS (a Low & Lou benchmark, or a cube
        made before the WCS was kept): the maps cannot be placed on the Sun.
    """
    from ffnn.derived import footpoint_wcs
    from ffnn.wcs import map_header

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
    columns x) in float32 with the heliographic CEA header of the footpoint grid. Opens
    with ``sunpy.map.Map``.

    Raises
    ------
    DataError
        As :func:`fits_map_header`, before any file is written.
    """
    from astropy.io import fits

    header = fits_map_header(derived, products)
    written = []
    for name in products:
        data = derived[name].transpose("x_foot", "y_foot").values.T.astype(np.float32)
        hdr = header.copy()
        hdr["BUNIT"] = FITS_PRODUCTS.get(name, "")
        hdr["BTYPE"] = name
        hdr["COMMENT"] = str(derived[name].attrs.get("long_name", name))[:70]
        hdr["ORIGIN"] = "ffnn derived"

        def write(tmp, data=data, hdr=hdr):
            fits.PrimaryHDU(data, hdr).writeto(tmp, overwrite=True, output_verify="silentfix")

        written.append(atomic_write(Path(out_dir) / f"{name}.fits", write))
    return written
