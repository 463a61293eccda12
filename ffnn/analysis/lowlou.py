"""Low & Lou (1990, ApJ 352, 343) semi-analytic nonlinear force-free fields.

Flux function A = P(mu)/r^n with mu = cos(theta), and Q(A) = a A |A|^(1/n). This sign
convention (not a |A|^(1+1/n)) is ours: both are force-free, they are different fields.
P solves

    (1 - mu^2) P'' + n(n+1) P + a^2 (1+n)/n P |P|^(2/n) = 0,  P(-1) = P(1) = 0,  P'(-1) = 10.

a^2 is an eigenvalue found by shooting from mu = -1: the m-th positive root of P(1; a^2).
Lengths are in the units of the box (dimensionless; we label them Mm in files), B in G.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import xarray as xr
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from ffnn.util.errors import DataError

_EDGE = 1e-6  # the ODE is singular at mu = +-1: start/stop this far inside, on the regular series


def _rhs(n: int, a2: float):
    def f(mu, y):
        p, dp = y
        nonlinear = a2 * (1 + n) / n * p * np.abs(p) ** (2.0 / n)
        return [dp, -(n * (n + 1) * p + nonlinear) / (1.0 - mu * mu)]

    return f


def _shoot(n: int, a2: float, dense: bool = False, rtol: float = 1e-11):
    t = _EDGE
    # regular series at mu = -1 (t = mu + 1): P = 10 t + c t^2, c = -10 n(n+1)/4
    c = -10.0 * n * (n + 1) / 4.0
    y0 = [10.0 * t + c * t * t, 10.0 + 2 * c * t]
    return solve_ivp(_rhs(n, a2), (-1.0 + t, 1.0 - t), y0, method="DOP853",
                     rtol=rtol, atol=rtol * 0.1, dense_output=dense)


def _p_at_one(n: int, a2: float, rtol: float = 1e-11) -> float:
    return float(_shoot(n, a2, rtol=rtol).y[0, -1])


@lru_cache(maxsize=32)
def eigenvalue(n: int, m: int) -> float:
    """The eigenvalue a^2 of the Low & Lou (1990) equation.

    Parameters
    ----------
    n : int
        Power of the flux function, >= 1 (the field decays as r^-(n+2)).
    m : int
        Which positive root, >= 1.

    Returns
    -------
    float
        a^2 (dimensionless): the m-th positive root of P(1; a^2), found by shooting from
        mu = -1 with P'(-1) = 10. a^2 = 0 (the potential solution) is excluded. Known
        values: (n, m) = (1, 1) gives 0.42741, (3, 1) gives 8.0359.

    Raises
    ------
    ffnn.util.errors.DataError
        For n < 1 or m < 1.
    """
    if n < 1 or m < 1:
        raise DataError(f"Low & Lou needs n >= 1 and m >= 1, got n={n}, m={m}")
    # a coarse scan brackets the sign changes; brentq then refines at full accuracy
    grid = np.concatenate([np.linspace(1e-3, 2.0, 41), np.linspace(2.1, 60.0, 290)])
    values = [_p_at_one(n, grid[0], rtol=1e-7)]
    found = 0
    for i in range(1, len(grid)):
        values.append(_p_at_one(n, grid[i], rtol=1e-7))
        if np.sign(values[i - 1]) != np.sign(values[i]):
            found += 1
            if found == m:
                return float(brentq(lambda a2: _p_at_one(n, a2), grid[i - 1], grid[i], xtol=1e-12))
    raise DataError(f"no {m}-th eigenvalue a^2 < {grid[-1]} for Low & Lou n={n}")


# memory per grid point of lowlou_cube: coordinates, rotated coordinates, the spherical
# components and their temporaries (about 30 float64 arrays of the grid)
GRID_POINT_BYTES = 240


@dataclass(frozen=True)
class LowLou:
    """A Low & Lou (1990) field placed in a Cartesian box.

    Parameters
    ----------
    n : int, optional
        Power of the flux function A = P(mu)/r^n. Default 1.
    m : int, optional
        Which eigenvalue (:func:`eigenvalue`). Default 1.
    l : float, optional
        Depth of the source below the photosphere, box units. Default 0.3.
    phi : float, optional
        Tilt of the symmetry axis about y, radians. Default pi/4.

    Notes
    -----
    The source is moved a depth l below the photosphere and its axis tilted by phi about
    y: X = x cos phi - (z + l) sin phi, Y = y, Z = x sin phi + (z + l) cos phi; the
    spherical field is evaluated there and rotated back. :meth:`field` gives B at points.
    """

    n: int = 1
    m: int = 1
    l: float = 0.3
    phi: float = np.pi / 4

    def __post_init__(self):
        # the source point (r = 0, where B is singular) lies at x = y = 0, z = -l
        if not (np.isfinite(self.l) and self.l > 0):
            raise DataError(f"Low & Lou source depth l must be > 0 (the singular source lies at z = -l, "
                            f"below the photosphere), got l={self.l:g}")
        if not np.isfinite(self.phi):
            raise DataError(f"Low & Lou tilt phi must be a finite angle (rad), got phi={self.phi}")

    @property
    def a2(self) -> float:
        """The eigenvalue a^2 (dimensionless)."""
        return eigenvalue(self.n, self.m)

    def _profile(self):
        return _profile(self.n, self.m)

    def field(self, x, y, z):
        """B = (Bx, By, Bz) in G at points (x, y, z) in box units (arrays of one shape)."""
        x, y, z = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (x, y, z)))
        n, cphi, sphi = self.n, np.cos(self.phi), np.sin(self.phi)
        X = x * cphi - (z + self.l) * sphi
        Y = y
        Z = x * sphi + (z + self.l) * cphi
        rho = np.hypot(X, Y)
        r = np.hypot(rho, Z)
        mu = Z / r
        sin_t = np.maximum(rho / r, 1e-300)
        p, dp = self._profile()(np.clip(mu, -1.0, 1.0))
        a = np.sqrt(self.a2)
        br = -dp / r ** (n + 2)
        bt = n * p / (r ** (n + 2) * sin_t)
        q = a * p * np.abs(p) ** (1.0 / n) / r ** (n + 1)
        bp = q / (r * sin_t)
        cos_f = np.where(rho > 0, X / np.maximum(rho, 1e-300), 1.0)
        sin_f = np.where(rho > 0, Y / np.maximum(rho, 1e-300), 0.0)
        bxl = (br * sin_t + bt * mu) * cos_f - bp * sin_f
        byl = (br * sin_t + bt * mu) * sin_f + bp * cos_f
        bzl = br * mu - bt * sin_t
        return bxl * cphi + bzl * sphi, byl, -bxl * sphi + bzl * cphi


@lru_cache(maxsize=32)
def _profile(n: int, m: int):
    """P(mu), P'(mu) as a vectorised function, from the dense shooting solution."""
    sol = _shoot(n, eigenvalue(n, m), dense=True)

    def evaluate(mu):
        mu = np.asarray(mu, dtype=np.float64)
        inner = np.clip(mu, -1.0 + _EDGE, 1.0 - _EDGE)
        p, dp = sol.sol(inner.ravel())
        p, dp = p.reshape(mu.shape), dp.reshape(mu.shape)
        return p + dp * (mu - inner), dp  # linear beyond the start point: P vanishes at +-1

    return evaluate


