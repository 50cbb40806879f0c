"""Online garbage collection: `wharf gc` (dry run and real) against a running server's data,
`POST /api/admin/gc`, the scheduled collection (`--gc-interval`) and its metrics, and the race
that matters: pushes, tag moves and deletions going on while collections run lose nothing that
was acknowledged.

Each server keeps its metadata and blobs where the harness puts them (SQLite and the data folder,
or PostgreSQL with E2E_DATABASE=postgres, and S3 with E2E_STORAGE=s3); `wharf gc` is given the
same --data-dir, --database and --storage (and the S3 key in its environment), as an operator
would.  Pushes made while a collection with a short grace period runs may be refused with
MANIFEST_BLOB_UNKNOWN (the collector took a link between the blob upload and the manifest PUT):
the helpers here push again then, as a client would.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import random
import re
import subprocess
import threading
import time
from collections import Counter

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from harness import wait_for, wharf_binary
from hubapi import ADMIN_PASSWORD, password, sign_up, user_client
from oci import (OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, Image, describe, descriptor,
                 make_image, make_layer, oci_errors, random_bytes, sha256, with_query)

pytestmark = pytest.mark.wharf_only(reason="Wharf's garbage collection (CLI, API, schedule)")

# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def start_wharf(registry_factory, *flags: str):
    """A Wharf with these flags whose administrator (admin) has ADMIN_PASSWORD."""
    return registry_factory(extra_args=list(flags), env={"WHARF_ADMIN_PASSWORD": ADMIN_PASSWORD})


def gc_api(server, body=None, user="admin", **kw) -> requests.Response:
    """POST /api/admin/gc as `user` (HTTP Basic; None: anonymous) with a JSON body."""
    auth = None
    if user:
        auth = (user, ADMIN_PASSWORD if user == "admin" else password(user))
    if "data" not in kw:
        kw["json"] = {} if body is None else body
    return requests.post(server.url + "/api/admin/gc", auth=auth, timeout=120, **kw)


def assert_gc_report(r: requests.Response, dry_run: bool) -> dict:
    """A 200 answer of POST /api/admin/gc with every field of the right type; the body."""
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Content-Type", "").startswith("application/json"), describe(r)
    report = r.json()
    assert set(report) >= {"dry_run", "blobs", "manifests", "bytes", "links", "started_at",
                           "duration_seconds"}, describe(r)
    assert report["dry_run"] is dry_run, describe(r)
    for field in ("blobs", "manifests", "bytes", "links"):
        assert type(report[field]) is int and report[field] >= 0, describe(r)  # noqa: E721
    assert isinstance(report["duration_seconds"], (int, float)), describe(r)
    assert 0 <= report["duration_seconds"] < 120, describe(r)
    started = datetime.datetime.fromisoformat(report["started_at"].replace("Z", "+00:00"))
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - started).total_seconds()) < 300, f"started_at is not about now\n{describe(r)}"
    return report


def gc_cli(server, *args: str, check: bool = True, timeout: float = 120):
    """`wharf gc ARGS` on the server's data: its data folder, database and storage (the S3 key
    in the environment, like the server's); nothing else of the caller's WHARF_*/AWS_* leaks in."""
    cmd = [str(wharf_binary()), "gc", "--data-dir", str(server.data_dir)]
    if server.env.get("WHARF_DATABASE"):
        cmd += ["--database", server.env["WHARF_DATABASE"]]
    if server.env.get("WHARF_STORAGE"):
        cmd += ["--storage", server.env["WHARF_STORAGE"]]
    cmd += list(args)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WHARF_", "AWS_"))}
    env.update({k: v for k, v in server.env.items() if k.startswith("AWS_")})
    proc = subprocess.run(cmd, env=env, cwd=server.workdir, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)
    if check:
        assert proc.returncode == 0, (
            f"{' '.join(cmd)} exited with {proc.returncode}\n--- stdout ---\n{proc.stdout}\n"
            f"--- stderr ---\n{proc.stderr}")
    return proc


_MANIFEST_LINE = re.compile(r"^(would delete|deleted) manifest (\S+)@(sha256:[0-9a-f]{64})$")
_BLOB_LINE = re.compile(r"^(would delete|deleted) blob (sha256:[0-9a-f]{64}) \((\d+) bytes\)$")
_SUMMARY_LINE = re.compile(r"^(dry run: would reclaim|reclaimed) (\d+) blobs, (\d+) manifests, "
                           r"(\d+) bytes \(.*\) in \d+(?:\.\d+)? s$")


def parse_gc_output(stdout: str, dry_run: bool) -> dict:
    """{"manifests": {(repo, digest)}, "blobs": {digest: size}, "summary": (blobs, manifests,
    bytes)} from `wharf gc`'s output; every line must be one of the documented ones, each item
    line with the verb of the mode, and the summary last."""
    verb = "would delete" if dry_run else "deleted"
    lead = "dry run: would reclaim" if dry_run else "reclaimed"
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert lines, f"wharf gc printed nothing:\n{stdout}"
    manifests, blobs = set(), {}
    for line in lines[:-1]:
        m = _MANIFEST_LINE.match(line)
        if m:
            assert m.group(1) == verb, f"{line!r} in a {'dry' if dry_run else 'real'} run"
            manifests.add((m.group(2), m.group(3)))
            continue
        b = _BLOB_LINE.match(line)
        assert b, f"unexpected line in wharf gc output: {line!r}\n{stdout}"
        assert b.group(1) == verb, f"{line!r} in a {'dry' if dry_run else 'real'} run"
        assert b.group(2) not in blobs, f"blob listed twice:\n{stdout}"
        blobs[b.group(2)] = int(b.group(3))
    s = _SUMMARY_LINE.match(lines[-1])
    assert s and s.group(1) == lead, f"no summary line '{lead} …' last:\n{stdout}"
    summary = (int(s.group(2)), int(s.group(3)), int(s.group(4)))
    assert summary == (len(blobs), len(manifests), sum(blobs.values())), (
        f"the summary does not add up the items listed:\n{stdout}")
    return {"manifests": manifests, "blobs": blobs, "summary": summary}


def metric(server, name: str, default=None) -> float:
    """The value of the sample `name` at /metrics (summed over labels); `default` when absent."""
    r = requests.get(server.url + "/metrics", timeout=10)
    assert r.status_code == 200, describe(r)
    values = [s.value for family in text_string_to_metric_families(r.text)
              for s in family.samples if s.name == name]
    if not values:
        assert default is not None, f"/metrics has no {name}:\n{r.text[:4000]}"
        return default
    return sum(values)


def stored_digests(server) -> dict:
    """{digest: size} of every blob in the server's storage (data folder or S3)."""
    result = {}
    for path, size in server.stored_blobs().items():
        parts = path.split("/")
        if parts[0] == "sha256" and len(parts[-1]) == 64:
            result["sha256:" + parts[-1]] = size
    return result


