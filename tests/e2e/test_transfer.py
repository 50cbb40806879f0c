"""`wharf transfer` moves a single-node installation (SQLite + folder) to PostgreSQL + S3."""

import os
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from harness import create_postgres_database, run, wharf_binary
from oci import make_image

S3_VARIABLES = ("WHARF_TEST_S3_URL", "WHARF_TEST_S3_ACCESS_KEY", "WHARF_TEST_S3_SECRET_KEY")
pytestmark = [
    pytest.mark.wharf_only(reason="Wharf's own transfer command"),
    pytest.mark.skipif(not os.environ.get("WHARF_TEST_POSTGRES_URL") or not all(os.environ.get(v) for v in S3_VARIABLES),
                       reason="needs the test PostgreSQL and S3 servers (scripts/test starts them)"),
]
PASSWORD = "e2e-admin-password"


def fresh_storage() -> str:
    parts = urlsplit(os.environ["WHARF_TEST_S3_URL"])
    path = parts.path.rstrip("/") + "/transfer-" + os.urandom(6).hex()
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def test_transfer_keeps_users_tokens_repositories_tags_and_blobs(registry_factory, tmp_path):
    old = registry_factory(env={"WHARF_ADMIN_PASSWORD": PASSWORD, "WHARF_DATABASE": "", "WHARF_STORAGE": ""})
    if "WHARF_DATABASE" in old.env and old.env["WHARF_DATABASE"]:
        pytest.skip("the old installation must be the single-node default")
    r = requests.post(old.url + "/api/users", json={"username": "alice", "email": "a@example.com", "password": "alice-password"}, timeout=30)
    assert r.status_code == 201, r.text
    token = requests.post(old.url + "/api/tokens", json={"name": "ci", "scopes": ["read-write"]},
                          auth=("alice", "alice-password"), timeout=30).json()["token"]
    from oci import RegistryClient
    alice = RegistryClient(old.url, auth=("alice", "alice-password"))
    images = {tag: make_image(n_layers=2, seed=f"transfer-{tag}") for tag in ("v1", "v2")}
    for tag, image in images.items():
        alice.push_image("alice/app", tag, image)
    r = requests.patch(old.url + "/api/repositories/alice/app", json={"is_private": True}, auth=("alice", "alice-password"), timeout=30)
    assert r.status_code == 200, r.text
    assert old.terminate() == 0  # the data folder stays

    database, storage = create_postgres_database(), fresh_storage()
    keys = {"AWS_ACCESS_KEY_ID": os.environ["WHARF_TEST_S3_ACCESS_KEY"], "AWS_SECRET_ACCESS_KEY": os.environ["WHARF_TEST_S3_SECRET_KEY"]}
    done = run([wharf_binary(), "transfer", "--data-dir", str(old.data_dir), "--to-database", database, "--to-storage", storage],
               env={**keys, "WHARF_DATABASE": "", "AWS_CA_BUNDLE": ""}, timeout=300)
    assert "2 tags" in done.stdout, done.stdout

    new = registry_factory(data_dir=tmp_path / "empty", env={**keys, "WHARF_DATABASE": database, "WHARF_STORAGE": storage})
    # Users and their passwords and tokens came along.
    assert requests.get(new.url + "/api/user", auth=("alice", "alice-password"), timeout=30).status_code == 200
    assert requests.get(new.url + "/api/user", auth=("admin", PASSWORD), timeout=30).status_code == 200
    assert requests.get(new.url + "/api/repositories/alice/app", headers={"Authorization": f"Bearer {token}"}, timeout=30).json()["is_private"]
    # The repository stays private, and every tag pulls whole.
    assert requests.get(new.url + "/api/repositories/alice/app", timeout=30).status_code == 404
    client = RegistryClient(new.url, auth=("alice", "alice-password"))
    assert sorted(client.tags("alice/app")) == ["v1", "v2"]
    for tag, image in images.items():
        r = client.get_manifest("alice/app", tag)
        assert r.status_code == 200 and r.content == image.manifest
        for digest, data in image.blobs.items():
            blob = client.get(f"/v2/alice/app/blobs/{digest}")
            assert blob.status_code == 200 and blob.content == data
