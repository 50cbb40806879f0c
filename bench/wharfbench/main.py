"""Entry point: render only (BENCH_RENDER), profile (BENCH_PROFILE), or a run (BENCH_MERGE to merge)."""

from __future__ import annotations

import fcntl
import json
import shutil
import sys
import tempfile
from pathlib import Path

from . import report, settings
from .console import log
from .merge import merged_base
from .results import Results
from .runner import Bench
from .scenarios.profile import profile
from .shared import oci

TOOLS = ("wrk", "docker-registry", "dockerd", "docker", "openssl")


def write_report(data: dict, source: str):
    settings.OUTPUT.write_text(report.render(data))
    log(f"wrote {settings.OUTPUT} ({source})")


_LOCK = []  # the lock file, open until the process exits


def lock_machine():
    """One benchmark at a time: two runs would share the machine, and in one folder their files."""
    lock = open("/var/tmp/wharf-bench.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        sys.exit("another ./bench/run is running on this machine; wait for it to finish")
    _LOCK.append(lock)


def main():
    if settings.RENDER:
        write_report(json.loads(Path(settings.RENDER).read_text()), f"from {settings.RENDER}")
        return
    if not settings.WHARF_BIN.exists():
        sys.exit(f"no Wharf binary at {settings.WHARF_BIN}")
    for tool in TOOLS:
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (./bench/run installs it)")
    workdir = Path(settings.WORKDIR or tempfile.mkdtemp(prefix="wharf-bench-", dir="/var/tmp"))
    workdir.mkdir(parents=True, exist_ok=True)
    lock_machine()
    log(f"work folder {workdir}")
    if settings.PROFILE:
        profile(workdir, settings.WHARF_BIN, oci.make_image(n_layers=1, layer_size=1024, seed="profile"))
        return
    res = None
    if settings.MERGE:
        if not settings.ONLY:
            sys.exit("BENCH_MERGE needs BENCH_ONLY: the scenarios to run again")
        res = Results(merged_base(json.loads(Path(settings.MERGE).read_text()), settings.ONLY))
    bench = Bench(workdir, settings.WHARF_BIN, res)
    try:
        bench.run()
    finally:
        if not settings.KEEP:
            for sub in ("wharf", "distribution"):
                for name in ("data", "startup-data", "startup", "hub-data", "gc-data", "gc-server-data"):
                    shutil.rmtree(workdir / sub / name, ignore_errors=True)
    write_report(bench.res.data, f"raw results: {workdir / 'results.json'}")
