"""How far to trust a cube, from Python: the checks of ``ffnn quality`` as one call.

:func:`trust_checks` runs :func:`ffnn.analysis.quality.assess` (the figures of merit, the
flags and the height profiles) on datasets in memory and returns them as a
:class:`TrustChecks`; what each check compares with is on the docs page "Trust checks"
(docs/explanation/trust-checks.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import xarray as xr

__all__ = ["trust_checks", "TrustChecks"]


@dataclass
class TrustChecks:
    """The trust checks of one cube: figures of merit, raised flags, height profiles.

    Parameters
    ----------
    figures : dict
        The figures of ``quality.json``: ``energy_erg``, ``energy_pot_erg``,
        ``free_energy_erg`` (erg), ``e_over_epot``, ``sigma_j``, ``theta_j_deg``,
        ``mean_abs_fi`` (dimensionless), unsigned flux (Mx) and, with the observed map,
        ``bottom_fit`` (``c_vec_bottom``, RMS residuals in G, ``flux_error``).
    flags : list of str
        The checks that failed (keys of :data:`ffnn.analysis.quality.LIMITS` and
        ``stopped_in_warmup``); empty when every check passed.
    flag_text : list of str
        One sentence per raised flag: the value and the limit it is compared with.
    profiles : `xarray.Dataset`
        Height profiles on ``z`` (Mm): ``div_free_factor`` and ``force_free_factor``
        (dimensionless, cumulative from the bottom up).

    Attributes
    ----------
    passed : bool
        True when no flag is raised.
    """

    figures: dict
    flags: list
    flag_text: list
    profiles: xr.Dataset

    @property
    def passed(self) -> bool:
        """True when no check failed."""
        return not self.flags

    def __getitem__(self, key):
        """A figure of merit by name, e.g. ``checks["sigma_j"]``."""
        return self.figures[key]

    def __repr__(self) -> str:
        f = self.figures
        head = ", ".join(f"{k} {f[k]:.4g}" for k in ("sigma_j", "mean_abs_fi", "e_over_epot")
                         if isinstance(f.get(k), (int, float)))
        flags = "; ".join(self.flag_text) if self.flags else "all checks passed"
        return f"TrustChecks({head}: {flags})"


def trust_checks(cube: xr.Dataset, potential: xr.Dataset | None = None, bottom: xr.Dataset | None = None,
                 train=None, *, region: str = "") -> TrustChecks:
    """How far to trust a model cube: reference-free figures of merit and the checks.

    Parameters
    ----------
    cube : `xarray.Dataset`
        The model's field: ``Bx``, ``By``, ``Bz`` (G) on a regular ``(x, y, z)`` grid in
        Mm (``TrainedModel.cube()``, or a ``cube.nc`` read with
        :func:`ffnn.field.cube.read_cube`).
    potential : `xarray.Dataset`, optional
        The potential field on the same grid (:func:`ffnn.field.api.potential_field`):
        the energy check E/E_pot >= 1 needs it.
    bottom : `xarray.Dataset`, optional
        The *observed* bottom map (not a preprocessed one) on the cube's x, y grid: the
        bottom-fit checks (vector correlation, flux) need it.
    train : TrainedModel or dict, optional
        The model (its record), or a ``train.json`` read as a dict: the check of where
        training stopped, and whether the bottom was held, need it.
    region : str, optional
        A name for the warnings logged for raised flags.

    Returns
    -------
    TrustChecks
        ``figures``, ``flags`` (empty: all passed), ``flag_text`` and ``profiles``.

    Raises
    ------
    ffnn.util.errors.DataError
        When ``cube`` is not a cube, ``potential`` is on another grid, ``bottom`` is not
        an observed bottom map on the cube's x, y grid, or ``train`` belongs to another
        grid.

    Notes
    -----
    The figures of merit are those of Schrijver et al. (2006, Sol. Phys. 235, 161) and
    Wheatland, Sturrock & Roumeliotis (2000, ApJ 540, 1150): sigma_J = sum |J x B|/|B| /
    sum |J| (the current-weighted sine of the angle between J and B) and the mean
    fractional flux <|f_i|> = mean |div B|_i dx / (6 |B_i|); energies E = sum |B|^2/(8 pi)
    dV. Each flag's limit and why: :data:`ffnn.analysis.quality.LIMITS` and the docs page
    "Trust checks". Derivatives are second-order finite differences on the grid.

    Examples
    --------
    >>> checks = ffnn.trust_checks(cube, potential, bottom, model)   # doctest: +SKIP
    >>> checks.passed, checks["sigma_j"]                              # doctest: +SKIP
    """
    from ffnn.analysis.quality import assess, check_map_grid, check_train_record
    from ffnn.field.cube import check_cube, check_same_grid
    from ffnn.util.errors import DataError

    check_cube(cube, "cube")
    if potential is not None:
        check_cube(potential, "potential")
        check_same_grid(cube, potential, "potential", of="the cube's ")
    if bottom is not None:
        if "preprocessing" in bottom.attrs:
            raise DataError("bottom is a preprocessed map: the checks compare the model with the observed one")
        check_map_grid(cube, bottom, "bottom")
    record = getattr(train, "meta", train)
    if record is not None:
        record = {**record, "grid": None}  # as train.json holds it
        check_train_record(cube, record, "train")
    figures, profiles = assess(cube, potential, bottom, record, region)
    figures.pop("profiles", None)  # the Dataset holds them
    return TrustChecks(figures, list(figures.pop("flags")), list(figures.pop("flag_text")), profiles)
