"""ffnn: force-free neural network extrapolation of solar coronal magnetic fields."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ffnn")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
