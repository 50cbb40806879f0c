"""A crash (kill -9) in the middle of pushes loses nothing that was acknowledged and leaves no
partial blob visible; clients can push again after a restart on the same data folder."""

import hashlib
import os
import subprocess
import threading
import time

import requests

from oci import OCI_MANIFEST, describe, make_image, sha256, with_query, write_oci_layout

REPO = "e2e/durable"


def assert_served_blob_is_whole(client, name, digest, size):
    """HEAD/GET may say 404, but whatever is served must be exactly the blob."""
    head = client.head(f"/v2/{name}/blobs/{digest}")
    assert head.status_code in (200, 404), describe(head)
    if head.status_code == 404:
        return False
    assert int(head.headers["Content-Length"]) == size, describe(head)
    r = client.get(f"/v2/{name}/blobs/{digest}", stream=True)
    assert r.status_code == 200, describe(r)
    h, n = hashlib.sha256(), 0
    for chunk in r.iter_content(1 << 20):
        h.update(chunk)
        n += len(chunk)
    assert n == size and "sha256:" + h.hexdigest() == digest, (
        f"{name}@{digest}: served {n} bytes hashing to sha256:{h.hexdigest()} "
        f"(expected {size} bytes)")
    return True


def assert_tag_intact(client, name, tag, image):
    r = client.get_manifest(name, tag)
    assert r.status_code == 200, f"acknowledged tag {tag} lost after crash\n{describe(r)}"
    assert r.headers.get("Docker-Content-Digest") == image.digest, describe(r)
    assert sha256(r.content) == image.digest
    for digest, data in image.blobs.items():
        assert assert_served_blob_is_whole(client, name, digest, len(data)), (
            f"blob {digest} of acknowledged tag {tag} is gone")


def stalled_put(registry, name, data, started: threading.Event, release: threading.Event):
    """A monolithic PUT that sends half its body, then waits (the server dies meanwhile)."""
    client = registry.client()
    loc = client.start_upload(name)

    def body():
        yield data[: len(data) // 2]
        started.set()
        release.wait(30)
        yield data[len(data) // 2:]

    try:
        client.put(with_query(loc, digest=sha256(data)), data=body(), timeout=60)
    except requests.RequestException:
        pass


def test_kill9_during_pushes_keeps_acknowledged_tags(registry):
    client = registry.client()
    images = [make_image(n_layers=2, layer_size=1_500_000, seed=f"durable{i}") for i in range(40)]
    acknowledged, errors = [], []

    midway = threading.Event()

    def pusher():
        c = registry.client()
        for i, image in enumerate(images):
            try:
                if i == 3:
                    # The fourth image's blobs are stored but its manifest not yet: the push is
                    # mid-way when the server is killed (no timing guess).
                    c.push_blobs(REPO, image.blobs)
                    midway.set()
                    release.wait(30)
                c.push_image(REPO, f"t{i}", image)
            except (requests.RequestException, AssertionError) as exc:
                errors.append(exc)
                return
            acknowledged.append(i)

    # A chunked upload left half done and a monolithic PUT stalled mid-body.
    half_done = make_image(n_layers=1, layer_size=3_000_000, seed="half")
    layer = half_done.blobs[half_done.layer_digests[0]]
    loc = client.start_upload(REPO)
    r = client.patch(loc, data=layer[:1_000_000], headers={
        "Content-Range": "0-999999", "Content-Type": "application/octet-stream"})
    assert r.status_code == 202, describe(r)
    half_loc = client.location(r)
    stalled_data = make_image(n_layers=1, layer_size=2_000_000, seed="stall").blobs
    stalled_digest, stalled_bytes = next(
        (d, b) for d, b in stalled_data.items() if len(b) > 1_000_000)
    started, release = threading.Event(), threading.Event()
    staller = threading.Thread(target=stalled_put,
                               args=(registry, REPO, stalled_bytes, started, release))
    staller.start()
    assert started.wait(30)

    thread = threading.Thread(target=pusher)
    thread.start()
    assert midway.wait(120), f"the pusher never got half-way through its fourth image: {errors}"
    registry.kill9()
    release.set()
    thread.join(60)
    staller.join(60)
    done = list(acknowledged)
    print(f"{len(done)} of {len(images)} tags acknowledged before the kill")
    assert len(done) >= 3, f"pusher failed before the crash: {errors}"
    assert len(done) < len(images), "every push finished before the kill; nothing was mid-way"

    registry.restart()
    client = registry.client()
    for i in done:
        assert_tag_intact(client, REPO, f"t{i}", images[i])
    for i, image in enumerate(images):
        if i in done:
            continue
        r = client.get_manifest(REPO, f"t{i}")
        assert r.status_code in (200, 404), describe(r)
        if r.status_code == 200:  # the crash came after the commit but before the answer
            assert_tag_intact(client, REPO, f"t{i}", image)
        for digest, data in image.blobs.items():
            assert_served_blob_is_whole(client, REPO, digest, len(data))
    assert not assert_served_blob_is_whole(client, REPO, stalled_digest, len(stalled_bytes)), \
        "a PUT whose body never fully arrived produced a blob"
    assert not assert_served_blob_is_whole(client, REPO, half_done.layer_digests[0], len(layer))
    status = client.get(half_loc)
    assert status.status_code in (204, 404), describe(status)
    registry.verify_stored_blobs()

    # Pushing everything again after the restart works and every tag pulls back.
    for i, image in enumerate(images):
        client.push_image(REPO, f"t{i}", image)
    for i, image in enumerate(images):
        assert_tag_intact(client, REPO, f"t{i}", image)
    assert sorted(client.tags(REPO)) == sorted(f"t{i}" for i in range(len(images)))


def test_kill9_during_skopeo_copy_then_copy_again(registry, ctools, tmp_path):
    image = make_image(n_layers=10, layer_size=2_000_000, seed="skopeo-crash")
    layout = tmp_path / "layout"
    write_oci_layout(layout, {"v1": (OCI_MANIFEST, image.manifest)}, image.blobs)
    ref = f"docker://{registry.host}/{REPO}:v1"
    client = registry.client()
    ctools.login(registry)

    proc = subprocess.Popen(
        ["skopeo", "--policy", str(ctools.policy), "copy", "--dest-tls-verify=false",
         "--preserve-digests", f"oci:{layout}:v1", ref],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, **ctools.env})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if any(client.blob_exists(REPO, d) for d in image.layer_digests):
            break
        time.sleep(0.005)
    registry.kill9()
    output = proc.communicate(timeout=120)[0].decode(errors="replace")
    print(f"skopeo exit code {proc.returncode} after the kill:\n{output[-2000:]}")

    registry.restart()
    client = registry.client()
    r = client.get_manifest(REPO, "v1")
    assert r.status_code in (200, 404), describe(r)
    if r.status_code == 200:
        assert_tag_intact(client, REPO, "v1", image)
    for digest, data in image.blobs.items():
        assert_served_blob_is_whole(client, REPO, digest, len(data))
    registry.verify_stored_blobs()

    ctools.skopeo("copy", "--dest-tls-verify=false", "--preserve-digests",
                  f"oci:{layout}:v1", ref)
    assert_tag_intact(client, REPO, "v1", image)
