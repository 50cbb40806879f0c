"""Scenario 5: the catalog of 10,000 repositories, followed page by page."""

from __future__ import annotations

from ..console import log
from ..fill import set_up_each
from ..format import Table, per_registry, versus
from ..listing import time_listing
from ..settings import LISTING_REPS, PAGE, REPOS, SETUP_THREADS

NUMBER, KEY, RETRYABLE = 5, "catalog", False
SOURCE = "bench/catalog-source"
KINDS = (("default", "Default page size", "default pages", "/v2/_catalog"),
         ("paged", f"Paginated (n={PAGE})", f"n={PAGE}", f"/v2/_catalog?n={PAGE}"))


def _mount_and_tag(reg, client, repo: str, image):
    """The image's blobs mounted from SOURCE into `repo`, and its manifest tagged latest there."""
    for digest in image.blobs:
        r = client.post(f"/v2/{repo}/blobs/uploads/", params={"mount": digest, "from": SOURCE})
        if r.status_code != 201:
            raise RuntimeError(f"{reg.name}: mount into {repo} -> {r.status_code} {r.text[:300]}")
    client.put_manifest(repo, "latest", image.manifest, image.media_type)


def run(bench):
    log(f"scenario 5: catalog, {REPOS} repositories")
    s = bench.res.scenario(KEY)
    set_up_each(bench, s, REPOS, "repositories", "repos_created",
                lambda reg: reg.api.push_image(SOURCE, "latest", bench.image),
                lambda reg, client, i: _mount_and_tag(reg, client, f"cat/r{i - 1:05d}", bench.image))
    for reg in bench.registries:
        r = s[reg.name]
        for kind, _, _, path in KINDS:
            r[kind] = time_listing(reg, path)
        log(f"  {reg.name}: default pages {r['default']['seconds'] * 1000:.1f} ms ({r['default']['items']} repos, "
            f"{r['default']['requests']} requests); n={PAGE}: {r['paged']['seconds'] * 1000:.1f} ms "
            f"({r['paged']['items']} repos, {r['paged']['requests']} requests)")
    s["note"] = "other scenarios' repositories are listed too (the same set on both)"


def _seconds(s: dict, kind: str) -> tuple:
    return tuple((x or {}).get("seconds") for x in per_registry(s, kind))


def section(s: dict, d: dict) -> str:
    t = Table()
    for kind, label, _, _ in KINDS:
        w, dd = _seconds(s, kind)
        t.row(f"{label}, ms per listing", (w or 0) * 1000 or None, (dd or 0) * 1000 or None, "ms", False)
        t.counts(f"{label}, repositories listed / requests", *((x or {}) for x in per_registry(s, kind)))
    t.setup(f"Setup: {REPOS:,} repositories, s", s)
    return (f"## 5. Catalog, {REPOS:,} repositories\n\n"
            f"`GET /v2/_catalog` following `Link: rel=\"next\"` until done: with each registry's "
            f"default page size (Wharf: 1,000; Distribution 2.8: 100 — see the request counts) and with "
            f"`?n={PAGE}`. Time per complete listing, median of up to {LISTING_REPS}. Wharf is asked as the "
            f"administrator (it lists only what the caller may see). Setup: per repository, two "
            f"cross-repository mounts and one manifest PUT, on {SETUP_THREADS} threads.\n\n" + t.render())


def targets(s: dict, d: dict) -> list:
    return [versus(f"Catalog (10k, {label}) ≥ 10× Distribution", *_seconds(s, kind), 10, False)
            for kind, _, label, _ in KINDS]
