"""Helpers for the Docker Hub–compatible API tests (test_hub_api.py, test_docker_search.py).

Accounts are made through sign-up (``POST /api/users``); each user's password is
``<name>-password``.  Repositories the tests only need as a setting are made through the
existing ``/api`` and the registry protocol, so that a failure points at the Hub route under test.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Optional

import pytest
import requests

from harness import run
from oci import Image, RegistryClient, describe, make_image

ADMIN_PASSWORD = "e2e-admin-password"

# Hub times: ISO 8601 UTC with microseconds and Z ("2026-12-01T17:23:10.123456Z").
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def password(user: str) -> str:
    return f"{user}-password"


def sign_up(hub, *names: str):
    for name in names:
        r = requests.post(hub.url + "/api/users", timeout=30, json={
            "username": name, "email": f"{name}@example.com", "password": password(name)})
        assert r.status_code == 201, describe(r)


def call(hub, method: str, path: str, token: Optional[str] = None, scheme: str = "Bearer",
         **kw) -> requests.Response:
    """A request to the hub; with ``token``, ``Authorization: <scheme> <token>``
    (``auth=(user, secret)`` in ``kw`` sends HTTP Basic instead)."""
    headers = dict(kw.pop("headers", {}) or {})
    if token is not None:
        headers["Authorization"] = f"{scheme} {token}"
    url = path if path.startswith("http") else hub.url + path
    return requests.request(method, url, headers=headers, timeout=30, **kw)


def get_json(hub, path: str, token: Optional[str] = None, scheme: str = "Bearer", **kw):
    """GET that must answer 200 with JSON; returns the body."""
    r = call(hub, "GET", path, token, scheme, **kw)
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Content-Type", "").startswith("application/json"), describe(r)
    return r.json()


def hub_login(hub, user: str, secret: Optional[str] = None) -> str:
    """POST /v2/users/login with a password (default) or a personal access token; the JWT."""
    r = requests.post(hub.url + "/v2/users/login", timeout=30,
                      json={"username": user, "password": secret or password(user)})
    assert r.status_code == 200, describe(r)
    token = r.json().get("token")
    assert isinstance(token, str) and token.count(".") == 2, f"not a JWT: {r.text}"
    return token


def assert_hub_error(resp: requests.Response, status, detail: Optional[str] = None) -> dict:
    """A Hub error: the status (or one of several), a JSON body {"detail", "message"} with the
    same non-empty text in both."""
    statuses = status if isinstance(status, (tuple, list, set)) else (status,)
    assert resp.status_code in statuses, f"expected {status}, got\n{describe(resp)}"
    try:
        body = resp.json()
    except ValueError:
        raise AssertionError(f"error body is not JSON\n{describe(resp)}") from None
    assert isinstance(body, dict), describe(resp)
    assert isinstance(body.get("detail"), str) and body["detail"], \
        f"no detail in the error\n{describe(resp)}"
    assert body.get("message") == body["detail"], \
        f"message must repeat detail\n{describe(resp)}"
    if detail is not None:
        assert body["detail"] == detail, describe(resp)
    return body


def parse_time(value, what: str = "time") -> datetime.datetime:
    assert isinstance(value, str) and ISO_Z.match(value), \
        f"{what} is not ISO 8601 UTC with microseconds and Z: {value!r}"
    return datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


def assert_recent(value, what: str, seconds: float = 300) -> datetime.datetime:
    """An ISO 8601 Z time within `seconds` of now (server and tests share the clock)."""
    when = parse_time(value, what)
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - when).total_seconds()) < seconds, f"{what} {value} is not about now ({now})"
    return when


def is_int(value) -> bool:
    return type(value) is int  # noqa: E721 - a bool is not an integer here


def create_repository(hub, owner: str, name: str, private: bool = False):
    """Through the existing /api (not the Hub route under test)."""
    r = requests.post(hub.url + "/api/repositories", auth=(owner, password(owner)), timeout=30,
                      json={"namespace": owner, "name": name, "is_private": private})
    assert r.status_code == 201, describe(r)


def patch_repository(hub, token: str, namespace: str, name: str, **fields) -> dict:
    r = call(hub, "PATCH", f"/v2/repositories/{namespace}/{name}/", token, json=fields)
    assert r.status_code == 200, describe(r)
    return r.json()


def star(hub, user: str, namespace: str, name: str) -> dict:
    r = requests.put(f"{hub.url}/api/repositories/{namespace}/{name}/star",
                     auth=(user, password(user)), timeout=30)
    assert r.status_code == 200, describe(r)
    body = r.json()
    assert body.get("starred") is True and is_int(body.get("star_count")), describe(r)
    return body


def user_client(hub, user: str, secret: Optional[str] = None) -> RegistryClient:
    """A /v2/ registry client speaking the token flow as `user`."""
    return RegistryClient(hub.url, auth=(user, secret or password(user)))


def push_small_image(hub, user: str, repository: str, tag: str, seed: str,
                     n_layers: int = 1, layer_size: int = 2048) -> Image:
    """Push a small OCI image as `user` over the registry protocol; returns it."""
    image = make_image(n_layers=n_layers, layer_size=layer_size, seed=seed)
    user_client(hub, user).push_image(repository, tag, image)
    return image


def manifest_size(manifest: dict) -> int:
    """Compressed size of an image as Hub counts it: config + layers."""
    return manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"])


def docker_login(dockerd, hub, user: str, secret: Optional[str] = None):
    """docker login as `user` (password, or a token as `secret`); the completed process."""
    return run(["docker", "login", hub.host, "-u", user, "--password-stdin"], env=dockerd.env,
               input=secret or password(user), check=False, timeout=60)


def docker_logout(dockerd, hub):
    dockerd.docker("logout", hub.host, check=False)


def denied(result) -> bool:
    text = (result.stdout + result.stderr).lower()
    return result.returncode != 0 and ("denied" in text or "unauthorized" in text
                                       or "authentication required" in text)


def repository_detail(hub, namespace: str, name: str, token: Optional[str] = None) -> dict:
    return get_json(hub, f"/v2/repositories/{namespace}/{name}/", token)


def pretty(value) -> str:
    return json.dumps(value, indent=1)[:3000]


# Fixtures of the Hub API's tests (import them by name into a test module).

@pytest.fixture
def hub(registry_factory):
    """A Wharf whose first administrator has ADMIN_PASSWORD."""
    return registry_factory(env={"WHARF_ADMIN_PASSWORD": ADMIN_PASSWORD})


@pytest.fixture
def engine(dockerd, hub):
    """The session's Docker engine, logged out of this test's hub afterwards."""
    yield dockerd
    docker_logout(dockerd, hub)
