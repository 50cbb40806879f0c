"""Bad input gets the OCI error code and status, and never leaves anything stored."""

import http.client
import json
import socket
import time

import pytest

from oci import (OCI_INDEX, OCI_MANIFEST, assert_oci_error, describe, make_image, make_index,
                 oci_errors, random_bytes, sha256, with_query)

SEED_REPO = "e2e/seeded"


class StorageSnapshot:
    """What a failed request must not change: the catalog, tags and stored blobs (the files
    under blobs/, or the objects under blobs/ with S3 storage)."""

    def __init__(self, registry, client):
        self.registry, self.client = registry, client
        self.catalog = client.catalog()
        self.tags = {name: client.tags(name) for name in self.catalog}
        self.blob_files = registry.stored_blobs()

    def assert_unchanged(self):
        time.sleep(0.2)  # let a request the server is still tearing down finish
        assert self.client.catalog() == self.catalog, "catalog changed after a failed request"
        for name, tags in self.tags.items():
            assert self.client.tags(name) == tags, f"tags of {name} changed"
        after = self.registry.stored_blobs()
        new = {p: s for p, s in after.items() if p not in self.blob_files}
        assert not new, f"new blobs in {self.registry.blob_storage}: {new}"


@pytest.fixture
def seeded(registry, client):
    """A registry holding one image, and a snapshot of its storage."""
    client.push_image(SEED_REPO, "v1", make_image(n_layers=2, seed="seeded"))
    return StorageSnapshot(registry, client)


def raw_request(registry, head: str, body: bytes = b"", timeout: float = 10) -> bytes:
    """Send a request head (its lines, without the blank line) and body bytes on a fresh
    connection, half-close it, and return whatever comes back."""
    host = registry.host
    auth = "".join(f"{k}: {v}\r\n" for k, v in registry.auth_header().items())
    request = (head.rstrip("\r\n") + "\r\n" + auth + "\r\n").encode()
    hostname, port = host.split(":")
    with socket.create_connection((hostname, int(port)), timeout=timeout) as s:
        s.sendall(request + body)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except (socket.timeout, ConnectionResetError):
            pass
    return b"".join(chunks)


def raw_status(response: bytes):
    if not response.startswith(b"HTTP/1."):
        return None
    return int(response.split(b" ", 2)[1])


# --------------------------------------------------------------------------------------
# Uploads
# --------------------------------------------------------------------------------------

def test_wrong_digest_on_monolithic_put_is_digest_invalid(client, seeded):
    data, other = random_bytes(20_000, "data"), random_bytes(20_000, "other")
    for name in (SEED_REPO, "e2e/newrepo"):
        loc = client.start_upload(name)
        r = client.put(with_query(loc, digest=sha256(other)), data=data,
                       headers={"Content-Type": "application/octet-stream"})
        assert_oci_error(r, 400, "DIGEST_INVALID")
        for digest in (sha256(data), sha256(other)):
            assert client.head(f"/v2/{name}/blobs/{digest}").status_code == 404
    seeded.assert_unchanged()


def test_wrong_digest_after_chunked_upload_is_digest_invalid(client, seeded):
    data = random_bytes(30_000, "chunks")
    loc = client.start_upload(SEED_REPO)
    r = client.patch(loc, data=data, headers={"Content-Range": f"0-{len(data) - 1}",
                                              "Content-Type": "application/octet-stream"})
    assert r.status_code == 202, describe(r)
    wrong = sha256(data + b"!")
    r = client.put(with_query(client.location(r), digest=wrong), data=b"")
    assert_oci_error(r, 400, "DIGEST_INVALID")
    assert client.head(f"/v2/{SEED_REPO}/blobs/{sha256(data)}").status_code == 404
    assert client.head(f"/v2/{SEED_REPO}/blobs/{wrong}").status_code == 404
    seeded.assert_unchanged()


def test_put_with_digest_of_data_not_fully_sent_is_digest_invalid(client, seeded):
    data = random_bytes(40_000, "whole")
    loc = client.start_upload(SEED_REPO)
    r = client.put(with_query(loc, digest=sha256(data)), data=data[:20_000])
    assert_oci_error(r, 400, "DIGEST_INVALID")
    assert client.head(f"/v2/{SEED_REPO}/blobs/{sha256(data)}").status_code == 404
    seeded.assert_unchanged()


