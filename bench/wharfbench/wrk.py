"""HTTP load with wrk (GET, fixed headers) and what its output says."""

from __future__ import annotations

import re
import time
from pathlib import Path

from .rss import RssSampler
from .settings import WRK_CONNECTIONS, WRK_THREADS
from .shared import harness


def write_script(path: Path, headers: dict) -> Path:
    """A wrk Lua script that sends GET with `headers`."""
    lua = ['wrk.method = "GET"'] + [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    path.write_text("\n".join(lua) + "\n")
    return path


def _ms(s: str) -> float:
    mm = re.match(r"([\d.]+)(us|ms|s|m)", s)
    return float(mm.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[mm.group(2)]


def parse(out: str) -> dict:
    """Requests/s, p50 and p99 in ms, requests, and non-2xx/3xx plus socket errors."""
    errors = 0
    me = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if me:
        errors += int(me.group(1))
    ms = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if ms:
        errors += sum(int(x) for x in ms.groups())
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
            "p99_ms": _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "errors": errors}


def run(script: Path, url: str, seconds: int, connections: int = WRK_CONNECTIONS) -> str:
    """wrk's output for `seconds` of load on `url`."""
    cmd = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
           "--latency", "-s", str(script), url]
    return harness.run(cmd, timeout=seconds + 60).stdout


def measure(workdir: Path, reg, headers: dict, path: str, seconds: int,
            connections: int = WRK_CONNECTIONS) -> dict:
    """wrk on one registry while sampling its RSS: `parse`'s figures and peak_rss_mib.
    wrk's output is kept in the work folder."""
    script = write_script(workdir / f"wrk-{reg.name}.lua", headers)
    with RssSampler(reg.pid) as sampler:
        out = run(script, reg.url + path, seconds, connections)
    (workdir / f"wrk-{reg.name}-{int(time.time())}.txt").write_text(out)
    return {**parse(out), "peak_rss_mib": sampler.peak_mib}
