"""The BENCH_* environment (defaults: the benchmark as the issue defines it); see bench/README.md."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024
HOST = "127.0.0.1"


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


BLOB_MIB = env_int("BENCH_BLOB_MIB", 1024)            # scenarios 1 and 2
CHUNK_MIB = env_int("BENCH_CHUNK_MIB", 16)            # scenarios 1 and 10, chunked
PUSH_REPS = env_int("BENCH_PUSH_REPS", 2)             # scenario 1, pushes per mode (distinct data)
PULL_WARM_REPS = env_int("BENCH_PULL_REPS", 3)        # scenario 2, warm pulls
PULL_COLD_REPS = env_int("BENCH_PULL_COLD_REPS", 3)   # scenario 2, cold pulls (cache dropped before each)
WRK_SECONDS = env_int("BENCH_WRK_SECONDS", 20)        # scenario 3
WRK_CONNECTIONS = env_int("BENCH_WRK_CONNECTIONS", 64)
WRK_THREADS = env_int("BENCH_WRK_THREADS", 2)
TAGS = env_int("BENCH_TAGS", 10_000)                  # scenario 4
REPOS = env_int("BENCH_REPOS", 10_000)                # scenario 5
PAGE = env_int("BENCH_PAGE", 100)                     # scenarios 4 and 5, n=
LIST_WRK_SECONDS = env_int("BENCH_LIST_WRK_SECONDS", 10)          # scenario 4, wrk per list kind
LIST_WRK_CONNECTIONS = env_int("BENCH_LIST_WRK_CONNECTIONS", 16)
LISTING_REPS = env_int("BENCH_LISTING_REPS", 5)       # scenarios 4 and 5 (fewer if slow)
LISTING_BUDGET = env_int("BENCH_LISTING_BUDGET", 60)  # seconds per (registry, listing kind)
SETUP_THREADS = env_int("BENCH_SETUP_THREADS", 16)
SETUP_BUDGET = env_int("BENCH_SETUP_BUDGET", 180)     # seconds per registry for 10k setups
LAYER_MIB = env_int("BENCH_LAYER_MIB", 100)           # scenario 6, 5 layers of this size
DOCKER_PUSHES = env_int("BENCH_DOCKER_PUSHES", 3)     # scenario 6, pushes per registry (a new image each)
DOCKER_REPS = env_int("BENCH_DOCKER_PULLS", 4)        # scenario 6, pulls per registry
BIG_BLOB_MIB = env_int("BENCH_BIG_BLOB_MIB", 2048)    # scenario 7, push while sampling RSS
STARTUP_RUNS = env_int("BENCH_STARTUP_RUNS", 5)       # scenario 8
HUB_REPOS = env_int("BENCH_HUB_REPOS", 100_000)       # scenario 9, repositories in all
HUB_NAMESPACE_REPOS = env_int("BENCH_HUB_NAMESPACE_REPOS", 1_000)  # scenario 9, of them in the one namespace listed
HUB_WRK_SECONDS = env_int("BENCH_HUB_WRK_SECONDS", 10)            # scenario 9, wrk per request kind
HUB_WRK_CONNECTIONS = env_int("BENCH_HUB_WRK_CONNECTIONS", 4)
S3_BLOB_MIB = env_int("BENCH_S3_BLOB_MIB", 256)      # scenario 10, each blob pushed and pulled
S3_REPS = env_int("BENCH_S3_REPS", 3)                 # scenario 10, pushes per mode and pulls, per setup
S3_WRK_SECONDS = env_int("BENCH_S3_WRK_SECONDS", 10)  # scenario 10, wrk per setup
S3_WARM_GETS = env_int("BENCH_S3_WARM_GETS", 1000)    # scenario 10, warm manifest GETs whose queries are counted
S3_COLD_READS = env_int("BENCH_S3_COLD_READS", 3)     # scenario 10, cold reads counted (after a write; after a restart)
GC_BLOBS = env_int("BENCH_GC_BLOBS", 100_000)          # scenario 11, blobs written (half become garbage)
GC_BLOBS_PER_REPO = env_int("BENCH_GC_BLOBS_PER_REPO", 100)  # scenario 11, blobs of each repository's image
GC_SERVER = env_int("BENCH_GC_SERVER", 1) == 1        # scenario 11, also POST /api/admin/gc to a server on a copy
QUIET_WAIT = env_int("BENCH_QUIET_WAIT", 600)         # seconds to wait, per scenario, for a quiet machine

ONLY = {s.strip() for s in os.environ.get("BENCH_ONLY", "").split(",") if s.strip()}
OUTPUT = Path(os.environ.get("BENCH_OUTPUT", str(REPO_ROOT / "BENCHMARKS.md")))
KEEP = os.environ.get("BENCH_KEEP", "") == "1"
WORKDIR = os.environ.get("BENCH_WORKDIR", "")
MERGE = os.environ.get("BENCH_MERGE", "")
RENDER = os.environ.get("BENCH_RENDER", "")
PROFILE = os.environ.get("BENCH_PROFILE", "") == "1"
PROFILE_CALLGRAPH = os.environ.get("BENCH_PROFILE_CALLGRAPH", "") == "1"
WHARF_COMMIT = os.environ.get("BENCH_WHARF_COMMIT", "")
WHARF_BIN = Path(os.environ.get("WHARF_BIN") or REPO_ROOT / ".build" / "release" / "wharf")


def wanted(n: int) -> bool:
    """Whether BENCH_ONLY asks for scenario n (all scenarios when it is unset)."""
    return not ONLY or str(n) in ONLY