def lowlou_field(x, y, z, n: int = 1, m: int = 1, l: float = 0.3, phi: float = np.pi / 4):
    """The Low & Lou (1990) field at points of the box.

    Parameters
    ----------
    x, y, z : array_like
        Points in box units (dimensionless; labelled Mm in files), arrays of one shape;
        the photosphere is z = 0.
    n : int, optional
        The flux function's power, A = P(mu)/r^n. Default 1.
    m : int, optional
        Which eigenvalue a^2 (the m-th positive one). Default 1.
    l : float, optional
        Depth of the source below the photosphere, box units. Default 0.3.
    phi : float, optional
        Tilt of the symmetry axis about y, radians. Default pi/4.

    Returns
    -------
    tuple of 3 `numpy.ndarray`
        Bx, By, Bz in G, each of the points' shape.

    Notes
    -----
    P solves (1 - mu^2) P'' + n(n+1) P + a^2 (1+n)/n P |P|^(2/n) = 0 with P(+-1) = 0,
    P'(-1) = 10; Br = -P'/r^(n+2), B_theta = n P/(r^(n+2) sin theta), B_phi = Q/(r sin
    theta), Q(A) = a A |A|^(1/n). The benchmark cases of Schrijver et al. (2006, Sol.
    Phys. 235, 161): case 1 n = m = 1, l = 0.3, phi = pi/4; case 2 n = 3, m = 1, l = 0.3,
    phi = 4 pi/5.

    References
    ----------
    .. [1] Low, B. C., Lou, Y. Q. 1990, ApJ 352, 343.
    """
    return LowLou(n, m, l, phi).field(x, y, z)


