"""Scenario 10: PostgreSQL + S3, one replica and two. Wharf on a throwaway PostgreSQL and SeaweedFS
(S3) — one replica, one behind nginx, two behind nginx — next to Distribution's `s3` storage driver on
the same SeaweedFS: blob push and pull, manifest GET under wrk; and the database statements a
manifest GET makes, warm and cold (PostgreSQL logs every statement)."""

from __future__ import annotations

import http.client
import re
import shutil
import time

import requests

from .. import stores, wrk
from ..client import pull_blob, push_blob
from ..console import log
from ..format import Table, fmt, fmt_runs, versus
from ..registries import Balancer, S3Distribution, Wharf
from ..results import median
from ..settings import (CHUNK_MIB, HOST, KEEP, WRK_CONNECTIONS, WRK_THREADS, MiB, S3_BLOB_MIB, S3_COLD_READS,
                        S3_REPS, S3_WARM_GETS, S3_WRK_SECONDS)
from ..shared import harness, oci

NUMBER, KEY, RETRYABLE = 10, "scale_out", True
REPO, OTHER_REPO, BLOB_REPO = "bench/scale", "bench/scale-other", "bench/s3-blobs"
PATH = f"/v2/{REPO}/manifests/latest"
WHARF_BUCKET, DIST_BUCKET, PREFIX = "wharf", "distribution", "bench"
MODES = (("monolithic", "monolithic"), ("chunked", f"chunked ({CHUNK_MIB} MiB)"))
# (key, label, replicas, behind nginx): each setup on a database and S3 prefix of its own.
SETUPS = (("one", "1 replica", 1, False), ("one_nginx", "1 replica behind nginx", 1, True),
          ("two_nginx", "2 replicas behind nginx", 2, True))
# The most statements a cold manifest GET (Bearer token) may make, the bound the issue asks for: what
# this benchmark observed on commit efaf200, the token subject's account and the manifest by tag.
COLD_BOUND = 2


def _get(conn: http.client.HTTPConnection, headers: dict):
    """One manifest GET on a kept-alive connection; 200 or an error."""
    conn.request("GET", PATH, headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"manifest GET -> {resp.status} {body[:200]!r}")


def _wrk(bench, target, key: str, headers: dict) -> dict:
    """wrk on `target` (a registry or the balancer); its output is kept in the work folder."""
    r = requests.get(target.url + PATH, headers=headers, timeout=10)
    if r.status_code != 200:
        raise RuntimeError(f"{target.name}: manifest GET -> {r.status_code} {r.text[:200]}")
    script = wrk.write_script(bench.workdir / f"wrk-s3-{key}.lua", headers)
    out = wrk.run(script, target.url + PATH, S3_WRK_SECONDS)
    (bench.workdir / f"wrk-s3-{key}-{int(time.time())}.txt").write_text(out)
    return wrk.parse(out)


def _measure(bench, key: str, target, upstream, files: dict, pg=None, database: str = "") -> dict:
    """Blob push (each mode), blob pull and manifest GET through `target`; `upstream` is the registry
    the small image is pushed to (and, for Wharf, gives the Bearer token). With `pg`, the statements
    `database` got during wrk are counted."""
    r: dict = {}
    for mode, _ in MODES:
        rates = []
        for i, (path, digest, size) in enumerate(files[mode]):
            secs = push_blob(target, BLOB_REPO, path, digest, size,
                             chunk=None if mode == "monolithic" else CHUNK_MIB * MiB)
            rates.append(size / secs / 1e6)
            log(f"  {key} push {mode} #{i + 1}: {secs:.2f} s, {rates[-1]:.0f} MB/s")
        r[mode], r[mode + "_runs"] = median(rates), rates
    _, digest, size = files["monolithic"][0]
    pull_blob(target, BLOB_REPO, digest, size)  # untimed: SeaweedFS's volume file into the page cache
    rates = [size / pull_blob(target, BLOB_REPO, digest, size) / 1e6 for _ in range(S3_REPS)]
    r["pull"], r["pull_runs"] = median(rates), rates
    log(f"  {key} pull: {fmt_runs(rates)} MB/s")
    upstream.new_api().push_image(REPO, "latest", bench.image)
    headers = {"Accept": oci.ALL_MANIFESTS}
    if isinstance(upstream, Wharf):
        headers["Authorization"] = f"Bearer {upstream.bearer_token(f'repository:{REPO}:pull')}"
    start = pg.wait_quiet() if pg else 0
    result = r["manifest"] = _wrk(bench, target, key, headers)
    if pg:
        end = pg.log_size()
        time.sleep(1.5)  # the last pull counts are flushed
        result.update(_tally(pg.statements(database, start, end)))
    counted = (f", {result['statements']} statements (and {result['flush_statements']} of pull-count flushes, "
               f"{result['job_statements']} of the job queue)" if pg else "")
    log(f"  {key} manifest GET: {result['rps']:.0f} req/s, p50 {result['p50_ms']:.2f} ms, "
        f"p99 {result['p99_ms']:.2f} ms, errors {result['errors']}{counted}")
    if result["errors"]:
        bench.res.note(f"scenario 10: {key} answered {result['errors']} of {result['requests']} manifest GETs "
                       f"with an error or a socket error under wrk.")
    return r


