"""skopeo copies images (single and multi-arch) to, from and within the registry."""

import json

from oci import (OCI_INDEX, OCI_MANIFEST, assert_oci_error, describe, make_image,
                 make_index, sha256, write_oci_layout)

TLS_OFF = ["--src-tls-verify=false", "--dest-tls-verify=false"]


def inspect(ctools, ref: str, raw: bool = False):
    args = ["inspect", "--tls-verify=false"] + (["--raw"] if raw else []) + [f"docker://{ref}"]
    out = ctools.skopeo(*args).stdout
    return out if raw else json.loads(out)


def test_copy_inspect_and_delete(ctools, registry, tmp_path):
    ctools.login(registry)
    image = make_image(n_layers=2, layer_size=200_000, seed="skopeo")
    layout = tmp_path / "layout"
    write_oci_layout(layout, {"v1": (OCI_MANIFEST, image.manifest)}, image.blobs)
    ref = f"{registry.host}/e2e/skopeo:v1"

    ctools.skopeo("copy", *TLS_OFF, "--preserve-digests", f"oci:{layout}:v1", f"docker://{ref}")

    info = inspect(ctools, ref)
    assert info["Digest"] == image.digest, info
    assert info["Layers"] == image.layer_digests, info
    assert info["Architecture"] == "amd64" and info["Os"] == "linux", info
    assert inspect(ctools, ref, raw=True).encode() == image.manifest

    ctools.skopeo("delete", "--tls-verify=false", f"docker://{ref}")
    client = registry.client()
    assert_oci_error(client.get_manifest("e2e/skopeo", image.digest), 404, "MANIFEST_UNKNOWN")
    assert_oci_error(client.get_manifest("e2e/skopeo", "v1"), 404, "MANIFEST_UNKNOWN")
    r = ctools.skopeo("inspect", "--tls-verify=false", f"docker://{ref}", check=False)
    assert r.returncode != 0, "inspect of a deleted image succeeded"


def test_copy_all_multi_arch_index_round_trip(ctools, registry, tmp_path):
    ctools.login(registry)
    amd = make_image(n_layers=1, layer_size=50_000, seed="multi-amd", arch="amd64")
    arm = make_image(n_layers=2, layer_size=50_000, seed="multi-arm", arch="arm64")
    index = make_index([(amd, {"architecture": "amd64", "os": "linux"}),
                        (arm, {"architecture": "arm64", "os": "linux"})])
    blobs = {**amd.blobs, **arm.blobs, amd.digest: amd.manifest, arm.digest: arm.manifest}
    src = tmp_path / "src"
    write_oci_layout(src, {"multi": (OCI_INDEX, index)}, blobs)
    ref = f"{registry.host}/e2e/multi:v1"

    ctools.skopeo("copy", *TLS_OFF, "--all", "--preserve-digests", f"oci:{src}:multi",
                  f"docker://{ref}")

    client = registry.client()
    r = client.get_manifest("e2e/multi", "v1")
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Content-Type") == OCI_INDEX, describe(r)
    assert r.content == index, "the index must be stored byte for byte"
    for child in (amd, arm):
        r = client.get_manifest("e2e/multi", child.digest)
        assert r.status_code == 200 and r.content == child.manifest, describe(r)
        for digest in child.blobs:
            assert client.blob_exists("e2e/multi", digest), digest

    back = tmp_path / "back"
    ctools.skopeo("copy", *TLS_OFF, "--all", "--preserve-digests", f"docker://{ref}",
                  f"oci:{back}:back")
    top = json.loads((back / "index.json").read_text())["manifests"]
    assert [d["digest"] for d in top] == [sha256(index)], top
    for digest, data in {**blobs, sha256(index): index}.items():
        path = back / "blobs" / "sha256" / digest.split(":", 1)[1]
        assert path.exists(), f"{digest} missing from the copied-back layout"
        assert sha256(path.read_bytes()) == digest


def test_copy_between_repositories_keeps_digest(ctools, registry, tmp_path):
    ctools.login(registry)
    image = make_image(n_layers=3, layer_size=30_000, seed="between")
    layout = tmp_path / "layout"
    write_oci_layout(layout, {"v1": (OCI_MANIFEST, image.manifest)}, image.blobs)
    ctools.skopeo("copy", *TLS_OFF, f"oci:{layout}:v1", f"docker://{registry.host}/e2e/a:v1")
    ctools.skopeo("copy", *TLS_OFF, f"docker://{registry.host}/e2e/a:v1",
                  f"docker://{registry.host}/e2e/b:v2")
    assert inspect(ctools, f"{registry.host}/e2e/b:v2")["Digest"] == image.digest
    tags = ctools.skopeo("list-tags", "--tls-verify=false", f"docker://{registry.host}/e2e/b")
    assert json.loads(tags.stdout)["Tags"] == ["v2"]
