"""OCI Distribution flows over plain HTTP: uploads, blobs, manifests, tags, catalog, mount."""

import json
import re
import threading
from urllib.parse import parse_qs, urlsplit

import pytest

from harness import REGISTRY_KIND
from oci import (ALL_MANIFESTS, OCI_INDEX, OCI_MANIFEST, assert_oci_error, describe, make_image,
                 make_index, random_bytes, sha256, sha512, with_query)

RANGE_RE = re.compile(r"^0-(\d+)$")


def assert_upload_headers(resp, name):
    loc = resp.headers.get("Location", "")
    assert f"/v2/{name}/blobs/uploads/" in loc, f"upload Location\n{describe(resp)}"
    assert resp.headers.get("Docker-Upload-UUID"), f"Docker-Upload-UUID missing\n{describe(resp)}"


def assert_blob_created(resp, name, digest):
    assert resp.status_code == 201, describe(resp)
    assert resp.headers.get("Docker-Content-Digest") == digest, describe(resp)
    assert resp.headers.get("Location", "").endswith(f"/v2/{name}/blobs/{digest}"), describe(resp)


def assert_blob_served(client, name, data, digest=None):
    digest = digest or sha256(data)
    head = client.head(f"/v2/{name}/blobs/{digest}")
    assert head.status_code == 200, describe(head)
    assert int(head.headers["Content-Length"]) == len(data), describe(head)
    assert head.headers.get("Docker-Content-Digest") == digest, describe(head)
    assert head.content == b""
    get = client.get(f"/v2/{name}/blobs/{digest}")
    assert get.status_code == 200, describe(get)
    assert get.content == data, f"blob {digest} body differs from what was uploaded"


def test_base_endpoint_answers_200_with_api_version_header(client):
    r = client.get("/v2/")
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Docker-Distribution-API-Version") == "registry/2.0", describe(r)
    # The header is on every response, errors included.
    r = client.get("/v2/e2e/none/manifests/latest")
    assert r.status_code == 404, describe(r)
    assert r.headers.get("Docker-Distribution-API-Version") == "registry/2.0", describe(r)


def test_monolithic_upload_post_then_put(client):
    name, data = "e2e/mono", random_bytes(70_000, "mono")
    digest = sha256(data)
    r = client.post(f"/v2/{name}/blobs/uploads/", headers={"Content-Length": "0"})
    assert r.status_code == 202, describe(r)
    assert_upload_headers(r, name)
    put = client.put(with_query(client.location(r), digest=digest), data=data,
                     headers={"Content-Type": "application/octet-stream"})
    assert_blob_created(put, name, digest)
    assert_blob_served(client, name, data)


def test_single_post_with_digest_creates_blob(client):
    name, data = "e2e/single", random_bytes(5_000, "single")
    digest = sha256(data)
    r = client.post(f"/v2/{name}/blobs/uploads/?digest={digest}", data=data,
                    headers={"Content-Type": "application/octet-stream"})
    if REGISTRY_KIND == "distribution" and r.status_code == 202:
        # Distribution ignores ?digest= on POST; the spec lets a registry answer 202.
        r = client.put(with_query(client.location(r), digest=digest), data=data)
    assert_blob_created(r, name, digest)
    assert_blob_served(client, name, data)


def test_chunked_upload_with_content_range_and_status(client):
    name, data = "e2e/chunked", random_bytes(300_000, "chunked")
    digest = sha256(data)
    loc = client.start_upload(name)
    chunks = [data[0:100_000], data[100_000:250_000]]
    offset = 0
    for chunk in chunks:
        end = offset + len(chunk) - 1
        r = client.patch(loc, data=chunk, headers={
            "Content-Type": "application/octet-stream", "Content-Range": f"{offset}-{end}"})
        assert r.status_code == 202, describe(r)
        assert_upload_headers(r, name)
        assert r.headers.get("Range") == f"0-{end}", describe(r)
        loc = client.location(r)
        offset = end + 1
    status = client.get(loc)
    assert status.status_code == 204, describe(status)
    assert status.headers.get("Range") == f"0-{offset - 1}", describe(status)
    assert_upload_headers(status, name)
    # Close with the last chunk in the PUT body.
    last = data[offset:]
    put = client.put(with_query(client.location(status), digest=digest), data=last, headers={
        "Content-Type": "application/octet-stream",
        "Content-Range": f"{offset}-{len(data) - 1}"})
    assert_blob_created(put, name, digest)
    assert_blob_served(client, name, data)


