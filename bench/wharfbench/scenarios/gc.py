"""Scenario 11: garbage collection of 100,000 blobs of which half are garbage, Wharf only, on a Wharf
of its own: `wharf gc --dry-run` and `wharf gc` (the command line, on the stopped Wharf's data
folder), and POST /api/admin/gc on a server running on a copy of the same folder."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import requests

from .. import gcdata
from ..console import log
from ..format import Table, fmt
from ..registries import Wharf
from ..rss import RssSampler, rss_kib
from ..settings import GC_BLOBS, GC_BLOBS_PER_REPO, GC_SERVER, KEEP
from ..shared import harness

NUMBER, KEY, RETRYABLE = 11, "gc", True
TIMEOUT = 3600  # seconds any one collection may take before it is stopped
CLI_FLAGS = ("--grace-period", "0", "--untagged-age", "0")
SUMMARY = re.compile(r"(?:dry run: would reclaim|reclaimed) (\d+) blobs, (\d+) manifests, (\d+) bytes .* in ([\d.]+) s")


def _last_lines(path: Path, size: int = 4096) -> str:
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - size))
        return f.read().decode(errors="replace")


def _cli(binary: Path, data_dir: Path, out_path: Path, dry_run: bool) -> dict:
    """One `wharf gc` on `data_dir`: wall time, and from wait4 its CPU time and peak RSS (ru_maxrss,
    the kernel's high-water mark of the process: exact, not sampled); what its summary line says."""
    cmd = [str(binary), "gc", *CLI_FLAGS, "--data-dir", str(data_dir)] + (["--dry-run"] if dry_run else [])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WHARF_", "AWS_"))}
    with open(out_path, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                preexec_fn=harness.die_with_parent())
        timer = threading.Timer(TIMEOUT, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    tail = _last_lines(out_path)
    m = SUMMARY.search(tail)
    if proc.returncode != 0 or not m:
        raise RuntimeError(f"{' '.join(cmd)} -> exit {proc.returncode}: {tail[-500:]}")
    return {"seconds": seconds, "peak_rss_mib": usage.ru_maxrss / 1024, "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "blobs": int(m.group(1)), "manifests": int(m.group(2)), "bytes": int(m.group(3)),
            "reported_seconds": float(m.group(4)), "command": " ".join(["wharf", *cmd[1:]])}


def _vm_hwm_kib(pid: int) -> int:
    """VmHWM (peak VmRSS since the process started) in KiB, or 0."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _server(bench, data_dir: Path) -> dict:
    """POST /api/admin/gc {"grace_period":0} as the administrator to a Wharf serving `data_dir`
    (no scheduled collections): the time the request took, the RSS before, its peak while it ran
    (sampled every 100 ms) and VmHWM after; what the answer says."""
    srv = Wharf(bench.wharf.workdir / "gc-server", bench.wharf_bin, bench.wharf.password, data_dir,
                extra_args=["--gc-interval", "0"])
    try:
        srv.start()
        time.sleep(1)
        before = rss_kib(srv.pid) / 1024
        with RssSampler(srv.pid) as sampler:
            t0 = time.perf_counter()
            r = requests.post(srv.url + "/api/admin/gc", json={"grace_period": 0}, headers=srv.auth(), timeout=TIMEOUT)
            seconds = time.perf_counter() - t0
        if r.status_code != 200:
            raise RuntimeError(f"POST /api/admin/gc -> {r.status_code} {r.text[:300]}")
        body = r.json()
        return {"seconds": seconds, "rss_before_mib": before, "peak_rss_mib": sampler.peak_mib,
                "hwm_mib": _vm_hwm_kib(srv.pid) / 1024, "blobs": body["blobs"], "manifests": body["manifests"],
                "bytes": body["bytes"], "links": body.get("links"), "reported_seconds": body.get("duration_seconds")}
    finally:
        srv.stop()


def _verify(bench, what: str, result: dict, seeded: dict, data_dir: Path, dry_run: bool):
    """Adds the blob files and rows left to `result`, and a note when the run did not reclaim
    exactly the garbage (or, dry, reclaimed anything)."""
    result["files_after"] = gcdata.blob_files(data_dir)
    result.update({f"{k}_after": v for k, v in gcdata.blob_rows(data_dir).items()})
    keep = seeded["blobs"] if dry_run else seeded["blobs"] - seeded["garbage_blobs"]
    problems = []
    if (result["blobs"], result["bytes"]) != (seeded["garbage_blobs"], seeded["garbage_bytes"]):
        problems.append(f"reported {result['blobs']:,} blobs and {result['bytes']:,} bytes, not the "
                        f"{seeded['garbage_blobs']:,} blobs and {seeded['garbage_bytes']:,} bytes of garbage")
    if result["files_after"] != keep or result["rows_after"] != keep:
        problems.append(f"left {result['files_after']:,} blob files and {result['rows_after']:,} rows in `blobs`, "
                        f"not {keep:,}")
    if result["manifests"]:
        problems.append(f"deleted {result['manifests']:,} manifests (none was untagged)")
    result["verified"] = not problems
    if problems:
        bench.res.note(f"scenario 11: {what} " + "; ".join(problems) + ".")


def run(bench):
    log(f"scenario 11: garbage collection (Wharf only), {GC_BLOBS} blobs in repositories of {GC_BLOBS_PER_REPO}, "
        f"half of the repositories deleted")
    s = bench.res.scenario(KEY)
    workdir = bench.wharf.workdir / "gc"
    data_dir, server_dir = bench.wharf.workdir / "gc-data", bench.wharf.workdir / "gc-server-data"
    seed = bench.wharf.probe(workdir, data_dir)
    try:
        t0 = time.monotonic()
        seed.start_fresh()  # its migrations create the schema (and the administrator)
        seed.stop()
        r = s["Wharf"] = gcdata.fill(data_dir, GC_BLOBS, GC_BLOBS_PER_REPO)
        log(f"  {r['blobs']:,} blobs ({r['bytes'] / 1e6:.1f} MB) in {r['repos']:,} repositories: files "
            f"{r['files_seconds']:.1f} s, rows {r['rows_seconds']:.1f} s; {r['deleted_repos']:,} repositories "
            f"deleted ({r['delete_seconds']:.1f} s): {r['garbage_blobs']:,} blobs, {r['garbage_bytes']:,} bytes of garbage")
        if GC_SERVER:
            shutil.rmtree(server_dir, ignore_errors=True)
            t_copy = time.monotonic()
            harness.run(["cp", "-a", str(data_dir), str(server_dir)], timeout=TIMEOUT)
            os.sync()
            r["copy_seconds"] = time.monotonic() - t_copy
        r["setup_seconds"] = time.monotonic() - t0
        for key, dry in (("dry_run", True), ("cli", False)):
            res = r[key] = _cli(bench.wharf_bin, data_dir, workdir / f"gc-{key}.out", dry)
            _verify(bench, f"`{res['command']}`", res, r, data_dir, dry)
            log(f"  {res['command']}: {res['seconds']:.2f} s ({res['blobs']:,} blobs, {res['bytes']:,} bytes; "
                f"its own figure {res['reported_seconds']:.2f} s), CPU {res['cpu_seconds']:.2f} s, peak RSS "
                f"{res['peak_rss_mib']:.1f} MiB; {res['files_after']:,} blob files left")
        if GC_SERVER:
            res = r["server"] = _server(bench, server_dir)
            _verify(bench, "POST /api/admin/gc", res, r, server_dir, False)
            log(f"  POST /api/admin/gc: {res['seconds']:.2f} s ({res['blobs']:,} blobs, {res['bytes']:,} bytes), "
                f"RSS {res['rss_before_mib']:.1f} MiB before, peak {res['peak_rss_mib']:.1f} MiB (VmHWM "
                f"{res['hwm_mib']:.1f} MiB); {res['files_after']:,} blob files left")
    finally:
        seed.stop()
        if not KEEP:
            for folder in (data_dir, server_dir):
                shutil.rmtree(folder, ignore_errors=True)


def _rate(x: dict):
    return x["blobs"] / x["seconds"] if x.get("seconds") and x.get("blobs") else None


def section(s: dict, d: dict) -> str:
    w = s.get("Wharf", {})
    t = Table(wharf_only=True)
    runs = (("dry_run", "`wharf gc --dry-run`", "blobs found"), ("cli", "`wharf gc`", "blobs reclaimed"),
            ("server", "`POST /api/admin/gc` (server running)", "blobs reclaimed"))
    for key, label, what in runs:
        x = w.get(key)
        if not x:
            continue
        t.row(f"{label}: time, s", x["seconds"], None, "s", False)
        t.row(f"{label}: {what}/s", _rate(x), None, "", True)
        if key == "server":
            t.row(f"{label}: RSS before, MiB", x.get("rss_before_mib"), None, "MiB", False)
            t.row(f"{label}: peak RSS while it ran (sampled every 100 ms), MiB", x.get("peak_rss_mib"), None, "MiB", False)
            t.row(f"{label}: VmHWM after (peak since start), MiB", x.get("hwm_mib"), None, "MiB", False)
        else:
            t.row(f"{label}: peak RSS (ru_maxrss), MiB", x.get("peak_rss_mib"), None, "MiB", False)
            t.row(f"{label}: CPU time (user + system), s", x.get("cpu_seconds"), None, "s", False)
        t.text(f"{label}: blobs, bytes{' it would reclaim' if key == 'dry_run' else ' reclaimed'}",
               f"{x['blobs']:,}, {x['bytes']:,} ({x['bytes'] / 2**20:,.1f} MiB)")
        t.text(f"{label}: blob files / rows of `blobs` left", f"{x.get('files_after', 0):,} / {x.get('rows_after', 0):,}"
               + (" ✅" if x.get("verified") else " ❌ (see Notes)"))
    t.row(f"Setup: {w.get('blobs', 0):,} blob files generated, hashed, written and synced, s", w.get("files_seconds"), None, "s", False)
    t.row("Setup: their rows written into wharf.db (one transaction), s", w.get("rows_seconds"), None, "s", False)
    t.row(f"Setup: {w.get('deleted_repos', 0):,} repositories' rows deleted, s", w.get("delete_seconds"), None, "s", False)
    if w.get("copy_seconds") is not None:
        t.row("Setup: the data folder copied for the server (`cp -a`), s", w.get("copy_seconds"), None, "s", False)
    t.setup("Setup in all, s", s)
    blobs, repos, per_repo = w.get("blobs", GC_BLOBS), w.get("repos", 0), w.get("blobs_per_repo", GC_BLOBS_PER_REPO)
    deleted, garbage = w.get("deleted_repos", 0), w.get("garbage_blobs", 0)
    return (f"## 11. Garbage collection, {blobs:,} blobs, half garbage\n\n"
            f"Wharf only, on a Wharf of its own started after the other scenarios' registries stopped: started "
            f"once on an empty data folder (its migrations create the schema), stopped, and filled with "
            f"Python's `sqlite3` and plain files: {repos:,} repositories of one image tagged `latest` each (a "
            f"config and {per_repo - 1} layers of {gcdata.MIN_BYTES // 1024}–{gcdata.MAX_BYTES // 1024} KiB of "
            f"random data, every blob its own, stored as `blobs/sha256/<2 hex>/<hex>`), written as a push writes "
            f"them (`repositories`, `blobs`, `repository_blobs`, `manifests`, `manifest_references`, `tags`) in "
            f"one transaction; then {deleted:,} of the repositories were deleted from the database as a "
            f"repository DELETE leaves them, so {garbage:,} blobs ({fmt(w.get('garbage_bytes', 0) / 2**20, 'MiB')}) "
            f"are linked by nothing while their rows and files remain. `wharf gc {' '.join(CLI_FLAGS)} --dry-run` "
            f"then `wharf gc {' '.join(CLI_FLAGS)}` ran on that folder with Wharf stopped (the command prints a "
            f"line per blob; its output went to a file); their peak RSS is the process's own high-water mark "
            f"(`ru_maxrss` from `wait4`). A copy of the filled folder made before either served a Wharf started "
            f"with `--gc-interval 0`, and the administrator sent it `POST /api/admin/gc {{\"grace_period\":0}}`. "
            f"Each collection's result is checked: the blobs and bytes it reports against the garbage written, "
            f"and the blob files and `blobs` rows left against those of the repositories kept. The files were "
            f"written (and synced) just before, so their directory entries were in the page cache. "
            f"Distribution's collector (`registry garbage-collect`) needs the registry stopped or read-only, "
            f"so it is not compared here.\n\n" + t.render())


def targets(s: dict, d: dict) -> list:
    return []