def _tally(statements: list) -> dict:
    """The statements of requests (those not of background work), the first 20 of them, the locks
    among them, and the statements of the pull-count flush and of the job queue."""
    reads = [st for st in statements if st.kind == "request"]
    counts: dict = {}
    for st in reads:
        counts[st.line] = counts.get(st.line, 0) + 1
    return {"statements": len(reads), "texts": [st.line for st in reads][:20],
            "by_text": sorted(counts.items(), key=lambda kv: -kv[1])[:10],
            "locks": sum(bool(stores.LOCKING.search(st.text)) for st in reads),
            "flush_statements": sum(st.kind == "flush" for st in statements),
            "job_statements": sum(st.kind == "jobs" for st in statements)}


def _cold(pg, database: str, port: int, headers: dict) -> dict:
    """The statements of one GET on a new connection once the database log is quiet."""
    start = pg.wait_quiet()
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        _get(conn, headers)
    finally:
        conn.close()
    return _tally(pg.statements(database, start, pg.log_size()))


def _count_queries(bench, w: Wharf, pg, database: str) -> dict:
    """Statements of S3_WARM_GETS warm manifest GETs, and of cold ones: after a write (every cached
    read dropped) and after a restart."""
    q: dict = {}
    headers = {"Accept": oci.ALL_MANIFESTS, "Authorization": f"Bearer {w.bearer_token(f'repository:{REPO}:pull')}"}
    conn = http.client.HTTPConnection(HOST, w.port, timeout=30)
    try:
        pg.wait_quiet()
        for _ in range(10):  # fills the read cache
            _get(conn, headers)
        start, t0 = pg.log_size(), time.perf_counter()
        for _ in range(S3_WARM_GETS):
            _get(conn, headers)
        seconds, end = time.perf_counter() - t0, pg.log_size()
    finally:
        conn.close()
    after = pg.wait_quiet(seconds=2.5)  # the flush of those GETs' pull counts
    q["warm"] = {"requests": S3_WARM_GETS, "seconds": seconds, **_tally(pg.statements(database, start, end)),
                 "flush_after": _tally(pg.statements(database, end, after))["flush_statements"]}
    log(f"  {S3_WARM_GETS} warm manifest GETs in {seconds:.2f} s: {q['warm']['statements']} statements "
        f"({q['warm']['flush_statements']} of pull-count flushes during them, {q['warm']['flush_after']} after)")
    q["after_write"], q["after_restart"] = [], []
    for i in range(S3_COLD_READS):
        w.new_api().push_image(OTHER_REPO, f"t{i}", bench.image)  # a committed write: the read cache is dropped
        q["after_write"].append(_cold(pg, database, w.port, headers))
        w.stop()
        w.start()
        q["after_restart"].append(_cold(pg, database, w.port, headers))
        log(f"  cold GET #{i + 1}: {q['after_write'][-1]['statements']} statements after a write, "
            f"{q['after_restart'][-1]['statements']} after a restart")
    return q


def _version(text: str) -> str:
    """The first dotted version number in a program's --version output."""
    m = re.search(r"\d+\.\d+(?:\.\d+)?", text)
    return m.group(0) if m else text.strip()