def grid_coords(shape, bounds=(-1.0, 1.0, -1.0, 1.0, 0.0, 2.0)):
    """Coordinates x, y, z (1-D, end points included) of a grid of ``shape`` over ``bounds``."""
    if len(shape) != 3 or min(shape) < 2:
        raise DataError(f"grid shape must be three sizes >= 2, got {tuple(shape)}")
    if len(bounds) != 6 or not all(bounds[2 * i] < bounds[2 * i + 1] for i in range(3)):
        raise DataError(f"bounds must be x0 x1 y0 y1 z0 z1 with x0 < x1 etc., got {tuple(bounds)}")
    return tuple(np.linspace(bounds[2 * i], bounds[2 * i + 1], shape[i]) for i in range(3))


# The Low & Lou field has no physical scale: files label its box units Mm and its field
# gauss so that every tool reads them as it reads a SHARP region's; said in the products.
NOMINAL_UNITS = ("Low & Lou (1990) field: dimensionless. Lengths are labelled Mm and the field gauss "
                 "nominally (box units; the source's normalisation), and energies computed from them "
                 "in erg are nominal too: only ratios (E/E_pot, epsilon, the metrics of Schrijver et al. "
                 "2006) compare with other work.")


def lowlou_cube(n: int = 1, m: int = 1, l: float = 0.3, phi: float = np.pi / 4,
                shape=(64, 64, 64), bounds=(-1.0, 1.0, -1.0, 1.0, 0.0, 2.0)) -> xr.Dataset:
    """The Low & Lou (1990) field on a regular grid, as a cube.

    Parameters
    ----------
    n, m : int, optional
        Power of the flux function and the eigenvalue's index (:func:`lowlou_field`).
        Default 1, 1.
    l : float, optional
        Depth of the source below the photosphere, box units. Default 0.3.
    phi : float, optional
        Tilt of the symmetry axis about y, radians. Default pi/4.
    shape : tuple of 3 int, optional
        Grid points (nx, ny, nz), each >= 2. Default (64, 64, 64), the benchmark's.
    bounds : tuple of 6 float, optional
        x0, x1, y0, y1, z0, z1 of the box (end points included). Default the unit domain
        [-1, 1] x [-1, 1] x [0, 2].

    Returns
    -------
    `xarray.Dataset`
        ``Bx``, ``By``, ``Bz`` (G) on ``(x, y, z)`` of ``shape``; attributes
        ``lowlou_n``, ``lowlou_m``, ``lowlou_l``, ``lowlou_phi``, ``lowlou_a2``.

    Raises
    ------
    ffnn.util.errors.DataError
        For a shape or bounds that make no grid, a source depth l <= 0, or bounds that
        reach the singular source at z = -l.
    ffnn.util.errors.ConfigError
        For a grid whose arrays would not fit in the memory available.
    """
    from ffnn.util.memory import check_memory

    field = LowLou(n, m, l, phi)
    x, y, z = grid_coords(shape, bounds)
    if z[0] <= -l:
        raise DataError(f"bounds reach z = {z[0]:g}, at or below the singular source at z = -l = {-l:g}: "
                        "the box must lie above it")
    check_memory(GRID_POINT_BYTES * x.size * y.size * z.size,
                 f"--shape {x.size} {y.size} {z.size} gives {x.size * y.size * z.size:,} grid points")
    X, Y, Z = np.meshgrid(x, y, z, indexing="ij")
    bx, by, bz = field.field(X, Y, Z)
    from ffnn.field.cube import make_cube

    return make_cube({"Bx": bx, "By": by, "Bz": bz}, x, y, z, attrs={
        "title": f"Low & Lou (1990) field n={n} m={m} l={l} phi={phi}",
        "lowlou_n": n, "lowlou_m": m, "lowlou_l": l, "lowlou_phi": phi, "lowlou_a2": field.a2,
        "comment": NOMINAL_UNITS,
    })
