"""ffnn: force-free neural network extrapolation of solar coronal magnetic fields.

The Python API, one call per step of the workflow (all lazily imported: ``import ffnn``
imports neither torch nor drms)::

    import ffnn
    bottom = ffnn.read_sharp("ffnn:hmi.sharp_cea_720s.377.20110215_020000_TAI", bin=8)
    potential = ffnn.potential_field(bottom)
    model = ffnn.train(bottom, potential, ffnn.TrainConfig(representation="spline_grid", max_iterations=300))
    cube = model.cube()
    checks = ffnn.trust_checks(cube, potential, bottom, model)

Data in
    :func:`read_sharp` (a SHARP record's FITS files, or one shipped with ffnn),
    :func:`from_maps` (sunpy maps of Bp, Bt, Br), :func:`read_cube` (a cube.nc).
The field model
    :func:`potential_field`, :class:`TrainConfig`, :func:`train` -> :class:`TrainedModel`,
    :func:`load_model`, :func:`evaluate`.
Analysis
    :func:`trust_checks` -> :class:`TrustChecks`.
Units and coordinates
    :func:`as_quantity` (a product variable as an astropy Quantity), :func:`map_wcs`
    (the record's WCS of a product's x-y grid).
Errors
    :class:`FFNNError` and its subclasses :class:`DataError`, :class:`ConfigError`:
    problems a user can fix, in one line.

The subpackages hold the stages: :mod:`ffnn.util`, :mod:`ffnn.io`, :mod:`ffnn.field`,
:mod:`ffnn.analysis`, :mod:`ffnn.forecast`, :mod:`ffnn.products`, :mod:`ffnn.pipeline`,
:mod:`ffnn.cli`.
"""

from importlib.metadata import PackageNotFoundError, version

from ffnn.util.lazy import lazy_exports

try:
    __version__ = version("ffnn")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

_EXPORTS = {
    "read_sharp": "ffnn.field.api", "potential_field": "ffnn.field.api", "train": "ffnn.field.api",
    "TrainedModel": "ffnn.field.api", "load_model": "ffnn.field.api", "evaluate": "ffnn.field.api",
    "TrainConfig": "ffnn.field.train", "read_cube": "ffnn.field.cube",
    "from_maps": "ffnn.io.maps", "map_wcs": "ffnn.io.maps",
    "trust_checks": "ffnn.analysis.checks", "TrustChecks": "ffnn.analysis.checks",
    "as_quantity": "ffnn.util.units",
    "FFNNError": "ffnn.util.errors", "DataError": "ffnn.util.errors", "ConfigError": "ffnn.util.errors",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
