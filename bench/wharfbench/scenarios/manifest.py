"""Scenario 3: manifest GET by tag under wrk; Wharf with a Bearer token, Basic and anonymous; and a
Wharf of its own with pull limits on (so high that nothing is refused), with a Bearer token and
anonymous, against the rate without them."""

from __future__ import annotations

import shutil

import requests

from .. import wrk
from ..console import log
from ..format import Table, fmt, versus
from ..registries import Wharf
from ..settings import KEEP, WRK_CONNECTIONS, WRK_SECONDS, WRK_THREADS
from ..shared import oci

NUMBER, KEY, RETRYABLE = 3, "manifest", True
REPO, PATH = "bench/manifest", "/v2/bench/manifest/manifests/latest"
VARIANTS = (("bearer", "Bearer token"), ("basic", "Basic"), ("anonymous", "anonymous"))
# Wharf's rate (Bearer token) before pull counting existed: the Requests/s row of this scenario in
# BENCHMARKS.md as committed in 4e3157f, a full run on this machine on 2026-12-01 of a release build
# of commit 782679a, the last commit before the Hub API (d55e2df) began counting every manifest GET.
BEFORE_PULL_COUNTS_RPS, BEFORE_PULL_COUNTS_COMMIT = 37_789, "782679a"
# Pull limits on but never reached: every manifest GET is counted against its client's window.
PULL_LIMIT, PULL_LIMIT_WINDOW = 1_000_000_000, 21_600
PULL_LIMIT_ARGS = ("--pull-limit-anonymous", str(PULL_LIMIT), "--pull-limit-authenticated", str(PULL_LIMIT),
                   "--pull-limit-window", str(PULL_LIMIT_WINDOW))
LIMITED_VARIANTS = (("bearer", "Bearer token"), ("anonymous", "anonymous"))
MAX_LIMIT_COST = 0.10  # the target: counting may cost manifest GET at most 10 % of its rate


def _check(reg, headers: dict) -> requests.Response:
    r = requests.get(reg.url + PATH, headers={"Accept": oci.ALL_MANIFESTS, **headers}, timeout=10)
    if r.status_code != 200:
        raise RuntimeError(f"{reg.name}: manifest GET -> {r.status_code} {r.text[:200]}")
    return r


def _with_pull_limits(bench, s: dict):
    """A Wharf of its own (fresh data folder, same binary) started with PULL_LIMIT_ARGS, the image
    pushed, then the same wrk as above with a Bearer token and anonymously (one run each)."""
    limited = Wharf(bench.wharf.workdir / "pull-limits", bench.wharf_bin, bench.wharf.password,
                    extra_args=PULL_LIMIT_ARGS, name="Wharf-pull-limits")
    out = s["pull_limits"] = {"args": " ".join(PULL_LIMIT_ARGS)}
    try:
        limited.start_fresh()
        limited.api.push_image(REPO, "latest", bench.image)
        bearer = {"Authorization": f"Bearer {limited.bearer_token(f'repository:{REPO}:pull')}"}
        for variant, hdrs in (("bearer", bearer), ("anonymous", {})):
            r = _check(limited, hdrs)
            if "ratelimit-limit" not in r.headers:
                raise RuntimeError(f"{limited.name} ({variant}): no ratelimit-limit header: pull limits are not on")
            result = wrk.measure(bench.workdir, limited, {"Accept": oci.ALL_MANIFESTS, **hdrs}, PATH, WRK_SECONDS)
            out[variant] = {**result, "ratelimit_limit": r.headers["ratelimit-limit"]}
            log(f"  {limited.name} ({variant}): {result['rps']:.0f} req/s, p50 {result['p50_ms']:.2f} ms, "
                f"p99 {result['p99_ms']:.2f} ms, errors {result['errors']}, peak RSS {result['peak_rss_mib']:.1f} MiB")
            if result["errors"]:
                bench.res.note(f"{limited.name} ({variant}) answered {result['errors']} of {result['requests']} "
                               f"manifest GETs with an error or a socket error under wrk (pull limits: nothing "
                               f"should have been refused).")
    finally:
        limited.stop()
        if not KEEP:
            shutil.rmtree(limited.data_dir, ignore_errors=True)


def run(bench):
    log(f"scenario 3: manifest GET by tag, wrk {WRK_CONNECTIONS} connections, {WRK_SECONDS} s")
    s = bench.res.scenario(KEY)
    s["manifest_bytes"] = len(bench.image.manifest)
    mem = bench.res.scenario("memory")
    for reg in bench.registries:
        reg.api.push_image(REPO, "latest", bench.image)
    _check(bench.dist, {})
    bearer = {"Authorization": f"Bearer {bench.wharf.bearer_token(f'repository:{REPO}:pull')}"}
    _check(bench.wharf, bearer)
    variants = [(bench.dist, "none", {}), (bench.wharf, "bearer", bearer),
                (bench.wharf, "basic", bench.wharf.auth()), (bench.wharf, "anonymous", {})]
    for reg, variant, hdrs in variants:
        result = wrk.measure(bench.workdir, reg, {"Accept": oci.ALL_MANIFESTS, **hdrs}, PATH, WRK_SECONDS)
        log(f"  {reg.name} ({variant}): {result['rps']:.0f} req/s, p50 {result['p50_ms']:.2f} ms, "
            f"p99 {result['p99_ms']:.2f} ms, errors {result['errors']}, peak RSS {result['peak_rss_mib']:.1f} MiB")
        if reg is bench.dist:
            s["Distribution"] = result
        else:
            s.setdefault("Wharf", {})[variant] = result
        m = mem.setdefault(reg.name, {})
        m["load_peak_mib"] = max(m.get("load_peak_mib") or 0, result["peak_rss_mib"])
        if result["errors"]:
            bench.res.note(f"{reg.name} ({variant}) answered {result['errors']} of {result['requests']} "
                           f"manifest GETs with an error or a socket error under wrk.")
    _with_pull_limits(bench, s)


