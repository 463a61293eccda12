"""Field lines of a cube, traced with ``streamtracer`` (the tracer of the sunpy ecosystem).

``streamtracer`` follows the direction field B/|B|, interpolated trilinearly on the grid,
with fixed-length fourth-order Runge-Kutta steps, in compiled code and in parallel over
lines (rayon threads: ``RAYON_NUM_THREADS``, see :func:`set_threads`). This module adds
what the products need around it:

* lines run until they leave the box; the last point is then carried along the field
  direction onto the face it crosses, so every finished line ends *on* a face of the box
  (code in :data:`FACES`), or is marked :data:`UNFINISHED` (it met a null or non-finite
  field, or exceeded ``max_length``);
* lines longer than one ``streamtracer`` call allows are continued from their last point
  (its output buffer is ``max_steps`` points per line, whatever the line's length, so
  the buffer is kept near one box diagonal);
* line integrals of a scalar given on the grid (e.g. the force-free parameter alpha, for
  the twist number), by the trapezoidal rule along the traced points;
* seeds are processed in chunks, so memory stays bounded for ~10^5-10^6 lines.

Coordinates are those of the cube (Mm); the grid must be regular (:func:`ffnn.cube.spacing`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ffnn.boundary import FACES
from ffnn.cube import field_array, spacing
from ffnn.errors import DataError

UNFINISHED = -1
FACE_CODES = {"unfinished": UNFINISHED, **FACES}
# normal axis of each face and the in-face coordinates (U, V) used for the field-line mapping
FACE_AXIS = {0: 2, 1: 2, 2: 0, 3: 0, 4: 1, 5: 1}
FACE_UV = {0: (0, 1), 1: (0, 1), 2: (1, 2), 3: (1, 2), 4: (0, 2), 5: (0, 2)}

_BUFFER_BYTES = 48e6  # streamtracer's output buffer per call: lines x max_steps x 3 doubles
# Steps per streamtracer call. It allocates, zeroes and copies max_steps points for every
# line whatever its length, so a buffer spanning the longest lines costs more than the
# tracing; most lines are short: longer ones are continued from their last point.
_STEPS_PER_CALL = 256


def set_threads(threads: int | None) -> None:
    """Threads streamtracer uses (``RAYON_NUM_THREADS``); None keeps rayon's default (all
    cores). Effective only before the first trace of the process: rayon reads it once."""
    if threads:
        os.environ["RAYON_NUM_THREADS"] = str(int(threads))


@dataclass(frozen=True)
class FieldGrid:
    """A vector field on a regular grid, ready for tracing.

    ``x``, ``y``, ``z``: 1-D coordinates (Mm) of the box; ``padded``: the field,
    (nx + 2, ny + 2, nz + 2, 3) float64, C-contiguous (the layout streamtracer reads
    without copying), with one cell of linear extrapolation on every side.

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
    def from_array(cls, x, y, z, b: np.ndarray) -> "FieldGrid":
        """From coordinates (Mm) and a field ``b`` of shape (3, nx, ny, nz)."""
        x, y, z = (np.asarray(c, dtype=np.float64) for c in (x, y, z))
        b = np.asarray(b)
        if b.shape != (3, x.size, y.size, z.size):
            raise DataError(f"field has shape {b.shape}, grid is {(3, x.size, y.size, z.size)}")
        if min(x.size, y.size, z.size) < 2:
            raise DataError("field-line tracing needs at least 2 grid points along each axis")
        p = np.empty((x.size + 2, y.size + 2, z.size + 2, 3))
        for k in range(3):
            p[1:-1, 1:-1, 1:-1, k] = b[k]
        for axis in range(3):
            inner = [slice(1, -1)] * 3
            inner[:axis] = [slice(None)] * axis  # earlier axes are padded already: corners too
            def at(i):
                sl = list(inner)
                sl[axis] = i
                return tuple(sl)
            p[at(0)] = 2 * p[at(1)] - p[at(2)]
            p[at(-1)] = 2 * p[at(-2)] - p[at(-3)]
        return cls(x, y, z, p)

    @classmethod
    def from_cube(cls, cube: xr.Dataset, prefix: str = "B") -> "FieldGrid":
        """The field ``{prefix}x, {prefix}y, {prefix}z`` of a cube (dims x, y, z)."""
        spacing(cube)  # regular axes, or DataError
        return cls.from_array(cube["x"].values, cube["y"].values, cube["z"].values, field_array(cube, prefix))

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
        RK4 step in Mm (default :func:`default_step`).
    max_length : float, optional
        Longest line in Mm (default four box diagonals); longer lines are UNFINISHED.
    integrand : ndarray, shape (nx, ny, nz), optional
        Scalar on the grid integrated along each line (per Mm of the integrand times Mm).
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
        A seed is outside the box or not finite.
    """
    from streamtracer import StreamTracer, VectorGrid

    seeds = np.atleast_2d(np.asarray(seeds, dtype=np.float64))
    n = seeds.shape[0]
    if seeds.size == 0:
        empty = np.zeros((0, 3))
        return Lines(empty, np.zeros(0, np.int8), np.zeros(0),
                     np.zeros(0) if integrand is not None else None, [] if keep_points else None)
    if seeds.ndim != 2 or seeds.shape[1] != 3:
        raise DataError(f"seeds must have shape (n, 3), got {seeds.shape}")
    tol = 1e-9 * (grid.hi - grid.lo)
    outside = ~np.all(np.isfinite(seeds) & (seeds >= grid.lo - tol) & (seeds <= grid.hi + tol), axis=1)
    if outside.any():
        raise DataError(f"{int(outside.sum())} seed(s) lie outside the box, e.g. {seeds[outside][0]}")
    seeds = np.clip(seeds, grid.lo, grid.hi)
    sign = np.broadcast_to(np.asarray(direction, dtype=np.float64), (n,))
    sign = np.where(sign < 0, -1, 1)
    h = float(step) if step else default_step(grid)
    if not 0 < h <= (1 + 1e-9) * float(np.min(np.abs(grid.spacing))):
        raise DataError(f"step {h} Mm must be positive and at most one grid spacing")
    max_length = float(max_length) if max_length else 4.0 * grid.diagonal
    steps_per_call = int(min(np.ceil(max_length / h) + 2, _STEPS_PER_CALL))
    if chunk is None:
        chunk = max(64, int(_BUFFER_BYTES / (24 * steps_per_call)))
    vector_grid = VectorGrid(grid.padded, grid_coords=grid.padded_axes())
    tracer = StreamTracer(steps_per_call, h)

    end = np.empty((n, 3))
    face = np.empty(n, np.int8)
    length = np.empty(n)
    integral = np.empty(n) if integrand is not None else None
    points = [None] * n if keep_points else None
    for s in (1, -1):
        index = np.flatnonzero(sign == s)
        for start in range(0, index.size, chunk):
            idx = index[start:start + chunk]
            lines, face[idx], end[idx] = _trace_chunk(grid, tracer, vector_grid, seeds[idx], s, h, max_length)
            length[idx], integ = _integrate(grid, lines, end[idx], face[idx], integrand)
            if integral is not None:
                integral[idx] = integ
            if keep_points:
                for k, i in enumerate(idx):
                    line = lines[k]
                    if face[i] != UNFINISHED and np.any(line[-1] != end[i]):
                        line = np.vstack([line, end[i]])
                    points[i] = line
    return Lines(end, face, length, integral, points)


def _trace_chunk(grid: FieldGrid, tracer, vector_grid, seeds, sign, h, max_length):
    """Trace one chunk of seeds. Returns the points of each line inside the box (list of
    (m, 3), from the seed), the face code of each line's end and its end point (on the
    face; for an unfinished line, its last point)."""
    k = seeds.shape[0]
    lines = [None] * k
    face = np.full(k, UNFINISHED, np.int8)
    end = np.empty((k, 3))
    todo = np.arange(k)
    starts = seeds
    while todo.size:
        tracer.trace(starts, vector_grid, direction=sign)
        rot = np.asarray(tracer.ROT).reshape(-1)
        for j, line in enumerate(tracer.xs):
            line[0] = starts[j]  # the origin shift streamtracer applies can move a seed on a face out
        cut, crossing, which = _first_exit(grid, tracer.xs)
        full = []
        for j, i in enumerate(todo):
            new = tracer.xs[j]
            inside = new[:cut[j]]
            lines[i] = inside if lines[i] is None else np.vstack([lines[i], inside[1:]])
            if cut[j] < len(new):  # crossed the box surface
                face[i], end[i] = which[j], crossing[j]
            else:
                end[i] = lines[i][-1]
                # a full buffer: the line goes on; a shorter "out of steps" met a NaN
                # (streamtracer drops the NaN points); out of bounds: left the padding
                if rot[j] == 1 and len(new) == tracer.max_steps:
                    full.append(j)
                elif rot[j] == 2:
                    face[i], end[i] = _tangent_exit(grid, lines[i], sign)
        full = np.asarray(full, dtype=int)
        if full.size:
            arcs = np.array([_arc(lines[i]) for i in todo[full]])
            full = full[arcs + 0.5 * h < max_length]
        todo = todo[full]
        starts = np.stack([lines[i][-1] for i in todo]) if todo.size else None
    return lines, face, end


def _first_exit(grid: FieldGrid, lines):
    """For each line (from inside the box): the index of its first point outside the box
    (its length if none), the crossing point on the last segment and the face crossed."""
    count = np.array([len(line) for line in lines])
    pts = np.concatenate(lines)
    out = np.flatnonzero(np.any((pts < grid.lo) | (pts > grid.hi), axis=1))
    first = np.concatenate([[0], np.cumsum(count)[:-1]])
    pos = np.searchsorted(out, first)
    has = pos < out.size
    has[has] = out[pos[has]] < first[has] + count[has]
    cut = count.copy()
    crossing = np.full((count.size, 3), np.nan)
    which = np.full(count.size, UNFINISHED, np.int8)
    if has.any():
        g = out[pos[has]]
        a, b = pts[g - 1], pts[g]  # the seed is inside: g - 1 belongs to the same line
        dist, code = _exit(a, b - a, grid.lo, grid.hi)
        crossing[has] = a + np.minimum(dist, 1.0)[:, None] * (b - a)
        axis = np.array([FACE_AXIS[f] for f in code], dtype=int)
        crossing[np.flatnonzero(has), axis] = np.where(code % 2 == 0, grid.lo[axis], grid.hi[axis])
        which[has] = code
        cut[has] = g - first[has]
    return cut, crossing, which


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
    e = p + dist[0] * t / norm
    axis = FACE_AXIS[int(code[0])]
    e[axis] = grid.lo[axis] if code[0] % 2 == 0 else grid.hi[axis]
    return code[0], e


def _arc(line) -> float:
    return float(np.sum(np.linalg.norm(np.diff(line, axis=0), axis=1)))


def _integrate(grid: FieldGrid, lines, end, face, integrand):
    """Length of each line (its points, then the last piece to its end point on a face)
    and the trapezoidal line integral of ``integrand`` (None without one)."""
    count = np.array([len(line) for line in lines])
    pts = np.concatenate(lines)
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    inner = np.ones(seg.size, dtype=bool)
    bounds = np.cumsum(count)[:-1]
    inner[bounds - 1] = False  # segments joining two lines
    seg = np.where(inner, seg, 0.0)
    starts = np.concatenate([[0], bounds])
    last = pts[np.cumsum(count) - 1]
    extra = np.where(face == UNFINISHED, 0.0, np.linalg.norm(end - last, axis=1))
    length = _per_line(seg, starts, count) + extra
    if integrand is None:
        return length, None
    f = grid.interpolate(integrand, pts)
    trap = np.where(inner, 0.5 * (f[:-1] + f[1:]) * seg, 0.0)
    f_end = grid.interpolate(integrand, end)
    return length, _per_line(trap, starts, count) + 0.5 * (f[np.cumsum(count) - 1] + f_end) * extra


def _per_line(values, starts, count):
    """Sums of ``values`` (one per segment of the concatenated lines) per line."""
    out = np.zeros(starts.size)
    has = count > 1
    if values.size and has.any():
        sums = np.add.reduceat(values, np.minimum(starts, values.size - 1))
        out[has] = sums[has]
    return out


def _exit(p, t, lo, hi):
    """Distance along directions ``t`` (in units of |t|) from points ``p`` (m, 3) inside
    the box to its surface, and the face crossed (face codes: bottom 0, top 1, x_min 2, x_max 3, y_min 4, y_max 5)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        to_hi = np.where(t > 0, (hi - p) / t, np.inf)
        to_lo = np.where(t < 0, (lo - p) / t, np.inf)
    # columns: x_min, x_max, y_min, y_max, z_min (bottom), z_max (top)
    dist = np.stack([to_lo[:, 0], to_hi[:, 0], to_lo[:, 1], to_hi[:, 1], to_lo[:, 2], to_hi[:, 2]], axis=1)
    dist = np.maximum(dist, 0.0)
    col = np.argmin(dist, axis=1)
    codes = np.array([FACES["x_min"], FACES["x_max"], FACES["y_min"], FACES["y_max"],
                      FACES["bottom"], FACES["top"]], dtype=np.int8)
    return dist[np.arange(p.shape[0]), col], codes[col]
