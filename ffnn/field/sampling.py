"""Training samples: boundary targets and interior points, in the unit coordinates of
:class:`ffnn.io.box.UnitBox`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from ffnn.io.box import COMPONENTS, ERRORS, SOURCES, UnitBox
from ffnn.util.errors import DataError


@dataclass
class BoundaryArrays:
    """Every boundary point with finite data, in unit coordinates.

    ``xyz`` (m, 3); ``target`` (m, 3) in G, 0 where masked; ``mask`` (m, 3) bool, the
    finite components; ``error`` (m, 3) 1-sigma errors in G, NaN where unknown;
    ``potential`` (m,) bool, True where a potential field stands in for data.
    """

    xyz: np.ndarray
    target: np.ndarray
    mask: np.ndarray
    error: np.ndarray
    potential: np.ndarray

    def __len__(self) -> int:
        return self.xyz.shape[0]


def boundary_arrays(points: xr.Dataset, box: UnitBox) -> BoundaryArrays:
    """The boundary points of ``points`` (format of :mod:`ffnn.field.boundary`) as arrays.

    Components that are NaN in the data are masked out of the loss; points with no finite
    component are dropped. Raises DataError when no point is left.
    """
    target = np.stack([points[c].values for c in COMPONENTS], axis=1).astype(np.float64)
    mask = np.isfinite(target)
    keep = mask.any(axis=1)
    if not keep.any():
        raise DataError("boundary data has no finite value (all NaN)")
    idx = np.flatnonzero(keep)
    xyz = box.to_unit(points["x"].values[idx], points["y"].values[idx], points["z"].values[idx])
    if all(e in points for e in ERRORS):
        error = np.stack([points[e].values[idx] for e in ERRORS], axis=1).astype(np.float64)
    else:
        error = np.full((idx.size, 3), np.nan)
    potential = (points["source"].values[idx] == SOURCES["potential"]) if "source" in points \
        else np.zeros(idx.size, dtype=bool)
    return BoundaryArrays(xyz, np.where(mask[idx], target[idx], 0.0), mask[idx], error, potential)


def interior_samples(box: UnitBox, n: int, rng: np.random.Generator, bottom_fraction: float = 0.0,
                     bottom_power: float = 2.0) -> np.ndarray:
    """``n`` interior points in unit coordinates (n, 3), uniform in the box.

    A fraction ``bottom_fraction`` has heights z = h u^bottom_power (u uniform), so more
    points lie near the photosphere where the field and its gradients are strongest.
    """
    if n < 1:
        raise DataError(f"need at least one interior point, got n_interior={n}")
    lo, hi = box.unit_bounds()
    pts = lo + (hi - lo) * rng.random((n, 3))
    k = int(round(np.clip(bottom_fraction, 0.0, 1.0) * n))
    if k:
        pts[:k, 2] = lo[2] + (hi[2] - lo[2]) * rng.random(k) ** bottom_power
    return pts


def grid_of_points(points: xr.Dataset, decimals: int = 6):
    """The regular grid (x, y, z in Mm, 1-D each) the boundary points were sampled on."""
    out = []
    for c in ("x", "y", "z"):
        values = points[c].values
        _, first = np.unique(np.round(values, decimals), return_index=True)
        out.append(values[first])  # the stored values, not their rounded keys
    return tuple(out)


def height_profile(xyz: np.ndarray, target: np.ndarray, mask: np.ndarray, bins: int = 16):
    """RMS field strength of the side and top boundary data against height (G).

    ``xyz`` (m, 3) unit coordinates, ``target`` (m, 3) in G, ``mask`` (m, 3) valid components.
    The bottom face is left out: its RMS describes the active region's core, not the
    field's fall-off with height. Returns (z knots (k,), RMS |B| (k,)); k = 1, a flat
    profile, where there are no side or top data.
    """
    full = mask.all(axis=1) & (xyz[:, 2] > xyz[:, 2].min())
    z, b2 = xyz[full, 2], (target[full] ** 2).sum(axis=1)
    knots, rms = [], []
    if z.size:
        edges = np.linspace(z.min(), z.max(), bins + 1)
        which = np.clip(np.searchsorted(edges, z, side="right") - 1, 0, bins - 1)
        for k in range(bins):
            sel = which == k
            if sel.any() and b2[sel].mean() > 0:
                knots.append(z[sel].mean())
                rms.append(np.sqrt(b2[sel].mean()))
    return (np.array(knots), np.array(rms)) if knots else (np.zeros(1), np.ones(1))


def height_weights(z: np.ndarray, profile, power: float) -> np.ndarray:
    """Loss weights (s(z_0) / s(z))^(2 power) at unit heights ``z`` (n,), dimensionless.

    s(z) interpolates :func:`height_profile` log-linearly (constant beyond its ends); z_0
    is its lowest knot, so the bottom keeps weight 1, ``power`` 1 makes every height count
    by its relative error and 0 leaves the G^2 weighting as it is.
    """
    knots, rms = profile
    log_s = np.interp(z, knots, np.log(rms))
    return np.exp(2.0 * power * (np.log(rms[0]) - log_s))
