"""Replicas: two Wharf servers on one PostgreSQL database and one S3 bucket (the same prefix) act
as one registry, as they would behind a load balancer that sends each request to either.

- an upload may move from one replica to the other between its requests;
- what is pushed through one is pulled through the other, with the other's registry tokens;
- a change of access made on one (a repository made private, a personal access token revoked) is
  enforced by the other within PROPAGATION_BOUND seconds.

Runs only with E2E_DATABASE=postgres and E2E_STORAGE=s3 (scripts/test-postgres and
scripts/test-s3 start the two stores; see harness.py).
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
import requests

import harness
from harness import SHARED_STORES, SHARED_STORES_SKIP_REASON
from oci import (ALL_MANIFESTS, RegistryClient, assert_oci_error, describe, make_image,
                 random_bytes, sha256, with_query)

pytestmark = pytest.mark.skipif(not SHARED_STORES, reason=SHARED_STORES_SKIP_REASON)

# Seconds within which a change acknowledged by one replica must be enforced by the other: the
# most a replica may go on answering from what it cached before the change.
PROPAGATION_BOUND = 1.0
# How long to keep looking past the bound, to tell a slow replica from one that never notices.
GIVE_UP = 30.0


@pytest.fixture
def replicas(registry_factory):
    """(A, B): two running Wharf servers on the same database, storage URL (prefix included) and
    token signing key, each with a data folder of its own (harness.start_replicas)."""
    a, b = harness.start_replicas(registry_factory)
    return a, b


def api(server, method: str, path: str, auth=None, **kw) -> requests.Response:
    return requests.request(method, server.url + path, auth=auth, timeout=30, **kw)


def sign_up(server, name: str) -> tuple:
    """Signs `name` up through `server`'s API; returns (name, password)."""
    password = f"{name}-password"
    r = api(server, "POST", "/api/users",
            json={"username": name, "email": f"{name}@example.com", "password": password})
    assert r.status_code == 201, describe(r)
    return name, password


def on(server, url: str) -> str:
    """The same path and query on `server`: where a load balancer sends the next request."""
    parts = urlsplit(url)
    return server.url + parts.path + (f"?{parts.query}" if parts.query else "")


def chunk_headers(offset: int, chunk: bytes) -> dict:
    return {"Content-Type": "application/octet-stream",
            "Content-Range": f"{offset}-{offset + len(chunk) - 1}"}


def assert_blob_served(client: RegistryClient, name: str, digest: str, data: bytes, where: str):
    head = client.head(f"/v2/{name}/blobs/{digest}")
    assert head.status_code == 200, f"HEAD on {where}\n{describe(head)}"
    assert int(head.headers["Content-Length"]) == len(data), f"HEAD on {where}\n{describe(head)}"
    r = client.get(f"/v2/{name}/blobs/{digest}")
    assert r.status_code == 200, f"GET on {where}\n{describe(r)}"
    assert r.headers.get("Docker-Content-Digest") == digest, f"GET on {where}\n{describe(r)}"
    assert len(r.content) == len(data) and sha256(r.content) == digest, (
        f"{where} served {len(r.content)} bytes hashing to {sha256(r.content)}, "
        f"not the {len(data)} bytes of {digest}")


def seconds_until(observe, wanted, since: float, what: str) -> float:
    """Polls observe() until it returns `wanted`; returns the seconds from `since` (when the
    change was acknowledged) to the first observation that matched."""
    while True:
        seen = observe()
        elapsed = time.monotonic() - since
        if seen == wanted:
            return elapsed
        if elapsed > GIVE_UP:
            raise AssertionError(f"{what}: still not after {elapsed:.1f} s (the bound is "
                                 f"{PROPAGATION_BOUND} s)\nwanted: {wanted}\nseen:   {seen}")
        time.sleep(0.05)


# --------------------------------------------------------------------------------------
# Content: uploads and images
# --------------------------------------------------------------------------------------

