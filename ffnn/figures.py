"""Figures of one region: bottom boundary, field lines, height profiles, loss curve.

Every function takes plain datasets (the NetCDF files of the workflow, opened with
xarray) and writes one PNG through a temporary name (complete or absent). matplotlib runs
on the Agg backend: no display is needed.

Field lines are integrated in the model cube itself: the direction field B/|B| is
interpolated trilinearly on the grid (``scipy.interpolate.RegularGridInterpolator``) and
followed with classical fourth-order Runge-Kutta steps of fixed length, all lines at once.
Lines start on the bottom where |Bz| is strong (drawn in proportion to |Bz|) and run upward (along B above positive
polarity, against B above negative polarity) until they leave the box.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from ffnn.errors import DataError

COMPONENTS = ("Bx", "By", "Bz")
FIGURE_NAMES = ("bottom.png", "fieldlines_xy.png", "fieldlines_3d.png", "profiles.png", "loss.png")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path) -> Path:
    """Save ``fig`` as PNG at ``path`` through a temporary name, then close it."""
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        fig.savefig(tmp, format="png")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return path


# ---------------------------------------------------------------- field lines

def _grid_and_field(cube: xr.Dataset):
    missing = [c for c in COMPONENTS if c not in cube]
    if missing:
        raise DataError(f"cube lacks variable(s) {missing}")
    axes = tuple(np.asarray(cube[c].values, dtype=np.float64) for c in ("x", "y", "z"))
    field = np.stack([cube[c].transpose("x", "y", "z").values.astype(np.float64) for c in COMPONENTS],
                     axis=-1)
    return axes, field


def seed_points(cube: xr.Dataset, n: int = 30, threshold: float = 0.02,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``n`` seeds on the bottom layer (z = first height), shape (k, 3) in Mm, and the
    sign of Bz at each (+1 or -1).

    Seeds are bottom grid points off the box edges where |Bz| is at least ``threshold``
    times its maximum, drawn without replacement with probability proportional to |Bz|
    (so lines are denser where there is more flux); the draw is seeded, so figures are
    reproducible.
    """
    if n < 1:
        return np.zeros((0, 3)), np.zeros(0)
    (x, y, z), field = _grid_and_field(cube)
    bz = field[:, :, 0, 2]
    finite = np.isfinite(bz)
    if not finite.any():
        raise DataError("bottom Bz of the cube has no finite value")
    absb = np.where(finite, np.abs(bz), 0.0)
    bmax = absb.max()
    if bmax == 0:
        return np.zeros((0, 3)), np.zeros(0)
    candidate = absb >= threshold * bmax
    if min(candidate.shape) > 2:  # not on the side faces, where lines leave at once
        candidate[[0, -1], :] = False
        candidate[:, [0, -1]] = False
    ix, iy = np.nonzero(candidate)
    if ix.size == 0:
        return np.zeros((0, 3)), np.zeros(0)
    weight = absb[ix, iy] / absb[ix, iy].sum()
    k = min(n, ix.size)
    pick = np.random.default_rng(seed).choice(ix.size, size=k, replace=False, p=weight)
    pick = pick[np.argsort(-absb[ix[pick], iy[pick]])]
    seeds = np.stack([x[ix[pick]], y[iy[pick]], np.full(k, z[0])], axis=1)
    return seeds, np.sign(bz[ix[pick], iy[pick]])


