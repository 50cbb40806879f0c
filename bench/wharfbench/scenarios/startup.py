"""Scenario 8: spawn → first response and first 200 on /v2/, fresh and existing data folder."""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

from ..console import log
from ..format import Table, fmt, per_registry
from ..results import median
from ..rss import rss_kib
from ..settings import HOST, STARTUP_RUNS

NUMBER, KEY, RETRYABLE = 8, "startup", True
MODES = (("fresh", "empty data folder"), ("existing", "existing data folder"))


def _status(port: int, request: bytes) -> bytes | None:
    """The status code of one request on a new connection, or None when nothing answers yet."""
    try:
        with socket.create_connection((HOST, port), timeout=5) as c:
            c.sendall(request)
            data = c.recv(64)
    except OSError:
        return None
    return data.split(b" ", 2)[1] if data.startswith(b"HTTP/") else None


def once(reg, data_dir: Path, fresh: bool) -> dict:
    """One start of a registry like `reg` on data_dir, polled every 2 ms; times in ms."""
    if fresh:
        shutil.rmtree(data_dir, ignore_errors=True)
    probe = reg.probe(reg.workdir / "startup", data_dir)
    request = (f"GET /v2/ HTTP/1.1\r\nHost: {probe.host}\r\nConnection: close\r\n"
               + "".join(f"{k}: {v}\r\n" for k, v in probe.auth().items()) + "\r\n").encode()
    first_response = first_200 = None
    t0 = time.perf_counter()
    probe.spawn()
    try:
        while time.perf_counter() < t0 + 30:
            if not probe.is_running():
                raise RuntimeError(f"{probe.name} exited during start-up; see {probe.log_path}")
            status = _status(probe.port, request)
            if status is not None:
                now = time.perf_counter() - t0
                first_response = first_response or now
                if status == b"200":
                    first_200 = now
                    break
            time.sleep(0.002)
        rss = rss_kib(probe.pid) / 1024
    finally:
        probe.stop()
    return {"first_response_ms": first_response * 1000 if first_response else None,
            "first_200_ms": first_200 * 1000 if first_200 else None, "rss_mib": rss}


def run(bench):
    log(f"scenario 8: start-up, {STARTUP_RUNS} runs each")
    s = bench.res.scenario(KEY)
    for reg in bench.registries:
        r = s.setdefault(reg.name, {})
        data_dir = reg.workdir / "startup-data"
        for mode, _ in MODES:
            runs = [once(reg, data_dir, fresh=(mode == "fresh")) for _ in range(STARTUP_RUNS)]
            r[mode] = {"first_response_ms": median([x["first_response_ms"] for x in runs]),
                       "first_200_ms": median([x["first_200_ms"] for x in runs]), "runs": runs}
            log(f"  {reg.name} ({mode}): first response {fmt(r[mode]['first_response_ms'])} ms, "
                f"first 200 {fmt(r[mode]['first_200_ms'])} ms")
        shutil.rmtree(data_dir, ignore_errors=True)


def section(s: dict, d: dict) -> str:
    t = Table()
    for mode, label in MODES:
        for key, what, in (("first_response_ms", "First response"), ("first_200_ms", "First 200 on /v2/")):
            t.row(f"{what} ({label}), ms", *(x.get(key) for x in per_registry(s, mode, {})), "ms", False)
    return ("## 8. Start-up\n\n"
            f"From just before the process is spawned to the first HTTP response of any status and to "
            f"the first 200 on `GET /v2/` (Wharf with Basic credentials: anonymous /v2/ is 401). Polled "
            f"every 2 ms with a new connection. Median of {STARTUP_RUNS} runs: on a fresh, empty data "
            f"folder (Wharf creates its database and hashes the admin password) and on an existing "
            f"one (a restart).\n\n" + t.render())


def targets(s: dict, d: dict) -> list:
    out = []
    for mode, label in MODES:
        v = s.get("Wharf", {}).get(mode, {}).get("first_200_ms")
        if v is not None:
            out.append((f"Start-up ≤ 300 ms ({label}, first 200 on /v2/)", fmt(v, "ms"), v <= 300))
    return out
