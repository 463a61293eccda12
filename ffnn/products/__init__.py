"""Products for people: figures (:mod:`~ffnn.products.figures`,
:mod:`~ffnn.products.series_figure`), the summary tables (:mod:`~ffnn.products.summary`) and
exports to VTK and FITS (:mod:`~ffnn.products.export`).

May import :mod:`ffnn.util`, :mod:`ffnn.io`, :mod:`ffnn.field`, :mod:`ffnn.analysis` and
:mod:`ffnn.forecast`.
"""