def trace_field_lines(cube: xr.Dataset, seeds, direction=1.0, step: float | None = None,
                      max_steps: int | None = None) -> list[np.ndarray]:
    """Field lines through ``seeds`` ((k, 3) points in Mm) in the cube's field.

    ``direction``: +1 follows B, -1 goes against it (a scalar or one value per seed).
    ``step``: arc length per RK4 step in Mm (default half the smallest grid spacing);
    ``max_steps``: default enough to cross the box diagonal four times. A line ends where
    it leaves the box, meets a non-finite or zero field, or after ``max_steps`` steps.
    Returns one (m_i, 3) array of points per seed, starting at the seed.
    """
    from scipy.interpolate import RegularGridInterpolator

    (x, y, z), field = _grid_and_field(cube)
    seeds = np.atleast_2d(np.asarray(seeds, dtype=np.float64))
    if seeds.size == 0:
        return []
    lo = np.array([x.min(), y.min(), z.min()])
    hi = np.array([x.max(), y.max(), z.max()])
    spacing = min(np.min(np.abs(np.diff(a))) for a in (x, y, z))
    h = float(step) if step else 0.5 * spacing
    if max_steps is None:
        max_steps = int(np.ceil(4 * np.linalg.norm(hi - lo) / h))
    interp = RegularGridInterpolator((x, y, z), field, method="linear", bounds_error=False,
                                     fill_value=np.nan)
    sign = np.broadcast_to(np.asarray(direction, dtype=np.float64), (seeds.shape[0],)).copy()
    tol = 1e-9 * (hi - lo)

    def velocity(p, s):
        b = interp(p)
        norm = np.linalg.norm(b, axis=1)
        inside = np.all((p >= lo - tol) & (p <= hi + tol), axis=1)
        good = inside & np.isfinite(norm) & (norm > 0)
        v = np.zeros_like(p)
        v[good] = b[good] / norm[good, None] * s[good, None]
        return v, good

    points = [[s.copy()] for s in seeds]
    pos = seeds.copy()
    active = np.ones(seeds.shape[0], dtype=bool)
    for _ in range(max_steps):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        p, s = pos[idx], sign[idx]
        k1, g1 = velocity(p, s)
        k2, g2 = velocity(p + 0.5 * h * k1, s)
        k3, g3 = velocity(p + 0.5 * h * k2, s)
        k4, g4 = velocity(p + h * k3, s)
        new = p + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        inside = np.all((new >= lo - tol) & (new <= hi + tol), axis=1)
        ok = g1 & g2 & g3 & g4 & inside
        for j, i in enumerate(idx):
            if ok[j]:
                points[i].append(new[j])
            elif g1[j]:
                # last partial step: clip onto the box surface so the line reaches it
                t = _exit_fraction(p[j], new[j], lo, hi)
                if t > 0:
                    points[i].append(p[j] + t * (new[j] - p[j]))
        pos[idx[ok]] = new[ok]
        active[idx[~ok]] = False
    return [np.asarray(line) for line in points]


def _exit_fraction(a, b, lo, hi) -> float:
    """Largest t in [0, 1] with a + t (b - a) inside [lo, hi] (a inside)."""
    t = 1.0
    d = b - a
    for k in range(3):
        if d[k] > 0 and b[k] > hi[k]:
            t = min(t, (hi[k] - a[k]) / d[k])
        elif d[k] < 0 and b[k] < lo[k]:
            t = min(t, (lo[k] - a[k]) / d[k])
    return max(0.0, t)


def bottom_lines(cube: xr.Dataset, n: int = 30, threshold: float = 0.02) -> list[np.ndarray]:
    """Field lines from :func:`seed_points`, each started upward (sign of Bz)."""
    seeds, sign = seed_points(cube, n, threshold)
    return trace_field_lines(cube, seeds, sign)


# ---------------------------------------------------------------- figures

def _extent(ds):
    x, y = ds["x"].values, ds["y"].values
    dx = (x[1] - x[0]) / 2 if x.size > 1 else 0.5
    dy = (y[1] - y[0]) / 2 if y.size > 1 else 0.5
    return [x[0] - dx, x[-1] + dx, y[0] - dy, y[-1] + dy]


def _label(ds, name: str, default: str) -> str:
    units = ds[name].attrs.get("units", default) if name in ds else default
    return f"{name} [{units}]"


def model_bottom(cube: xr.Dataset, bottom: xr.Dataset) -> xr.Dataset:
    """The cube's lowest layer on the bottom map's x, y (interpolated if the grids differ)."""
    layer = cube[list(COMPONENTS)].isel(z=0, drop=True).transpose("x", "y")
    same = all(layer[c].size == bottom[c].size and np.allclose(layer[c].values, bottom[c].values)
               for c in ("x", "y"))
    if not same:
        layer = layer.interp(x=bottom["x"], y=bottom["y"])
    return layer


