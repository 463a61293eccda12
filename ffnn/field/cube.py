"""Field cubes on regular grids: a trained model evaluated on its grid (:func:`model_cube`),
construction with CF-style attributes, reading and checking.

A cube is an ``xarray.Dataset`` with dims ``(x, y, z)`` (coordinates in Mm, regular
spacing) and field variables in G (``Bx``, ``By``, ``Bz``; optionally ``Jx``, ``Jy``, ``Jz``
in G/Mm as the curl of B, and ``divB`` in G/Mm), their units attributes in UDUNITS'
spelling (``gauss``, ``gauss Mm-1``).
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from ffnn import __version__
from ffnn.util.errors import ConfigError, DataError
from ffnn.util.files import read_dataset

# UDUNITS spellings (CF): gauss, not G
UNITS = {"Bx": "gauss", "By": "gauss", "Bz": "gauss", "Jx": "gauss Mm-1", "Jy": "gauss Mm-1", "Jz": "gauss Mm-1",
         "divB": "gauss Mm-1"}
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
    """A cube dataset with CF attributes from field arrays on a regular grid.

    Parameters
    ----------
    fields : dict of str to array_like
        Variable name -> array of shape (nx, ny, nz): ``Bx``, ``By``, ``Bz`` in G,
        ``Jx``, ``Jy``, ``Jz``, ``divB`` in G/Mm, or other names (no units then).
    x, y, z : array_like
        1-D coordinates in Mm: x west and y north from the map's centre, z up from the
        photosphere; sizes nx, ny, nz.
    attrs : dict, optional
        Global attributes (e.g. the map's WCS keywords).
    dtype : numpy dtype, optional
        Cast the fields to it (default: as given).

    Returns
    -------
    `xarray.Dataset`
        Dims ``(x, y, z)``; each variable with ``units`` in UDUNITS spelling
        (:data:`UNITS`) and a ``long_name``; coordinates with ``units`` "Mm" and ``axis``.

    Raises
    ------
    ffnn.util.errors.DataError
        When a field's shape is not (nx, ny, nz).
    """
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
    return xr.Dataset(data, coords=coords, attrs=dict(attrs or {}))


def spacing(ds: xr.Dataset, what: str = "cube") -> tuple[float, float, float]:
    """The grid spacings of a cube.

    Parameters
    ----------
    ds : `xarray.Dataset`
        A cube with coordinates ``x``, ``y``, ``z`` (Mm).
    what : str, optional
        How messages name the cube (default "cube").

    Returns
    -------
    tuple of 3 float
        (dx, dy, dz) in Mm.

    Raises
    ------
    ffnn.util.errors.DataError
        When an axis is missing, has fewer than 3 points or is not regularly spaced.
    """
    out = []
    for name in ("x", "y", "z"):
        if name not in ds.coords:
            raise DataError(f"{what} lacks coordinate {name!r}")
        c = ds[name].values
        if c.size < 3:
            raise DataError(f"{what} axis {name} has {c.size} points; at least 3 are needed")
        steps = np.diff(c)
        if not np.allclose(steps, steps[0], rtol=1e-5):
            raise DataError(f"{what} axis {name} is not regularly spaced")
        out.append(float(steps[0]))
    return tuple(out)


def field_array(ds: xr.Dataset, prefix: str = "B") -> np.ndarray:
    """A cube's vector field as one array.

    Parameters
    ----------
    ds : `xarray.Dataset`
        A cube with ``<prefix>x``, ``<prefix>y``, ``<prefix>z`` on ``(x, y, z)``.
    prefix : str, optional
        ``"B"`` (default, G) or ``"J"`` (curl B, G/Mm).

    Returns
    -------
    `numpy.ndarray`
        Shape (3, nx, ny, nz), float64, components in x, y, z order.

    Raises
    ------
    ffnn.util.errors.DataError
        When a component is missing or not on ``(x, y, z)``.
    """
    names = [f"{prefix}{c}" for c in "xyz"]
    missing = [n for n in names if n not in ds]
    if missing:
        raise DataError(f"cube lacks variable(s) {missing}")
    for n in names:
        if set(ds[n].dims) != {"x", "y", "z"}:
            raise DataError(f"{n} has dims {ds[n].dims}; a cube needs (x, y, z)")
    return np.stack([ds[n].transpose("x", "y", "z").values.astype(np.float64) for n in names])


def check_same_grid(a: xr.Dataset, b: xr.Dataset, what: str = "reference", axes=("x", "y", "z"),
                    of: str = "") -> None:
    """Raise DataError unless cubes ``a`` and ``b`` share their x, y, z coordinates (or
    those of ``axes``: x, y for a cube against a bottom map); ``what`` names ``b``, ``of``
    (e.g. "the cube's ") heads ``a``'s points in the message."""
    for name in axes:
        if name not in b.coords:
            raise DataError(f"{what} lacks coordinate {name!r}")
        ca, cb = a[name].values, b[name].values
        if ca.shape != cb.shape or not np.allclose(ca, cb, rtol=1e-6, atol=1e-9):
            raise DataError(
                f"{what} is on another grid: axis {name} has {cb.size} points "
                f"[{cb.min():g}, {cb.max():g}] vs {of}{ca.size} points [{ca.min():g}, {ca.max():g}]")


def compressed_encoding(ds: xr.Dataset, dtype="float32", chunk_z: int = 16) -> dict:
    """NetCDF encoding: zlib-compressed float32 variables chunked in slabs of z."""
    enc = {}
    for name, var in ds.data_vars.items():
        if var.dims == ("x", "y", "z"):
            nx, ny, nz = var.shape
            enc[name] = {"dtype": dtype, "zlib": True, "complevel": 4,
                         "chunksizes": (nx, ny, min(chunk_z, nz))}
    return enc


def read_cube(path, what: str = "cube") -> xr.Dataset:
    """A cube read from NetCDF (``cube.nc``, ``potential.nc``), checked to hold B on a
    regular (x, y, z) grid.

    Parameters
    ----------
    path : path-like
        The NetCDF file.
    what : str, optional
        How messages name the file, e.g. the option that gave it (``"--potential"``).
        Default ``"cube"``.

    Returns
    -------
    `xarray.Dataset`
        ``Bx``, ``By``, ``Bz`` (G) and whatever else the file holds, dims ordered
        ``(x, y, z, ...)``, coordinates in Mm, attributes as written (CF units, WCS
        keywords, training record).

    Raises
    ------
    ffnn.util.errors.DataError
        In one line headed by ``what`` and the path, when the file cannot be read or is
        not a cube; another ffnn product (a bottom map, boundary points, derived
        products) is named as such.
    """
    ds = read_dataset(path, what)
    check_cube(ds, f"{what} {path}")
    return ds.transpose("x", "y", "z", ...)


def check_cube(ds: xr.Dataset, what: str = "cube") -> None:
    """DataError of one line naming ``what`` (e.g. the option and the path) unless ``ds``
    has Bx, By, Bz on a regular (x, y, z) grid; another ffnn product is named as such."""
    components = ("Bx", "By", "Bz")
    missing = [n for n in components if n not in ds]
    dims = {n: tuple(ds[n].dims) for n in components if n not in missing}
    expected = "not a cube (Bx, By, Bz on x, y, z)"
    if missing and "end_face" in ds and "twist" in ds:
        raise DataError(f"{what} holds derived products of 'ffnn derived' (alpha, twist, log10_q, ...), "
                        f"{expected}: give the cube they were made from")
    if missing:
        raise DataError(f"{what} lacks {', '.join(missing)}: {expected}")
    if all(set(d) == {"x", "y"} for d in dims.values()):
        raise DataError(f"{what} is a bottom map (Bx, By, Bz on x, y), {expected}")
    if all(d == ("point",) for d in dims.values()):
        raise DataError(f"{what} holds boundary points (Bx, By, Bz on point: faces.nc), {expected}")
    for name, d in dims.items():
        if set(d) != {"x", "y", "z"}:
            raise DataError(f"{what}: {name} has dims {d}, {expected}")
    spacing(ds, what)


# ---------------------------------------------------------------- from a trained model

def evaluate_points(model, box, x, y, z, chunk: int = 16384):
    """B, curl B and div B of a trained network at physical points.

    Parameters
    ----------
    model : `torch.nn.Module`
        The network (:class:`ffnn.field.model.FFNN` or ``HeldBottom``).
    box : `ffnn.io.box.UnitBox`
        The training box, which maps the points to the network's unit coordinates.
    x, y, z : array_like
        The points in Mm, arrays of one shape.
    chunk : int, optional
        Points through the network at a time (memory is bounded whatever the grid size).
        Default 16384.

    Returns
    -------
    b : `numpy.ndarray`
        B in G, shape ``(3, *x.shape)``.
    curl : `numpy.ndarray`
        curl B in G/Mm, shape ``(3, *x.shape)``.
    div : `numpy.ndarray`
        div B in G/Mm, shape ``x.shape``.

    Raises
    ------
    ffnn.util.errors.ConfigError
        When ``chunk`` < 1.
    """
    import torch

    from ffnn.field.model import curl_div

    if int(chunk) < 1:  # range(0, n, chunk) would be empty (or fail) and leave B unset
        raise ConfigError(f"points per evaluation batch (chunk) must be >= 1, got {chunk}")
    shape = np.shape(x)
    unit = box.to_unit(x, y, z)
    p = next(model.parameters())
    out_b = np.empty((unit.shape[0], 3))
    out_j = np.empty((unit.shape[0], 3))
    out_div = np.empty(unit.shape[0])
    for start in range(0, unit.shape[0], chunk):
        xs = torch.as_tensor(unit[start:start + chunk], dtype=p.dtype, device=p.device)
        with torch.no_grad():
            b, jac = model.field_and_jacobian(xs)
            curl, div = curl_div(jac)
        sl = slice(start, start + xs.shape[0])
        out_b[sl] = b.cpu().numpy()
        out_j[sl] = curl.cpu().numpy() / box.l0  # unit-coordinate derivatives -> per Mm
        out_div[sl] = div.cpu().numpy() / box.l0
    return (out_b.T.reshape((3, *shape)), out_j.T.reshape((3, *shape)), out_div.reshape(shape))


def model_cube(model, meta: dict, x=None, y=None, z=None, chunk: int = 16384) -> xr.Dataset:
    """A trained model evaluated on a grid, as a cube (what ``ffnn cube`` writes).

    Parameters
    ----------
    model : `torch.nn.Module`
        The network (:class:`ffnn.field.model.FFNN` or ``HeldBottom``), mapping unit
        coordinates (n, 3) to B (n, 3) in G, or a spline_grid
        :class:`ffnn.field.gridfield.GridField`.
    meta : dict
        Its record as saved with it (:func:`ffnn.field.train.save_model`): ``box``,
        ``grid``, ``config``, ``final``, ``iterations``, ``wcs`` ...
    x, y, z : array_like, optional
        1-D coordinates in Mm; each defaults to the training data's axis.
    chunk : int, optional
        Points per evaluation batch (bounds memory). Default 16384.

    Returns
    -------
    `xarray.Dataset`
        Dims ``(x, y, z)``: ``Bx``, ``By``, ``Bz`` (G), ``Jx``, ``Jy``, ``Jz`` (curl B,
        G/Mm), ``divB`` (G/Mm); attributes: the training settings, final loss terms,
        stop reason, package version, ``l0_mm`` and the bottom map's WCS keywords
        (:mod:`ffnn.io.wcs`, valid for the cube's x, y grid).

    Raises
    ------
    ffnn.util.errors.ConfigError
        When ``chunk`` < 1, or a spline_grid model is asked for another grid.

    Notes
    -----
    For a network, derivatives are its own (automatic differentiation in unit
    coordinates, divided by the unit length l0), not finite differences. A spline_grid
    model (:class:`ffnn.field.gridfield.GridField`) gives B, curl B and div B on its
    training grid only, with the grid's central differences; another grid raises
    ConfigError.
    """
    from ffnn.io.box import UnitBox

    grid = meta["grid"]
    x = np.asarray(grid["x"] if x is None else x, dtype=np.float64)
    y = np.asarray(grid["y"] if y is None else y, dtype=np.float64)
    z = np.asarray(grid["z"] if z is None else z, dtype=np.float64)
    box = UnitBox(**meta["box"])
    if hasattr(model, "field_on_grid"):  # a grid representation: B lives on its training grid
        own = [np.asarray(grid[c], dtype=np.float64) for c in "xyz"]
        if any(a.shape != o.shape or not np.allclose(a, o, rtol=1e-6, atol=1e-9) for a, o in zip((x, y, z), own)):
            raise ConfigError("a spline_grid model gives B on its training grid only "
                              f"({' x '.join(str(o.size) for o in own)} nodes); another grid was asked for")
        b, j, div = model.field_on_grid()
    else:
        X, Y, Z = np.meshgrid(x, y, z, indexing="ij")
        b, j, div = evaluate_points(model, box, X, Y, Z, chunk)
    fields = {"Bx": b[0], "By": b[1], "Bz": b[2], "Jx": j[0], "Jy": j[1], "Jz": j[2], "divB": div}
    attrs = {
        "title": "force-free neural network extrapolation",
        "source": f"ffnn {__version__}",
        "ffnn_version": __version__,
        "training_config": json.dumps(meta["config"]),
        "training_final_loss": json.dumps(meta.get("final", {})),
        "training_iterations": int(meta.get("iterations", 0)),
        "training_wall_time_s": float(meta.get("elapsed_s", 0.0)),
        "training_stop_reason": str(meta.get("stop_reason")),
        "training_bottom_preprocessing": str(meta.get("preprocessing") or "none"),
        "architecture": meta.get("architecture", ""),
        "l0_mm": box.l0,
        **{k: v.item() if isinstance(v, np.generic) else v for k, v in (meta.get("wcs") or {}).items()},
    }
    return make_cube(fields, x, y, z, attrs=attrs)
