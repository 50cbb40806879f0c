"""Artifacts with oras-py; attached artifacts found through the referrers API."""

import json
import os

import oras.client
import oras.oci
import pytest

from oci import (OCI_INDEX, OCI_MANIFEST, assert_oci_error, describe,
                 make_artifact, make_image, random_bytes, sha256)

SBOM = "application/vnd.e2e.sbom.v1+json"
SIGNATURE = "application/vnd.e2e.signature.v1"


def oras_client(registry, anonymous: bool = False):
    if anonymous or not registry.credentials:
        # Token backend: anonymous bearer tokens from the registry's realm.
        return oras.client.OrasClient(hostname=registry.host, insecure=True)
    # oras-py 0.2.43's token backend re-sends its cached token after a 401 with
    # error="insufficient_scope" and only fetches a new one after a 403, so it cannot push to
    # a token-auth registry that answers 401 there (as Distribution does; the pull-scoped
    # token from the first HEAD sticks).  Its Basic backend answers every challenge with the
    # credentials, which Wharf accepts on /v2.
    client = oras.client.OrasClient(hostname=registry.host, insecure=True, auth_backend="basic")
    client.auth.set_basic_auth(*registry.credentials)
    return client


def test_oras_push_and_pull_artifact(registry, tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    files = {"readme.txt": b"hello from oras\n", "data.bin": random_bytes(150_000, "oras")}
    for name, content in files.items():
        (src / name).write_bytes(content)
    monkeypatch.chdir(src)
    target = f"{registry.host}/e2e/artifact:v1"

    resp = oras_client(registry).push(target=target, files=list(files), quiet=True)
    assert resp.status_code == 201, describe(resp)

    out = tmp_path / "out"
    pulled = oras_client(registry).pull(target=target, outdir=str(out))
    assert sorted(os.path.basename(p) for p in pulled) == sorted(files)
    for name, content in files.items():
        assert (out / name).read_bytes() == content

    # A public repository can be pulled without logging in (anonymous token).
    anon_out = tmp_path / "anonymous"
    pulled = oras_client(registry, anonymous=True).pull(target=target, outdir=str(anon_out))
    assert sorted(os.path.basename(p) for p in pulled) == sorted(files)
    assert (anon_out / "data.bin").read_bytes() == files["data.bin"]

    manifest = registry.client().get_manifest("e2e/artifact", "v1").json()
    titles = [layer["annotations"]["org.opencontainers.image.title"] for layer in
              manifest["layers"]]
    assert sorted(titles) == sorted(files)


@pytest.mark.wharf_only(reason="Distribution 2.8 has no referrers API")
def test_attach_and_discover_referrers_with_artifact_type_filter(registry, client, tmp_path,
                                                                 monkeypatch):
    name = "e2e/app"
    subject_image = make_image(seed="subject")
    client.push_image(name, "v1", subject_image)
    subject = oras.oci.Subject(mediaType=OCI_MANIFEST, digest=subject_image.digest,
                               size=len(subject_image.manifest))

    # 1. oras-py attaches an SBOM: artifact type carried by config.mediaType.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sbom.json").write_text(json.dumps({"packages": ["e2e"]}))
    put = oras_client(registry).push(
        target=f"{registry.host}/{name}:sbom", files=["sbom.json"], subject=subject,
        manifest_config=f"unused-config.json:{SBOM}",
        manifest_annotations={"org.opencontainers.image.created": "2026-01-01T00:00:00Z"},
        quiet=True)
    assert put.status_code == 201, describe(put)
    assert put.headers.get("OCI-Subject") == subject_image.digest, describe(put)
    sbom_digest = put.headers["Docker-Content-Digest"]

    # 2. An OCI 1.1 artifact with artifactType and an empty config, pushed by digest.
    sig = make_artifact(SIGNATURE, b"signature-bytes", subject=dict(
        mediaType=OCI_MANIFEST, digest=subject_image.digest, size=len(subject_image.manifest)),
        annotations={"e2e.kind": "signature"})
    client.push_blobs(name, sig.blobs)
    put = client.put_manifest(name, sig.digest, sig.manifest, OCI_MANIFEST)
    assert put.headers.get("OCI-Subject") == subject_image.digest, describe(put)

    r = client.get(f"/v2/{name}/referrers/{subject_image.digest}")
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Content-Type", "").startswith(OCI_INDEX), describe(r)
    index = r.json()
    assert index["schemaVersion"] == 2 and index["mediaType"] == OCI_INDEX, index
    by_digest = {d["digest"]: d for d in index["manifests"]}
    assert set(by_digest) == {sbom_digest, sig.digest}, index
    assert by_digest[sbom_digest]["artifactType"] == SBOM  # falls back to config.mediaType
    assert by_digest[sbom_digest]["mediaType"] == OCI_MANIFEST
    assert by_digest[sbom_digest]["annotations"] == {
        "org.opencontainers.image.created": "2026-01-01T00:00:00Z"}
    assert by_digest[sig.digest]["artifactType"] == SIGNATURE
    assert by_digest[sig.digest]["size"] == len(sig.manifest)
    assert by_digest[sig.digest]["annotations"] == {"e2e.kind": "signature"}

    r = client.get(f"/v2/{name}/referrers/{subject_image.digest}?artifactType={SBOM}")
    assert r.status_code == 200, describe(r)
    assert r.headers.get("OCI-Filters-Applied") == "artifactType", describe(r)
    assert [d["digest"] for d in r.json()["manifests"]] == [sbom_digest], describe(r)

    r = client.get(f"/v2/{name}/referrers/{subject_image.digest}?artifactType=text/none")
    assert r.status_code == 200 and r.json()["manifests"] == [], describe(r)
    assert r.headers.get("OCI-Filters-Applied") == "artifactType", describe(r)

    # Deleting a referrer removes it from the list.
    assert client.delete(f"/v2/{name}/manifests/{sig.digest}").status_code == 202
    r = client.get(f"/v2/{name}/referrers/{subject_image.digest}")
    assert [d["digest"] for d in r.json()["manifests"]] == [sbom_digest], describe(r)


@pytest.mark.wharf_only(reason="Distribution 2.8 has no referrers API")
def test_referrers_of_unreferenced_digest_is_empty_index(client):
    client.push_image("e2e/lonely", "v1", make_image(seed="lonely"))
    r = client.get(f"/v2/e2e/lonely/referrers/{sha256(b'nothing refers to me')}")
    assert r.status_code == 200, describe(r)
    assert r.json() == {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}, describe(r)


@pytest.mark.wharf_only(reason="Distribution 2.8 has no referrers API")
def test_referrer_may_be_pushed_before_its_subject(client):
    name = "e2e/early"
    later = make_image(seed="not-yet-pushed")
    sig = make_artifact(SIGNATURE, b"early", subject=dict(
        mediaType=OCI_MANIFEST, digest=later.digest, size=len(later.manifest)))
    client.push_blobs(name, sig.blobs)
    put = client.put_manifest(name, "sig", sig.manifest, OCI_MANIFEST)
    assert put.headers.get("OCI-Subject") == later.digest, describe(put)
    r = client.get(f"/v2/{name}/referrers/{later.digest}")
    assert [d["digest"] for d in r.json()["manifests"]] == [sig.digest], describe(r)


@pytest.mark.wharf_only(reason="Distribution 2.8 has no referrers API")
def test_referrers_with_invalid_digest_is_400(client):
    client.push_image("e2e/bad", "v1", make_image(seed="bad"))
    r = client.get("/v2/e2e/bad/referrers/sha256:not-a-digest")
    assert r.status_code == 400, describe(r)


def test_manifest_without_subject_has_no_oci_subject_header(client):
    put = client.push_image("e2e/plain", "v1", make_image(seed="plain"))
    assert "OCI-Subject" not in put.headers, describe(put)
    assert_oci_error(client.get_manifest("e2e/plain", "v2"), 404, "MANIFEST_UNKNOWN")
