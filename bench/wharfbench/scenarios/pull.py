"""Scenario 2: blob pull, after dropping the page cache (cold) and again (warm)."""

from __future__ import annotations

import os

from ..client import pull_blob, push_blob
from ..console import log
from ..format import Table, fmt, fmt_runs, per_registry, share, versus
from ..machine import drop_caches
from ..registries import in_turn
from ..results import median
from ..settings import BLOB_MIB, PULL_COLD_REPS, PULL_WARM_REPS

NUMBER, KEY, RETRYABLE = 2, "pull", True
REPO = "bench/pull"
CEILINGS = (("loopback", "loopback with `sendfile`"), ("loopback_copy", "loopback with read + write"))


def _cold(bench, s: dict, digest: str, size: int) -> dict:
    """The page cache is dropped before every pull; the registries take turns going first."""
    cold: dict[str, list] = {r.name: [] for r in bench.registries}
    for rep in range(PULL_COLD_REPS):
        for reg in in_turn(bench.registries, rep):
            ok, how = drop_caches()
            s["cold_note"] = f"`{how}`" if ok else how
            if not ok:
                break
            secs = pull_blob(reg, REPO, digest, size)
            cold[reg.name].append(size / secs / 1e6)
            log(f"  {reg.name} cold: {secs:.2f} s, {cold[reg.name][-1]:.0f} MB/s")
    if not cold[bench.wharf.name]:
        bench.res.note(f"cold pull skipped: {s.get('cold_note')}")
    return cold


def run(bench):
    log(f"scenario 2: blob pull {BLOB_MIB} MiB, cold and warm")
    s = bench.res.scenario(KEY)
    path, digest, size = bench.files.get("pull", BLOB_MIB)
    for reg in bench.registries:
        push_blob(reg, REPO, path, digest, size)
    os.sync()
    cold = _cold(bench, s, digest, size)
    for reg in bench.registries:
        r = s.setdefault(reg.name, {})
        r["cold"] = median(cold[reg.name])
        r["cold_runs"] = cold[reg.name]
        pull_blob(reg, REPO, digest, size)  # warms the cache (the last cold round dropped it)
        rates = [size / pull_blob(reg, REPO, digest, size) / 1e6 for _ in range(PULL_WARM_REPS)]
        r["warm"] = median(rates)
        r["warm_runs"] = rates
        log(f"  {reg.name} warm: {', '.join(f'{x:.0f}' for x in rates)} MB/s")
    bench.files.remove("pull")


def section(s: dict, d: dict) -> str:
    lim = d.get("limits", {})
    t = Table()
    for mode in ("cold", "warm"):
        w, dd = per_registry(s, mode)
        t.row(f"{mode.capitalize()} page cache, MB/s", w, dd, "MB/s", True)
        wr, dr = per_registry(s, mode + "_runs")
        if len(wr or []) > 1 or len(dr or []) > 1:
            t.text(f"{mode.capitalize()}, each pull", f"{fmt_runs(wr or [])} MB/s", f"{fmt_runs(dr or [])} MB/s")
        cat = lim.get(f"cat_{mode}_mbps")
        if cat:
            t.row(f"{mode.capitalize()}, share of `cat` ({mode}: {fmt(cat, 'MB/s')})", share(w, cat), share(dd, cat),
                  "%", True)
        for key, what in CEILINGS:
            ceiling = lim.get(f"{key}_{mode}_mbps")
            if ceiling:
                t.row(f"{mode.capitalize()}, share of {what} ({fmt(ceiling, 'MB/s')})", share(w, ceiling),
                      share(dd, ceiling), "%", True)
    return (f"## 2. Blob pull, {BLOB_MIB} MiB\n\n"
            f"`GET /v2/<name>/blobs/<digest>`, read in 1 MiB pieces and discarded. Cold: "
            f"{s.get('cold_note', '')} before each pull, median of {PULL_COLD_REPS} (the registries "
            f"take turns going first). Warm: one untimed pull, then the median of {PULL_WARM_REPS}.\n\n"
            + t.render())


def _plain(lim: dict, mode: str) -> dict:
    """The loopback rates without HTTP (sendfile, read + write) of this page-cache mode."""
    return {k: lim.get(f"{k}_{mode}_mbps") for k, _ in CEILINGS}


def targets(s: dict, d: dict) -> list:
    lim = d.get("limits", {})
    out = []
    for mode in ("cold", "warm"):
        w, dd = per_registry(s, mode)
        out.append(versus(f"Blob pull ({mode}) ≥ Distribution", w, dd, 1,
                          detail=f"{fmt(w, 'MB/s')} vs {fmt(dd, 'MB/s')}"))
        cat = lim.get(f"cat_{mode}_mbps")
        if w and cat:
            plain = [x for x in _plain(lim, mode).values() if x]
            why = (f" (moving the same file over loopback to the same reader with no HTTP at all, the faster of "
                   f"`sendfile` and read + write, reaches {fmt(max(plain), 'MB/s')} = {max(plain) / cat * 100:.0f} % "
                   f"of `cat`; Wharf reaches {w / max(plain) * 100:.0f} % of that)") if plain else ""
            out.append((f"Blob pull ({mode}) ≥ 80 % of `cat` ({fmt(cat, 'MB/s')})", f"{w / cat * 100:.0f} %{why}",
                        w / cat >= 0.8))
    return out


def held_back(s: dict, d: dict) -> list:
    lim = d.get("limits", {})
    out = []
    for mode in ("cold", "warm"):
        w, dd = per_registry(s, mode)
        cat, plain = lim.get(f"cat_{mode}_mbps"), _plain(lim, mode)
        if w and cat and w / cat < 0.8 and all(plain.values()):
            best = max(plain.values())
            out.append(f"- **Blob pull ({mode}) vs `cat`.** A pull moves every byte through a TCP connection into "
                       f"another process; `cat FILE > /dev/null` copies from the page cache into nothing. Moving the "
                       f"same file over loopback TCP to the same 1 MiB reader with no HTTP at all reaches "
                       f"{fmt(plain['loopback'], 'MB/s')} with `sendfile` and {fmt(plain['loopback_copy'], 'MB/s')} with "
                       f"read + write ({best / cat * 100:.0f} % of `cat` at best), and Wharf reaches "
                       f"{fmt(w, 'MB/s')} ({w / best * 100:.0f} % of the faster). "
                       + ("On 2 cores shared with the client, 80 % of `cat` is out of reach of any server. "
                          if best / cat < 0.8 else
                          "The rest of the gap is Wharf's own: serving through HTTP with reads on a thread pool "
                          "handing 1 MiB pieces to the event loop. ")
                       + "Wharf cannot use `sendfile`: Hummingbird's response writer takes buffers, not files.")
        if w and dd and w < dd:
            wr, dr = per_registry(s, mode + "_runs")
            out.append(f"- **Blob pull ({mode}) vs Distribution.** Each pull: Wharf {fmt_runs(wr or [])} MB/s, "
                       f"Distribution {fmt_runs(dr or [])} MB/s: the runs of each registry spread wider than the "
                       f"difference of the medians.")
    return out
