"""Times given by users: one parser for every command and sheet.

:func:`parse_time` reads ISO 8601 (UTC; a ``Z`` or a UTC offset converted) and JSOC's TAI
form of T_REC; :func:`parse_trec` the TAI form alone. Kept apart from :mod:`ffnn.io.jsoc`
so that reading the workflow's sheets imports no network client (drms configures the root
logger when imported).
"""

from __future__ import annotations

import datetime
import re

from astropy.time import Time

from ffnn.util.errors import ConfigError, DataError

__all__ = ["TIME_FORMS", "parse_time", "parse_trec"]

# The forms of a time a user may give, in the one message that refuses any other.
TIME_FORMS = ("ISO 8601 UTC like 2011-02-14T20:00 (a Z or +00:00 suffix allowed) "
              "or JSOC's T_REC like 2011.02.14_20:00:00_TAI")


def parse_time(text, what: str | None = None) -> Time:
    """A time given by a user, as an astropy Time: ISO 8601 (``2011-02-14T20:00``, UTC;
    a ``Z`` or a UTC offset such as ``+00:00``, which ``datetime.isoformat()`` writes, is
    converted to UTC), or JSOC's TAI form ``2011.02.14_20:00:00_TAI`` (kept in TAI).

    The one parser of times for the commands (``--time``, ``--start``, ``--end``) and the
    sheets (``time``, ``start``, ``end``). Raises ConfigError ``<what>: malformed time
    ...`` naming the accepted forms (:data:`TIME_FORMS`).
    """
    raw = str(text).strip()
    try:
        if raw.upper().endswith("_TAI"):
            return parse_trec(raw)
        when = datetime.datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw)
        if when.tzinfo is not None:
            when = when.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return Time(when, scale="utc")
    except (ValueError, DataError):
        raise ConfigError(f"{what + ': ' if what else ''}malformed time {raw!r}; use {TIME_FORMS}") from None


def parse_trec(text: str) -> Time:
    """A JSOC time string such as ``2011.02.14_20:00:00_TAI`` (TAI) as an astropy Time."""
    m = re.fullmatch(r"(\d{4})\.(\d{2})\.(\d{2})_(\d{2}):(\d{2})(?::(\d{2}(?:\.\d*)?))?_TAI",
                     str(text).strip())
    if not m:
        raise DataError(f"cannot read JSOC time {text!r}")
    y, mo, d, h, mi, s = m.groups()
    return Time(f"{y}-{mo}-{d}T{h}:{mi}:{s or '00'}", scale="tai")