def blob_response(client, repo: str, digest: str) -> requests.Response:
    return client.get(f"/v2/{repo}/blobs/{digest}")


def assert_blob_served(client, repo: str, digest: str, size: int = None):
    r = blob_response(client, repo, digest)
    assert r.status_code == 200, describe(r)
    assert sha256(r.content) == digest, (
        f"{repo}@{digest} served {len(r.content)} bytes hashing to {sha256(r.content)}")
    if size is not None:
        assert len(r.content) == size, f"{repo}@{digest}: {len(r.content)} bytes, not {size}"


def error_codes(r: requests.Response) -> list:
    try:
        return [e.get("code") for e in oci_errors(r)]
    except AssertionError:
        return []


def push_blobs(client, repo: str, blobs: dict, stats: Counter = None, mount_from: str = None,
               rnd: random.Random = None, uploaded: tuple = None):
    """Each blob the repository lacks (HEAD): uploaded, or with `mount_from` sometimes mounted
    from that repository first (a 202 answer, as when that repository lacks it, falls back to
    uploading into the session it opened). `uploaded`: (lock, set of digests uploaded so far),
    to count blobs uploaded more than once (they came back after a collection, or go to the
    other repository)."""
    stats = stats if stats is not None else Counter()
    for digest, data in blobs.items():
        if client.blob_exists(repo, digest):
            stats["blobs already there"] += 1
            continue
        if mount_from and rnd is not None and rnd.random() < 0.5:
            r = client.post(f"/v2/{repo}/blobs/uploads/?mount={digest}&from={mount_from}",
                            headers={"Content-Length": "0"})
            if r.status_code == 201:
                stats["blobs mounted"] += 1
                continue
            assert r.status_code == 202, f"mount {digest} from {mount_from}\n{describe(r)}"
            stats["mounts answered 202 (uploaded instead)"] += 1
            r = client.put(with_query(client.location(r), digest=digest), data=data,
                           headers={"Content-Type": "application/octet-stream"})
            assert r.status_code == 201, f"PUT blob {digest} after a refused mount\n{describe(r)}"
        else:
            client.upload_blob(repo, data, digest)
        stats["blobs uploaded"] += 1
        if uploaded is not None:
            with uploaded[0]:
                if digest in uploaded[1]:
                    stats["blobs uploaded more than once"] += 1
                uploaded[1].add(digest)


