"""The Docker engine pushes to and pulls from the registry like from Docker Hub."""

import re

import pytest

from oci import DOCKER_MANIFEST, describe

PUSH_DIGEST_RE = re.compile(r": digest: (sha256:[0-9a-f]{64}) size: \d+")


def push(docker, ref: str) -> tuple:
    """docker push; returns (output, manifest digest)."""
    out = docker.docker("push", ref).stdout
    m = PUSH_DIGEST_RE.search(out)
    assert m, f"no digest line in docker push output:\n{out}"
    return out, m.group(1)


def local_tags(docker) -> dict:
    out = docker.docker("images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
    return dict(line.split(" ", 1) for line in out.stdout.splitlines() if line.strip())


def registry_digest(registry, name: str, ref: str) -> str:
    r = registry.client().get_manifest(name, ref)
    assert r.status_code == 200, describe(r)
    return r.headers["Docker-Content-Digest"]


def test_two_tags_are_one_image_and_second_push_reuses_layers(docker, local_images, registry):
    v1, v2 = f"{registry.host}/e2e/app:v1", f"{registry.host}/e2e/app:v2"
    docker.docker("tag", local_images.BASE, v1)
    docker.docker("tag", local_images.BASE, v2)
    tags = local_tags(docker)
    assert tags[v1] == tags[v2] == local_images.base_id, f"tags are not one image: {tags}"

    out1, digest1 = push(docker, v1)
    assert out1.count("Pushed") == 3, f"first push should upload 3 layers:\n{out1}"
    out2, digest2 = push(docker, v2)
    assert out2.count("Layer already exists") == 3, f"second push re-uploaded layers:\n{out2}"
    assert "Pushed" not in out2, out2
    assert digest1 == digest2
    assert registry_digest(registry, "e2e/app", "v1") == digest1
    assert registry_digest(registry, "e2e/app", "v2") == digest1
    r = registry.client().get_manifest("e2e/app", "v1")
    assert r.headers.get("Content-Type") == DOCKER_MANIFEST, describe(r)


def test_push_to_second_repository_mounts_layers(docker, local_images, registry):
    first, second = f"{registry.host}/e2e/app:v1", f"{registry.host}/e2e/other:v1"
    docker.docker("tag", local_images.BASE, first)
    docker.docker("tag", local_images.BASE, second)
    _, digest = push(docker, first)
    out, digest2 = push(docker, second)
    assert out.count("Mounted from e2e/app") == 3, f"layers were not mounted:\n{out}"
    assert digest2 == digest
    assert registry_digest(registry, "e2e/other", "v1") == digest


def test_pull_downloads_only_missing_layers(docker, local_images, registry):
    base, derived = f"{registry.host}/e2e/base:1.0", f"{registry.host}/e2e/derived:1.0"
    docker.docker("tag", local_images.BASE, base)
    docker.docker("tag", local_images.DERIVED, derived)
    push(docker, base)
    push(docker, derived)
    docker.remove_all_images()

    out = docker.docker("pull", base).stdout
    assert out.count("Pull complete") == 3, f"expected 3 layers pulled:\n{out}"
    assert docker.image_id(base) == local_images.base_id

    out = docker.docker("pull", derived).stdout
    assert out.count("Already exists") == 3, f"shared layers were downloaded again:\n{out}"
    assert out.count("Pull complete") == 1, f"expected only the new layer pulled:\n{out}"
    assert docker.image_id(derived) == local_images.derived_id


def test_pull_by_digest(docker, local_images, registry):
    ref = f"{registry.host}/e2e/bydigest:v1"
    docker.docker("tag", local_images.BASE, ref)
    _, digest = push(docker, ref)
    docker.remove_all_images()
    by_digest = f"{registry.host}/e2e/bydigest@{digest}"
    out = docker.docker("pull", by_digest).stdout
    assert f"Digest: {digest}" in out, out
    assert docker.image_id(by_digest) == local_images.base_id
    digests = docker.docker("images", "--digests", "--format", "{{.Digest}}").stdout.split()
    assert digest in digests, digests


def test_latest_is_the_default_tag(docker, local_images, registry):
    ref = f"{registry.host}/e2e/default"
    docker.docker("tag", local_images.BASE, ref)
    _, digest = push(docker, ref)
    assert registry_digest(registry, "e2e/default", "latest") == digest
    docker.remove_all_images()
    docker.docker("pull", ref)
    assert docker.image_id(ref + ":latest") == local_images.base_id


@pytest.mark.wharf_only(reason="official-image alias (library/) is a Wharf feature")
def test_single_component_name_is_library_alias(docker, local_images, registry):
    official = f"{registry.host}/library/nginx:latest"
    docker.docker("tag", local_images.BASE, official)
    _, digest = push(docker, official)
    docker.remove_all_images()
    short = f"{registry.host}/nginx"
    out = docker.docker("pull", short).stdout
    assert f"Digest: {digest}" in out, out
    assert docker.image_id(short) == local_images.base_id
    assert registry_digest(registry, "nginx", "latest") == digest
    assert "library/nginx" in registry.client().catalog()
