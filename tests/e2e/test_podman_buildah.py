"""podman pushes and pulls; buildah pushes a manifest list with all its images."""

import json
import platform

from oci import DOCKER_LIST, OCI_INDEX, describe, random_bytes


def build_scratch_image(ctools, tmp_path, name: str, arch: str, seed: str) -> str:
    """buildah FROM scratch + one file; returns the local image id."""
    payload = tmp_path / f"{seed}.bin"
    payload.write_bytes(random_bytes(40_000, seed))
    container = ctools.buildah("from", "scratch").stdout.strip().splitlines()[-1]
    ctools.buildah("copy", container, str(payload), f"/{seed}.bin")
    ctools.buildah("config", "--arch", arch, "--os", "linux", container)
    image_id = ctools.buildah("commit", "--quiet", container, name).stdout.strip().splitlines()[-1]
    ctools.buildah("rm", container)
    return image_id


def test_podman_push_then_pull(ctools, registry, tmp_path):
    ctools.login(registry)
    image_id = build_scratch_image(ctools, tmp_path, "localhost/e2e-podman:v1", "amd64", "podman")
    ref = f"{registry.host}/e2e/podman:v1"
    ctools.podman("push", "--tls-verify=false", "localhost/e2e-podman:v1", f"docker://{ref}")
    ctools.podman("rmi", "--force", image_id)
    assert ctools.podman("images", "--quiet").stdout.strip() == ""

    ctools.podman("pull", "--tls-verify=false", ref)
    pulled = json.loads(ctools.podman("image", "inspect", ref).stdout)[0]
    assert pulled["Id"] == image_id, "pulled image differs from the pushed one"
    r = registry.client().get_manifest("e2e/podman", "v1")
    assert r.status_code == 200, describe(r)
    assert pulled["Digest"] == r.headers["Docker-Content-Digest"]


def test_buildah_manifest_push_all(ctools, registry, tmp_path):
    ctools.login(registry)
    build_scratch_image(ctools, tmp_path, "localhost/e2e-amd64", "amd64", "amd")
    build_scratch_image(ctools, tmp_path, "localhost/e2e-arm64", "arm64", "arm")
    ctools.buildah("manifest", "create", "e2e-list")
    ctools.buildah("manifest", "add", "e2e-list", "containers-storage:localhost/e2e-amd64")
    ctools.buildah("manifest", "add", "e2e-list", "containers-storage:localhost/e2e-arm64")
    ref = f"{registry.host}/e2e/list:v1"
    ctools.buildah("manifest", "push", "--all", "--tls-verify=false", "e2e-list",
                   f"docker://{ref}")

    client = registry.client()
    r = client.get_manifest("e2e/list", "v1")
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Content-Type") in (OCI_INDEX, DOCKER_LIST), describe(r)
    body = r.json()
    assert body.get("mediaType", r.headers["Content-Type"]) == r.headers["Content-Type"]
    children = body["manifests"]
    assert len(children) == 2, body
    assert sorted(c["platform"]["architecture"] for c in children) == ["amd64", "arm64"]
    for child in children:
        cr = client.get_manifest("e2e/list", child["digest"])
        assert cr.status_code == 200, describe(cr)
        assert cr.headers["Docker-Content-Digest"] == child["digest"]
        assert len(cr.content) == child["size"]
        for layer in cr.json()["layers"] + [cr.json()["config"]]:
            assert client.blob_exists("e2e/list", layer["digest"]), layer

    # podman resolves the list to this machine's platform when pulling.
    ctools.podman("pull", "--tls-verify=false", ref)
    arch = json.loads(ctools.podman("image", "inspect", ref).stdout)[0]["Architecture"]
    assert arch == {"x86_64": "amd64", "aarch64": "arm64"}[platform.machine()]