def push(client, repo: str, tag: str, image: Image, stats: Counter = None, attempts: int = 10,
         **mount) -> int:
    """Push blobs then the manifest; a manifest refused with MANIFEST_BLOB_UNKNOWN (garbage
    collection took a link since the blob was checked or uploaded) is pushed again, blobs first.
    Returns the number of attempts it took."""
    stats = stats if stats is not None else Counter()
    for attempt in range(1, attempts + 1):
        push_blobs(client, repo, image.blobs, stats, **mount)
        r = client.put_manifest(repo, tag, image.manifest, image.media_type, expect=None)
        if r.status_code == 201:
            assert r.headers.get("Docker-Content-Digest") == image.digest, describe(r)
            stats["manifests accepted"] += 1
            return attempt
        if r.status_code == 400 and "MANIFEST_BLOB_UNKNOWN" in error_codes(r):
            stats["MANIFEST_BLOB_UNKNOWN retries"] += 1
            continue
        raise AssertionError(f"PUT manifest {repo}:{tag} (attempt {attempt})\n{describe(r)}")
    raise AssertionError(f"{repo}:{tag} still refused after {attempts} attempts")


def tag_problems(client, repo: str, tag: str, image: Image) -> list:
    """What is wrong with an acknowledged tag: its manifest (by tag and by digest) and every blob
    must be served whole. [] when nothing is."""
    problems = []
    for ref in (tag, image.digest):
        r = client.get_manifest(repo, ref)
        if r.status_code != 200:
            problems.append(f"{repo}:{tag} manifest {ref}: {r.status_code} {r.text[:300]}")
        elif r.content != image.manifest or r.headers.get("Docker-Content-Digest") != image.digest:
            problems.append(f"{repo}:{tag} manifest {ref}: {sha256(r.content)} served, "
                            f"{image.digest} acknowledged")
    for digest, data in image.blobs.items():
        try:
            r = blob_response(client, repo, digest)
        except requests.RequestException as exc:  # a body cut short: the bytes are not all there
            problems.append(f"{repo}:{tag} blob {digest}: {exc!r}")
            continue
        if r.status_code != 200:
            problems.append(f"{repo}:{tag} blob {digest}: {r.status_code} {r.text[:300]}")
        elif sha256(r.content) != digest or len(r.content) != len(data):
            problems.append(f"{repo}:{tag} blob {digest}: {len(r.content)} bytes hashing to "
                            f"{sha256(r.content)}")
    return problems


def image_blob_sizes(manifest: dict) -> dict:
    """{digest: size} of an image manifest's config and layers."""
    blobs = {manifest["config"]["digest"]: manifest["config"]["size"]}
    for layer in manifest["layers"]:
        blobs[layer["digest"]] = layer["size"]
    return blobs


# --------------------------------------------------------------------------------------
# 1. docker, then `wharf gc --dry-run` and `wharf gc` on the running server's data
# --------------------------------------------------------------------------------------

PUSH_DIGEST_RE = re.compile(r": digest: (sha256:[0-9a-f]{64}) size: \d+")


def docker_push(dockerd, ref: str) -> tuple:
    out = dockerd.docker("push", ref).stdout
    m = PUSH_DIGEST_RE.search(out)
    assert m, f"no digest line in docker push output:\n{out}"
    return out, m.group(1)


def build_shared_base_images(dockerd, workdir) -> tuple:
    """Three local images FROM scratch: a base with one layer (`shared`) and two images on it,
    each with one layer of its own. Returns (v1 tag, v2 tag) of the local images."""
    base, v1, v2 = "e2e-gc/base:latest", "e2e-gc/app:v1", "e2e-gc/app:v2"
    ctx = workdir / "base"
    ctx.mkdir()
    (ctx / "shared").write_bytes(os.urandom(128 * 1024))
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY shared /shared\n")
    dockerd.docker("build", "--tag", base, str(ctx))
    for name, ref in (("one", v1), ("two", v2)):
        ctx = workdir / name
        ctx.mkdir()
        (ctx / name).write_bytes(os.urandom(96 * 1024))
        (ctx / "Dockerfile").write_text(f"FROM {base}\nCOPY {name} /{name}\n")
        dockerd.docker("build", "--tag", ref, str(ctx))
    return v1, v2