def test_truncated_put_body_stores_nothing(registry, client, seeded):
    """Content-Length promises more bytes than arrive before the client hangs up."""
    data = random_bytes(100_000, "truncated")
    digest = sha256(data)
    loc = client.start_upload(SEED_REPO)
    path = with_query(loc, digest=digest).split(registry.host, 1)[1]
    head = (f"PUT {path} HTTP/1.1\r\nHost: {registry.host}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(data)}\r\n")
    response = raw_request(registry, head, data[:50_000])
    status = raw_status(response)
    assert status != 201, f"a truncated upload was accepted:\n{response[:800]!r}"
    assert client.head(f"/v2/{SEED_REPO}/blobs/{digest}").status_code == 404
    seeded.assert_unchanged()


def test_truncated_single_post_stores_nothing(registry, client, seeded):
    data = random_bytes(100_000, "truncated-post")
    digest = sha256(data)
    head = (f"POST /v2/{SEED_REPO}/blobs/uploads/?digest={digest} HTTP/1.1\r\n"
            f"Host: {registry.host}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {len(data)}\r\n")
    response = raw_request(registry, head, data[:30_000])
    assert raw_status(response) != 201, f"a truncated upload was accepted:\n{response[:800]!r}"
    assert client.head(f"/v2/{SEED_REPO}/blobs/{digest}").status_code == 404
    seeded.assert_unchanged()


def test_truncated_patch_then_put_does_not_store_partial_blob(registry, client, seeded):
    data = random_bytes(80_000, "truncated-patch")
    loc = client.start_upload(SEED_REPO)
    path = loc.split(registry.host, 1)[1]
    head = (f"PATCH {path} HTTP/1.1\r\nHost: {registry.host}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Range: 0-{len(data) - 1}\r\n"
            f"Content-Length: {len(data)}\r\n")
    raw_request(registry, head, data[:40_000])
    # Whatever the session kept, closing it with the digest of the whole blob must fail.
    r = client.put(with_query(loc, digest=sha256(data)), data=b"")
    assert r.status_code in (400, 404, 416), describe(r)
    assert client.head(f"/v2/{SEED_REPO}/blobs/{sha256(data)}").status_code == 404
    assert client.head(f"/v2/{SEED_REPO}/blobs/{sha256(data[:40_000])}").status_code == 404
    seeded.assert_unchanged()


@pytest.mark.wharf_only(reason="Distribution 2.8 ignores Content-Range on PATCH")
def test_out_of_order_chunk_is_416_with_current_range(client, seeded):
    data = random_bytes(300, "order")
    loc = client.start_upload(SEED_REPO)
    r = client.patch(loc, data=data[:100], headers={"Content-Range": "0-99",
                                                    "Content-Type": "application/octet-stream"})
    assert r.status_code == 202, describe(r)
    loc = client.location(r)
    r = client.patch(loc, data=data[200:300], headers={
        "Content-Range": "200-299", "Content-Type": "application/octet-stream"})
    assert r.status_code == 416, describe(r)
    assert r.headers.get("Range") == "0-99", describe(r)
    assert "RANGE_INVALID" in [e.get("code") for e in oci_errors(r)], describe(r)
    status = client.get(loc)
    assert status.status_code == 204 and status.headers.get("Range") == "0-99", describe(status)
    # The session survives: the right chunk continues it.
    r = client.patch(client.location(status), data=data[100:], headers={
        "Content-Range": "100-299", "Content-Type": "application/octet-stream"})
    assert r.status_code == 202, describe(r)
    r = client.put(with_query(client.location(r), digest=sha256(data)), data=b"")
    assert r.status_code == 201, describe(r)
    assert client.get(f"/v2/{SEED_REPO}/blobs/{sha256(data)}").content == data


@pytest.mark.wharf_only(reason="Distribution 2.8 ignores a Content-Length/Content-Range mismatch")
def test_patch_length_not_matching_content_range_is_size_invalid(client, seeded):
    loc = client.start_upload(SEED_REPO)
    r = client.patch(loc, data=b"a" * 50, headers={"Content-Range": "0-99",
                                                   "Content-Type": "application/octet-stream"})
    assert_oci_error(r, 400, "SIZE_INVALID")
    seeded.assert_unchanged()


