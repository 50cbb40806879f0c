"""Filling both registries with thousands of small items (tags, repositories) on many threads."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from .console import log
from .settings import SETUP_BUDGET, SETUP_THREADS


def parallel(reg, items, fn, budget: float) -> tuple[int, float]:
    """Runs fn(client, item) for every item on SETUP_THREADS threads (one client each),
    stopping early when `budget` seconds are over. Returns (done, seconds)."""
    local = threading.local()
    deadline = time.monotonic() + budget
    done = [0]
    lock = threading.Lock()
    errors: list[str] = []

    def work(item):
        if time.monotonic() > deadline or errors:
            return
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = reg.new_api()
            client.s.mount("http://", requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=1))
        try:
            fn(client, item)
        except Exception as exc:  # noqa: BLE001 - the first error ends the setup
            errors.append(str(exc))
            return
        with lock:
            done[0] += 1

    t0 = time.monotonic()
    with ThreadPoolExecutor(SETUP_THREADS) as pool:
        list(pool.map(work, items))
    if errors:
        raise RuntimeError(f"{reg.name}: setup failed: {errors[0]}")
    return done[0], time.monotonic() - t0


def set_up_each(bench, s: dict, count: int, items: str, key: str, seed, make):
    """On each registry: `seed(registry)` makes the first of `count` items, then
    `make(registry, client, i)` the others (i from 1) on SETUP_THREADS threads within
    SETUP_BUDGET seconds. When a registry runs out of time, the next one gets as many items.
    Records each registry's setup_seconds and, under `key`, how many items it has."""
    for reg in bench.registries:
        seed(reg)
        done, secs = parallel(reg, range(1, count), lambda client, i: make(reg, client, i), SETUP_BUDGET)
        r = s.setdefault(reg.name, {})
        r["setup_seconds"] = secs
        r[key] = done + 1
        log(f"  {reg.name}: created {done + 1} {items} in {secs:.1f} s")
        if done + 1 < count:
            bench.res.note(f"{reg.name}: only {done + 1} of {count} {items} were created within the "
                           f"{SETUP_BUDGET} s setup budget; the other registry gets as many.")
            count = done + 1
