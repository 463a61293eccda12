"""Field lines of a cube, traced with ``streamtracer`` (the tracer of the sunpy ecosystem).

``streamtracer`` follows the direction field B/|B|, interpolated trilinearly on the grid,
with fixed-length fourth-order Runge-Kutta steps, in compiled code and in parallel over
lines (rayon threads: ``RAYON_NUM_THREADS``, see :func:`set_threads`). This module adds
what the products need around it:

* the grid is padded by one linearly extrapolated cell on every side (see
  :class:`FieldGrid` for why), lines run one step past the box surface, and each is cut
  where its last segment crosses the surface: every finished line ends *on* a face of the
  box (code in :data:`FACE_CODES`), or is :data:`UNFINISHED` (it met a null or
  non-finite field, or exceeded ``max_length``);
* lines longer than one streamtracer call allows are continued from their last point
  (streamtracer allocates ``max_steps`` points for every line of a call, whatever its
  length, so the buffer is kept short);
* line integrals of a scalar given on the grid (e.g. alpha, for the twist number), by the
  trapezoidal rule along the traced points;
* seeds are processed in chunks, so memory stays bounded for 10^5-10^6 lines.

Coordinates are those of the cube (Mm) on a regular grid.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ffnn.io.box import FACES
from ffnn.util.errors import DataError

UNFINISHED = -1
FACE_CODES = {"unfinished": UNFINISHED, **FACES}
# normal axis of each face and the in-face coordinates (U, V) used for the field-line mapping
FACE_AXIS = {0: 2, 1: 2, 2: 0, 3: 0, 4: 1, 5: 1}
_FACE_AXES = np.array([FACE_AXIS[c] for c in range(len(FACE_AXIS))])
FACE_UV = {0: (0, 1), 1: (0, 1), 2: (1, 2), 3: (1, 2), 4: (0, 2), 5: (0, 2)}

_BUFFER_BYTES = 48e6  # streamtracer's output buffer per call: lines x steps x 3 doubles
# Steps per streamtracer call. It allocates, zeroes and copies that many points for every
# line whatever its length, so a buffer spanning the longest possible line (four box
# diagonals) costs more than the tracing for many lines, and about 8 % of it for the
# figures' 30 on 64^3 (875 steps possible, at most 164 taken): most lines are short,
# longer ones are continued from their last point.
_STEPS_PER_CALL = 256


def set_threads(threads: int | None) -> None:
    """Threads streamtracer uses (``RAYON_NUM_THREADS``); None keeps rayon's default (all
    cores). Effective only before the first trace of the process: rayon reads it once."""
    if threads:
        os.environ["RAYON_NUM_THREADS"] = str(int(threads))


@dataclass(frozen=True)
class FieldGrid:
    """A vector field on a regular grid, ready for tracing.

    Made with :meth:`from_cube` (a cube's B or another vector) or :meth:`from_array`.

    Parameters
    ----------
    x, y, z : `numpy.ndarray`
        1-D coordinates (Mm) of the box, sizes nx, ny, nz.
    padded : `numpy.ndarray`
        The field (G), shape (nx + 2, ny + 2, nz + 2, 3), float64, with one cell of
        linear extrapolation on every side: a view of a (3, nx + 2, ny + 2, nz + 2)
        C-contiguous array, so each component ``padded[..., k]`` is contiguous
        (streamtracer reads the strided view without copying).

    Notes
    -----
    Why the padding: streamtracer looks up the cell of a position by a search that falls
    back to the *last* cell of an axis for any position outside the grid, so an RK4 stage
    that pokes below the lowest coordinate (a line about to cross the bottom, x_min or
    y_min) would read the field of the opposite side of the box. With the padding every
    stage within a cell of the box reads a continuous field, lines run one step past the
    box surface, and the crossing is found on that last segment.
    """

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    padded: np.ndarray

    @classmethod
    def from_array(cls, x, y, z, b) -> "FieldGrid":
        """From coordinates (Mm) and a field ``b``: (3, nx, ny, nz), or a sequence of three
        (nx, ny, nz) components."""
        x, y, z = (np.asarray(c, dtype=np.float64) for c in (x, y, z))
        if min(x.size, y.size, z.size) < 2:
            raise DataError("field-line tracing needs at least 2 grid points along each axis")
        # component-major: filling three contiguous blocks is a third faster than
        # interleaving them (memory-bound on large grids), and each component stays
        # contiguous for scipy's interpolation; streamtracer reads the strided view as is
        p = np.empty((3, x.size + 2, y.size + 2, z.size + 2))
        for k in range(3):
            component = np.asarray(b[k])
            if component.shape != (x.size, y.size, z.size):
                raise DataError(f"field component {k} has shape {component.shape}, grid is "
                                f"{(x.size, y.size, z.size)}")
            p[k, 1:-1, 1:-1, 1:-1] = component
        for axis in range(1, 4):
            inner = [slice(None)] + [slice(1, -1)] * 3
            inner[:axis] = [slice(None)] * axis  # earlier axes are padded already: corners too
            def at(i):
                sl = list(inner)
                sl[axis] = i
                return tuple(sl)
            p[at(0)] = 2 * p[at(1)] - p[at(2)]
            p[at(-1)] = 2 * p[at(-2)] - p[at(-3)]
        p = p.transpose(1, 2, 3, 0)
        return cls(x, y, z, p)

    @classmethod
    def from_cube(cls, cube: xr.Dataset, prefix: str = "B") -> "FieldGrid":
        """The field ``{prefix}x, {prefix}y, {prefix}z`` of a cube (dims x, y, z, regular)."""
        names = [f"{prefix}{c}" for c in "xyz"]
        missing = [n for n in names if n not in cube]
        if missing:
            raise DataError(f"cube lacks variable(s) {missing}")
        # xarray's variables and indexes, not DataArrays: building those, and np.allclose,
        # cost more than a sixth of tracing the figures' lines on a 16^3 grid
        axes = []
        for c in ("x", "y", "z"):
            if c not in cube.coords:
                raise DataError(f"cube lacks coordinate {c!r}")
            v = np.asarray(cube.indexes[c] if c in cube.indexes else cube.variables[c].values,
                           dtype=np.float64)
            d = np.diff(v)
            if v.size < 2 or not d[0] > 0 or np.abs(d - d[0]).max() > 1e-8 + 1e-5 * d[0]:
                raise DataError(f"cube axis {c} is not regular and increasing")
            axes.append(v)
        b = [cube.variables[n] for n in names]
        return cls.from_array(*axes, [(v if v.dims == ("x", "y", "z") else v.transpose("x", "y", "z")).values
                                      for v in b])

    @property
    def lo(self) -> np.ndarray:
        return np.array([self.x[0], self.y[0], self.z[0]])

    @property
    def hi(self) -> np.ndarray:
        return np.array([self.x[-1], self.y[-1], self.z[-1]])

    @property
    def spacing(self) -> np.ndarray:
        return np.array([self.x[1] - self.x[0], self.y[1] - self.y[0], self.z[1] - self.z[0]])

    @property
    def diagonal(self) -> float:
        return float(np.linalg.norm(self.hi - self.lo))

    def padded_axes(self):
        """Coordinates of the padded grid."""
        return [np.concatenate([[c[0] - (c[1] - c[0])], c, [c[-1] + (c[-1] - c[-2])]])
                for c in (self.x, self.y, self.z)]

    def interpolate(self, values: np.ndarray, points, padded: bool = False) -> np.ndarray:
        """Trilinear interpolation at ``points`` ((m, 3), Mm) of ``values``: (nx, ny, nz)
        or (nx, ny, nz, k) on the grid, or on the padded grid with ``padded``. Points
        outside take the nearest face's values (within a cell of the box, on the padded
        grid: the linear extrapolation)."""
        from scipy.ndimage import map_coordinates

        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        index = ((points - self.lo) / self.spacing + (1 if padded else 0)).T
        if values.ndim == 3:
            return map_coordinates(values, index, order=1, mode="nearest")
        return np.stack([map_coordinates(values[..., k], index, order=1, mode="nearest")
                         for k in range(values.shape[-1])], axis=-1)

    def field_at(self, points) -> np.ndarray:
        """B at ``points`` ((m, 3) Mm): (m, 3) in the cube's field unit."""
        return self.interpolate(self.padded, points, padded=True)


