"""Utilities every stage uses: the errors a user can fix (:mod:`~ffnn.util.errors`),
files written whole and read with one-line errors (:mod:`~ffnn.util.files`), settings read
from YAML and mappings and checked (:mod:`~ffnn.util.settings`), units at the public
boundary (:mod:`~ffnn.util.units`), times given by users (:mod:`~ffnn.util.times`) and the
lazy exports of the packages (:mod:`~ffnn.util.lazy`).

Exports: :class:`FFNNError`, :class:`DataError`, :class:`ConfigError`;
:func:`to_value` (a quantity or number in ffnn's unit), :func:`as_quantity` (a product
variable as an astropy quantity).

Imports no other subpackage of ffnn.
"""

from ffnn.util.lazy import lazy_exports

_EXPORTS = {
    "FFNNError": "ffnn.util.errors", "DataError": "ffnn.util.errors", "ConfigError": "ffnn.util.errors",
    "to_value": "ffnn.util.units", "as_quantity": "ffnn.util.units",
    "read_dataset": "ffnn.util.files", "write_netcdf": "ffnn.util.files",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
