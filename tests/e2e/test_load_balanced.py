"""Load-balanced replicas: two Wharf servers on one PostgreSQL database and one S3 bucket behind
nginx (round-robin on loopback), driven by the real Docker engine through nginx's address.

- docker login, push and pull go through nginx, and the requests of one push, uploads included,
  are served by both replicas;
- a chunked upload's chunks alternate between the replicas;
- a registry token issued by either replica (docker's /token request through nginx goes to
  whichever comes next) is accepted by both;
- kill -9 of the replica receiving a layer in the middle of a docker push: docker's retry (or a
  second push) goes to the other replica and succeeds, and the image pulled back is whole.

Runs only with E2E_DATABASE=postgres and E2E_STORAGE=s3 (scripts/test-postgres, scripts/test-s3),
like test_replicas.py; needs nginx (Debian's package; scripts/test installs it) and ss (iproute2).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import Dict, List

import pytest
import requests

import harness
from harness import (SHARED_STORES, SHARED_STORES_SKIP_REASON, NginxBalancer, RegistryServer,
                     body_bytes_in_flight)
from oci import ALL_MANIFESTS, RegistryClient, describe, make_image, random_bytes, sha256

pytestmark = pytest.mark.skipif(not SHARED_STORES, reason=SHARED_STORES_SKIP_REASON)

PUSH_DIGEST_RE = re.compile(r": digest: (sha256:[0-9a-f]{64}) size: \d+")
UPLOAD_ID_RE = re.compile(r"/blobs/uploads/([0-9A-Za-z-]{8,})")


@dataclass
class Balanced:
    """Two replicas (a, b) behind nginx (lb)."""

    lb: NginxBalancer
    a: RegistryServer
    b: RegistryServer

    @property
    def replicas(self) -> List[RegistryServer]:
        return [self.a, self.b]

    def name_of(self, upstream: str) -> str:
        """'A' or 'B' for an upstream address nginx logged (127.0.0.1:PORT)."""
        for name, server in (("A", self.a), ("B", self.b)):
            if upstream.strip() == server.host:
                return name
        raise AssertionError(f"nginx used an upstream that is neither replica: {upstream!r}")

    def served_by(self, response: requests.Response) -> str:
        """Which replica answered a request made through nginx (X-Upstream-Addr)."""
        upstream = response.headers.get("X-Upstream-Addr", "")
        assert upstream and "," not in upstream, (
            f"expected one replica in X-Upstream-Addr\n{describe(response)}")
        return self.name_of(upstream)


@pytest.fixture
def balanced(request, registry_factory, tmp_path) -> Balanced:
    """Replicas A and B (harness.start_replicas, each with --trusted-proxies 127.0.0.1) behind a
    running nginx; nginx's logs go into a failed test's report."""
    a, b = harness.start_replicas(registry_factory, extra_args=["--trusted-proxies", "127.0.0.1"])
    lb = NginxBalancer(tmp_path / "nginx", [a, b])
    request.node._e2e_logs = [(f"nginx logs ({lb.host})", lb.log_tail)]
    try:
        lb.start()
        yield Balanced(lb, a, b)
    finally:
        lb.stop()


def routes_of_uploads(setup: Balanced, entries: List[dict], repository: str) -> Dict[str, list]:
    """{upload id: [(method, replica), ...]} of the repository's blob uploads as nginx passed them
    on: the POST that started each (its Location names the upload) and the PATCH/PUT requests."""
    routes: Dict[str, list] = {}
    prefix = f"/v2/{repository}/blobs/uploads/"
    for e in entries:
        if not e["uri"].startswith(prefix) or not e["upstream"]:
            continue
        m = UPLOAD_ID_RE.search(e["location"] if e["method"] == "POST" else e["uri"])
        if m and e["status"].startswith("2"):
            routes.setdefault(m.group(1), []).append(
                (e["method"], setup.name_of(e["upstream"].split(",")[-1])))
    return routes


def logged(lb: NginxBalancer, since: int, done, what: str) -> List[dict]:
    """nginx's access log from entry `since` on, once done(those entries) holds (nginx writes a
    request's line just after its response, so a client may be a moment ahead of the log)."""
    return harness.wait_for(lambda: (lambda es: es if done(es) else None)(lb.entries()[since:]),
                            timeout=5, what=f"nginx to log {what}")


