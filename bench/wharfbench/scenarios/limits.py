"""The machine's limits, measured in the same run: the ceilings the push and pull targets use."""

from __future__ import annotations

import json
import os

from .. import rates
from ..console import log
from ..format import fmt, fmt_runs
from ..machine import drop_caches
from ..results import median
from ..settings import BLOB_MIB, MiB

KEY = "limits"  # results.json: data["limits"]


def _disk(bench, lim: dict, block: bytes):
    """Writes with fsync through the page cache (as `dd conv=fsync` does) on the registries' disk.
    On this virtual machine that is much faster when the page cache reuses memory freed moments
    before than when it must take memory the VM has not touched yet, so both are measured: three
    new files (kept until all three are written), then three rewrites of one file deleted in
    between; and, for reference, direct I/O (no page cache)."""
    disk_mib = max(1, BLOB_MIB // 16) * 16
    os.sync()
    names = [bench.workdir / f"fsync-test-{i}.bin" for i in range(3)]
    fresh = [rates.fsync_write_rate(p, block, disk_mib) for p in names]
    for p in names:
        p.unlink()
    reused = []
    for _ in range(3):
        reused.append(rates.fsync_write_rate(bench.workdir / "fsync-test.bin", block, disk_mib))
        (bench.workdir / "fsync-test.bin").unlink()
    lim.update(disk_fsync_mbps=median(fresh), disk_fsync_runs=fresh, disk_reused_mbps=median(reused),
               disk_reused_runs=reused, disk_mib=disk_mib)
    direct = [rates.direct_write_rate(bench.workdir / f"direct-test-{i}.bin", block, disk_mib)
              for i in range(3)]
    if all(direct):
        lim.update(disk_direct_mbps=median(direct), disk_direct_runs=direct)


def _reads(bench, lim: dict):
    """`cat`, and the same file over loopback to the pull client's reader (sendfile, read + write),
    cold (page cache dropped before each, where allowed) and warm; on scenario 2's blob file."""
    path, _, size = bench.files.get("pull", BLOB_MIB)
    for name, measure in (("cat", lambda: rates.cat_rate(path, size)),
                          ("loopback", lambda: rates.loopback_rate(path, size)),
                          ("loopback_copy", lambda: rates.loopback_rate(path, size, copy=True))):
        cold = []
        for _ in range(3):
            if not drop_caches()[0]:
                break
            cold.append(measure())
        if cold:
            lim.update({f"{name}_cold_mbps": median(cold), f"{name}_cold_runs": cold})
        measure()
        warm = [measure() for _ in range(3)]
        lim.update({f"{name}_warm_mbps": median(warm), f"{name}_warm_runs": warm})


def run(bench):
    log("machine limits: SHA-256, fsync'd disk write, cat")
    lim = bench.res.data.setdefault(KEY, {})
    buf = os.urandom(64 * MiB)
    lim["sha256_mbps"] = rates.sha256_rate(buf, BLOB_MIB)
    lim["sha_mib"] = BLOB_MIB
    openssl = rates.openssl_sha256_rate()
    if openssl:
        lim["openssl_sha256_mbps"] = openssl
    _disk(bench, lim, buf[:16 * MiB])
    del buf
    lim["push_limit_mbps"] = min(lim["sha256_mbps"], lim["disk_fsync_mbps"])
    _reads(bench, lim)
    log(f"  limits: {json.dumps({k: round(v, 1) for k, v in lim.items() if isinstance(v, (int, float))})}")


def _median_of(runs) -> str:
    return f"median of {len(runs)}: {fmt_runs(runs)}"


def section(d: dict) -> str:
    lim = d.get(KEY, {})
    if not lim:
        return ""
    rows = [f"| SHA-256, one core (Python hashlib / OpenSSL, 1 MiB updates over {lim.get('sha_mib')} MiB) | "
            f"{fmt(lim.get('sha256_mbps'), 'MB/s')} |"]
    if lim.get("openssl_sha256_mbps"):
        rows.append(f"| SHA-256, one core (`openssl speed -bytes 1048576 sha256`) | "
                    f"{fmt(lim.get('openssl_sha256_mbps'), 'MB/s')} |")
    rows.append(f"| Disk write, {lim.get('disk_mib')} MiB in 16 MiB writes + fsync, new files "
                f"({_median_of(lim.get('disk_fsync_runs', []))}) | {fmt(lim.get('disk_fsync_mbps'), 'MB/s')} |")
    if lim.get("disk_reused_mbps"):
        rows.append(f"| The same into a file deleted just before ({_median_of(lim.get('disk_reused_runs', []))}) | "
                    f"{fmt(lim.get('disk_reused_mbps'), 'MB/s')} |")
    if lim.get("disk_direct_mbps"):
        rows.append(f"| Disk write with direct I/O (`O_DIRECT`, 2 MiB writes, no page cache) + fsync, new files "
                    f"({_median_of(lim.get('disk_direct_runs', []))}) | {fmt(lim.get('disk_direct_mbps'), 'MB/s')} |")
    for name, label in (("cat", "`cat FILE > /dev/null`"),
                        ("loopback", "The same file sent with `sendfile` over loopback TCP (no HTTP), read in "
                                     "1 MiB pieces (the pull client's reader)"),
                        ("loopback_copy", "The same, but read into a 1 MiB buffer and written to the socket "
                                          "(no `sendfile`)")):
        for mode in ("warm", "cold"):
            runs = lim.get(f"{name}_{mode}_runs") or []
            each = f" ({_median_of(runs)})" if len(runs) > 1 else ""
            rows.append(f"| {label}, {BLOB_MIB} MiB, {mode} page cache{each} | "
                        f"{fmt(lim.get(f'{name}_{mode}_mbps'), 'MB/s')} |")
    return ("## The machine's limits (measured in the same run)\n\n| Measure | Rate |\n|---|---:|\n"
            + "\n".join(rows) + "\n"
            "\nMB/s are 10⁶ bytes per second throughout. The disk limit used for the push target is the "
            "new-file rate through the page cache (what `dd conv=fsync` to a new file measures). On this "
            "virtual machine that rate is set by memory, not by the disk: filling page cache with memory "
            "the VM has not touched before is slow (the same slowdown shows on a tmpfs, with no disk at "
            "all), reused memory is fast, and direct I/O, which bypasses the page cache, is faster "
            "still. Wharf writes uploads with direct I/O; Distribution writes through the page cache.\n")
