"""Scenario 4: the tag list of one repository with 10,000 tags: wrk, and one client listing all."""

from __future__ import annotations

from .. import wrk
from ..console import log
from ..fill import set_up_each
from ..format import Table, fmt, per_registry, versus
from ..listing import time_listing
from ..settings import (LIST_WRK_CONNECTIONS, LIST_WRK_SECONDS, LISTING_REPS, PAGE, SETUP_THREADS, TAGS,
                        WRK_THREADS)

NUMBER, KEY, RETRYABLE = 4, "tags", False
REPO = "bench/tags"
LIST = f"/v2/{REPO}/tags/list"
WRK_KINDS = (("full_wrk", "Full list", "full list", LIST),
             ("page_wrk", f"First page (n={PAGE})", f"first page, n={PAGE}", f"{LIST}?n={PAGE}"))


def _listings(bench, s: dict):
    """One client lists everything, with the default page and with n=PAGE."""
    for reg in bench.registries:
        r = s[reg.name]
        r["full"] = time_listing(reg, LIST)
        r["paged"] = time_listing(reg, f"{LIST}?n={PAGE}")
        log(f"  {reg.name}: full {r['full']['seconds'] * 1000:.1f} ms ({r['full']['items']} tags, "
            f"{r['full']['requests']} requests); n={PAGE}: {r['paged']['seconds'] * 1000:.1f} ms "
            f"({r['paged']['items']} tags, {r['paged']['requests']} requests)")
        if r["paged"]["requests"] == 1 and r["paged"]["items"] > PAGE:
            bench.res.note(f"{reg.name} ignored `n={PAGE}` on the tag list: it returned all "
                           f"{r['paged']['items']} tags in one response.")


def _server(bench, s: dict):
    """The server's side: requests/s under wrk, which reads responses without parsing them."""
    headers = {"Authorization": f"Bearer {bench.wharf.bearer_token(f'repository:{REPO}:pull')}"}
    for reg in bench.registries:
        r = s[reg.name]
        for kind, _, _, path in WRK_KINDS:
            r[kind] = wrk.measure(bench.workdir, reg, headers if reg is bench.wharf else {}, path,
                                  LIST_WRK_SECONDS, LIST_WRK_CONNECTIONS)
            log(f"  {reg.name} {kind}: {r[kind]['rps']:.0f} req/s, p50 {r[kind]['p50_ms']:.2f} ms, "
                f"p99 {r[kind]['p99_ms']:.2f} ms, errors {r[kind]['errors']}")
            if r[kind]["errors"]:
                bench.res.note(f"{reg.name} answered {r[kind]['errors']} of {r[kind]['requests']} tag list "
                               f"requests ({kind}) with an error or a socket error under wrk.")


def run(bench):
    log(f"scenario 4: tag list, {TAGS} tags")
    s = bench.res.scenario(KEY)
    image = bench.image
    set_up_each(bench, s, TAGS, "tags", "tags_created",
                lambda reg: reg.api.push_image(REPO, "t00000", image),
                lambda reg, client, i: client.put_manifest(REPO, f"t{i:05d}", image.manifest, image.media_type))
    _listings(bench, s)
    _server(bench, s)


def section(s: dict, d: dict) -> str:
    t = Table()
    for kind, label, _, _ in WRK_KINDS:
        w, dd = (x or {} for x in per_registry(s, kind))
        t.row(f"{label}, requests/s (wrk)", w.get("rps"), dd.get("rps"), "req/s", True)
        t.row(f"{label}, p99 latency (wrk)", w.get("p99_ms"), dd.get("p99_ms"), "ms", False)
    for kind, label in (("full", "Full list"), ("paged", f"Every page (n={PAGE})")):
        w, dd = (x or {} for x in per_registry(s, kind))
        t.row(f"{label}, one client, ms per complete listing", (w.get("seconds") or 0) * 1000 or None,
              (dd.get("seconds") or 0) * 1000 or None, "ms", False)
        t.counts(f"{label}, one client, tags listed / requests", w, dd)
    t.setup(f"Setup: {TAGS:,} manifest PUTs, s", s)
    return (f"## 4. Tag list, {TAGS:,} tags in one repository\n\n"
            f"Server throughput: `wrk -t{WRK_THREADS} -c{LIST_WRK_CONNECTIONS} -d{LIST_WRK_SECONDS}s` on "
            f"`GET /v2/<name>/tags/list` (the full list, ~{TAGS * 9 // 1000} kB of JSON) and on its first "
            f"page `?n={PAGE}`; Wharf with a Bearer token, Distribution without authentication. "
            f"Distribution 2.8 ignores `n` and answers every page request with the full list. "
            f"One client: a Python `requests` client lists everything, following `Link: rel=\"next\"` "
            f"until there is none (so the time includes parsing the JSON in Python: ~1-2 ms for "
            f"{TAGS:,} tags); median of up to {LISTING_REPS} listings. Setup (tagging one manifest "
            f"{TAGS:,} times on {SETUP_THREADS} threads) is not timed in the table.\n\n" + t.render())


def targets(s: dict, d: dict) -> list:
    out = []
    for kind, _, label, _ in WRK_KINDS:
        w, dd = ((x or {}).get("rps") for x in per_registry(s, kind))
        out.append(versus(f"Tag list (10k, {label}) ≥ 10× Distribution", w, dd, 10,
                          detail=f"{fmt(w)} vs {fmt(dd)} req/s"))
    return out
