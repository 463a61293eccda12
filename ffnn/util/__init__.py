"""Utilities every stage uses: the errors a user can fix (:mod:`~ffnn.util.errors`),
files written whole and read with one-line errors (:mod:`~ffnn.util.files`), and settings read
from YAML and mappings and checked (:mod:`~ffnn.util.settings`), and times given by users
(:mod:`~ffnn.util.times`).

Imports no other subpackage of ffnn.
"""
