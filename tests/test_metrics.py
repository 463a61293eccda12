"""Metric identities and error handling (metrics of Schrijver et al. 2006, Sol. Phys. 235, 161)."""

import numpy as np
import pytest

from ffnn.field.cube import make_cube
from ffnn.util.errors import DataError
from ffnn.analysis.lowlou import lowlou_cube
from ffnn.analysis.metrics import cube_metrics, derivatives, height_profiles


@pytest.fixture(scope="module")
def ref():
    return lowlou_cube(shape=(24, 24, 24))


def test_field_against_itself_scores_perfectly(ref):
    m = cube_metrics(ref, reference=ref, potential=ref)
    for key in ("c_vec", "c_cs", "e_n_prime", "e_m_prime", "epsilon", "epsilon_p"):
        assert m[key] == pytest.approx(1.0, abs=1e-12), key
    assert m["free_energy_erg"] == pytest.approx(0.0, abs=1e-6 * m["energy_erg"])


def test_scaled_field_scores(ref):
    scaled = ref.copy()
    for c in ("Bx", "By", "Bz"):
        scaled[c] = 2 * ref[c]
    m = cube_metrics(scaled, reference=ref)
    assert m["c_vec"] == pytest.approx(1.0) and m["c_cs"] == pytest.approx(1.0)
    assert m["e_n_prime"] == pytest.approx(0.0, abs=1e-12)  # |2B - B| = |B|
    assert m["epsilon"] == pytest.approx(4.0)


def test_derivatives_exact_for_quadratic_field():
    x = y = z = np.linspace(0, 1, 9)
    X, Y, Z = np.meshgrid(x, y, z, indexing="ij")
    b = np.stack([X * Y, Y * Z ** 2, X ** 2 + Z])
    curl, div = derivatives(b, (x[1] - x[0],) * 3)
    np.testing.assert_allclose(div, Y + Z ** 2 + 1, atol=1e-12)
    np.testing.assert_allclose(curl[0], 0 - 2 * Y * Z, atol=1e-12)
    np.testing.assert_allclose(curl[1], 0 - 2 * X, atol=1e-12)
    np.testing.assert_allclose(curl[2], 0 - X, atol=1e-12)


def test_uniform_field_profiles_are_zero():
    x = y = z = np.linspace(0, 1, 6)
    one = np.ones((6, 6, 6))
    cube = make_cube({"Bx": one, "By": 0 * one, "Bz": 2 * one}, x, y, z)
    m = cube_metrics(cube)
    assert m["sigma_j"] == 0 and m["mean_abs_fi"] == 0
    prof = height_profiles(np.stack([one, 0 * one, 2 * one]), (0.2, 0.2, 0.2), z)
    assert float(abs(prof.div_free_factor).max()) == 0 and float(abs(prof.force_free_factor).max()) == 0
    # energy per layer: |B|^2/(8 pi) * volume (Mm^3 -> cm^3)
    assert prof.energy.values[0] == pytest.approx(36 * 5 / (8 * np.pi) * 0.2 ** 3 * 1e24)


def test_reference_on_another_grid_is_refused(ref):
    other = lowlou_cube(shape=(24, 24, 20))
    with pytest.raises(DataError, match="another grid: axis z"):
        cube_metrics(ref, reference=other)


def test_irregular_grid_is_refused():
    x = np.array([0, 0.1, 0.3, 0.4])
    one = np.ones((4, 4, 4))
    cube = make_cube({"Bx": one, "By": one, "Bz": one}, x, x, x)
    with pytest.raises(DataError, match="not regularly spaced"):
        cube_metrics(cube)


def test_quality_gives_energies_and_profiles(tmp_path):
    import json

    from ffnn.cli import main

    ref, pf = tmp_path / "ref.nc", tmp_path / "pf.nc"
    assert main(["lowlou", "--shape", "10", "10", "10", "-o", str(ref)]) == 0
    assert main(["boundary", str(ref), "-o", str(tmp_path / "bottom.nc")]) == 0
    assert main(["potential", str(tmp_path / "bottom.nc"), "-o", str(tmp_path / "faces.nc"),
                 "--cube", str(pf), "--nz", "10"]) == 0
    out = tmp_path / "m.json"
    assert main(["quality", str(ref), "--potential", str(pf), "-o", str(out)]) == 0
    m = json.loads(out.read_text())
    assert m["free_energy_erg"] == pytest.approx(m["energy_erg"] - m["energy_pot_erg"])
    assert m["e_over_epot"] == pytest.approx(m["energy_erg"] / m["energy_pot_erg"])
    assert len(m["profiles"]["force_free_factor"]) == 10 and "c_vec" not in m


def test_wrong_shapes_are_named():
    from ffnn.field.boundary import make_points

    with pytest.raises(DataError, match="field Bz has shape"):
        make_cube({"Bz": np.zeros((3, 3, 2))}, np.arange(3), np.arange(3), np.arange(3))
    with pytest.raises(DataError, match="differ in length"):
        make_points(np.zeros(4), np.zeros(4), np.zeros(4), np.zeros(3), np.zeros(4), np.zeros(4), 0,
                    dict(x_min=0, x_max=1, y_min=0, y_max=1, z_min=0, z_max=1))


def test_divergence_per_length_does_not_depend_on_the_binning_unlike_fi():
    """The same divergent field sampled with pixels half as large: <|f_i|> (per cell,
    f_i ~ dx) halves, mean |div B|/|B| (per Mm) stays; both as the formulas say."""
    def sampled(n):
        x = np.linspace(0.0, 40.0, n)  # Mm
        X, Y, Z = np.meshgrid(x, x, x, indexing="ij")
        # B = grad(chi) + 300 G z-hat with chi = 100 sin(x/8) cos(y/8) exp(-z/10) (G Mm)
        fields = {"Bx": 12.5 * np.cos(X / 8) * np.cos(Y / 8) * np.exp(-Z / 10),
                  "By": -12.5 * np.sin(X / 8) * np.sin(Y / 8) * np.exp(-Z / 10),
                  "Bz": 300 - 10 * np.sin(X / 8) * np.cos(Y / 8) * np.exp(-Z / 10)}
        exact_div = 100 * np.sin(X / 8) * np.cos(Y / 8) * np.exp(-Z / 10) * (1 / 100 - 2 / 64)
        b = np.stack([fields[c] for c in ("Bx", "By", "Bz")])
        exact = np.mean(np.abs(exact_div) / np.sqrt((b * b).sum(axis=0)))
        return cube_metrics(make_cube(fields, x, x, x)), exact, x[1] - x[0]

    (coarse, exact_c, dx_c), (fine, exact_f, dx_f) = sampled(21), sampled(41)
    assert coarse["mean_abs_div_over_b"] == pytest.approx(exact_c, rel=0.02)
    assert fine["mean_abs_div_over_b"] == pytest.approx(exact_f, rel=0.01)
    assert fine["mean_abs_div_over_b"] == pytest.approx(coarse["mean_abs_div_over_b"], rel=0.03)
    assert coarse["mean_abs_fi"] / fine["mean_abs_fi"] == pytest.approx(dx_c / dx_f, rel=0.03)
    assert coarse["mean_abs_fi"] == pytest.approx(coarse["mean_abs_div_over_b"] * dx_c / 6)
