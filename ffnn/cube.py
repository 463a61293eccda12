"""Field cubes on regular grids: construction with CF-style attributes, atomic NetCDF I/O.

A cube is an ``xarray.Dataset`` with dims ``(x, y, z)`` (coordinates in Mm, regular
spacing) and field variables in G (``Bx``, ``By``, ``Bz``; optionally ``Jx``, ``Jy``, ``Jz``
in G/Mm as the curl of B, and ``divB`` in G/Mm).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr

from ffnn.errors import DataError

UNITS = {"Bx": "G", "By": "G", "Bz": "G", "Jx": "G Mm-1", "Jy": "G Mm-1", "Jz": "G Mm-1",
         "divB": "G Mm-1"}
LONG_NAMES = {
    "Bx": "magnetic field, x component (solar west)",
    "By": "magnetic field, y component (solar north)",
    "Bz": "magnetic field, z component (radial, up)",
    "Jx": "curl of B, x component (current density J = c/(4 pi) curl B)",
    "Jy": "curl of B, y component",
    "Jz": "curl of B, z component",
    "divB": "divergence of B",
}


def make_cube(fields: dict, x, y, z, attrs=None, dtype=None) -> xr.Dataset:
    """Build a cube from arrays of shape (nx, ny, nz) on 1-D coordinates x, y, z (Mm)."""
    x, y, z = (np.asarray(c, dtype=np.float64) for c in (x, y, z))
    shape = (x.size, y.size, z.size)
    data = {}
    for name, arr in fields.items():
        arr = np.asarray(arr) if dtype is None else np.asarray(arr, dtype=dtype)
        if arr.shape != shape:
            raise DataError(f"field {name} has shape {arr.shape}, grid is {shape}")
        data[name] = (("x", "y", "z"), arr,
                      {"units": UNITS.get(name, ""), "long_name": LONG_NAMES.get(name, name)})
    coords = {
        "x": ("x", x, {"units": "Mm", "long_name": "x (west), centred on the region", "axis": "X"}),
        "y": ("y", y, {"units": "Mm", "long_name": "y (north), centred on the region", "axis": "Y"}),
        "z": ("z", z, {"units": "Mm", "long_name": "height above the photosphere", "axis": "Z",
                       "positive": "up"}),
    }
    return xr.Dataset(data, coords=coords, attrs={"Conventions": "CF-1.10", **(attrs or {})})


def spacing(ds: xr.Dataset) -> tuple[float, float, float]:
    """Grid spacings (dx, dy, dz) in Mm; raises DataError on irregular or missing axes."""
    out = []
    for name in ("x", "y", "z"):
        if name not in ds.coords:
            raise DataError(f"cube lacks coordinate {name!r}")
        c = ds[name].values
        if c.size < 3:
            raise DataError(f"cube axis {name} has {c.size} points; at least 3 are needed")
        d = np.diff(c)
        if not np.allclose(d, d[0], rtol=1e-5):
            raise DataError(f"cube axis {name} is not regularly spaced")
        out.append(float(d[0]))
    return tuple(out)


def field_array(ds: xr.Dataset, prefix: str = "B") -> np.ndarray:
    """The vector field as an array of shape (3, nx, ny, nz), float64."""
    names = [f"{prefix}{c}" for c in "xyz"]
    missing = [n for n in names if n not in ds]
    if missing:
        raise DataError(f"cube lacks variable(s) {missing}")
    for n in names:
        if set(ds[n].dims) != {"x", "y", "z"}:
            raise DataError(f"{n} has dims {ds[n].dims}; a cube needs (x, y, z)")
    return np.stack([ds[n].transpose("x", "y", "z").values.astype(np.float64) for n in names])


def check_same_grid(a: xr.Dataset, b: xr.Dataset, what: str = "reference") -> None:
    """Raise DataError unless cubes ``a`` and ``b`` share their x, y, z coordinates."""
    for name in ("x", "y", "z"):
        ca, cb = a[name].values, b[name].values
        if ca.shape != cb.shape or not np.allclose(ca, cb, rtol=1e-6, atol=1e-9):
            raise DataError(
                f"{what} is on another grid: axis {name} has {cb.size} points "
                f"[{cb.min():g}, {cb.max():g}] vs {ca.size} points [{ca.min():g}, {ca.max():g}]")


def write_atomic(ds: xr.Dataset, path, encoding=None) -> Path:
    """Write ``ds`` to NetCDF at ``path`` through a temporary name in the same directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        ds.to_netcdf(tmp, encoding=encoding, engine="netcdf4")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def compressed_encoding(ds: xr.Dataset, dtype="float32", chunk_z: int = 16) -> dict:
    """NetCDF encoding: zlib-compressed float32 variables chunked in slabs of z."""
    enc = {}
    for name, var in ds.data_vars.items():
        if var.dims == ("x", "y", "z"):
            nx, ny, nz = var.shape
            enc[name] = {"dtype": dtype, "zlib": True, "complevel": 4,
                         "chunksizes": (nx, ny, min(chunk_z, nz))}
    return enc


def read_cube(path) -> xr.Dataset:
    """Load a cube from NetCDF, checking it has B on a regular (x, y, z) grid."""
    try:
        ds = xr.load_dataset(path)
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read cube {path}: {err}") from err
    field_array(ds)
    spacing(ds)
    return ds.transpose("x", "y", "z", ...)
