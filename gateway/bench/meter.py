"""CPU seconds and peak RSS of server processes, from /proc (Linux).

CPU is user + system time (``/proc/PID/stat`` fields 14 and 15, in clock ticks),
read before and after a load; peak RSS is the kernel's high-water mark
(``VmHWM`` in ``/proc/PID/status``), over the process's whole life so far.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["cpu_seconds", "peak_rss_mb", "with_children"]

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds used so far by `pids` together (0 for a gone one)."""
    total = 0.0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may have spaces
        total += (int(fields[11]) + int(fields[12])) / _TICKS
    return total


def with_children(pids: Iterable[int]) -> list[int]:
    """`pids` and their child processes (one level: ``tongban serve --workers``'s
    workers), from the parent pid in each ``/proc/PID/stat``."""
    parents = list(pids)
    found = list(parents)
    wanted = set(parents)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) in wanted:
            found.append(int(entry.name))
    return found


def peak_rss_mb(pids: Iterable[int]) -> float:
    """The largest peak resident set (MiB) among `pids`."""
    peak = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
    return peak / 1024
