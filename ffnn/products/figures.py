"""Figures of one region: bottom boundary, field lines, height profiles, loss curve, and
the derived products (twist number, squashing factor).

Every function takes plain datasets (the NetCDF files of the workflow, opened with
xarray) and writes one PNG through a temporary name (complete or absent). matplotlib runs
on the Agg backend: no display is needed.

Field lines are traced in the model cube with :mod:`ffnn.analysis.fieldlines` (streamtracer:
trilinear interpolation, fixed-step RK4, compiled). Lines start on the bottom where the
model's |Bz| is strong (drawn in proportion to |Bz|) and run upward (along B above
positive polarity, against B above negative polarity) until they leave the box. They are
drawn over the *observed* bottom field (Bz of ``boundary.nc``, i.e. SHARP Br), so a poor
fit shows; axes are in Mm, with a Carrington longitude/latitude grid (degrees) where the
bottom map carries its WCS (:mod:`ffnn.io.wcs`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from ffnn.io.box import COMPONENTS
from ffnn.util.errors import DataError
from ffnn.util.files import save_figure
from ffnn.analysis.fieldlines import FieldGrid, default_step, trace
from ffnn.analysis.quality import LIMITS

if TYPE_CHECKING:  # pandas is imported where it is used
    import pandas

FIGURE_NAMES = ("bottom.png", "fieldlines_xy.png", "fieldlines_3d.png", "profiles.png", "loss.png")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


# ---------------------------------------------------------------- field lines

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
    if "Bz" not in cube:
        raise DataError("cube lacks variable Bz")
    x, y, z = (np.asarray(cube[c].values, dtype=np.float64) for c in ("x", "y", "z"))
    bz = cube["Bz"].isel(z=0).transpose("x", "y").values.astype(np.float64)
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

    Traced by :func:`ffnn.analysis.fieldlines.trace` (streamtracer). ``direction``: +1 follows B,
    -1 goes against it (a scalar or one value per seed). ``step``: arc length per RK4 step
    in Mm (default half the smallest grid spacing); ``max_steps``: default enough to cross
    the box diagonal four times. A line ends on the box surface where it leaves the box,
    or at the last point before a non-finite or zero field, or after ``max_steps`` steps.
    Returns one (m_i, 3) array of points per seed, starting at the seed.
    """
    grid = FieldGrid.from_cube(cube)
    h = float(step) if step else default_step(grid)
    max_length = h * max_steps if max_steps else None
    return trace(grid, seeds, direction, step=h, max_length=max_length, keep_points=True).points


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
                                                 (diff, dmax, f"model - observed\n(rms {rms:.3g} G)"))):
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


def _observed_bz(bottom: xr.Dataset):
    """x, y (Mm) and the observed Bz (nx, ny) of a bottom map, with its colour limit."""
    if "Bz" not in bottom:
        raise DataError("bottom map lacks variable Bz")
    bz = bottom["Bz"].transpose("x", "y").values.astype(np.float64)
    finite = np.isfinite(bz)
    lim = float(np.percentile(np.abs(bz[finite]), 99.5)) if finite.any() else 1.0
    return bottom["x"].values, bottom["y"].values, bz, lim or 1.0


def _degree_step(span: float) -> float:
    """A round step (deg) giving about four to eight grid lines over ``span`` degrees."""
    for step in (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0):
        if span / step <= 8:
            return step
    return 45.0


def heliographic_overlay(ax, ds: xr.Dataset, color: str = "gold") -> bool:
    """Draw a labelled Carrington longitude/latitude grid (degrees) over a map in Mm.

    ``ds``: a dataset on (x, y) whose attributes carry the CEA WCS of that grid
    (:func:`ffnn.io.wcs.heliographic_grid`). SHARP's CEA is oblique, so the lines are curves
    drawn as contours of the 2-D longitude and latitude. Returns False (nothing drawn)
    without a WCS.
    """
    from ffnn.io.wcs import heliographic_grid

    x, y = ds["x"].values, ds["y"].values
    grid = heliographic_grid(ds.attrs, x.size, y.size)
    if grid is None:
        return False
    for values, style in zip(grid, ("--", ":")):
        lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
        step = _degree_step(hi - lo)
        levels = np.arange(np.ceil(lo / step) * step, hi, step)
        if levels.size == 0:
            continue
        cs = ax.contour(x, y, values.T, levels=levels, colors=color, linewidths=0.6,
                        linestyles=style, alpha=0.8)
        ax.clabel(cs, fmt=lambda v: f"{v:g}°", fontsize=7)
    return True