def _factory(bench, root, key: str, s3, made: list):
    """harness.start_replicas's registry factory: benchmark Wharfs with the store's key (each also
    appended to `made`)."""

    def make(env: dict, extra_args=(), start: bool = True) -> Wharf:
        n = len(made) + 1
        w = Wharf(root / f"wharf-{key}-{n}", bench.wharf_bin, env["WHARF_ADMIN_PASSWORD"],
                  env={**env, **s3.env()}, extra_args=extra_args, name=f"Wharf {key} replica {n}")
        made.append(w)
        return w.start() if start else w

    return make


def _run_wharf(bench, s: dict, root, pg, s3, files: dict):
    for key, label, count, balanced in SETUPS:
        log(f"  Wharf, {label}")
        made: list = []
        lb = None
        try:
            replicas = harness.start_replicas(_factory(bench, root, key, s3, made), count,
                                              extra_args=["--trusted-proxies", "127.0.0.1"])
            for w in replicas:  # Basic credentials checked once (bcrypt) before anything is timed
                requests.get(w.url + "/v2/", headers=w.auth(), timeout=30).raise_for_status()
            if balanced:
                lb = Balancer(root / f"nginx-{key}", replicas).start()
            database = replicas[0].env["WHARF_DATABASE"].rsplit("/", 1)[1]
            counting = key == "one"
            s[key] = _measure(bench, key, lb or replicas[0], replicas[0], files, pg if counting else None, database)
            s[key].update(replicas=count, balanced=balanced)
            if counting:
                s["queries"] = _count_queries(bench, replicas[0], pg, database)
        finally:
            if lb:
                lb.stop()
            for w in made:
                w.stop()
            if made:
                s3.delete_prefix(WHARF_BUCKET, harness.S3Location.parse(made[0].env["WHARF_STORAGE"]).prefix + "/")
            if not KEEP:
                for w in made:
                    shutil.rmtree(w.data_dir, ignore_errors=True)


def run(bench):
    log(f"scenario 10: PostgreSQL + S3 (SeaweedFS), Wharf with 1 and 2 replicas, Distribution's s3 driver; "
        f"{S3_BLOB_MIB} MiB blobs, wrk {S3_WRK_SECONDS} s")
    s = bench.res.scenario(KEY)
    root = bench.workdir / "s3-scale"
    for folder in ("postgres", "seaweedfs"):  # fresh stores (a second attempt, or BENCH_KEEP=1 before)
        shutil.rmtree(root / folder, ignore_errors=True)
    pg = stores.Postgres(root / "postgres")
    s3 = stores.SeaweedS3(root / "seaweedfs", buckets=(WHARF_BUCKET, DIST_BUCKET))
    keys = [f"s3-{mode}-{i}" for mode, _ in MODES for i in range(S3_REPS)]
    try:
        pg.start()
        s3.start()
        s["postgres_version"] = _version(harness.run([str(pg.bin / "postgres"), "--version"]).stdout)
        s["weed_version"] = _version(harness.run(["weed", "version"]).stdout)
        log(f"  PostgreSQL {s['postgres_version']} on port {pg.port}; SeaweedFS {s['weed_version']} at {s3.endpoint}")
        files = {mode: [bench.files.get(f"s3-{mode}-{i}", S3_BLOB_MIB) for i in range(S3_REPS)]
                 for mode, _ in MODES}
        log("  Distribution, s3 driver")
        dist = S3Distribution(root / "distribution", s3.endpoint, DIST_BUCKET, s3.access_key, s3.secret_key,
                              root=f"/{PREFIX}")
        try:
            dist.start_fresh()
            s["Distribution"] = _measure(bench, "distribution", dist, dist, files)
        finally:
            dist.stop()
            s3.delete_prefix(DIST_BUCKET, PREFIX + "/")
        env = {"WHARF_TEST_POSTGRES_URL": pg.url, "WHARF_TEST_S3_URL": s3.storage_url(WHARF_BUCKET, PREFIX),
               "WHARF_TEST_S3_ACCESS_KEY": s3.access_key, "WHARF_TEST_S3_SECRET_KEY": s3.secret_key}
        with stores.env_set(env):
            _run_wharf(bench, s, root, pg, s3, files)
    finally:
        pg.stop()
        s3.stop()
        for k in keys:
            bench.files.remove(k)
        if not KEEP:
            shutil.rmtree(root / "postgres" / "data", ignore_errors=True)
            shutil.rmtree(root / "seaweedfs" / "data", ignore_errors=True)