def test_upload_started_on_one_replica_is_finished_on_the_other(replicas):
    a, b = replicas
    ca, cb = a.client(), b.client()
    name = "e2e/handover"
    data = random_bytes(7 * 1024 * 1024 + 333, "handover")
    digest = sha256(data)
    # Odd sizes: neither replica may assume the other left a part of a round size.
    first, second = data[:1024 * 1024 + 7], data[1024 * 1024 + 7:7 * 1024 * 1024]
    last = data[len(first) + len(second):]

    # POST and a first chunk on A.
    loc = ca.start_upload(name)
    r = ca.patch(loc, data=first, headers=chunk_headers(0, first))
    assert r.status_code == 202, f"PATCH on A\n{describe(r)}"
    assert r.headers.get("Range") == f"0-{len(first) - 1}", describe(r)
    upload_id = r.headers.get("Docker-Upload-UUID")
    assert upload_id, describe(r)
    loc = on(b, ca.location(r))

    # B knows the session and how far it got.
    status = cb.get(loc)
    assert status.status_code == 204, f"upload status on B\n{describe(status)}"
    assert status.headers.get("Range") == f"0-{len(first) - 1}", describe(status)
    assert status.headers.get("Docker-Upload-UUID") == upload_id, describe(status)

    # The second chunk goes to B, which appends it where A stopped.
    r = cb.patch(loc, data=second, headers=chunk_headers(len(first), second))
    assert r.status_code == 202, f"PATCH on B\n{describe(r)}"
    assert r.headers.get("Range") == f"0-{len(first) + len(second) - 1}", describe(r)
    loc = cb.location(r)

    # B closes the upload with the last bytes in the PUT and the digest of them all.
    r = cb.put(with_query(loc, digest=digest), data=last,
               headers=chunk_headers(len(first) + len(second), last))
    assert r.status_code == 201, f"PUT on B\n{describe(r)}"
    assert r.headers.get("Docker-Content-Digest") == digest, describe(r)

    assert_blob_served(ca, name, digest, data, "A")
    assert_blob_served(cb, name, digest, data, "B")
    # The session is over for both.
    assert_oci_error(ca.get(on(a, loc)), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_oci_error(cb.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")


def test_image_pushed_through_one_replica_is_pulled_through_the_other(replicas):
    a, b = replicas
    name = "e2e/shared"
    pushed_to_a = make_image(n_layers=3, layer_size=300_000, seed="via-a")
    pushed_to_b = make_image(n_layers=2, layer_size=200_000, seed="via-b")
    a.client().push_image(name, "a", pushed_to_a)
    b.client().push_image(name, "b", pushed_to_b)

    for puller, tag, image in ((b, "a", pushed_to_a), (a, "b", pushed_to_b)):
        client = puller.client()
        where = "B" if puller is b else "A"
        for ref in (tag, image.digest):
            r = client.get_manifest(name, ref)
            assert r.status_code == 200, f"manifest {name}:{ref} on {where}\n{describe(r)}"
            assert r.content == image.manifest, f"{where} served another manifest\n{describe(r)}"
            assert r.headers.get("Docker-Content-Digest") == image.digest, describe(r)
            assert r.headers.get("Content-Type") == image.media_type, describe(r)
        for digest, data in image.blobs.items():
            assert_blob_served(client, name, digest, data, where)
    for server in (a, b):
        client = server.client()
        assert sorted(client.tags(name)) == ["a", "b"]
        assert name in client.catalog()


def test_registry_token_from_one_replica_is_accepted_by_the_other(replicas):
    """docker fetches its token from whichever replica answers /token and may send it to another."""
    a, b = replicas
    name = "e2e/token"
    image = make_image(seed="token")
    a.client().push_image(name, "v1", image)
    r = requests.get(a.url + "/token", auth=a.credentials, timeout=30,
                     params={"service": "wharf", "scope": f"repository:{name}:pull,push"})
    assert r.status_code == 200, describe(r)
    bearer = {"Authorization": f"Bearer {r.json()['token']}"}

    r = requests.get(f"{b.url}/v2/{name}/manifests/v1", timeout=30,
                     headers={**bearer, "Accept": ALL_MANIFESTS})
    assert r.status_code == 200, f"B refused A's token for a pull\n{describe(r)}"
    assert r.headers.get("Docker-Content-Digest") == image.digest, describe(r)
    r = requests.post(f"{b.url}/v2/{name}/blobs/uploads/", headers=bearer, timeout=30)
    assert r.status_code == 202, f"B refused A's token for a push\n{describe(r)}"


# --------------------------------------------------------------------------------------
# Access changes
# --------------------------------------------------------------------------------------

def anonymous_view(server, name: str, digest: str) -> dict:
    """What someone without an account gets from `server` for the manifest `name:v1` and the blob
    `digest`: with no Authorization at all, and as docker does it (an anonymous token from
    /token, fetched afresh: a token issued before a change keeps what it granted until it
    expires). {request: (status, OCI error codes)}."""
    def outcome(r):
        try:
            codes = tuple(e.get("code") for e in r.json().get("errors", []))
        except ValueError:
            codes = ()
        return r.status_code, codes

    manifest = f"{server.url}/v2/{name}/manifests/v1"
    blob = f"{server.url}/v2/{name}/blobs/{digest}"
    r = requests.get(server.url + "/token", timeout=30,
                     params={"service": "wharf", "scope": f"repository:{name}:pull"})
    assert r.status_code == 200, f"anonymous token\n{describe(r)}"
    token = {"Authorization": f"Bearer {r.json()['token']}"}
    return {
        "manifest": outcome(requests.get(manifest, headers={"Accept": ALL_MANIFESTS}, timeout=30)),
        "manifest, anonymous token": outcome(requests.get(
            manifest, headers={**token, "Accept": ALL_MANIFESTS}, timeout=30)),
        "blob": outcome(requests.get(blob, timeout=30)),
        "blob, anonymous token": outcome(requests.get(blob, headers=token, timeout=30)),
    }


def test_repository_made_private_on_one_replica_is_hidden_on_the_other_within_the_bound(replicas):
    a, b = replicas
    alice = sign_up(a, "alice")
    image = make_image(seed="soon-private")
    RegistryClient(a.url, auth=alice).push_image("alice/app", "v1", image)
    layer = image.layer_digests[0]

    # Public: B serves it to anyone (and has it in whatever it caches).
    public = anonymous_view(b, "alice/app", layer)
    assert all(status == 200 for status, _ in public.values()), public
    # What a repository that does not exist looks like from B, to the same requests.
    missing = anonymous_view(b, "alice/never-pushed", layer)
    assert all(status != 200 for status, _ in missing.values()), missing

    r = api(a, "PATCH", "/api/repositories/alice/app", alice, json={"is_private": True})
    assert r.status_code == 200, describe(r)
    changed = time.monotonic()
    assert r.json()["is_private"] is True, describe(r)

    elapsed = seconds_until(lambda: anonymous_view(b, "alice/app", layer), missing, changed,
                            "B hiding the repository made private on A from anonymous pulls")
    print(f"B hid the repository made private on A after {elapsed:.2f} s")
    assert elapsed <= PROPAGATION_BOUND, (
        f"B served the repository made private on A for {elapsed:.2f} s, more than the "
        f"{PROPAGATION_BOUND} s bound")

    # Hidden, not gone: its owner still pulls it through B, and B's API says it is private.
    r = requests.get(f"{b.url}/v2/alice/app/manifests/v1", auth=alice, timeout=30,
                     headers={"Accept": ALL_MANIFESTS})
    assert r.status_code == 200 and r.headers.get("Docker-Content-Digest") == image.digest, \
        describe(r)
    r = api(b, "GET", "/api/repositories/alice/app", alice)
    assert r.status_code == 200 and r.json()["is_private"] is True, describe(r)


def test_access_token_revoked_on_one_replica_stops_working_on_the_other_within_the_bound(replicas):
    a, b = replicas
    alice = sign_up(a, "alice")
    image = make_image(seed="revoked")
    RegistryClient(a.url, auth=alice).push_image("alice/app", "v1", image)
    r = api(a, "POST", "/api/tokens", alice, json={"name": "ci", "scopes": ["read"]})
    assert r.status_code == 201, describe(r)
    token_id, secret = r.json()["id"], r.json()["token"]

    def token_on_b() -> dict:
        """{use of the token on B: status}: where docker, a script and the API send it."""
        pat = ("alice", secret)
        return {
            "registry, Basic": requests.get(f"{b.url}/v2/alice/app/manifests/v1", auth=pat,
                                            headers={"Accept": ALL_MANIFESTS},
                                            timeout=30).status_code,
            "/token, Basic": requests.get(b.url + "/token", auth=pat, timeout=30, params={
                "service": "wharf", "scope": "repository:alice/app:pull"}).status_code,
            "API, Bearer": requests.get(b.url + "/api/user", timeout=30, headers={
                "Authorization": f"Bearer {secret}"}).status_code,
        }

    # The token works on B (which may remember that it checked it).
    working = token_on_b()
    assert working == {use: 200 for use in working}, working

    r = api(a, "DELETE", f"/api/tokens/{token_id}", alice)
    assert r.status_code == 204, describe(r)
    revoked = time.monotonic()

    elapsed = seconds_until(token_on_b, {use: 401 for use in working}, revoked,
                            "B refusing the access token revoked on A")
    print(f"B refused the access token revoked on A after {elapsed:.2f} s")
    assert elapsed <= PROPAGATION_BOUND, (
        f"B accepted the access token revoked on A for {elapsed:.2f} s, more than the "
        f"{PROPAGATION_BOUND} s bound")

    # Only the token went: alice's password still works on B.
    r = api(b, "GET", "/api/user", alice)
    assert r.status_code == 200, describe(r)