def _map_axes(ax, ds: xr.Dataset, what: str) -> None:
    """Mm labels, and the heliographic grid where the map has a WCS; ``what`` (the
    background) in small print under the x label."""
    notes = [what] if what else []
    if heliographic_overlay(ax, ds):
        notes.append("Carrington longitude (dashed) and latitude (dotted) in deg")
    ax.set_xlabel("x (west) [Mm]" + "".join(f"\n{n}" for n in notes), fontsize=9)
    ax.set_ylabel("y (north) [Mm]")


def _map_size(ds: xr.Dataset, width: float = 9.0) -> tuple[float, float]:
    """A figure size that fits a map of ``ds``'s x, y aspect with a colour bar."""
    x, y = ds["x"].values, ds["y"].values
    aspect = float(np.ptp(y) / np.ptp(x)) if x.size > 1 and np.ptp(x) > 0 else 1.0
    return width, float(np.clip(0.8 * width * aspect, 3.0, 10.0)) + 1.4


def fieldlines_xy_figure(bottom: xr.Dataset, lines, reference_lines=None, title: str = "", dpi: int = 110):
    """Field lines projected on the xy plane over the observed bottom Bz (``boundary.nc``)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=_map_size(bottom, 8.0), dpi=dpi, constrained_layout=True)
    _, _, bz, lim = _observed_bz(bottom)
    extent = _extent(bottom)
    im = ax.imshow(bz.T, origin="lower", extent=extent, cmap="gray", vmin=-lim, vmax=lim)
    fig.colorbar(im, ax=ax, shrink=0.85, label="observed Bz (Br) at the bottom [G]")
    for i, line in enumerate(reference_lines or []):
        ax.plot(line[:, 0], line[:, 1], color="tab:orange", lw=1.0, ls="--",
                label="reference" if i == 0 else None)
    for i, line in enumerate(lines):
        ax.plot(line[:, 0], line[:, 1], color="tab:blue", lw=1.0, label="model" if i == 0 else None)
    if reference_lines:
        ax.legend(loc="upper right", fontsize=8)
    _map_axes(ax, bottom, "background: observed Bz")
    ax.set_xlim(*extent[:2])
    ax.set_ylim(*extent[2:])
    ax.set_title(title or "field lines from the bottom, projected on the xy plane")
    return fig


def fieldlines_3d_figure(bottom: xr.Dataset, cube: xr.Dataset, lines, reference_lines=None,
                         title: str = "", dpi: int = 110):
    """Field lines in 3-D above the observed bottom Bz (filled contours on the bottom plane)."""
    plt = _pyplot()
    fig = plt.figure(figsize=(9, 8), dpi=dpi)
    # computed_zorder off: drawn in call order, so the lines stay above the bottom map
    ax = fig.add_subplot(projection="3d", computed_zorder=False)
    x, y, z = (cube[c].values for c in ("x", "y", "z"))
    bx, by, bz, lim = _observed_bz(bottom)
    X, Y = np.meshgrid(bx, by, indexing="ij")
    ax.contourf(X, Y, np.clip(np.nan_to_num(bz), -lim, lim), zdir="z", offset=z[0], levels=21,
                cmap="gray", vmin=-lim, vmax=lim, zorder=0)
    for line in reference_lines or []:
        ax.plot(line[:, 0], line[:, 1], line[:, 2], color="tab:orange", lw=0.9, ls="--", zorder=2)
    for line in lines:
        ax.plot(line[:, 0], line[:, 1], line[:, 2], color="tab:blue", lw=1.0, zorder=3)
    ax.set_xlim(x.min(), x.max())
    ax.set_ylim(y.min(), y.max())
    ax.set_zlim(z.min(), z.max())
    ax.set_xlabel("x (west) [Mm]")
    ax.set_ylabel("y (north) [Mm]")
    ax.set_zlabel("z [Mm]")
    try:
        ax.set_box_aspect((np.ptp(x), np.ptp(y), np.ptp(z)))
    except (AttributeError, ValueError):
        pass
    ax.set_title(title or "field lines from the bottom over the observed Bz"
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
    # over less than a decade matplotlib labels the minor ticks too, and they overlap
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
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
    limit = LIMITS["sigma_j"][1]
    ax.axvline(limit, color="gray", ls=":", label=f"{limit:g}: the whole cube's sigma_j check")
    ax.set_xlabel("sigma_j [1]")
    ax.set_title("σ_J per layer")
    ax.legend(fontsize=8)
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


def read_loss(path) -> pandas.DataFrame:
    """The loss history written by ``ffnn train`` (loss.csv)."""
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as err:
        # pandas' messages run over several lines (a C parser's context)
        raise DataError(f"cannot read loss history {path}: {str(err).strip().splitlines()[0]}") from None
    if "iteration" not in table.columns or "loss" not in table.columns:
        raise DataError(f"loss history {path} lacks the columns iteration and loss")
    return table


def loss_figure(history, title: str = "", dpi: int = 110):
    """Total loss and its terms over the training iterations (log scale), wall time on top.

    A term that is never positive is left out: a spline_grid training records
    ``loss_div`` 0 throughout (its field is divergence-free on the grid by construction),
    which a log axis cannot show. The x axis says "iteration" for both optimisers (L-BFGS
    for the tanh network, Adam for spline_grid).
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5), dpi=dpi, constrained_layout=True)
    it = history["iteration"].to_numpy()
    names = {"loss": "total", "loss_bc": "boundary", "loss_potential": "sides and top",
             "loss_div": "divergence", "loss_ff": "force-free"}
    for name, label in names.items():
        if name in history:
            values = history[name].to_numpy(dtype=float)
            positive = np.where(values > 0, values, np.nan)
            if np.isnan(positive).all():
                continue
            ax.semilogy(it, positive, label=label, lw=2.0 if name == "loss" else 1.0)
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss term")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    if "elapsed_s" in history and len(history) > 1:
        t = history["elapsed_s"].to_numpy(dtype=float)
        ax.set_title(title or f"training loss ({it[-1]} iterations, {t[-1]:.0f} s)")
    else:
        ax.set_title(title or "training loss")
    return fig


