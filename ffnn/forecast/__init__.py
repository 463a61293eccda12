"""The flare forecast: a logistic regression over SHARP keywords
(:mod:`~ffnn.forecast.classify`), flare labels from a GOES event list
(:mod:`~ffnn.forecast.labels`) and its verification (:mod:`~ffnn.forecast.verification`).

Exports: :class:`ClassifySettings`, :func:`fit_model` -> :class:`FlareModel` (the
forecast), :func:`flare_labels` (labels of keyword records from a flare list),
:func:`skill_scores` (TSS, HSS, Brier skill score);
:func:`save_model`, :func:`load_model` (skops files); :func:`cross_validate`,
:func:`time_split` (verification); :func:`read_events`, :func:`goes_flux` (GOES flare lists).

May import :mod:`ffnn.util` and :mod:`ffnn.io`. scikit-learn is imported only when a
forecast is fitted or loaded.
"""

from ffnn.util.lazy import lazy_exports

_EXPORTS = {
    "ClassifySettings": "ffnn.forecast.classify", "fit_model": "ffnn.forecast.classify",
    "FlareModel": "ffnn.forecast.classify",
    "flare_labels": "ffnn.forecast.labels",
    "skill_scores": "ffnn.forecast.verification",
    "save_model": "ffnn.forecast.classify", "load_model": "ffnn.forecast.classify",
    "cross_validate": "ffnn.forecast.verification", "time_split": "ffnn.forecast.verification",
    "read_events": "ffnn.forecast.labels", "goes_flux": "ffnn.forecast.labels",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
