"""Workflow support: the jobs and command lines of the Snakemake rules
(:mod:`~ffnn.pipeline.jobs`), region sheets (:mod:`~ffnn.pipeline.regions`), time series
(:mod:`~ffnn.pipeline.series`) and the failures of a run (:mod:`~ffnn.pipeline.failures`).

May import every subpackage but :mod:`ffnn.cli`.
"""