@dataclass
class Lines:
    """Traced field lines, one entry per seed.

    ``end``: (n, 3) end point (on the box surface for a finished line, else the last
    point reached); ``face``: (n,) int8 face code of the end (:data:`FACE_CODES`);
    ``length``: (n,) arc length in Mm; ``integral``: (n,) line integral of the integrand
    (None without one); ``points``: list of (m_i, 3) arrays from the seed to the end
    (None unless asked for).
    """

    end: np.ndarray
    face: np.ndarray
    length: np.ndarray
    integral: np.ndarray | None = None
    points: list | None = None


def default_step(grid: FieldGrid) -> float:
    """Half the smallest grid spacing (Mm): the default RK4 step."""
    return 0.5 * float(np.min(np.abs(grid.spacing)))


def trace(grid: FieldGrid, seeds, direction=1, *, step: float | None = None,
          max_length: float | None = None, integrand: np.ndarray | None = None,
          keep_points: bool = False, chunk: int | None = None) -> Lines:
    """Trace the field lines through ``seeds`` until they leave the box.

    Parameters
    ----------
    grid : FieldGrid
        The field.
    seeds : array_like, shape (n, 3)
        Start points (Mm), inside the box or on its surface.
    direction : float or array_like, shape (n,)
        +1 follows B, -1 goes against it (one value for all seeds or one per seed).
    step : float, optional
        RK4 step in Mm, at most one grid spacing (default :func:`default_step`).
    max_length : float, optional
        Longest line in Mm (default four box diagonals); longer lines are UNFINISHED.
    integrand : ndarray, shape (nx, ny, nz), optional
        Scalar on the grid integrated along each line (its unit times Mm).
    keep_points : bool
        Return the points of every line (memory grows with the number of lines).
    chunk : int, optional
        Seeds per streamtracer call (default: what fits a ~50 MB buffer).

    Returns
    -------
    Lines

    Raises
    ------
    DataError
        A seed is outside the box or not finite; the step is not positive or longer than
        a grid spacing.
    """
    seeds = np.atleast_2d(np.asarray(seeds, dtype=np.float64))
    n = seeds.shape[0]
    if seeds.size == 0:
        return Lines(np.zeros((0, 3)), np.zeros(0, np.int8), np.zeros(0),
                     np.zeros(0) if integrand is not None else None, [] if keep_points else None)
    if seeds.ndim != 2 or seeds.shape[1] != 3:
        raise DataError(f"seeds must have shape (n, 3), got {seeds.shape}")
    lo, hi = grid.lo, grid.hi
    tol = 1e-9 * (hi - lo)
    outside = ~np.all(np.isfinite(seeds) & (seeds >= lo - tol) & (seeds <= hi + tol), axis=1)
    if outside.any():
        raise DataError(f"{int(outside.sum())} seed(s) lie outside the box, e.g. {seeds[outside][0]}")
    seeds = np.clip(seeds, lo, hi)
    sign = np.where(np.broadcast_to(np.asarray(direction, dtype=np.float64), (n,)) < 0, -1, 1)
    h = float(step) if step else default_step(grid)
    if not 0 < h <= (1 + 1e-9) * float(np.min(np.abs(grid.spacing))):
        raise DataError(f"step {h} Mm must be positive and at most one grid spacing")
    max_length = float(max_length) if max_length else 4.0 * grid.diagonal
    steps = min(int(np.ceil(max_length / h)) + 2, _STEPS_PER_CALL)
    if chunk is None:
        chunk = max(64, int(_BUFFER_BYTES / (24 * steps)))
    tracer = _Tracer(grid, h, steps)

    out = Lines(np.empty((n, 3)), np.empty(n, np.int8), np.zeros(n),
                np.zeros(n) if integrand is not None else None, [None] * n if keep_points else None)
    for start in range(0, n, chunk):
        idx = np.arange(start, min(start + chunk, n))
        _trace_chunk(grid, tracer, seeds[idx], sign[idx], idx, max_length, integrand, out)
    return out


