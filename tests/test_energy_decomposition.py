"""Valori et al. (2013) energy decomposition on analytic fields in the box [0, pi]^3 (Mm).

Three parts with known energies, mutually orthogonal over the box:
* a potential field grad(phi0), phi0 = c cos 2x cos y cosh(sqrt(5) z) (harmonic), whose
  normal component is non-zero on the top and bottom only;
* a solenoidal current-carrying field with no normal component on any face,
  (sin x cos y cos z, cos x sin y cos z, -2 cos x cos y sin z);
* a non-solenoidal field grad(chi0), chi0 = a cos x cos y cos z (zero normal component on
  every face; its flux through the top, against phi0's, integrates to zero).
"""

import numpy as np
import pytest

from ffnn.analysis.energy_decomposition import divergence, energy_decomposition, nonsolenoidal_part, potential_part

ERG = 1e24 / (8 * np.pi)  # G^2 Mm^3 -> erg over 8 pi
HALF = (np.pi / 2) ** 3  # integral of sin^2 or cos^2 products over [0, pi]^3


def grid(n):
    x = np.linspace(0, np.pi, n)
    h = x[1] - x[0]
    return np.meshgrid(x, x, x, indexing="ij"), (h, h, h)


def potential(n, c=0.05):
    (x, y, z), _ = grid(n)
    k = np.sqrt(5.0)
    return c * np.stack([-2 * np.sin(2 * x) * np.cos(y) * np.cosh(k * z),
                         -np.cos(2 * x) * np.sin(y) * np.cosh(k * z),
                         k * np.cos(2 * x) * np.cos(y) * np.sinh(k * z)])


def current(n):
    (x, y, z), _ = grid(n)
    return np.stack([np.sin(x) * np.cos(y) * np.cos(z), np.cos(x) * np.sin(y) * np.cos(z),
                     -2 * np.cos(x) * np.cos(y) * np.sin(z)])


def gradient_field(n, a):
    (x, y, z), _ = grid(n)
    return -a * np.stack([np.sin(x) * np.cos(y) * np.cos(z), np.cos(x) * np.sin(y) * np.cos(z),
                          np.cos(x) * np.cos(y) * np.sin(z)])


def test_solenoidal_field_has_a_vanishing_non_solenoidal_share_converging_with_resolution():
    shares = {}
    for n in (33, 65):
        out = energy_decomposition(potential(n) + current(n), grid(n)[1])
        shares[n] = out["e_div_ratio"]
        parts = sum(out[k] for k in ("e_pot_s", "e_j_s", "e_pot_ns", "e_j_ns", "e_mix", "e_thomson_residual"))
        assert parts == pytest.approx(out["e_total"], rel=1e-10)
    # the analytic field is solenoidal; on the grid only to second order in the spacing
    assert shares[33] < 0.02
    assert shares[65] < shares[33] / 3


def test_added_divergence_gives_its_known_share():
    n, a = 33, 0.5
    out = energy_decomposition(current(n) + gradient_field(n, a), grid(n)[1])
    # |grad chi0|^2 integrates to 3 a^2 HALF, the current-carrying field's to 6 HALF
    assert out["e_div_ratio"] == pytest.approx(3 * a ** 2 / (6 + 3 * a ** 2), rel=1e-3)
    assert out["e_j_ns"] == pytest.approx(3 * a ** 2 * HALF * ERG, rel=1e-2)
    assert out["e_j_s"] == pytest.approx(6 * HALF * ERG, rel=1e-2)
    # beside a potential field of comparable energy, the divergence's energy is still
    # attributed to it, well above the grid's floor (the sampled potential field is
    # solenoidal only to second order, and that couples to its flux)
    both = energy_decomposition(potential(n, 0.005) + current(n) + gradient_field(n, a), grid(n)[1])
    assert both["e_j_ns"] == pytest.approx(3 * a ** 2 * HALF * ERG, rel=0.02)
    floor = energy_decomposition(potential(n, 0.005) + current(n), grid(n)[1])["e_div_ratio"]
    assert both["e_div_ratio"] > 5 * floor


def test_potential_field_carries_no_current_energy():
    n = 33
    b = potential(n)
    out = energy_decomposition(b, grid(n)[1])
    assert out["e_j_s"] < 1e-3 * out["e_total"]
    assert out["e_pot_s"] == pytest.approx(out["e_total"], rel=0.02)
    # the Neumann solve reproduces the field, to the second-order accuracy of the grid
    b_p = potential_part(b, grid(n)[1])
    assert np.sqrt(((b_p - b) ** 2).sum() / (b ** 2).sum()) < 0.02


def test_solenoidal_part_keeps_the_normal_components_and_has_no_divergence():
    n = 17
    dxyz = grid(n)[1]
    f = current(n) + gradient_field(n, 1.0) + potential(n)
    ns = nonsolenoidal_part(f, dxyz)
    for k in range(3):
        assert np.abs(np.take(ns[k], [0, -1], axis=k)).max() == 0.0
    before, after = divergence(f, dxyz), divergence(f - ns, dxyz)
    assert np.sqrt(np.mean(after ** 2)) < 1e-8 * np.sqrt(np.mean(before ** 2))


def test_refuses_a_field_of_the_wrong_shape():
    with pytest.raises(ValueError, match="shape"):
        energy_decomposition(np.zeros((3, 2, 5, 5)), (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="non-finite"):
        energy_decomposition(np.full((3, 4, 4, 4), np.nan), (1.0, 1.0, 1.0))
