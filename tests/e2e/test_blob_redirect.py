"""--blob-redirect: blob GETs answer 307 to a presigned URL of the object store, and docker
follows it, so blob bytes go straight from the store to the client."""

import pytest

from harness import STORAGE_KIND

pytestmark = [
    pytest.mark.wharf_only(reason="Wharf's --blob-redirect"),
    pytest.mark.skipif(STORAGE_KIND != "s3", reason="presigned URLs need S3 storage (E2E_STORAGE=s3)"),
]


def test_docker_pull_follows_presigned_blob_redirects(registry_factory, dockerd, local_images):
    server = registry_factory(extra_args=["--blob-redirect", "true"])
    dockerd.login(server)
    ref = f"{server.host}/e2e/redirect:v1"
    dockerd.docker("tag", local_images.BASE, ref)
    dockerd.docker("push", ref)

    client = server.client()
    manifest = client.get_manifest("e2e/redirect", "v1").json()
    layer = manifest["layers"][0]["digest"]
    r = client.get(f"/v2/e2e/redirect/blobs/{layer}", allow_redirects=False)
    assert r.status_code == 307, r.text
    location = r.headers["Location"]
    assert "X-Amz-Signature=" in location and not location.startswith(server.url), location
    assert r.headers.get("Docker-Content-Digest") == layer

    dockerd.remove_all_images()
    dockerd.docker("pull", ref)
    assert dockerd.image_id(ref) == local_images.base_id