class _Tracer:
    """streamtracer on the padded grid: ``(points, rot)`` of a batch of seeds, points
    (k, m, 3) in box coordinates, NaN after each line's last point, m <= steps the most
    points of a line (a line of ``steps`` points may go on); rot 2 where the line left the
    (padded) grid, 1 where it ran out of steps or met a NaN.

    Calls streamtracer's compiled core (``trace_streamlines``, what its ``StreamTracer``
    class calls) with the raw output buffer: the class slices that buffer into one array
    per line and filters NaN line by line in Python, which for the figures' 30 lines cost
    more than the tracing itself. Falls back on the class if the core is not importable.
    """

    def __init__(self, grid: FieldGrid, step: float, steps: int):
        axes = grid.padded_axes()
        self.origin = np.array([a[0] for a in axes])
        self.axes = [a - a[0] for a in axes]  # streamtracer wants grids starting at 0
        self.grid, self.step, self.steps = grid, step, steps
        self._core = _compiled_core()

    def __call__(self, seeds, sign):
        """Trace ``seeds`` (k, 3) along ``sign`` (k,) times B: both directions, one buffer."""
        parts = [(pick, *self._trace(seeds[pick], s))
                 for s in (1, -1) for pick in [np.flatnonzero(sign == s)] if pick.size]
        if len(parts) == 1:
            return parts[0][1:]
        xs = np.full((seeds.shape[0], max(p[1].shape[1] for p in parts), 3), np.nan)
        rot = np.empty(seeds.shape[0], dtype=int)
        for pick, xs_s, rot_s in parts:
            xs[pick, :xs_s.shape[1]], rot[pick] = xs_s, rot_s
        return xs, rot

    def _trace(self, seeds, sign):
        if self._core is not None:
            xs, ns, rot = self._core(np.ascontiguousarray(seeds - self.origin), *self.axes,
                                     self.grid.padded, np.zeros(3, dtype=bool), int(sign), self.step,
                                     self.steps)
            # cut to the longest line: the figures' lines fill a sixth of the buffer, and
            # every later step over it costs
            xs = xs[:, :int(ns.max())]
            xs += self.origin
            xs[np.arange(xs.shape[1])[None, :] >= ns[:, None]] = np.nan
            return xs, np.asarray(rot).reshape(-1)
        from streamtracer import StreamTracer, VectorGrid

        tracer = StreamTracer(self.steps, self.step)
        tracer.trace(seeds, VectorGrid(self.grid.padded, grid_coords=self.grid.padded_axes()),
                     direction=int(sign))
        xs = np.full((seeds.shape[0], self.steps, 3), np.nan)
        for j, line in enumerate(tracer.xs):
            xs[j, :len(line)] = line
        return xs, np.asarray(tracer.ROT).reshape(-1)


