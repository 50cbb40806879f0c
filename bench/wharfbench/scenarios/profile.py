"""BENCH_PROFILE=1: where Wharf's CPU time goes (perf, flat profile by symbol) during scenario 3's
manifest GET load and a scenario 1 blob push. Not part of the report: prints the top symbols and
leaves perf's output in the work folder."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from .. import wrk
from ..client import push_blob
from ..files import write_random_file
from ..registries import Wharf
from ..settings import BLOB_MIB, PROFILE_CALLGRAPH, MiB
from ..shared import harness, oci
from .manifest import PATH, REPO


def _record(wharf, workdir: Path, name: str, seconds: float, load):
    """perf record of the Wharf process while `load()` runs; prints the top symbols."""
    data = workdir / f"perf-{name}.data"
    graph = ["-g"] if PROFILE_CALLGRAPH else []
    perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "999", *graph, "-o", str(data),
                             "-p", str(wharf.pid), "--", "sleep", str(seconds)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        load()
    finally:
        perf.wait(timeout=seconds + 60)
    rep = harness.run(["perf", "report", "-i", str(data), "--stdio", "--no-children", "--sort", "dso,symbol",
                       "--percent-limit", "0.7"], check=False, timeout=300).stdout
    swift = shutil.which("swift")
    if swift:
        rep = harness.run([swift, "demangle", "--simplified"], input=rep, check=False, timeout=120).stdout or rep
    (workdir / f"perf-{name}.txt").write_text(rep)
    print(f"\n=== Wharf, {name}: top symbols (perf, cpu-clock) ===")
    for line in [x for x in rep.splitlines() if x.strip() and not x.startswith("#")][:40]:
        print(line[:220])


def profile(workdir: Path, wharf_bin: Path, image):
    if shutil.which("perf") is None:
        sys.exit("perf is not installed (apt-get install linux-perf)")
    wharf = Wharf(workdir / "wharf-profile", wharf_bin)
    path = workdir / "profile-blob.bin"
    try:
        wharf.start_fresh()
        wharf.api.push_image(REPO, "latest", image)
        token = wharf.bearer_token(f"repository:{REPO}:pull")
        script = wrk.write_script(workdir / "wrk-profile.lua",
                                  {"Accept": oci.ALL_MANIFESTS, "Authorization": f"Bearer {token}"})

        def manifest_load():
            out = wrk.run(script, wharf.url + PATH, 12)
            rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
            print("wrk:", rps.group(0) if rps else out[-500:])

        _record(wharf, workdir, "manifest-get", 10, manifest_load)
        digest, size = write_random_file(path, BLOB_MIB), BLOB_MIB * MiB

        def push_load():
            secs = push_blob(wharf, "bench/blobs", path, digest, size)
            print(f"push: {size / secs / 1e6:.0f} MB/s")

        _record(wharf, workdir, "blob-push", max(4, BLOB_MIB / 200), push_load)
    finally:
        wharf.stop()
        path.unlink(missing_ok=True)
