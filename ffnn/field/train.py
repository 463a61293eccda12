"""Training: fit the network to boundary data under the force-free and divergence-free loss.

This module trains ``representation: mlp`` (the tanh network below) and hands
``representation: spline_grid`` (B = B_pot + curl A on the cube's grid, the default for
SHARP regions) to :mod:`ffnn.field.gridtrain` (:func:`make_trainer`).

Loss, with derivatives in unit coordinates (the FFNN method paper; see the
documentation's method page):

    f = lambda_bc  sum_boundary w_ic |B_c - B_obs,c|^2 / (m_valid / 3)     (G^2)
      + lambda_div mean_interior w(z) (div B)^2                            (G^2 per unit length^2)
      + lambda_ff  mean_interior w(z) F

with the force-free term F chosen by ``ff_form``:

* ``"angle"`` (the paper's): |J x B|^2 / (|J|^2 |B|^2 + eps), sin^2 of the J-B angle, in [0, 1].
* ``"lorentz"`` (default): |J x B|^2 / (|B|^2 + floor^2), Wiegelmann's weighting, in the same
  units as the divergence term. The angle form is blind to where currents are strong and,
  being dimensionless, is swamped by the G^2 terms until late; measured on Low & Lou case 1
  (32^3, 5x64 net, 500 iterations) the Lorentz form reached E_n' 0.875 against 0.731.

Boundary weights w_ic (:func:`boundary_weights`) say how far each datum is trusted:
observed data 1, a potential field standing in for data (the sides and top above a
magnetogram) ``potential_weight``; with ``bc_errors="component"`` each observed component
by its inverse variance relative to the others (SHARP's Br is measured about three times
better than Bp, Bt); with ``"tolerance"`` residuals within ``error_scale`` sigma are free
(NF2's choice). Observed and potential-field points are drawn afresh, ``n_boundary`` and
``n_potential`` of them, every sample round (``resample_every``), so the cost of an
iteration does not grow with the map.

With ``hold_bottom`` > 0 (the default: 1) the observed bottom map is not fitted but held:
the model is :class:`ffnn.field.model.HeldBottom`, B = w B_obs + (1 - w) N with w = exp(-z/h),
h = ``hold_bottom`` pixel spacings, so the bottom equals the data on every pixel (its flux
exactly) as in the classical codes, and the loss shapes only the volume; the held points
leave the boundary term, and the physics terms are weighted by (1 - w)^2, since the held
layer carries the photosphere's forces and the map's small scales, which no network makes
force-free. A tanh network cannot fit a SHARP map's small-scale mixed field (it missed 11 %
of NOAA 11158's strong-field flux, and E/E_pot fell below 1); held, the case-1 bottom
set-up passes pyAMaFiL at 1.1x its time instead of 3.0x (benchmarks/RESULTS.md "Held
bottom"). ``hold_bottom: 0`` fits the bottom like any other face (the six-face benchmark).

Every term at unit height z may be weighted by (s(z_0)/s(z))^(2 p), p = ``height_weighting``,
where s(z) is the RMS field of the side and top boundary data against height
(:func:`ffnn.field.sampling.height_profile`), so that the weak upper box counts by its relative
error. With six faces of data this pays (Low & Lou case 1, 32^3, 500 iterations: E_m'
0.860 -> 0.927); with a bottom map and potential-field faces it does not: the weak
potential-field faces then dominate the loss and training collapses the field in the
volume (measured on NOAA 11158: E/E_pot 0.66 with p = 1 against 0.85 with p = 0, bottom
C_vec 0.90 against 0.95). The default is p = 0; the six-face benchmark sets 1.

Training runs in phases (:meth:`Trainer.phase`): optionally ``potential_iterations`` fitting
a potential-field cube in the volume; ``warmup_iterations`` in which the physics terms are
scaled by ``warmup_physics_weight`` with only ``warmup_interior`` points (a cheap fit of the
boundary data that the physics phase then corrects; without it the force-free term pulls an
unfitted network towards current-free fields); then the physics phase, whose weight can
grow over ``ramp_iterations``. The physics weight is fixed within each L-BFGS step.

The optimiser is ``torch.optim.LBFGS`` (strong-Wolfe line search) run in *steps* of
``iterations_per_step`` iterations (the last one shortened so that training stops at
``max_iterations``); budgets, progress, history rows and checkpoints are handled between
steps. A checkpoint holds the model, the optimiser state, the history and
the elapsed time, and samples are regenerated from the seed, so a resumed run continues
exactly as the uninterrupted one would. benchmarks/RESULTS.md records the experiments
behind every default.
"""

from __future__ import annotations

import copy
import csv
import ctypes
import ctypes.util
import logging
import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from tqdm import tqdm

from ffnn import __version__
from ffnn.util.errors import ConfigError, DataError, FFNNError
from ffnn.util.files import atomic_write, write_json
from ffnn.io.box import COMPONENTS, UnitBox
from ffnn.field.model import FFNN, HeldBottom, curl_div, describe
from ffnn.util.settings import from_mapping
from ffnn.field.train_settings import settings_docstring
from ffnn.io.wcs import wcs_attrs
from ffnn.field.sampling import (BoundaryArrays, boundary_arrays, grid_of_points, height_profile,
                           height_weights, interior_samples)

log = logging.getLogger(__name__)

BC_ERROR_MODES = ("none", "tolerance", "component")
REPRESENTATIONS = ("mlp", "spline_grid")
RAMP_START = 1e-3  # where the physics ramp starts after a warm-up without physics
EVALUATIONS_PER_ITERATION = 4  # L-BFGS loss evaluations allowed per iteration (line search)
HISTORY_COLUMNS = ("iteration", "evaluations", "elapsed_s", "loss", "loss_bc", "loss_div", "loss_ff")


