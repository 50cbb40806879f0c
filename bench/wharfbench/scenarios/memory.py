"""Scenario 7: resident memory idle (after start), under scenario 3's load, and pushing a big blob."""

from __future__ import annotations

import os
import time

from ..client import push_blob
from ..console import log
from ..format import Table, fmt
from ..rss import RssSampler, rss_breakdown, rss_kib
from ..settings import BIG_BLOB_MIB

NUMBER, KEY, RETRYABLE = 7, "memory", False


def record_idle(bench, reg):
    """The RSS (and its parts) of a registry that has just started, before any scenario."""
    time.sleep(2)
    m = bench.res.scenario(KEY).setdefault(reg.name, {})
    m["idle_mib"] = rss_kib(reg.pid) / 1024
    m.update(rss_breakdown(reg.pid))
    log(f"  {reg.name} pid {reg.pid}, idle RSS {m['idle_mib']:.1f} MiB")


def run(bench):
    """The big push (idle figures come with the start, load figures with scenario 3)."""
    log(f"scenario 7: RSS while pushing a {BIG_BLOB_MIB} MiB blob")
    mem = bench.res.scenario(KEY)
    path, digest, size = bench.files.get("big", BIG_BLOB_MIB)
    for reg in bench.registries:
        os.sync()
        time.sleep(1)
        before = rss_kib(reg.pid) / 1024
        with RssSampler(reg.pid) as sampler:
            secs = push_blob(reg, "bench/big", path, digest, size)
        m = mem.setdefault(reg.name, {})
        m.update(big_before_mib=before, big_peak_mib=sampler.peak_mib, big_growth_mib=sampler.peak_mib - before,
                 big_mbps=size / secs / 1e6, big_after_mib=rss_kib(reg.pid) / 1024)
        log(f"  {reg.name}: before {before:.1f} MiB, peak {sampler.peak_mib:.1f} MiB, {m['big_mbps']:.0f} MB/s")
    bench.files.remove("big")


def forget_rerun(memory: dict):
    """Drops what `run` measures (BENCH_MERGE with 7 again); the idle and load figures stay."""
    for reg in memory.values():
        for k in [k for k in reg if k.startswith("big_")]:
            reg.pop(k)


def section(s: dict, d: dict) -> str:
    t = Table()
    W, D = s.get("Wharf", {}), s.get("Distribution", {})
    for key, label, unit in (("idle_mib", "RSS idle after start, MiB", "MiB"),
                             ("rssanon_mib", "… anonymous memory (RssAnon), MiB", "MiB"),
                             ("rssfile_mib", "… file-backed pages mapped (RssFile), MiB", "MiB"),
                             ("minor_faults", "… page faults until then (at most × 4 KiB touched)", ""),
                             ("load_peak_mib", "Peak RSS under scenario 3 load, MiB", "MiB"),
                             ("big_before_mib", f"RSS before the {BIG_BLOB_MIB} MiB push, MiB", "MiB"),
                             ("big_peak_mib", f"Peak RSS during the {BIG_BLOB_MIB} MiB push, MiB", "MiB")):
        t.row(label, W.get(key), D.get(key), unit, False)
    t.row(f"Growth during the {BIG_BLOB_MIB} MiB push, MiB", W.get("big_growth_mib"), D.get("big_growth_mib"),
          "MiB", False, digits=1)
    if W.get("big_mbps"):
        t.row(f"{BIG_BLOB_MIB} MiB push rate, MB/s", W.get("big_mbps"), D.get("big_mbps"), "MB/s", True)
    return ("## 7. Memory (VmRSS from /proc/PID/status, sampled every 100 ms)\n\n"
            f"Idle: 2 s after the registry first answered, before any scenario. Under load: peak during "
            f"the scenario 3 wrk runs. Big push: peak while pushing a {BIG_BLOB_MIB} MiB blob "
            f"monolithically, against the RSS just before that push.\n\n" + t.render())


def _at_most(target: str, value, limit: float, shown: str):
    return (target, shown, value <= limit) if value is not None else None


def targets(s: dict, d: dict) -> list:
    mem = s.get("Wharf", {})
    why = ""
    if mem.get("rssanon_mib") is not None and mem.get("minor_faults"):
        why = (f" ({fmt(mem['rssanon_mib'], 'MiB', 1)} anonymous; {fmt(mem.get('rssfile_mib'), 'MiB', 1)} are "
               f"clean file-backed pages of the binary and Swift libraries, which the kernel maps in blocks of "
               f"up to 64 KiB around each of {mem['minor_faults']:,} page faults (fault-around) that touched at "
               f"most {fmt(mem['minor_faults'] * 4 / 1024, 'MiB', 1)})")
    idle, load, growth = mem.get("idle_mib"), mem.get("load_peak_mib"), mem.get("big_growth_mib")
    return [_at_most("RSS idle ≤ 30 MiB", idle, 30, fmt(idle, "MiB", 1) + why),
            _at_most("RSS under load ≤ 100 MiB", load, 100, fmt(load, "MiB", 1)),
            _at_most(f"RSS flat (+≤ 32 MiB) while pushing {BIG_BLOB_MIB} MiB", growth, 32,
                     f"+{fmt(growth, 'MiB', 1)}")]


def held_back(s: dict, d: dict) -> list:
    mem = s.get("Wharf", {})
    if mem.get("idle_mib") is None or mem["idle_mib"] <= 30 or mem.get("rssanon_mib") is None:
        return []
    return [f"- **Idle RSS.** Of {fmt(mem['idle_mib'], 'MiB', 1)}, {fmt(mem['rssanon_mib'], 'MiB', 1)} are "
            f"anonymous memory (everything Wharf allocated); {fmt(mem.get('rssfile_mib'), 'MiB', 1)} are clean, "
            f"shared pages of the executable and the Swift runtime and Foundation libraries. Start-up took "
            f"{mem.get('minor_faults', 0):,} page faults, so it touched at most "
            f"{fmt(mem.get('minor_faults', 0) * 4 / 1024, 'MiB', 1)}; the kernel maps up to 64 KiB of "
            f"already-cached file pages around each fault (fault-around), which the process cannot opt out of "
            f"(`madvise(MADV_RANDOM)` on the mappings left it unchanged, and so did linking the Swift runtime and "
            f"Foundation statically: 39.9 MiB; both tried by hand on 2026-11-25). Those pages are page cache the "
            f"system can drop at any time; Distribution, a single static Go binary, maps "
            f"{fmt(s.get('Distribution', {}).get('rssfile_mib'), 'MiB', 1)} of them."]
