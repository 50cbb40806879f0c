"""Listing everything (tags, catalog) as one client does, following `Link: rel="next"`."""

from __future__ import annotations

import time
import urllib.parse

from .results import median
from .settings import LISTING_BUDGET, LISTING_REPS


def list_all(reg, first: str) -> tuple[float, int, int]:
    """GETs `first` and follows Link rel=next until done. Returns (seconds, items, requests)."""
    url = reg.url + first
    items = reqs = 0
    t0 = time.perf_counter()
    while url and reqs < 100_000:
        r = reg.api.get(url, timeout=300)
        reqs += 1
        if r.status_code != 200:
            raise RuntimeError(f"{reg.name}: GET {url} -> {r.status_code} {r.text[:300]}")
        body = r.json()
        items += len(body.get("tags") or body.get("repositories") or [])
        nxt = r.links.get("next", {}).get("url")
        url = urllib.parse.urljoin(reg.url + "/", nxt) if nxt else None
    return time.perf_counter() - t0, items, reqs


def time_listing(reg, first: str) -> dict:
    """Up to BENCH_LISTING_REPS complete listings within BENCH_LISTING_BUDGET s; the median time."""
    runs = []
    items = reqs = 0
    deadline = time.monotonic() + LISTING_BUDGET
    while len(runs) < LISTING_REPS and (not runs or time.monotonic() < deadline):
        seconds, items, reqs = list_all(reg, first)
        runs.append(seconds)
    return {"seconds": median(runs), "runs": runs, "items": items, "requests": reqs}
