"""Preprocessing of a photospheric vector map towards force-free consistency.

The photosphere is not force-free: an observed map's net force and torque are not zero
and its small scales carry currents no force-free field above can continue. Wiegelmann,
Inhester & Sakurai (2006, Sol. Phys. 233, 215) remove both by minimising
L = mu1 L1 (net force) + mu2 L2 (net torque) + mu3 L3 (distance from the observation)
+ mu4 L4 (Laplacian smoothing) over the map, L1 and L2 the integrals of Aly (1989, Sol.
Phys. 120, 19) that vanish for a force-free field. As in their reference code the force
and torque terms move only the horizontal field; the minimum is found by two L-BFGS
minimisations (Bz, then Bx, By). Default weights those of the HMI pipeline's port:
mu1 = mu2 = 1, mu3 = 0.001, mu4 = 0.01 (:data:`MU`).

The preprocessed map is a boundary *for the extrapolation*; the trust checks still
compare the model's bottom with the observed map. The terms, normalisations and how this
implementation departs from the reference code: docs page "Preprocessing the bottom map"
(docs/topics/preprocessing.md).
"""

from __future__ import annotations

import logging

import numpy as np
import xarray as xr

from ffnn.io.box import COMPONENTS
from ffnn.util.errors import DataError

log = logging.getLogger(__name__)

MU = (1.0, 1.0, 0.001, 0.01)
TERMS = ("L1 force", "L2 torque", "L3 observation", "L4 smoothing")


def method(record: str | None) -> str:
    """The method and weights of a ``preprocessing`` record (the attribute
    :func:`preprocess_map` writes), without its terms; ``"none"`` for no record."""
    return record.split(";")[0] if record else "none"


def _laplacian(f):
    """Five-point Laplacian in pixel units, edges replicated (no flux through the border)."""
    import torch.nn.functional as F

    p = F.pad(f[None, None], (1, 1, 1, 1), mode="replicate")[0, 0]
    return p[2:, 1:-1] + p[:-2, 1:-1] + p[1:-1, 2:] + p[1:-1, :-2] - 4 * f