def test_streaming_patch_without_content_range_like_docker(client):
    """Docker sends one chunked-encoding PATCH with no Content-Range, then an empty PUT."""
    name, data = "e2e/stream", random_bytes(1_000_000, "stream")
    digest = sha256(data)
    loc = client.start_upload(name)

    def body():
        for i in range(0, len(data), 64 * 1024):
            yield data[i:i + 64 * 1024]

    r = client.patch(loc, data=body(), headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 202, describe(r)
    assert r.headers.get("Range") == f"0-{len(data) - 1}", describe(r)
    put = client.put(with_query(client.location(r), digest=digest), data=b"")
    assert_blob_created(put, name, digest)
    assert_blob_served(client, name, data)


def test_cancelled_upload_is_unknown_afterwards(client):
    name = "e2e/cancel"
    loc = client.start_upload(name)
    r = client.patch(loc, data=b"x" * 1000, headers={"Content-Range": "0-999",
                                                     "Content-Type": "application/octet-stream"})
    assert r.status_code == 202, describe(r)
    loc = client.location(r)
    r = client.delete(loc)
    assert r.status_code == 204, describe(r)
    assert_oci_error(client.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_oci_error(client.patch(loc, data=b"y", headers={"Content-Range": "1000-1000"}), 404,
                     "BLOB_UPLOAD_UNKNOWN")
    assert_oci_error(client.put(with_query(loc, digest=sha256(b"x" * 1000)), data=b""), 404,
                     "BLOB_UPLOAD_UNKNOWN")


def test_blob_get_with_range_returns_206(client):
    name, data = "e2e/range", random_bytes(10_000, "range")
    client.upload_blob(name, data)
    url = f"/v2/{name}/blobs/{sha256(data)}"
    r = client.get(url, headers={"Range": "bytes=100-1099"})
    assert r.status_code == 206, describe(r)
    assert r.content == data[100:1100]
    assert r.headers.get("Content-Range") == f"bytes 100-1099/{len(data)}", describe(r)
    r = client.get(url, headers={"Range": "bytes=9000-"})
    assert r.status_code == 206, describe(r)
    assert r.content == data[9000:]
    assert r.headers.get("Content-Range") == f"bytes 9000-9999/{len(data)}", describe(r)


def test_blob_delete_unlinks_blob(client):
    name, data = "e2e/blobdel", random_bytes(2_000, "blobdel")
    digest = sha256(data)
    client.upload_blob(name, data)
    r = client.delete(f"/v2/{name}/blobs/{digest}")
    assert r.status_code == 202, describe(r)
    assert_oci_error(client.get(f"/v2/{name}/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    assert client.head(f"/v2/{name}/blobs/{digest}").status_code == 404


@pytest.mark.wharf_only(reason="Distribution 2.8 stores sha512 uploads under their sha256 digest")
def test_sha512_blob_digest(client):
    name, data = "e2e/sha512", random_bytes(4_096, "sha512")
    digest = sha512(data)
    loc = client.start_upload(name)
    put = client.put(with_query(loc, digest=digest), data=data)
    assert_blob_created(put, name, digest)
    assert_blob_served(client, name, data, digest)


def test_manifest_put_get_head_delete_by_tag_and_digest(client):
    name = "e2e/manifest"
    image = make_image(n_layers=2, seed="manifest")
    client.push_blobs(name, image.blobs)
    put = client.put_manifest(name, "v1", image.manifest, OCI_MANIFEST)
    assert put.headers.get("Docker-Content-Digest") == image.digest, describe(put)
    assert put.headers.get("Location", "").endswith(f"/v2/{name}/manifests/{image.digest}"), \
        describe(put)

    for ref in ("v1", image.digest):
        get = client.get_manifest(name, ref)
        assert get.status_code == 200, describe(get)
        assert get.content == image.manifest, "manifest bytes must be returned exactly"
        assert get.headers.get("Content-Type") == OCI_MANIFEST, describe(get)
        assert get.headers.get("Docker-Content-Digest") == image.digest, describe(get)
        head = client.head(f"/v2/{name}/manifests/{ref}", headers={"Accept": ALL_MANIFESTS})
        assert head.status_code == 200, describe(head)
        assert int(head.headers["Content-Length"]) == len(image.manifest), describe(head)
        assert head.headers.get("Docker-Content-Digest") == image.digest, describe(head)
        assert head.content == b""

    # PUT by digest works too and answers the same digest.
    put = client.put_manifest(name, image.digest, image.manifest, OCI_MANIFEST)
    assert put.headers.get("Docker-Content-Digest") == image.digest, describe(put)

    r = client.delete(f"/v2/{name}/manifests/{image.digest}")
    assert r.status_code == 202, describe(r)
    assert_oci_error(client.get_manifest(name, image.digest), 404, "MANIFEST_UNKNOWN")
    assert_oci_error(client.get_manifest(name, "v1"), 404, "MANIFEST_UNKNOWN")
    assert client.head(f"/v2/{name}/manifests/v1").status_code == 404


def test_tag_update_keeps_old_manifest_by_digest(client):
    name = "e2e/retag"
    first, second = make_image(seed="first"), make_image(seed="second")
    client.push_image(name, "latest", first)
    client.push_image(name, "latest", second)
    r = client.get_manifest(name, "latest")
    assert r.headers.get("Docker-Content-Digest") == second.digest, describe(r)
    r = client.get_manifest(name, first.digest)
    assert r.status_code == 200 and r.content == first.manifest, describe(r)


def test_image_index_push_and_pull(client):
    name = "e2e/index"
    amd = make_image(seed="amd", arch="amd64")
    arm = make_image(seed="arm", arch="arm64")
    for img in (amd, arm):
        client.push_image(name, img.digest, img)
    index = make_index([(amd, {"architecture": "amd64", "os": "linux"}),
                        (arm, {"architecture": "arm64", "os": "linux"})])
    put = client.put_manifest(name, "multi", index, OCI_INDEX)
    assert put.headers.get("Docker-Content-Digest") == sha256(index), describe(put)
    get = client.get_manifest(name, "multi")
    assert get.status_code == 200 and get.content == index, describe(get)
    assert get.headers.get("Content-Type") == OCI_INDEX, describe(get)


@pytest.mark.wharf_only(reason="Distribution 2.8 rejects DELETE by tag (400 DIGEST_INVALID)")
def test_tag_delete_removes_only_that_tag(client):
    name = "e2e/tagdel"
    image = make_image(seed="tagdel")
    client.push_image(name, "a", image)
    client.put_manifest(name, "b", image.manifest, image.media_type)
    r = client.delete(f"/v2/{name}/manifests/a")
    assert r.status_code == 202, describe(r)
    assert_oci_error(client.get_manifest(name, "a"), 404, "MANIFEST_UNKNOWN")
    assert client.get_manifest(name, "b").status_code == 200
    assert client.get_manifest(name, image.digest).status_code == 200
    assert client.tags(name) == ["b"]


@pytest.mark.wharf_only(reason="Distribution 2.8 neither sorts tags nor pages them (n/last)")
def test_tag_list_pagination_with_link_header(client):
    name = "e2e/tags"
    image = make_image(seed="tags")
    client.push_image(name, "a", image)
    for tag in ("e", "c", "b", "d"):
        client.put_manifest(name, tag, image.manifest, image.media_type)

    r = client.get(f"/v2/{name}/tags/list")
    assert r.status_code == 200, describe(r)
    assert r.json() == {"name": name, "tags": ["a", "b", "c", "d", "e"]}, describe(r)

    r = client.get(f"/v2/{name}/tags/list?n=2")
    assert r.status_code == 200, describe(r)
    assert r.json()["tags"] == ["a", "b"], describe(r)
    assert r.headers.get("Link") == f'</v2/{name}/tags/list?n=2&last=b>; rel="next"', describe(r)

    r = client.get(r.links["next"]["url"])
    assert r.json()["tags"] == ["c", "d"], describe(r)
    assert r.headers.get("Link") == f'</v2/{name}/tags/list?n=2&last=d>; rel="next"', describe(r)

    r = client.get(r.links["next"]["url"])
    assert r.json()["tags"] == ["e"], describe(r)
    assert "Link" not in r.headers, describe(r)

    r = client.get(f"/v2/{name}/tags/list?last=c")
    assert r.json()["tags"] == ["d", "e"], describe(r)


def test_catalog_pagination_with_link_header(client):
    names = ["e2e/cat-c", "e2e/cat-a", "e2e/cat-b", "zz/last"]
    for i, name in enumerate(names):
        client.push_image(name, "v1", make_image(seed=f"cat{i}"))
    r = client.get("/v2/_catalog")
    assert r.status_code == 200, describe(r)
    assert r.json()["repositories"] == sorted(names), describe(r)

    r = client.get("/v2/_catalog?n=2")
    assert r.json()["repositories"] == ["e2e/cat-a", "e2e/cat-b"], describe(r)
    link = r.headers.get("Link", "")
    assert re.fullmatch(r'<[^<>]+>; rel="next"', link), f"Link header\n{describe(r)}"
    next_url = urlsplit(r.links["next"]["url"])
    assert next_url.path == "/v2/_catalog", describe(r)
    assert parse_qs(next_url.query) == {"n": ["2"], "last": ["e2e/cat-b"]}, describe(r)
    r = client.get(r.links["next"]["url"])
    assert r.json()["repositories"] == ["e2e/cat-c", "zz/last"], describe(r)
    assert client.catalog() == sorted(names)


def test_cross_repository_mount(client):
    data = random_bytes(50_000, "mount")
    digest = sha256(data)
    client.upload_blob("e2e/source", data)
    r = client.post(f"/v2/e2e/target/blobs/uploads/?mount={digest}&from=e2e/source",
                    headers={"Content-Length": "0"})
    assert r.status_code == 201, describe(r)
    assert r.headers.get("Location", "").endswith(f"/v2/e2e/target/blobs/{digest}"), describe(r)
    assert r.headers.get("Docker-Content-Digest") == digest, describe(r)
    assert_blob_served(client, "e2e/target", data)


def test_mount_of_unknown_blob_falls_back_to_upload_session(client):
    data = random_bytes(1_000, "nomount")
    digest = sha256(data)
    r = client.post(f"/v2/e2e/target/blobs/uploads/?mount={digest}&from=e2e/nowhere",
                    headers={"Content-Length": "0"})
    assert r.status_code == 202, describe(r)
    assert_upload_headers(r, "e2e/target")
    put = client.put(with_query(client.location(r), digest=digest), data=data)
    assert_blob_created(put, "e2e/target", digest)


def test_blob_is_repository_scoped(client):
    """A blob pushed to one repository is not visible through another one."""
    data = random_bytes(3_000, "scoped")
    client.upload_blob("e2e/owner", data)
    client.upload_blob("e2e/other", random_bytes(10, "other"))
    assert_oci_error(client.get(f"/v2/e2e/other/blobs/{sha256(data)}"), 404, "BLOB_UNKNOWN")


def test_manifest_json_roundtrip_is_byte_exact(client):
    """Whitespace and key order are part of the digest: the registry must not re-serialise."""
    name = "e2e/exact"
    image = make_image(seed="exact")
    client.push_blobs(name, image.blobs)
    odd = json.dumps(image.json, indent=7, sort_keys=True).encode() + b"\n\n"
    put = client.put_manifest(name, "odd", odd, OCI_MANIFEST)
    assert put.headers.get("Docker-Content-Digest") == sha256(odd), describe(put)
    assert client.get_manifest(name, "odd").content == odd


@pytest.mark.wharf_only(reason="Distribution 2.8's 416 declares the blob's Content-Length")
def test_blob_range_past_the_end_is_416(client):
    name, data = "e2e/range416", random_bytes(1_000, "range416")
    client.upload_blob(name, data)
    r = client.get(f"/v2/{name}/blobs/{sha256(data)}", headers={"Range": "bytes=5000-"})
    assert r.status_code == 416, describe(r)


def test_concurrent_uploads_of_one_blob_store_it_once(registry, client):
    data = random_bytes(2_000_000, "dedupe")
    digest = sha256(data)
    results = {}

    def upload(name):
        try:
            results[name] = registry.client().upload_blob(name, data).status_code
        except AssertionError as exc:
            results[name] = str(exc)

    threads = [threading.Thread(target=upload, args=(f"e2e/dedupe{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == {f"e2e/dedupe{i}": 201 for i in range(3)}, results
    for i in range(3):
        assert client.get(f"/v2/e2e/dedupe{i}/blobs/{digest}").content == data
    hexdigest = digest.split(":", 1)[1]
    copies = [p for p, size in registry.stored_blobs().items()
              if hexdigest in p and size == len(data)]
    assert len(copies) == 1, f"blob stored {len(copies)} times: {copies}"


def test_manifest_up_to_4_mib_is_accepted(client):
    name = "e2e/bigmanifest"
    image = make_image(seed="bigmanifest")
    client.push_blobs(name, image.blobs)
    body = dict(image.json, annotations={"e2e.padding": "x" * (4 * 1024 * 1024 - 2_000)})
    data = json.dumps(body).encode()
    assert len(data) <= 4 * 1024 * 1024
    put = client.put_manifest(name, "big", data, OCI_MANIFEST)
    assert put.headers.get("Docker-Content-Digest") == sha256(data), describe(put)
    assert client.get_manifest(name, "big").content == data


@pytest.mark.wharf_only(reason="Distribution 2.8 answers 400 MANIFEST_INVALID")
def test_manifest_over_the_size_limit_is_413(client):
    name = "e2e/hugemanifest"
    image = make_image(seed="hugemanifest")
    client.push_blobs(name, image.blobs)
    body = dict(image.json, annotations={"e2e.padding": "x" * (5 * 1024 * 1024)})
    r = client.put_manifest(name, "huge", json.dumps(body).encode(), OCI_MANIFEST, expect=None)
    assert r.status_code == 413, describe(r)
    assert client.get_manifest(name, "huge").status_code == 404
