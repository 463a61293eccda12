"""Figures of merit for field cubes (Schrijver et al. 2006, Sol. Phys. 235, 161; Wheatland et al.
2000, ApJ 540, 1150), on grids with finite differences.

Derivatives are second-order finite differences (``numpy.gradient``, ``edge_order=2``) in
the cube's length unit (Mm), so currents and divergences are in G/Mm; they are taken once
per cube (:func:`derivatives`) and handed to each figure that needs them (``derivs``).
Arrays are (3, nx, ny, nz) vector fields, ``dxyz`` the grid spacings (dx, dy, dz) in Mm.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ffnn.field.cube import check_same_grid, field_array, spacing

MM_TO_CM = 1e8
TINY = 1e-30


def _gradient(b: np.ndarray, dxyz, i: int, k: int) -> np.ndarray:
    """d b_i / d x_k, one axis at a time (memory: one component, not nine)."""
    return np.gradient(b[i], dxyz[k], axis=k, edge_order=2)


def curl(b: np.ndarray, dxyz) -> np.ndarray:
    """curl of a (3, nx, ny, nz) field: (3, nx, ny, nz), G/Mm for b in G."""
    return np.stack([_gradient(b, dxyz, 2, 1) - _gradient(b, dxyz, 1, 2),
                     _gradient(b, dxyz, 0, 2) - _gradient(b, dxyz, 2, 0),
                     _gradient(b, dxyz, 1, 0) - _gradient(b, dxyz, 0, 1)])


def derivatives(b: np.ndarray, dxyz):
    """(curl b, div b) of a (3, nx, ny, nz) field with grid spacings ``dxyz`` (Mm): G/Mm."""
    div = _gradient(b, dxyz, 0, 0) + _gradient(b, dxyz, 1, 1) + _gradient(b, dxyz, 2, 2)
    return curl(b, dxyz), div


def _norm(v):
    return np.sqrt((v * v).sum(axis=0))


def energy(b: np.ndarray, dxyz) -> float:
    """Magnetic energy sum |b|^2/(8 pi) dV in erg (b in G, spacings in Mm)."""
    dv = np.prod(dxyz) * MM_TO_CM ** 3
    return float((b * b).sum() / (8 * np.pi) * dv)


def sigma_j(b: np.ndarray, j: np.ndarray) -> float:
    """Current-weighted sine of the angle between J and B: sum |J x b|/|b| / sum |J|."""
    jxb = _norm(np.cross(j, b, axis=0))
    return float((jxb / np.maximum(_norm(b), TINY)).sum() / max(_norm(j).sum(), TINY))


def mean_abs_fi(b: np.ndarray, div: np.ndarray, dxyz) -> float:
    """Mean fractional flux <|f_i|> = mean |div b| dx / (6 |b|), dimensionless."""
    return float(np.mean(np.abs(div) * dxyz[0] / (6 * np.maximum(_norm(b), TINY))))


def mean_abs_div_over_b(b: np.ndarray, div: np.ndarray) -> float:
    """Mean |div b| / |b| in the inverse length unit of ``div`` (Mm^-1): <|f_i|> times 6/dx.

    <|f_i|> of a field with a given divergence per length shrinks with the pixel (f_i ~ dx);
    this does not, so one limit holds at every binning (:mod:`ffnn.analysis.quality`)."""
    return float(np.mean(np.abs(div) / np.maximum(_norm(b), TINY)))


def compare(b: np.ndarray, ref: np.ndarray, dxyz, b_pot: np.ndarray | None = None, derivs=None) -> dict:
    """Model ``b`` against a reference field ``ref``: the metrics of Schrijver et al. (2006).

    Parameters
    ----------
    b, ref : numpy.ndarray
        The model's and the reference's field, shape ``(3, nx, ny, nz)``, in G (any one
        unit: every metric is dimensionless).
    dxyz : sequence of float
        The grid spacings along x, y, z, in Mm.
    b_pot : numpy.ndarray, optional
        The potential field on the same grid, shape ``(3, nx, ny, nz)``: gives
        ``epsilon_p``; NaN without it.
    derivs : tuple, optional
        :func:`derivatives` of ``b`` (curl and divergence), when already taken.

    Returns
    -------
    dict
        ``c_vec``, ``c_cs``, ``e_n_prime``, ``e_m_prime``, ``epsilon``, ``epsilon_p``,
        ``sigma_j`` and ``mean_abs_fi`` (dimensionless), ``theta_j_deg`` (degrees).

    Notes
    -----
    With sums over the M grid points: C_vec = Σ B·b / (Σ|B|² Σ|b|²)^½,
    C_cs = (1/M) Σ B·b/(|B||b|), E_n' = 1 − Σ|b − B|/Σ|B|, E_m' = 1 − (1/M) Σ|b − B|/|B|,
    ε = Σ|b|²/Σ|B|² (Schrijver et al. 2006, Sol. Phys. 235, 161); σ_J = Σ(|J×b|/|b|)/Σ|J|
    and ⟨|f_i|⟩ = (1/M) Σ |∇·b| Δx/(6|b|) (Wheatland et al. 2000, ApJ 540, 1150). The
    derivatives are second-order central differences (one-sided at the faces).
    """
    nb, nr = _norm(b), _norm(ref)
    dot = (b * ref).sum(axis=0)
    diff = _norm(b - ref)
    j, div = derivs if derivs is not None else derivatives(b, dxyz)
    s = sigma_j(b, j)
    return {
        "c_vec": float(dot.sum() / np.sqrt((nr ** 2).sum() * (nb ** 2).sum())),
        "c_cs": float(np.mean(dot / np.maximum(nb * nr, TINY))),
        "e_n_prime": float(1 - diff.sum() / nr.sum()),
        "e_m_prime": float(1 - np.mean(diff / np.maximum(nr, TINY))),
        "epsilon": float((nb ** 2).sum() / (nr ** 2).sum()),
        "epsilon_p": float((nb ** 2).sum() / (b_pot ** 2).sum()) if b_pot is not None else float("nan"),
        "sigma_j": s,
        "theta_j_deg": float(np.degrees(np.arcsin(min(s, 1.0)))),
        "mean_abs_fi": mean_abs_fi(b, div, dxyz),
    }


def height_profiles(b: np.ndarray, dxyz, z, b_pot: np.ndarray | None = None, derivs=None) -> xr.Dataset:
    """Profiles over height (the paper's figures 8 and 10) and per-layer energies.

    Cumulative factors over all samples from the bottom up to each height z_k:
    ``div_free_factor`` = mean |div B|^2/|B|^2 (Mm^-2) and ``force_free_factor`` = mean
    sin^2 angle(J, B) (dimensionless; below 0.25 means a mean angle under 30 deg).
    Per layer: ``sigma_j``, ``energy`` and (with ``b_pot``) ``free_energy`` in erg.
    ``derivs``: :func:`derivatives` of ``b``, when already taken.
    """
    j, div = derivs if derivs is not None else derivatives(b, dxyz)
    b2 = np.maximum((b * b).sum(axis=0), TINY)
    j2 = np.maximum((j * j).sum(axis=0), TINY)
    jxb2 = (np.cross(j, b, axis=0) ** 2).sum(axis=0)
    nxy = b.shape[1] * b.shape[2]
    count = nxy * np.arange(1, b.shape[3] + 1)
    div_f = np.cumsum((div ** 2 / b2).sum(axis=(0, 1))) / count
    ff_f = np.cumsum((jxb2 / (j2 * b2)).sum(axis=(0, 1))) / count
    nb, nj = np.sqrt(b2), np.sqrt(j2)
    sig = (np.sqrt(jxb2) / nb).sum(axis=(0, 1)) / np.maximum(nj.sum(axis=(0, 1)), TINY)
    dv = np.prod(dxyz) * MM_TO_CM ** 3
    e_layer = (b * b).sum(axis=(0, 1, 2)) / (8 * np.pi) * dv
    data = {
        "div_free_factor": ("z", div_f, {"units": "Mm-2", "long_name": "mean |div B|^2/|B|^2 from the bottom up to z"}),
        "force_free_factor": ("z", ff_f, {"units": "1", "long_name": "mean |J x B|^2/(|J|^2 |B|^2) from the bottom up to z"}),
        "sigma_j": ("z", sig, {"units": "1", "long_name": "current-weighted sin angle(J, B) in the layer"}),
        "energy": ("z", e_layer, {"units": "erg", "long_name": "magnetic energy of the layer"}),
    }
    if b_pot is not None:
        e_pot = (b_pot * b_pot).sum(axis=(0, 1, 2)) / (8 * np.pi) * dv
        data["energy_pot"] = ("z", e_pot, {"units": "erg", "long_name": "potential-field energy of the layer"})
        data["free_energy"] = ("z", e_layer - e_pot, {"units": "erg", "long_name": "free energy of the layer"})
    z_attrs = {"units": "Mm", "long_name": "height above the photosphere", "axis": "Z", "positive": "up"}
    return xr.Dataset(data, coords={"z": ("z", np.asarray(z), z_attrs)},
                      attrs={"title": "height profiles of a magnetic-field cube"})


def cube_metrics(cube: xr.Dataset, reference: xr.Dataset | None = None,
                 potential: xr.Dataset | None = None, derivs=None) -> dict:
    """Metrics of a cube: against ``reference`` if given, plus reference-free ones.

    Parameters
    ----------
    cube : xarray.Dataset
        The field: ``Bx``, ``By``, ``Bz`` in G on regular coordinates ``x``, ``y``, ``z`` in Mm.
    reference : xarray.Dataset, optional
        A reference field on the same grid: adds the metrics of :func:`compare`.
    potential : xarray.Dataset, optional
        The potential field on the same grid: adds E/E_pot, the free energy and
        ``epsilon_p``.
    derivs : tuple, optional
        :func:`derivatives` of the cube's B, when already taken.

    Returns
    -------
    dict
        Reference-free: ``energy_erg`` (and with ``potential`` ``energy_pot_erg``,
        ``e_over_epot``, ``free_energy_erg``) in erg, ``sigma_j``, ``theta_j_deg``,
        ``mean_abs_fi`` (dimensionless), ``mean_abs_div_over_b`` (Mm⁻¹), the unsigned flux
        through the bottom (Mx) and the total unsigned vertical current (A); with
        ``reference``, the metrics of :func:`compare`.

    Raises
    ------
    ffnn.util.errors.DataError
        When ``reference`` or ``potential`` lies on another grid.

    Notes
    -----
    E = Σ|B|²/(8π) ΔV in erg (G and cm); the free energy is E − E_pot against the potential
    field of the same bottom. The other formulas are those of :func:`compare`.
    """
    dxyz = spacing(cube)
    b = field_array(cube)
    derivs = derivs if derivs is not None else derivatives(b, dxyz)
    b_pot = None
    if potential is not None:
        check_same_grid(cube, potential, "potential field")
        b_pot = field_array(potential)
    out = {}
    if reference is not None:
        check_same_grid(cube, reference, "reference")
        out.update(compare(b, field_array(reference), dxyz, b_pot, derivs))
    j, div = derivs
    s = sigma_j(b, j)
    area = dxyz[0] * dxyz[1] * MM_TO_CM ** 2
    # J_z [A/cm^2] = c/(4 pi) (curl B)_z in statA/cm^2 -> A: factor 10/c; curl in G/cm = G/Mm * 1e-8
    jz_amp = j[2, :, :, 0] / MM_TO_CM * 2.99792458e10 / (4 * np.pi) / 2.99792458e9 * area
    out.update({
        "energy_erg": energy(b, dxyz),
        "sigma_j": s,
        "theta_j_deg": float(np.degrees(np.arcsin(min(s, 1.0)))),
        "mean_abs_fi": mean_abs_fi(b, div, dxyz),
        "mean_abs_div_over_b": mean_abs_div_over_b(b, div),
        "unsigned_flux_mx": float(np.abs(b[2, :, :, 0]).sum() * area),
        "total_unsigned_current_a": float(np.abs(jz_amp).sum()),
    })
    if b_pot is not None:
        e_pot = energy(b_pot, dxyz)
        out.update({"energy_pot_erg": e_pot, "free_energy_erg": out["energy_erg"] - e_pot,
                    "e_over_epot": out["energy_erg"] / e_pot})
    return out
