"""The grid representation (spline_grid): its derivatives against independent ones, the
splines' continuity, exact solenoidality, and a short training that lowers the physics loss."""

import numpy as np
import pytest
import torch

from ffnn.analysis.lowlou import lowlou_cube
from ffnn.analysis.metrics import cube_metrics, derivatives
from ffnn.field.boundary import from_cube, map_to_points, merge_points
from ffnn.field.cube import model_cube
from ffnn.field.gridfield import (GridField, SplineGrids, bspline_matrix, curl, divergence, gradient,
                                  n_controls)
from ffnn.field.potential import potential_cube, potential_faces
from ffnn.field.train import TrainConfig, load_model, make_trainer, train


def analytic(x):
    """A quadratic field (x: (..., 3)) with nonzero curl and divergence: second-order
    differences (central and one-sided) are exact on it."""
    X, Y, Z = x[..., 0], x[..., 1], x[..., 2]
    return torch.stack([X * Y + Z ** 2, Y * Z - 2 * X ** 2, X * Z + Y ** 2 + X], dim=-1)


def test_grid_derivatives_match_autograd_on_a_known_field():
    h = (0.3, 0.2, 0.25)
    axes = [torch.arange(n, dtype=torch.float64) * s for n, s in zip((7, 6, 5), h)]
    pts = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)
    b = analytic(pts).permute(3, 0, 1, 2)
    # the Jacobian by autograd at every point (the field is pointwise: d sum(B_i) / dx = dB_i/dx
    # point by point), an independent computation
    x = pts.clone().requires_grad_(True)
    out = analytic(x)
    jac = torch.stack([torch.autograd.grad(out[..., i].sum(), x, retain_graph=True)[0] for i in range(3)], dim=-2)
    want_curl = torch.stack([jac[..., 2, 1] - jac[..., 1, 2], jac[..., 0, 2] - jac[..., 2, 0],
                             jac[..., 1, 0] - jac[..., 0, 1]])
    want_div = jac[..., 0, 0] + jac[..., 1, 1] + jac[..., 2, 2]
    assert want_curl.abs().max() > 1 and want_div.abs().max() > 1  # the test field has both
    torch.testing.assert_close(curl(b, h), want_curl, rtol=0, atol=1e-10)
    torch.testing.assert_close(divergence(b, h), want_div, rtol=0, atol=1e-10)


def test_grid_derivatives_are_those_of_the_metrics():
    rng = np.random.default_rng(1)
    b = rng.normal(size=(3, 6, 5, 4))
    h = (0.5, 0.7, 0.9)
    for axis in range(3):
        np.testing.assert_allclose(gradient(torch.as_tensor(b[0]), axis, h[axis]).numpy(),
                                   np.gradient(b[0], h[axis], axis=axis, edge_order=2), atol=1e-12)
    j, div = derivatives(b, h)
    np.testing.assert_allclose(curl(torch.as_tensor(b), h).numpy(), j, atol=1e-12)
    np.testing.assert_allclose(divergence(torch.as_tensor(b), h).numpy(), div, atol=1e-12)


def test_grid_derivatives_backward_is_the_transpose():
    f = torch.tensor(np.random.default_rng(4).normal(size=(5, 4, 6)), requires_grad=True)
    for axis, h in ((0, 0.5), (1, 1.0), (2, 2.0)):
        assert torch.autograd.gradcheck(lambda x: gradient(x, axis, h), (f,))


def test_curl_of_any_potential_is_solenoidal_on_the_grid():
    # the one-axis difference operators commute, edges included: div_h curl_h A = 0 on every node
    a = torch.as_tensor(np.random.default_rng(2).normal(size=(3, 8, 7, 6)))
    h = (1.0, 0.8, 1.3)
    b = curl(a, h)
    assert b.abs().max() > 1
    assert divergence(b, h).abs().max() < 1e-12


def test_cubic_splines_have_continuous_first_and_second_derivatives():
    coef = np.random.default_rng(3).normal(size=9)
    f = lambda u: bspline_matrix(np.atleast_1d(u), coef.size) @ coef  # noqa: E731
    d = 1e-4
    for knot in (1.0, 2.0, 3.0, 4.0):  # inner knots, where the pieces meet
        left = (f(knot) - f(knot - d)) / d
        right = (f(knot + d) - f(knot)) / d
        assert abs(left - right) < 1e-3  # O(d): no jump in the first derivative
        second_left = (f(knot) - 2 * f(knot - d) + f(knot - 2 * d)) / d ** 2
        second_right = (f(knot + 2 * d) - 2 * f(knot + d) + f(knot)) / d ** 2
        assert abs(second_left - second_right) < 1e-2 * max(1.0, abs(second_left))
    # a trilinear (piecewise-linear) interpolation of the same values jumps there
    lin = lambda u: np.interp(u, np.arange(coef.size), coef)  # noqa: E731
    assert max(abs((lin(k) - lin(k - d)) - (lin(k + d) - lin(k))) / d for k in (1.0, 2.0, 3.0)) > 1e-2