@dataclass
class TrainConfig:
    # the docstring is built below from ffnn.field.train_settings, the one source of meanings

    representation: str = "mlp"           # "mlp": the tanh network of points; "spline_grid": B = B_pot +
                                           # curl A on the cube's grid (ffnn.field.gridtrain)
    hidden_layers: int = 5
    width: int = 128
    quasi_output: bool = True
    lambda_bc: float = 10.0
    lambda_div: float = 1.0
    lambda_ff: float = 1.0
    ff_eps: float = 1e-12
    ff_form: str = "lorentz"               # "lorentz": |J x B|^2/|B|^2; "angle": sin^2(J, B) (paper)
    field_floor: float = 0.01              # |B| floor of the lorentz term, x RMS of the boundary |B|
    first_layer_scale: float = 2.0         # multiplies the Kaiming start of the first layer
    height_weighting: float = 0.0          # weights (s(0)/s(z))^(2 p) of every term; 1: relative errors
    history_size: int = 100
    n_boundary: int | None = None          # observed boundary points per round (None: all)
    n_potential: int | None = 8192         # potential-field boundary points per round (None: all)
    potential_weight: float = 1.0          # trust in potential-field faces relative to data
    hold_bottom: float = 1.0               # > 0: observed bottom held exactly, blended out over this
                                           # many pixels of height (HeldBottom); 0: fitted as data
    bc_errors: str = "component"           # observed-data errors: "none", "tolerance", "component"
    error_scale: float = 1.0               # tolerance: residuals within error_scale x 1 sigma are free
    n_interior: int = 20_000
    interior_bottom_fraction: float = 0.5  # share of interior points drawn denser near z = 0
    resample_every: int = 0                # iterations between new draws of all points (0: never)
    potential_iterations: int = 0          # first fit the potential field in the volume (needs one)
    warmup_iterations: int = 150           # boundary-dominated start (cheap: few interior points)
    warmup_physics_weight: float = 0.01    # multiplies lambda_div and lambda_ff during the warm-up
    warmup_interior: int = 1000            # interior points during the warm-up
    ramp_iterations: int = 0               # after the warm-up, physics weights grow to 1 over these
    max_iterations: int = 2000
    time_budget_s: float | None = None     # wall clock, summed over resumed runs
    loss_tolerance: float = 0.0
    plateau_iterations: int = 0            # stop when the loss fell by less than plateau_tolerance
    plateau_tolerance: float = 0.01        # (relative) over plateau_iterations (0: no such stop)
    iterations_per_step: int = 10
    checkpoint_every: int = 50             # iterations
    chunk_size: int = 0                    # interior points per pass; 0: 2048 on a CPU, 65536 on a GPU
    dtype: str = "float32"
    device: str = "auto"
    threads: int | None = None
    seed: int = 0
    max_rollbacks: int = 3
    progress: bool = True
    # spline_grid only (ffnn.field.gridtrain): levels of A (knots every 1, 2, ... 2^(n-1) pixels),
    # random start of its coefficients, Adam's step, and the boundary weight's start and decay
    grid_levels: int = 5
    grid_init_std: float = 0.01
    learning_rate: float = 0.05
    learning_rate_final: float = 0.05      # reached geometrically after learning_rate_decay_iterations
    learning_rate_decay_iterations: int = 0
    boundary_weight_start: float = 1000.0
    boundary_decay_iterations: int = 100

    @classmethod
    def from_dict(cls, values: dict | None) -> "TrainConfig":
        """Build from a mapping, rejecting unknown keys and values of the wrong type
        (:func:`ffnn.util.settings.from_mapping`), then :meth:`validate`."""
        cfg = from_mapping(cls, values, "training setting")
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Raise ConfigError naming the first setting out of range."""
        # (setting, passes, what it must be)
        checks = [
            ("hidden_layers", self.hidden_layers >= 1, ">= 1"), ("width", self.width >= 1, ">= 1"),
            ("history_size", self.history_size >= 1, ">= 1"), ("n_interior", self.n_interior >= 1, ">= 1"),
            ("max_iterations", self.max_iterations >= 0, ">= 0"),
            ("iterations_per_step", self.iterations_per_step >= 1, ">= 1"),
            ("checkpoint_every", self.checkpoint_every >= 1, ">= 1"), ("chunk_size", self.chunk_size >= 0, ">= 0"),
            ("dtype", self.dtype in ("float32", "float64"), "float32 or float64"),
            ("ff_form", self.ff_form in ("angle", "lorentz"), "angle or lorentz"),
            ("field_floor", self.field_floor > 0, "> 0"), ("first_layer_scale", self.first_layer_scale > 0, "> 0"),
            ("device", self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:"),
             "auto, cpu, cuda or cuda:N"),
            ("interior_bottom_fraction", 0.0 <= self.interior_bottom_fraction <= 1.0, "in [0, 1]"),
            ("time_budget_s", self.time_budget_s is None or self.time_budget_s > 0, "> 0 or null"),
            ("n_boundary", self.n_boundary is None or self.n_boundary >= 1, ">= 1 or null"),
            ("n_potential", self.n_potential is None or self.n_potential >= 1, ">= 1 or null"),
            ("potential_weight", self.potential_weight >= 0, ">= 0"),
            ("hold_bottom", self.hold_bottom >= 0, ">= 0"),
            ("bc_errors", self.bc_errors in BC_ERROR_MODES, " or ".join(BC_ERROR_MODES)),
            ("error_scale", self.error_scale >= 0, ">= 0"),
            ("resample_every", self.resample_every >= 0, ">= 0"),
            ("warmup_iterations", self.warmup_iterations >= 0, ">= 0"),
            ("potential_iterations", self.potential_iterations >= 0, ">= 0"),
            ("warmup_physics_weight", self.warmup_physics_weight >= 0, ">= 0"),
            ("warmup_interior", self.warmup_interior >= 1, ">= 1"),
            ("ramp_iterations", self.ramp_iterations >= 0, ">= 0"),
            ("height_weighting", 0.0 <= self.height_weighting <= 2.0, "in [0, 2]"),
            ("plateau_iterations", self.plateau_iterations >= 0, ">= 0"),
            ("plateau_tolerance", 0.0 <= self.plateau_tolerance < 1.0, "in [0, 1)"),
            ("seed", self.seed >= 0, ">= 0"), ("threads", self.threads is None or self.threads >= 1, ">= 1 or null"),
            ("ff_eps", self.ff_eps > 0, "> 0"), ("max_rollbacks", self.max_rollbacks >= 0, ">= 0"),
            ("loss_tolerance", self.loss_tolerance >= 0, ">= 0"),
            ("representation", self.representation in REPRESENTATIONS, " or ".join(REPRESENTATIONS)),
            ("grid_levels", self.grid_levels >= 1, ">= 1"), ("grid_init_std", self.grid_init_std >= 0, ">= 0"),
            ("learning_rate", self.learning_rate > 0, "> 0"),
            ("learning_rate_final", self.learning_rate_final > 0, "> 0"),
            ("learning_rate_decay_iterations", self.learning_rate_decay_iterations >= 0, ">= 0"),
            ("boundary_weight_start", self.boundary_weight_start >= 1, ">= 1"),
            ("boundary_decay_iterations", self.boundary_decay_iterations >= 0, ">= 0"),
        ]
        # NaN passes every comparison above unnoticed; inf makes the loss or the budget meaningless
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"training setting {f.name}={value!r} must be a finite number")
        for name, ok, allowed in checks:
            if not ok:
                raise ConfigError(f"training setting {name}={getattr(self, name)!r} is out of range: "
                                  f"it must be {allowed}")
        for name in ("lambda_bc", "lambda_div", "lambda_ff"):
            if getattr(self, name) < 0:
                raise ConfigError(f"training setting {name}={getattr(self, name)!r} must be >= 0")


TrainConfig.__doc__ = settings_docstring(
    "Every training setting: the defaults are the tanh network's, on a CPU budget; the workflow's "
    "config/config.yaml sets the SHARP regions' spline_grid settings.", TrainConfig)


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when present, else the CPU; ``cuda`` without a GPU fails. The device
    is said once, at INFO (a CPU run is no fault: no warning on every run)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
        if name == "cpu":
            log.info("training on the CPU (device auto: no CUDA GPU available)")
            return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={name!r} was requested but no CUDA GPU is available on this node")
    log.info("training on %s", name if name == "cpu" else f"{name} ({torch.cuda.get_device_name(torch.device(name))})")
    return torch.device(name)


def reuse_freed_memory() -> bool:
    """Make glibc keep freed blocks of up to 32 MB for reuse (Linux; True when applied).

    By default glibc returns blocks above 128 kB to the OS on free, so each of the hot
    path's megabyte-sized temporaries is page-faulted in afresh: measured on the case-1
    network, an elementwise op on a fresh tensor took ten times as long as in place, and a
    loss-and-gradient evaluation 15 % longer. Freed memory stays with the process instead
    (its peak is what training needs anyway).
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20) and libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30))
    except (OSError, AttributeError):  # not glibc: nothing to tune
        return False


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters in glibc's malloc.h


