"""Scenario 1: blob push, monolithic (POST + one PUT) and chunked (PATCHes + PUT)."""

from __future__ import annotations

import os

from ..client import push_blob
from ..console import log
from ..format import Table, fmt, per_registry, share, versus
from ..results import median
from ..settings import BLOB_MIB, CHUNK_MIB, MiB, PUSH_REPS

NUMBER, KEY, RETRYABLE = 1, "push", True
MODES = (("monolithic", "Monolithic"), ("chunked", f"Chunked ({CHUNK_MIB} MiB)"))


def run(bench):
    log(f"scenario 1: blob push {BLOB_MIB} MiB, monolithic and {CHUNK_MIB} MiB chunks")
    s = bench.res.scenario(KEY)
    for mode, _ in MODES:
        files = [bench.files.get(f"push-{mode}-{i}", BLOB_MIB) for i in range(PUSH_REPS)]
        for reg in bench.registries:
            rates = []
            for i, (path, digest, size) in enumerate(files):
                os.sync()
                secs = push_blob(reg, "bench/blobs", path, digest, size,
                                 chunk=None if mode == "monolithic" else CHUNK_MIB * MiB)
                rates.append(size / secs / 1e6)
                log(f"  {reg.name} {mode} #{i + 1}: {secs:.2f} s, {rates[-1]:.0f} MB/s")
            s.setdefault(reg.name, {})[mode] = median(rates)
            s[reg.name][mode + "_runs"] = rates
        for i in range(PUSH_REPS):
            bench.files.remove(f"push-{mode}-{i}")
    os.sync()


def section(s: dict, d: dict) -> str:
    lim = d.get("limits", {})
    limit = lim.get("push_limit_mbps")
    t = Table()
    for mode, label in MODES:
        w, dd = per_registry(s, mode)
        t.row(f"{label}, MB/s", w, dd, "MB/s", True)
        for key, what in (("push_limit_mbps", "min(SHA-256, disk)"), ("sha256_mbps", "SHA-256 alone (the CPU ceiling)"),
                          ("disk_direct_mbps", "the direct-I/O disk rate")):
            if lim.get(key):
                t.row(f"{label}, share of {what}", share(w, lim[key]), share(dd, lim[key]), "%", True)
    return (f"## 1. Blob push, {BLOB_MIB} MiB\n\n"
            f"POST, then the whole blob in one PUT (monolithic), or in {CHUNK_MIB} MiB PATCHes with "
            f"`Content-Range` and an empty PUT (chunked); timed from the POST to the 201. "
            f"Median of {PUSH_REPS} pushes of distinct random data per mode. The client sends with "
            f"`sendfile` from a warm page cache. 80 % of min(SHA-256, fsync'd disk write) = "
            f"{fmt(limit * 0.8 if limit else None, 'MB/s')}.\n\n" + t.render())


def targets(s: dict, d: dict) -> list:
    limit = d.get("limits", {}).get("push_limit_mbps")
    out = []
    for mode, _ in MODES:
        w, dd = per_registry(s, mode)
        out.append(versus(f"Blob push ({mode}) ≥ 1.5× Distribution", w, dd, 1.5,
                          detail=f"{fmt(w, 'MB/s')} vs {fmt(dd, 'MB/s')}"))
        if w and limit:
            out.append((f"Blob push ({mode}) ≥ 80 % of min(SHA-256, disk) = {fmt(limit * 0.8, 'MB/s')}",
                        f"{w / limit * 100:.0f} %", w / limit >= 0.8))
    return out