def _compiled_core():
    """streamtracer's compiled ``trace_streamlines`` (None if this streamtracer has none)."""
    try:
        from streamtracer._streamtracer_rust import trace_streamlines
    except ImportError:
        return None
    return trace_streamlines


def _trace_chunk(grid: FieldGrid, tracer: _Tracer, seeds, sign, idx, max_length, integrand, out: Lines):
    """Trace ``seeds`` along ``sign`` B and fill entries ``idx`` of ``out``."""
    lo, hi = grid.lo, grid.hi
    todo = np.arange(idx.size)
    starts = seeds
    pieces = [[] for _ in idx] if out.points is not None else None
    length = np.zeros(idx.size)
    integral = np.zeros(idx.size)
    end = np.empty((idx.size, 3))
    face = np.full(idx.size, UNFINISHED, np.int8)
    while todo.size:
        xs, rot = tracer(starts, sign[todo])
        k, m = xs.shape[:2]
        rows = np.arange(k)
        xs[:, 0] = starts  # the origin shift can move a seed on a face out by a rounding
        finite = ~np.isnan(xs[..., 0])
        last = finite.sum(axis=1) - 1  # lines are finite up to their last point
        beyond = _any3((xs < lo) | (xs > hi))  # NaN compares False
        crossed = beyond.any(axis=1)
        first = beyond.argmax(axis=1)
        inside = np.where(crossed, first - 1, last)  # last point inside the box
        keep = np.arange(m - 1)[None, :] < inside[:, None]  # segments inside the box
        d = np.diff(xs, axis=1)
        seg = np.where(keep, np.sqrt(np.einsum("ijk,ijk->ij", d, d)), 0.0)
        length[todo] += seg.sum(axis=1)
        p_in = xs[rows, inside]
        if integrand is not None:
            values = np.zeros((k, m))
            pts_inside = np.arange(m)[None, :] <= inside[:, None]
            values[pts_inside] = grid.interpolate(integrand, xs[pts_inside])
            integral[todo] += np.sum(0.5 * (values[:, :-1] + values[:, 1:]) * seg, axis=1)
        e = p_in.copy()
        f = np.full(k, UNFINISHED, np.int8)
        if crossed.any():
            a, b = p_in[crossed], xs[rows[crossed], first[crossed]]
            dist, code = _exit(a, b - a, lo, hi)
            e[crossed] = a + np.minimum(dist, 1.0)[:, None] * (b - a)
            f[crossed] = code
        for j in np.flatnonzero(~crossed & (rot == 2)):  # left the padding in one step
            f[j], e[j] = _tangent_exit(grid, xs[j, :inside[j] + 1], sign[todo[j]])
        done = f != UNFINISHED
        if done.any():
            axis = _FACE_AXES[f[done]]
            e[np.flatnonzero(done), axis] = np.where(f[done] % 2 == 0, lo[axis], hi[axis])  # on the face
        extra = np.where(done, np.linalg.norm(e - p_in, axis=1), 0.0)
        length[todo] += extra
        if integrand is not None and done.any():
            f_in = values[rows, inside]
            integral[todo] += np.where(done, 0.5 * (f_in + grid.interpolate(integrand, e)) * extra, 0.0)
        end[todo], face[todo] = e, f
        if pieces is not None:
            moved_on = (done & _any3(e != p_in)).tolist()
            for j, (i, stop) in enumerate(zip(todo.tolist(), (inside + 1).tolist())):
                pieces[i].append(xs[j, :stop] if not pieces[i] else xs[j, 1:stop])
                if moved_on[j]:
                    pieces[i].append(e[j:j + 1])
        # a full buffer: the line goes on; a shorter one that did not leave met a NaN, and
        # one that moved less than half a step in a whole buffer sits in a sink of the
        # field (RK4 steps shrink to nothing at a null B runs into): both stay unfinished
        moved = seg.sum(axis=1) >= 0.5 * tracer.step
        more = ~done & (last == tracer.steps - 1) & moved & (length[todo] + 0.5 * tracer.step < max_length)
        todo = todo[more]
        starts = p_in[more]
    out.end[idx], out.face[idx], out.length[idx] = end, face, length
    if out.integral is not None:
        out.integral[idx] = integral
    if pieces is not None:
        for i, parts in zip(idx, pieces):
            out.points[i] = np.concatenate(parts)


