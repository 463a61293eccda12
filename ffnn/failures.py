"""Why the jobs of a workflow run failed, from their logs: one line per failed job.

Every rule writes its command's output to ``logs/<region>/<rule>.log``. A command that
fails on bad input ends its log with one line ``ffnn <command>: error: <cause>`` (see
:mod:`ffnn.cli`); anything else that failed ends it with a Python traceback. After a
batch in which some regions failed (Snakemake goes on with the others under
``keep-going``), these lines say which regions failed and why, at the end of the run's
output instead of scattered through it.
"""

from __future__ import annotations

import re
from pathlib import Path

ERROR_LINE = re.compile(r"^ffnn [\w-]+: error: ")
TRACEBACK = "Traceback (most recent call last):"


def error_line(log: Path) -> str | None:
    """The line saying why the job of ``log`` failed, or None when it did not (or the
    log gives no reason: a job killed from outside ends without one).

    The last ``ffnn ...: error:`` line, else the last line of a traceback (the exception
    and its message), else None. An unreadable log gives None.
    """
    try:
        lines = [line.rstrip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return None
    errors = [line for line in lines if ERROR_LINE.match(line)]
    if errors:
        return errors[-1]
    if any(line.startswith(TRACEBACK) for line in lines):
        return lines[-1]
    return None


def failed_jobs(log_dir, names) -> list[tuple[str, str]]:
    """(log, reason) for every log of this run's ``names`` (regions and series: the logs
    under ``log_dir/<name>/``) and of its whole-batch rules (``log_dir/*.log``) that ends
    in an error (:func:`error_line`), in that order; ``log`` is the path of the log.
    Names are given so that the logs of regions no longer in the sheet are not reported."""
    log_dir = Path(log_dir)
    logs = [p for name in names for p in sorted(Path(log_dir, name).rglob("*.log"))]
    out = []
    for log in logs + sorted(log_dir.glob("*.log")):
        reason = error_line(log)
        if reason is not None:
            out.append((str(log), reason))
    return out
