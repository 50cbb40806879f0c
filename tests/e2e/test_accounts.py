"""Accounts, `docker login`, private repositories, collaborators, teams, access tokens and
plans, driven with the real Docker engine and the JSON API."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import requests

from harness import run

pytestmark = pytest.mark.wharf_only(reason="accounts and token authentication")

ADMIN_PASSWORD = "e2e-admin-password"


@pytest.fixture
def hub(registry_factory):
    return registry_factory(env={"WHARF_ADMIN_PASSWORD": ADMIN_PASSWORD})


def api(hub, method, path, user=None, password=None, **kw):
    auth = (user, password or f"{user}-password") if user else None
    return requests.request(method, hub.url + path, auth=auth, timeout=30, **kw)


def sign_up(hub, name):
    r = api(hub, "POST", "/api/users", json={"username": name, "email": f"{name}@example.com",
                                               "password": f"{name}-password"})
    assert r.status_code == 201, r.text


def login(dockerd, hub, user, password=None):
    return run(["docker", "login", hub.host, "-u", user, "--password-stdin"], env=dockerd.env,
               input=password or f"{user}-password", check=False)


def logout(dockerd, hub):
    dockerd.docker("logout", hub.host, check=False)


def tag(dockerd, source, target):
    dockerd.docker("tag", source, target)
    return target


def denied(result) -> bool:
    text = (result.stdout + result.stderr).lower()
    return result.returncode != 0 and ("denied" in text or "unauthorized" in text
                                       or "authentication required" in text)


def test_private_repository_collaborators_and_teams(hub, dockerd, local_images):
    for name in ("alice", "bobby", "carol"):
        sign_up(hub, name)
    r = api(hub, "POST", "/api/repositories", "alice",
            json={"namespace": "alice", "name": "secret", "is_private": True})
    assert r.status_code == 201, r.text

    assert login(dockerd, hub, "alice").returncode == 0
    ref = tag(dockerd, local_images.BASE, f"{hub.host}/alice/secret:v1")
    pushed = dockerd.docker("push", ref)
    assert "digest: sha256:" in pushed.stdout

    # Anonymous pull of a private repository is refused, exactly like a missing one.
    logout(dockerd, hub)
    dockerd.docker("rmi", ref)
    for target in (ref, f"{hub.host}/alice/does-not-exist:v1"):
        result = dockerd.docker("pull", target, check=False)
        assert denied(result), result.stderr
    catalog = requests.get(hub.url + "/v2/_catalog", timeout=30).json()
    assert "alice/secret" not in catalog["repositories"]

    # Another user is refused too.
    assert login(dockerd, hub, "bobby").returncode == 0
    assert denied(dockerd.docker("pull", ref, check=False))

    # As a read collaborator bob pulls, but may not push.
    r = api(hub, "PUT", "/api/repositories/alice/secret/collaborators/bobby", "alice",
            json={"permission": "read"})
    assert r.status_code == 200, r.text
    assert dockerd.docker("pull", ref).returncode == 0
    bob_push = dockerd.docker("push", tag(dockerd, local_images.DERIVED, f"{hub.host}/alice/secret:bob"),
                              check=False)
    assert denied(bob_push), bob_push.stdout + bob_push.stderr

    # Teams: alice's organization gives the devs team write on acmeorg/tool; bob is a member.
    assert api(hub, "POST", "/api/orgs", "alice", json={"name": "acmeorg"}).status_code == 201
    assert api(hub, "POST", "/api/orgs/acmeorg/teams", "alice", json={"name": "devs"}).status_code == 201
    assert api(hub, "PUT", "/api/orgs/acmeorg/teams/devs/members/bobby", "alice").status_code == 200
    tool = tag(dockerd, local_images.BASE, f"{hub.host}/acmeorg/tool:v1")
    assert denied(dockerd.docker("push", tool, check=False))
    r = api(hub, "PUT", "/api/orgs/acmeorg/teams/devs/repositories/tool", "alice", json={"permission": "write"})
    assert r.status_code == 200, r.text
    assert "digest: sha256:" in dockerd.docker("push", tool).stdout

    # carol is in no team: refused.
    assert login(dockerd, hub, "carol").returncode == 0
    assert denied(dockerd.docker("push", tool, check=False))
    logout(dockerd, hub)


def test_login_failures_logout_and_throttling(hub, dockerd, local_images):
    sign_up(hub, "alice")
    wrong = login(dockerd, hub, "alice", "not-the-password")
    assert wrong.returncode != 0
    assert "incorrect username or password" in wrong.stderr

    assert login(dockerd, hub, "alice").returncode == 0
    ref = tag(dockerd, local_images.BASE, f"{hub.host}/alice/app:v1")
    dockerd.docker("push", ref)
    logout(dockerd, hub)
    after_logout = dockerd.docker("push", tag(dockerd, local_images.DERIVED, f"{hub.host}/alice/app:v2"), check=False)
    assert denied(after_logout), after_logout.stderr

    # Anonymous pulls of the public repository still work.
    dockerd.docker("rmi", ref)
    assert dockerd.docker("pull", ref).returncode == 0

    # Repeated wrong passwords: 429 with Retry-After, even for the right password.
    statuses = []
    for _ in range(6):
        r = requests.get(hub.url + "/token?service=wharf", auth=("alice", "wrong-password"), timeout=30)
        statuses.append(r.status_code)
    assert statuses[0] == 401
    assert statuses[-1] == 429
    r = requests.get(hub.url + "/token?service=wharf", auth=("alice", "alice-password"), timeout=30)
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    assert r.json()["errors"][0]["code"] == "TOOMANYREQUESTS"


def test_read_only_access_token_cannot_push(hub, dockerd, local_images):
    sign_up(hub, "alice")
    assert login(dockerd, hub, "alice").returncode == 0
    ref = tag(dockerd, local_images.BASE, f"{hub.host}/alice/app:v1")
    dockerd.docker("push", ref)
    r = api(hub, "POST", "/api/tokens", "alice", json={"name": "ci", "scopes": ["read"]})
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    listed = api(hub, "GET", "/api/tokens", "alice").json()
    assert [t["name"] for t in listed if t["kind"] == "personal"] == ["ci"]
    assert all("token" not in t for t in listed)

    assert login(dockerd, hub, "alice", token).returncode == 0
    dockerd.docker("rmi", ref)
    assert dockerd.docker("pull", ref).returncode == 0
    push = dockerd.docker("push", tag(dockerd, local_images.DERIVED, f"{hub.host}/alice/app:v2"), check=False)
    assert denied(push), push.stderr

    # A revoked token no longer logs in.
    logout(dockerd, hub)
    assert api(hub, "DELETE", f"/api/tokens/{r.json()['id']}", "alice").status_code == 204
    assert login(dockerd, hub, "alice", token).returncode != 0


def test_token_lifetime_flag_sets_expires_in(registry_factory):
    # That an expired token is refused is checked in Swift with a clock the test moves
    # (AuthRouteTests), without waiting here for the lifetime and its leeway to pass.
    hub = registry_factory(extra_args=["--token-lifetime", "1"], env={"WHARF_ADMIN_PASSWORD": ADMIN_PASSWORD})
    sign_up(hub, "alice")
    r = requests.get(hub.url + "/token?service=wharf&scope=repository:alice/app:pull,push",
                     auth=("alice", "alice-password"), timeout=30)
    assert r.status_code == 200 and r.json()["expires_in"] == 1
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    assert requests.post(hub.url + "/v2/alice/app/blobs/uploads/", headers=headers, timeout=30).status_code == 202


def test_plan_limit_refuses_second_private_repository(hub, dockerd, local_images):
    sign_up(hub, "alice")
    assert api(hub, "PATCH", "/api/user", "alice", json={"default_private": True}).status_code == 200
    assert login(dockerd, hub, "alice").returncode == 0
    first = tag(dockerd, local_images.BASE, f"{hub.host}/alice/first:v1")
    dockerd.docker("push", first)
    assert api(hub, "GET", "/api/repositories/alice/first", "alice").json()["is_private"] is True

    second = dockerd.docker("push", tag(dockerd, local_images.BASE, f"{hub.host}/alice/second:v1"), check=False)
    assert second.returncode != 0
    assert "allows 1 private repository" in second.stderr + second.stdout

    # The administrator raises the limit; the push then succeeds.
    r = api(hub, "PUT", "/api/admin/users/alice", "admin", ADMIN_PASSWORD, json={"private_repo_limit": 2})
    assert r.status_code == 200, r.text
    assert dockerd.docker("push", f"{hub.host}/alice/second:v1").returncode == 0
    logout(dockerd, hub)


def test_first_admin_password_is_printed_once(registry_factory):
    hub = registry_factory()
    log = hub.log_text()
    line = next(l for l in log.splitlines() if "Created the first administrator: user admin, password " in l)
    password = line.rsplit(" ", 1)[1]
    assert password.isalnum() and len(password) >= 16, password
    login = next(l for l in log.splitlines() if l.startswith("Log in with:"))
    # The real address, and the password on standard input rather than on the command line.
    assert f"docker login {hub.host} -u admin --password-stdin" in login, login
    assert requests.get(hub.url + "/api/user", auth=("admin", password), timeout=30).status_code == 200
    hub.restart()
    assert hub.log_text().count("Created the first administrator") == 1


def test_operator_commands(tmp_path):
    from harness import wharf_binary
    data = tmp_path / "data"
    binary = str(wharf_binary())
    run([binary, "user", "create", "opsuser", "--admin", "--password-stdin", "--data-dir", str(data)],
        input="ops-password")
    run([binary, "user", "create", "dev1", "--password-stdin", "--data-dir", str(data)], input="dev1-password")
    run([binary, "user", "set-limit", "dev1", "5", "--data-dir", str(data)])
    run([binary, "org", "create", "acmeorg", "--owner", "dev1", "--data-dir", str(data)])
    listed = run([binary, "user", "list", "--data-dir", str(data)]).stdout
    assert "opsuser" in listed and "dev1" in listed and "acmeorg" in listed
    assert run([binary, "user", "disable", "nobody", "--data-dir", str(data)], check=False).returncode != 0
