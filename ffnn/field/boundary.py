"""Boundary data: the two file formats training consumes, how a bottom map is made (from a
SHARP record's files, :func:`from_sharp`; from a cube's lowest layer, :func:`from_cube`),
and conversions between the formats.

Two kinds of NetCDF file carry boundary data (all lengths in Mm, all fields in G):

*Bottom map* (``boundary.nc``): dims ``(x, y)``, coordinates ``x``, ``y`` (pixel centres,
centred on the region), data variables ``Bx``, ``By``, ``Bz`` (NaN where not observed) and
optionally ``Bx_err``, ``By_err``, ``Bz_err``. Attributes ``height_mm`` (box height) and
``l0_mm`` (the unit length of the network's coordinates, :class:`ffnn.io.box.UnitBox`);
anything else (SHARP keywords)
is carried along.

*Boundary points* (``faces.nc``, ``pf_faces.nc``): dim ``point``, variables ``x``, ``y``,
``z`` (Mm), ``Bx``, ``By``, ``Bz`` (G), ``face`` (int8, codes in :data:`FACES`) and
``source`` (int8, codes in :data:`SOURCES`: observed data, or a potential field standing in
for data, which training trusts less); optionally the 1-sigma errors ``Bx_err``, ``By_err``,
``Bz_err`` (G; NaN where unknown). Attributes give the box: ``x_min``, ``x_max``,
``y_min``, ``y_max``, ``z_min``, ``z_max`` (Mm).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import xarray as xr

from ffnn.util.errors import DataError
from ffnn.util.files import read_dataset, write_netcdf
from ffnn.io.wcs import wcs_attrs
from ffnn.io.box import BOX_KEYS, COMPONENTS, ERRORS, FACES, SOURCES, box_of_map, map_box_attrs

log = logging.getLogger(__name__)

# CF attributes of the boundary-point variables (UDUNITS spellings)
POINT_ATTRS = {
    "x": {"units": "Mm", "long_name": "x of the boundary point (west), centred on the region"},
    "y": {"units": "Mm", "long_name": "y of the boundary point (north), centred on the region"},
    "z": {"units": "Mm", "long_name": "height of the boundary point above the photosphere"},
    **{c: {"units": "gauss", "long_name": f"magnetic field {c} at the boundary point"} for c in COMPONENTS},
    **{e: {"units": "gauss", "long_name": f"1-sigma uncertainty of {e[:2]} at the boundary point"} for e in ERRORS},
    "face": {"long_name": "face of the box the point lies on"},
    "source": {"long_name": "where the boundary value comes from: observed data or a potential field"},
}
# No solar field comes near this (sunspot umbrae reach ~4 kG): a larger value is a fill
# value or a unit error, and would overflow the squared residuals of training in float32.
MAX_FIELD_G = 1e5


def is_map(ds: xr.Dataset) -> bool:
    """True for a bottom map (dims x, y), False for boundary points (dim point)."""
    return "point" not in ds.dims


def from_sharp(directory, *, bin_factor: int | None = None, height_mm: float | None = None,
               record=None) -> xr.Dataset:
    """The bottom map of the SHARP record whose segment files lie in ``directory``.

    Parameters
    ----------
    directory : path-like
        A directory with one record's segment files (``<record>.Br.fits`` or
        ``Br.fits``; Bp, Bt required, Br_err, Bp_err, Bt_err optional).
    bin_factor : int, optional
        f x f NaN-mean binning (1: none). Default 2.
    height_mm : float, optional
        Box height in Mm. Default 100.
    record : path-like, optional
        A record JSON whose keywords complete the Br header's (the header wins).
        Default ``directory/sharp.json`` when present; one given must exist.

    Returns
    -------
    `xarray.Dataset`
        The bottom map of :func:`ffnn.io.sharp.segments_map`: Bx = Bp, By = -Bt, Bz = Br
        (G) on ``(x, y)`` (Mm), errors when present, keywords and WCS as attributes.

    Raises
    ------
    ffnn.util.errors.ConfigError
        For a bin factor or height out of range.
    ffnn.util.errors.DataError
        Naming the directory: no record's Br, Bp, Bt, segments of different records
        (HARPNUM, T_REC), segments that cannot be read or do not fit together, or a
        ``record`` that does not exist.

    Notes
    -----
    Missing error segments are logged as a warning: training's ``bc_errors``
    "component" then counts the components equally. :func:`ffnn.field.api.read_sharp`
    is this with quantities and the shipped records.
    """
    from ffnn.io import sharp

    directory = Path(directory)
    if record is not None and not Path(record).is_file():
        raise DataError(f"record file {record} does not exist")
    paths = sharp.find_segments(directory)
    missing = [s for s in sharp.SEGMENT_ERRORS.values() if s not in paths]
    if missing:
        lacking = [e for e, s in sharp.SEGMENT_ERRORS.items() if s in missing]
        log.warning("SHARP directory %s has no error segment(s) %s: the boundary has no %s, and "
                    "training's bc_errors 'component' counts the components equally",
                    directory, ", ".join(missing), ", ".join(lacking))
    segments = {seg: sharp.read_segment(p) for seg, p in paths.items()}
    sharp.check_one_record(segments, directory)
    extra = sharp.read_record_json(record if record is not None else directory / sharp.RECORD_JSON)
    extra["source_files"] = " ".join(p.name for p in paths.values())
    try:
        return sharp.segments_map(segments, extra_attrs=extra,
                                  bin_factor=sharp.DEFAULT_BIN if bin_factor is None else bin_factor,
                                  height_mm=sharp.DEFAULT_HEIGHT_MM if height_mm is None else height_mm)
    except DataError as err:  # shapes, pixel sizes, rotation: name the record's directory
        raise DataError(f"SHARP directory {directory}: {err}") from None


def from_cube(cube: xr.Dataset) -> xr.Dataset:
    """The z = 0 layer of a cube as a bottom map (a Low & Lou reference's, say).

    Parameters
    ----------
    cube : `xarray.Dataset`
        ``Bx``, ``By``, ``Bz`` (G) on ``(x, y, z)`` (Mm).

    Returns
    -------
    `xarray.Dataset`
        ``Bx``, ``By``, ``Bz`` on ``(x, y)``; the cube's attributes with ``height_mm``
        (the cube's height: the box is as high as the cube) and ``l0_mm``.
    """
    z = cube["z"].values
    bottom = cube[list(COMPONENTS)].isel(z=0, drop=True).transpose("x", "y")
    bottom.attrs = {**cube.attrs, **map_box_attrs(cube["x"].values, cube["y"].values, z.max() - z.min())}
    return bottom


def write_map(ds: xr.Dataset, path) -> Path:
    """Write a bottom map as NetCDF (zlib-compressed, NaN kept)."""
    return write_netcdf(ds, path, encoding={name: {"zlib": True, "complevel": 4} for name in ds.data_vars})


def make_points(x, y, z, bx, by, bz, face, box: dict[str, float], attrs=None,
                source: str = "observed", errors=None) -> xr.Dataset:
    """Build a boundary-points dataset from flat arrays (Mm, G), a face code per point,
    the data's ``source`` (a key of :data:`SOURCES`) and optional 1-sigma ``errors``
    (three arrays in G, NaN where unknown)."""
    arrays = [np.asarray(a).ravel() for a in (x, y, z, bx, by, bz)]
    errors = [np.asarray(e, dtype=np.float64).ravel() for e in errors] if errors is not None else []
    n = arrays[0].size
    if any(a.size != n for a in arrays + errors):
        raise DataError("boundary points: coordinate and field arrays differ in length")
    if source not in SOURCES:
        raise DataError(f"unknown boundary data source {source!r}; choose from {list(SOURCES)}")
    face = np.broadcast_to(np.asarray(face, dtype=np.int8), (n,))
    data = {name: ("point", arr.astype(np.float64)) for name, arr in zip(("x", "y", "z", *COMPONENTS), arrays)}
    data.update({name: ("point", arr) for name, arr in zip(ERRORS, errors)})
    data["face"] = ("point", face.copy())
    data["source"] = ("point", np.full(n, SOURCES[source], np.int8))
    ds = xr.Dataset(data, attrs={**(attrs or {}), **{k: float(box[k]) for k in BOX_KEYS}})
    for name in ds.data_vars:
        ds[name].attrs.update(POINT_ATTRS[name])
    for name, codes in (("face", FACES), ("source", SOURCES)):
        ds[name].attrs["flag_values"] = np.array(list(codes.values()), dtype=np.int8)
        ds[name].attrs["flag_meanings"] = " ".join(codes)
    return ds


def map_to_points(ds: xr.Dataset) -> xr.Dataset:
    """A bottom map as boundary points at z = 0, the form training takes.

    Parameters
    ----------
    ds : `xarray.Dataset`
        A bottom map: Bx, By, Bz (G; errors optional) on ``(x, y)`` (Mm), attribute
        ``height_mm``.

    Returns
    -------
    `xarray.Dataset`
        One point per pixel on dim ``point`` (nx ny of them): ``x``, ``y``, ``z`` = 0
        (Mm), Bx, By, Bz and errors (G; NaN pixels kept, training masks them; errors
        the map lacks are NaN when it has others), ``face`` = bottom, ``source`` =
        observed; box attributes from ``height_mm``; the map's WCS keywords
        (:mod:`ffnn.io.wcs`) and its ``preprocessing`` record, so that the model can be
        placed on the Sun and the trust checks know the map was changed.
    """
    X, Y = np.meshgrid(ds["x"].values, ds["y"].values, indexing="ij")
    fields = [ds[c].transpose("x", "y").values for c in COMPONENTS]
    errors = ([ds[e].transpose("x", "y").values if e in ds else np.full(X.shape, np.nan) for e in ERRORS]
              if any(e in ds for e in ERRORS) else None)
    attrs = wcs_attrs(ds.attrs)
    if "preprocessing" in ds.attrs:
        attrs["preprocessing"] = ds.attrs["preprocessing"]
    return make_points(X, Y, np.zeros_like(X), *fields, face=FACES["bottom"], box=box_of_map(ds),
                       attrs=attrs, errors=errors)


def cube_faces(cube: xr.Dataset, faces=tuple(FACES)) -> xr.Dataset:
    """Boundary points on faces of a cube, at its grid positions.

    Parameters
    ----------
    cube : `xarray.Dataset`
        Bx, By, Bz (G) on ``(x, y, z)`` (Mm).
    faces : tuple of str, optional
        Face names (keys of :data:`FACES`): ``bottom``, ``top``, ``x_min``, ``x_max``,
        ``y_min``, ``y_max``. Default all six.

    Returns
    -------
    `xarray.Dataset`
        Boundary points (dim ``point``) with ``face`` codes, ``source`` observed, and the
        cube's extent as box attributes. Edge and corner points shared by two faces are
        kept once (the first face listed wins).

    Raises
    ------
    ffnn.util.errors.DataError
        For an unknown face name.
    """
    unknown = set(faces) - set(FACES)
    if unknown:
        raise DataError(f"unknown face name(s) {sorted(unknown)}; choose from {list(FACES)}")
    x, y, z = (cube[c].values for c in ("x", "y", "z"))
    X, Y, Z = np.meshgrid(x, y, z, indexing="ij")
    selectors = {"bottom": (slice(None), slice(None), 0), "top": (slice(None), slice(None), -1),
                 "x_min": (0, slice(None), slice(None)), "x_max": (-1, slice(None), slice(None)),
                 "y_min": (slice(None), 0, slice(None)), "y_max": (slice(None), -1, slice(None))}
    taken = np.zeros(X.shape, dtype=bool)
    comps = {c: cube[c].transpose("x", "y", "z").values for c in COMPONENTS}
    parts = []
    for name in faces:
        sel = np.zeros(X.shape, dtype=bool)
        sel[selectors[name]] = True
        sel &= ~taken
        taken |= sel
        parts.append((sel, FACES[name]))
    def cat(a):
        return np.concatenate([a[sel] for sel, _ in parts])

    codes = np.concatenate([np.full(int(s.sum()), f, np.int8) for s, f in parts])
    box = dict(x_min=x.min(), x_max=x.max(), y_min=y.min(), y_max=y.max(), z_min=z.min(), z_max=z.max())
    return make_points(cat(X), cat(Y), cat(Z), *(cat(comps[c]) for c in COMPONENTS), face=codes, box=box)


def merge_points(datasets: list[xr.Dataset]) -> xr.Dataset:
    """Boundary-point sets of one box concatenated.

    Parameters
    ----------
    datasets : list of `xarray.Dataset`
        Boundary points (:func:`make_points`, :func:`map_to_points`, ``faces.nc``).

    Returns
    -------
    `xarray.Dataset`
        All points on dim ``point``: errors NaN where a set has none, a set without
        ``source`` counted as observed; attributes the sets agree on, and the box.

    Raises
    ------
    ffnn.util.errors.DataError
        When no set is given or the sets describe different boxes.
    """
    if not datasets:
        raise DataError("no boundary data given")
    datasets = [_complete(ds) for ds in datasets]
    box0 = {k: datasets[0].attrs[k] for k in BOX_KEYS}
    for ds in datasets[1:]:
        box = {k: ds.attrs[k] for k in BOX_KEYS}
        if not np.allclose(list(box.values()), list(box0.values()), rtol=1e-6, atol=1e-9):
            raise DataError(f"boundary files describe different boxes: {box0} vs {box}")
    merged = xr.concat(datasets, dim="point", combine_attrs="drop_conflicts")
    merged.attrs.update(box0)
    return merged


def _complete(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy()
    n = ds.sizes["point"]
    for name in ERRORS:
        if name not in ds:
            ds[name] = ("point", np.full(n, np.nan), POINT_ATTRS[name])
    if "source" not in ds:
        ds["source"] = ("point", np.full(n, SOURCES["observed"], np.int8))
    return ds


def load_boundary(paths) -> xr.Dataset:
    """Bottom maps and boundary-point files read and merged into one set of points.

    Parameters
    ----------
    paths : iterable of path-like
        NetCDF files: bottom maps (``boundary.nc``, ``preprocessed.nc``) and/or boundary
        points (``faces.nc``, ``pf_faces.nc``) of one box.

    Returns
    -------
    `xarray.Dataset`
        Boundary points on dim ``point``: ``x``, ``y``, ``z`` (Mm), ``Bx``, ``By``, ``Bz``
        and errors (G, NaN where unknown), ``face`` and ``source`` codes; box attributes
        ``x_min`` ... ``z_max`` (Mm).

    Raises
    ------
    ffnn.util.errors.DataError
        For a file that cannot be read, lacks Bx, By, Bz, is neither a map nor points (a
        cube), holds values beyond 1e5 G (a fill value or a unit error), or describes
        another box than the others.
    """
    parts = []
    for path in paths:
        ds = read_dataset(path, "boundary file")
        missing = [c for c in COMPONENTS if c not in ds]
        if missing:
            raise DataError(f"boundary file {path} lacks variable(s) {missing}")
        _check_kind(ds, path)
        _check_values(ds, path)
        parts.append(map_to_points(ds) if is_map(ds) else ds)
    return merge_points(parts)


def read_map(path, what: str = "--boundary") -> xr.Dataset:
    """A bottom map (``boundary.nc``: Bx, By, Bz on x, y) read from a file.

    Parameters
    ----------
    path : path-like
        The NetCDF file.
    what : str, optional
        How messages name the file (default ``"--boundary"``).

    Returns
    -------
    `xarray.Dataset`
        The map: Bx, By, Bz (G) on ``(x, y)`` (Mm) and its attributes.

    Raises
    ------
    ffnn.util.errors.DataError
        In one line naming ``what`` and the path, when the file is something else (a
        cube, boundary points), before any product is made from it.
    """
    ds = read_dataset(path, what)
    for name in COMPONENTS:
        if name not in ds:
            raise DataError(f"{what} {path} lacks {name}: not a bottom map (Bx, By, Bz on x, y)")
        dims = set(ds[name].dims)
        if dims != {"x", "y"}:
            kind = ("a cube (on x, y, z)" if dims == {"x", "y", "z"} else
                    "boundary points (on point)" if dims == {"point"} else f"{name} on {tuple(ds[name].dims)}")
            raise DataError(f"{what} {path} is {kind}, not a bottom map (Bx, By, Bz on x, y)")
    return ds


def _check_kind(ds: xr.Dataset, path) -> None:
    """DataError of one line unless ``ds`` is a bottom map (on x, y) or boundary points (on
    point): a cube, say, on which the merge of the points fails with a traceback."""
    for name in COMPONENTS:
        dims = set(ds[name].dims)
        if dims not in ({"x", "y"}, {"point"}):
            hint = " (a cube? 'ffnn boundary CUBE -o MAP' takes its lowest layer)" if "z" in dims else ""
            raise DataError(f"boundary file {path} is neither a bottom map (Bx, By, Bz on x, y) nor "
                            f"boundary points (on point): {name} has dims {tuple(ds[name].dims)}{hint}")


def _check_values(ds: xr.Dataset, path) -> None:
    for name in COMPONENTS:
        values = np.asarray(ds[name].values, dtype=np.float64)
        bad = ~np.isnan(values) & (np.abs(values) > MAX_FIELD_G)  # an infinity too: no measurement
        if bad.any():
            i = np.unravel_index(np.flatnonzero(bad)[0], values.shape)
            where = ", ".join(f"{d}={float(ds[d].values[k]):.4g} Mm" for d, k in zip(ds[name].dims, i)
                              if d in ds.coords)
            if not where:  # boundary points: their coordinates are variables
                where = ", ".join(f"{c}={float(ds[c].values[i[0]]):.4g} Mm" for c in ("x", "y", "z"))
            raise DataError(f"boundary file {path}: {name} = {values[i]:.3g} G at {where} "
                            f"({int(bad.sum())} value(s) beyond ±{MAX_FIELD_G:g} G): not a solar "
                            "field; mask such pixels (NaN) or fix their units")
