"""The force-free neural network (the FFNN method paper; see the
documentation's method page): a tanh MLP of the coordinates.

    u1 = tanh(W1 x + b1), ui = tanh(Wi u(i-1) + bi)       (L hidden layers of width N)
    B' = W(L+1) uL + b(L+1)                               quasi-output layer, 3 outputs
    B  = diag(w) B' + c                                   final diagonal output layer

Inputs are unit coordinates (physical / l0); B comes out in G. The diagonal layer carries
the field's scale, so no normalisation of B is needed. ``quasi_output=False`` drops the
diagonal layer (a plain MLP, the ablation of the paper's figure 2).

The Jacobian dB_i/dx_k is the hot path: :meth:`FFNN.field_and_jacobian` propagates the
value and its three coordinate tangents together (forward mode), stacked as one
(4 n, N) matrix per layer, so each layer is a single matmul and the parameter gradient
of any loss built on it comes from one ordinary backward pass. Each hidden layer is one
autograd node (:class:`TanhTangent`) with a hand-written backward: autograd's own graph of
the same layer spends a third of the time on slice copies, zero fills and concatenations.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class TanhTangent(torch.autograd.Function):
    """One hidden layer on a value and its tangents: h (1 + k, n, K) -> (1 + k, n, N).

    a = h W^T; out[0] = u = tanh(a[0] + b); out[j] = (1 - u^2) a[j] for the k tangents
    (k = 3 for the Jacobian, 0 for the value alone). Backward, with s = 1 - u^2 and incoming
    gradients g: da[0] = s (g[0] - 2 u sum_j g[j] a[j]), da[j] = s g[j]; then dW = da^T h,
    db = sum da[0], dh = da W. First derivatives only (enough for L-BFGS).

    tanh is computed as 2 sigmoid(2 x) - 1 (absolute error ~1e-7 in float32): torch's CPU
    tanh is about three times slower than its sigmoid.
    """

    @staticmethod
    def forward(ctx, h, weight, bias):
        out = torch.empty(*h.shape[:-1], weight.shape[0], dtype=h.dtype, device=h.device)
        u = torch.addmm(bias, h[0], weight.t(), beta=2.0, alpha=2.0, out=out[0])
        torch.sigmoid(u, out=u).mul_(2.0).sub_(1.0)
        a = torch.matmul(h[1:], weight.t())
        if len(a):
            s = torch.addcmul(torch.ones_like(u), u, u, value=-1.0)
            torch.mul(a, s, out=out[1:])
        ctx.save_for_backward(h, weight, a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        h, weight, a, out = ctx.saved_tensors
        u = out[0]
        s = torch.addcmul(torch.ones_like(u), u, u, value=-1.0)
        ga = torch.empty_like(g)
        if len(a):
            torch.mul(g[1:], s, out=ga[1:])
            t = g[1] * a[0]
            for j in range(1, len(a)):
                t.addcmul_(g[1 + j], a[j])
            torch.sub(g[0], t.mul_(u), alpha=2.0, out=ga[0]).mul_(s)
        else:
            torch.mul(g[0], s, out=ga[0])
        grad_w = ga.reshape(-1, ga.shape[-1]).t().mm(h.reshape(-1, h.shape[-1]))
        grad_b = ga[0].sum(0)
        grad_h = torch.matmul(ga, weight) if ctx.needs_input_grad[0] else None
        return grad_h, grad_w, grad_b


class FFNN(nn.Module):
    """Tanh MLP from unit coordinates (n, 3) to B (n, 3) in G.

    ``hidden_layers`` (L) layers of ``width`` (N) units; ``scale``/``shift`` are the initial
    diagonal output weights and biases per component (G), e.g. the RMS of the boundary data.
    """

    def __init__(self, hidden_layers: int = 5, width: int = 128, quasi_output: bool = True,
                 scale=(1.0, 1.0, 1.0), shift=(0.0, 0.0, 0.0)):
        super().__init__()
        if hidden_layers < 1 or width < 1:
            raise ValueError(f"network needs >= 1 hidden layer and width >= 1, got L={hidden_layers}, N={width}")
        sizes = [3] + [width] * hidden_layers
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.head = nn.Linear(width, 3)
        self.quasi_output = quasi_output
        if quasi_output:
            self.scale = nn.Parameter(torch.as_tensor(scale, dtype=torch.get_default_dtype()).clone())
            self.shift = nn.Parameter(torch.as_tensor(shift, dtype=torch.get_default_dtype()).clone())
        for layer in [*self.hidden, self.head]:
            nn.init.kaiming_normal_(layer.weight, nonlinearity="tanh")
            nn.init.zeros_(layer.bias)
        if not quasi_output:
            # without the diagonal layer the head itself must reach the field's scale
            with torch.no_grad():
                self.head.weight.mul_(torch.as_tensor(scale, dtype=self.head.weight.dtype)[:, None])
                self.head.bias.copy_(torch.as_tensor(shift, dtype=self.head.bias.dtype))

    def _out(self, raw: torch.Tensor) -> torch.Tensor:
        return raw * self.scale + self.shift if self.quasi_output else raw

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B (n, 3) in G at unit coordinates ``x`` (n, 3)."""
        h = x.unsqueeze(0)
        for layer in self.hidden:
            h = TanhTangent.apply(h, layer.weight, layer.bias)
        return self._out(self.head(h[0]))

    def field_and_jacobian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """B (n, 3) in G and its Jacobian (n, 3, 3), [:, i, k] = dB_i/dx_k per unit length.

        Exact (forward-mode) derivatives, differentiable with respect to the parameters.
        """
        # the input and its tangents along x, y, z (unit vectors)
        eye = torch.eye(3, dtype=x.dtype, device=x.device)
        h = torch.cat([x.unsqueeze(0), eye[:, None, :].expand(3, *x.shape)])
        for layer in self.hidden:
            h = TanhTangent.apply(h, layer.weight, layer.bias)
        o = torch.matmul(h, self.head.weight.t())
        b = self._out(o[0] + self.head.bias)
        jac = o[1:] * self.scale if self.quasi_output else o[1:]
        return b, jac.permute(1, 2, 0)


