"""The field model: boundary data (:mod:`~ffnn.field.boundary`), training samples
(:mod:`~ffnn.field.sampling`), the network (:mod:`~ffnn.field.model`) and its training
(:mod:`~ffnn.field.train`), potential fields (:mod:`~ffnn.field.potential`), preprocessing
of the bottom map (:mod:`~ffnn.field.preprocess`), field cubes (:mod:`~ffnn.field.cube`)
and the Python API of these steps (:mod:`~ffnn.field.api`).

Exports: :func:`read_sharp`, :func:`potential_field`, :class:`TrainedModel`,
:func:`load_model`, :func:`evaluate` (the API; its ``train`` is :func:`ffnn.train`, since
``ffnn.field.train`` names the training module), :class:`TrainConfig`;
:func:`from_sharp`, :func:`from_cube`, :func:`read_map`, :func:`load_boundary`
(boundary data); :func:`potential_cube` (potential fields); :func:`preprocess_map`
(preprocessing); :func:`model_cube`, :func:`make_cube`, :func:`read_cube` (cubes);
:func:`map_to_points`, :func:`cube_faces`, :func:`merge_points`, :func:`potential_faces`
(boundary points); :func:`field_array`, :func:`spacing` (cube arrays).

May import :mod:`ffnn.util` and :mod:`ffnn.io`. torch is imported only when a model is
trained, loaded or evaluated.
"""

from ffnn.util.lazy import lazy_exports

_EXPORTS = {
    "read_sharp": "ffnn.field.api", "potential_field": "ffnn.field.api", "TrainedModel": "ffnn.field.api",
    "load_model": "ffnn.field.api", "evaluate": "ffnn.field.api",
    "TrainConfig": "ffnn.field.train",
    "from_sharp": "ffnn.field.boundary", "from_cube": "ffnn.field.boundary", "read_map": "ffnn.field.boundary",
    "load_boundary": "ffnn.field.boundary",
    "potential_cube": "ffnn.field.potential",
    "preprocess_map": "ffnn.field.preprocess",
    "model_cube": "ffnn.field.cube", "make_cube": "ffnn.field.cube", "read_cube": "ffnn.field.cube",
    "map_to_points": "ffnn.field.boundary", "cube_faces": "ffnn.field.boundary",
    "merge_points": "ffnn.field.boundary", "potential_faces": "ffnn.field.potential",
    "field_array": "ffnn.field.cube", "spacing": "ffnn.field.cube",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
