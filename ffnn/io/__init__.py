"""Data in: SHARP records as JSOC writes them (:mod:`~ffnn.io.sharp`), the JSOC client
(:mod:`~ffnn.io.jsoc`), SHARP keyword tables (:mod:`~ffnn.io.keywords`), the map's World
Coordinate System (:mod:`~ffnn.io.wcs`) and the box above a map with its unit coordinates
(:mod:`~ffnn.io.box`).

May import :mod:`ffnn.util`.
"""
