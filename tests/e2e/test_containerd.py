"""containerd (ctr) pulls images that other clients pushed."""

import platform

from oci import OCI_INDEX, make_image, make_index

ARCH = {"x86_64": "amd64", "aarch64": "arm64"}[platform.machine()]


def image_list(containerd) -> dict:
    """{ref: digest} from `ctr images ls`."""
    out = containerd.ctr("images", "ls").stdout.splitlines()
    rows = [line.split() for line in out[1:] if line.strip()]
    return {row[0]: row[2] for row in rows}


def test_ctr_pulls_pushed_image(containerd, registry):
    image = make_image(n_layers=2, layer_size=100_000, seed="ctr", arch=ARCH)
    registry.client().push_image("e2e/ctr", "v1", image)
    ref = f"{registry.host}/e2e/ctr:v1"

    out = containerd.pull(registry, ref).stdout
    assert f"unpacking linux/{ARCH} {image.digest}" in out, out
    assert image_list(containerd)[ref] == image.digest
    # The content store holds every layer, each verified by containerd against its digest.
    content = containerd.ctr("content", "ls", "--quiet").stdout.split()
    for digest in image.blobs:
        assert digest in content, f"{digest} not in containerd's content store"
    containerd.ctr("images", "rm", ref)


def test_ctr_pulls_multi_platform_index_by_digest(containerd, registry):
    amd = make_image(seed="ctr-amd", arch="amd64")
    arm = make_image(seed="ctr-arm", arch="arm64")
    client = registry.client()
    for child in (amd, arm):
        client.push_image("e2e/ctrmulti", child.digest, child)
    index = make_index([(amd, {"architecture": "amd64", "os": "linux"}),
                        (arm, {"architecture": "arm64", "os": "linux"})])
    put = client.put_manifest("e2e/ctrmulti", "v1", index, OCI_INDEX)
    digest = put.headers["Docker-Content-Digest"]
    ref = f"{registry.host}/e2e/ctrmulti@{digest}"

    containerd.pull(registry, ref, "--all-platforms")
    assert image_list(containerd)[ref] == digest
    content = containerd.ctr("content", "ls", "--quiet").stdout.split()
    for child in (amd, arm):
        assert child.digest in content
        for blob in child.blobs:
            assert blob in content
    containerd.ctr("images", "rm", ref)
