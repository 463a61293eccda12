"""Writing and reading the pipeline's files: every output goes through :func:`atomic_write`.

A file is written under a temporary name beside its final one, then renamed onto it, so a
reader (or a rerun after a kill) sees a complete file or none, never half of one. The
temporary file is created like any program's file, with mode 0666 minus the umask: on a
shared cluster with umask 002 every product is group-readable alike (``tempfile.mkstemp``
would make it 0600 whatever the umask).

The writers of each format (:func:`write_text`, :func:`write_json`, :func:`write_csv`,
:func:`write_netcdf`, :func:`save_figure`) are thin wrappers over it. :func:`written`
lists what this process wrote, so the command line can record a command's outputs and
find the work done when it is run again (:mod:`ffnn.cli`).

Every NetCDF product declares ``Conventions: CF-1.8`` and passes the CF checker
(``cfchecks``): units in UDUNITS' spelling (``gauss``, ``maxwell``, ``Mm``), a
``long_name`` on every variable, ``axis`` on the coordinates. Attributes NetCDF cannot
hold as numbers (an integer beyond 64 bits in a SHARP header, say) are kept as text.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
from pathlib import Path

import numpy as np

from ffnn.util.errors import DataError

log = logging.getLogger(__name__)

CONVENTIONS = "CF-1.8"
_WRITTEN: list[Path] = []  # what atomic_write wrote in this process, in order


def atomic_write(path, write) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``.

    ``write`` receives the temporary path (a ``Path`` that already exists, empty) and must
    write the whole file there. On any exception the temporary file is removed and the
    exception passes on; ``path`` is then as it was before. Returns ``path``.
    """
    path = check_output(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # mode: 0666 & ~umask
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _WRITTEN.append(path)
    return path


def _blocking_file(path: Path) -> Path | None:
    """The first existing path that is not a directory among ``path``'s ancestors."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def check_output(path, what: str = "output") -> Path:
    """``path`` as a Path, or DataError of one line when no file can be written there: it
    is an existing directory, or one of its directories is a file. ``what`` names it
    (an option such as ``-o``) in the message.

    Commands call it before their work, so that a wrong output name costs no computation;
    :func:`atomic_write` calls it too, for every writer."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{what} {path} is a directory: give a file name")
    blocking = _blocking_file(path)
    if blocking is not None:
        raise DataError(f"{what} {path} cannot be written: {blocking} is a file, not a directory")
    return path