@pytest.mark.wharf_only(reason="Distribution 2.8 says BLOB_UPLOAD_INVALID for an id with no state")
@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_unknown_upload_is_blob_upload_unknown(client, seeded, method):
    loc = f"/v2/{SEED_REPO}/blobs/uploads/3f1c2a5e-0000-4000-8000-00000000e2e0"
    if method == "PUT":
        loc = with_query(loc, digest=sha256(b"x"))
    r = client.request(method, loc, data=b"x" if method in ("PATCH", "PUT") else None)
    assert_oci_error(r, 404, "BLOB_UPLOAD_UNKNOWN")
    seeded.assert_unchanged()


def test_invalid_digest_syntax_is_digest_invalid(client, seeded):
    loc = client.start_upload(SEED_REPO)
    r = client.put(with_query(loc, digest="sha256:nothex"), data=b"abc")
    assert_oci_error(r, 400, "DIGEST_INVALID")
    r = client.put(with_query(client.start_upload(SEED_REPO), digest="nonsense"), data=b"abc")
    assert_oci_error(r, 400, "DIGEST_INVALID")
    seeded.assert_unchanged()


def test_malformed_digest_in_blob_path_is_digest_invalid(client, seeded):
    assert_oci_error(client.get(f"/v2/{SEED_REPO}/blobs/sha256:1234"), 400, "DIGEST_INVALID")


# --------------------------------------------------------------------------------------
# Manifests
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    b"{not json",
    b"[1, 2, 3]",
    pytest.param(
        b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}',
        marks=pytest.mark.wharf_only(reason="Distribution 2.8 says MANIFEST_BLOB_UNKNOWN")),
    b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",'
    b' "config": "oops", "layers": 7}',
], ids=["not-json", "array", "no-config", "wrong-types"])
def test_malformed_manifest_is_manifest_invalid(client, seeded, body):
    r = client.put(f"/v2/{SEED_REPO}/manifests/broken", data=body,
                   headers={"Content-Type": OCI_MANIFEST})
    assert_oci_error(r, 400, "MANIFEST_INVALID")
    assert_oci_error(client.get_manifest(SEED_REPO, "broken"), 404, "MANIFEST_UNKNOWN")
    assert_oci_error(client.get_manifest(SEED_REPO, sha256(body)), 404, "MANIFEST_UNKNOWN")
    seeded.assert_unchanged()


def test_manifest_naming_missing_blobs_is_manifest_blob_unknown(client, seeded):
    image = make_image(n_layers=2, seed="missing")
    config_digest = image.config_digest
    client.upload_blob(SEED_REPO, image.blobs[config_digest])  # only the config is there
    seeded.blob_files = seeded.registry.stored_blobs()
    r = client.put_manifest(SEED_REPO, "missing", image.manifest, OCI_MANIFEST, expect=None)
    assert_oci_error(r, 400, "MANIFEST_BLOB_UNKNOWN")
    assert image.layer_digests[0] in r.text, f"error should name the missing blob\n{describe(r)}"
    assert_oci_error(client.get_manifest(SEED_REPO, "missing"), 404, "MANIFEST_UNKNOWN")
    seeded.assert_unchanged()


@pytest.mark.wharf_only(reason="Distribution answers MANIFEST_BLOB_UNKNOWN; Wharf's issue #3 asks for MANIFEST_UNKNOWN")
def test_index_naming_missing_manifest_is_manifest_unknown(client, seeded):
    child = make_image(seed="child")  # never pushed
    index = make_index([(child, {"architecture": "amd64", "os": "linux"})])
    r = client.put_manifest(SEED_REPO, "idx", index, OCI_INDEX, expect=None)
    # A client error on PUT: status 400, code MANIFEST_UNKNOWN naming the missing child.
    assert_oci_error(r, 400, "MANIFEST_UNKNOWN")
    assert oci_errors(r)[0]["detail"]["digest"] == child.digest
    seeded.assert_unchanged()


