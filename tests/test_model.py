"""The network: exact forward-mode Jacobian, quasi-output switch."""

import pytest
import torch

from ffnn.model import FFNN, curl_div


@pytest.mark.parametrize("quasi_output", [True, False])
def test_jacobian_matches_autograd(quasi_output):
    torch.manual_seed(0)
    model = FFNN(3, 24, quasi_output, scale=(2.0, 3.0, 5.0), shift=(1.0, -1.0, 0.5)).double()
    x = torch.rand(40, 3, dtype=torch.float64) * 2 - 1
    b, jac = model.field_and_jacobian(x)
    ref = torch.func.vmap(torch.func.jacrev(model))(x)
    torch.testing.assert_close(jac, ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(b, model(x), rtol=1e-12, atol=1e-12)


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
    b = model(x)
    rows = [torch.autograd.grad(b[:, i].sum(), x, create_graph=True)[0] for i in range(3)]
    jac2 = torch.stack(rows, dim=1)
    curl2, div2 = curl_div(jac2)
    (div2.square().sum() + curl2.square().sum()).backward()
    for g1, p in zip(fast, model.parameters()):
        if g1 is None:
            assert p.grad is None
        else:
            torch.testing.assert_close(g1, p.grad, rtol=1e-9, atol=1e-12)


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
