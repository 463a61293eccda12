"""Workflow support: the jobs and command lines of the Snakemake rules
(:mod:`~ffnn.pipeline.jobs`), region sheets (:mod:`~ffnn.pipeline.regions`), time series
(:mod:`~ffnn.pipeline.series`) and the failures of a run (:mod:`~ffnn.pipeline.failures`).

Exports: :func:`region_table` (the regions a configuration runs), :func:`read_sheet`
(a region sheet's rows).

May import every subpackage but :mod:`ffnn.cli`.
"""

from ffnn.util.lazy import lazy_exports

_EXPORTS = {"region_table": "ffnn.pipeline.regions", "read_sheet": "ffnn.pipeline.regions"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