def test_manifest_put_by_wrong_digest_is_digest_invalid(client, seeded):
    image = make_image(seed="wrongref")
    client.push_blobs(SEED_REPO, image.blobs)
    seeded.blob_files = seeded.registry.stored_blobs()
    r = client.put_manifest(SEED_REPO, sha256(b"something else"), image.manifest, OCI_MANIFEST,
                            expect=None)
    assert r.status_code == 400, describe(r)
    assert {"DIGEST_INVALID", "MANIFEST_INVALID"} & {e.get("code") for e in oci_errors(r)}, \
        describe(r)
    assert_oci_error(client.get_manifest(SEED_REPO, image.digest), 404, "MANIFEST_UNKNOWN")
    seeded.assert_unchanged()


@pytest.mark.wharf_only(reason="Distribution 2.8 answers 404 to a bad tag")
@pytest.mark.parametrize("tag", ["-leading-dash", "t" * 129, "has%20space"])
def test_invalid_tag_is_rejected(client, seeded, tag):
    image = make_image(seed="badtag")
    client.push_blobs(SEED_REPO, image.blobs)
    seeded.blob_files = seeded.registry.stored_blobs()
    r = client.put_manifest(SEED_REPO, tag, image.manifest, OCI_MANIFEST, expect=None)
    assert r.status_code == 400, describe(r)
    assert oci_errors(r), describe(r)
    seeded.assert_unchanged()


# --------------------------------------------------------------------------------------
# Unknown things
# --------------------------------------------------------------------------------------

def test_unknown_blob_is_blob_unknown(client, seeded):
    digest = sha256(b"never pushed")
    assert_oci_error(client.get(f"/v2/{SEED_REPO}/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    head = client.head(f"/v2/{SEED_REPO}/blobs/{digest}")
    assert head.status_code == 404 and head.content == b"", describe(head)
    assert_oci_error(client.delete(f"/v2/{SEED_REPO}/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    seeded.assert_unchanged()


def test_unknown_manifest_is_manifest_unknown(client, seeded):
    assert_oci_error(client.get_manifest(SEED_REPO, "nope"), 404, "MANIFEST_UNKNOWN")
    assert_oci_error(client.get_manifest(SEED_REPO, sha256(b"nope")), 404, "MANIFEST_UNKNOWN")
    head = client.head(f"/v2/{SEED_REPO}/manifests/nope")
    assert head.status_code == 404 and head.content == b"", describe(head)
    assert_oci_error(client.delete(f"/v2/{SEED_REPO}/manifests/{sha256(b'nope')}"), 404,
                     "MANIFEST_UNKNOWN")
    seeded.assert_unchanged()


def test_tags_of_unknown_repository_is_name_unknown(client, seeded):
    assert_oci_error(client.get("/v2/e2e/never/tags/list"), 404, "NAME_UNKNOWN")
    seeded.assert_unchanged()


# --------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------

INVALID_NAMES = ["../x", "e2e/../x", "Foo/bar", "e2e/UPPER", "a" * 300, "e2e//double",
                 "-lead/x", "e2e/trail-"]


def raw_http(registry, method: str, path: str, body: bytes = b"", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", registry.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={**registry.auth_header(), **(headers or {})})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


@pytest.mark.wharf_only(reason="Distribution 2.8 answers 301/404/500 or even 202 to bad names")
@pytest.mark.parametrize("name", INVALID_NAMES, ids=lambda n: n if len(n) < 20 else f"len{len(n)}")
def test_invalid_repository_name_is_name_invalid(registry, client, seeded, name):
    image = make_image(seed="names")
    requests_to_try = [
        ("POST", f"/v2/{name}/blobs/uploads/", b""),
        ("PUT", f"/v2/{name}/manifests/v1", image.manifest),
        ("GET", f"/v2/{name}/manifests/v1", b""),
        ("GET", f"/v2/{name}/tags/list", b""),
        ("GET", f"/v2/{name}/blobs/{sha256(b'x')}", b""),
    ]
    for method, path, body in requests_to_try:
        status, headers, payload = raw_http(registry, method, path, body,
                                            {"Content-Type": OCI_MANIFEST} if body else {})
        where = f"{method} {path[:120]} -> {status} {payload[:300]!r}"
        assert status == 400, where
        codes = [e.get("code") for e in json.loads(payload)["errors"]]
        assert codes == ["NAME_INVALID"], where
    seeded.assert_unchanged()
