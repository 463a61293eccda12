"""A field on the evaluation grid: B = B_pot + curl_h A, A from multi-resolution cubic B-spline grids.

    A(x) = sum_l S_l C_l          (direct)      or      A = s * MLP([S_l F_l]_l)   (MLP encoding)

where S_l interpolates a coarse coefficient grid C_l (knots every 2^l pixels) with uniform
cubic B-splines (continuous first and second derivatives), so each level carries the scales
down to its knot spacing and the finest one the map's pixel scale. B is

    B = B_pot + curl_h A

with curl_h the second-order finite differences of ``numpy.gradient`` (``edge_order=2``),
the derivatives with which :mod:`ffnn.analysis.metrics` judges a cube. The one-axis difference
operators act on different axes and so commute, hence div_h curl_h A = 0 on every node:
the trained field adds no divergence to the potential field's, and divergence cannot be
traded against force-freeness or pass for energy. The loss is taken on every node with the
same differences: the force-free term |J x B|^2 / (|B|^2 + eps), J = curl_h B, above the
bottom layer, the bottom misfit against the observed map and the misfit of the sides and
top against the potential field.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


class _Gradient(torch.autograd.Function):
    """The difference operator D of :func:`gradient` and, backward, its transpose D^T (one
    allocation each way: autograd's own graph of the slices spent most of an iteration
    filling and adding zero tensors)."""

    @staticmethod
    def forward(ctx, f, axis: int, h: float):
        ctx.axis, ctx.h = axis, h
        n = f.shape[axis]
        out = torch.empty_like(f)
        c = 1.0 / (2 * h)
        f0, f1, f2 = (f.narrow(axis, k, 1) for k in (0, 1, 2))
        g0, g1, g2 = (f.narrow(axis, n - 1 - k, 1) for k in (0, 1, 2))
        torch.sub(f.narrow(axis, 2, n - 2), f.narrow(axis, 0, n - 2), out=out.narrow(axis, 1, n - 2))
        out.narrow(axis, 1, n - 2).mul_(c)
        out.narrow(axis, 0, 1).copy_((-3 * f0 + 4 * f1 - f2) * c)
        out.narrow(axis, n - 1, 1).copy_((3 * g0 - 4 * g1 + g2) * c)
        return out

    @staticmethod
    def backward(ctx, g):
        axis, n, c = ctx.axis, g.shape[ctx.axis], 1.0 / (2 * ctx.h)
        out = torch.zeros_like(g)
        inner = g.narrow(axis, 1, n - 2) * c
        out.narrow(axis, 2, n - 2).add_(inner)
        out.narrow(axis, 0, n - 2).sub_(inner)
        first, last = g.narrow(axis, 0, 1) * c, g.narrow(axis, n - 1, 1) * c
        for k, w in enumerate((-3.0, 4.0, -1.0)):
            out.narrow(axis, k, 1).add_(first, alpha=w)
            out.narrow(axis, n - 1 - k, 1).add_(last, alpha=-w)
        return out, None, None


def gradient(f: torch.Tensor, axis: int, h: float) -> torch.Tensor:
    """d f / d x along ``axis`` with ``numpy.gradient(f, h, axis=axis, edge_order=2)``'s
    stencils: central differences inside, second-order one-sided ones on the two end nodes.
    ``f`` needs >= 3 nodes along ``axis``; differentiable (first order)."""
    if f.shape[axis] < 3:
        raise ValueError(f"differences need >= 3 nodes along axis {axis}, got {f.shape[axis]}")
    return _Gradient.apply(f, axis, float(h))


def curl(b: torch.Tensor, h) -> torch.Tensor:
    """curl of a (3, nx, ny, nz) field with grid spacings ``h`` = (hx, hy, hz), as
    :func:`ffnn.analysis.metrics.curl`."""
    d = lambda i, k: gradient(b[i], k, h[k])  # noqa: E731  (d b_i / d x_k)
    return torch.stack([d(2, 1) - d(1, 2), d(0, 2) - d(2, 0), d(1, 0) - d(0, 1)])


def divergence(b: torch.Tensor, h) -> torch.Tensor:
    """div of a (3, nx, ny, nz) field, as :func:`ffnn.analysis.metrics.derivatives`."""
    return gradient(b[0], 0, h[0]) + gradient(b[1], 1, h[1]) + gradient(b[2], 2, h[2])


def bspline_weights(t: np.ndarray) -> np.ndarray:
    """Uniform cubic B-spline weights of the four control points around ``t`` in [0, 1): (4, n)."""
    t = np.asarray(t, dtype=np.float64)
    return np.stack([(1 - t) ** 3, 3 * t ** 3 - 6 * t ** 2 + 4, -3 * t ** 3 + 3 * t ** 2 + 3 * t + 1, t ** 3]) / 6


def bspline_matrix(u: np.ndarray, n_ctrl: int) -> np.ndarray:
    """(len(u), n_ctrl) matrix of cubic B-spline weights at knot coordinates ``u`` (control
    point k sits at knot k - 1, so u in [0, n_ctrl - 3] is covered)."""
    u = np.asarray(u, dtype=np.float64)
    cell = np.clip(np.floor(u), 0, n_ctrl - 4).astype(int)
    w = bspline_weights(u - cell)
    m = np.zeros((u.size, n_ctrl))
    for k in range(4):
        m[np.arange(u.size), cell + k] = w[k]
    return m


def n_controls(n: int, step: float) -> int:
    """Control points of a spline with knots every ``step`` nodes over ``n`` nodes."""
    return int(math.ceil((n - 1) / step)) + 3


def _evaluate(c: torch.Tensor, dim: int) -> torch.Tensor:
    """A spline with knots at every node, on the nodes, along ``dim``: (c_i + 4 c_i+1 + c_i+2) / 6
    (n + 2 control points -> n nodes; at an integer knot coordinate the weights of
    :func:`bspline_weights` are (1, 4, 1, 0) / 6)."""
    n = c.shape[dim] - 2
    return (c.narrow(dim, 0, n) + 4 * c.narrow(dim, 1, n) + c.narrow(dim, 2, n)) / 6


def _refine(c: torch.Tensor, dim: int, m: int) -> torch.Tensor:
    """The same cubic B-spline with knots twice as dense, along ``dim`` (exact dyadic
    subdivision, Lane & Riesenfeld 1980): K control points at knot spacing 2 s -> the first
    ``m`` (<= 2 K - 3) at spacing s. Coarse point k sits where fine point 2 k - 1 does; fine
    points are edge points (c_k + c_k+1)/2 (even) and vertex points (c_k-1 + 6 c_k + c_k+1)/8
    (odd), interleaved."""
    k = c.shape[dim]
    edge = (c.narrow(dim, 0, k - 1) + c.narrow(dim, 1, k - 1)) / 2
    vertex = (c.narrow(dim, 0, k - 2) + 6 * c.narrow(dim, 1, k - 2) + c.narrow(dim, 2, k - 2)) / 8
    pairs = torch.stack([edge.narrow(dim, 0, k - 2), vertex], dim=dim + 1).flatten(dim, dim + 1)
    return torch.cat([pairs, edge.narrow(dim, k - 2, 1)], dim=dim).narrow(dim, 0, m)


class SplineGrids(nn.Module):
    """Multi-resolution cubic B-spline grids on an (nx, ny, nz) node grid: the sum of
    ``levels`` splines with knots every 1, 2, 4, ... nodes, ``features`` values each.

    :meth:`forward` gives the sum on every node, (features, nx, ny, nz). Coarse levels are
    refined exactly into the next finer level's control points (dyadic subdivision) and
    added there, so only the finest level is evaluated on the nodes: the cost is about that
    of one level, each axis a few shifted sums.
    """

    def __init__(self, shape, levels: int, features: int, init_std: float = 0.0, generator=None):
        super().__init__()
        if levels < 1:
            raise ValueError(f"spline grids need >= 1 level, got {levels}")
        self.shape, self.levels, self.features = tuple(shape), int(levels), features
        self.coefficients = nn.ParameterList()
        for k in range(self.levels):
            step = 2 ** k
            c = torch.zeros(features, *(n_controls(n, step) for n in self.shape))
            if init_std:
                c.normal_(0.0, init_std, generator=generator)
            self.coefficients.append(nn.Parameter(c))

    @property
    def steps(self) -> tuple[int, ...]:
        """Knot spacing of each level in nodes."""
        return tuple(2 ** k for k in range(self.levels))

    def forward(self) -> torch.Tensor:
        f = self.coefficients[-1]
        for k in range(self.levels - 1, -1, -1):
            if k < self.levels - 1:
                f = f + self.coefficients[k]
            for axis, n in enumerate(self.shape):  # level k's control points -> level k-1's, or the nodes
                f = _evaluate(f, axis + 1) if k == 0 else _refine(f, axis + 1, n_controls(n, 2 ** (k - 1)))
        return f


class GridField(nn.Module):
    """B = B_pot + b0 curl_h A on the nodes of an (nx, ny, nz) grid, A from
    :class:`SplineGrids` (three features: the components of A).

    Parameters
    ----------
    b_pot : array (3, nx, ny, nz)
        The potential field on the grid (G): the start (A = 0) and the sides' and top's data.
    spacing : (float, float, float)
        Grid spacings (dx, dy, dz) in Mm.
    b0 : float
        Field scale (G): A is in units of b0 times the x spacing, so the coefficients are O(1).
    levels : int
        Spline levels, knots every 1, 2, 4, ... 2^(levels - 1) nodes.
    init_std : float
        Standard deviation of the random start of the coefficients (0: A = 0, B = B_pot).
    seed : int
        Seeds that start.
    """

    def __init__(self, b_pot, spacing, b0: float, levels: int = 5, init_std: float = 0.0, seed: int = 0):
        super().__init__()
        b_pot = np.asarray(b_pot, dtype=np.float64)
        if b_pot.ndim != 4 or b_pot.shape[0] != 3 or min(b_pot.shape[1:]) < 3 or not np.isfinite(b_pot).all():
            raise ValueError(f"grid field needs a finite (3, nx >= 3, ny >= 3, nz >= 3) potential field, "
                             f"got shape {b_pot.shape}")
        self.spacing = tuple(float(s) for s in spacing)
        self.h = tuple(s / self.spacing[0] for s in self.spacing)  # in x spacings
        self.b0 = float(b0)
        self.register_buffer("b_pot", torch.as_tensor(b_pot, dtype=torch.float32))
        # saved with the weights, so that load can rebuild the module
        self.register_buffer("geometry", torch.tensor([*self.spacing, self.b0, levels], dtype=torch.float64))
        g = torch.Generator().manual_seed(int(seed))
        self.grids = SplineGrids(b_pot.shape[1:], levels, 3, init_std=init_std, generator=g)

    @classmethod
    def for_state(cls, state: dict) -> "GridField":
        """An instance shaped to receive ``state`` (a saved state dict of one)."""
        geometry = state["geometry"].tolist()
        return cls(np.zeros(tuple(state["b_pot"].shape)), geometry[0:3], geometry[3], int(geometry[4]))

    def potential(self) -> torch.Tensor:
        """A on the nodes, (3, nx, ny, nz), in b0 x spacings."""
        return self.grids()

    def normalized(self) -> torch.Tensor:
        """B / b0 on the nodes, (3, nx, ny, nz)."""
        return self.b_pot / self.b0 + curl(self.potential(), self.h)

    def forward(self) -> torch.Tensor:
        """B on the nodes, (3, nx, ny, nz), G."""
        return self.normalized() * self.b0

    def field_on_grid(self):
        """(B (G), curl B (G/Mm), div B (G/Mm)) on the nodes as float64 arrays, (3, nx, ny, nz),
        (3, nx, ny, nz), (nx, ny, nz); the derivatives with :func:`gradient`'s stencils."""
        with torch.no_grad():
            b = self().double()
            return b.numpy(), curl(b, self.spacing).numpy(), divergence(b, self.spacing).numpy()


def describe_grid(model: GridField) -> str:
    """One line: the representation and its size."""
    n = sum(p.numel() for p in model.parameters())
    return (f"B = B_pot + curl A on the {'x'.join(str(s) for s in model.b_pot.shape[1:])} grid, A from cubic "
            f"B-spline grids with knots every {', '.join(str(s) for s in model.grids.steps)} pixels, {n:,} coefficients")


def lorentz_term(b: torch.Tensor, j: torch.Tensor, eps: float) -> torch.Tensor:
    """|J x B|^2 / (|B|^2 + eps) on the nodes (J, B: (3, ...); the cross product written
    out: ``torch.linalg.cross`` along the first axis measured slower than the rest of an
    iteration together)."""
    cx = j[1] * b[2] - j[2] * b[1]
    cy = j[2] * b[0] - j[0] * b[2]
    cz = j[0] * b[1] - j[1] * b[0]
    return (cx * cx + cy * cy + cz * cz) / ((b * b).sum(0) + eps)
