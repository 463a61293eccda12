"""The magnetic energy of a cube split into solenoidal and non-solenoidal parts (Valori et
al. 2013, A&A 553, A38), so that divergence does not pass for free energy.

Thomson's theorem, E = E_pot + E_free with E_free >= 0, holds only for a field that is
exactly solenoidal. Valori et al. (2013) write a field B on a grid as B = B_p + B_J, with
B_p = grad(phi) the potential field that has B's normal component on all six faces of the
box and B_J = B - B_p the current-carrying rest (no normal component on the faces), and
split each into a solenoidal (s) and a non-solenoidal (ns) part. Then

    E = E_p,s + E_J,s + E_p,ns + E_J,ns + E_mix

    E_p,s  = (1/8pi) int |B_p,s|^2 dV,                  E_J,s  = (1/8pi) int |B_J,s|^2 dV,
    E_p,ns = (1/8pi) int (|B_p,ns|^2 + 2 B_p,s.B_p,ns) dV,
    E_J,ns = (1/8pi) int (|B_J,ns|^2 + 2 B_J,s.B_J,ns) dV,
    E_mix  = (1/4pi) int (B_p,s.B_J,ns + B_p,ns.B_J,s + B_p,ns.B_J,ns) dV,

the cross term (1/4pi) int B_p,s.B_J,s dV vanishing by Thomson's theorem (here it is kept
as ``e_thomson_residual``, so that the parts add up to E exactly). E_p,ns, E_J,ns and E_mix
can have either sign; their weight is

    E_div = |E_p,ns| + |E_J,ns| + |E_mix|,

and E_div / E is the energy's non-solenoidal share. Valori et al. (2016, Space Sci. Rev.
201, 147) found finite-volume relative helicities unreliable above E_div / E of about 0.08.
E_J,s is the free energy the field's currents carry; E - E_pot differs from it by the
non-solenoidal terms, which is how divergence can pose as free (even negative free) energy.

Discretisation (the decomposition is Valori et al.'s; the operators and solver are ours):
the field lives on the nodes of a uniform grid whose outer nodes lie on the faces. The
divergence is the central difference of the metrics (:mod:`ffnn.analysis.metrics`) at interior
nodes and the one-sided first difference of the normal component at the faces; the
gradient is the central difference at interior nodes, and on a face its normal component
is the prescribed normal field (zero for the non-solenoidal part). With this pair,
div(grad) is diagonal in the type-I cosine basis (``scipy.fft.dctn``), so both the Neumann
problem for phi (d phi/dn = B.n on the six faces, the net flux through them spread evenly
over the surface first, as the Neumann problem requires) and the Helmholtz-Hodge
projection F_ns = grad(chi), lap(chi) = div(F), d chi/dn = 0 (F_s keeps F's normal
components; Valori et al. build F_s as the curl of a vector potential instead, their
appendix B) are solved exactly: B_p,ns = 0 and F_s is solenoidal for that divergence,
except for its components on the eight modes that alternate node by node along every
axis or are constant (the operator's null space; left in F_s). Volume integrals use the
trapezoid rule (half, quarter and eighth cells on faces, edges and corners, as Valori et
al.'s appendix A). A smooth solenoidal field sampled on the grid is solenoidal for these
operators only to second order: E_div / E of an analytic potential field sampled with 33
nodes per axis is 1e-2 (65 nodes: 3e-3).
"""

from __future__ import annotations

import numpy as np
from scipy import fft

MM_TO_CM = 1e8


def _weights(n: int, h: float) -> np.ndarray:
    w = np.full(n, float(h))
    w[[0, -1]] = h / 2
    return w


def _at(axis: int, index) -> tuple:
    return tuple(index if a == axis else slice(None) for a in range(3))


