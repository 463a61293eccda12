"""The network: exact forward-mode Jacobian, quasi-output switch."""

import pytest
import torch

from ffnn.field.model import FFNN, TanhTangent, curl_div


def plain_forward(model, x):
    """The same network written with torch's own tanh and layers: the reference."""
    h = x
    for layer in model.hidden:
        h = torch.tanh(layer(h))
    out = model.head(h)
    return out * model.scale + model.shift if model.quasi_output else out


@pytest.mark.parametrize("quasi_output", [True, False])
def test_jacobian_matches_autograd(quasi_output):
    torch.manual_seed(0)
    model = FFNN(3, 24, quasi_output, scale=(2.0, 3.0, 5.0), shift=(1.0, -1.0, 0.5)).double()
    x = torch.rand(40, 3, dtype=torch.float64) * 2 - 1
    b, jac = model.field_and_jacobian(x)
    ref = torch.func.vmap(torch.func.jacrev(lambda p: plain_forward(model, p)))(x)
    torch.testing.assert_close(jac, ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(b, plain_forward(model, x), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(model(x), b, rtol=1e-12, atol=1e-12)


def test_value_path_gradients_match_autograd():
    torch.manual_seed(4)
    model = FFNN(3, 20, scale=(2.0, 3.0, 5.0)).double()
    x = torch.rand(50, 3, dtype=torch.float64) * 2 - 1
    target = torch.randn(50, 3, dtype=torch.float64)
    (model(x) - target).square().sum().backward()
    fast = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    (plain_forward(model, x) - target).square().sum().backward()
    for g1, p in zip(fast, model.parameters()):
        torch.testing.assert_close(g1, p.grad, rtol=1e-9, atol=1e-12)


def test_parameter_gradients_through_the_jacobian_match_autograd():
    torch.manual_seed(1)
    model = FFNN(2, 16).double()
    x = torch.rand(30, 3, dtype=torch.float64, requires_grad=True)
    _, jac = model.field_and_jacobian(x)
    curl, div = curl_div(jac)
    (div.square().sum() + curl.square().sum()).backward()
    # the output shift has no gradient: derivatives of B do not depend on it
    fast = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    b = plain_forward(model, x)
    rows = [torch.autograd.grad(b[:, i].sum(), x, create_graph=True)[0] for i in range(3)]
    jac2 = torch.stack(rows, dim=1)
    curl2, div2 = curl_div(jac2)
    (div2.square().sum() + curl2.square().sum()).backward()
    for g1, p in zip(fast, model.parameters()):
        if g1 is None:
            assert p.grad is None
        else:
            torch.testing.assert_close(g1, p.grad, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("tangents", [0, 3])
def test_fused_layer_gradients_pass_gradcheck(tangents):
    torch.manual_seed(2)
    h = torch.randn(1 + tangents, 7, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    b = torch.randn(6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(TanhTangent.apply, (h, w, b))


def test_lorentz_loss_gradients_match_autograd():
    """Value and tangents both carry gradient when the loss holds B itself (J x B)."""
    torch.manual_seed(3)
    model = FFNN(3, 12, scale=(2.0, 3.0, 5.0)).double()
    x = torch.rand(25, 3, dtype=torch.float64) * 2 - 1

    def lorentz(b, jac):
        curl, _ = curl_div(jac)
        return (torch.linalg.cross(curl, b, dim=1).square().sum(1) / b.square().sum(1)).mean()

    lorentz(*model.field_and_jacobian(x)).backward()
    fast = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    model.zero_grad()
    ref = lorentz(plain_forward(model, x),
                  torch.func.vmap(torch.func.jacrev(lambda p: plain_forward(model, p)))(x))
    ref.backward()
    slow = [p.grad for p in model.parameters() if p.grad is not None]
    assert len(fast) == len(slow)
    for g1, g2 in zip(fast, slow):
        torch.testing.assert_close(g1, g2, rtol=1e-9, atol=1e-12)


def test_curl_and_div_of_a_linear_field():
    a = torch.tensor([[0.0, 2.0, 3.0], [5.0, 1.0, 7.0], [11.0, 13.0, -4.0]])  # B = A x
    jac = a.expand(4, 3, 3)
    curl, div = curl_div(jac)
    assert torch.allclose(div, torch.full((4,), -3.0))
    assert torch.allclose(curl[0], torch.tensor([13.0 - 7.0, 3.0 - 11.0, 5.0 - 2.0]))


def test_quasi_output_layer_carries_the_scale():
    torch.manual_seed(0)
    model = FFNN(2, 8, scale=(100.0, 1.0, 1.0))
    assert {n for n, _ in model.named_parameters()} >= {"scale", "shift"}
    plain = FFNN(2, 8, quasi_output=False)
    assert "scale" not in dict(plain.named_parameters())


def _held(rng, height=0.3):
    from ffnn.field.model import HeldBottom

    torch.manual_seed(0)
    bottom = rng.normal(size=(3, 7, 5)) * 100
    return HeldBottom(FFNN(2, 16).double(), bottom, (-0.6, -0.4), (0.2, 0.2), height), bottom


def test_held_bottom_is_the_map_on_every_pixel_and_the_network_above():
    import numpy as np

    rng = np.random.default_rng(0)
    model, bottom = _held(rng)
    X, Y = np.meshgrid(-0.6 + 0.2 * np.arange(7), -0.4 + 0.2 * np.arange(5), indexing="ij")
    pixels = torch.tensor(np.stack([X.ravel(), Y.ravel(), np.zeros(X.size)], 1))
    with torch.no_grad():
        b, jac = model.field_and_jacobian(pixels)
        np.testing.assert_allclose(b.numpy().T.reshape(bottom.shape), bottom, atol=1e-9)
        # horizontal derivatives at the pixels: the map's second-order finite differences
        for k in (0, 1):
            fd = np.gradient(bottom, 0.2, axis=1 + k, edge_order=2)
            np.testing.assert_allclose(jac[:, :, k].numpy().T.reshape(bottom.shape), fd, atol=1e-9)
        high = pixels + torch.tensor([0.0, 0.0, 30.0], dtype=torch.float64)
        np.testing.assert_allclose(model(high).numpy(), model.net(high).numpy(), atol=1e-9)


def test_held_bottom_vertical_derivative_matches_finite_differences():
    import numpy as np

    rng = np.random.default_rng(1)
    model, _ = _held(rng)
    x = torch.tensor(rng.uniform([-0.5, -0.3, 0.01], [0.5, 0.3, 1.0], (50, 3)))
    dz = torch.tensor([0.0, 0.0, 1e-6], dtype=torch.float64)
    with torch.no_grad():
        b, jac = model.field_and_jacobian(x)
        np.testing.assert_allclose(b.numpy(), model(x).numpy(), atol=1e-12)
        fd = (model(x + dz) - model(x - dz)) / 2e-6
    np.testing.assert_allclose(jac[:, :, 2].numpy(), fd.numpy(), rtol=1e-5, atol=1e-5)


def test_held_bottom_round_trips_its_state():
    import numpy as np

    from ffnn.field.model import HeldBottom

    rng = np.random.default_rng(2)
    model, _ = _held(rng)
    state = model.state_dict()
    again = HeldBottom.for_state(FFNN(2, 16).double(), state)
    again.load_state_dict(state)
    x = torch.tensor(rng.uniform(-0.5, 0.5, (20, 3)))
    with torch.no_grad():
        assert torch.equal(again(x), model(x))
    with pytest.raises(ValueError, match="finite"):
        HeldBottom(FFNN(2, 16), np.full((3, 4, 4), np.nan), (0, 0), (1, 1), 1.0)
