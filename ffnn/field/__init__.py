"""The field model: boundary data (:mod:`~ffnn.field.boundary`), training samples
(:mod:`~ffnn.field.sampling`), the network (:mod:`~ffnn.field.model`) and its training
(:mod:`~ffnn.field.train`), potential fields (:mod:`~ffnn.field.potential`), preprocessing
of the bottom map (:mod:`~ffnn.field.preprocess`) and field cubes (:mod:`~ffnn.field.cube`).

May import :mod:`ffnn.util` and :mod:`ffnn.io`.
"""
