"""The flare forecast: a logistic regression over SHARP keywords
(:mod:`~ffnn.forecast.classify`), flare labels from a GOES event list
(:mod:`~ffnn.forecast.labels`) and its verification (:mod:`~ffnn.forecast.verification`).

May import :mod:`ffnn.util` and :mod:`ffnn.io`.
"""