def test_refined_levels_equal_their_splines():
    shape = (13, 9, 7)
    g = SplineGrids(shape, 3, 1, init_std=1.0, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        got = g()[0].double().numpy()
    want = np.zeros(shape)
    for k, c in enumerate(g.coefficients):
        m = [bspline_matrix(np.arange(n) / 2 ** k, n_controls(n, 2 ** k)) for n in shape]
        want += np.einsum("abc,xa,yb,zc->xyz", c[0].detach().double().numpy(), *m)
    np.testing.assert_allclose(got, want, atol=1e-5 * np.abs(want).max())


@pytest.fixture(scope="module")
def case():
    """Low & Lou case 1 on 11^3: its bottom map, the potential field and the boundary points."""
    bottom = from_cube(lowlou_cube(shape=(11, 11, 11)))
    pot = potential_cube(bottom)
    points = merge_points([map_to_points(bottom), potential_faces(bottom)])
    return bottom, pot, points


GRID = dict(representation="spline_grid", grid_levels=3, progress=False, iterations_per_step=10,
            checkpoint_every=20, boundary_decay_iterations=20, bc_errors="none")


def test_short_training_lowers_the_physics_loss_and_adds_no_divergence(case):
    bottom, pot, points = case
    # a random start far from force-free, the boundary weight constant: the loss is one objective
    cfg = TrainConfig(**{**GRID, "boundary_weight_start": 1.0, "grid_init_std": 0.3}, max_iterations=60)
    trainer = make_trainer(points, cfg, None, potential=pot)
    start = trainer.loss_terms(backward=False)
    result = trainer.fit(resume=False)
    end = trainer.loss_terms(backward=False)
    assert end["loss_ff"] < 0.2 * start["loss_ff"]
    assert end["loss"] < 0.2 * start["loss"]
    cube = model_cube(result.model, result.meta)
    b = np.stack([cube[c].values for c in ("Bx", "By", "Bz")])
    b_pot = np.stack([pot[c].values for c in ("Bx", "By", "Bz")])
    assert np.abs(b - b_pot).max() > 0.01 * np.abs(b_pot).max()  # it moved away from the start ...
    h = tuple(float(np.diff(cube[c].values)[0]) for c in "xyz")
    # ... by a solenoidal field: the cube's divergence is the potential field's (float32 rounding)
    np.testing.assert_allclose(cube["divB"].values, derivatives(b_pot, h)[1], atol=1e-4 * np.abs(b_pot).max())


def test_training_moves_from_the_potential_field_towards_the_force_free_one(case):
    bottom, pot, points = case
    ref = lowlou_cube(shape=(11, 11, 11))
    cfg = TrainConfig(**GRID, max_iterations=60, learning_rate=0.01)
    result = make_trainer(points, cfg, None, potential=pot).fit(resume=False)
    cube = model_cube(result.model, result.meta)
    got, before = cube_metrics(cube, reference=ref), cube_metrics(pot, reference=ref)
    assert got["c_vec"] > before["c_vec"] and got["e_n_prime"] > before["e_n_prime"]


def test_grid_training_is_iteration_bound_and_resumes_exactly(case, tmp_path):
    _, pot, points = case
    full = train(points, TrainConfig(**GRID, max_iterations=40), tmp_path / "full", potential=pot)
    train(points, TrainConfig(**GRID, max_iterations=20), tmp_path / "cut", potential=pot)
    assert (tmp_path / "cut" / "checkpoint.pt").exists()
    resumed = train(points, TrainConfig(**GRID, max_iterations=40), tmp_path / "cut", potential=pot)
    for p, q in zip(full.model.parameters(), resumed.model.parameters()):
        assert torch.equal(p, q)
    model, meta = load_model(tmp_path / "full" / "model.pt")
    assert isinstance(model, GridField)
    a, b = model_cube(model, meta), model_cube(full.model, full.meta)
    np.testing.assert_array_equal(a["Bx"].values, b["Bx"].values)


def test_seeds_start_differently(case):
    _, pot, points = case
    a = make_trainer(points, TrainConfig(**GRID, seed=0), None, potential=pot).model
    b = make_trainer(points, TrainConfig(**GRID, seed=1), None, potential=pot).model
    assert not torch.equal(a.grids.coefficients[0], b.grids.coefficients[0])


def test_grid_training_needs_the_potential_cube(case):
    _, _, points = case
    from ffnn.util.errors import ConfigError

    with pytest.raises(ConfigError, match="potential-field cube"):
        make_trainer(points, TrainConfig(**GRID), None, potential=None)
