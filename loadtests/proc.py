"""CPU time and memory of the processes a benchmark run involves, from /proc (Linux).

Throughput on a shared 2-core machine moves with its neighbours; CPU time per
message moves only with the work done, so the bench reports both. The
machine's own speed is pinned by a fixed pure-Python loop timed at start.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
# The shared servers, by the command name /proc/<pid>/comm gives them.
INFRA = {"postgres": "postgres", "beam.smp": "rabbitmq", "redis-server": "redis"}


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (0.0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def wakeups(pid: int) -> int:
    """Times any thread of the process went to sleep and was woken, so far.

    On two cores shared by every process, what a replica adds is mostly
    wake-ups: each one its event loop's round, its syscalls and caches filled
    again, whatever it then finds to do.
    """
    total = 0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return 0
    for task in tasks:
        try:
            status = (task / "status").read_text()
        except OSError:
            continue  # the thread ended meanwhile
        start = status.find("\nvoluntary_ctxt_switches:")
        if start >= 0:
            total += int(status[start:].split(maxsplit=2)[1])
    return total


def infra_totals(measure: Callable[[int], float]) -> dict[str, float]:
    """`measure` of every PostgreSQL, RabbitMQ and Redis process, summed by server."""
    totals = dict.fromkeys(INFRA.values(), 0.0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm in INFRA:
            totals[INFRA[comm]] += measure(int(entry.name))
    return totals


def calibration_ms() -> float:
    """Milliseconds for a fixed pure-Python loop: how fast this machine is right now."""
    start = time.perf_counter()
    total = 0
    for i in range(2_000_000):
        total += i
    return round((time.perf_counter() - start) * 1000, 1)


def _status_mb(pid: int, field: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def rss_mb(pid: int) -> float:
    """Resident memory now."""
    return _status_mb(pid, "VmRSS:")


def peak_rss_mb(pid: int) -> float:
    """The most resident memory the process ever had."""
    return _status_mb(pid, "VmHWM:")


def reading(measure: Callable[[int], float], pids: dict[str, int]) -> dict[str, float]:
    """`measure` of each named process, and of PostgreSQL, RabbitMQ and Redis."""
    return {n: measure(pid) for n, pid in pids.items()} | infra_totals(measure)
