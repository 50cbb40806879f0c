"""With --tls-cert/--tls-key the registry serves HTTPS only, and clients push over it."""

import shutil
from pathlib import Path

import pytest
import requests

from oci import OCI_MANIFEST, make_image, write_oci_layout


@pytest.fixture
def tls_registry(registry_factory, tls_cert):
    return registry_factory(tls=tls_cert)


def test_https_only(tls_registry, tls_cert):
    assert tls_registry.url.startswith("https://")
    r = tls_registry.client().get("/v2/")
    assert r.status_code == 200
    assert r.headers.get("Docker-Distribution-API-Version") == "registry/2.0"

    # The certificate is the one we gave it: untrusted by default, trusted with our CA.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(tls_registry.url + "/v2/", timeout=10)

    # Plain HTTP on the same port gets no registry answer.
    try:
        plain = requests.get(f"http://{tls_registry.host}/v2/", timeout=10)
    except requests.exceptions.ConnectionError:
        plain = None
    assert plain is None or plain.status_code != 200, (
        f"plain HTTP was served on the TLS port: {plain.status_code} {plain.text[:200]!r}")


def test_skopeo_pushes_with_verified_tls(tls_registry, tls_cert, ctools, tmp_path):
    certs = tmp_path / "certs"
    certs.mkdir()
    shutil.copy(tls_cert[0], certs / "ca.crt")
    image = make_image(n_layers=2, layer_size=100_000, seed="tls-skopeo")
    layout = tmp_path / "layout"
    write_oci_layout(layout, {"v1": (OCI_MANIFEST, image.manifest)}, image.blobs)
    ref = f"docker://{tls_registry.host}/e2e/tls:v1"
    ctools.login(tls_registry, tls_verify=True, cert_dir=certs)

    ctools.skopeo("copy", "--dest-tls-verify=true", "--dest-cert-dir", str(certs),
                  "--preserve-digests", f"oci:{layout}:v1", ref)
    digest = ctools.skopeo("inspect", "--tls-verify=true", "--cert-dir", str(certs),
                           "--format", "{{.Digest}}", ref).stdout.strip()
    assert digest == image.digest
    # Without our CA the same verified client refuses the registry.
    r = ctools.skopeo("inspect", "--tls-verify=true", ref, check=False)
    assert r.returncode != 0 and "certificate" in r.stderr, r.stderr
    r = tls_registry.client().get_manifest("e2e/tls", "v1")
    assert r.headers["Docker-Content-Digest"] == image.digest


def test_docker_push_and_pull_over_tls(tls_registry, tls_cert, dockerd, local_images):
    certs_root = Path("/etc/docker/certs.d")
    created_root = not certs_root.exists()
    certs_dir = certs_root / tls_registry.host
    certs_dir.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copy(tls_cert[0], certs_dir / "ca.crt")
        dockerd.login(tls_registry)
        ref = f"{tls_registry.host}/e2e/tls-docker:v1"
        dockerd.docker("tag", local_images.BASE, ref)
        out = dockerd.docker("push", ref).stdout
        assert "digest: sha256:" in out, out
        dockerd.remove_all_images()
        dockerd.docker("pull", ref)
        assert dockerd.image_id(ref) == local_images.base_id
    finally:
        shutil.rmtree(certs_root if created_root else certs_dir, ignore_errors=True)
    # The registry only speaks TLS, so the push above went over HTTPS.
    r = tls_registry.client().get_manifest("e2e/tls-docker", "v1")
    assert r.status_code == 200