# ---------------------------------------------------------------- derived products

DERIVED_FIGURE_NAMES = ("twist.png", "log10_q.png", "q_slice.png")


def _footpoint_extent(derived: xr.Dataset):
    xf, yf = derived["x_foot"].values, derived["y_foot"].values
    dx = (xf[1] - xf[0]) / 2 if xf.size > 1 else 0.5
    dy = (yf[1] - yf[0]) / 2 if yf.size > 1 else 0.5
    return [xf[0] - dx, xf[-1] + dx, yf[0] - dy, yf[-1] + dy]


def _observed_contours(ax, bottom: xr.Dataset) -> str:
    """Contours of the observed Bz at +-10 % and +-50 % of its 99.5th percentile."""
    x, y, bz, lim = _observed_bz(bottom)
    levels = [-0.5 * lim, -0.1 * lim, 0.1 * lim, 0.5 * lim]
    ax.contour(x, y, np.nan_to_num(bz).T, levels=levels, colors=["blue", "blue", "red", "red"],
               linewidths=0.6, linestyles="solid")
    return f"observed Bz contours ±{0.1 * lim:.0f}, ±{0.5 * lim:.0f} G (red +, blue -)"


# footpoints whose Tw or Q is undefined (NaN), in a colour outside each map's colour scale
UNDEFINED_COLOUR = "#9ecae1"  # light blue, beside the grey scale of Q
UNDEFINED_COLOURS = {"gray_r": ("light blue", UNDEFINED_COLOUR), "RdBu_r": ("light green", "#b8e186")}
# Q below 2, impossible for a divergence-free field (numerical): never drawn as Q = 2
Q_BELOW_2_COLOUR = "#fd8d3c"  # orange


def _q_colours(plt):
    """The grey scale of log10 Q with undefined values light blue and Q < 2 orange."""
    return plt.get_cmap("gray_r").with_extremes(bad=UNDEFINED_COLOUR, under=Q_BELOW_2_COLOUR)


def _map_figure(derived, bottom, name, cmap, vmin, vmax, label, title, dpi):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=_map_size(bottom), dpi=dpi, constrained_layout=True)
    q = cmap == "gray_r"
    colours = _q_colours(plt) if q else plt.get_cmap(cmap).with_extremes(bad=UNDEFINED_COLOURS[cmap][1])
    im = ax.imshow(derived[name].transpose("x_foot", "y_foot").values.T, origin="lower",
                   extent=_footpoint_extent(derived), vmin=vmin, vmax=vmax, interpolation="nearest",
                   cmap=colours)
    fig.colorbar(im, ax=ax, shrink=0.85, label=label, extend="min" if q else "neither")
    note = _observed_contours(ax, bottom)
    below = "; orange: Q < 2 (numerical)" if q else ""
    _map_axes(ax, bottom, f"{note}; {UNDEFINED_COLOURS[cmap][0]}: undefined{below}")
    ext = _extent(bottom)
    ax.set_xlim(*ext[:2])
    ax.set_ylim(*ext[2:])
    ax.set_title(title)
    return fig


