"""Resident memory of a registry process: VmRSS, its parts, and a 100 ms sampler."""

from __future__ import annotations

import threading

from .shared import harness


def rss_kib(pid: int) -> int:
    """VmRSS in KiB, or 0 when the process is gone."""
    try:
        return harness.rss_kib(pid)
    except (OSError, AssertionError):
        return 0


def rss_breakdown(pid: int) -> dict:
    """Anonymous and file-backed parts of the RSS, and the page faults taken so far. The kernel maps
    cached file pages in blocks of up to 64 KiB around each file page fault (fault-around), so
    file-backed RSS can be many times the pages a process actually touched (≤ faults × 4 KiB)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("RssAnon", "RssFile", "RssShmem"):
                    out[key.lower() + "_mib"] = int(value.split()[0]) / 1024
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        out["minor_faults"] = int(fields[7])
    except (OSError, ValueError, IndexError):
        pass
    return out


class RssSampler:
    """Samples VmRSS of a process every 100 ms in a thread, as a context manager; `peak_mib`."""

    def __init__(self, pid: int, interval: float = 0.1):
        self.pid, self.interval = pid, interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        v = rss_kib(self.pid)
        if v:
            self.samples.append(v)

    def _run(self):
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        self._sample()

    @property
    def peak_mib(self) -> float:
        return max(self.samples) / 1024 if self.samples else float("nan")