def preprocess_arrays(bx, by, bz, mu=MU, iterations: int = 500) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Preprocess a vector map (W06; see the module docstring).

    Parameters
    ----------
    bx, by, bz : ndarray, shape (nx, ny)
        The observed map (any field unit; NaN where not observed: those pixels are filled
        by the smoothing alone and left NaN in the result).
    mu : 4 floats
        mu1 (force), mu2 (torque), mu3 (observation), mu4 (smoothness).
    iterations : int
        L-BFGS iterations at most.

    Returns
    -------
    bx, by, bz : ndarray, shape (nx, ny)
        The preprocessed map, same unit.
    info : dict
        the four terms before and after (keys ``"L1 force before"``, ``"L1 force after"``,
        ... of :data:`TERMS`) and the L-BFGS ``iterations`` of both stages.

    Raises
    ------
    DataError
        The components differ in shape, the map is smaller than 3 x 3, has no finite pixel
        or no field, or a weight is negative or not finite.
    """
    import torch

    comps = [np.asarray(c, dtype=np.float64) for c in (bx, by, bz)]
    shapes = {c.shape for c in comps}
    if len(shapes) != 1 or comps[0].ndim != 2 or min(comps[0].shape) < 3:
        raise DataError("preprocessing needs three maps of the same shape, at least 3 x 3; got "
                        + ", ".join(str(c.shape) for c in comps))
    obs = np.stack(comps)
    if len(mu) != 4 or not all(np.isfinite(m) and m >= 0 for m in mu):
        raise DataError(f"preprocessing weights must be four finite non-negative numbers, got {mu}")
    # a pixel with any component unobserved is left out whole (and NaN in the result)
    seen = np.isfinite(obs).all(axis=0)
    if not seen.any():
        raise DataError("the map has no pixel where all three components are finite")
    if not np.any(obs[:, seen]):
        raise DataError("the map has no field (every component zero)")
    nx, ny = seen.shape
    scale = float(np.sqrt((obs[:, seen] ** 2).sum(axis=0)).mean())
    b_obs = torch.tensor(np.where(seen, obs, 0.0) / scale)
    mask = torch.tensor(seen, dtype=torch.float64)
    x = torch.linspace(0, 1, nx, dtype=torch.float64)[:, None].expand(nx, ny)
    y = torch.linspace(0, 1, ny, dtype=torch.float64)[None, :].expand(nx, ny)
    energy = float((b_obs ** 2).sum())
    torque = float((torch.sqrt(x ** 2 + y ** 2) * (b_obs ** 2).sum(0)).sum())

    def terms(b):
        bx_, by_, bz_ = b * mask
        h2, z2 = bx_ ** 2 + by_ ** 2, bz_ ** 2
        l1 = ((bx_ * bz_).sum() ** 2 + (by_ * bz_).sum() ** 2 + (z2 - h2).sum() ** 2) / energy ** 2
        l2 = ((x * (z2 - h2)).sum() ** 2 + (y * (z2 - h2)).sum() ** 2
              + (y * bx_ * bz_ - x * by_ * bz_).sum() ** 2) / torque ** 2
        l3 = (((b - b_obs) ** 2).sum(0) * mask).sum() / energy
        l4 = sum((_laplacian(c) ** 2).sum() for c in b) / energy
        return l1, l2, l3, l4

    def minimise(start, objective):
        """L-BFGS from ``start``; (result, iterations)."""
        flat = start.reshape(-1).clone().requires_grad_(True)  # L-BFGS wants a flat gradient
        opt = torch.optim.LBFGS([flat], lr=1.0, max_iter=iterations, history_size=20, tolerance_grad=1e-12,
                                tolerance_change=1e-14, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            total = objective(flat.view(start.shape))
            total.backward()
            return total

        opt.step(closure)
        return flat.detach().view(start.shape), int(opt.state[flat]["n_iter"])

    def weighted(b):
        return sum(m * t for m, t in zip(mu, terms(b)))

    bz, n_z = minimise(b_obs[2], lambda z: (mu[2] * (((z - b_obs[2]) ** 2) * mask).sum()
                                             + mu[3] * (_laplacian(z) ** 2).sum()) / energy)
    bxy, n_xy = minimise(b_obs[:2], lambda xy: weighted(torch.cat([xy, bz[None]])))
    b = torch.cat([bxy, bz[None]])
    with torch.no_grad():
        before = [float(t) for t in terms(b_obs)]
        after = [float(t) for t in terms(b)]
    out = b.numpy() * scale
    out[:, ~seen] = np.nan
    info = {**{f"{name} before": v for name, v in zip(TERMS, before)},
            **{f"{name} after": v for name, v in zip(TERMS, after)}, "iterations": n_z + n_xy}
    return out[0], out[1], out[2], info


def preprocess_map(bottom: xr.Dataset, mu=MU, iterations: int = 500) -> xr.Dataset:
    """A bottom map preprocessed towards force-free consistency (Wiegelmann et al. 2006).

    Parameters
    ----------
    bottom : `xarray.Dataset`
        The observed bottom map: ``Bx``, ``By``, ``Bz`` in G on ``(x, y)`` (NaN where not
        observed; left NaN).
    mu : sequence of 4 float, optional
        The weights mu1 (net force), mu2 (net torque), mu3 (observation), mu4
        (smoothing), dimensionless. Default :data:`MU` = (1, 1, 0.001, 0.01), the HMI
        pipeline's.
    iterations : int, optional
        L-BFGS iterations at most, per minimisation. Default 500.

    Returns
    -------
    `xarray.Dataset`
        The map with Bx, By, Bz replaced (same dims, dtype and units); other variables
        and attributes kept; attribute ``preprocessing`` records the weights and the four
        terms L1-L4 before and after.

    Raises
    ------
    ffnn.util.errors.DataError
        When the map lacks a component, or as :func:`preprocess_arrays` (no finite
        pixel).

    Notes
    -----
    Minimises L = mu1 L1 + mu2 L2 + mu3 L3 + mu4 L4 (net force, net torque, distance
    from the observation, Laplacian smoothing) as in Wiegelmann, Inhester & Sakurai
    (2006, Sol. Phys. 233, 215); the force and torque integrals are Aly's (1989, Sol.
    Phys. 120, 19). Details and what the checks make of a preprocessed map: docs page
    "Preprocessing" (docs/topics/preprocessing.md).

    References
    ----------
    .. [1] Wiegelmann, T., Inhester, B., Sakurai, T. 2006, Sol. Phys. 233, 215.
    """
    missing = [c for c in COMPONENTS if c not in bottom]
    if missing:
        raise DataError(f"bottom map lacks {missing}")
    comps = [bottom[c].transpose("x", "y").values for c in COMPONENTS]
    bx, by, bz, info = preprocess_arrays(*comps, mu=mu, iterations=iterations)
    out = bottom.copy()
    for c, v in zip(COMPONENTS, (bx, by, bz)):
        out[c] = bottom[c].transpose("x", "y").copy(data=v.astype(bottom[c].dtype)).transpose(*bottom[c].dims)
    out.attrs["preprocessing"] = ("Wiegelmann et al. 2006, mu1..mu4 = " + ", ".join(f"{m:g}" for m in mu)
                                  + "; " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                                                     for k, v in info.items()))
    log.info("preprocessed the bottom map: %s", out.attrs["preprocessing"])
    return out