# --- the report ---------------------------------------------------------------------------------


def _cold_max(q: dict, kind: str):
    runs = q.get(kind) or []
    return max((x["statements"] for x in runs), default=None)


def _single_node(d: dict) -> str:
    """The single-node SQLite + filesystem figures of scenarios 1–3 of the same run, if measured."""
    sc = d.get("scenarios", {})
    push, pull = sc.get("push", {}).get("Wharf", {}), sc.get("pull", {}).get("Wharf", {})
    bearer = sc.get("manifest", {}).get("Wharf", {}).get("bearer", {})
    parts = []
    if push.get("monolithic"):
        parts.append(f"blob push {fmt(push['monolithic'], 'MB/s')} monolithic and {fmt(push.get('chunked'), 'MB/s')} "
                     f"chunked (scenario 1, 1 GiB blobs)")
    if pull.get("warm"):
        parts.append(f"blob pull {fmt(pull['warm'], 'MB/s')} from a warm page cache (scenario 2)")
    if bearer.get("rps"):
        parts.append(f"manifest GET {fmt(bearer['rps'], 'req/s')} with p99 {fmt(bearer.get('p99_ms'), 'ms')} "
                     f"(scenario 3, Bearer token)")
    if not parts:
        return ("The single-node figures (SQLite + filesystem) are those of scenarios 1–3, which did not run "
                "in this run.")
    return "The same Wharf on one node with SQLite and its filesystem storage, in this run: " + "; ".join(parts) + "."


def _scale_table(s: dict) -> str:
    """1 replica direct, 1 and 2 behind nginx; 2 ÷ 1 behind nginx."""
    rows = []
    one, two = s.get("one_nginx", {}), s.get("two_nginx", {})
    for what, get, unit, higher in (
            ("Blob push, monolithic, MB/s", lambda x: x.get("monolithic"), "MB/s", True),
            (f"Blob push, chunked ({CHUNK_MIB} MiB), MB/s", lambda x: x.get("chunked"), "MB/s", True),
            ("Blob pull, MB/s", lambda x: x.get("pull"), "MB/s", True),
            ("Manifest GET, requests/s", lambda x: x.get("manifest", {}).get("rps"), "req/s", True),
            ("Manifest GET, p50 latency", lambda x: x.get("manifest", {}).get("p50_ms"), "ms", False),
            ("Manifest GET, p99 latency", lambda x: x.get("manifest", {}).get("p99_ms"), "ms", False)):
        a, b = get(one), get(two)
        ratio = (b / a if higher else a / b) if a and b else None
        rows.append(f"| {what} | {fmt(get(s.get('one', {})), unit)} | {fmt(a, unit)} | {fmt(b, unit)} | "
                    f"{fmt(ratio, '×', 2)} |")
    return ("| Metric | 1 replica | 1 replica behind nginx | 2 replicas behind nginx | 2 replicas ÷ 1 "
            "(behind nginx) |\n|---|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n")


