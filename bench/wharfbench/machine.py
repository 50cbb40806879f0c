"""The machine while the benchmark runs: load, CPU used by other processes, the page cache."""

from __future__ import annotations

import os
import time
from pathlib import Path

from .console import log
from .settings import QUIET_WAIT

QUIET_CORES = 0.15  # "quiet": processes other than the benchmark use less than this
CLK_TCK = os.sysconf("SC_CLK_TCK")


def loadavg() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


def drop_caches() -> tuple[bool, str]:
    """Drops the page cache (needs root); returns (done, how or why not)."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True, "sync; echo 3 > /proc/sys/vm/drop_caches"
    except OSError as exc:
        return False, f"could not drop the page cache ({exc})"


def _proc_stats() -> dict:
    """{pid: (ppid, cpu seconds incl. reaped children)} of every user-space process."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            raw = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        f = raw[raw.rindex(")") + 2:].split()
        ppid = int(f[1])
        if ppid == 2 or name == "2":
            continue  # kernel threads (I/O and network work done for the benchmark itself)
        out[int(name)] = (ppid, sum(int(x) for x in f[11:15]) / CLK_TCK)
    return out


def foreign_cpu_seconds() -> float:
    """CPU seconds used so far by processes that are not this benchmark or its descendants (the
    CPU time of exited processes counts through their parents)."""
    stats = _proc_stats()
    children: dict[int, list] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    mine, todo = set(), [os.getpid()]
    while todo:
        pid = todo.pop()
        if pid not in mine:
            mine.add(pid)
            todo.extend(children.get(pid, []))
    return sum(cpu for pid, (_, cpu) in stats.items() if pid not in mine)


class ForeignCpu:
    """Cores that other processes used on average since this was made (`cores()`)."""

    def __init__(self):
        self.cpu0, self.t0 = foreign_cpu_seconds(), time.monotonic()

    def cores(self) -> float:
        return (foreign_cpu_seconds() - self.cpu0) / max(time.monotonic() - self.t0, 0.001)


def wait_for_quiet(what: str) -> tuple[float, float]:
    """Waits (at most BENCH_QUIET_WAIT s) until other processes use < QUIET_CORES cores over 3 s.
    Returns (seconds waited, cores used by others in the last window)."""
    t0 = time.monotonic()
    announced = False
    while True:
        window = ForeignCpu()
        time.sleep(3)
        cores = window.cores()
        if cores < QUIET_CORES or time.monotonic() - t0 > QUIET_WAIT:
            return time.monotonic() - t0, cores
        if not announced:
            log(f"  waiting for a quiet machine before {what} (other processes use {cores:.2f} cores)")
            announced = True
