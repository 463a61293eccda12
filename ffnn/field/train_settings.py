"""What every training setting means, in which unit: the one source of ``ffnn train --help``.

:data:`SETTINGS` maps each field of :class:`ffnn.field.train.TrainConfig` to its meaning and
unit (``""`` for a count, a name or a flag; ``"1"`` for a dimensionless number); the
defaults are TrainConfig's own. The workflow's schema (``workflow/schemas/config.schema.yaml``,
``$defs/train``) gives types and ranges and points here for the meanings; a test checks
that every field is described and listed with its default by ``ffnn train --help``.
The module imports no torch (the command line registers ``train`` with every model command);
:func:`settings_help` reads the defaults from TrainConfig when the help is shown.
"""

from __future__ import annotations

__all__ = ["SETTINGS", "settings_help", "settings_docstring"]

# field -> (meaning, unit). Grouped as the help lists them.
SETTINGS: dict[str, tuple[str, str]] = {
    # representation
    "representation": ("mlp: the tanh network of the coordinates, trained with L-BFGS at sampled points; "
                       "spline_grid: B = B_pot + curl A on the cube's grid, A from multi-resolution cubic "
                       "B-spline grids, trained with Adam on the grid's own finite differences (needs the "
                       "potential-field cube)", ""),
    "grid_levels": ("spline_grid: levels of A, knots every 1, 2, ..., 2^(n-1) pixels", ""),
    "grid_init_std": ("spline_grid: standard deviation of the random start of A's coefficients (seeded by seed)",
                      "1 (of the field scale times the pixel)"),
    "learning_rate": ("spline_grid: Adam's learning rate at the start", "1"),
    "learning_rate_final": ("spline_grid: Adam's learning rate after learning_rate_decay_iterations", "1"),
    "learning_rate_decay_iterations": ("spline_grid: iterations of the geometric fall of the learning rate "
                                       "(0: constant)", ""),
    "boundary_weight_start": ("spline_grid: weight of the boundary terms at iteration 0, falling to 1", "1"),
    "boundary_decay_iterations": ("spline_grid: iterations over which the boundary weight falls to 1", ""),
    # network
    "hidden_layers": ("mlp: hidden layers of the tanh network", ""),
    "width": ("mlp: neurons per hidden layer", ""),
    "quasi_output": ("mlp: end on the FFNN paper's quasi-output layer (false: a plain linear output)", ""),
    "first_layer_scale": ("mlp: multiplies the Kaiming start of the first layer (larger: finer structure at "
                          "start)", "1"),
    "dtype": ("mlp: floating-point type of the network and the loss: float32 or float64", ""),
    # loss
    "lambda_bc": ("weight of the boundary term", "1"),
    "lambda_div": ("mlp: weight of the divergence term", "1"),
    "lambda_ff": ("weight of the force-free term", "1"),
    "ff_form": ("mlp: force-free term: lorentz |J x B|^2/(|B|^2 + floor^2), or angle sin^2 of the J-B angle "
                "(the paper's)", ""),
    "ff_eps": ("mlp: small number added to the angle form's denominator |J|^2 |B|^2", "gauss4 (unit length)-2"),
    "field_floor": ("|B| floor of the lorentz form, as a fraction of the RMS boundary |B|", "1"),
    "height_weighting": ("mlp: p of the height weights (s(0)/s(z))^(2p) of every term, s the RMS side/top field; "
                         "0: none, 1: relative errors", "1"),
    "bc_errors": ("observed-data errors: none, tolerance (residuals within error_scale sigma are free) or "
                  "component (each component by its inverse variance)", ""),
    "error_scale": ("mlp: tolerance: residuals within error_scale x 1 sigma are free", "1 (sigma)"),
    "potential_weight": ("trust in potential-field faces relative to observed data", "1"),
    "hold_bottom": ("mlp: > 0: the observed bottom is held exactly, blended out over this height; 0: fitted as data",
                    "pixels of height"),
    # sampling
    "n_boundary": ("mlp: observed boundary points per sample round (null: all)", ""),
    "n_potential": ("mlp: potential-field side/top points per sample round (null: all)", ""),
    "n_interior": ("mlp: interior collocation points per sample round", ""),
    "interior_bottom_fraction": ("mlp: share of the interior points drawn denser near the bottom", "1"),
    "resample_every": ("mlp: iterations between new draws of all points (0: never)", "iterations"),
    # phases
    "potential_iterations": ("mlp: first fit the potential field in the volume for this many (needs --potential)",
                             "iterations"),
    "warmup_iterations": ("mlp: boundary-dominated start: physics terms scaled by warmup_physics_weight", "iterations"),
    "warmup_physics_weight": ("mlp: multiplies lambda_div and lambda_ff during the warm-up", "1"),
    "warmup_interior": ("mlp: interior points during the warm-up", ""),
    "ramp_iterations": ("mlp: after the warm-up, the physics weights grow to 1 over this many", "iterations"),
    # stopping
    "max_iterations": ("iterations at most (L-BFGS for mlp, Adam for spline_grid): the stop that makes a rerun "
                       "give the same field",
                       "iterations"),
    "time_budget_s": ("wall-clock cap, summed over resumed runs (null: none); a stop here is flagged "
                      "stopped_by_time_budget", "s"),
    "loss_tolerance": ("stop once the total loss is at most this", "loss units"),
    "plateau_iterations": ("mlp: stop when the loss fell by less than plateau_tolerance over this many (0: never)",
                           "iterations"),
    "plateau_tolerance": ("mlp: relative loss decrease that counts as progress (plateau_iterations)", "1"),
    # optimiser and running
    "history_size": ("mlp: L-BFGS history length", ""),
    "iterations_per_step": ("optimiser iterations per step (budgets, logs, checkpoints between steps)", "iterations"),
    "checkpoint_every": ("iterations between checkpoints (a killed run resumes from the last)", "iterations"),
    "max_rollbacks": ("mlp: non-finite losses rolled back (L-BFGS history reset) before training fails", ""),
    "chunk_size": ("mlp: interior points per pass (0: 2048 on a CPU, 65536 on a GPU)", ""),
    "device": ("auto (CUDA when present, else the CPU), cpu, cuda or cuda:N", ""),
    "threads": ("CPU threads (null: torch's choice; the workflow sets resources.train.threads)", ""),
    "seed": ("seed of the network's start and of every sample draw", ""),
    "progress": ("progress bar on the terminal (off in the workflow)", ""),
}