def section(s: dict, d: dict) -> str:
    w, dist = s.get("one", {}), s.get("Distribution", {})
    t = Table()
    for mode, label in MODES:
        t.row(f"Blob push, {label}, MB/s", w.get(mode), dist.get(mode), "MB/s", True)
        t.text(f"Blob push, {label}, each push", f"{fmt_runs(w.get(mode + '_runs', []))} MB/s",
               f"{fmt_runs(dist.get(mode + '_runs', []))} MB/s")
    t.row("Blob pull, MB/s", w.get("pull"), dist.get("pull"), "MB/s", True)
    t.text("Blob pull, each pull", f"{fmt_runs(w.get('pull_runs', []))} MB/s",
           f"{fmt_runs(dist.get('pull_runs', []))} MB/s")
    wm, dm = w.get("manifest", {}), dist.get("manifest", {})
    for key, what, unit in (("rps", "Requests/s", "req/s"), ("p50_ms", "p50 latency", "ms"),
                            ("p99_ms", "p99 latency", "ms")):
        t.row(f"Manifest GET, {what} (Wharf: Bearer token)", wm.get(key), dm.get(key), unit, key == "rps")
    if wm.get("errors") or dm.get("errors"):
        t.row("Manifest GET, non-2xx / socket errors", wm.get("errors"), dm.get("errors"), "", False)

    q = s.get("queries", {})
    warm = q.get("warm", {})
    qt = Table(wharf_only=True)
    if warm:
        qt.text(f"{warm['requests']:,} warm manifest GETs (one connection, {fmt(warm['seconds'], 's')}): statements",
                f"{warm['statements']} ({fmt(warm['statements'] / warm['requests'], digits=3)} per request)")
        qt.text("… pull-count flushes during them / right after (batched, about once a second; not per request)",
                f"{warm['flush_statements']} / {warm['flush_after']} statements")
    if wm.get("statements") is not None:
        qt.text(f"Manifest GETs under wrk ({fmt(wm['requests'], digits=0)} in {S3_WRK_SECONDS} s): statements",
                f"{wm['statements']} ({fmt(wm['statements'] / max(wm['requests'], 1), digits=5)} per request; "
                f"besides, {wm['flush_statements']} of pull-count flushes and {wm['job_statements']} of the "
                f"job queue's polls)")
    for kind, what in (("after_write", "after a write (the read cache dropped)"), ("after_restart", "after a restart")):
        runs = q.get(kind) or []
        if runs:
            qt.text(f"Cold manifest GET {what}: statements, each of {len(runs)}",
                    ", ".join(str(x["statements"]) for x in runs))
    locks = (warm.get("locks", 0) + wm.get("locks", 0)
             + sum(x["locks"] for kind in ("after_write", "after_restart") for x in q.get(kind) or []))
    if q:
        qt.text("Row, advisory or table locks in these statements", str(locks))
    cold_texts = ""
    for kind, what in (("after_write", "after a write"), ("after_restart", "after a restart")):
        runs = q.get(kind) or []
        if runs and runs[0]["texts"]:
            cold_texts += (f"\nThe statements of the first cold GET {what}:\n\n```\n" + "\n".join(runs[0]["texts"])
                           + "\n```\n")
    if wm.get("by_text"):
        cold_texts += ("\nThe statements under wrk, by text (each cached read expires after 2 s; the requests "
                       "that miss it then share one read of it, and any write in the run drops every cached read):\n\n```\n"
                       + "\n".join(f"{n:>6} × {text}" for text, n in wm["by_text"]) + "\n```\n")
    if warm.get("texts"):
        cold_texts += "\nStatements during the warm GETs:\n\n```\n" + "\n".join(warm["texts"]) + "\n```\n"

    return (f"## 10. PostgreSQL + S3, one replica and two\n\n"
            f"Wharf with `--database postgres://…` and `--storage s3://{WHARF_BUCKET}/{PREFIX}/…?endpoint=…"
            f"&region=us-east-1&path_style=true` (keys in `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`), on a "
            f"throwaway PostgreSQL {s.get('postgres_version', '?')} (Debian's package; `fsync=off`, as the "
            f"tests' `scripts/test-postgres` runs it; every statement logged) and SeaweedFS "
            f"{s.get('weed_version', '?')} (`weed mini`, keys enforced, plain HTTP on loopback), both started "
            f"by the benchmark in its work folder after the other scenarios' registries stopped. Distribution "
            f"2.8 runs with its `s3` storage driver on the same SeaweedFS (bucket `{DIST_BUCKET}`, "
            f"`rootdirectory: /{PREFIX}`, `regionendpoint`, `secure: false`, `v4auth: true`; 2.8 addresses "
            f"buckets path-style whenever `regionendpoint` is set) with `redirect: disable: true`, so that "
            f"it serves blob bytes itself as Wharf does without `--blob-redirect`. Three Wharf setups, each "
            f"on a database and S3 prefix of its own (`harness.start_replicas`, `--trusted-proxies "
            f"127.0.0.1`): one replica; one replica behind nginx; two replicas behind nginx (the e2e "
            f"suite's round-robin `NginxBalancer`, here with keep-alive connections to the replicas, no "
            f"access log and two workers). Blobs: {S3_BLOB_MIB} MiB of distinct random data per push, "
            f"monolithic (POST + one PUT) and in {CHUNK_MIB} MiB PATCHes (behind nginx these alternate "
            f"between the replicas), median of {S3_REPS}; pull: one untimed pull, then the median of "
            f"{S3_REPS} (SeaweedFS's files in the page cache). Manifest GET: `wrk -t{WRK_THREADS} "
            f"-c{WRK_CONNECTIONS} -d{S3_WRK_SECONDS}s --latency`, Wharf with a Bearer token (as scenario 3), "
            f"Distribution without authentication. Everything shares the 2 cores: wrk, nginx, the "
            f"replicas, PostgreSQL and SeaweedFS. {_single_node(d)}\n\n"
            "Wharf (1 replica, no nginx) and Distribution:\n\n" + t.render() +
            "\nOne replica and two, with the same nginx in front (two replicas on 2 cores share the CPU "
            "with each other, nginx and wrk; what lets reads scale is below):\n\n" + _scale_table(s) +
            f"\nDatabase statements per manifest GET (one replica, Bearer token), counted in PostgreSQL's log "
            f"(`log_statement=all`; every statement the replica's database got, `BEGIN`/`COMMIT` included). "
            f"Pull counts are kept in memory and written in one batched transaction about once a second "
            f"(`--pull-count-interval`), whatever the number of GETs: those statements are shown apart. "
            f"Warm: {S3_WARM_GETS:,} GETs one after the other on one connection, after 10 that fill the read "
            f"cache. Cold: the first GET on a new connection after a manifest pushed to another repository "
            f"(a committed write: every cached read is dropped, here and, through `NOTIFY`, on every other "
            f"replica) and after a restart of the replica. Cached reads also expire after 2 s, so under "
            f"sustained load each is read again at most once per 2 s per replica: the wrk row. "
            f"\"Cross-replica lock\": replicas share nothing but the database and the bucket; the only "
            f"coordination a read could meet would be a row lock (`FOR UPDATE`/`FOR SHARE`), an advisory lock "
            f"or a table lock that another replica holds: the locks row counts any of those in the reads' "
            f"statements. Cache invalidation arrives by `LISTEN`/`NOTIFY` on a connection each replica keeps "
            f"open, which no read waits for.\n\n" + qt.render() + cold_texts)