def docker_push(dockerd, ref: str, timeout: float = 90) -> tuple:
    """docker push; returns (output, manifest digest)."""
    out = dockerd.docker("push", ref, timeout=timeout).stdout
    m = PUSH_DIGEST_RE.search(out)
    assert m, f"no digest line in docker push output:\n{out}"
    return out, m.group(1)


def replica_requests(server: RegistryServer, repository: str) -> List[str]:
    """The request lines a replica logged for a repository's /v2/ paths."""
    return [line for line in server.log_text().splitlines()
            if f"http.path=/v2/{repository}/" in line and "[WharfServer] request" in line]


# --------------------------------------------------------------------------------------
# docker push / pull through nginx
# --------------------------------------------------------------------------------------

@pytest.mark.timeout(120)
def test_docker_push_and_pull_through_nginx_use_both_replicas(balanced, dockerd, local_images):
    lb = balanced.lb
    started = time.monotonic()
    # The token realm replicas announce through nginx is nginx's own address, in the scheme nginx
    # saw (a client's X-Forwarded-Proto does not get past nginx).
    r = requests.get(lb.url + "/v2/", headers={"X-Forwarded-Proto": "https"}, timeout=30)
    assert r.status_code == 401, describe(r)
    assert r.headers.get("WWW-Authenticate", "").startswith(f'Bearer realm="{lb.url}/token"'), (
        f"the challenge through nginx must send docker back to nginx\n{describe(r)}")

    dockerd.login(lb)
    ref = f"{lb.host}/e2e/lb:v1"
    dockerd.docker("tag", local_images.BASE, ref)
    out, digest = docker_push(dockerd, ref)
    assert out.count("Pushed") == 3, f"expected 3 layers pushed through nginx:\n{out}"

    # Both replicas served requests of the push ...
    for server, name in ((balanced.a, "A"), (balanced.b, "B")):
        lines = replica_requests(server, "e2e/lb")
        assert any("http.method=PATCH" in line or "http.method=PUT" in line for line in lines), (
            f"replica {name} served no upload or manifest request of the push through nginx; its "
            f"requests for e2e/lb:\n" + "\n".join(lines))
    # ... and uploads crossed: started on one replica, continued or finished on the other. (The
    # config blob's POST, PATCH and PUT come one after the other, so they alternate.)
    entries = logged(lb, 0, lambda es: any(e["uri"] == "/v2/e2e/lb/manifests/v1" for e in es),
                     "the manifest PUT")
    routes = routes_of_uploads(balanced, entries, "e2e/lb")
    assert len(routes) >= 4, f"expected the uploads of 3 layers and a config, nginx saw {routes}"
    crossed = {upload: route for upload, route in routes.items()
               if len({replica for _, replica in route}) == 2}
    assert crossed, f"no upload went to both replicas; routes through nginx: {routes}"
    assert not [e for e in entries if e["status"].startswith("5")], (
        "a request of the push failed through nginx:\n" + "\n".join(map(str, entries)))

    dockerd.remove_all_images()
    out = dockerd.docker("pull", ref, timeout=90).stdout
    assert f"Digest: {digest}" in out and out.count("Pull complete") == 3, out
    assert dockerd.image_id(ref) == local_images.base_id, "the image pulled through nginx differs"
    pulled_by = {balanced.name_of(e["upstream"]) for e in lb.entries()[len(entries):]
                 if e["method"] == "GET" and "/blobs/sha256:" in e["uri"]}
    print(f"push and pull through nginx in {time.monotonic() - started:.1f} s; uploads that "
          f"crossed replicas: {crossed}; layers pulled from {sorted(pulled_by)}")


