"""Exceptions for problems a user can fix (bad input, bad settings, unreachable services)."""


class FFNNError(Exception):
    """A user-facing error; its message is one line naming the region, file or setting."""


class DataError(FFNNError):
    """Input data that cannot be used (wrong shape, all NaN, mismatched grids)."""


class ConfigError(FFNNError):
    """A setting that is missing, unknown or of the wrong type."""


class OutputError(FFNNError):
    """An output that cannot be written: a read-only or full file system, a missing
    permission. The message names the file and the cause."""