def targets(s: dict, d: dict) -> list:
    w, dist = s.get("one", {}), s.get("Distribution", {})
    out = []
    for mode, _ in MODES:
        out.append(versus(f"Blob push through S3 ({mode}) ≥ Distribution's (same SeaweedFS; Wharf: 1 replica)",
                          w.get(mode), dist.get(mode), 1,
                          detail=f"{fmt(w.get(mode), 'MB/s')} vs {fmt(dist.get(mode), 'MB/s')}"))
    out.append(versus("Blob pull through S3 ≥ Distribution's (same SeaweedFS; Wharf: 1 replica)", w.get("pull"),
                      dist.get("pull"), 1, detail=f"{fmt(w.get('pull'), 'MB/s')} vs {fmt(dist.get('pull'), 'MB/s')}"))
    q = s.get("queries", {})
    warm = q.get("warm")
    if warm:
        out.append((f"Warm manifest GET: 0 database queries per request ({warm['requests']:,} GETs)",
                    f"{warm['statements']} statements ({fmt(warm['statements'] / warm['requests'], digits=3)} per "
                    f"request; pull counts: {warm['flush_statements'] + warm['flush_after']} statements of batched "
                    f"flushes)", warm["statements"] == 0))
    worst = [x for x in (_cold_max(q, "after_write"), _cold_max(q, "after_restart")) if x is not None]
    if worst:
        out.append((f"Cold manifest GET ≤ {COLD_BOUND} database queries (after a write; after a restart)",
                    f"at most {_cold_max(q, 'after_write')} after a write, {_cold_max(q, 'after_restart')} after a "
                    f"restart", max(worst) <= COLD_BOUND))
    return out


def held_back(s: dict, d: dict) -> list:
    w, dist = s.get("one", {}), s.get("Distribution", {})
    out = []
    for mode, what in (("monolithic", "push (monolithic)"), ("chunked", "push (chunked)"), ("pull", "pull")):
        if w.get(mode) and dist.get(mode) and w[mode] < dist[mode]:
            out.append(f"- **Blob {what} through S3 vs Distribution.** Each run: Wharf "
                       f"{fmt_runs(w.get(mode + '_runs', []))} MB/s, Distribution "
                       f"{fmt_runs(dist.get(mode + '_runs', []))} MB/s.")
    return out
