"""How much memory a piece of work needs against what the machine has: work whose arrays
would not fit is refused before it starts, with the size it would need, instead of
failing (or swapping for hours) half-way."""

from __future__ import annotations

import os

from ffnn.util.errors import ConfigError


def available_bytes() -> int | None:
    """Memory available to a new allocation (bytes): Linux's MemAvailable, else the free
    physical pages; None when neither is known."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def size_text(n: float) -> str:
    """A byte count as people write it: ``512 bytes``, ``65.5 kB``, ``128 GB`` (SI units)."""
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if n < 1000:
            break
        n /= 1000
    else:
        unit = "PB"
    return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"


def check_memory(need: float, what: str, hint: str = "") -> None:
    """ConfigError of one line when ``need`` bytes exceed the memory available: ``what``
    (the setting and the size it gives) is said to need it, ``hint`` (e.g. the largest
    setting that fits) follows. Nothing is checked where the available memory is unknown."""
    have = available_bytes()
    if have is not None and need > have:
        raise ConfigError(f"{what}, which needs about {size_text(need)} of memory; this machine has "
                          f"{size_text(have)} available{': ' + hint if hint else ''}")
