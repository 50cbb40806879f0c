"""The facts of the report's Run table: machine, disk, Wharf's commit, tool versions, date."""

from __future__ import annotations

import datetime
import os
import platform
import re
from pathlib import Path

from .machine import loadavg
from .settings import REPO_ROOT, WHARF_COMMIT
from .shared import harness


def _first(path: str, prefix: str, default: str = "?") -> str:
    """The rest of the first line of a file that starts with `prefix`."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line[len(prefix):]
    except OSError:
        pass
    return default


def _out(*cmd) -> str:
    return harness.run(cmd, check=False).stdout.strip()


def machine(workdir: Path) -> dict:
    df = harness.run(["df", "-hT", str(workdir)], check=False).stdout.splitlines()
    disk = " ".join(df[-1].split()[:3]) if len(df) > 1 else "?"
    return {"cores": os.cpu_count(), "cpu": _first("/proc/cpuinfo", "model name").split(":", 1)[-1].strip(),
            "memory_gib": int(_first("/proc/meminfo", "MemTotal:", "0").split()[0]) / 1024 / 1024,
            "os": _first("/etc/os-release", "PRETTY_NAME=").strip('"'), "kernel": platform.release(),
            "disk": f"{disk} (filesystem, type, size), {workdir}"}


def wharf_commit(binary: Path) -> str:
    """HEAD (noting uncommitted changes in Sources/), or, for a binary older than HEAD
    (BENCH_SKIP_BUILD=1), the commit it was built after; BENCH_WHARF_COMMIT overrides."""
    if WHARF_COMMIT:
        return WHARF_COMMIT
    git = ["git", "-C", str(REPO_ROOT)]
    commit = _out(*git, "rev-parse", "--short", "HEAD")
    dirty = _out(*git, "status", "--porcelain", "--", "Sources", "Package.swift")
    head_time = _out(*git, "log", "-1", "--format=%ct")
    built = int(binary.stat().st_mtime)
    if head_time.isdigit() and built < int(head_time):
        before = _out(*git, "log", "-1", "--format=%h", f"--before=@{built}")
        return (f"`{before}` + the changes not yet committed then (the binary predates HEAD `{commit}`: "
                f"BENCH_SKIP_BUILD=1)")
    return f"`{commit}`" + (" (with uncommitted changes in Sources/)" if dirty else "")


def describe(workdir: Path, binary: Path, distribution) -> dict:
    """Everything the Run table shows, as results.json keys."""
    try:
        rel = binary.relative_to(REPO_ROOT)
    except ValueError:
        rel = binary
    built = datetime.datetime.fromtimestamp(binary.stat().st_mtime, datetime.timezone.utc)
    wrk_help = harness.run(["wrk", "--version"], check=False)
    wrk = re.search(r"wrk (\S+)", wrk_help.stdout + wrk_help.stderr)
    docker = _out("docker", "--version")
    return {"machine": machine(workdir), "wharf_commit": wharf_commit(binary),
            "wharf_binary": f"{rel}, built {built:%Y-%m-%d %H:%M} UTC",
            "distribution_version": distribution.version(),
            "wrk_version": wrk.group(1) if wrk else "?",
            "docker_version": docker.replace("Docker version ", "") if docker else "?",
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "loadavg_start": loadavg()}
