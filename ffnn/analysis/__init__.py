"""Analysis of field cubes: metrics (:mod:`~ffnn.analysis.metrics`), trust checks
(:mod:`~ffnn.analysis.quality`), derived quantities (:mod:`~ffnn.analysis.derived`: alpha, Tw,
Q), field-line tracing (:mod:`~ffnn.analysis.fieldlines`) and the Low & Lou (1990) reference
fields (:mod:`~ffnn.analysis.lowlou`).

May import :mod:`ffnn.util`, :mod:`ffnn.io` and :mod:`ffnn.field`.
"""