def twist_figure(derived: xr.Dataset, bottom: xr.Dataset, title: str = "", dpi: int = 110):
    """Twist number Tw of the line rooted at each footpoint, over the observed Bz."""
    tw = derived["twist"].values
    # the 99.5th percentile of |Tw|: a few lines in weak field or along null lines reach
    # |Tw| ~ 10 and would wash out the |Tw| ~ 1 of the flux ropes
    lim = max(1.5, float(np.nanpercentile(np.abs(tw), 99.5))) if np.isfinite(tw).any() else 1.5
    return _map_figure(derived, bottom, "twist", "RdBu_r", -lim, lim,
                       "Tw = (1/4π) ∫ α dl  (|Tw| > 1: flux rope)",
                       title or "twist number of the field lines rooted on the bottom", dpi)


def q_figure(derived: xr.Dataset, bottom: xr.Dataset, title: str = "", dpi: int = 110):
    """log10 Q of the line rooted at each footpoint (QSLs: log10 Q > 3), over the observed Bz."""
    return _map_figure(derived, bottom, "log10_q", "gray_r", np.log10(2.0), 5.0,
                       "log10 Q (squashing factor; ≥ log10 2, QSLs > 3)",
                       title or "squashing factor of the field-line mapping (footpoints)", dpi)


def q_slice_figure(derived: xr.Dataset, title: str = "", dpi: int = 110):
    """log10 Q on the vertical x-z slice of the derived products."""
    plt = _pyplot()
    x, z = derived["x_slice"].values, derived["z_slice"].values
    height = float(np.clip(8 * np.ptp(z) / max(np.ptp(x), 1e-9), 2.0, 8.0)) + 1.2
    fig, ax = plt.subplots(figsize=(10, height), dpi=dpi, constrained_layout=True)
    if "log10_q_slice" in derived:
        dx, dz = (x[1] - x[0]) / 2, (z[1] - z[0]) / 2
        im = ax.imshow(derived["log10_q_slice"].transpose("x_slice", "z_slice").values.T, origin="lower",
                       extent=[x[0] - dx, x[-1] + dx, z[0] - dz, z[-1] + dz],
                       cmap=_q_colours(plt), vmin=np.log10(2.0), vmax=5.0, interpolation="nearest",
                       aspect="equal")
        fig.colorbar(im, ax=ax, shrink=0.85, label="log10 Q (light blue: undefined; orange: Q < 2, numerical)",
                     extend="min")
        where = f"y = {float(derived['y_slice']):.3g} Mm"
    else:
        ax.text(0.5, 0.5, "no slice computed", ha="center", va="center", transform=ax.transAxes)
        where = "none"
    ax.set_xlabel("x (west) [Mm]")
    ax.set_ylabel("z [Mm]")
    ax.set_title(title or f"squashing factor on the vertical slice at {where}")
    return fig


def derived_figures(derived: xr.Dataset, bottom: xr.Dataset, out_dir, *, region: str = "",
                    dpi: int = 110) -> list[Path]:
    """Write the figures of the derived products (:data:`DERIVED_FIGURE_NAMES`)."""
    out_dir = Path(out_dir)
    prefix = f"{region}: " if region else ""
    return [
        save_figure(twist_figure(derived, bottom, f"{prefix}twist number Tw of the footpoints' lines", dpi),
                    out_dir / "twist.png"),
        save_figure(q_figure(derived, bottom, f"{prefix}log10 Q of the footpoints' lines", dpi),
                    out_dir / "log10_q.png"),
        save_figure(q_slice_figure(derived, f"{prefix}log10 Q on the vertical slice at y = "
                                   f"{float(derived['y_slice']):.3g} Mm", dpi), out_dir / "q_slice.png"),
    ]


PROFILE_VARIABLES = ("div_free_factor", "force_free_factor", "sigma_j", "energy")


def check_profiles(profiles: xr.Dataset, what: str = "profiles dataset", cube: xr.Dataset | None = None) -> None:
    """DataError unless ``profiles`` holds the height profiles of ``ffnn quality``
    (:data:`PROFILE_VARIABLES` on z), on the heights of ``cube`` when given; ``what`` names
    the file."""
    missing = [v for v in PROFILE_VARIABLES if v not in profiles or profiles[v].dims != ("z",)]
    if missing:
        raise DataError(f"{what} is not a height-profiles file (ffnn quality --profiles): it lacks "
                        f"{', '.join(missing)} on z")
    if cube is not None:
        z, zc = profiles["z"].values.astype(float), cube["z"].values.astype(float)
        if z.shape != zc.shape or not np.allclose(z, zc, rtol=1e-6, atol=1e-9):
            raise DataError(f"{what} is another cube's: its {z.size} heights span [{z.min():g}, {z.max():g}], "
                            f"the cube's {zc.size} [{zc.min():g}, {zc.max():g}]")


