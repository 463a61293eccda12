"""Potential (current-free) fields above a bottom Bz map (Alissandrakis 1981; Sakurai 1982).

Two methods, both evaluated one height layer at a time so memory stays O(nx ny):
``fft`` (default; Alissandrakis 1981, A&A 100, 197), the Fourier solution on the map
zero-padded ``pad``-fold; ``green`` (Schmidt 1964; Sakurai 1982, Sol. Phys. 76, 301), the
exact open half-space's Green's function with each pixel integrated as a uniformly
charged rectangle. Neither rebalances the map's net flux. NaN pixels count as 0 G, as
the held bottom of training holds them (:func:`ffnn.field.train.hold_observed_bottom`), so
that a model and its potential field have one bottom and E/E_pot compares like with like.
Formulas, costs and the net-flux treatment: docs page "Potential fields"
(docs/topics/potential-fields.md).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ffnn.io.box import FACES, box_of_map
from ffnn.field.boundary import make_points
from ffnn.field.cube import make_cube
from ffnn.util.errors import ConfigError, DataError
from ffnn.io.wcs import wcs_attrs

METHODS = ("fft", "green")


def _check_bottom(bz: np.ndarray) -> np.ndarray:
    bz = np.asarray(bz, dtype=np.float64)
    if bz.ndim != 2 or min(bz.shape) < 2:
        raise DataError(f"bottom Bz must be a 2-D map, got shape {bz.shape}")
    if not np.isfinite(bz).any():
        raise DataError("bottom Bz map has no finite pixel")
    return np.where(np.isfinite(bz), bz, 0.0)


def _padded_spectrum(bz, dx, dy, pad):
    """Spectrum of the zero-padded map and the Alissandrakis factors.

    Returns (spec, k, ux, uy, (ox, oy), (px, py)): the map sits at offset (ox, oy) of the
    padded (px, py) grid; horizontal components are ux * spec, uy * spec (k = 0: none).
    """
    nx, ny = bz.shape
    px, py = pad * nx, pad * ny
    ox, oy = (px - nx) // 2, (py - ny) // 2
    padded = np.zeros((px, py))
    padded[ox:ox + nx, oy:oy + ny] = bz
    spec = np.fft.rfft2(padded)
    kx = 2 * np.pi * np.fft.fftfreq(px, d=dx)[:, None]
    ky = 2 * np.pi * np.fft.rfftfreq(py, d=dy)[None, :]
    k = np.hypot(kx, ky)
    kk = np.where(k == 0, 1.0, k)
    ux, uy = np.where(k == 0, 0, -1j * kx / kk), np.where(k == 0, 0, -1j * ky / kk)
    return spec, k, ux, uy, (ox, oy), (px, py)


def _fft_layers(bz, dx, dy, z, pad):
    nx, ny = bz.shape
    spec, k, ux, uy, (ox, oy), (px, py) = _padded_spectrum(bz, dx, dy, pad)
    for zi in z:
        layer = spec * np.exp(-k * zi)
        out = [np.fft.irfft2(c, s=(px, py))[ox:ox + nx, oy:oy + ny] for c in (ux * layer, uy * layer, layer)]
        yield tuple(out)


def _pixel_kernels(u, v, z, dx, dy):
    """Field at offset (u, v, z) of a uniformly charged dx-by-dy pixel of unit B_z, in G/G.

    Closed-form integrals of (r - r')/(2 pi |r - r'|^3) over the pixel, summed over its
    corners: arctan2 for the vertical part, asinh (not log, which cancels catastrophically
    far from the pixel) for the horizontal parts.
    """
    out = np.zeros((3,) + u.shape)
    for su, du in ((1, dx / 2), (-1, -dx / 2)):
        for sv, dv in ((1, dy / 2), (-1, -dy / 2)):
            a, b = u + du, v + dv
            r = np.sqrt(a * a + b * b + z * z)
            sign = su * sv / (2 * np.pi)
            out[0] -= sign * np.arcsinh(b / np.maximum(np.hypot(a, z), 1e-300))
            out[1] -= sign * np.arcsinh(a / np.maximum(np.hypot(b, z), 1e-300))
            out[2] += sign * np.arctan2(a * b, z * r)
    return out


def _green_layers(bz, dx, dy, z):
    nx, ny = bz.shape
    sx, sy = 2 * nx, 2 * ny
    # target-minus-source offsets, laid out in FFT order so the sum over pixels is a
    # linear (not periodic) convolution on the 2x padded grid
    ix = np.fft.ifftshift(np.arange(-nx, nx)) * dx
    iy = np.fft.ifftshift(np.arange(-ny, ny)) * dy
    U, V = np.meshgrid(ix, iy, indexing="ij")
    charge = np.fft.rfft2(bz, s=(sx, sy))
    for zi in z:
        kernels = _pixel_kernels(U, V, zi, dx, dy)
        yield tuple(np.fft.irfft2(charge * np.fft.rfft2(k), s=(sx, sy))[:nx, :ny] for k in kernels)


def potential_layers(bz, dx: float, dy: float, z, method: str = "fft", pad: int = 4):
    """Yield (Bx, By, Bz), each (nx, ny) in G, at each height of ``z`` (Mm) above map ``bz``.

    ``bz``: (nx, ny) G, pixel spacing ``dx``, ``dy`` in Mm; ``pad``: zero padding factor of
    the ``fft`` method (2 to 8).
    """
    bz = _check_bottom(bz)
    if method == "fft":
        if not 1 <= int(pad) <= 16:
            raise DataError(f"potential-field padding must be between 1 and 16, got {pad}")
        return _fft_layers(bz, dx, dy, np.asarray(z, float), int(pad))
    if method == "green":
        return _green_layers(bz, dx, dy, np.asarray(z, float))
    raise DataError(f"unknown potential-field method {method!r}; choose from {METHODS}")


# memory per grid point of the cube (float64 B and its float32 copy written) and per point
# of the faces (coordinates, field, face code: as parts, joined, and as the dataset)
CUBE_BYTES, FACE_POINT_BYTES = 40, 200
MAX_REFINE = 4  # layers per pixel size at most


def _map_grid(bottom: xr.Dataset, nz: int | None, point_bytes=None):
    """x, y, z (Mm), dx, dy and the box of the potential field's grid above ``bottom``;
    with ``point_bytes(nx, ny, nz)``, the memory the work needs, checked against the
    machine's (ConfigError naming ``--nz`` and the largest that fits)."""
    box = box_of_map(bottom)
    x, y = bottom["x"].values, bottom["y"].values
    if min(x.size, y.size) < 2:
        raise DataError(f"bottom map is {x.size} x {y.size} pixels: a potential field needs at least 2 x 2")
    dx, dy = float(np.diff(x).mean()), float(np.diff(y).mean())
    if nz is None:
        nz = int(round(box["z_max"] / dx)) + 1
    if int(nz) < 3:  # bottom, top and a layer between: fewer has no side faces, nor a readable cube
        raise DataError(f"potential field needs at least 3 heights (nz), got {nz}")
    finest = int(round(MAX_REFINE * box["z_max"] / min(dx, dy))) + 1
    if int(nz) > finest:
        # the map has no wavenumber beyond pi/dx: e^{-kz} varies on a pixel's scale at the least
        raise ConfigError(f"--nz {nz} gives layers {box['z_max'] / (int(nz) - 1):.3g} Mm apart, 1/"
                          f"{min(dx, dy) * (int(nz) - 1) / box['z_max']:.0f} of the {min(dx, dy):.4g} Mm pixel: a "
                          f"potential field has no structure finer than the map's pixels; --nz {finest} at most "
                          f"(1/{MAX_REFINE} pixel)")
    if point_bytes is not None:
        from ffnn.util.memory import available_bytes, check_memory

        have = available_bytes()
        fixed, per_layer = point_bytes(x.size, y.size, 0), point_bytes(x.size, y.size, 1) - point_bytes(x.size, y.size, 0)
        most = int((have - fixed) // per_layer) if have else 0
        check_memory(point_bytes(x.size, y.size, int(nz)), f"--nz {nz} gives a {x.size} x {y.size} x {nz} grid",
                     f"--nz {most} at most" if most >= 3 else "")
    z = np.linspace(0.0, box["z_max"], int(nz))
    return x, y, z, dx, dy, box


def _cube_bytes(nx, ny, nz):
    return CUBE_BYTES * nx * ny * nz


def _faces_bytes(nx, ny, nz):
    return FACE_POINT_BYTES * (2 * (nx + ny) * nz + nx * ny)


def check_size(bottom: xr.Dataset, nz: int | None = None, cube: bool = False) -> None:
    """Raise ConfigError (DataError for a map too small) before any work when the faces
    (and, with ``cube``, the cube) of the potential field above ``bottom`` with ``nz``
    heights would not fit in memory, naming the grid, the memory needed and the largest
    ``--nz`` that fits."""
    _map_grid(bottom, nz, _faces_bytes)
    if cube:
        _map_grid(bottom, nz, _cube_bytes)


def potential_cube(bottom: xr.Dataset, method: str = "fft", nz: int | None = None,
                   pad: int = 4) -> xr.Dataset:
    """The potential (current-free) field above a bottom map, as a cube.

    Parameters
    ----------
    bottom : `xarray.Dataset`
        A bottom map: ``Bz`` in G on ``(x, y)`` (Mm, regular), attribute ``height_mm``.
        NaN pixels count as 0 G.
    method : {"fft", "green"}, optional
        Fourier solution on the zero-padded map (default) or the open half-space's
        Green's function.
    nz : int, optional
        Heights from 0 to ``height_mm``. Default: dz equal to the pixel size.
    pad : int, optional
        Zero-padding factor of ``fft`` in x and y. Default 4.

    Returns
    -------
    `xarray.Dataset`
        ``Bx``, ``By``, ``Bz`` (G) on ``(x, y, z)`` of shape (nx, ny, nz); attributes
        ``potential_method`` and the map's WCS keywords (:func:`ffnn.io.wcs.wcs_attrs`):
        the cube lies on the map's grid.

    Raises
    ------
    ffnn.util.errors.DataError
        When Bz is not a 2-D map with a finite pixel, or its axes are not regular.

    Notes
    -----
    ``fft``: Bz^(k, z) = Bz^(k, 0) exp(-|k| z), Bx^ = -i kx/|k| Bz^, By^ = -i ky/|k| Bz^
    (Alissandrakis 1981). ``green``: phi = (1/2 pi) int Bz dA / |r - r'|, B = -grad phi
    (Schmidt 1964; Sakurai 1982), each pixel integrated as a uniformly charged rectangle.

    References
    ----------
    .. [1] Alissandrakis, C. E. 1981, A&A 100, 197.
    .. [2] Schmidt, H. U. 1964, in AAS-NASA Symposium on the Physics of Solar Flares,
       NASA SP-50, 107.
    .. [3] Sakurai, T. 1982, Sol. Phys. 76, 301.
    """
    x, y, z, dx, dy, _ = _map_grid(bottom, nz, _cube_bytes)
    bz = bottom["Bz"].transpose("x", "y").values
    cube = np.empty((3, x.size, y.size, z.size))
    for k, layer in enumerate(potential_layers(bz, dx, dy, z, method, pad)):
        for c in range(3):
            cube[c, :, :, k] = layer[c]
    return make_cube(dict(zip(("Bx", "By", "Bz"), cube)), x, y, z,
                     attrs={**wcs_attrs(bottom.attrs), "title": f"potential field ({method})",
                            "potential_method": method})


def _fft_edges(bz, dx, dy, z, pad):
    """Potential field on the four vertical edges of the map at each height, plus the top.

    Only the edge rows and columns of each layer are synthesised: the inverse transform at
    two fixed x (or y) positions is one small complex matrix product on the decaying
    spectrum, instead of a full padded inverse FFT per layer (O(nx ny) instead of
    O(nx ny log) per layer, and ~10x faster for a full-resolution SHARP).
    Yields (edges, top): edges = {"x_min", "x_max": (3, ny), "y_min", "y_max": (3, nx)},
    top = (3, nx, ny) for the last height only (None before).
    """
    nx, ny = bz.shape
    spec, k, ux, uy, (ox, oy), (px, py) = _padded_spectrum(bz, dx, dy, pad)
    nky = k.shape[1]
    # phases picking rows ox, ox+nx-1 (x edges) and columns oy, oy+ny-1 (y edges)
    rows = np.array([ox, ox + nx - 1])
    cols = np.array([oy, oy + ny - 1])
    phase_x = np.exp(2j * np.pi * np.outer(rows, np.fft.fftfreq(px) * px) / px) / px   # (2, px)
    weight = np.full(nky, 2.0)
    weight[0] = 1.0
    if py % 2 == 0:
        weight[-1] = 1.0
    phase_y = (weight[:, None] * np.exp(2j * np.pi * np.outer(np.arange(nky), cols) / py)) / py  # (nky, 2)
    # single precision halves the memory traffic; the faces are boundary targets, where
    # 1e-7 relative error is far below the data's own
    spec, ux, uy = spec.astype(np.complex64), ux.astype(np.complex64), uy.astype(np.complex64)
    phase_x, phase_y = phase_x.astype(np.complex64), phase_y.astype(np.complex64)
    dz = np.diff(z)
    uniform = dz.size == 0 or np.allclose(dz, dz[0])
    decay = np.exp(-k * (dz[0] if dz.size else 0.0)).astype(np.float32)
    layer = None
    for i, zi in enumerate(z):
        if layer is None or not uniform:
            layer = spec * np.exp(-k * zi).astype(np.float32)
        else:
            layer *= decay  # e^{-k z_i} = e^{-k z_(i-1)} e^{-k dz}
        comps = (ux * layer, uy * layer, layer)
        xe = np.stack([np.fft.irfft(phase_x @ c, n=py, axis=1)[:, oy:oy + ny] for c in comps])  # (3, 2, ny)
        ye = np.stack([np.fft.ifft(c @ phase_y, axis=0).real[ox:ox + nx] for c in comps])  # (3, nx, 2)
        edges = {"x_min": xe[:, 0], "x_max": xe[:, 1], "y_min": ye[:, :, 0], "y_max": ye[:, :, 1]}
        top = None
        if i == len(z) - 1:
            top = np.stack([np.fft.irfft2(c, s=(px, py))[ox:ox + nx, oy:oy + ny] for c in comps])
        yield edges, top


def _edges_from_layers(layers, n):
    for i, layer in enumerate(layers):
        arr = np.stack(layer)
        edges = {"x_min": arr[:, 0, :], "x_max": arr[:, -1, :], "y_min": arr[:, :, 0], "y_max": arr[:, :, -1]}
        yield edges, (arr if i == n - 1 else None)


def potential_faces(bottom: xr.Dataset, method: str = "fft", nz: int | None = None,
                    pad: int = 4) -> xr.Dataset:
    """The potential field on the four side faces and the top of the box, as boundary points.

    Parameters
    ----------
    bottom : `xarray.Dataset`
        A bottom map: ``Bz`` in G on ``(x, y)`` (Mm), attribute ``height_mm``.
    method : {"fft", "green"}, optional
        As :func:`potential_cube`. Default "fft".
    nz : int, optional
        Heights from 0 to ``height_mm`` (default: dz equal to the pixel size).
    pad : int, optional
        Zero-padding factor of ``fft``. Default 4.

    Returns
    -------
    `xarray.Dataset`
        Boundary points (dim ``point``; ``x``, ``y``, ``z`` in Mm, Bx, By, Bz in G) with
        ``source`` = potential (training trusts them by ``potential_weight``) and the
        box attributes. Points lie on the cube grid of :func:`potential_cube` (bottom
        layer excluded: it is the observed boundary); edges shared by two faces appear
        once (x faces take the corners).

    Raises
    ------
    ffnn.util.errors.DataError
        As :func:`potential_cube`.
    """
    x, y, z, dx, dy, box = _map_grid(bottom, nz, _faces_bytes)
    bz = _check_bottom(bottom["Bz"].transpose("x", "y").values)
    if method == "fft":
        if not 1 <= int(pad) <= 16:
            raise DataError(f"potential-field padding must be between 1 and 16, got {pad}")
        stream = _fft_edges(bz, dx, dy, z, int(pad))
    else:
        stream = _edges_from_layers(potential_layers(bz, dx, dy, z, method, pad), z.size)
    nx, ny = x.size, y.size
    parts = []
    for k, (edges, top) in enumerate(stream):
        if k == 0:
            continue
        if top is not None:
            X, Y = np.meshgrid(x, y, indexing="ij")
            parts.append((X.ravel(), Y.ravel(), np.full(nx * ny, z[k]), *(c.ravel() for c in top),
                          np.full(nx * ny, FACES["top"], np.int8)))
            continue
        for name, pos in (("x_min", x[0]), ("x_max", x[-1])):
            parts.append((np.full(ny, pos), y, np.full(ny, z[k]), *edges[name],
                          np.full(ny, FACES[name], np.int8)))
        for name, pos in (("y_min", y[0]), ("y_max", y[-1])):
            sl = slice(1, nx - 1)  # corners already on the x faces
            parts.append((x[sl], np.full(nx - 2, pos), np.full(nx - 2, z[k]), *(c[sl] for c in edges[name]),
                          np.full(nx - 2, FACES[name], np.int8)))
    cols = [np.concatenate(col) for col in zip(*parts)]
    return make_points(*cols[:6], face=cols[6], box=box, source="potential",
                       attrs={"title": f"potential-field faces ({method})", "potential_method": method})