@dataclass
class Samples:
    """Tensors the loss is evaluated on in one sample round.

    Boundary points: unit coordinates ``boundary_xyz`` (m, 3), targets ``boundary_target``
    (m, 3) in G, per-component loss weights ``boundary_weight`` (m, 3) (0 where masked;
    height weight x trust x error weight) and free residuals ``boundary_tolerance`` (m, 3)
    in G; ``boundary_count``: the number of valid components / 3 (the term's normaliser).
    Interior points: ``interior_xyz`` (n, 3) and their height weights ``interior_weight`` (n,).
    """

    boundary_xyz: torch.Tensor
    boundary_target: torch.Tensor
    boundary_weight: torch.Tensor
    boundary_tolerance: torch.Tensor
    boundary_count: float
    interior_xyz: torch.Tensor
    interior_weight: torch.Tensor


@dataclass
class TrainResult:
    """What a finished (or stopped) training run left behind."""

    model: FFNN
    history: list[dict]
    stop_reason: str
    elapsed_s: float
    rollbacks: int = 0
    meta: dict = field(default_factory=dict)
    trained: bool = True  # False: a resumed run that had already stopped (nothing changed)


def initial_scale(target: np.ndarray, mask: np.ndarray) -> tuple[list[float], list[float]]:
    """Start of the diagonal output layer: per-component RMS (G) of the boundary data, shift 0."""
    scale = []
    for c in range(3):
        vals = target[mask[:, c], c]
        rms = float(np.sqrt(np.mean(vals ** 2))) if vals.size else 1.0
        scale.append(rms if rms > 0 else 1.0)
    return scale, [0.0, 0.0, 0.0]


def _subset(idx: np.ndarray, n: int | None, rng: np.random.Generator) -> np.ndarray:
    """``n`` of the indices ``idx`` drawn without replacement, sorted (all when n is None)."""
    if n is None or idx.size <= n:
        return idx
    return np.sort(rng.choice(idx, size=n, replace=False))