def check_output_dir(path, what: str = "output directory") -> Path:
    """``path`` as a Path, or DataError of one line when it cannot be a directory of
    outputs: it, or one of its directories, is an existing file (``what`` as for
    :func:`check_output`). Nothing is created."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise DataError(f"{what} {path} is a file, not a directory")
    blocking = _blocking_file(path)
    if blocking is not None:
        raise DataError(f"{what} {path} cannot be made: {blocking} is a file, not a directory")
    return path


def written(*, reset: bool = False) -> list[Path]:
    """The files :func:`atomic_write` wrote in this process (since the last ``reset``)."""
    out = list(_WRITTEN)
    if reset:
        _WRITTEN.clear()
    return out


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


#: The first bytes of a NetCDF file: classic/64-bit offset (``CDF``), NetCDF-4 (HDF5).
NETCDF_MAGIC = (b"CDF", b"\x89HDF\r\n\x1a\n")


def read_dataset(path, what: str = "NetCDF file"):
    """An ffnn product (NetCDF) read whole into memory.

    Parameters
    ----------
    path : path-like
        The NetCDF file (``boundary.nc``, ``cube.nc``, ``derived.nc``, ...).
    what : str, optional
        How the message names the file (default "NetCDF file").

    Returns
    -------
    `xarray.Dataset`
        The dataset, loaded (the file is closed), with its CF attributes.

    Raises
    ------
    ffnn.util.errors.DataError
        In one line naming ``what`` and the file when it is missing, not NetCDF (by its
        first bytes) or unreadable.
    """
    import xarray as xr

    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except FileNotFoundError as err:
        raise DataError(f"{what} {path} does not exist") from err
    except OSError as err:
        raise DataError(f"cannot read {what} {path}: {err.strerror}") from err
    if not head.startswith(NETCDF_MAGIC):
        raise DataError(f"{what} {path} is not a NetCDF file")
    try:
        return xr.load_dataset(path)
    except (OSError, ValueError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise DataError(f"cannot read {what} {path}: {first}") from err


def write_csv(frame, path, sep: str = ",", **options) -> Path:
    """Write a pandas DataFrame as CSV (TSV with ``sep="\\t"``), without its index;
    ``options`` go to ``DataFrame.to_csv``."""
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, sep=sep, index=False, **options))


def netcdf_attrs(attrs: dict, where: str = "") -> dict:
    """``attrs`` as NetCDF can store them: an integer beyond 64 bits becomes its text (with a
    warning naming it: NetCDF has no such integer), a bool 0 or 1, None left out."""
    out = {}
    for key, value in attrs.items():
        if isinstance(value, (bool, np.bool_)):
            value = int(value)
        elif isinstance(value, (int, np.integer)) and not -2**63 <= int(value) < 2**63:
            log.warning("%sattribute %s = %d is beyond a 64-bit integer: kept as text", where, key, value)
            value = str(value)
        elif value is None:
            continue
        out[key] = value
    return out


def write_netcdf(ds, path, encoding=None) -> Path:
    """Write a dataset as CF-1.8 NetCDF-4, whole (a temporary name, then renamed).

    Parameters
    ----------
    ds : `xarray.Dataset`
        The dataset; its attributes are made storable (:func:`netcdf_attrs`: booleans as
        integers, None and nested values as text).
    path : path-like
        The file to write.
    encoding : dict, optional
        Per-variable encoding as for `xarray.Dataset.to_netcdf` (compression, chunks).

    Returns
    -------
    `pathlib.Path`
        ``path``.
    """
    ds = ds.copy()
    ds.attrs = {**netcdf_attrs(ds.attrs, f"{Path(path).name}: "), "Conventions": CONVENTIONS}
    for name, var in ds.variables.items():
        var.attrs = netcdf_attrs(var.attrs, f"{Path(path).name} {name}: ")
    return atomic_write(path, lambda tmp: ds.to_netcdf(tmp, encoding=encoding, engine="netcdf4"))


def save_figure(fig, path, **options) -> Path:
    """Save a matplotlib figure as PNG (``options`` go to ``savefig``), then close it."""
    import matplotlib.pyplot as plt

    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", **options))
    finally:
        plt.close(fig)


# ---------------------------------------------------------------- finished work

def fingerprint(paths) -> dict[str, list[int]]:
    """Size and modification time (ns) of each existing file in ``paths`` (a directory
    stands for its visible files), by path."""
    out = {}
    for path in map(Path, paths):
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")) \
            if path.is_dir() else [path] if path.is_file() else []
        for f in files:
            st = f.stat()
            out[str(f)] = [st.st_size, st.st_mtime_ns]
    return out


class Done:
    """The record a command leaves beside its first output (``.<name>.ffnn-done``): how it
    was run (``key``: the command line, the working directory, the ffnn version, the size
    and time of each input) and the size and time of each file it wrote. A rerun of the
    same command on the same inputs whose outputs are all still as written is
    :meth:`finished`: nothing to do."""

    def __init__(self, stamp, key: dict):
        self.stamp, self.key = Path(stamp), key

    def finished(self) -> bool:
        try:
            record = json.loads(self.stamp.read_text())
        except (OSError, ValueError):
            return False
        outputs = record.get("outputs") or {}
        return record.get("key") == self.key and bool(outputs) and fingerprint(outputs) == outputs

    def record(self, outputs) -> None:
        outputs = [p for p in outputs if Path(p) != self.stamp]
        write_json({"key": self.key, "outputs": fingerprint(outputs)}, self.stamp)
