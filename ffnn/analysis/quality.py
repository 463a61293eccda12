"""How far to trust a model: the checks a physicist reads first, and their flags.

Computed for every region from its products (no reference field needed):

* **Bottom fit** (:func:`bottom_fit`): the model's lowest layer against the observed map
  over the pixels where the data are finite: the vector correlation ``c_vec_bottom``
  (the C_vec of Schrijver et al. 2006 on the bottom plane), the RMS residual of each component beside
  the median 1-sigma error of the data, and the unsigned flux of Bz over the pixels where
  the observed |Bz| exceeds ``STRONG_SIGMA`` times its error (the model's against the
  observed: a model that misses a spot loses flux there).
* **Energy**: E/E_pot against the potential field of the *observed* bottom Bz (a
  force-free field with the same normal flux has at least the potential energy; below it,
  the free energy E - E_pot is negative and meaningless).
* **Force- and divergence-freeness** (metrics of Schrijver et al. 2006): sigma_J of the
  cube against what converged classical solutions of unpreprocessed HMI maps reach, and
  against the potential field's sigma_J on the same grid (a model whose currents are no
  better aligned with B than the potential field's numerical currents has gained nothing);
  the divergence as mean |div B|/|B| per Mm, i.e. <|f_i|> scaled by the pixel (f_i ~ dx).
* **Non-solenoidal energy** (:mod:`ffnn.analysis.energy_decomposition`): the share
  E_div / E of the energy that the divergence contributes (Valori et al. 2013, A&A 553,
  A38), above which the free energy E - E_pot is not the energy of the currents.
* **Training**: a stop inside the boundary warm-up (the physics terms were hardly on).
* **Derived products** (:data:`DERIVED_LIMITS`, from ``ffnn derived``): the share of
  footpoint lines that reach no face, of strong-field footpoints without a Q, and of Q
  values below 1.9 (Q >= 2 exactly for a divergence-free field: below it, the mapping's
  Jacobian and the normal fields at its ends disagree, i.e. Tw and Q are numerical).

:func:`check` turns these into flags (:data:`LIMITS` gives each threshold); a raised flag
is logged as a warning (:func:`trust_checks`), lands in the ``flags`` column of
``summary.tsv`` and is shown in the report. :func:`assess` is all of it for one cube (the
``quality`` rule and command): the figures of merit of :mod:`ffnn.analysis.metrics`, the checks, and
the height profiles, from one pass of finite differences.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import xarray as xr

from ffnn.io.box import COMPONENTS, ERRORS
from ffnn.field.cube import check_same_grid, field_array, spacing
from ffnn.util.errors import DataError
from ffnn.io.wcs import has_wcs
from ffnn.analysis.energy_decomposition import energy_decomposition
from ffnn.analysis.metrics import cube_metrics, derivatives, height_profiles, sigma_j

log = logging.getLogger(__name__)

STRONG_SIGMA = 3.0
# Each flag: (quantity, limit, how the limit is read). The bottom-fit limits are what a
# trustworthy extrapolation of a SHARP map reaches (the photosphere is not force-free, so
# a force-free model cannot match all of it). The force- and divergence-free limits are
# set from converged classical solutions of *unpreprocessed* HMI maps, which is what a
# SHARP region gives (measured with benchmarks/checks_sharp.py, NOAA 11158, HARP 377,
# 2011-02-15 02:00 TAI; benchmarks/RESULTS.md "Trust checks calibrated"):
# * sigma_J: pyAMaFiL's weighted Wiegelmann optimisation, run to convergence, reaches 0.40,
#   0.37 and 0.35 at 2.9, 1.5 and 0.73 Mm pixels (the potential field: 0.81, 0.80, 0.79);
#   Jeon et al.'s optimisation of the same region at full resolution 0.39-0.40; converged
#   fields of unpreprocessed HMI maps sit at 0.35-0.41 (cf. Wiegelmann et al. 2012, Sol.
#   Phys. 281, 37, for how preprocessing and settings move sigma_J and <|f_i|> of HMI
#   NLFFF of this region). 0.45 passes them at every binning.
# * sigma_J over the potential field's on the same grid: the finite-difference currents of
#   a potential field give sigma_J ~0.8, not 0; above 0.9 of it a model's currents are no
#   better aligned with B than those (pyAMaFiL: 0.49, 0.47, 0.45).
# * mean |div B|/|B| (Mm^-1) = 6 <|f_i|> / dx: <|f_i|> is per cell and halves with the
#   pixel for the same field (pyAMaFiL: 6.1e-3, 3.0e-3, 1.5e-3), while this stays put
#   (0.0125, 0.0125, 0.0120 Mm^-1; the potential field's finite differences 0.002-0.003).
#   1.5x pyAMaFiL's: <|f_i|> limits of 9e-3, 4.6e-3 and 2.3e-3 at bins 8, 4 and 2.
# * E_div / E (Valori et al. 2013): pyAMaFiL's converged fields reach 0.117, 0.121 and 0.124
#   at bins 8, 4 and 2 (the potential field's finite differences 0.003-0.017); 0.15 passes
#   them, so the flag says a field is more divergent than a converged classical solution.
#   Valori et al. (2016, Space Sci. Rev. 201, 147) ask for less than 0.08 before relative
#   helicities are trusted: a stricter bar, for helicity, that converged classical fields
#   of unpreprocessed HMI maps do not meet. The divergence-free share of the free energy is
#   the current-carrying solenoidal energy E_J,s (summary column current_energy_erg).
LIMITS = {
    "bottom_c_vec": ("c_vec_bottom", 0.98, "min"),
    "bottom_flux": ("flux_error", 0.05, "max_abs"),
    "negative_free_energy": ("e_over_epot", 1.0, "min"),
    "sigma_j": ("sigma_j", 0.45, "max"),
    "no_better_than_potential": ("sigma_j_over_potential", 0.9, "max"),
    "divergence": ("mean_abs_div_over_b", 0.019, "max"),
    "nonsolenoidal_energy": ("e_div_ratio", 0.15, "max"),
}
# The derived products' checks: attributes of derived.nc (ffnn.analysis.derived), read like LIMITS.
DERIVED_LIMITS = {
    "unfinished_lines": ("unfinished_line_fraction", 0.01, "max"),
    "q_undefined": ("undefined_q_fraction_strong_field", 0.05, "max"),
    "q_below_2": ("q_below_1p9_fraction", 0.05, "max"),
}
WARMUP_FLAG = "stopped_in_warmup"
# the checks of bottom_fit: no test of the model where the training held the bottom
BOTTOM_FIT_FLAGS = ("bottom_c_vec", "bottom_flux")


def bottom_fit(observed: xr.Dataset, model: xr.Dataset) -> dict:
    """The model's bottom layer against the observed bottom map.

    ``observed``: a bottom map (dims x, y; Bx, By, Bz in G, NaN where not observed, and
    optionally the errors Bx_err, By_err, Bz_err in G). ``model``: Bx, By, Bz on the same
    x, y (the cube's z = 0 layer). Returns a dict: ``c_vec_bottom``; ``rms_residual_<c>``
    and ``median_error_<c>`` (G); ``flux_observed_mx`` and ``flux_model_mx``, the unsigned
    flux (Mx) of Bz over the pixels where |Bz_obs| > STRONG_SIGMA x Bz_err (all finite
    pixels without errors), and ``flux_error`` = model / observed - 1; ``strong_pixels``.
    """
    obs = np.stack([observed[c].transpose("x", "y").values for c in COMPONENTS]).astype(float)
    mod = np.stack([model[c].transpose("x", "y").values for c in COMPONENTS]).astype(float)
    if obs.shape != mod.shape:
        raise ValueError(f"model bottom {mod.shape[1:]} and observed map {obs.shape[1:]} differ")
    good = np.isfinite(obs).all(axis=0)
    o, m = obs[:, good], mod[:, good]
    out = {"c_vec_bottom": float((o * m).sum() / np.sqrt((o * o).sum() * (m * m).sum()))}
    for k, c in enumerate(COMPONENTS):
        out[f"rms_residual_{c}"] = float(np.sqrt(np.mean((m[k] - o[k]) ** 2)))
        err = observed[ERRORS[k]].transpose("x", "y").values if ERRORS[k] in observed else None
        out[f"median_error_{c}"] = float(np.nanmedian(err[good])) if err is not None else float("nan")
    bz_err = observed["Bz_err"].transpose("x", "y").values if "Bz_err" in observed else None
    strong = good if bz_err is None else good & (np.abs(obs[2]) > STRONG_SIGMA * np.nan_to_num(bz_err, nan=np.inf))
    dx = float(np.diff(observed["x"].values).mean())
    dy = float(np.diff(observed["y"].values).mean())
    area = dx * dy * 1e16  # Mm^2 -> cm^2
    flux_obs = float(np.abs(obs[2][strong]).sum() * area)
    flux_mod = float(np.abs(mod[2][strong]).sum() * area)
    out.update(flux_observed_mx=flux_obs, flux_model_mx=flux_mod, strong_pixels=int(strong.sum()),
               flux_error=flux_mod / flux_obs - 1 if flux_obs > 0 else float("nan"))
    return out


def check(values: dict, warmup_iterations: int | None = None, iterations: int | None = None) -> list[str]:
    """The names of the raised flags (:data:`LIMITS`) for the figures in ``values``.

    A figure that is absent or NaN raises no flag (it was not computed: e.g. no bottom
    map for a six-face benchmark). With ``warmup_iterations`` and ``iterations``, a
    training that ended inside the warm-up raises ``stopped_in_warmup``.
    """
    flags = _failed(values, LIMITS)
    if warmup_iterations and iterations is not None and iterations <= warmup_iterations:
        flags.append(WARMUP_FLAG)
    return flags


def warmup_of(config: dict) -> int | None:
    """The iterations of a training's boundary-dominated start, from its settings
    (``train.json``'s ``config``): ``boundary_decay_iterations`` for the spline_grid
    representation, ``warmup_iterations`` for the tanh network."""
    key = "boundary_decay_iterations" if config.get("representation") == "spline_grid" else "warmup_iterations"
    return config.get(key)


def check_derived(values: dict) -> list[str]:
    """The names of the raised flags of the derived products (:data:`DERIVED_LIMITS`) for
    the attributes ``values`` of a derived.nc; absent or NaN figures raise none."""
    return _failed(values, DERIVED_LIMITS)


def _failed(values: dict, limits: dict) -> list[str]:
    flags = []
    for name, (key, limit, how) in limits.items():
        value = values.get(key)
        if value is None or not np.isfinite(value):
            continue
        if {"min": value < limit, "max": value > limit, "max_abs": abs(value) > limit}[how]:
            flags.append(name)
    return flags


def describe(flag: str, values: dict) -> str:
    """One line saying what a raised flag means, with the figure behind it."""
    if flag == WARMUP_FLAG:
        return ("training stopped inside the boundary warm-up: the force- and divergence-free "
                "terms were hardly on; raise time_budget_s or max_iterations")
    key, limit, how = {**LIMITS, **DERIVED_LIMITS}[flag]
    value = values.get(key)
    text = {"bottom_c_vec": "bottom fit: C_vec of the model bottom against the observed map",
            "bottom_flux": "bottom fit: model/observed unsigned flux - 1 over strong-field pixels",
            "negative_free_energy": "E/E_pot against the potential field of the observed bottom "
                                    "(below 1: negative free energy, not physical)",
            "sigma_j": "sigma_J (current-weighted sin of the J-B angle; converged classical solutions "
                       "of unpreprocessed HMI maps reach 0.35-0.41)",
            "no_better_than_potential": "sigma_J over the potential field's on the same grid ("
                                        f"{values.get('sigma_j_potential', float('nan')):.3g}; near 1 the "
                                        "currents are no better aligned with B than the potential field's "
                                        "numerical ones)",
            "divergence": "mean |div B|/|B| in Mm^-1 (6 <|f_i|>/dx, <|f_i|> = "
                          f"{values.get('mean_abs_fi', float('nan')):.3g}; converged classical solutions of "
                          "unpreprocessed HMI maps reach 0.012-0.013 at any binning, the limit is 1.5x that)",
            "nonsolenoidal_energy": "non-solenoidal share of the energy E_div/E (Valori et al. 2013: "
                                    "E - E_pot is partly divergence, not free energy; converged classical "
                                    "solutions of unpreprocessed HMI maps reach 0.12; helicities need "
                                    "below 0.08, Valori et al. 2016)",
            "unfinished_lines": "derived: share of footpoint lines that reach no face of the box "
                                "(null or non-finite field, or longer than four box diagonals; "
                                "their Tw and Q are NaN)",
            "q_undefined": "derived: share of strong-field footpoints where Q is undefined (lines that "
                           "reach no face, or loops too short for the auxiliary lines, typically on "
                           "polarity inversion lines)",
            "q_below_2": "derived: share of the defined Q values below 1.9 (Q >= 2 exactly for a "
                         "divergence-free field: the mapping is under-resolved or the field "
                         "divergent, and Q and Tw are not to be trusted)"}[flag]
    relation = {"min": "below", "max": "above", "max_abs": "beyond ±"}[how]
    return f"{text} is {value:.4g}, {relation} {limit:g}"


def check_map_grid(cube: xr.Dataset, observed: xr.Dataset, what: str = "observed bottom map") -> None:
    """DataError unless the ``observed`` map lies on the cube's x, y grid (``what`` names it).

    On another grid the model's bottom would be interpolated onto pixels of other sizes,
    and the bottom fit would flag the resampling, not the model."""
    check_same_grid(cube, observed, what, axes=("x", "y"))


def check_train_record(cube: xr.Dataset, train: dict, what: str = "training record") -> None:
    """DataError unless ``train`` is a training record (train.json) of the cube's model: the
    iterations the cube says its model ran (attribute ``training_iterations``, when
    there) and its ``box`` extents (Mm). Another model's record would set the checks of
    the warm-up and of a held bottom wrongly."""
    if not isinstance(train, dict) or "config" not in train or "iterations" not in train:
        raise DataError(f"{what} is not a training record (train.json of ffnn train: config, iterations)")
    made = cube.attrs.get("training_iterations")
    if made is not None and int(made) != int(train["iterations"]):
        raise DataError(f"{what} is another model's: it ran {train['iterations']} iterations, the cube's "
                        f"model {int(made)}")
    config = cube.attrs.get("training_config")
    if config is not None and json.loads(config) != train["config"]:
        raise DataError(f"{what} is another model's: its training settings differ from those the cube records")
    off = box_mismatch(cube, train.get("box") or {})
    if off:
        c, lo, hi, vlo, vhi = off
        raise DataError(f"{what} is another model's: its box's {c} spans [{lo:g}, {hi:g}], "
                        f"the cube's [{vlo:g}, {vhi:g}]")


def box_mismatch(ds: xr.Dataset, box: dict):
    """The first axis on which the coordinates of ``ds`` (x, y, z, Mm) do not span the
    training ``box`` (``{x_min: ..., z_max: ...}``, train.json), as (axis, box min, box max,
    coordinate min, coordinate max); None when they do (an axis the box lacks passes)."""
    for c in ("x", "y", "z"):
        lo, hi = box.get(f"{c}_min"), box.get(f"{c}_max")
        if lo is None or hi is None or c not in ds.coords:
            continue
        v = ds[c].values.astype(float)
        tol = 1e-6 * abs(hi - lo) + 1e-9
        if abs(v.min() - lo) > tol or abs(v.max() - hi) > tol:
            return c, lo, hi, float(v.min()), float(v.max())
    return None


def trust_checks(cube: xr.Dataset, metrics: dict, observed: xr.Dataset | None = None,
                 train: dict | None = None, region: str = "") -> dict:
    """Bottom fit of ``cube`` against the ``observed`` bottom map and the flags of
    :func:`check` for ``metrics`` (of :func:`ffnn.analysis.metrics.cube_metrics`) and the training
    record ``train`` (``train.json``); each raised flag is logged as a warning naming
    ``region``. Returns ``bottom_fit`` (with ``observed``; its ``held`` says the bottom was
    held, not fitted), ``flags`` and ``flag_text``."""
    out, values = {}, dict(metrics)
    train = train or {}
    config = train.get("config") or {}
    if observed is not None:
        check_map_grid(cube, observed)
        layer = cube[list(COMPONENTS)].isel(z=0, drop=True).interp(x=observed["x"], y=observed["y"])
        # a held bottom (training setting hold_bottom) equals the observed map by construction,
        # unless the training was given a preprocessed map: then the fit is a real check. A
        # spline_grid field fits its bottom whatever hold_bottom says (a tanh network's setting)
        held = bool(config.get("hold_bottom")) and config.get("representation", "mlp") != "spline_grid" \
            and not train.get("preprocessing")
        out["bottom_fit"] = {**bottom_fit(observed, layer), "held": held}
        values.update(out["bottom_fit"])
    values.update(_without_nominal_lengths(cube, values))
    flags = check(values, warmup_of(config), train.get("iterations"))
    out["flags"] = flags
    out["flag_text"] = [describe(f, values) for f in flags]
    for text in out["flag_text"]:
        log.warning("%scheck failed: %s", f"{region}: " if region else "", text)
    return out


def _without_nominal_lengths(cube: xr.Dataset, figures: dict) -> dict:
    """The per-length divergence made NaN (not computed) for a cube not placed on the Sun.

    Its limit (Mm^-1) is measured on solar maps; a cube without the record's WCS, such as a
    Low & Lou field whose box units are labelled Mm only nominally, has no length to
    compare it with (the exact Low & Lou field at 32^3 reads 0.025 per box unit). Its
    divergence is still reported as <|f_i|>.
    """
    if has_wcs(cube.attrs) or "mean_abs_div_over_b" not in figures:
        return {}
    return {"mean_abs_div_over_b": float("nan")}


def assess(cube: xr.Dataset, potential: xr.Dataset | None = None, observed: xr.Dataset | None = None,
           train: dict | None = None, region: str = "") -> tuple[dict, xr.Dataset]:
    """How far to trust a model ``cube``: its figures and height profiles.

    Parameters
    ----------
    cube : xarray.Dataset
        The model field: ``Bx``, ``By``, ``Bz`` in G on ``x``, ``y``, ``z`` in Mm.
    potential : xarray.Dataset, optional
        The potential field of the observed bottom on the same grid: gives E/E_pot, the
        free energy and ``sigma_j_potential`` (the potential field's own σ_J).
    observed : xarray.Dataset, optional
        The observed bottom map (``ffnn boundary``): gives the bottom fit.
    train : dict, optional
        The training record (``train.json``): gives the warm-up and time-budget checks.
    region : str, optional
        The region's name, in the warnings a failed check logs.

    Returns
    -------
    figures : dict
        The reference-free figures of :func:`ffnn.analysis.metrics.cube_metrics`, the
        split of the energy of
        :func:`ffnn.analysis.energy_decomposition.energy_decomposition`
        (``energy_decomposition`` in erg and its ``e_div_ratio``), and what
        :func:`trust_checks` returns (``bottom_fit``, ``flags``, ``flag_text``); plus the
        height profiles as lists (``profiles``).
    profiles : xarray.Dataset
        :func:`ffnn.analysis.metrics.height_profiles`: the divergence- and force-free
        factors over height.

    Raises
    ------
    ffnn.util.errors.DataError
        When ``potential`` or ``observed`` lie on another grid than ``cube``.

    Notes
    -----
    Each flag's limit and what it is compared with: :data:`LIMITS`; the per-length
    divergence is not computed for a cube without the record's WCS (nominal units).
    """
    b, dxyz = field_array(cube), spacing(cube)
    derivs = derivatives(b, dxyz)
    figures = cube_metrics(cube, None, potential, derivs=derivs)
    figures.update(_without_nominal_lengths(cube, figures))
    b_pot = field_array(potential) if potential is not None else None
    if b_pot is not None:
        figures["sigma_j_potential"] = sigma_j(b_pot, derivatives(b_pot, dxyz)[0])
        figures["sigma_j_over_potential"] = (figures["sigma_j"] / figures["sigma_j_potential"]
                                             if figures["sigma_j_potential"] > 0 else float("nan"))
    parts = energy_decomposition(b, dxyz)
    figures["energy_decomposition"] = parts
    figures["e_div_ratio"] = parts["e_div_ratio"]
    profiles = height_profiles(b, dxyz, cube["z"].values, b_pot, derivs=derivs)
    figures.update(trust_checks(cube, figures, observed, train, region))
    figures["profiles"] = {"z_mm": profiles["z"].values.tolist(),
                           "div_free_factor": profiles["div_free_factor"].values.tolist(),
                           "force_free_factor": profiles["force_free_factor"].values.tolist()}
    return figures, profiles