def bottom_figure(bottom: xr.Dataset, cube: xr.Dataset, title: str = "", dpi: int = 110):
    """Observed vs modelled bottom boundary and their difference: a 3 x 3 grid of maps
    (rows Bx, By, Bz; columns observed, model, model - observed), all in G."""
    plt = _pyplot()
    model = model_bottom(cube, bottom)
    fig, axes = plt.subplots(3, 3, figsize=(12, 10), dpi=dpi, constrained_layout=True)
    extent = _extent(bottom)
    for row, c in enumerate(COMPONENTS):
        obs = bottom[c].transpose("x", "y").values
        mod = model[c].values
        diff = mod - obs
        vmax = float(np.nanmax(np.abs(obs))) if np.isfinite(obs).any() else 1.0
        vmax = vmax or 1.0
        dmax = float(np.nanmax(np.abs(diff))) if np.isfinite(diff).any() else 1.0
        dmax = dmax or 1.0
        rms = float(np.sqrt(np.nanmean(diff ** 2))) if np.isfinite(diff).any() else float("nan")
        for col, (data, lim, name) in enumerate(((obs, vmax, "observed"), (mod, vmax, "model"),
                                                 (diff, dmax, f"model - observed (rms {rms:.3g} G)"))):
            ax = axes[row, col]
            im = ax.imshow(data.T, origin="lower", extent=extent, cmap="RdBu_r", vmin=-lim, vmax=lim,
                           interpolation="nearest")
            ax.set_title(f"{c} {name}", fontsize=10)
            ax.set_xlabel("x [Mm]")
            ax.set_ylabel("y [Mm]")
            fig.colorbar(im, ax=ax, shrink=0.85, label=f"{c} [G]")
    if title:
        fig.suptitle(title)
    return fig


def fieldlines_xy_figure(cube: xr.Dataset, lines, reference_lines=None, title: str = "", dpi: int = 110):
    """Field lines projected on the xy plane over the bottom Bz of the cube."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 7), dpi=dpi, constrained_layout=True)
    bz = cube["Bz"].isel(z=0).transpose("x", "y").values
    lim = float(np.nanmax(np.abs(bz))) or 1.0
    im = ax.imshow(bz.T, origin="lower", extent=_extent(cube), cmap="gray", vmin=-lim, vmax=lim)
    fig.colorbar(im, ax=ax, shrink=0.85, label="Bz at the bottom [G]")
    for i, line in enumerate(reference_lines or []):
        ax.plot(line[:, 0], line[:, 1], color="tab:orange", lw=1.0, ls="--",
                label="reference" if i == 0 else None)
    for i, line in enumerate(lines):
        ax.plot(line[:, 0], line[:, 1], color="tab:blue", lw=1.0, label="model" if i == 0 else None)
    if reference_lines:
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xlim(*_extent(cube)[:2])
    ax.set_ylim(*_extent(cube)[2:])
    ax.set_xlabel("x [Mm]")
    ax.set_ylabel("y [Mm]")
    ax.set_title(title or "field lines from the bottom, projected on the xy plane")
    return fig


def fieldlines_3d_figure(cube: xr.Dataset, lines, reference_lines=None, title: str = "", dpi: int = 110):
    """Field lines in 3-D above the bottom Bz (filled contours on the z = 0 plane)."""
    plt = _pyplot()
    fig = plt.figure(figsize=(9, 8), dpi=dpi)
    # computed_zorder off: drawn in call order, so the lines stay above the bottom map
    ax = fig.add_subplot(projection="3d", computed_zorder=False)
    x, y, z = (cube[c].values for c in ("x", "y", "z"))
    bz = cube["Bz"].isel(z=0).transpose("x", "y").values
    X, Y = np.meshgrid(x, y, indexing="ij")
    lim = float(np.nanmax(np.abs(bz))) or 1.0
    ax.contourf(X, Y, np.nan_to_num(bz), zdir="z", offset=z[0], levels=21, cmap="gray",
                vmin=-lim, vmax=lim, zorder=0)
    for line in reference_lines or []:
        ax.plot(line[:, 0], line[:, 1], line[:, 2], color="tab:orange", lw=0.9, ls="--", zorder=2)
    for line in lines:
        ax.plot(line[:, 0], line[:, 1], line[:, 2], color="tab:blue", lw=1.0, zorder=3)
    ax.set_xlim(x.min(), x.max())
    ax.set_ylim(y.min(), y.max())
    ax.set_zlim(z.min(), z.max())
    ax.set_xlabel("x [Mm]")
    ax.set_ylabel("y [Mm]")
    ax.set_zlabel("z [Mm]")
    try:
        ax.set_box_aspect((np.ptp(x), np.ptp(y), np.ptp(z)))
    except (AttributeError, ValueError):
        pass
    ax.set_title(title or "field lines from the bottom"
                 + (" (model solid, reference dashed)" if reference_lines else ""))
    return fig


def profiles_figure(profiles: xr.Dataset, title: str = "", dpi: int = 110):
    """Height profiles: divergence-free and force-free factors (cumulative from the bottom),
    sigma_J per layer, energy (and potential and free energy) per layer."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), dpi=dpi, constrained_layout=True)
    z = profiles["z"].values
    ax = axes[0, 0]
    ax.semilogx(np.maximum(profiles["div_free_factor"].values, 1e-30), z)
    ax.set_xlabel(_label(profiles, "div_free_factor", "Mm-2"))
    ax.set_title("divergence-free factor: mean |div B|²/|B|² below z")
    ax = axes[0, 1]
    ax.plot(profiles["force_free_factor"].values, z)
    ax.axvline(0.25, color="gray", ls=":", label="0.25 (mean angle 30°)")
    ax.set_xlabel("force_free_factor [1]")
    ax.set_title("force-free factor: mean sin²(J, B) below z")
    ax.legend(fontsize=8)
    ax = axes[1, 0]
    ax.plot(profiles["sigma_j"].values, z)
    ax.set_xlabel("sigma_j [1]")
    ax.set_title("σ_J per layer")
    ax = axes[1, 1]
    ax.plot(profiles["energy"].values, z, label="E")
    if "energy_pot" in profiles:
        ax.plot(profiles["energy_pot"].values, z, label="E_pot", ls="--")
    if "free_energy" in profiles:
        ax.plot(profiles["free_energy"].values, z, label="E - E_pot", ls="-.")
    ax.set_xlabel("energy per layer [erg]")
    ax.set_title("magnetic energy per layer")
    ax.legend(fontsize=8)
    for ax in axes.flat:
        ax.set_ylabel("z [Mm]")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig


