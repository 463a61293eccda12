"""Low & Lou (1990) reference fields against their published eigenvalues and the potential-field
scores at 64^3 (second-order differences; Schrijver et al. 2006)."""

import numpy as np
import pytest
import xarray as xr

from ffnn.cli import main
from ffnn.field.boundary import from_cube
from ffnn.field.cube import field_array, spacing
from ffnn.analysis.lowlou import eigenvalue, lowlou_cube, lowlou_field
from ffnn.analysis.metrics import cube_metrics, derivatives, sigma_j
from ffnn.field.potential import potential_cube

CASE1 = dict(n=1, m=1, l=0.3, phi=np.pi / 4)
CASE2 = dict(n=3, m=1, l=0.3, phi=4 * np.pi / 5)


@pytest.fixture(scope="module")
def case1():
    return lowlou_cube(**CASE1)


def test_eigenvalues_match_published():
    assert eigenvalue(1, 1) == pytest.approx(0.42741, abs=5e-5)
    assert eigenvalue(3, 1) == pytest.approx(8.0359, abs=2e-4)


@pytest.mark.parametrize("case, floor", [(CASE1, 0.017), (CASE2, 0.055)])
def test_sigma_j_of_exact_field_is_the_discretisation_floor(case, floor):
    ref = lowlou_cube(**case)
    b = field_array(ref)
    j, _ = derivatives(b, spacing(ref))
    assert sigma_j(b, j) == pytest.approx(floor, abs=0.001)


def test_field_is_force_free_and_solenoidal_pointwise():
    # centred differences at scattered points: both residuals vanish with the step
    rng = np.random.default_rng(1)
    p = rng.uniform([-0.8, -0.8, 0.2], [0.8, 0.8, 1.8], size=(50, 3)).T
    h = 1e-5

    def grad(i):
        e = np.zeros((3, 1))
        e[i] = h
        fp, fm = np.array(lowlou_field(*(p + e), **CASE1)), np.array(lowlou_field(*(p - e), **CASE1))
        return (fp - fm) / (2 * h)

    g = [grad(i) for i in range(3)]  # g[k][c] = dB_c/dx_k
    div = g[0][0] + g[1][1] + g[2][2]
    curl = np.array([g[1][2] - g[2][1], g[2][0] - g[0][2], g[0][1] - g[1][0]])
    b = np.array(lowlou_field(*p, **CASE1))
    bn = np.linalg.norm(b, axis=0)
    assert np.max(np.abs(div) / bn) < 1e-4
    sin_angle = np.linalg.norm(np.cross(curl, b, axis=0), axis=0) / (np.linalg.norm(curl, axis=0) * bn)
    assert np.max(sin_angle) < 1e-4


def test_case1_energy_over_potential_and_potential_row(case1):
    pf = potential_cube(from_cube(case1), nz=64)
    assert cube_metrics(case1, potential=pf)["e_over_epot"] == pytest.approx(1.295, abs=0.006)
    row = cube_metrics(pf, reference=case1)
    for key, published in dict(c_vec=0.85, c_cs=0.82, e_n_prime=0.45, e_m_prime=0.35, epsilon=0.77).items():
        assert row[key] == pytest.approx(published, abs=0.02), key


def test_cli_contract(tmp_path):
    out = tmp_path / "ref.nc"
    assert main(["lowlou", "--n", "1", "--m", "1", "--l", "0.3", "--phi", "0.7853981634",
                 "--shape", "8", "9", "10", "-o", str(out)]) == 0
    ds = xr.load_dataset(out)
    assert ds["Bx"].dims == ("x", "y", "z") and ds["Bx"].shape == (8, 9, 10)
    assert float(ds.x.min()) == -1 and float(ds.z.max()) == 2
    expect = lowlou_field(ds.x.values[3], ds.y.values[4], ds.z.values[5], **CASE1)
    assert ds["Bz"].values[3, 4, 5] == pytest.approx(float(expect[2]))


def test_bad_grid_is_a_clear_error(tmp_path, capsys):
    assert main(["lowlou", "--shape", "1", "8", "8", "-o", str(tmp_path / "x.nc")]) == 2
    assert "grid shape" in capsys.readouterr().err
