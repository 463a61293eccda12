"""Writing and reading the pipeline's files: every output goes through :func:`atomic_write`.

A file is written under a temporary name beside its final one, then renamed onto it, so a
reader (or a rerun after a kill) sees a complete file or none, never half of one. The
temporary file is created like any program's file, with mode 0666 minus the umask: on a
shared cluster with umask 002 every product is group-readable alike (``tempfile.mkstemp``
would make it 0600 whatever the umask).

The writers of each format (:func:`write_text`, :func:`write_json`, :func:`write_csv`,
:func:`write_netcdf`, :func:`save_figure`) are thin wrappers over it.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from pathlib import Path

import numpy as np

from ffnn.errors import DataError


def atomic_write(path, write) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``.

    ``write`` receives the temporary path (a ``Path`` that already exists, empty) and must
    write the whole file there. On any exception the temporary file is removed and the
    exception passes on; ``path`` is then as it was before. Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # mode: 0666 & ~umask
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text(text: str, path) -> Path:
    """Write ``text`` (a final newline added if missing)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text if text.endswith("\n") else text + "\n"))


def plain(value):
    """``value`` with plain JSON types: numpy scalars and arrays unwrapped, tuples as lists,
    keys as text, and NaN or infinite floats as None (strict JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(obj, path) -> Path:
    """Write ``obj`` as indented JSON (see :func:`plain`; other objects as their text)."""
    return write_text(json.dumps(plain(obj), indent=2, allow_nan=False, default=str), path)


def read_json(path, what: str = "JSON file") -> dict:
    """The JSON object in ``path``; DataError naming ``what`` and the file when it is
    missing, unreadable or not an object."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError as err:
        raise DataError(f"{what} {path} does not exist") from err
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read {what} {path}: {err}") from err
    if not isinstance(data, dict):
        raise DataError(f"{what} {path} does not hold a JSON object")
    return data


def read_dataset(path, what: str = "NetCDF file"):
    """An xarray Dataset loaded into memory from ``path``; DataError naming ``what`` and the
    file when it is missing or unreadable."""
    import xarray as xr

    try:
        return xr.load_dataset(path)
    except FileNotFoundError as err:
        raise DataError(f"{what} {path} does not exist") from err
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read {what} {path}: {err}") from err


def write_csv(frame, path, sep: str = ",", **options) -> Path:
    """Write a pandas DataFrame as CSV (TSV with ``sep="\\t"``), without its index;
    ``options`` go to ``DataFrame.to_csv``."""
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, sep=sep, index=False, **options))


def write_netcdf(ds, path, encoding=None) -> Path:
    """Write an xarray Dataset as NetCDF-4 (``encoding`` as for ``Dataset.to_netcdf``)."""
    return atomic_write(path, lambda tmp: ds.to_netcdf(tmp, encoding=encoding, engine="netcdf4"))


def save_figure(fig, path, **options) -> Path:
    """Save a matplotlib figure as PNG (``options`` go to ``savefig``), then close it."""
    import matplotlib.pyplot as plt

    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", **options))
    finally:
        plt.close(fig)