def boundary_weights(bd: BoundaryArrays, profile, config: TrainConfig) -> np.ndarray:
    """Per-component loss weights (m, 3) of the boundary points, dimensionless.

    The product of: the mask (0 for a missing component); the height weight of
    :func:`ffnn.field.sampling.height_weights`; ``potential_weight`` on potential-field points;
    and, with ``bc_errors="component"``, each observed component's inverse variance
    relative to the others, from their median errors: w_c = 3 sigma_c^-2 / sum_k sigma_k^-2
    (mean 1 over the components). SHARP's Bz (Br) is measured about three times better
    than the transverse field, so the normal component, which carries the flux, counts
    about seven times more; when only some components have error data, all count equally (logged
    as a warning). (Per-pixel inverse variances were measured worse on NOAA
    11158: weak-field pixels have the smallest errors and took the fit from the spots.)
    """
    w = bd.mask * height_weights(bd.xyz[:, 2], profile, config.height_weighting)[:, None]
    w = w * np.where(bd.potential, config.potential_weight, 1.0)[:, None]
    if config.bc_errors == "component":
        known = np.isfinite(bd.error) & (bd.error > 0) & ~bd.potential[:, None]
        if known.any(axis=0).all():
            inv = np.array([np.median(bd.error[known[:, c], c]) ** -2.0 for c in range(3)])
            w[~bd.potential] *= 3 * inv / inv.sum()
        elif known.any():  # no errors at all (a benchmark field) is no surprise
            lacking = [c for c, k in zip(("Bx", "By", "Bz"), known.any(axis=0)) if not k]
            log.warning("bc_errors 'component': the observed boundary data carry no errors of %s; "
                        "the components count equally", ", ".join(lacking))
    return w


def hold_observed_bottom(net: FFNN, bd: BoundaryArrays, box: UnitBox,
                         pixels: float) -> tuple[HeldBottom, np.ndarray]:
    """The observed bottom map of ``bd`` held under ``net`` (:class:`ffnn.field.model.HeldBottom`),
    blended out over ``pixels`` pixel spacings of height; and the mask (m,) of the boundary
    points it holds, which the boundary term then leaves out (their residual is 0).

    Components missing in the map, and pixels of the box without data (at its edges too),
    are held at 0 G (logged), as the potential field counts them. Raises ConfigError when the
    data have no observed bottom on a regular grid.
    """
    on = ~bd.potential & np.isclose(bd.xyz[:, 2], 0.0, atol=1e-9)
    axes = [np.unique(np.round(bd.xyz[on, k], 9)) for k in (0, 1)]
    if not on.any() or min(a.size for a in axes) < 3:
        raise ConfigError("training setting hold_bottom needs an observed bottom map of at least 3 x 3 pixels; "
                          "these boundary data have none")
    # a column without data is a gap of two steps, not a step: the step is the smallest
    # difference, made exact over the whole axis (a mean of pixel steps, as the map's own)
    spacing = [float((a[-1] - a[0]) / np.rint((a[-1] - a[0]) / np.diff(a).min())) for a in axes]
    if not all(np.allclose(np.diff(a) / d, np.rint(np.diff(a) / d), atol=1e-4) for a, d in zip(axes, spacing)):
        raise ConfigError("training setting hold_bottom needs the observed bottom on a regular grid")
    # the held map spans the whole box: pixels without data, at its edges too, are held at
    # 0 G as the potential field counts them, never the nearest observed pixel carried out
    lo, hi = box.unit_bounds()
    axes = [a[0] + d * np.arange(np.rint((min(lo[k], a[0]) - a[0]) / d), np.rint((max(hi[k], a[-1]) - a[0]) / d) + 1)
            for k, (a, d) in enumerate(zip(axes, spacing))]
    i, j = (np.rint((bd.xyz[on, k] - axes[k][0]) / spacing[k]).astype(int) for k in (0, 1))
    bottom = np.zeros((3, axes[0].size, axes[1].size))
    bottom[:, i, j] = np.where(bd.mask[on], bd.target[on], 0.0).T
    gaps = bottom.size - int(bd.mask[on].sum())
    if gaps:
        log.warning("held bottom: %d of %d map values have no data and are held at 0 G", gaps, bottom.size)
    model = HeldBottom(net, bottom, (axes[0][0], axes[1][0]), spacing, pixels * min(spacing))
    return model.to(next(net.parameters()).device), on


class Checkpoints:
    """``checkpoint.pt`` and ``loss.csv`` in ``out_dir``, for either trainer: each gives
    ``_state()`` (what to save) and ``_restore(state)``; a checkpoint made with other settings
    than the resumable ones (:data:`_RESUMABLE`) is refused."""

    def save_checkpoint(self) -> None:
        """Write ``checkpoint.pt`` and ``loss.csv`` atomically."""
        if self.out_dir is None:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        _atomic_torch_save(self._state(), self.out_dir / "checkpoint.pt")
        write_history(self.history, self.out_dir / "loss.csv")

    def try_resume(self) -> bool:
        """Load ``checkpoint.pt`` from ``out_dir`` if present; True when resumed."""
        path = self.out_dir / "checkpoint.pt" if self.out_dir else None
        if path is None or not path.exists():
            return False
        try:
            state = torch.load(path, map_location=self.device, weights_only=False)
        except Exception as err:  # a corrupt checkpoint must not be silently reused
            raise DataError(f"checkpoint {path} cannot be read ({err}); delete it to start afresh") from err
        saved = {k: v for k, v in state["config"].items() if k not in _RESUMABLE}
        now = {k: v for k, v in asdict(self.config).items() if k not in _RESUMABLE}
        if saved != now:
            diff = sorted(k for k in now if saved.get(k) != now[k])
            raise ConfigError(f"checkpoint {path} was made with other settings ({', '.join(diff)}); "
                              "delete it or restore the settings")
        self._restore(state)
        log.info("resumed from %s at iteration %d (%.0f s done)", path, self.iteration, self.elapsed_s)
        return True


