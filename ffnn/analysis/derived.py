"""Quantities derived from a field cube: alpha, current helicity, twist number, squashing factor.

Formulas, each with its source:

* force-free parameter alpha = (curl B) . B / |B|^2 (Mm^-1) and current helicity density
  h_c = B . curl B (G^2 Mm^-1), in the volume; curl B is the cube's own (``Jx, Jy, Jz``,
  the network's autodiff curl) when present, else second-order finite differences.
* twist number of a field line, Tw = (1/4 pi) int alpha dl (Berger & Prior 2006, J. Phys. A
  39, 8321; Liu et al. 2016, ApJ 818, 148), along lines traced by
  :mod:`ffnn.analysis.fieldlines`. |Tw| > 1 marks flux ropes.
* squashing factor Q = (a^2 + b^2 + c^2 + d^2) / |Bn1 / Bn2| of the mapping
  D = d(U2, V2)/d(u1, v1) = [[a, b], [c, d]] between a line's end faces (Titov, Hornig &
  Demoulin 2002, JGR 107, 1164), D by central differences over four auxiliary lines
  (Pariat & Demoulin 2012, A&A 541, A78, their method 3), for lines ending on any face.

Footpoint products live on a bottom grid of the cube's extent (``oversample`` times its
resolution); every line starts upward. How lines ending on different faces and the
vertical slice are handled, and how far to trust Tw and Q: docs page "Derived products"
(docs/explanation/derived.md), and the docstrings of :func:`bottom_mapping` and
:func:`volume_q`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ffnn.field.cube import field_array, spacing
from ffnn.util.errors import ConfigError
from ffnn.analysis.fieldlines import FACE_AXIS, FACE_CODES, FACE_UV, UNFINISHED, FieldGrid, trace
from ffnn.analysis.metrics import curl
from ffnn.analysis.quality import check_derived, describe
from ffnn.io.wcs import WCS_KEYS, has_wcs, wcs_attrs

log = logging.getLogger("ffnn")

MM_TO_CM = 1e8
TINY = 1e-30
# memory per footpoint of the field-line mapping: its five lines' seeds, ends, lengths and
# faces both ways and the maps made of them (measured ~300 bytes beyond the fixed tracing
# buffers on a 12^3 Low & Lou cube at 70,000 footpoints; rounded up for the temporaries)
FOOTPOINT_BYTES = 500

# Thresholds of the summary figures (Liu et al. 2016: |Tw| > 1 flux ropes; QSLs log10 Q > 3).
TWIST_ROPE = 1.0
LOG10_Q_QSL = 3.0
STRONG_FIELD_G = 100.0

SUMMARY = {  # derived.nc scalar -> (units, description)
    "mean_abs_twist": ("1", "mean |Tw| over strong-field footpoints"),
    "max_abs_twist": ("1", "max |Tw| over strong-field footpoints"),
    "qsl_area": ("Mm2", "area of the bottom where log10 Q > 3"),
    "twisted_flux": ("maxwell", "unsigned flux of lines with |Tw| > 1 (a closed line counted once)"),
}


@dataclass(frozen=True)
class DerivedSettings:
    """Settings of :func:`derived_dataset` (``ffnn derived``; config key ``derived``).

    Parameters
    ----------
    oversample : float, optional
        Footpoints per cube pixel along x and y (1, the default: the cube's bottom grid).
    step : float, optional
        RK4 step of the field-line tracer as a fraction of the smallest grid spacing, in
        (0, 1]. Default 1.
    delta : float, optional
        Offset of the four auxiliary lines for Q as a fraction of the footpoint spacing,
        in (0, 1]. Default 0.25.
    slice_y : float, optional
        y (Mm) of the vertical x-z slice of Q. Default None: the box centre.
    slice : bool, optional
        Compute the slice. Default True.
    slice_every : int, optional
        The slice takes every n-th grid point in x and z (its lines are long and run both
        ways: at the cube's resolution it costs several times the footpoint maps).
        Default 2.
    strong_field : float, optional
        |Bz| threshold (G) of the strong-field footpoints the summary figures use.
        Default 100 G.

    Raises
    ------
    ffnn.util.errors.ConfigError
        For a setting out of its range, in one line naming it.
    """

    oversample: float = 1.0
    step: float = 1.0
    delta: float = 0.25
    slice_y: float | None = None
    slice: bool = True
    slice_every: int = 2
    strong_field: float = STRONG_FIELD_G

    def __post_init__(self):
        if not (self.oversample > 0 and math.isfinite(self.oversample)):
            raise ConfigError(f"oversample must be a positive number, got {self.oversample}")
        if not 0 < self.step <= 1:
            raise ConfigError(f"step must be in (0, 1] (fraction of the grid spacing), got {self.step}")
        if not 0 < self.delta <= 1:
            raise ConfigError(f"delta must be in (0, 1] (fraction of the footpoint spacing), got {self.delta}")
        if int(self.slice_every) != self.slice_every or self.slice_every < 1:
            raise ConfigError(f"slice_every must be a positive integer, got {self.slice_every}")
        if not self.strong_field >= 0:
            raise ConfigError(f"strong_field must be >= 0 G, got {self.strong_field}")


# ---------------------------------------------------------------- volume

def current(cube: xr.Dataset) -> tuple[np.ndarray, str]:
    """curl B of the cube (3, nx, ny, nz) in G/Mm and where it comes from."""
    if all(f"J{c}" in cube for c in "xyz"):
        return field_array(cube, "J"), "the cube's J (curl of the network, automatic differentiation)"
    return curl(field_array(cube), spacing(cube)), "second-order finite differences of the cube's B"


def alpha_and_helicity(b: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The force-free parameter alpha and the current helicity density h_c.

    Parameters
    ----------
    b : `numpy.ndarray`
        B in G, shape (3, ...) (e.g. (3, nx, ny, nz)).
    j : `numpy.ndarray`
        curl B in G/Mm, the same shape.

    Returns
    -------
    alpha : `numpy.ndarray`
        alpha = (curl B) . B / |B|^2 in Mm^-1, shape ``b.shape[1:]``; NaN where B = 0.
    hc : `numpy.ndarray`
        h_c = B . curl B in G^2 Mm^-1, the same shape.

    Notes
    -----
    A force-free field has curl B = alpha B with alpha constant along each field line;
    the twist number of a line is Tw = (1/4 pi) int alpha dl (Berger & Prior 2006, J.
    Phys. A 39, 8321).
    """
    hc = np.einsum("i...,i...->...", b, j)
    b2 = np.einsum("i...,i...->...", b, b)
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = np.where(b2 > TINY, hc / b2, np.nan)
    return alpha, hc


# ---------------------------------------------------------------- field-line mapping

def footpoint_axes(cube: xr.Dataset, oversample: float = 1.0, sizes_only: bool = False):
    """x, y (Mm) of the footpoint grid: the cube's bottom extent, ``oversample`` times its
    resolution (first and last points on the cube's first and last pixel centres); with
    ``sizes_only``, their sizes (nx, ny) alone."""
    out = []
    for c in ("x", "y"):
        v = cube[c].values.astype(np.float64)
        n = max(int(round((v.size - 1) * oversample)) + 1, 2)
        out.append(n if sizes_only else np.linspace(v[0], v[-1], n))
    return out[0], out[1]


def check_footpoint_memory(cube: xr.Dataset, oversample: float) -> None:
    """ConfigError of one line, before any line is traced, when the footpoint grid of
    ``oversample`` would not fit in memory (:data:`FOOTPOINT_BYTES` each), with the
    largest oversampling that would."""
    from ffnn.util.memory import available_bytes, check_memory

    xf, yf = footpoint_axes(cube, oversample, sizes_only=True)
    have = available_bytes()
    cells = (cube.sizes["x"] - 1) * (cube.sizes["y"] - 1)
    most = math.sqrt(have / FOOTPOINT_BYTES / max(cells, 1)) if have else float("nan")
    check_memory(xf * yf * FOOTPOINT_BYTES, f"--oversample {oversample:g} gives {xf} x {yf} footpoints",
                 f"--oversample {most:.3g} at most" if most >= 1 else "")


def _project(delta, b_end, face):
    """In-face (U, V) components of end-point displacements ``delta`` (..., m, 3), each
    carried along the end field ``b_end`` (m, 3) onto the plane of ``face`` (m,)."""
    axis = np.array([FACE_AXIS.get(int(f), 2) for f in face])
    rows = np.arange(face.size)
    bn = b_end[rows, axis]
    with np.errstate(invalid="ignore", divide="ignore"):
        moved = delta - (delta[..., rows, axis] / bn)[..., None] * b_end
    uv = np.array([FACE_UV.get(int(f), (0, 1)) for f in face])
    return np.stack([moved[..., rows, uv[:, 0]], moved[..., rows, uv[:, 1]]], axis=-1)


def _normal_field(grid: FieldGrid, points, face) -> np.ndarray:
    """|B . n| at end points on faces ``face`` (NaN for unfinished lines)."""
    b = grid.field_at(points)
    axis = np.array([FACE_AXIS.get(int(f), 2) for f in face])
    bn = np.abs(b[np.arange(face.size), axis])
    return np.where(face == UNFINISHED, np.nan, bn), b


def bottom_mapping(grid: FieldGrid, xf, yf, *, alpha: np.ndarray | None = None, delta: float = 0.25,
                   step: float | None = None) -> dict:
    """Twist number and squashing factor of the field lines rooted on the bottom grid.

    Parameters
    ----------
    grid : FieldGrid
        The field (Mm, G).
    xf, yf : ndarray, shapes (nx,), (ny,)
        Footpoint grid on the bottom plane (Mm), inside the box.
    alpha : ndarray, shape (nx_cube, ny_cube, nz_cube), optional
        alpha on the cube grid (Mm^-1): gives the twist number.
    delta : float
        Offset of the auxiliary lines, as a fraction of the footpoint spacing.
    step : float, optional
        RK4 step (Mm).

    Returns
    -------
    dict of (nx, ny) arrays
        ``bz`` (G, at the footpoint), ``end`` (nx, ny, 3) Mm, ``end_face`` (int8,
        :data:`ffnn.analysis.fieldlines.FACE_CODES`), ``length`` (Mm), ``q`` (NaN where undefined:
        unfinished lines, Bz = 0), ``twist`` (with ``alpha``; NaN for unfinished lines).

    Notes
    -----
    Every line starts upward: along B above positive Bz, against it above negative Bz.
    Q = (a^2 + b^2 + c^2 + d^2) / |Bn1 / Bn2| with D = [[a, b], [c, d]] the Jacobian of
    the mapping from the start face to the end face (Titov, Hornig & Demoulin 2002), by
    central differences over four auxiliary lines started ``delta`` away (Pariat &
    Demoulin 2012, method 3). Lines may end on any face (open lines have a Q too): each
    auxiliary end point is carried along the field at the main line's end onto that end's
    face plane (the linearised mapping), so lines whose neighbours leave through an
    adjacent face still get a finite difference. Tw = (1/4 pi) int alpha dl with alpha
    interpolated trilinearly along the line, trapezoidal rule (Berger & Prior 2006).
    """
    xf, yf = np.asarray(xf, float), np.asarray(yf, float)
    X, Y = np.meshgrid(xf, yf, indexing="ij")
    shape = X.shape
    seeds = np.stack([X.ravel(), Y.ravel(), np.full(X.size, grid.z[0])], axis=1)
    b0 = grid.field_at(seeds)
    bz = b0[:, 2]
    sign = np.where(bz < 0, -1.0, 1.0)
    main = trace(grid, seeds, sign, step=step, integrand=alpha)
    bn2, b_end = _normal_field(grid, main.end, main.face)

    spacing_f = min(np.diff(xf).min() if xf.size > 1 else np.inf, np.diff(yf).min() if yf.size > 1 else np.inf)
    h = delta * float(spacing_f if np.isfinite(spacing_f) else np.min(grid.spacing[:2]))
    offsets = np.array([[h, 0, 0], [-h, 0, 0], [0, h, 0], [0, -h, 0]])
    aux = np.clip(seeds[None] + offsets[:, None], grid.lo, grid.hi)  # (4, n, 3)
    aux_lines = trace(grid, aux.reshape(-1, 3), np.tile(sign, 4), step=step)
    ends = aux_lines.end.reshape(4, -1, 3)
    faces = aux_lines.face.reshape(4, -1)
    uv = _project(ends - main.end[None], b_end, main.face)  # (4, n, 2)
    du = (aux[0, :, 0] - aux[1, :, 0])[:, None]
    dv = (aux[2, :, 1] - aux[3, :, 1])[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        d_du = (uv[0] - uv[1]) / du  # (a, c)
        d_dv = (uv[2] - uv[3]) / dv  # (b, d)
        norm2 = np.sum(d_du ** 2 + d_dv ** 2, axis=1)
        q = norm2 * bn2 / np.abs(bz)
    # a line shorter than the span of its auxiliary lines (tiny loops on polarity inversion
    # lines) has neighbours on both of its ends: its Q is not resolved (it can come out < 2)
    bad = (main.face == UNFINISHED) | np.any(faces == UNFINISHED, axis=0) | ~np.isfinite(q) | (bz == 0) \
        | (main.length < 2 * h)
    q = np.where(bad, np.nan, q)
    out = {"bz": bz.reshape(shape), "end": main.end.reshape(shape + (3,)),
           "end_face": main.face.reshape(shape), "length": main.length.reshape(shape),
           "q": q.reshape(shape)}
    if alpha is not None:
        tw = main.integral / (4 * np.pi)
        out["twist"] = np.where(main.face == UNFINISHED, np.nan, tw).reshape(shape)
    return out


def volume_q(grid: FieldGrid, points, *, delta: float, step: float | None = None) -> np.ndarray:
    """The squashing factor Q of the field lines through points of the volume.

    Parameters
    ----------
    grid : `ffnn.analysis.fieldlines.FieldGrid`
        The field (G) on its grid (Mm).
    points : array_like
        The points, shape (m, 3), in Mm.
    delta : float
        Offset of the four auxiliary lines, Mm.
    step : float, optional
        RK4 step in Mm (default :func:`ffnn.analysis.fieldlines.default_step`).

    Returns
    -------
    `numpy.ndarray`
        Q (dimensionless, >= 2 for a divergence-free field), shape (m,); NaN where a line
        is unfinished, B = 0, an auxiliary start leaves the box, or the line is shorter
        than 2 ``delta`` (unresolved).

    Notes
    -----
    The auxiliary lines start in the plane perpendicular to B and run both ways with the
    main line; the mapping between the two end faces is D = J2 J1^-1 (Jacobians from
    that plane to each end) and Q = |D|^2 / |Bn1/Bn2| (Titov, Hornig & Demoulin 2002,
    JGR 107, 1164; Pariat & Demoulin 2012, A&A 541, A78).
    """
    points = np.asarray(points, float).reshape(-1, 3)
    b = grid.field_at(points)
    # where the cube has no field (NaN) Q is undefined, as for the footpoints: no offsets
    # there (they would be NaN seeds), the point's own line stops at once, unfinished
    b = np.where(np.isfinite(b).all(axis=1)[:, None], b, np.nan)
    bhat = np.nan_to_num(b) / np.maximum(np.nan_to_num(np.linalg.norm(b, axis=1)), TINY)[:, None]
    # e1, e2: an orthonormal basis of the plane perpendicular to B
    ref = np.where(np.abs(bhat[:, [2]]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    e1 = np.cross(bhat, ref)
    e1 /= np.maximum(np.linalg.norm(e1, axis=1), TINY)[:, None]
    e2 = np.cross(bhat, e1)
    offsets = np.stack([e1, -e1, e2, -e2]) * delta  # (4, m, 3)
    starts = points[None] + offsets
    tol = 1e-9 * (grid.hi - grid.lo)
    inside = np.all((starts >= grid.lo - tol) & (starts <= grid.hi + tol), axis=(0, 2))
    starts = np.clip(starts, grid.lo, grid.hi)
    everything = np.concatenate([points[None], starts]).reshape(-1, 3)  # (5 m, 3)
    jac = []
    bn = []
    total = np.zeros(points.shape[0])
    for direction in (-1.0, 1.0):
        lines = trace(grid, everything, direction, step=step)
        total += lines.length[:points.shape[0]]
        end = lines.end.reshape(5, -1, 3)
        face = lines.face.reshape(5, -1)
        bnorm, b_end = _normal_field(grid, end[0], face[0])
        uv = _project(end[1:] - end[0][None], b_end, face[0])  # (4, m, 2)
        j = np.stack([(uv[0] - uv[1]) / (2 * delta), (uv[2] - uv[3]) / (2 * delta)], axis=-1)  # (m, 2, 2)
        jac.append(np.where(np.any(face == UNFINISHED, axis=0)[:, None, None], np.nan, j))
        bn.append(bnorm)
    with np.errstate(invalid="ignore", divide="ignore"):
        j1, j2 = jac
        det1 = j1[:, 0, 0] * j1[:, 1, 1] - j1[:, 0, 1] * j1[:, 1, 0]
        inv1 = np.stack([np.stack([j1[:, 1, 1], -j1[:, 0, 1]], -1),
                         np.stack([-j1[:, 1, 0], j1[:, 0, 0]], -1)], axis=1) / det1[:, None, None]
        d = np.einsum("mij,mjk->mik", j2, inv1)
        q = np.sum(d ** 2, axis=(1, 2)) * bn[1] / bn[0]
    ok = inside & np.isfinite(q) & (np.linalg.norm(b, axis=1) > 0) & (total >= 2 * delta)
    return np.where(ok, q, np.nan)


# ---------------------------------------------------------------- the product

def _regridded_wcs(attrs, x, y, xn, yn) -> dict:
    """WCS keywords of the regular grid (xn, yn) from those of the grid (x, y) (both Mm,
    same origin convention): FITS pixel p of the old grid sits at x[0] + (p - 1) dx."""
    out = wcs_attrs(attrs)
    if not has_wcs(out):
        return out
    for k, (old, new) in enumerate(((x, xn), (y, yn)), start=1):
        d_old = old[1] - old[0] if old.size > 1 else 1.0
        d_new = new[1] - new[0] if new.size > 1 else d_old
        ratio = d_new / d_old
        shift = (new[0] - old[0]) / d_old
        # new pixel p' -> old pixel 1 + shift + (p' - 1) ratio; CRPIX' solves old = CRPIX
        out[f"CRPIX{k}"] = 1.0 + (float(out[f"CRPIX{k}"]) - 1.0 - shift) / ratio
        out[f"CDELT{k}"] = float(out[f"CDELT{k}"]) * ratio
    return out


def summary_values(twist, log10_q, bz, end_face, cell_area: float, strong_field: float) -> dict:
    """The summary scalars (:data:`SUMMARY`) of footpoint maps (all (nx, ny); cell area Mm^2)."""
    strong = np.isfinite(twist) & (np.abs(bz) >= strong_field)
    abs_tw = np.abs(twist[strong])
    rope = np.isfinite(twist) & (np.abs(twist) > TWIST_ROPE)
    # a line closing on the bottom is rooted at two footpoints: count its flux once
    weight = np.where(end_face == FACE_CODES["bottom"], 0.5, 1.0)
    flux = float(np.sum(np.abs(bz[rope]) * weight[rope]) * cell_area * MM_TO_CM ** 2)
    return {
        "mean_abs_twist": float(abs_tw.mean()) if abs_tw.size else float("nan"),
        "max_abs_twist": float(abs_tw.max()) if abs_tw.size else float("nan"),
        "qsl_area": float(np.count_nonzero(np.nan_to_num(log10_q, nan=-np.inf) > LOG10_Q_QSL) * cell_area),
        "twisted_flux": flux,
    }


def derived_dataset(cube: xr.Dataset, settings: DerivedSettings = DerivedSettings(), *,
                    region: str = "") -> xr.Dataset:
    """alpha and current helicity in the volume; Tw, log10 Q and the end face of each
    footpoint's line on the bottom grid; log10 Q on a vertical x-z slice; summary scalars.

    Parameters
    ----------
    cube : xarray.Dataset
        Bx, By, Bz (G) on a regular (x, y, z) grid in Mm; Jx, Jy, Jz (G/Mm) used if present.
    settings : DerivedSettings
    region : str
        Names the region in the warnings of failed checks.

    Returns
    -------
    xarray.Dataset
        CF-1.8: volume ``alpha`` (Mm-1), ``current_helicity`` (gauss2 Mm-1) on (x, y, z);
        footpoint ``twist``, ``log10_q``, ``end_face`` (flags), ``bz``, ``line_length``,
        ``end_x/y/z`` on (x_foot, y_foot); ``log10_q_slice`` on (x_slice, z_slice) at ``y_slice``;
        the :data:`SUMMARY` scalars. Attributes: the cube's WCS (of x, y), the settings,
        the source of J and the figures of :data:`ffnn.analysis.quality.DERIVED_LIMITS` (a failed
        one is logged as a warning).

    Raises
    ------
    DataError
        The cube lacks B or is not on a regular grid.
    """
    dxyz = spacing(cube)
    check_footpoint_memory(cube, settings.oversample)
    b = field_array(cube)
    blank = int((~np.isfinite(b)).any(axis=0).sum())
    if blank:
        log.warning("%sthe cube has no finite B at %d of its %d grid points: field lines reaching them end "
                    "unfinished, and Tw and Q are undefined (NaN) there", f"{region}: " if region else "",
                    blank, b[0].size)
    j, j_source = current(cube)
    alpha, hc = alpha_and_helicity(b, j)
    del j
    grid = FieldGrid.from_array(cube["x"].values, cube["y"].values, cube["z"].values, b)
    del b
    # one grid spacing per RK4 step: on the dipole check of tests/test_derived.py, Q agrees
    # with an independent ODE integration to a median 0.4 % (0.3 % at half a spacing),
    # at half the cost; the trilinear interpolation, not the step, bounds the accuracy
    step = settings.step * float(np.min(np.abs(grid.spacing)))
    xf, yf = footpoint_axes(cube, settings.oversample)
    alpha_trace = np.nan_to_num(alpha, nan=0.0)
    foot = bottom_mapping(grid, xf, yf, alpha=alpha_trace, delta=settings.delta, step=step)
    with np.errstate(divide="ignore", invalid="ignore"):
        log10_q = np.log10(foot["q"])
    cell = float((xf[1] - xf[0]) * (yf[1] - yf[0]))
    summary = summary_values(foot["twist"], log10_q, foot["bz"], foot["end_face"], cell,
                             settings.strong_field)
    x, y, z = (cube[c].values for c in ("x", "y", "z"))
    y_slice = float(np.mean([y[0], y[-1]]) if settings.slice_y is None else settings.slice_y)
    if not y[0] <= y_slice <= y[-1]:
        raise ConfigError(f"slice y = {y_slice} Mm is outside the box [{y[0]:g}, {y[-1]:g}] Mm")
    xs_, zs_ = x[::settings.slice_every], z[::settings.slice_every]
    if settings.slice:
        X, Z = np.meshgrid(xs_, zs_, indexing="ij")
        pts = np.stack([X.ravel(), np.full(X.size, y_slice), Z.ravel()], axis=1)
        q_slice = volume_q(grid, pts, delta=settings.delta * min(dxyz[0], dxyz[2]), step=step).reshape(X.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            log10_q_slice = np.log10(q_slice)
    unfinished = float(np.mean(foot["end_face"] == UNFINISHED))
    undefined_q = float(np.mean(~np.isfinite(foot["q"])))
    strong = np.abs(foot["bz"]) >= settings.strong_field
    undefined_strong = float(np.mean(~np.isfinite(foot["q"][strong]))) if strong.any() else 0.0
    finite_q = foot["q"][np.isfinite(foot["q"])]
    below_two = float(np.mean(finite_q < 1.9)) if finite_q.size else 0.0  # exact Q >= 2
    trust = {"unfinished_line_fraction": unfinished, "undefined_q_fraction": undefined_q,
             "undefined_q_fraction_strong_field": undefined_strong, "q_below_1p9_fraction": below_two}
    for flag in check_derived(trust):
        log.warning("%scheck failed: %s", f"{region}: " if region else "", describe(flag, trust))
    ds = _dataset(cube, alpha, hc, xf, yf, foot, log10_q, summary,
                  log10_q_slice if settings.slice else None, y_slice, xs_, zs_)
    ds.attrs.update({
        "derived_step_mm": step, "derived_delta": settings.delta, "derived_oversample": settings.oversample,
        "derived_slice_every": settings.slice_every,
        "strong_field_threshold_gauss": settings.strong_field, "current_source": j_source, **trust,
    })
    return ds


def _dataset(cube, alpha, hc, xf, yf, foot, log10_q, summary, log10_q_slice, y_slice, xs_, zs_) -> xr.Dataset:
    vol = ("x", "y", "z")
    fp = ("x_foot", "y_foot")
    flag_values = np.array(sorted(FACE_CODES.values()), dtype=np.int8)
    names = {v: k for k, v in FACE_CODES.items()}
    data = {
        "alpha": (vol, alpha.astype(np.float32), {
            "long_name": "force-free parameter alpha = (curl B).B/|B|^2", "units": "Mm-1"}),
        "current_helicity": (vol, hc.astype(np.float32), {
            "long_name": "current helicity density B.(curl B)", "units": "gauss2 Mm-1"}),
        "twist": (fp, foot["twist"], {
            "long_name": "twist number Tw = (1/4 pi) int alpha dl of the field line rooted here",
            "units": "1", "ancillary_variables": "end_face"}),
        "log10_q": (fp, log10_q, {
            "long_name": "log10 of the squashing factor Q of the field line rooted here",
            "units": "1", "ancillary_variables": "end_face"}),
        "end_face": (fp, foot["end_face"], {
            "long_name": "face of the box where the field line rooted here ends",
            "flag_values": flag_values, "flag_meanings": " ".join(names[int(v)] for v in flag_values)}),
        "bz": (fp, foot["bz"], {"long_name": "model Bz at the footpoint", "units": "gauss"}),
        "line_length": (fp, foot["length"], {"long_name": "length of the field line rooted here",
                                             "units": "Mm"}),
    }
    for k, c in enumerate("xyz"):
        data[f"end_{c}"] = (fp, foot["end"][..., k], {
            "long_name": f"{c} of the other end of the field line rooted here", "units": "Mm"})
    if log10_q_slice is not None:
        data["log10_q_slice"] = (("x_slice", "z_slice"), log10_q_slice, {
            "long_name": "log10 of the squashing factor Q of the field line through the point, "
                         "on the vertical x-z slice at y = y_slice", "units": "1"})
    # a data variable, not a scalar coordinate: xarray would tie that to every variable
    data["y_slice"] = ((), y_slice, {"units": "Mm", "long_name": "y of the vertical slice log10_q_slice"})
    for name, (units, desc) in SUMMARY.items():
        data[name] = ((), summary[name], {"long_name": desc, "units": units})
    coords = {
        "x": ("x", cube["x"].values, {"units": "Mm", "long_name": "x (west), centred on the region", "axis": "X"}),
        "y": ("y", cube["y"].values, {"units": "Mm", "long_name": "y (north), centred on the region", "axis": "Y"}),
        "z": ("z", cube["z"].values, {"units": "Mm", "long_name": "height above the photosphere",
                                       "axis": "Z", "positive": "up"}),
        "x_foot": ("x_foot", xf, {"units": "Mm", "long_name": "x of the footpoint grid on the bottom (west)"}),
        "y_foot": ("y_foot", yf, {"units": "Mm", "long_name": "y of the footpoint grid on the bottom (north)"}),
        "x_slice": ("x_slice", xs_, {"units": "Mm", "long_name": "x of the vertical slice (west)"}),
        "z_slice": ("z_slice", zs_, {"units": "Mm", "long_name": "height of the vertical slice",
                                     "positive": "up"}),
    }
    attrs = {
        "title": "Quantities derived from a magnetic-field cube: alpha, current helicity, twist number, "
                 "squashing factor",
        "source": f"ffnn derived, from the cube: {cube.attrs.get('title', 'untitled')}",
        "references": "Berger & Prior 2006 (J. Phys. A 39, 8321); Liu et al. 2016 (ApJ 818, 148); "
                      "Titov, Hornig & Demoulin 2002 (JGR 107, 1164); Pariat & Demoulin 2012 (A&A 541, A78)",
        "comment": "Field lines start upward from every footpoint (along B above positive Bz); Tw and Q are "
                   "NaN where the line reaches no face (end_face = unfinished). The WCS keywords describe "
                   "the x, y grid of the volume (the cube's); the footpoint grid spans the same extent.",
        **{k: (v.item() if isinstance(v, np.generic) else v) for k, v in wcs_attrs(cube.attrs).items()
           if k in WCS_KEYS},
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def encoding(ds: xr.Dataset) -> dict:
    """NetCDF encoding of a derived dataset: zlib everywhere, volume variables float32 in
    slabs of z (as the cube), the end-face flags int8."""
    enc = {}
    for name, var in ds.data_vars.items():
        if var.ndim == 0:
            continue
        enc[name] = {"zlib": True, "complevel": 4}
        if var.dims == ("x", "y", "z"):
            enc[name].update(dtype="float32", chunksizes=(var.shape[0], var.shape[1], min(16, var.shape[2])))
        elif var.dtype.kind == "f":
            enc[name]["dtype"] = "float32"
    return enc


def footpoint_wcs(derived: xr.Dataset) -> dict:
    """WCS keywords of the footpoint grid of a derived dataset (empty without a WCS)."""
    return _regridded_wcs(derived.attrs, derived["x"].values, derived["y"].values,
                          derived["x_foot"].values, derived["y_foot"].values)
