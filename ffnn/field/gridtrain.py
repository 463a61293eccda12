"""Training of the grid representation (:class:`ffnn.field.gridfield.GridField`), the
default for SHARP regions (``representation: spline_grid``).

The loss is taken on every node of the cube's grid with the finite differences the metrics
use (:func:`ffnn.field.gridfield.curl`), fields in units of b0 (the RMS of the observed
bottom |B|) and lengths in pixels:

    f = lambda_ff mean_{z > 0} |J x B|^2 / (|B|^2 + floor^2)               (J = curl_h B)
      + w(i) [ lambda_bc mean_bottom sum_c w_c (B_c - B_obs,c)^2
               + potential_weight mean_sides,top |B - B_pot|^2 ]

B = B_pot + curl_h A is divergence-free on the grid by construction (no divergence term).
w(i) falls geometrically from ``boundary_weight_start`` to 1 over
``boundary_decay_iterations`` iterations and stays there (a boundary-dominated start relaxing
towards the physics, as NF2's), so training is iteration-bound: the same settings give the
same field. w_c are the ``bc_errors`` component weights of :func:`ffnn.field.train.boundary_weights`
(Br counted by its smaller error). The optimiser is Adam (``learning_rate``, optionally falling
geometrically to ``learning_rate_final``), whose
per-coefficient steps suit the spline levels' different scales; checkpoints, resume,
history, budgets and the callback work as in :class:`ffnn.field.train.Trainer`.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from ffnn import __version__
from ffnn.field.gridfield import GridField, curl, describe_grid, divergence, lorentz_term
from ffnn.field.sampling import boundary_arrays, grid_of_points
from ffnn.io.box import COMPONENTS, UnitBox
from ffnn.io.wcs import wcs_attrs
from ffnn.util.errors import ConfigError, DataError
from ffnn.field.train import Checkpoints

log = logging.getLogger(__name__)


def bottom_on_grid(points: xr.Dataset, x, y):
    """The observed bottom of boundary ``points`` on the grid ``x``, ``y`` (Mm): target
    (3, nx, ny) in G (0 where missing), mask (3, nx, ny) and 1-sigma errors (3, nx, ny)
    (NaN where unknown). Raises ConfigError when the points hold no observed bottom on
    that grid."""
    box = UnitBox.from_attrs(points.attrs)
    bd = boundary_arrays(points, box)
    on = ~bd.potential & np.isclose(bd.xyz[:, 2], 0.0, atol=1e-9)
    dx, dy = float(x[1] - x[0]), float(y[1] - y[0])
    px, py = (bd.xyz[on, k] * box.l0 + box.centre[k] for k in (0, 1))
    i, j = np.rint((px - x[0]) / dx).astype(int), np.rint((py - y[0]) / dy).astype(int)
    inside = (i >= 0) & (i < len(x)) & (j >= 0) & (j < len(y))
    on_nodes = inside.all() and np.allclose(x[i], px, atol=1e-3 * dx) and np.allclose(y[j], py, atol=1e-3 * dy)
    if not on.any() or not on_nodes:
        raise ConfigError("representation spline_grid needs an observed bottom map on the potential field's "
                          "x, y grid; these boundary data have none")
    target, mask, error = np.zeros((3, len(x), len(y))), np.zeros((3, len(x), len(y)), bool), \
        np.full((3, len(x), len(y)), np.nan)
    target[:, i, j], mask[:, i, j], error[:, i, j] = bd.target[on].T, bd.mask[on].T, bd.error[on].T
    return target, mask, error


def component_weights(error: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """w_c (3,) of the bottom components: with ``mode`` "component" 3 sigma_c^-2 / sum_k
    sigma_k^-2 from the median errors (as :func:`ffnn.field.train.boundary_weights`),
    else 1."""
    known = np.isfinite(error) & (error > 0) & mask
    if mode != "component" or not known.reshape(3, -1).any(axis=1).all():
        return np.ones(3)
    inv = np.array([np.median(error[c][known[c]]) ** -2.0 for c in range(3)])
    return 3 * inv / inv.sum()


class GridTrainer(Checkpoints):
    """Fits a :class:`GridField` to a bottom map and the potential field's sides and top.

    Same interface as :class:`ffnn.field.train.Trainer`: construct, then :meth:`fit`;
    ``out_dir`` receives ``checkpoint.pt`` and ``loss.csv``. ``potential`` (the potential
    cube on the grid the field lives on) is required; ``init_model``: a model.pt of this
    representation on the same grid to start from.
    """

    def __init__(self, boundary: xr.Dataset, config, out_dir=None, init_model=None,
                 potential: xr.Dataset | None = None):
        from ffnn.field.train import resolve_device, reuse_freed_memory

        config.validate()
        if potential is None:
            raise ConfigError("representation spline_grid needs the potential-field cube (ffnn train --potential)")
        self.config = config
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.box = UnitBox.from_attrs(boundary.attrs)
        self.wcs = wcs_attrs(boundary.attrs)
        self.preprocessing = boundary.attrs.get("preprocessing")
        x, y, z = (np.asarray(potential[c].values, dtype=np.float64) for c in ("x", "y", "z"))
        self.grid = (x, y, z)
        gx, gy, _ = grid_of_points(boundary)
        if gx.size != x.size or gy.size != y.size or not (np.allclose(gx, x) and np.allclose(gy, y)):
            raise DataError(f"the potential cube's x, y grid ({x.size} x {y.size}) is not the boundary's "
                            f"({gx.size} x {gy.size})")
        self.device = resolve_device(config.device)
        if self.device.type == "cpu":
            reuse_freed_memory()  # an iteration's temporaries are tens of MB: keep them mapped
        if config.threads:
            torch.set_num_threads(int(config.threads))
        target, mask, error = bottom_on_grid(boundary, x, y)
        b0 = float(np.sqrt((target ** 2 * mask).sum() / max(mask.all(0).sum(), 1)))
        b_pot = np.stack([potential[c].transpose("x", "y", "z").values for c in COMPONENTS])
        spacing = (float(x[1] - x[0]), float(y[1] - y[0]), float(z[1] - z[0]))
        self.model = GridField(b_pot, spacing, b0 if b0 > 0 else 1.0,
                               levels=config.grid_levels,
                               init_std=config.grid_init_std, seed=config.seed).to(self.device)
        self.init_model = None
        if init_model is not None:
            self._start_from(init_model)
        t = lambda a: torch.as_tensor(a, dtype=torch.float32, device=self.device)  # noqa: E731
        self._target, self._mask = t(target / self.model.b0), t(mask)
        self._wc = t(component_weights(error, mask, config.bc_errors))[:, None, None]
        side = np.zeros(b_pot.shape[1:], dtype=bool)
        side[0], side[-1], side[:, 0], side[:, -1], side[:, :, -1] = True, True, True, True, True
        side[:, :, 0] = False
        self._side = torch.as_tensor(side, device=self.device)
        self._floor2 = config.field_floor ** 2  # b0 is the RMS bottom |B|: the floor in its units
        self.optimizer = self._make_optimizer()
        self.history: list[dict] = []
        self.elapsed_s = 0.0
        self.iteration = 0
        self.rollbacks = 0
        self._last_checkpoint = 0

    def _make_optimizer(self):
        return torch.optim.Adam(self.model.parameters(), lr=self.config.learning_rate)

    def _start_from(self, path) -> None:
        from ffnn.field.train import load_model

        model, _ = load_model(path, device=str(self.device))
        if not isinstance(model, GridField) or model.b_pot.shape != self.model.b_pot.shape \
                or model.grids.levels != self.model.grids.levels:
            raise ConfigError(f"cannot start from {path}: not a spline_grid model on this grid with these levels")
        with torch.no_grad():
            for mine, theirs in zip(self.model.grids.coefficients, model.grids.coefficients):
                mine.copy_(theirs)
        self.init_model = str(path)
        log.info("starting from the coefficients of %s", path)

    def learning_rate(self, iteration: int | None = None) -> float:
        """Adam's step at iteration i: ``learning_rate`` going geometrically to
        ``learning_rate_final`` over ``learning_rate_decay_iterations`` (0: constant)."""
        cfg = self.config
        i = self.iteration if iteration is None else iteration
        if cfg.learning_rate_decay_iterations <= 0:
            return cfg.learning_rate
        share = min(i / cfg.learning_rate_decay_iterations, 1.0)
        return cfg.learning_rate * (cfg.learning_rate_final / cfg.learning_rate) ** share

    def boundary_weight(self, iteration: int | None = None) -> float:
        """w(i): ``boundary_weight_start`` falling geometrically to 1 over
        ``boundary_decay_iterations``."""
        cfg = self.config
        i = self.iteration if iteration is None else iteration
        if cfg.boundary_decay_iterations <= 0 or i >= cfg.boundary_decay_iterations:
            return 1.0
        return cfg.boundary_weight_start ** (1.0 - i / cfg.boundary_decay_iterations)

    def loss_terms(self, backward: bool = True) -> dict:
        """The loss terms (floats) at the current iteration's weight; with ``backward`` the
        gradients accumulate."""
        cfg, w = self.config, self.boundary_weight()
        with torch.set_grad_enabled(backward):
            b = self.model.normalized()
            j = curl(b, self.model.h)
            ff = lorentz_term(b[..., 1:], j[..., 1:], self._floor2).mean()
            bc = (((b[..., 0] - self._target) ** 2 * self._wc * self._mask).sum(0)).sum() / self._mask[2].sum()
            pf = ((b - self.model.b_pot / self.model.b0)[:, self._side] ** 2).sum(0).mean()
            total = cfg.lambda_ff * ff + w * (cfg.lambda_bc * bc + cfg.potential_weight * pf)
            if backward:
                total.backward()
        return {"loss": float(total.detach()), "loss_bc": float(bc.detach()), "loss_div": 0.0,
                "loss_ff": float(ff.detach()), "loss_potential": float(pf.detach())}

    # -- checkpoints -------------------------------------------------------------------------
    def _state(self) -> dict:
        return {"model": copy.deepcopy(self.model.state_dict()),
                "optimizer": copy.deepcopy(self.optimizer.state_dict()), "history": list(self.history),
                "elapsed_s": self.elapsed_s, "iteration": self.iteration, "config": asdict(self.config),
                "version": __version__}

    def _restore(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer = self._make_optimizer()
        self.optimizer.load_state_dict(state["optimizer"])
        self.history, self.elapsed_s = list(state["history"]), state["elapsed_s"]
        self.iteration = self._last_checkpoint = state["iteration"]

    # -- the loop ------------------------------------------------------------------------------
    def _stop_reason(self) -> str | None:
        cfg = self.config
        if self.iteration >= cfg.max_iterations:
            return "max_iterations"
        if cfg.time_budget_s is not None and self.elapsed_s >= cfg.time_budget_s:
            return "time_budget"
        if self.history and self.history[-1]["loss"] <= cfg.loss_tolerance:
            return "loss_tolerance"
        return None

    def fit(self, resume: bool = True, callback=None):
        """Train until the iteration, time or loss limit; returns a
        :class:`ffnn.field.train.TrainResult`. ``callback(trainer)`` runs after every step
        of ``iterations_per_step`` iterations."""
        from ffnn.field.train import TrainResult

        cfg = self.config
        if resume and self.out_dir is not None:
            self.try_resume()
        reason = self._stop_reason() if self.history else None
        if reason:
            result = self._result(reason)
            result.trained = False
            return result
        start = self.loss_terms(backward=False)
        if not all(math.isfinite(v) for v in start.values()):
            raise DataError(f"the loss is not finite before training starts ({start}): check the boundary data")
        reason = self._stop_reason()
        while not reason:
            t0 = time.perf_counter()
            for _ in range(min(cfg.iterations_per_step, cfg.max_iterations - self.iteration)):
                self.optimizer.zero_grad(set_to_none=False)
                for group in self.optimizer.param_groups:
                    group["lr"] = self.learning_rate()
                terms = self.loss_terms(backward=True)
                self.optimizer.step()
                self.iteration += 1
            self.elapsed_s += time.perf_counter() - t0
            if not math.isfinite(terms["loss"]):
                raise DataError(f"training diverged (non-finite loss) at iteration {self.iteration}; "
                                "try a smaller learning_rate")
            self.history.append({"iteration": self.iteration, "evaluations": self.iteration,
                                 "elapsed_s": round(self.elapsed_s, 3), **terms})
            if not cfg.progress or self.iteration % (10 * cfg.iterations_per_step) == 0:
                log.info("iteration %d: loss %.4g (bc %.4g, ff %.4g, sides/top %.4g; boundary x%.3g), %.0f s",
                         self.iteration, terms["loss"], terms["loss_bc"], terms["loss_ff"],
                         terms["loss_potential"], self.boundary_weight(), self.elapsed_s)
            if callback is not None:
                callback(self)
            reason = self._stop_reason()
            if reason or self.iteration >= self._last_checkpoint + cfg.checkpoint_every:
                self._last_checkpoint = self.iteration
                self.save_checkpoint()
        return self._result(reason)

    def _result(self, reason: str):
        from ffnn.field.train import TrainResult

        final = self.loss_terms(backward=False)
        log.info("training stopped (%s) after %d iterations, %.1f s: loss %.4g (bc %.4g, ff %.4g)",
                 reason, self.iteration, self.elapsed_s, final["loss"], final["loss_bc"], final["loss_ff"])
        return TrainResult(self.model, self.history, reason, self.elapsed_s, self.rollbacks,
                           self.metadata(final, reason))

    def metadata(self, final: dict, reason: str | None) -> dict:
        """Everything needed to rebuild and document the model."""
        return {"version": __version__, "config": asdict(self.config), "box": asdict(self.box),
                "grid": {k: np.asarray(v).tolist() for k, v in zip("xyz", self.grid)},
                "final": final, "stop_reason": reason, "iterations": self.iteration,
                "elapsed_s": self.elapsed_s, "rollbacks": self.rollbacks,
                "architecture": describe_grid(self.model), "device": str(self.device),
                "threads": torch.get_num_threads(), "wcs": self.wcs, "init_model": self.init_model,
                "preprocessing": self.preprocessing}
