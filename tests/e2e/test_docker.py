"""The Docker engine pushes to and pulls from the registry like from Docker Hub."""

import re

import pytest

from oci import DOCKER_MANIFEST, RegistryClient, describe

PUSH_DIGEST_RE = re.compile(r": digest: (sha256:[0-9a-f]{64}) size: \d+")


def push(dockerd, ref: str) -> tuple:
    """docker push; returns (output, manifest digest)."""
    out = dockerd.docker("push", ref).stdout
    m = PUSH_DIGEST_RE.search(out)
    assert m, f"no digest line in docker push output:\n{out}"
    return out, m.group(1)


def local_tags(dockerd) -> dict:
    out = dockerd.docker("images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
    return dict(line.split(" ", 1) for line in out.stdout.splitlines() if line.strip())


def registry_digest(registry, name: str, ref: str) -> str:
    r = RegistryClient(registry.url).get_manifest(name, ref)
    assert r.status_code == 200, describe(r)
    return r.headers["Docker-Content-Digest"]


def test_two_tags_are_one_image_and_second_push_reuses_layers(dockerd, local_images, registry):
    v1, v2 = f"{registry.host}/e2e/app:v1", f"{registry.host}/e2e/app:v2"
    dockerd.docker("tag", local_images.BASE, v1)
    dockerd.docker("tag", local_images.BASE, v2)
    tags = local_tags(dockerd)
    assert tags[v1] == tags[v2] == local_images.base_id, f"tags are not one image: {tags}"

    out1, digest1 = push(dockerd, v1)
    assert out1.count("Pushed") == 3, f"first push should upload 3 layers:\n{out1}"
    out2, digest2 = push(dockerd, v2)
    assert out2.count("Layer already exists") == 3, f"second push re-uploaded layers:\n{out2}"
    assert "Pushed" not in out2, out2
    assert digest1 == digest2
    assert registry_digest(registry, "e2e/app", "v1") == digest1
    assert registry_digest(registry, "e2e/app", "v2") == digest1
    r = RegistryClient(registry.url).get_manifest("e2e/app", "v1")
    assert r.headers.get("Content-Type") == DOCKER_MANIFEST, describe(r)


def test_push_to_second_repository_mounts_layers(dockerd, local_images, registry):
    first, second = f"{registry.host}/e2e/app:v1", f"{registry.host}/e2e/other:v1"
    dockerd.docker("tag", local_images.BASE, first)
    dockerd.docker("tag", local_images.BASE, second)
    _, digest = push(dockerd, first)
    out, digest2 = push(dockerd, second)
    assert out.count("Mounted from e2e/app") == 3, f"layers were not mounted:\n{out}"
    assert digest2 == digest
    assert registry_digest(registry, "e2e/other", "v1") == digest


def test_pull_downloads_only_missing_layers(dockerd, local_images, registry):
    base, derived = f"{registry.host}/e2e/base:1.0", f"{registry.host}/e2e/derived:1.0"
    dockerd.docker("tag", local_images.BASE, base)
    dockerd.docker("tag", local_images.DERIVED, derived)
    push(dockerd, base)
    push(dockerd, derived)
    dockerd.remove_all_images()

    out = dockerd.docker("pull", base).stdout
    assert out.count("Pull complete") == 3, f"expected 3 layers pulled:\n{out}"
    assert dockerd.image_id(base) == local_images.base_id

    out = dockerd.docker("pull", derived).stdout
    assert out.count("Already exists") == 3, f"shared layers were downloaded again:\n{out}"
    assert out.count("Pull complete") == 1, f"expected only the new layer pulled:\n{out}"
    assert dockerd.image_id(derived) == local_images.derived_id


def test_pull_by_digest(dockerd, local_images, registry):
    ref = f"{registry.host}/e2e/bydigest:v1"
    dockerd.docker("tag", local_images.BASE, ref)
    _, digest = push(dockerd, ref)
    dockerd.remove_all_images()
    by_digest = f"{registry.host}/e2e/bydigest@{digest}"
    out = dockerd.docker("pull", by_digest).stdout
    assert f"Digest: {digest}" in out, out
    assert dockerd.image_id(by_digest) == local_images.base_id
    digests = dockerd.docker("images", "--digests", "--format", "{{.Digest}}").stdout.split()
    assert digest in digests, digests


def test_latest_is_the_default_tag(dockerd, local_images, registry):
    ref = f"{registry.host}/e2e/default"
    dockerd.docker("tag", local_images.BASE, ref)
    _, digest = push(dockerd, ref)
    assert registry_digest(registry, "e2e/default", "latest") == digest
    dockerd.remove_all_images()
    dockerd.docker("pull", ref)
    assert dockerd.image_id(ref + ":latest") == local_images.base_id


@pytest.mark.wharf_only(reason="official-image alias (library/) is a Wharf feature")
def test_single_component_name_is_library_alias(dockerd, local_images, registry):
    official = f"{registry.host}/library/nginx:latest"
    dockerd.docker("tag", local_images.BASE, official)
    _, digest = push(dockerd, official)
    dockerd.remove_all_images()
    short = f"{registry.host}/nginx"
    out = dockerd.docker("pull", short).stdout
    assert f"Digest: {digest}" in out, out
    assert dockerd.image_id(short) == local_images.base_id
    assert registry_digest(registry, "nginx", "latest") == digest
    assert "library/nginx" in RegistryClient(registry.url).catalog()