@pytest.mark.timeout(60)
def test_chunked_upload_alternates_between_replicas(balanced):
    lb = balanced.lb
    client = RegistryClient(lb.url, auth=lb.credentials)
    name = "e2e/chunked"
    data = random_bytes(5 * 1024 * 1024 + 77, "lb-chunks")
    digest = sha256(data)
    chunk_size = 1024 * 1024 + 13  # odd sizes: 5 chunks of it and one of 12 bytes
    chunks = -(-len(data) // chunk_size)
    before = len(lb.entries())
    r = client.upload_blob(name, data, chunk_size=chunk_size)
    assert r.headers.get("Docker-Content-Digest") == digest, describe(r)

    entries = logged(lb, before, lambda es: any(e["method"] == "PUT" for e in es),
                     "the upload's PUT")
    routes = routes_of_uploads(balanced, entries, name)
    assert len(routes) == 1, f"expected one upload, nginx saw {routes}"
    (route,) = routes.values()
    patches = [replica for method, replica in route if method == "PATCH"]
    assert len(patches) == chunks, f"expected {chunks} chunks through nginx: {route}"
    # Requests made one after the other alternate: the chunks went A, B, A, … or B, A, B, …
    assert all(x != y for x, y in zip(patches, patches[1:])), (
        f"consecutive chunks were not spread over the replicas: {route}")
    for server in balanced.replicas:
        got = server.client().get(f"/v2/{name}/blobs/{digest}")
        assert got.status_code == 200 and sha256(got.content) == digest, (
            f"{server.host} does not serve the blob uploaded in alternating chunks\n{describe(got)}")
    print(f"chunks through nginx: {route}")


# --------------------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------------------

@pytest.mark.timeout(60)
def test_login_tokens_from_either_replica_are_accepted_by_both(balanced, dockerd):
    lb, a, b = balanced.lb, balanced.a, balanced.b
    name = "e2e/tokens"
    image = make_image(seed="lb-tokens")
    a.client().push_image(name, "v1", image)

    # docker login through nginx: its /token request went to one of the replicas.
    before = len(lb.entries())
    dockerd.login(lb)
    logins = [e for e in logged(lb, before, lambda es: any(e["uri"].startswith("/token")
                                                           for e in es), "docker login's /token")
              if e["uri"].startswith("/token")]
    assert all(e["status"] == "200" for e in logins), f"docker login's /token requests: {logins}"
    login_replica = balanced.name_of(logins[-1]["upstream"])

    # The same request (Basic, as docker login sends it), through nginx until each replica has
    # issued a token, and straight to each.
    params = {"service": "wharf", "scope": f"repository:{name}:pull,push"}
    tokens: Dict[str, str] = {}
    for _ in range(4):
        r = requests.get(lb.url + "/token", auth=lb.credentials, params=params, timeout=30)
        assert r.status_code == 200, describe(r)
        tokens.setdefault(f"{balanced.served_by(r)} via nginx", r.json()["token"])
    assert {"A via nginx", "B via nginx"} <= set(tokens), (
        f"4 token requests through nginx did not reach both replicas: {sorted(tokens)}")
    for server, issuer in ((a, "A"), (b, "B")):
        r = requests.get(server.url + "/token", auth=server.credentials, params=params, timeout=30)
        assert r.status_code == 200, describe(r)
        tokens[f"{issuer} directly"] = r.json()["token"]

    for issuer, token in tokens.items():
        bearer = {"Authorization": f"Bearer {token}"}
        for server, where in ((a, "A"), (b, "B"), (lb, "nginx")):
            r = requests.get(f"{server.url}/v2/{name}/manifests/v1", timeout=30,
                             headers={**bearer, "Accept": ALL_MANIFESTS})
            assert r.status_code == 200, f"{where} refused a pull token from {issuer}\n{describe(r)}"
            assert r.headers.get("Docker-Content-Digest") == image.digest, describe(r)
            r = requests.post(f"{server.url}/v2/{name}/blobs/uploads/", headers=bearer, timeout=30)
            assert r.status_code == 202, f"{where} refused a push token from {issuer}\n{describe(r)}"
    print(f"docker login's token came from replica {login_replica}; tokens from "
          f"{sorted(tokens)} all accepted by A, B and nginx")


# --------------------------------------------------------------------------------------
# A replica killed during a push
# --------------------------------------------------------------------------------------

BIG_LAYERS_MIB = (20, 24, 28)
BIG_IMAGE = "e2e-local/big:latest"


@pytest.fixture
def big_image(dockerd, tmp_path) -> str:
    """A local image of three layers of 20-28 MiB of random bytes (docker build FROM scratch);
    its id. Removed from the engine afterwards."""
    context = tmp_path / "big"
    context.mkdir()
    lines = ["FROM scratch"]
    for index, mib in enumerate(BIG_LAYERS_MIB):
        (context / f"layer{index}").write_bytes(os.urandom(mib * 1024 * 1024))
        lines.append(f"COPY layer{index} /layer{index}")
    (context / "Dockerfile").write_text("\n".join(lines) + "\n")
    dockerd.docker("build", "--tag", BIG_IMAGE, str(context), timeout=120)
    shutil.rmtree(context)
    image_id = dockerd.image_id(BIG_IMAGE)
    yield image_id
    dockerd.docker("rmi", "--force", image_id, check=False)


def kill_replica_receiving_a_layer(balanced: Balanced, push: subprocess.Popen,
                                   timeout: float = 60) -> tuple:
    """Waits until one replica is in the middle of receiving a layer from nginx (an open
    connection to it has carried over 1 MiB), then kill -9s it. Returns (replica, bytes it had
    received on that connection)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if push.poll() is not None:
            raise AssertionError(
                f"docker push ended (exit code {push.returncode}) before either replica was seen "
                f"receiving a layer\n{push.communicate()[0]}")
        for server in balanced.replicas:
            received = body_bytes_in_flight(server.port)
            if received > 1024 * 1024:
                server.kill9()
                return server, received
        time.sleep(0.02)
    raise AssertionError(f"no replica received a layer within {timeout}s of the push's start")


@pytest.mark.timeout(180)
def test_replica_killed_during_a_push_the_push_completes_through_the_other(
        balanced, dockerd, big_image):
    lb = balanced.lb
    started = time.monotonic()
    dockerd.login(lb)
    ref = f"{lb.host}/e2e/big:v1"
    dockerd.docker("tag", BIG_IMAGE, ref)

    push = subprocess.Popen(["docker", "push", ref], env={**os.environ, **dockerd.env},
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        victim, received = kill_replica_receiving_a_layer(balanced, push)
        killed_at, killed_at_wall = time.monotonic(), time.time()
        survivor = balanced.b if victim is balanced.a else balanced.a
        # The push was under way: no manifest had been sent yet.
        assert not any("/manifests/" in e["uri"] for e in lb.entries()), (
            "the manifest was pushed before the kill: the kill did not happen during the push")
        try:
            output, _ = push.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            push.kill()
            output, _ = push.communicate()
            raise AssertionError(f"docker push did not end within 90 s of the kill:\n{output}")
    finally:
        if push.poll() is None:
            push.kill()
            push.communicate()
    first_push = push.returncode
    print(f"killed replica {balanced.name_of(victim.host)} {killed_at - started:.1f} s into the "
          f"test, {received} bytes into a layer; docker push exited {first_push} "
          f"{time.monotonic() - killed_at:.1f} s later")

    # The layer being streamed into the victim was cut: nginx answered that request with an error
    # (it does not resend a body it has begun to stream).
    entries = lb.entries()
    cut = [e for e in entries if victim.host in e["upstream"] and e["method"] == "PATCH"
           and not e["status"].startswith("2")]
    assert cut, ("nginx logged no failed PATCH to the killed replica; requests it passed to "
                 f"{victim.host}:\n" + "\n".join(str(e) for e in entries
                                                 if victim.host in e["upstream"]))

    if first_push == 0:
        how = "docker's own retry" + (" (it printed 'Retrying in …')" if "Retrying in" in output
                                      else "")
    else:
        how = "a second docker push"
        print(f"first docker push failed:\n{output}")
        output = dockerd.docker("push", ref, timeout=90).stdout
    m = PUSH_DIGEST_RE.search(output)
    assert m, f"no digest line in docker push output ({how}):\n{output}"
    digest = m.group(1)

    # Every request begun after the kill was answered by the survivor: nginx passed on those it
    # tried on the victim's closed port.
    after = [e for e in lb.entries()
             if float(e["msec"]) - float(e["request_time"]) > killed_at_wall + 0.01]
    assert after, "nginx logged no request begun after the kill"
    for e in after:
        assert e["upstream"].split(",")[-1].strip() == survivor.host and \
            not e["status"].startswith("5"), (
                f"a request begun after the kill was not answered by the surviving replica: {e}")
    passed_on = [e for e in after if "," in e["upstream"]]
    print(f"the push completed through {how}; {len(after)} requests after the kill, "
          f"{len(passed_on)} of them tried on the victim first and passed on")


    # The image pulled back through nginx (the survivor) is whole.
    dockerd.remove_all_images()
    out = dockerd.docker("pull", ref, timeout=90).stdout
    assert f"Digest: {digest}" in out, out
    assert dockerd.image_id(ref) == big_image, "the image pulled back differs from the one pushed"
    # No stored blob is partial (the cut upload left nothing in a blob's place).
    checked = survivor.verify_stored_blobs()
    assert checked >= len(BIG_LAYERS_MIB) + 1, f"only {checked} blobs in {survivor.blob_storage}"

    # The killed replica, started again, serves the image pushed while it was down.
    victim.start()
    r = victim.client().get_manifest("e2e/big", "v1")
    assert r.status_code == 200 and r.headers.get("Docker-Content-Digest") == digest, describe(r)
    print(f"kill test in {time.monotonic() - started:.1f} s")
