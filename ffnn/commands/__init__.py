"""Subcommand groups of the ``ffnn`` command line."""
