"""Schemathesis hooks for test_hub_openapi_contract.py (loaded with SCHEMATHESIS_HOOKS), and the
repositories that test starts from.

The Hub API's OpenAPI document names the test's own data in its examples (user `alice`,
repository `alice/tools`, tag `latest`), so that schemathesis' examples phase reads a real
repository with real tags instead of 404s.  The same examples delete them and log in with wrong
passwords, so right after such a call (responses and checks are untouched) these hooks put things
back:

- a successful `DELETE` of `alice/tools` or of one of its tags pushes the repository again;
- a failed `POST /v2/users/login` or `/v2/auth/token` for the test's user is followed by a
  successful one, which clears the account's failed-login count: five failures in a row would
  lock the account (from this address) for a minute, and every request of the run would then
  answer 429.

Schemathesis runs with one worker, so no other request falls between the change and the repair.

Environment: CONTRACT_URL, CONTRACT_USER / CONTRACT_PASSWORD (the credentials schemathesis uses).
"""

from __future__ import annotations

import json
import os

import requests
import schemathesis

import oci

# The repository the document's examples name, and its tags.
REPOSITORY, TAGS = "tools", ("latest", "1.0")
# A private repository beside it, which no example names.
PRIVATE_REPOSITORY, PRIVATE_TAG = "webapp", "stable"


def _image(seed: str, arch: str, variant: str | None = None) -> oci.Image:
    """A one-layer image whose config history also has a line that made no layer."""
    layer, diff_id = oci.make_layer({f"{seed}.txt": f"{seed}\n".encode()})
    config = {
        "architecture": arch, "os": "linux", "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [
            {"created": "2026-01-01T00:00:00Z", "created_by": f"/bin/sh -c #(nop) ADD file:{seed} in / "},
            {"created": "2026-01-01T00:00:00Z", "created_by": '/bin/sh -c #(nop)  CMD ["sh"]', "empty_layer": True},
        ],
    }
    if variant:
        config["variant"] = variant
    config_bytes = json.dumps(config, separators=(",", ":")).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": oci.OCI_MANIFEST,
        "config": oci.descriptor(oci.OCI_CONFIG, config_bytes),
        "layers": [oci.descriptor(oci.OCI_LAYER_GZIP, layer)],
    }).encode()
    return oci.Image(manifest, oci.OCI_MANIFEST, {oci.sha256(config_bytes): config_bytes, oci.sha256(layer): layer},
                     oci.sha256(config_bytes), [oci.sha256(layer)])


def _attestation(subject: oci.Image) -> oci.Image:
    """What buildx puts beside each platform: a manifest for platform unknown/unknown."""
    statement = b'{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2"}'
    config = json.dumps({"architecture": "unknown", "os": "unknown", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [oci.sha256(statement)]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": oci.OCI_MANIFEST,
        "config": oci.descriptor(oci.OCI_CONFIG, config),
        "layers": [oci.descriptor("application/vnd.in-toto+json", statement,
                                  annotations={"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"})],
    }).encode()
    return oci.Image(manifest, oci.OCI_MANIFEST, {oci.sha256(config): config, oci.sha256(statement): statement},
                     oci.sha256(config), [oci.sha256(statement)])


def _create(url: str, auth: tuple, name: str, **fields):
    r = requests.post(f"{url}/v2/repositories/", auth=auth, timeout=30, json={"namespace": auth[0], "name": name, **fields})
    assert r.status_code in (201, 409), f"POST /v2/repositories/ {name}: {r.status_code} {r.text}"


def push_tools(url: str, auth: tuple):
    """`alice/tools`, public: `latest` is an index of linux/amd64 and linux/arm64/v8 (with an
    attestation manifest, which the Hub API leaves out of `images`), `1.0` a single image."""
    _create(url, auth, REPOSITORY, description="Build tools", full_description="# Tools\n\nBuild tools for CI.")
    client = oci.RegistryClient(url, auth=auth)
    name = f"{auth[0]}/{REPOSITORY}"
    amd64, arm64 = _image("tools-amd64", "amd64"), _image("tools-arm64", "arm64", "v8")
    attestation = _attestation(amd64)
    for image in (amd64, arm64, attestation):
        client.push_image(name, image.digest, image)
    index = json.dumps({"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": [
        oci.descriptor(oci.OCI_MANIFEST, amd64.manifest, platform={"architecture": "amd64", "os": "linux"}),
        oci.descriptor(oci.OCI_MANIFEST, arm64.manifest, platform={"architecture": "arm64", "os": "linux", "variant": "v8"}),
        oci.descriptor(oci.OCI_MANIFEST, attestation.manifest, platform={"architecture": "unknown", "os": "unknown"},
                       annotations={"vnd.docker.reference.digest": amd64.digest,
                                    "vnd.docker.reference.type": "attestation-manifest"}),
    ]}).encode()
    client.put_manifest(name, TAGS[0], index, oci.OCI_INDEX)
    client.push_image(name, TAGS[1], _image("tools-1.0", "amd64"))


def push_fixtures(url: str, auth: tuple):
    """Everything the test starts from; `latest` of `alice/tools` pulled once, so that pull
    counts and `last_pulled` times have values while `1.0` stays unpulled (null)."""
    push_tools(url, auth)
    _create(url, auth, PRIVATE_REPOSITORY, description="The web application", is_private=True)
    client = oci.RegistryClient(url, auth=auth)
    client.push_image(f"{auth[0]}/{PRIVATE_REPOSITORY}", PRIVATE_TAG, _image("webapp", "amd64"))
    r = client.get_manifest(f"{auth[0]}/{REPOSITORY}", TAGS[0])
    assert r.status_code == 200, oci.describe(r)


def _credentials() -> tuple:
    return os.environ["CONTRACT_USER"], os.environ["CONTRACT_PASSWORD"]


def _clear_failed_logins():
    user, password = _credentials()
    r = requests.post(os.environ["CONTRACT_URL"] + "/v2/users/login", json={"username": user, "password": password}, timeout=30)
    if r.status_code != 200:
        raise AssertionError(f"could not log the test's user in again: {r.status_code} {r.text}")


@schemathesis.hook
def after_call(context, case, response):
    method, user = case.method.upper(), _credentials()[0]
    if method == "POST" and case.path in ("/v2/users/login", "/v2/auth/token"):
        field = "username" if case.path == "/v2/users/login" else "identifier"
        if response.status_code != 200 and isinstance(case.body, dict) and case.body.get(field) == user:
            _clear_failed_logins()
    elif method == "DELETE" and 200 <= response.status_code < 300:
        parameters = case.path_parameters or {}
        if parameters.get("namespace") == user and parameters.get("repository") == REPOSITORY:
            push_tools(os.environ["CONTRACT_URL"], _credentials())
