"""Why the jobs of a workflow run failed, from their logs: one line per failed job.

Every rule writes its command's output to ``logs/<region>/<rule>.log`` (a series' to
``logs/<series>/...``, a whole-batch rule's to ``logs/<rule>.log``). A command that fails
on bad input ends its log with one line ``ffnn <command>: error: <cause>`` (see
:mod:`ffnn.cli`); anything else that failed ends it with a Python traceback. After a
batch in which some regions failed (Snakemake goes on with the others under
``keep-going``), these lines say which regions failed and why, at the end of the run's
output instead of scattered through it.

Run by hand, ``ffnn failures`` with no names reads every log under the log directory; a
log directory that is not one, or names none of which has logs there, is refused in one
line (:class:`~ffnn.util.errors.ConfigError`). With ``--checks results/checks.tsv`` (the
Snakefile's ``onsuccess``) it lists instead the regions whose trust checks failed, so that
a run that finished says at its end which products not to trust.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from ffnn.util.errors import ConfigError

logger = logging.getLogger("ffnn")

ERROR_LINE = re.compile(r"^ffnn [\w-]+: error: ")
TRACEBACK = "Traceback (most recent call last):"
LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d")  # ffnn's and Snakemake's log lines
SHOWN = 5  # names a message lists before "and N more"


def error_line(log: Path) -> str | None:
    """The line saying why the job of ``log`` failed, or None when it did not (or the
    log gives no reason: a job killed from outside ends without one).

    The log's last line when it is an ``ffnn ...: error:`` line, or the exception and its
    message that end a traceback; a log that goes on after either (a handled error, then
    more work) did not fail. An unreadable log gives None.
    """
    try:
        lines = [line.rstrip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return None
    if not lines:
        return None
    last = lines[-1]
    if ERROR_LINE.match(last):
        return last
    tracebacks = [i for i, line in enumerate(lines) if line.startswith(TRACEBACK)]
    # after a traceback's frames (indented) comes the exception; a log record (it starts
    # with its time stamp) after it means the program went on
    if tracebacks and tracebacks[-1] < len(lines) - 1 and not last[:1].isspace() and not LOG_RECORD.match(last):
        return last
    return None


def _listing(names) -> str:
    names = list(names)
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more


def _failed(logs) -> list[tuple[str, str]]:
    out = []
    for path in logs:
        reason = error_line(path)
        if reason is not None:
            out.append((str(path), reason))
    return out


def failed_jobs(log_dir, names=()) -> list[tuple[str, str]]:
    """(log, reason) for every log that ends in an error (:func:`error_line`); ``log`` is
    the path of the log.

    With ``names`` (the run's regions and series, as the Snakefile's ``onerror`` gives
    them): the logs under ``log_dir/<name>/``, in the order of the names, then those of
    the whole-batch rules (``log_dir/*.log``); the logs of regions no longer in the sheet
    are not reported. A name without logs (none of its jobs has run: a run of other
    targets) is passed over, with one line in the log; but when no name has logs and no
    whole-batch log ends in an error, the names are taken for a mistake and refused.
    Without names: every log under ``log_dir``, those of its subdirectories first.

    When no log ends in an error, one line in the log says so.

    Raises
    ------
    ConfigError
        ``log_dir`` is missing or not a directory; no name has logs (see above).
    """
    log_dir = Path(log_dir)
    if not log_dir.exists():
        raise ConfigError(f"--logs {log_dir} does not exist: give the workflow's log directory "
                          "(logs/ in the directory the workflow ran in)")
    if not log_dir.is_dir():
        raise ConfigError(f"--logs {log_dir} is a file, not a directory: give the workflow's log directory "
                          "(logs/ in the directory the workflow ran in)")
    batch = sorted(p for p in log_dir.glob("*.log") if p.is_file())
    names = [str(n) for n in names]
    if not names:
        logs = sorted(p for p in log_dir.rglob("*.log") if p.is_file() and p.parent != log_dir) + batch
        failed = _failed(logs)
        if not failed:
            logger.info("none of the %d job log(s) under %s ends in an error", len(logs), log_dir)
        return failed
    unknown = [n for n in names if not Path(log_dir, n).is_dir()]
    logs = [p for n in names if n not in unknown for p in sorted(Path(log_dir, n).rglob("*.log")) if p.is_file()]
    failed = _failed(logs + batch)
    if len(unknown) == len(names) and not failed:
        held = sorted(p.name for p in log_dir.iterdir() if p.is_dir())
        holds = f"it holds those of {_listing(held)}" if held else "it holds no region's or series' logs"
        raise ConfigError(f"no logs of {_listing(unknown)} under {log_dir}: no job of a region or series of "
                          f"{'that name' if len(unknown) == 1 else 'those names'} has run there ({holds})")
    if unknown:
        logger.info("no logs of %s under %s: none of %s jobs has run", _listing(unknown), log_dir,
                    "its" if len(unknown) == 1 else "their")
    if not failed:
        logger.info("none of the %d job log(s) of %s under %s ends in an error", len(logs + batch),
                    _listing(n for n in names if n not in unknown) + " and the whole-batch rules", log_dir)
    return failed


def failed_checks(checks) -> list[tuple[str, list[str]]]:
    """(region, names of its FAILED trust checks) for every region of a ``checks.tsv``
    (``ffnn summary --checks``) with at least one, in the table's order.

    Raises
    ------
    ConfigError
        The file is missing, is not a checks table (columns region, check, status) or has
        no rows.
    """
    import csv

    path = Path(checks)
    if path.is_dir():
        raise ConfigError(f"--checks {path} is a directory, not a checks table (results/checks.tsv)")
    if not path.is_file():
        raise ConfigError(f"--checks {path} does not exist (ffnn summary --checks writes it)")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f, delimiter="\t")
            columns, rows = set(reader.fieldnames or ()), list(reader)
    except UnicodeDecodeError:  # summary.nc, a figure: not a table of text
        head = path.read_bytes()[:8]
        kind = "a NetCDF file" if head.startswith((b"CDF", b"\x89HDF")) else "not text"
        raise ConfigError(f"--checks {path} is not a checks table (results/checks.tsv): it is {kind}") from None
    except OSError as err:
        raise ConfigError(f"--checks {path} cannot be read: {err.strerror}") from None
    if not {"region", "check", "status"} <= columns:
        raise ConfigError(f"--checks {path} is not a checks table: it lacks the columns region, check, status")
    if not rows:
        raise ConfigError(f"--checks {path} has no rows: no region's checks to report")
    failed: dict[str, list[str]] = {}
    for row in rows:
        if row["status"] == "FAILED":
            failed.setdefault(row["region"], []).append(row["check"])
    return list(failed.items())