def _wharf_variants(s: dict):
    """(variant label, Wharf's wrk figures, Distribution's) for each variant measured."""
    dist = s.get("Distribution", {})
    for variant, label in VARIANTS:
        w = s.get("Wharf", {}).get(variant)
        if w:
            yield label, w, dist


def _limited_variants(s: dict):
    """(variant label, plain Wharf's wrk figures, those with pull limits on) for each variant both measured."""
    for variant, label in LIMITED_VARIANTS:
        plain, limited = s.get("Wharf", {}).get(variant), s.get("pull_limits", {}).get(variant)
        if plain and limited:
            yield label, plain, limited


def _limits_table(s: dict) -> str:
    rows = [f"| {what} ({label}) | {fmt(plain.get(key), unit)} | {fmt(limited.get(key), unit)} | "
            f"{fmt(limited[key] / plain[key] * 100, '%', 0) if plain.get(key) and limited.get(key) is not None else '—'} |"
            for label, plain, limited in _limited_variants(s)
            for key, what, unit in (("rps", "Requests/s", "req/s"), ("p50_ms", "p50 latency", "ms"),
                                    ("p99_ms", "p99 latency", "ms"), ("peak_rss_mib", "Peak RSS", "MiB"))]
    if not rows:
        return ""
    return (f"\nPull limits: a Wharf of its own (fresh data folder, the same image pushed) started with "
            f"`{s['pull_limits'].get('args', ' '.join(PULL_LIMIT_ARGS))}`, limits so high that nothing is "
            f"refused but every manifest GET is counted against its client's window (per address when "
            f"anonymous, per account with a token), measured right after the runs above with the same wrk, "
            f"once with a Bearer token and once anonymously, next to the plain Wharf's runs above.\n\n"
            f"| Metric | Wharf | Wharf, pull limits on | Limits on ÷ off |\n|---|---:|---:|---:|\n"
            + "\n".join(rows) + "\n")


def section(s: dict, d: dict) -> str:
    t = Table()
    for label, w, dist in _wharf_variants(s):
        for key, what, unit in (("rps", "Requests/s", "req/s"), ("p50_ms", "p50 latency", "ms"),
                                ("p99_ms", "p99 latency", "ms")):
            t.row(f"{what} (Wharf: {label})", w.get(key), dist.get(key), unit, key == "rps")
        if w.get("errors") or dist.get("errors"):
            t.row(f"Non-2xx / socket errors (Wharf: {label})", w.get("errors"), dist.get("errors"), "", False)
    return ("## 3. Manifest GET by tag\n\n"
            f"`wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{WRK_SECONDS}s --latency` on "
            f"`GET {PATH}` with an `Accept` header listing the OCI and "
            f"Docker manifest types (a ~{s.get('manifest_bytes', '?')}-byte OCI manifest). "
            f"wrk runs on the same 2 cores as the registry. Wharf is measured with a Bearer "
            f"token from its `/token` (what `docker pull` sends), with Basic credentials (cached "
            f"after the first bcrypt check) and anonymously (public repository); Distribution "
            f"runs without authentication. Wharf counts every manifest GET as a pull (in memory, "
            f"written to its database in batches about once a second); before it did, this scenario "
            f"measured {fmt(BEFORE_PULL_COUNTS_RPS, 'req/s')} with a Bearer token (commit "
            f"`{BEFORE_PULL_COUNTS_COMMIT}`, run of 2026-12-01 on this machine).\n\n" + t.render()
            + _limits_table(s))


def targets(s: dict, d: dict) -> list:
    out = []
    for label, w, dist in _wharf_variants(s):
        out.append(versus(f"Manifest GET ≥ 5× Distribution's requests/s (Wharf: {label})", w.get("rps"),
                          dist.get("rps"), 5, detail=f"{fmt(w.get('rps'))} vs {fmt(dist.get('rps'))} req/s"))
        if w.get("p99_ms") is not None:
            out.append((f"Manifest GET p99 ≤ 10 ms (Wharf: {label})", fmt(w["p99_ms"], "ms"), w["p99_ms"] <= 10))
    out.append(_against_before_pull_counts(s.get("Wharf", {}).get("bearer", {}).get("rps")))
    for label, plain, limited in _limited_variants(s):
        ratio = limited["rps"] / plain["rps"] if plain.get("rps") else None
        if ratio is not None:
            out.append((f"Pull-limit counting costs ≤ {MAX_LIMIT_COST * 100:.0f} % of manifest GET rate (Wharf: {label})",
                        f"{f'{(1 - ratio) * 100:.0f} %' if ratio < 1 else 'none measured'} "
                        f"({fmt(limited['rps'])} req/s with limits on, "
                        f"{fmt(plain['rps'])} without; {ratio * 100:.0f} % of the rate)",
                        ratio >= 1 - MAX_LIMIT_COST))
    return out


def _against_before_pull_counts(rps):
    """The issue's "within 10 % of today's rate" for pull counting, against the rate measured before it."""
    if not rps:
        return None
    return (f"Manifest GET with pull counting ≥ 90 % of the rate before pull counts (Wharf: Bearer token; "
            f"{fmt(BEFORE_PULL_COUNTS_RPS, 'req/s')} at commit `{BEFORE_PULL_COUNTS_COMMIT}`)",
            f"{rps / BEFORE_PULL_COUNTS_RPS * 100:.0f} % ({fmt(rps)} vs {fmt(BEFORE_PULL_COUNTS_RPS)} req/s)",
            rps >= 0.9 * BEFORE_PULL_COUNTS_RPS)