def read_loss(path) -> "pandas.DataFrame":  # noqa: F821 - pandas imported lazily
    """The loss history written by ``ffnn train`` (loss.csv)."""
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read loss history {path}: {err}") from err
    if "iteration" not in table.columns or "loss" not in table.columns:
        raise DataError(f"loss history {path} lacks the columns iteration and loss")
    return table


def loss_figure(history, title: str = "", dpi: int = 110):
    """Total loss and its terms over the L-BFGS iterations (log scale), wall time on top."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5), dpi=dpi, constrained_layout=True)
    it = history["iteration"].to_numpy()
    names = {"loss": "total", "loss_bc": "boundary", "loss_div": "divergence", "loss_ff": "force-free"}
    for name, label in names.items():
        if name in history:
            values = history[name].to_numpy(dtype=float)
            ax.semilogy(it, np.where(values > 0, values, np.nan), label=label,
                        lw=2.0 if name == "loss" else 1.0)
    ax.set_xlabel("L-BFGS iteration")
    ax.set_ylabel("loss term")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    if "elapsed_s" in history and len(history) > 1:
        t = history["elapsed_s"].to_numpy(dtype=float)
        ax.set_title(title or f"training loss ({it[-1]} iterations, {t[-1]:.0f} s)")
    else:
        ax.set_title(title or "training loss")
    return fig


def region_figures(bottom: xr.Dataset, cube: xr.Dataset, profiles: xr.Dataset, history, out_dir,
                   *, reference: xr.Dataset | None = None, region: str = "", lines: int = 30,
                   dpi: int = 110) -> list[Path]:
    """Write the five figures of a region (:data:`FIGURE_NAMES`) into ``out_dir``."""
    out_dir = Path(out_dir)
    prefix = f"{region}: " if region else ""
    seeds, sign = seed_points(cube, lines)
    model_lines = trace_field_lines(cube, seeds, sign)
    ref_lines = trace_field_lines(reference, seeds, sign) if reference is not None else None
    written = [
        save_figure(bottom_figure(bottom, cube, f"{prefix}bottom boundary, observed vs model", dpi),
                    out_dir / "bottom.png"),
        save_figure(fieldlines_xy_figure(cube, model_lines, ref_lines,
                                         f"{prefix}field lines projected on the xy plane", dpi),
                    out_dir / "fieldlines_xy.png"),
        save_figure(fieldlines_3d_figure(cube, model_lines, ref_lines,
                                         f"{prefix}field lines from the bottom", dpi),
                    out_dir / "fieldlines_3d.png"),
        save_figure(profiles_figure(profiles, f"{prefix}height profiles", dpi), out_dir / "profiles.png"),
        save_figure(loss_figure(history, f"{prefix}training loss" if region else "", dpi),
                    out_dir / "loss.png"),
    ]
    return written