def solve_neumann(rhs: np.ndarray, dxyz) -> np.ndarray:
    """chi with div(grad(chi)) = rhs for the operators of this module and zero normal gradient.

    ``rhs``: (nx, ny, nz) on the nodes of a grid with spacings ``dxyz`` (every n >= 3). The
    operator's eigenvalues on the type-I cosine modes cos(pi k i / (n - 1)) are
    -sum over axes of sin^2(pi k / (n - 1)) / h^2; the components of ``rhs`` on the modes
    where this vanishes (k = 0 or n - 1 on every axis) are dropped, those of ``chi`` set to
    0. Returns (nx, ny, nz), units of ``rhs`` times length squared.
    """
    rhs = np.asarray(rhs, dtype=np.float64)
    if rhs.ndim != 3 or min(rhs.shape) < 3:
        raise ValueError(f"rhs must be a 3-D array with at least 3 nodes per axis, got {rhs.shape}")
    coef = fft.dctn(rhs, type=1, workers=1)
    eig = np.zeros(rhs.shape)
    for axis, (n, h) in enumerate(zip(rhs.shape, dxyz)):
        lam = -(np.sin(np.pi * np.arange(n) / (n - 1)) / h) ** 2
        lam[[0, -1]] = 0.0
        eig = eig + lam.reshape([-1 if a == axis else 1 for a in range(3)])
    null = eig == 0.0
    coef = np.where(null, 0.0, coef / np.where(null, 1.0, eig))
    return fft.idctn(coef, type=1, workers=1)


def gradient(f: np.ndarray, dxyz, normal=None) -> np.ndarray:
    """grad f, (3, nx, ny, nz): central differences; on each face the normal component is
    ``normal[k]`` = (low-face map, high-face map) for axis k, or 0 without ``normal``."""
    out = []
    for k in range(3):
        g = np.gradient(f, dxyz[k], axis=k)
        g[_at(k, 0)] = 0.0 if normal is None else normal[k][0]
        g[_at(k, -1)] = 0.0 if normal is None else normal[k][1]
        out.append(g)
    return np.stack(out)


def divergence(b: np.ndarray, dxyz) -> np.ndarray:
    """div b, (nx, ny, nz): central differences inside, one-sided first differences of the
    normal component on the faces."""
    return sum(np.gradient(b[k], dxyz[k], axis=k, edge_order=1) for k in range(3))


def potential_part(b: np.ndarray, dxyz) -> np.ndarray:
    """B_p = grad(phi), the potential field with the normal components of ``b`` on all six faces.

    ``b``: (3, nx, ny, nz) in G on a grid with spacings ``dxyz`` (Mm). The net outward flux
    through the faces is first spread evenly over the box's surface (Laplace's equation
    with Neumann conditions has no solution otherwise): B_p's normal component on the
    faces is b's less that mean. Returns (3, nx, ny, nz), G; solenoidal for
    :func:`divergence`.
    """
    b = np.asarray(b, dtype=np.float64)
    shape = b.shape[1:]
    w = [_weights(n, h) for n, h in zip(shape, dxyz)]
    length = [(n - 1) * h for n, h in zip(shape, dxyz)]
    net, area = 0.0, 0.0
    for k in range(3):
        i, j = (a for a in range(3) if a != k)
        face = np.multiply.outer(w[i], w[j])
        net += ((b[k][_at(k, -1)] - b[k][_at(k, 0)]) * face).sum()
        area += 2 * length[i] * length[j]
    mean = net / area
    rhs, normal = np.zeros(shape), []
    for k in range(3):
        h = dxyz[k]
        low, high = b[k][_at(k, 0)] + mean, b[k][_at(k, -1)] - mean
        # div(grad phi) = 0 with the faces' normal gradient given: its terms move to the source
        rhs[_at(k, 0)] += low / h
        rhs[_at(k, 1)] += low / (2 * h)
        rhs[_at(k, -1)] -= high / h
        rhs[_at(k, -2)] -= high / (2 * h)
        normal.append((low, high))
    return gradient(solve_neumann(rhs, dxyz), dxyz, normal)


