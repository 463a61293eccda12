"""Data in: SHARP records as JSOC writes them (:mod:`~ffnn.io.sharp`), sunpy maps
(:mod:`~ffnn.io.maps`), the JSOC client (:mod:`~ffnn.io.jsoc`), SHARP keyword tables
(:mod:`~ffnn.io.keywords`), the map's World Coordinate System (:mod:`~ffnn.io.wcs`) and the
box above a map with its unit coordinates (:mod:`~ffnn.io.box`).

Exports: :func:`from_maps` (a bottom map from sunpy maps of Bp, Bt, Br),
:func:`map_wcs` (the astropy WCS of a product's x-y grid), :func:`segments_map` (a bottom
map from segment images and headers), :func:`find_segments`, :func:`read_segment`,
:func:`flux_summary`, :func:`heliographic_grid`, :class:`UnitBox`;
:func:`wcs_attrs`, :func:`map_header` (WCS keywords and FITS headers), :func:`box_of_map`;
:class:`JsocSettings`, :class:`SharpRecord`, :func:`resolve`, :func:`fetch_sharp` (records
from JSOC).

May import :mod:`ffnn.util`. Nothing is imported until used: drms (:mod:`ffnn.io.jsoc`)
only when a JSOC function runs.
"""

from ffnn.util.lazy import lazy_exports

_EXPORTS = {
    "from_maps": "ffnn.io.maps", "map_wcs": "ffnn.io.maps",
    "segments_map": "ffnn.io.sharp", "find_segments": "ffnn.io.sharp", "read_segment": "ffnn.io.sharp",
    "flux_summary": "ffnn.io.sharp",
    "heliographic_grid": "ffnn.io.wcs",
    "UnitBox": "ffnn.io.box",
    "wcs_attrs": "ffnn.io.wcs", "map_header": "ffnn.io.wcs", "box_of_map": "ffnn.io.box",
    "JsocSettings": "ffnn.io.jsoc", "SharpRecord": "ffnn.io.jsoc", "resolve": "ffnn.io.jsoc",
    "fetch_sharp": "ffnn.io.jsoc",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