def settings_help() -> str:
    """The training settings as ``ffnn train --help`` lists them: each with its default
    (TrainConfig's), unit and meaning, one per line, for ``--set KEY=VALUE`` or a
    ``--config`` file."""
    from dataclasses import MISSING, fields

    from ffnn.field.train import TrainConfig

    lines = ["training settings (--set KEY=VALUE, or a --config YAML file; default, unit, meaning):"]
    defaults = {f.name: f.default for f in fields(TrainConfig) if f.default is not MISSING}
    width = max(len(name) for name in defaults)
    for name, default in defaults.items():
        meaning, unit = SETTINGS.get(name, ("(not described)", ""))
        value = "null" if default is None else str(default).lower() if isinstance(default, bool) else str(default)
        lines.append(f"  {name:<{width}}  {value}{f' [{unit}]' if unit else ''}: {meaning}")
    return "\n".join(lines)


def settings_docstring(summary: str, config_class) -> str:
    """A numpydoc docstring for ``config_class`` (a dataclass of settings): ``summary``,
    then each field under Parameters with its type, default, unit and meaning from
    :data:`SETTINGS` (the source ``ffnn train --help`` lists too)."""
    from dataclasses import MISSING, fields

    lines = [summary, "", "Parameters", "----------"]
    for f in fields(config_class):
        meaning, unit = SETTINGS.get(f.name, ("(not described)", ""))
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        default = "" if f.default is MISSING else f" Default {f.default!r}."
        lines += [f"{f.name} : {kind}, optional", f"    {meaning}{f' [{unit}]' if unit else ''}.{default}"]
    return "\n".join(lines) + "\n"