class HeldBottom(nn.Module):
    """A field whose bottom is the observed map by construction, the network shaping the volume:

        B(x, y, z) = w(z) B_obs(x, y) + (1 - w(z)) N(x, y, z),     w(z) = exp(-z / h)

    with N an :class:`FFNN` and B_obs the bottom map interpolated bilinearly between its
    pixels (so B = B_obs exactly on every pixel at z = 0). The classical codes hold the
    observed bottom fixed the same way (Wiegelmann 2004; pyAMaFiL); the network still sets
    dB/dz at the bottom, through N(x, y, 0), and everything above. The horizontal
    derivatives of B_obs are its second-order finite differences (``numpy.gradient``)
    interpolated likewise, the derivatives the metrics take on the cube.

    Parameters
    ----------
    net : FFNN
        The network N.
    bottom : array (3, nx, ny)
        Bx, By, Bz of the map (G) on its pixels, finite (fill gaps before).
    origin, spacing : (float, float)
        Unit coordinates of pixel (0, 0) and the pixel spacing in unit lengths (x, y).
    height : float
        h in unit lengths (> 0).
    """

    def __init__(self, net: FFNN, bottom, origin, spacing, height: float):
        super().__init__()
        b = np.asarray(bottom, dtype=np.float64)
        if b.ndim != 3 or b.shape[0] != 3 or min(b.shape[1:]) < 3 or not np.isfinite(b).all():
            raise ValueError(f"held bottom needs a finite (3, nx >= 3, ny >= 3) map, got shape {b.shape}")
        if height <= 0:
            raise ValueError(f"held bottom height must be > 0, got {height}")
        maps = np.concatenate([b, np.gradient(b, spacing[0], axis=1, edge_order=2),
                               np.gradient(b, spacing[1], axis=2, edge_order=2)])
        self.net = net
        dtype = net.head.weight.dtype
        self.register_buffer("maps", torch.as_tensor(maps.reshape(9, -1), dtype=dtype))  # B, dB/dx, dB/dy
        # saved with the weights; also kept as numbers, so that no call reads a (GPU) tensor
        self._grid = (*(float(v) for v in (*origin, *spacing, height)), *b.shape[1:])
        self.register_buffer("geometry", torch.tensor(self._grid, dtype=torch.float64))

    @classmethod
    def for_state(cls, net: FFNN, state: dict) -> "HeldBottom":
        """An instance shaped to receive ``state`` (a saved state dict of one)."""
        geometry = state["geometry"].double()
        nx, ny = int(geometry[5]), int(geometry[6])
        return cls(net, np.zeros((3, nx, ny)), geometry[0:2].tolist(), geometry[2:4].tolist(),
                   float(geometry[4]))

    @property
    def height(self) -> float:
        """h in unit lengths."""
        return self._grid[4]

    def _bottom(self, x: torch.Tensor):
        """B_obs and its x and y derivatives at the points' (x, y), each (n, 3)."""
        x0, y0, dx, dy, _, nx, ny = self._grid
        fx = ((x[:, 0] - x0) / dx).clamp(0, nx - 1)
        fy = ((x[:, 1] - y0) / dy).clamp(0, ny - 1)
        i, j = fx.floor().clamp(max=nx - 2), fy.floor().clamp(max=ny - 2)
        tx, ty = (fx - i).unsqueeze(0), (fy - j).unsqueeze(0)
        k = (i * ny + j).long()
        m = self.maps
        v = (m[:, k] * (1 - tx) + m[:, k + ny] * tx) * (1 - ty) + (m[:, k + 1] * (1 - tx) + m[:, k + ny + 1] * tx) * ty
        return v[0:3].T, v[3:6].T, v[6:9].T

    def _held_share(self, x: torch.Tensor) -> torch.Tensor:
        """w(z) = exp(-z / h) at the points ``x`` (n, 3), as (n, 1)."""
        return torch.exp(-x[:, 2:3] / self.height)

    def physics_weight(self, z: np.ndarray) -> np.ndarray:
        """(1 - w(z))^2 at unit heights ``z`` (n,): the weight of the physics terms, which
        the held layer's share of the field (the photosphere's forces and the map's small
        scales, which no network makes force-free) would otherwise dominate."""
        return np.expm1(-np.asarray(z) / self.height) ** 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B (n, 3) in G at unit coordinates ``x`` (n, 3)."""
        n = self.net(x)
        b0 = self._bottom(x)[0]
        w = self._held_share(x)
        return n + w * (b0 - n)

    def field_and_jacobian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """B (n, 3) in G and its Jacobian (n, 3, 3), [:, i, k] = dB_i/dx_k per unit length."""
        n, jac = self.net.field_and_jacobian(x)
        b0, gx, gy = self._bottom(x)
        w = self._held_share(x)
        held = torch.stack([w * gx, w * gy, -(w / self.height) * (b0 - n)], dim=2)
        return n + w * (b0 - n), (1 - w).unsqueeze(2) * jac + held


def curl_div(jac: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(curl B (n, 3), div B (n,)) from a Jacobian (n, 3, 3) with [:, i, k] = dB_i/dx_k."""
    curl = torch.stack([jac[:, 2, 1] - jac[:, 1, 2], jac[:, 0, 2] - jac[:, 2, 0],
                        jac[:, 1, 0] - jac[:, 0, 1]], dim=1)
    return curl, jac[:, 0, 0] + jac[:, 1, 1] + jac[:, 2, 2]


def n_weights(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def describe(model: FFNN | HeldBottom) -> str:
    """One line: architecture and parameter count."""
    if isinstance(model, HeldBottom):
        return f"{describe(model.net)}, observed bottom held (h = {model.height:.4g} unit lengths)"
    return (f"FFNN {len(model.hidden)}x{model.hidden[0].out_features} tanh, "
            f"quasi-output={'on' if model.quasi_output else 'off'}, {n_weights(model):,} weights")



