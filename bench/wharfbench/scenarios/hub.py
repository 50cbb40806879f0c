"""Scenario 9: the Docker Hub API and the website, Wharf only: /v1/search, /v2/repositories/{namespace}/,
a repository's page and a 100-tag tags page under wrk, on a Wharf of its own whose database holds
100,000 repositories."""

from __future__ import annotations

import time

import requests

from .. import hubdata, wrk
from ..console import log
from ..format import Table, fmt
from ..rss import rss_kib
from ..settings import HUB_NAMESPACE_REPOS, HUB_REPOS, HUB_WRK_CONNECTIONS, HUB_WRK_SECONDS, WRK_THREADS
from ..shared import oci

NUMBER, KEY, RETRYABLE = 9, "hub", True
PAGE_SIZE, LATER_PAGE, SEARCH_N = 100, 5, 25
P99_MS = 20  # the issues' target for every request measured here
WEB_TAGS = 100  # tags pushed into the repository whose pages are measured


def _requests(busy_repos: int, web_repo: str = "") -> tuple:
    """(kind, what it is, its path) of each request measured; the later page is page LATER_PAGE,
    or the last page when the namespace has fewer. The website's pages are those of `web_repo`."""
    later = min(LATER_PAGE, max(1, -(-busy_repos // PAGE_SIZE)))
    listing = f"/v2/repositories/{hubdata.BUSY}/?page_size={PAGE_SIZE}"
    return (("search_rare", {"term": hubdata.RARE_TERM}, f"/v1/search?q={hubdata.RARE_TERM}&n={SEARCH_N}"),
            ("search_common", {"term": hubdata.COMMON_TERM}, f"/v1/search?q={hubdata.COMMON_TERM}&n={SEARCH_N}"),
            ("namespace_first", {"page": 1}, listing),
            ("namespace_later", {"page": later}, f"{listing}&page={later}"),
            ("web_repository", {"web": "repository page"}, f"/r/{web_repo}"),
            ("web_tags", {"web": f"tags page, {WEB_TAGS} tags"}, f"/r/{web_repo}/tags?page_size={WEB_TAGS}"))


def _check(bench, hub, what: dict, path: str) -> dict:
    """One anonymous GET of `path`: 200, and the count it reports (num_results or count; for a
    web page, the rows of its tags table)."""
    r = requests.get(hub.url + path, timeout=30)
    if r.status_code != 200:
        raise RuntimeError(f"Wharf: GET {path} -> {r.status_code} {r.text[:300]}")
    if "web" in what:
        return {"count": r.text.count("<tr data-tag="), "results": 0, "bytes": len(r.content)}
    body = r.json()
    count = body.get("num_results", body.get("count"))
    expected = (bench.res.scenario(KEY)["Wharf"]["matches"][what["term"]] if "term" in what
                else HUB_NAMESPACE_REPOS)
    if count != expected:
        bench.res.note(f"scenario 9: GET {path} reported {count} repositories, not the {expected} in the database.")
    return {"count": count, "results": len(body.get("results") or []), "bytes": len(r.content)}


def _set_up(hub) -> dict:
    """Starts `hub` on an empty data folder (its migrations create the schema), stops it, fills its
    database and starts it again on that folder. Returns hubdata.fill's figures and the seconds
    all of it took."""
    t0 = time.monotonic()
    hub.start_fresh()
    hub.stop()
    filled = hubdata.fill(hub.data_dir / "wharf.db", HUB_REPOS, HUB_NAMESPACE_REPOS)
    hub.start()
    web_repo = hubdata.first_repository(hub.data_dir / "wharf.db", hubdata.BUSY)
    image = oci.make_image(n_layers=2, layer_size=1024, seed="web-tags")
    client = hub.new_api()
    for k in range(WEB_TAGS):
        client.push_image(web_repo, f"v{k:03d}", image)
    return {**filled, "web_repo": web_repo, "setup_seconds": time.monotonic() - t0}


def run(bench):
    log(f"scenario 9: Docker Hub API (Wharf only), {HUB_REPOS} repositories, {HUB_NAMESPACE_REPOS} in "
        f"{hubdata.BUSY}/, wrk {HUB_WRK_CONNECTIONS} connections, {HUB_WRK_SECONDS} s each")
    s = bench.res.scenario(KEY)
    hub = bench.wharf.probe(bench.wharf.workdir / "hub", bench.wharf.workdir / "hub-data")
    try:
        r = s["Wharf"] = _set_up(hub)
        r["idle_mib"] = rss_kib(hub.pid) / 1024
        log(f"  filled {r['repos']} repositories in {r['namespaces']} namespaces in {r['fill_seconds']:.1f} s "
            f"(setup in all {r['setup_seconds']:.1f} s); matches {r['matches']}; RSS {r['idle_mib']:.1f} MiB")
        for kind, what, path in _requests(HUB_NAMESPACE_REPOS, r["web_repo"]):
            checked = _check(bench, hub, what, path)
            result = wrk.measure(bench.workdir, hub, {}, path, HUB_WRK_SECONDS, HUB_WRK_CONNECTIONS)
            r[kind] = {**result, **what, **checked, "path": path}
            log(f"  {path}: {result['rps']:.0f} req/s, p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, "
                f"errors {result['errors']} ({checked['count']} matches, {checked['bytes']} bytes)")
            if result["errors"]:
                bench.res.note(f"Wharf answered {result['errors']} of {result['requests']} requests to {path} "
                               f"(scenario 9) with an error or a socket error under wrk.")
        r["load_peak_mib"] = max(r[kind]["peak_rss_mib"] for kind, _, _ in _requests(HUB_NAMESPACE_REPOS, r["web_repo"]))
    finally:
        hub.stop()


def _measured(w: dict):
    """(kind, its results) of each request measured, in order."""
    for kind, _, _ in _requests(w.get("namespace_repos", HUB_NAMESPACE_REPOS), w.get("web_repo", "")):
        if w.get(kind):
            yield kind, w[kind]


def _label(x: dict) -> str:
    if "web" in x:
        return f"website {x['web']}"
    if "term" in x:
        return f"`q={x['term']}` ({x['count']:,} matches)"
    return f"`{hubdata.BUSY}/` page {x['page']} (`page_size={PAGE_SIZE}`)"


def section(s: dict, d: dict) -> str:
    w = s.get("Wharf", {})
    t = Table(wharf_only=True)
    for _, x in _measured(w):
        for key, what, unit in (("rps", "requests/s", "req/s"), ("p50_ms", "p50 latency", "ms"),
                                ("p99_ms", "p99 latency", "ms")):
            t.row(f"{_label(x)}, {what}", x.get(key), None, unit, key == "rps")
        if x.get("errors"):
            t.row(f"{_label(x)}, non-2xx / socket errors", x["errors"], None, "", False)
    t.text("Response sizes (in the order above), bytes", ", ".join(f"{x.get('bytes', 0):,}" for _, x in _measured(w)))
    t.row(f"Setup: {w.get('repos', 0):,} repositories and {w.get('namespaces', 0):,} accounts written "
          f"into wharf.db, s", w.get("fill_seconds"), None, "", False)
    t.setup("Setup in all (first start, fill, restart), s", s)
    t.row("RSS after the restart on the filled database, MiB", w.get("idle_mib"), None, "MiB", False)
    t.row("Peak RSS under these wrk runs, MiB", w.get("load_peak_mib"), None, "MiB", False)
    paths = ", ".join(f"`GET {x['path']}`" for _, x in _measured(w))
    repos, busy = w.get("repos", HUB_REPOS), w.get("namespace_repos", HUB_NAMESPACE_REPOS)
    return (f"## 9. Docker Hub API, {repos:,} repositories (Wharf only)\n\n"
            f"Distribution has no Docker Hub API (no `/v1/search`, no `/v2/repositories/{{namespace}}/`), "
            f"so this scenario measures Wharf alone, on a Wharf of its own started after the other "
            f"scenarios' registries stopped: started once on an empty data folder (its migrations create "
            f"the schema), stopped, filled by writing the repositories and a user account per namespace "
            f"straight into its SQLite database with Python's `sqlite3` (the search index's triggers index "
            f"each row, as for a push), and started again on that folder. "
            f"{busy:,} repositories are in `{hubdata.BUSY}/`, the others in {hubdata.OTHER_NAMESPACES:,} "
            f"namespaces of about {max(repos - busy, 0) // hubdata.OTHER_NAMESPACES:,}. "
            f"Descriptions are 3–5 words from a vocabulary of {len(hubdata.WORDS)}, with "
            f"`{hubdata.COMMON_TERM}` in about 10 % of them and `{hubdata.RARE_TERM}` in about 0.05 %; "
            f"stars and pulls are long-tailed, so search ranks many matches (exact name, official, stars, "
            f"pulls). `wrk -t{WRK_THREADS} -c{HUB_WRK_CONNECTIONS} -d{HUB_WRK_SECONDS}s --latency`, "
            f"anonymous (every repository is public), on {paths}; the namespace listings in Hub's default "
            f"order (most recently updated first).\n\n" + t.render())


def targets(s: dict, d: dict) -> list:
    w = s.get("Wharf", {})
    out = []
    for _, x in _measured(w):
        if "web" in x:
            target = f"Website {x['web']} p99 ≤ {P99_MS} ms ({w.get('repos', 0):,} repositories in the database)"
        elif "term" in x:
            target = (f"/v1/search p99 ≤ {P99_MS} ms (`q={x['term']}`: {x['count']:,} of "
                      f"{w.get('repos', 0):,} repositories match)")
        else:
            target = (f"/v2/repositories/{{ns}}/ p99 ≤ {P99_MS} ms ({w.get('repos', 0):,} repositories, "
                      f"{w.get('namespace_repos', 0):,} in the namespace; page {x['page']}, `page_size={PAGE_SIZE}`)")
        out.append((target, f"{fmt(x['p99_ms'], 'ms')} (p50 {fmt(x['p50_ms'], 'ms')}, {fmt(x['rps'])} req/s)",
                    x["p99_ms"] <= P99_MS))
    return out


def held_back(s: dict, d: dict) -> list:
    w = s.get("Wharf", {})
    slow = [x for _, x in _measured(w) if x["p99_ms"] > P99_MS and x.get("rps")]
    if not slow:
        return []
    conns = HUB_WRK_CONNECTIONS
    each = "; ".join(f"{_label(x)}: {fmt(x['rps'])} req/s, so p50 ≈ {conns} ÷ {fmt(x['rps'])} = "
                     f"{fmt(conns / x['rps'] * 1000, 'ms')} (measured {fmt(x['p50_ms'], 'ms')}), and "
                     f"{fmt(2 / x['rps'] * 1000, 'ms')} of the 2 cores per request" for x in slow)
    return [f"- **Docker Hub API latency.** wrk keeps {conns} requests in flight on the same 2 cores, so "
            f"the latency is mostly time spent queued behind the other requests: p50 ≈ connections ÷ "
            f"requests/s, and a p99 of {P99_MS} ms needs a request to cost well under "
            f"{fmt(P99_MS / conns * 2, 'ms')} of the 2 cores (wrk's share included). {each}."]