def nonsolenoidal_part(f: np.ndarray, dxyz) -> np.ndarray:
    """F_ns = grad(chi) with div(grad chi) = div F and no normal component on the faces.

    ``f``: (3, nx, ny, nz) on a grid with spacings ``dxyz``. f - F_ns keeps f's normal
    components and is solenoidal for :func:`divergence` (but for the operator's null
    modes). Returns (3, nx, ny, nz), units of ``f``.
    """
    f = np.asarray(f, dtype=np.float64)
    return gradient(solve_neumann(divergence(f, dxyz), dxyz), dxyz)


def energy_decomposition(b: np.ndarray, dxyz) -> dict:
    """Valori et al.'s (2013) split of the magnetic energy of a cube (module docstring).

    Parameters
    ----------
    b : ndarray, (3, nx, ny, nz)
        The field in G on a uniform grid whose outer nodes lie on the faces of the box, at
        least 3 nodes per axis.
    dxyz : sequence of 3 floats
        Grid spacings (dx, dy, dz) in Mm.

    Returns
    -------
    dict
        Energies in erg (trapezoid rule): ``e_total``; ``e_pot`` (of B_p); ``e_pot_s``,
        ``e_j_s`` (the solenoidal potential and current-carrying energies); ``e_pot_ns``,
        ``e_j_ns``, ``e_mix`` (the non-solenoidal terms, either sign);
        ``e_thomson_residual`` (the cross term of the solenoidal parts, zero by Thomson's
        theorem); ``e_div`` = |E_p,ns| + |E_J,ns| + |E_mix|; and ``e_div_ratio`` = E_div / E
        (dimensionless; NaN for a zero field). The parts add up to ``e_total``.

    Raises
    ------
    ValueError
        For ``b`` not of shape (3, nx, ny, nz) with nx, ny, nz >= 3, or a non-finite value.
    """
    b = np.asarray(b, dtype=np.float64)
    if b.ndim != 4 or b.shape[0] != 3 or min(b.shape[1:]) < 3:
        raise ValueError(f"b must have shape (3, nx, ny, nz) with at least 3 nodes per axis, got {b.shape}")
    if not np.isfinite(b).all():
        raise ValueError("b has non-finite values")
    dxyz = tuple(float(d) for d in dxyz)
    wx, wy, wz = (_weights(n, h) for n, h in zip(b.shape[1:], dxyz))
    weight = (wx[:, None, None] * wy[None, :, None] * wz[None, None, :]) * (MM_TO_CM ** 3 / (8 * np.pi))

    def inner(u, v):
        return float(((u * v).sum(axis=0) * weight).sum())

    # in place where it can be: five fields of the cube's size at the peak, not seven
    p_s = potential_part(b, dxyz)
    e_pot = inner(p_s, p_s)
    j_s = b - p_s
    p_ns = nonsolenoidal_part(p_s, dxyz)
    p_s -= p_ns
    j_ns = nonsolenoidal_part(j_s, dxyz)
    j_s -= j_ns
    out = {
        "e_total": inner(b, b),
        "e_pot": e_pot,
        "e_pot_s": inner(p_s, p_s),
        "e_j_s": inner(j_s, j_s),
        "e_pot_ns": inner(p_ns, p_ns) + 2 * inner(p_s, p_ns),
        "e_j_ns": inner(j_ns, j_ns) + 2 * inner(j_s, j_ns),
        "e_mix": 2 * (inner(p_s, j_ns) + inner(p_ns, j_s) + inner(p_ns, j_ns)),
        "e_thomson_residual": 2 * inner(p_s, j_s),
    }
    out["e_div"] = abs(out["e_pot_ns"]) + abs(out["e_j_ns"]) + abs(out["e_mix"])
    out["e_div_ratio"] = out["e_div"] / out["e_total"] if out["e_total"] > 0 else float("nan")
    return out