def test_cli_dry_run_then_gc_reclaims_an_untagged_image_and_keeps_the_shared_layer(
        dockerd, registry_factory, tmp_path):
    """docker pushes app:v1 and app:v2 (one shared base layer, one layer each); v1's tag is
    deleted. `wharf gc --dry-run --grace-period 0 --untagged-age 0` on the running server's data
    lists exactly v1's manifest and its own blobs (layer and config) and changes nothing; the real
    run then reclaims the same manifests, blobs and bytes: they are gone from storage, from the
    registry and from wharf_storage_bytes, and docker still pulls v2 whole."""
    server = start_wharf(registry_factory, "--gc-interval", "0")
    client = server.client()
    dockerd.login(server)
    local_v1, local_v2 = build_shared_base_images(dockerd, tmp_path)
    repo = "e2e/gc-app"
    ref1, ref2 = f"{server.host}/{repo}:v1", f"{server.host}/{repo}:v2"
    dockerd.docker("tag", local_v1, ref1)
    dockerd.docker("tag", local_v2, ref2)
    v2_image_id = dockerd.image_id(local_v2)
    _, v1_digest = docker_push(dockerd, ref1)
    out, v2_digest = docker_push(dockerd, ref2)
    assert "Layer already exists" in out, f"v2 did not reuse v1's base layer:\n{out}"

    manifests = {}
    for tag, digest in (("v1", v1_digest), ("v2", v2_digest)):
        r = client.get_manifest(repo, tag)
        assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == digest, describe(r)
        manifests[tag] = r.json()
    v1_blobs, v2_blobs = image_blob_sizes(manifests["v1"]), image_blob_sizes(manifests["v2"])
    shared = set(v1_blobs) & set(v2_blobs)
    assert len(shared) == 1 and len(v1_blobs) == len(v2_blobs) == 3, (
        f"expected one shared layer, one own layer and a config each: {v1_blobs} {v2_blobs}")
    v1_only = {d: s for d, s in v1_blobs.items() if d not in shared}
    own_layer = next(layer["digest"] for layer in manifests["v1"]["layers"]
                     if layer["digest"] not in shared)

    r = client.delete(f"/v2/{repo}/manifests/v1")
    assert r.status_code == 202, describe(r)
    stored_before = stored_digests(server)
    assert set(v1_blobs) | set(v2_blobs) <= set(stored_before), stored_before
    bytes_before = metric(server, "wharf_storage_bytes")

    # Dry run: lists v1's manifest and its own blobs, deletes nothing.
    dry = parse_gc_output(gc_cli(server, "--dry-run", "--grace-period", "0",
                                 "--untagged-age", "0").stdout, dry_run=True)
    assert dry["manifests"] == {(repo, v1_digest)}, dry
    assert dry["blobs"] == v1_only, f"expected exactly v1's own blobs {v1_only}: {dry}"
    assert dry["summary"] == (2, 1, sum(v1_only.values())), dry
    assert stored_digests(server) == stored_before, "the dry run changed the storage"
    assert metric(server, "wharf_storage_bytes") == bytes_before, "the dry run changed storage"
    r = client.get_manifest(repo, v1_digest)
    assert r.status_code == 200, f"the dry run deleted v1's manifest\n{describe(r)}"
    for digest, size in v1_blobs.items():
        assert_blob_served(client, repo, digest, size)
    assert metric(server, "wharf_gc_reclaimed_bytes_total", default=0.0) == 0

    # The real run reclaims what the dry run said.
    real = parse_gc_output(gc_cli(server, "--grace-period", "0", "--untagged-age", "0").stdout,
                           dry_run=False)
    assert real["manifests"] == dry["manifests"], (dry, real)
    assert real["blobs"] == dry["blobs"], (dry, real)
    assert real["summary"] == dry["summary"], (dry, real)

    stored_after = stored_digests(server)
    assert set(stored_after) == set(stored_before) - set(v1_only), (
        f"storage after gc: {sorted(stored_after)}\nbefore: {sorted(stored_before)}\n"
        f"reclaimed: {sorted(v1_only)}")
    assert own_layer not in stored_after
    # The server answers from the database (its read cache forgets another process's writes
    # within seconds).
    wait_for(lambda: blob_response(client, repo, own_layer).status_code == 404, 10,
             what=f"GET {repo} blob {own_layer} to answer 404 after gc")
    wait_for(lambda: client.get_manifest(repo, v1_digest).status_code == 404, 10,
             what=f"GET {repo} manifest {v1_digest} to answer 404 after gc")
    wait_for(lambda: metric(server, "wharf_storage_bytes") == bytes_before - dry["summary"][2],
             10, what=f"wharf_storage_bytes to drop by {dry['summary'][2]} from {bytes_before}")
    for digest, size in v2_blobs.items():
        assert_blob_served(client, repo, digest, size)
    assert server.verify_stored_blobs() >= 3

    # docker still pulls v2 completely, and no longer v1.
    dockerd.remove_all_images()
    out = dockerd.docker("pull", ref2).stdout
    assert out.count("Pull complete") == 2, f"expected both layers of v2 pulled:\n{out}"
    assert dockerd.image_id(ref2) == v2_image_id
    gone = dockerd.docker("pull", f"{server.host}/{repo}@{v1_digest}", check=False)
    assert gone.returncode != 0, f"v1 still pulls after gc:\n{gone.stdout}"
    assert "not found" in (gone.stdout + gone.stderr).lower() or \
        "unknown" in (gone.stdout + gone.stderr).lower(), gone.stderr
    # Nothing is left to collect.
    again = parse_gc_output(gc_cli(server, "--grace-period", "0", "--untagged-age", "0").stdout,
                            dry_run=False)
    assert again["summary"] == (0, 0, 0), again


# --------------------------------------------------------------------------------------
# 2. POST /api/admin/gc after a repository is deleted
# --------------------------------------------------------------------------------------