def check_map_covers(bottom: xr.Dataset, cube: xr.Dataset, what: str = "bottom map") -> None:
    """DataError unless the bottom map's pixels cover the cube's x, y extent, and reach no
    further than a pixel beyond it.

    The map may be on another grid (a cube coarser than the map: the model's bottom is
    interpolated onto the map's pixels), but a map beside the cube, or much larger than it,
    is another region's or another box's: its figures would compare fields of different
    places."""
    for name in ("x", "y"):
        if name not in bottom.coords or bottom[name].size < 1:
            raise DataError(f"{what} lacks coordinate {name!r}")
        m, c = bottom[name].values.astype(float), cube[name].values.astype(float)
        half = abs(m[1] - m[0]) / 2 if m.size > 1 else 0.0
        lo, hi = m.min() - half, m.max() + half  # the pixels' outer edges
        slack = 1e-6 * max(abs(lo), abs(hi), 2 * half, 1e-9)
        # one map pixel and one cube spacing beyond the cube's outer points: any binning of one box
        reach = 2 * half + (abs(c[1] - c[0]) if c.size > 1 else 0.0) + slack
        if c.min() < lo - slack or c.max() > hi + slack or c.min() - lo > reach or hi - c.max() > reach:
            raise DataError(f"{what} is not the cube's map: its {name} pixels span [{lo:g}, {hi:g}], "
                            f"the cube's {name} [{c.min():g}, {c.max():g}]")


def region_figures(bottom: xr.Dataset, cube: xr.Dataset, profiles: xr.Dataset, history, out_dir,
                   *, reference: xr.Dataset | None = None, region: str = "", lines: int = 30,
                   dpi: int = 110) -> list[Path]:
    """Write the five figures of a region (:data:`FIGURE_NAMES`) into a directory.

    Parameters
    ----------
    bottom : `xarray.Dataset`
        The observed bottom map (Bx, By, Bz in G on x, y in Mm).
    cube : `xarray.Dataset`
        The model cube on the map's x, y grid.
    profiles : `xarray.Dataset`
        Its height profiles (``ffnn quality --profiles``; :class:`ffnn.analysis.checks.TrustChecks`).
    history : path-like or `pandas.DataFrame` or list of dict
        The loss history (``loss.csv``, or ``TrainedModel.history``).
    out_dir : path-like
        The directory for the PNG files.
    reference : `xarray.Dataset`, optional
        A reference field on the same grid (Low & Lou): its field lines drawn beside.
    region : str, optional
        The region's name, in titles and messages.
    lines : int, optional
        Field lines traced from the strongest bottom field. Default 30.
    dpi : int, optional
        Resolution of the PNG files. Default 110.

    Returns
    -------
    list of `pathlib.Path`
        The files written: ``bottom.png``, ``fieldlines_xy.png``, ``fieldlines_3d.png``,
        ``profiles.png``, ``loss.png``.

    Raises
    ------
    ffnn.util.errors.DataError
        When the map does not cover the cube's grid or the profiles are not a profiles
        dataset. All five figures are drawn before the first is written: inputs that
        fail one of them leave no figure behind.
    """
    plt = _pyplot()
    out_dir = Path(out_dir)
    prefix = f"{region}: " if region else ""
    check_map_covers(bottom, cube)
    check_profiles(profiles)
    seeds, sign = seed_points(cube, lines)
    model_lines = trace_field_lines(cube, seeds, sign)
    ref_lines = trace_field_lines(reference, seeds, sign) if reference is not None else None
    makers = {
        "bottom.png": lambda: bottom_figure(bottom, cube, f"{prefix}bottom boundary, observed vs model", dpi),
        "fieldlines_xy.png": lambda: fieldlines_xy_figure(bottom, model_lines, ref_lines,
                                                          f"{prefix}field lines over the observed Bz", dpi),
        "fieldlines_3d.png": lambda: fieldlines_3d_figure(bottom, cube, model_lines, ref_lines,
                                                          f"{prefix}field lines over the observed Bz", dpi),
        "profiles.png": lambda: profiles_figure(profiles, f"{prefix}height profiles", dpi),
        "loss.png": lambda: loss_figure(history, f"{prefix}training loss" if region else "", dpi),
    }
    figures = {}
    try:
        for name in FIGURE_NAMES:
            figures[name] = makers[name]()
    except BaseException:
        for fig in figures.values():
            plt.close(fig)
        raise
    return [save_figure(figures.pop(name), out_dir / name) for name in FIGURE_NAMES]
