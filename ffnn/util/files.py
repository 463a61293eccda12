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

import errno
import json
import logging
import math
import os
import secrets
from pathlib import Path

import numpy as np

from ffnn.util.errors import DataError, OutputError
from ffnn.util.memory import size_text

log = logging.getLogger(__name__)

CONVENTIONS = "CF-1.8"
_WRITTEN: list[Path] = []  # what atomic_write wrote in this process, in order


def atomic_write(path, write) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``.

    ``write`` receives the temporary path (a ``Path`` that already exists, empty) and must
    write the whole file there. On any exception the temporary file is removed and the
    exception passes on; ``path`` is then as it was before. Returns ``path``.

    Raises
    ------
    OutputError
        The file cannot be written: its directory cannot be made or written (permission,
        read-only file system), or the file system is full (an ``OSError`` of errno
        EACCES, EPERM, EROFS, ENOSPC, EDQUOT or EFBIG, or a library's ``RuntimeError``
        such as NetCDF's ``HDF error`` or torch's ``inline_container`` one when the disk
        has no room left). One line naming ``path`` and the cause.
    """
    path = check_output(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # mode: 0666 & ~umask
    except OSError as err:
        raise OutputError(f"cannot write {path}: {_cause(err, path.parent)}") from err
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException as err:
        # the free space is read before the temporary file gives its room back
        cause = _write_failure(err, tmp)
        tmp.unlink(missing_ok=True)
        if cause is not None:
            raise OutputError(f"cannot write {path}: {cause}") from err
        raise
    _WRITTEN.append(path)
    return path


# errno of a failed write (not of a download or another input the writer reads)
_WRITE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EFBIG,
                 getattr(errno, "EDQUOT", errno.ENOSPC)}
FULL_BYTES = 1 << 20  # a file system with less room left than this counts as full


def _free_bytes(path: Path) -> int | None:
    """Bytes this process may still write on the file system of ``path`` (None: unknown)."""
    for p in (path, *path.parents):
        try:
            st = os.statvfs(p)
        except OSError:
            continue
        if st.f_blocks == 0:  # a pseudo file system (sysfs, procfs): no size to speak of
            return None
        # root may use the blocks reserved for it; other users may not
        return (st.f_bfree if os.geteuid() == 0 else st.f_bavail) * st.f_frsize
    return None


def _cause(err: OSError, where: Path) -> str:
    """The cause of a failed write in words: the error's own (``Read-only file system``),
    with the free space on a full disk."""
    text = err.strerror or str(err)
    if err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        free = _free_bytes(where)
        text += f" ({size_text(free)} free)" if free is not None else ""
    return text


def _write_failure(err: BaseException, tmp: Path) -> str | None:
    """The cause in words when ``err``, raised by a writer on ``tmp``, is the file that
    could not be written; None for anything else (a bug, a failed download: passed on)."""
    if isinstance(err, OSError) and err.errno in _WRITE_ERRNOS:
        return _cause(err, tmp.parent)
    if isinstance(err, RuntimeError):  # NetCDF's "HDF error", torch's inline_container
        free = _free_bytes(tmp.parent)
        if free is not None and free < FULL_BYTES:
            return f"No space left on device ({size_text(free)} free)"
    return None


def _blocking_file(path: Path) -> Path | None:
    """The first existing path that is not a directory among ``path``'s ancestors."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def _unwritable(path: Path) -> str | None:
    """Why no file can be made in the directory ``path`` (or, not there yet, in its nearest
    existing directory): on a read-only file system, not writable, or a full file system;
    None when nothing is seen against it (the write itself may still fail)."""
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is None or not existing.is_dir():
        return None
    try:
        st = os.statvfs(existing)
    except OSError:
        return None
    if st.f_flag & os.ST_RDONLY:
        return f"{existing} is on a read-only file system"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable (permission denied)"
    if _free_bytes(existing) == 0:
        return f"the file system of {existing} is full (no space left on device)"
    return None


def check_output(path, what: str = "output") -> Path:
    """``path`` as a Path, or an error of one line when no file can be written there: it
    is an existing directory, or one of its directories is a file (DataError); its
    directory is read-only, not writable or on a full file system (OutputError). ``what``
    names it (an option such as ``-o``) in the message.

    Commands call it before their work, so that a wrong output name costs no computation;
    :func:`atomic_write` calls it too, for every writer."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{what} {path} is a directory: give a file name")
    blocking = _blocking_file(path)
    if blocking is not None:
        raise DataError(f"{what} {path} cannot be written: {blocking} is a file, not a directory")
    why = _unwritable(path.parent)
    if why:
        raise OutputError(f"{what} {path} cannot be written: {why}")
    return path


def check_output_dir(path, what: str = "output directory") -> Path:
    """``path`` as a Path, or an error of one line when it cannot be a directory of
    outputs: it, or one of its directories, is an existing file (DataError), or it lies on
    a read-only or full file system or is not writable (OutputError) (``what`` as for
    :func:`check_output`). Nothing is created."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise DataError(f"{what} {path} is a file, not a directory")
    blocking = _blocking_file(path)
    if blocking is not None:
        raise DataError(f"{what} {path} cannot be made: {blocking} is a file, not a directory")
    why = _unwritable(path)
    if why:
        raise OutputError(f"{what} {path} cannot be written: {why}")
    return path


def make_output_dir(path, what: str = "output directory", need_bytes: int = 0) -> Path:
    """Make the directory ``path`` (and its parents) and prove that a file can be written
    in it, before long work whose first output comes late: a file is created and removed.
    ``need_bytes``: room the work will need there at least (0: not checked).

    Raises DataError or OutputError of one line naming ``what``, the directory and the
    cause (:func:`check_output_dir`; the directory cannot be made or written; less room
    than ``need_bytes``)."""
    path = check_output_dir(path, what)
    probe = path / f".ffnn-write-test.{os.getpid()}.{secrets.token_hex(4)}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as f:
            f.write(b"\0" * 4096)
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        raise OutputError(f"{what} {path} cannot be written: {_cause(err, path)}") from err
    finally:
        try:
            probe.unlink(missing_ok=True)
        except OSError:
            pass
    free = _free_bytes(path)
    if need_bytes and free is not None and free < need_bytes:
        raise OutputError(f"{what} {path} cannot be written: the work needs about {size_text(need_bytes)} "
                          f"there, the file system has {size_text(free)} free")
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
