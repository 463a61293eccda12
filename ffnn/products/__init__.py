"""Products for people: figures (:mod:`~ffnn.products.figures`,
:mod:`~ffnn.products.series_figure`), the summary tables (:mod:`~ffnn.products.summary`) and
exports to VTK and FITS (:mod:`~ffnn.products.export`).

Exports: :func:`region_figures` (a region's five figures), :func:`write_vtk` (a cube for
ParaView), :func:`write_fits_maps` (footpoint maps as FITS with the record's WCS);
:func:`summary_table` (the regions' table), :func:`lowlou_table` (the benchmark table).

May import :mod:`ffnn.util`, :mod:`ffnn.io`, :mod:`ffnn.field`, :mod:`ffnn.analysis` and
:mod:`ffnn.forecast`.
"""

from ffnn.util.lazy import lazy_exports

_EXPORTS = {
    "region_figures": "ffnn.products.figures",
    "write_vtk": "ffnn.products.export", "write_fits_maps": "ffnn.products.export",
    "summary_table": "ffnn.products.summary", "lowlou_table": "ffnn.products.summary",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