class Trainer(Checkpoints):
    """Fits an :class:`FFNN` to boundary points (see :mod:`ffnn.field.boundary`).

    ``out_dir`` receives ``checkpoint.pt`` (resumable state), ``loss.csv`` (history) and,
    at the end, ``model.pt``. Construct, then call :meth:`fit`.
    """

    def __init__(self, boundary: xr.Dataset, config: TrainConfig, out_dir=None, init_model=None,
                 potential: xr.Dataset | None = None):
        config.validate()
        if config.representation != "mlp":
            # it would train the tanh network under a record that names another representation
            raise ConfigError(f"Trainer trains representation mlp, not {config.representation!r}: "
                              "use make_trainer, which picks the trainer of the representation")
        self.config = config
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.box = UnitBox.from_attrs(boundary.attrs)
        self.wcs = wcs_attrs(boundary.attrs)
        self.preprocessing = boundary.attrs.get("preprocessing")  # the bottom map was changed
        self.grid = grid_of_points(boundary)
        self.device = resolve_device(config.device)
        if self.device.type == "cpu":
            reuse_freed_memory()
        self.dtype = getattr(torch, config.dtype)
        if config.threads:
            torch.set_num_threads(int(config.threads))
        self.boundary = boundary_arrays(boundary, self.box)
        self.potential = None
        if potential is not None and config.potential_iterations:
            self.potential = (tuple(potential[c].values for c in ("x", "y", "z")),
                              np.stack([potential[c].transpose("x", "y", "z").values for c in COMPONENTS]))
        bd = self.boundary
        self._profile = height_profile(bd.xyz, bd.target, bd.mask)
        self._boundary_weight = boundary_weights(bd, self._profile, config)
        self._boundary_tolerance = np.where(
            np.isfinite(bd.error) & ~bd.potential[:, None] & (config.bc_errors == "tolerance"),
            config.error_scale * np.nan_to_num(bd.error), 0.0)
        tb, mb = bd.target, bd.mask
        scale, shift = initial_scale(tb, mb)
        torch.manual_seed(config.seed)
        self.net = FFNN(config.hidden_layers, config.width, config.quasi_output, scale, shift).to(
            self.device, self.dtype)
        with torch.no_grad():
            self.net.hidden[0].weight.mul_(config.first_layer_scale)
        self.model, self._held = self.net, np.zeros(len(bd), dtype=bool)
        if config.hold_bottom > 0:
            self.model, self._held = hold_observed_bottom(self.net, bd, self.box, config.hold_bottom)
        self.init_model = None
        if init_model is not None:
            self._start_from(init_model)
        # keeps |J x B|^2/|B|^2 finite at null points without changing it where B is not tiny
        self._floor2 = config.field_floor ** 2 * float((tb ** 2).sum(1).mean())

        self.samples = self._make_samples(0)
        self.optimizer = self._make_optimizer()
        self.history: list[dict] = []
        self.elapsed_s = 0.0
        self.rollbacks = 0
        self._round = 0
        self._base_iterations = self._base_evaluations = 0
        self._last_checkpoint = 0
        self._record = False
        self._last_terms: dict | None = None
        self._step_physics: float | None = None

    def _start_from(self, path) -> None:
        """Start from the weights of a saved model (a warm start, e.g. the previous snapshot
        of a time series); its architecture must be this configuration's."""
        model, meta = load_model(path, device=str(self.device))
        theirs = {k: meta["config"].get(k) for k in ARCHITECTURE_KEYS}
        ours = {k: getattr(self.config, k) for k in ARCHITECTURE_KEYS}
        if theirs != ours:
            diff = ", ".join(f"{k} {theirs[k]} vs {ours[k]}" for k in ARCHITECTURE_KEYS if theirs[k] != ours[k])
            raise ConfigError(f"cannot start from {path}: its network differs ({diff})")
        with torch.no_grad():  # the network's weights; a held bottom is this data's own
            state = getattr(model, "net", model).state_dict()
            self.net.load_state_dict({k: v.to(self.dtype) for k, v in state.items()})
        self.init_model = str(path)
        log.info("starting from the weights of %s", path)

    # -- samples and optimiser -------------------------------------------------------------
    def _tensor(self, a) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a), dtype=self.dtype, device=self.device)

    def _phases(self) -> list[tuple[str, int]]:
        """The starting phases and their lengths in iterations, before the physics phase."""
        cfg, out = self.config, []
        if self.potential is not None:
            out.append(("potential", cfg.potential_iterations))
        if cfg.warmup_iterations > 0:
            out.append(("warmup", cfg.warmup_iterations))
        return out

    def _starting_iterations(self) -> int:
        """Iterations of the starting phases together: where the physics phase begins."""
        return sum(length for _, length in self._phases())

    def phase(self, round_index: int | None = None) -> str:
        """``potential`` (fitting the potential field), ``warmup`` or ``physics``."""
        phases = self._phases()
        r = self._round if round_index is None else round_index
        return phases[r][0] if r < len(phases) else "physics"

    def _make_samples(self, round_index: int) -> Samples:
        cfg, bd = self.config, self.boundary
        rng = np.random.default_rng([cfg.seed, 1, round_index])
        phase = self.phase(round_index)
        n = cfg.n_interior if phase == "physics" else cfg.warmup_interior
        xi = interior_samples(self.box, n, rng, cfg.interior_bottom_fraction)
        wi = height_weights(xi[:, 2], self._profile, cfg.height_weighting)
        if isinstance(self.model, HeldBottom):  # the physics is asked above the held layer
            wi = wi * self.model.physics_weight(xi[:, 2])
        if phase == "potential":
            xyz, target = self._potential_samples(cfg.n_interior, rng)
            weight = np.repeat(height_weights(xyz[:, 2], self._profile, cfg.height_weighting)[:, None], 3, 1)
            return Samples(self._tensor(xyz), self._tensor(target), self._tensor(weight),
                           self._tensor(np.zeros_like(target)), float(len(xyz)), self._tensor(xi), self._tensor(wi))
        pick = np.concatenate([_subset(np.flatnonzero(~bd.potential & ~self._held), cfg.n_boundary, rng),
                               _subset(np.flatnonzero(bd.potential), cfg.n_potential, rng)])
        weight = self._boundary_weight[pick]
        return Samples(self._tensor(bd.xyz[pick]), self._tensor(bd.target[pick]), self._tensor(weight),
                       self._tensor(self._boundary_tolerance[pick]), max(float(bd.mask[pick].sum()) / 3, 1.0),
                       self._tensor(xi), self._tensor(wi))

    def _potential_samples(self, n: int, rng: np.random.Generator):
        """``n`` grid points of the potential-field cube (unit coordinates (n, 3)) and its
        field there (n, 3), G; heights drawn denser near the bottom like interior points."""
        (x, y, z), field = self.potential
        u = interior_samples(UnitBox(0, 1, 0, 1, 0, 1), n, rng, self.config.interior_bottom_fraction)
        i, j = (np.minimum((u[:, k] * n_).astype(int), n_ - 1) for k, n_ in ((0, x.size), (1, y.size)))
        k = np.minimum((u[:, 2] * z.size).astype(int), z.size - 1)
        return self.box.to_unit(x[i], y[j], z[k]), field[:, i, j, k].T

    def _make_optimizer(self) -> torch.optim.LBFGS:
        k = self.config.iterations_per_step
        return torch.optim.LBFGS(self.model.parameters(), lr=1.0, max_iter=k,
                                 max_eval=k * EVALUATIONS_PER_ITERATION, history_size=self.config.history_size,
                                 tolerance_grad=0.0,
                                 tolerance_change=0.0, line_search_fn="strong_wolfe")

    # -- loss --------------------------------------------------------------------------------
    def loss_terms(self, backward: bool = True) -> dict:
        """Evaluate the loss terms (floats) and, with ``backward``, accumulate parameter gradients.

        Interior points go through in chunks of ``chunk_size`` so memory stays bounded (on a
        CPU, small chunks keep each layer's temporaries in cache: measured fastest at 2048).
        """
        cfg, s = self.config, self.samples
        # fixed within an L-BFGS step: its line search needs one objective
        physics = self._step_physics if self._step_physics is not None else self.physics_weight()
        lam_div, lam_ff = cfg.lambda_div * physics, cfg.lambda_ff * physics
        cpu = self.device.type == "cpu"
        bc = div_sum = ff_sum = 0.0
        with torch.set_grad_enabled(backward):
            # forward passes only: larger chunks than the interior's Jacobian passes
            step = 4 * (cfg.chunk_size or (2048 if cpu else 65536))
            for start in range(0, s.boundary_xyz.shape[0], step):
                sl = slice(start, start + step)
                r = self.model(s.boundary_xyz[sl]) - s.boundary_target[sl]
                if cfg.bc_errors == "tolerance":
                    r = torch.sign(r) * torch.relu(r.abs() - s.boundary_tolerance[sl])
                term = (r * r * s.boundary_weight[sl]).sum() / s.boundary_count
                if backward:
                    (cfg.lambda_bc * term).backward()
                bc += float(term.detach())
            n = s.interior_xyz.shape[0] if physics > 0 else 0
            step = cfg.chunk_size or (2048 if cpu else 65536)
            for start in range(0, n, step):
                b, jac = self.model.field_and_jacobian(s.interior_xyz[start:start + step])
                w = s.interior_weight[start:start + step]
                curl, div = curl_div(jac)
                b2 = (b * b).sum(1)
                d = (div * div * w).sum() / n
                jxb = torch.linalg.cross(curl, b, dim=1)
                if cfg.ff_form == "angle":
                    f = ((jxb * jxb).sum(1) / ((curl * curl).sum(1) * b2 + cfg.ff_eps) * w).sum() / n
                else:
                    f = ((jxb * jxb).sum(1) / (b2 + self._floor2) * w).sum() / n
                if backward:
                    (lam_div * d + lam_ff * f).backward()
                div_sum += float(d.detach())
                ff_sum += float(f.detach())
        total = cfg.lambda_bc * bc + lam_div * div_sum + lam_ff * ff_sum
        return {"loss": total, "loss_bc": bc, "loss_div": div_sum, "loss_ff": ff_sum}

    def physics_weight(self) -> float:
        """Factor on the divergence and force-free terms now: ``warmup_physics_weight``
        in the warm-up, then growing geometrically to 1 over ``ramp_iterations`` (a
        continuation: the boundary fit is kept while the physics is switched on)."""
        cfg = self.config
        phase = self.phase()
        if phase != "physics":
            return cfg.warmup_physics_weight if phase == "warmup" else 0.0
        done = self.iteration - self._starting_iterations()
        if cfg.ramp_iterations <= 0 or done >= cfg.ramp_iterations:
            return 1.0
        start = cfg.warmup_physics_weight or RAMP_START
        return start ** (1.0 - max(done, 0) / cfg.ramp_iterations)

    def _closure(self):
        self.optimizer.zero_grad(set_to_none=False)
        terms = self.loss_terms(backward=True)
        if self._record:
            self._last_terms, self._record = terms, False
        return torch.tensor(terms["loss"], dtype=self.dtype)

    # -- checkpoints ---------------------------------------------------------------------------
    def _state(self) -> dict:
        return {"model": copy.deepcopy(self.model.state_dict()),
                "optimizer": copy.deepcopy(self.optimizer.state_dict()),
                "history": list(self.history), "elapsed_s": self.elapsed_s, "round": self._round,
                "base": (self._base_iterations, self._base_evaluations),
                "rollbacks": self.rollbacks, "config": asdict(self.config), "version": __version__}

    def _restore(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self._round = state["round"]
        self.samples = self._make_samples(self._round)
        self.optimizer = self._make_optimizer()
        self.optimizer.load_state_dict(state["optimizer"])
        self.history = list(state["history"])
        self.elapsed_s = state["elapsed_s"]
        self._base_iterations, self._base_evaluations = state["base"]
        self._last_checkpoint = self.iteration
        self.rollbacks = state.get("rollbacks", 0)

    # -- the loop ------------------------------------------------------------------------------
    def _lbfgs_state(self) -> dict:
        return self.optimizer.state.get(self.optimizer.param_groups[0]["params"][0], {})

    @property
    def iteration(self) -> int:
        """L-BFGS iterations done so far, over every optimiser restart."""
        return self._base_iterations + self._lbfgs_state().get("n_iter", 0)

    def _evaluations(self) -> int:
        return self._base_evaluations + self._lbfgs_state().get("func_evals", 0)

    def _restart_optimizer(self) -> None:
        self._base_iterations, self._base_evaluations = self.iteration, self._evaluations()
        self.optimizer = self._make_optimizer()

    def _stop_reason(self, loss: float) -> str | None:
        cfg = self.config
        if self.iteration >= cfg.max_iterations:
            return "max_iterations"
        if cfg.time_budget_s is not None and self.elapsed_s >= cfg.time_budget_s:
            return "time_budget"
        if loss <= cfg.loss_tolerance:
            return "loss_tolerance"
        if cfg.plateau_iterations:
            # best loss up to plateau_iterations ago, past the starting phases and the physics
            # ramp (their physics terms are scaled down, so their losses are not comparable);
            # with resample_every the rounds' samples differ too, so a plateau is then judged
            # across sample sets
            settled = self._starting_iterations() + cfg.ramp_iterations
            earlier = [h["loss"] for h in self.history
                       if settled < h["iteration"] <= self.iteration - cfg.plateau_iterations]
            if earlier and loss > (1.0 - cfg.plateau_tolerance) * min(earlier):
                return "plateau"
        return None

    def fit(self, resume: bool = True, callback=None) -> TrainResult:
        """Train until an iteration, time or loss limit; returns the result.

        ``callback(trainer)`` runs after every step (e.g. to evaluate metrics on the way).
        """
        cfg = self.config
        if resume and self.out_dir is not None:
            self.try_resume()
        reason = self._stop_reason(self.history[-1]["loss"]) if self.history else None
        if reason:
            log.info("training already stopped (%s) at iteration %d: nothing to do", reason, self.iteration)
            result = self._result(reason)
            result.trained = False
            return result
        self._check_start()
        good = self._state()
        bar = tqdm(total=cfg.max_iterations, initial=min(self.iteration, cfg.max_iterations),
                   disable=not cfg.progress, desc="train", unit="it", mininterval=2.0)
        started, first_iteration = self.elapsed_s, self.iteration
        reason = "max_iterations" if self.iteration >= cfg.max_iterations else None
        while not reason:
            t0 = time.perf_counter()
            self._record = True
            self._maybe_resample()
            self._step_physics = self.physics_weight()
            # the last step takes only the iterations left: training stops at max_iterations
            group = self.optimizer.param_groups[0]
            group["max_iter"] = min(cfg.iterations_per_step, cfg.max_iterations - self.iteration)
            group["max_eval"] = EVALUATIONS_PER_ITERATION * group["max_iter"]
            try:
                self.optimizer.step(self._closure)
                crashed = False
            except (IndexError, RuntimeError) as err:
                # torch's strong-Wolfe search fails this way when every trial step is NaN
                log.debug("L-BFGS step failed: %s", err)
                crashed = True
            finally:
                self._step_physics = None
            terms = self._last_terms
            self.elapsed_s += time.perf_counter() - t0
            finite = not crashed and terms is not None and math.isfinite(terms["loss"]) and all(
                bool(torch.isfinite(p).all()) for p in self.model.parameters())
            if not finite:
                self._rollback(good)
                continue
            row = {"iteration": self.iteration, "evaluations": self._evaluations(),
                   "elapsed_s": round(self.elapsed_s, 3), **terms}
            self.history.append(row)
            bar.n = min(self.iteration, cfg.max_iterations)
            bar.set_postfix(loss=f"{terms['loss']:.3g}", bc=f"{terms['loss_bc']:.3g}",
                            div=f"{terms['loss_div']:.3g}", ff=f"{terms['loss_ff']:.3g}", refresh=False)
            bar.update(0)
            if not cfg.progress:
                self._log_step(terms, started, first_iteration)
            if callback is not None:
                callback(self)
            reason = self._stop_reason(terms["loss"])
            if reason or self.iteration >= self._last_checkpoint + cfg.checkpoint_every:
                self._last_checkpoint = self.iteration
                self.save_checkpoint()
                good = self._state()
        bar.close()
        return self._result(reason)

    def _result(self, reason: str) -> TrainResult:
        final = self.loss_terms(backward=False)
        log.info("training stopped (%s) after %d iterations, %.1f s: loss %.4g (bc %.4g, div %.4g, ff %.4g)",
                 reason, self.iteration, self.elapsed_s, final["loss"], final["loss_bc"],
                 final["loss_div"], final["loss_ff"])
        return TrainResult(self.model, self.history, reason, self.elapsed_s, self.rollbacks,
                           self.metadata(final, reason))

    def _log_step(self, terms: dict, started: float, first_iteration: int) -> None:
        """One log line per step: progress, the loss terms, speed and time left."""
        cfg = self.config
        rate = (self.iteration - first_iteration) / max(self.elapsed_s - started, 1e-9)
        left = []
        if cfg.time_budget_s is not None:
            left.append(cfg.time_budget_s - self.elapsed_s)
        if rate > 0:
            left.append((cfg.max_iterations - self.iteration) / rate)
        log.info("iteration %d: loss %.4g (bc %.4g G2, div %.4g, ff %.4g; physics x%.3g), %.0f s, "
                 "%.2f it/s, %s left", self.iteration, terms["loss"], terms["loss_bc"], terms["loss_div"],
                 terms["loss_ff"], self.physics_weight(), self.elapsed_s, rate,
                 f"{max(min(left), 0):.0f} s" if left else "unknown")

    def _check_start(self) -> None:
        """Refuse a start whose loss is not finite, naming the cause, before any step."""
        terms = self.loss_terms(backward=False)
        if all(math.isfinite(v) for v in terms.values()):
            return
        worst = float(np.abs(self.boundary.target).max())
        raise DataError(f"the loss is not finite before training starts (boundary term {terms['loss_bc']:.3g}, "
                        f"largest boundary value {worst:.3g} G): check the boundary data for "
                        "unphysical values or units")

    def _round_end(self) -> int | None:
        """Iteration at which the current sample round ends (None: never)."""
        cfg, phases = self.config, self._phases()
        if self._round < len(phases):
            return sum(length for _, length in phases[:self._round + 1])
        if not cfg.resample_every:
            return None
        start = sum(length for _, length in phases)
        return start + (self._round - len(phases) + 1) * cfg.resample_every

    def _maybe_resample(self) -> None:
        end = self._round_end()
        if end is not None and self.iteration >= end:
            self._round += 1
            self.samples = self._make_samples(self._round)
            self._restart_optimizer()

    def _rollback(self, good: dict) -> None:
        self.rollbacks += 1
        it = good["history"][-1]["iteration"] if good["history"] else 0
        log.warning("non-finite loss or weights after iteration %d: rolled back to iteration %d "
                    "and reset the L-BFGS history (rollback %d of %d)", self.iteration, it,
                    self.rollbacks, self.config.max_rollbacks)
        rollbacks = self.rollbacks
        self._restore(good)
        self.rollbacks = rollbacks
        self._restart_optimizer()
        if self.rollbacks >= self.config.max_rollbacks:
            kept = (f"the checkpoint keeps iteration {self._last_checkpoint}"
                    if self.out_dir is not None and (self.out_dir / "checkpoint.pt").exists()
                    else "no checkpoint was written")
            raise FFNNError(f"training diverged (non-finite loss) {self.rollbacks} times after iteration {it} "
                            f"({kept}); try dtype float64 or a longer warm-up")

    def metadata(self, final: dict, reason: str | None) -> dict:
        """Everything needed to rebuild and document the model."""
        return {"version": __version__, "config": asdict(self.config), "box": asdict(self.box),
                "grid": {k: np.asarray(v).tolist() for k, v in zip("xyz", self.grid)},
                "final": final, "stop_reason": reason, "iterations": self.iteration,
                "elapsed_s": self.elapsed_s, "rollbacks": self.rollbacks,
                "architecture": describe(self.model), "device": str(self.device),
                "threads": torch.get_num_threads(), "wcs": self.wcs, "init_model": self.init_model,
                "preprocessing": self.preprocessing}


ARCHITECTURE_KEYS = ("hidden_layers", "width", "quasi_output")
_RESUMABLE = {"max_iterations", "time_budget_s", "loss_tolerance", "checkpoint_every", "device",
              "threads", "progress", "max_rollbacks", "chunk_size", "plateau_iterations",
              "plateau_tolerance"}


def _atomic_torch_save(obj, path: Path) -> None:
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def write_history(history: list[dict], path) -> None:
    """Write the loss history as CSV (columns :data:`HISTORY_COLUMNS`), atomically."""
    def write(tmp):
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=HISTORY_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(history)

    atomic_write(path, write)


def save_model(result: TrainResult, path) -> None:
    """Save the trained model and its metadata (``model.pt``; see :func:`load_model`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_torch_save({"state_dict": result.model.state_dict(), "meta": result.meta}, path)


def load_model(path, device: str = "cpu") -> tuple[FFNN | HeldBottom, dict]:
    """Rebuild a model saved by :func:`save_model`; returns (model in eval mode, metadata)."""
    try:
        blob = torch.load(path, map_location=device, weights_only=False)
        meta = blob["meta"]
    except Exception as err:
        raise DataError(f"cannot read model file {path}: {err}") from err
    cfg, state = meta["config"], blob["state_dict"]
    if cfg.get("representation") == "spline_grid":
        from ffnn.field.gridfield import GridField

        model = GridField.for_state(state).to(device)
        model.load_state_dict(state)
        return model.eval(), meta
    held = "net.head.weight" in state
    model = FFNN(cfg["hidden_layers"], cfg["width"], cfg["quasi_output"]).to(
        state["net.head.weight" if held else "head.weight"].dtype)
    if held:
        model = HeldBottom.for_state(model, state)
    model.load_state_dict(state)
    return model.eval(), meta


def make_trainer(boundary: xr.Dataset, config: TrainConfig, out_dir=None, init_model=None,
                 potential: xr.Dataset | None = None):
    """The trainer of ``config.representation``: :class:`Trainer` (mlp) or
    :class:`ffnn.field.gridtrain.GridTrainer` (spline_grid, which needs ``potential``)."""
    if config.representation == "spline_grid":
        from ffnn.field.gridtrain import GridTrainer

        return GridTrainer(boundary, config, out_dir, init_model=init_model, potential=potential)
    return Trainer(boundary, config, out_dir, init_model=init_model, potential=potential)


def train(boundary: xr.Dataset, config: TrainConfig, out_dir, resume: bool = True,
          callback=None, init_model=None, potential: xr.Dataset | None = None) -> TrainResult:
    """Train on ``boundary`` points, writing checkpoint, ``loss.csv``, ``model.pt`` and
    ``train.json`` (settings, final loss terms, wall time) into ``out_dir``.

    ``init_model``: a ``model.pt`` of the same architecture to start from instead of a
    random start (a checkpoint in ``out_dir``, when resuming, still wins)."""
    out_dir = Path(out_dir)
    trainer = make_trainer(boundary, config, out_dir, init_model=init_model, potential=potential)
    result = trainer.fit(resume=resume, callback=callback)
    if not result.trained and all((out_dir / name).exists() for name in ("model.pt", "train.json")):
        return result  # a finished training: its files stay as they are
    trainer.save_checkpoint()
    save_model(result, out_dir / "model.pt")
    write_json(result.meta | {"grid": None}, out_dir / "train.json")
    return result