def _any3(a):
    """``a.any(axis=-1)`` for a last axis of 3 (numpy's reduction over so short an axis
    took an eighth of the figures' tracing)."""
    return a[..., 0] | a[..., 1] | a[..., 2]


def _tangent_exit(grid: FieldGrid, line, sign):
    """Face and point where the line leaves along its last direction (a step longer than
    the padding: the last recorded point is inside)."""
    p = line[-1]
    t = grid.field_at(p[None])[0] * sign
    if not (np.isfinite(t).all() and t.any()):
        t = line[-1] - line[-2] if len(line) > 1 else np.zeros(3)
    norm = np.linalg.norm(t)
    if not norm > 0:
        return UNFINISHED, p
    dist, code = _exit(p[None], t[None] / norm, grid.lo, grid.hi)
    return code[0], p + dist[0] * t / norm


def _exit(p, t, lo, hi):
    """Distance along directions ``t`` (in units of |t|) from points ``p`` (m, 3) inside
    the box to its surface, and the face crossed (face codes: bottom 0, top 1, x_min 2, x_max 3, y_min 4, y_max 5)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.concatenate([np.where(t < 0, (lo - p) / t, np.inf), np.where(t > 0, (hi - p) / t, np.inf)],
                              axis=1)[:, _EXIT_COLUMNS]
    np.maximum(dist, 0.0, out=dist)
    col = np.argmin(dist, axis=1)
    return dist[np.arange(p.shape[0]), col], _EXIT_FACES[col]


# the columns of _exit's distances: x_min, x_max, y_min, y_max, z_min (bottom), z_max (top)
# (the order breaks ties, e.g. at an edge), and their face codes
_EXIT_COLUMNS = [0, 3, 1, 4, 2, 5]
_EXIT_FACES = np.array([FACES["x_min"], FACES["x_max"], FACES["y_min"], FACES["y_max"],
                        FACES["bottom"], FACES["top"]], dtype=np.int8)
