"""Analysis of field cubes: metrics (:mod:`~ffnn.analysis.metrics`), trust checks
(:mod:`~ffnn.analysis.quality`, and :mod:`~ffnn.analysis.checks` for one call from Python),
derived quantities (:mod:`~ffnn.analysis.derived`: alpha, Tw, Q), field-line tracing
(:mod:`~ffnn.analysis.fieldlines`) and the Low & Lou (1990) reference fields
(:mod:`~ffnn.analysis.lowlou`).

Exports: :func:`trust_checks`, :class:`TrustChecks`; :func:`assess`,
:func:`cube_metrics`, :func:`compare` (figures of merit); :func:`derived_dataset`,
:class:`DerivedSettings`, :func:`alpha_and_helicity` (alpha, Tw, Q); :class:`FieldGrid`,
:func:`trace` (field lines); :func:`lowlou_cube`, :func:`lowlou_field` (reference fields);
:class:`LowLou`, :func:`eigenvalue`; :func:`bottom_mapping`, :func:`volume_q` (Tw and Q
of field lines).

May import :mod:`ffnn.util`, :mod:`ffnn.io` and :mod:`ffnn.field`.
"""

from ffnn.util.lazy import lazy_exports

_EXPORTS = {
    "trust_checks": "ffnn.analysis.checks", "TrustChecks": "ffnn.analysis.checks",
    "assess": "ffnn.analysis.quality",
    "cube_metrics": "ffnn.analysis.metrics", "compare": "ffnn.analysis.metrics",
    "derived_dataset": "ffnn.analysis.derived", "DerivedSettings": "ffnn.analysis.derived",
    "alpha_and_helicity": "ffnn.analysis.derived",
    "FieldGrid": "ffnn.analysis.fieldlines", "trace": "ffnn.analysis.fieldlines",
    "lowlou_cube": "ffnn.analysis.lowlou", "lowlou_field": "ffnn.analysis.lowlou",
    "LowLou": "ffnn.analysis.lowlou", "eigenvalue": "ffnn.analysis.lowlou",
    "volume_q": "ffnn.analysis.derived", "bottom_mapping": "ffnn.analysis.derived",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