def layered_image(seed: str, layers: list) -> Image:
    """An OCI image of the given layers ((blob, diff_id) pairs) with a config naming `seed`."""
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "config": {"Env": [f"E2E_SEED={seed}"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id for _, diff_id in layers]},
    }, separators=(",", ":")).encode()
    body = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, config),
        "layers": [descriptor(OCI_LAYER_GZIP, blob) for blob, _ in layers],
    }).encode()
    blobs = {sha256(config): config}
    blobs.update({sha256(blob): blob for blob, _ in layers})
    return Image(body, OCI_MANIFEST, blobs, sha256(config), [sha256(b) for b, _ in layers])


@functools.lru_cache(maxsize=None)
def layer(seed: str, size: int) -> tuple:
    """A reproducible layer: the same seed and size always give the same blob."""
    return make_layer({"data.bin": random_bytes(size, seed)})


def test_api_gc_reclaims_a_deleted_repository_once_and_only_for_administrators(registry_factory):
    """alice pushes alice/app (two tags) and alice/keep, which shares a layer with it, and deletes
    alice/app. POST /api/admin/gc: anonymous 401, alice 403; grace_period -1 (or too large, or
    not a number) refused with 422 naming the field, a body that is not a JSON object with 400;
    with the server's grace period (an hour) nothing goes yet; {"dry_run": true,
    "grace_period": 0} reports exactly the deleted repository's own blobs and deletes nothing;
    {"grace_period": 0} reclaims them (the metrics count them), keeps the shared layer and
    alice/keep whole; a second identical call reclaims nothing."""
    server = start_wharf(registry_factory, "--gc-interval", "0", "--gc-untagged-age", "0")
    sign_up(server, "alice")
    alice = user_client(server, "alice")
    shared = layer(f"api-shared-{os.urandom(4).hex()}", 48 * 1024)
    app_v1 = layered_image("app-v1", [shared, layer("app-1a", 40 * 1024), layer("app-1b", 8000)])
    app_v2 = layered_image("app-v2", [shared, layer("app-2", 20 * 1024)])
    keep = layered_image("keep", [shared, layer("keep-1", 12 * 1024)])
    push(alice, "alice/app", "v1", app_v1)
    push(alice, "alice/app", "v2", app_v2)
    push(alice, "alice/keep", "v1", keep)
    doomed = {d: len(b) for image in (app_v1, app_v2) for d, b in image.blobs.items()
              if d not in keep.blobs}
    assert len(doomed) == 5, doomed

    # Nothing is collectable while everything is tagged.
    report = assert_gc_report(gc_api(server, {"dry_run": True, "grace_period": 0}), True)
    assert (report["blobs"], report["manifests"], report["bytes"]) == (0, 0, 0), report

    r = requests.delete(server.url + "/api/repositories/alice/app",
                        auth=("alice", password("alice")), timeout=30)
    assert r.status_code == 204, describe(r)
    stored_before = stored_digests(server)
    assert set(doomed) <= set(stored_before), "a deleted repository's blobs went without gc"

    # Who may collect, and what grace period.
    r = gc_api(server, {"grace_period": 0}, user=None)
    assert r.status_code == 401, describe(r)
    r = gc_api(server, {"grace_period": 0}, user="alice")
    assert r.status_code == 403, describe(r)
    r = gc_api(server, {"grace_period": -1})
    assert r.status_code == 422, describe(r)
    assert r.json().get("field") == "grace_period", describe(r)
    assert isinstance(r.json().get("message"), str) and r.json()["message"], describe(r)
    for body, field in (({"grace_period": 1e12}, "grace_period"),
                        ({"grace_period": "0"}, "grace_period"), ({"dry_run": 1}, "dry_run")):
        r = gc_api(server, body)
        assert r.status_code == 422 and r.json().get("field") == field, describe(r)
    for data in ("[]", "not json", ""):  # the body must be a JSON object
        r = gc_api(server, data=data, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json().get("message"), describe(r)
    assert stored_digests(server) == stored_before, "a refused request collected something"

    # The server's own grace period (3600 s) keeps the just-orphaned blobs.
    report = assert_gc_report(gc_api(server, {}), False)
    assert (report["blobs"], report["bytes"]) == (0, 0), report
    assert stored_digests(server) == stored_before

    report = assert_gc_report(gc_api(server, {"dry_run": True, "grace_period": 0}), True)
    assert (report["blobs"], report["manifests"], report["bytes"]) == (
        5, 0, sum(doomed.values())), report
    assert stored_digests(server) == stored_before, "the dry run changed the storage"

    bytes_before = metric(server, "wharf_storage_bytes")
    report = assert_gc_report(gc_api(server, {"grace_period": 0}), False)
    assert (report["blobs"], report["manifests"], report["bytes"]) == (
        5, 0, sum(doomed.values())), report
    stored_after = stored_digests(server)
    assert set(stored_after) == set(stored_before) - set(doomed), (
        f"after: {sorted(stored_after)}\nbefore: {sorted(stored_before)}\nexpected to go: "
        f"{sorted(doomed)}")
    assert metric(server, "wharf_storage_bytes") == bytes_before - sum(doomed.values())
    assert metric(server, "wharf_gc_reclaimed_bytes_total") == sum(doomed.values())
    assert metric(server, "wharf_gc_reclaimed_blobs_total") == 5
    assert metric(server, "wharf_gc_deleted_manifests_total") == 0
    assert metric(server, "wharf_gc_last_run_timestamp_seconds") >= time.time() - 300
    assert problem_free(tag_problems(alice, "alice/keep", "v1", keep))
    assert server.verify_stored_blobs() >= len(keep.blobs)

    report = assert_gc_report(gc_api(server, {"grace_period": 0}), False)
    assert (report["blobs"], report["manifests"], report["bytes"]) == (0, 0, 0), report
    assert metric(server, "wharf_gc_reclaimed_bytes_total") == sum(doomed.values())
    # The repository can be pushed again, with the blobs garbage collection took.
    push(alice, "alice/app", "v1", app_v1)
    assert problem_free(tag_problems(alice, "alice/app", "v1", app_v1))


def problem_free(problems: list) -> bool:
    assert not problems, "\n".join(problems)
    return True


# --------------------------------------------------------------------------------------
# 3. The schedule
# --------------------------------------------------------------------------------------

def test_scheduled_gc_reclaims_a_deleted_repository(registry_factory):
    """With --gc-interval 1 --gc-grace-period 0 --gc-untagged-age 0, a deleted repository's blobs
    are reclaimed by the schedule alone within seconds: wharf_gc_reclaimed_bytes_total covers
    them, wharf_gc_last_run_timestamp_seconds is after the deletion, and they are gone from
    storage."""
    server = start_wharf(registry_factory, "--gc-interval", "1", "--gc-grace-period", "0",
                         "--gc-untagged-age", "0")
    client = server.client()
    image = make_image(n_layers=2, layer_size=64 * 1024, seed=f"sched-{os.urandom(4).hex()}")
    stats = Counter()
    push(client, "e2e/sched", "v1", image, stats)
    assert problem_free(tag_problems(client, "e2e/sched", "v1", image))
    size = sum(len(b) for b in image.blobs.values())
    assert set(image.blobs) <= set(stored_digests(server))
    reclaimed_before = metric(server, "wharf_gc_reclaimed_bytes_total", default=0.0)

    deleted_at = time.time()
    r = requests.delete(server.url + "/api/repositories/e2e/sched", auth=server.credentials,
                        timeout=30)
    assert r.status_code == 204, describe(r)
    started = time.monotonic()
    wait_for(lambda: metric(server, "wharf_gc_reclaimed_bytes_total", default=0.0)
             >= reclaimed_before + size, 12, interval=0.25,
             what=f"the scheduled gc to reclaim the {size} bytes of the deleted repository")
    took = time.monotonic() - started
    assert metric(server, "wharf_gc_last_run_timestamp_seconds") >= deleted_at - 1
    assert metric(server, "wharf_gc_last_duration_seconds") >= 0
    assert metric(server, "wharf_gc_reclaimed_blobs_total") >= len(image.blobs)
    left = set(image.blobs) & set(stored_digests(server))
    assert not left, f"still stored after the scheduled gc reclaimed them: {left}"
    print(f"scheduled gc reclaimed the repository {took:.1f} s after its deletion; {dict(stats)}")


# --------------------------------------------------------------------------------------
# 4. The race: pushes, tag moves and deletions while collections run
# --------------------------------------------------------------------------------------

RACE_REPOS = ("e2e/race-a", "e2e/race-b")
RACE_SECONDS = 10
RACE_MAX_SECONDS = 40
RACE_MIN_PUSHES = 60
PUSHERS = 3


class Pusher(threading.Thread):
    """Pushes images over the OCI API in a loop to tags of its own (w<N>-0..2 in both race
    repositories), moving them; every image has a common layer all pushers share (rotating every
    2.5 s, so an old one is orphaned, collected and later pushed again), a recurring layer from a
    small pool (comes and goes), a layer of its own (orphaned when the tag moves on; large every
    fourth round) and a config of its own. Now and then it pushes an image of its own from
    earlier again (its manifest and blobs may be being collected), deletes one of its tags, and
    pulls one of its acknowledged tags whole. `acked`: (repo, tag) -> the image the tag must
    serve."""

    def __init__(self, server, index: int, t0: float, stop: threading.Event, uploaded: tuple):
        super().__init__(name=f"pusher-{index}", daemon=True)
        self.server, self.index, self.t0, self.stop = server, index, t0, stop
        self.acked: dict = {}
        self.history: list = []
        self.lost: list = []
        self.error = None
        self.stats = Counter()
        self.rnd = random.Random(f"pusher-{index}")
        self.uploaded = uploaded

    def image(self, round_: int) -> Image:
        phase = int((time.monotonic() - self.t0) / 2.5) % 3
        own_size = 256 * 1024 if round_ % 4 == 0 else 6 * 1024
        return layered_image(f"race-{self.index}-{round_}", [
            layer(f"race-common-{phase}", 16 * 1024),
            layer(f"race-recurring-{self.rnd.randrange(6)}", 24 * 1024),
            layer(f"race-own-{self.index}-{round_}", own_size),
        ])

    def run(self):
        try:
            client = self.server.client()
            round_ = 0
            while not self.stop.is_set():
                round_ += 1
                repo = self.rnd.choice(RACE_REPOS)
                other = RACE_REPOS[1 - RACE_REPOS.index(repo)]
                tag = f"w{self.index}-{self.rnd.randrange(3)}"
                if self.history and self.rnd.random() < 0.15:
                    image = self.rnd.choice(self.history)
                    self.stats["earlier images pushed again"] += 1
                else:
                    image = self.image(round_)
                    self.history = (self.history + [image])[-30:]
                push(client, repo, tag, image, self.stats, mount_from=other, rnd=self.rnd,
                     uploaded=self.uploaded)
                self.acked[(repo, tag)] = image
                if self.rnd.random() < 0.1:
                    key = self.rnd.choice(sorted(self.acked))
                    del self.acked[key]
                    r = client.delete(f"/v2/{key[0]}/manifests/{key[1]}")
                    assert r.status_code == 202, f"delete tag {key}\n{describe(r)}"
                    self.stats["tags deleted"] += 1
                if self.acked and self.rnd.random() < 0.3:
                    key = self.rnd.choice(sorted(self.acked))
                    problems = tag_problems(client, key[0], key[1], self.acked[key])
                    self.stats["tags pulled during the run"] += 1
                    if problems:
                        self.lost.append((time.monotonic() - self.t0, problems))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
            self.stop.set()


class Collector(threading.Thread):
    """Runs garbage collections in a loop until stopped: POST /api/admin/gc {"grace_period": 1}
    (`api`) or `wharf gc --grace-period 1 --untagged-age 0` on the server's data (`cli`).
    `reports`: (blobs, manifests, bytes) of each run."""

    def __init__(self, server, how: str, stop: threading.Event):
        super().__init__(name=f"collector-{how}", daemon=True)
        self.server, self.how, self.stop = server, how, stop
        self.reports: list = []
        self.error = None
        self.rnd = random.Random(how)

    def run(self):
        try:
            while not self.stop.is_set():
                if self.how == "api":
                    report = assert_gc_report(gc_api(self.server, {"grace_period": 1}), False)
                    self.reports.append((report["blobs"], report["manifests"], report["bytes"]))
                else:
                    out = gc_cli(self.server, "--grace-period", "1", "--untagged-age", "0")
                    self.reports.append(parse_gc_output(out.stdout, dry_run=False)["summary"])
                time.sleep(self.rnd.uniform(0, 0.2))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
            self.stop.set()


@pytest.mark.parametrize("collectors", [("api",), ("api", "cli")], ids=["api", "api+cli"])
def test_pushes_racing_gc_lose_nothing_acknowledged(registry_factory, collectors):
    """3 pushers (see Pusher) and garbage collection with a 1 s grace period in a loop (the API;
    and `wharf gc` from another process at the same time) for 10 s (longer, up to 40 s, until at
    least 60 pushes were acknowledged and collections reclaimed something), on a server with
    --gc-untagged-age 0. A manifest PUT refused with MANIFEST_BLOB_UNKNOWN is pushed again.
    Every acknowledged tag pulls whole (manifest by tag and digest, every blob hashing to its
    digest), during the run and after it; the collections did reclaim manifests and blobs
    meanwhile. A last collection with grace period 0 then leaves exactly the acknowledged tags'
    blobs in storage, and wharf_storage_bytes counts exactly them."""
    server = start_wharf(registry_factory, "--gc-interval", "0", "--gc-untagged-age", "0")
    stop = threading.Event()
    t0 = time.monotonic()
    uploaded = (threading.Lock(), set())
    pushers = [Pusher(server, i, t0, stop, uploaded) for i in range(PUSHERS)]
    gcs = [Collector(server, how, stop) for how in collectors]
    for thread in pushers + gcs:
        thread.start()
    # At least RACE_SECONDS, and on until enough was pushed and collected (a loaded machine is
    # slower), but no longer than RACE_MAX_SECONDS.
    while not stop.wait(0.2):
        elapsed = time.monotonic() - t0
        accepted = sum(p.stats["manifests accepted"] for p in pushers)
        collected = [r for c in gcs for r in list(c.reports)]
        if elapsed >= RACE_MAX_SECONDS or (
                elapsed >= RACE_SECONDS and accepted >= RACE_MIN_PUSHES
                and any(r[0] for r in collected) and any(r[1] for r in collected)):
            break
    stop.set()
    for thread in pushers + gcs:
        thread.join(120)
        assert not thread.is_alive(), f"{thread.name} did not stop"
    for thread in pushers + gcs:
        if thread.error is not None:
            raise AssertionError(f"{thread.name} failed: {thread.error}") from thread.error

    stats = sum((p.stats for p in pushers), Counter())
    reports = [r for c in gcs for r in c.reports]
    reclaimed = tuple(map(sum, zip(*reports))) if reports else (0, 0, 0)
    per_collector = ", ".join(f"{c.how}: {len(c.reports)}" for c in gcs)
    summary = (f"{dict(stats)}; {len(reports)} collections ({per_collector}) reclaimed "
               f"{reclaimed[0]} blobs, {reclaimed[1]} manifests, {reclaimed[2]} bytes")
    print(summary)
    lost_during = [(round(t, 2), p) for pusher in pushers for t, p in pusher.lost]
    assert not lost_during, (
        f"acknowledged tags did not pull whole during the run: {lost_during}\n{summary}")
    assert stats["manifests accepted"] >= RACE_MIN_PUSHES, (
        f"too few pushes to prove anything in {RACE_MAX_SECONDS} s: {summary}")
    assert reclaimed[0] > 0 and reclaimed[1] > 0, (
        f"garbage collection reclaimed nothing during the run: {summary}")

    acked = {key: image for pusher in pushers for key, image in pusher.acked.items()}
    assert acked, summary
    client = server.client()
    problems = [p for (repo, tag), image in sorted(acked.items())
                for p in tag_problems(client, repo, tag, image)]
    assert not problems, "lost after the run:\n" + "\n".join(problems) + f"\n{summary}"

    # A last collection that keeps nothing unreferenced: only the acknowledged tags' blobs stay.
    assert_gc_report(gc_api(server, {"grace_period": 0}), False)
    problems = [p for (repo, tag), image in sorted(acked.items())
                for p in tag_problems(client, repo, tag, image)]
    assert not problems, "lost to the last collection:\n" + "\n".join(problems)
    expected = {d: len(b) for image in acked.values() for d, b in image.blobs.items()}
    stored = stored_digests(server)
    assert set(stored) == set(expected), (
        f"after a collection with grace period 0: stored but unreferenced "
        f"{sorted(set(stored) - set(expected))}; referenced but not stored "
        f"{sorted(set(expected) - set(stored))}")
    assert metric(server, "wharf_storage_bytes") == sum(expected.values())
    assert server.verify_stored_blobs() == len(expected)


def test_pushing_an_untagged_manifest_again_while_gc_deletes_it(registry_factory):
    """3 pushers each move a tag of their own back and forth between two images for 8 s while
    POST /api/admin/gc {"grace_period": 1} runs in a loop on a server with --gc-untagged-age 0:
    the image a tag just left is untagged, so collections keep deleting the very manifest the
    next push puts again. Each manifest PUT is accepted (201) or refused with
    MANIFEST_BLOB_UNKNOWN and pushed again, never an error; collections did delete manifests;
    every tag then serves the image last acknowledged for it whole."""
    server = start_wharf(registry_factory, "--gc-interval", "0", "--gc-untagged-age", "0")
    stop = threading.Event()
    acked, errors, stats = {}, [], Counter()

    def flip(index: int):
        try:
            client = server.client()
            images = [layered_image(f"flip-{index}-{k}", [layer("flip-shared", 4096),
                                                          layer(f"flip-{index}-{k}", 2048)])
                      for k in range(2)]
            n = 0
            while not stop.is_set():
                image = images[n % 2]
                n += 1
                push(client, "e2e/flip", f"t{index}", image, stats)
                acked[f"t{index}"] = image
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(f"pusher {index}: {exc}")
            stop.set()

    collector = Collector(server, "api", stop)
    threads = [threading.Thread(target=flip, args=(i,), daemon=True) for i in range(3)]
    for thread in threads + [collector]:
        thread.start()
    stop.wait(8)
    stop.set()
    for thread in threads + [collector]:
        thread.join(120)
        assert not thread.is_alive(), f"{thread.name} did not stop"
    if collector.error is not None:
        raise AssertionError(f"{collector.name} failed: {collector.error}") from collector.error
    summary = (f"{dict(stats)}; {len(collector.reports)} collections deleted "
               f"{sum(r[1] for r in collector.reports)} manifests")
    print(summary)
    assert not errors, "\n".join(errors) + f"\n{summary}"
    assert sum(r[1] for r in collector.reports) > 0, f"no manifest was collected: {summary}"
    client = server.client()
    assert problem_free([p for tag, image in sorted(acked.items())
                         for p in tag_problems(client, "e2e/flip", tag, image)])
