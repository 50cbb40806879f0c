"""Storage lifecycle and accountability, driven with real clients.

* Immutable tags: ``docker push`` of another image to an immutable tag is refused with DENIED
  naming the rule (the tag keeps its digest); the same manifest may be pushed again; deleting the
  tag (by tag, by digest, or through the Hub API) is refused.
* Retention policies: a dry run lists what a run deletes and deletes nothing; the run deletes
  exactly that; ``--retention-interval`` applies policies on its own (as ``system:retention``).
* Namespace quotas: ``docker push`` beyond the quota is refused with DENIED "quota exceeded"
  (docker shows the message); a blob counts once per namespace; concurrent uploads into a
  namespace whose quota leaves room for exactly K of them: exactly K succeed.
* Pull rate limits: Docker Hub's ``ratelimit-*`` headers on manifest GET/HEAD, only GETs count,
  429 TOOMANYREQUESTS with Retry-After, ``docker pull`` showing "toomanyrequests", per-account
  limits set by an administrator; no headers without the flags.
* The audit log: ``docker login`` (good and bad password), pushes, deletions, tokens, policy
  changes and garbage collection, filtered, paginated, and scoped to the namespaces one owns.

The contract is the API's (Sources/WharfServer/API/openapi.json: getImmutableTags,
setRetentionPolicy, runRetentionPolicy, setNamespaceQuota, getNamespaceUsage, listAuditEntries,
administerUser).
"""

from __future__ import annotations

import datetime
import re
import threading
import time

import pytest
import requests

from harness import wait_for
from hubapi import (ADMIN_PASSWORD, assert_hub_error, call, create_repository, docker_login,
                    docker_logout, hub_login, is_int, password, pretty, sign_up, user_client)
from oci import (assert_oci_error, describe, make_image, oci_errors, random_bytes, sha256,
                 with_query)

pytestmark = pytest.mark.wharf_only(reason="Wharf's storage lifecycle, pull limits and audit log")

PUSH_DIGEST_RE = re.compile(r": digest: (sha256:[0-9a-f]{64}) size: \d+")


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------

def start_wharf(registry_factory, *flags: str):
    """A Wharf with these flags whose administrator (admin) has ADMIN_PASSWORD."""
    return registry_factory(extra_args=list(flags), env={"WHARF_ADMIN_PASSWORD": ADMIN_PASSWORD})


def api(server, method: str, path: str, user=None, **kw) -> requests.Response:
    """A request to the server as `user` (HTTP Basic with the user's password; None: anonymous)."""
    auth = None
    if user:
        auth = (user, ADMIN_PASSWORD if user == "admin" else password(user))
    url = path if path.startswith("http") else server.url + path
    return requests.request(method, url, auth=auth, timeout=60, **kw)


def api_json(server, method: str, path: str, user, status: int = 200, **kw):
    """A request that must answer `status` with a JSON body; the body."""
    r = api(server, method, path, user, **kw)
    assert r.status_code == status, describe(r)
    assert r.headers.get("Content-Type", "").startswith("application/json"), describe(r)
    return r.json()


def assert_api_error(r: requests.Response, status: int, field: str = None) -> dict:
    """An error of the JSON API: the status and {"message": non-empty, "field": …}."""
    assert r.status_code == status, f"expected {status}, got\n{describe(r)}"
    body = r.json()
    assert isinstance(body.get("message"), str) and body["message"], describe(r)
    if field is not None:
        assert body.get("field") == field, describe(r)
    return body


def oci_message(r: requests.Response, code: str) -> str:
    """The message of the first OCI error with `code`."""
    for error in oci_errors(r):
        if error.get("code") == code:
            return error.get("message", "")
    raise AssertionError(f"no {code} error\n{describe(r)}")


def docker_push(engine, ref: str):
    """docker push, failure allowed; the completed process (output in .text)."""
    result = engine.docker("push", ref, check=False)
    result.text = result.stdout + result.stderr
    return result


def pushed_digest(result) -> str:
    assert result.returncode == 0, f"docker push failed:\n{result.text}"
    m = PUSH_DIGEST_RE.search(result.stdout)
    assert m, f"no digest line in docker push output:\n{result.stdout}"
    return m.group(1)


def tag_digest(server, repository: str, tag: str) -> str:
    r = server.client().get_manifest(repository, tag)
    assert r.status_code == 200, describe(r)
    return r.headers["Docker-Content-Digest"]


def usage(server, namespace: str, user="admin") -> dict:
    view = api_json(server, "GET", f"/api/namespaces/{namespace}/usage", user)
    assert set(view) == {"namespace", "bytes", "quota"}, pretty(view)
    assert view["namespace"] == namespace and is_int(view["bytes"]) and view["bytes"] >= 0, \
        pretty(view)
    assert view["quota"] is None or is_int(view["quota"]), pretty(view)
    return view


def set_quota(server, namespace: str, size: int) -> dict:
    view = api_json(server, "PUT", f"/api/admin/namespaces/{namespace}/quota", "admin",
                    json={"bytes": size})
    assert view["namespace"] == namespace and view["quota"] == size, pretty(view)
    return view


def audit(server, user, **params) -> dict:
    """GET /api/audit as `user`; the page, every entry checked for its shape."""
    page = api_json(server, "GET", "/api/audit", user, params=params)
    assert set(page) == {"count", "page", "page_size", "next", "results"}, pretty(page)
    assert is_int(page["count"]) and is_int(page["page"]) and is_int(page["page_size"]), \
        pretty(page)
    assert page["next"] is None or isinstance(page["next"], str), pretty(page)
    for entry in page["results"]:
        assert_audit_entry(entry)
    ids = [e["id"] for e in page["results"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids), \
        f"entries must come newest first: {ids}"
    return page


def assert_audit_entry(entry: dict):
    keys = {"id", "at", "actor", "action", "namespace", "repository", "target", "client_address",
            "details"}
    assert set(entry) == keys, pretty(entry)
    assert is_int(entry["id"]) and isinstance(entry["action"], str), pretty(entry)
    for key in ("actor", "namespace", "repository", "target", "client_address"):
        assert entry[key] is None or isinstance(entry[key], str), pretty(entry)
    assert isinstance(entry["details"], dict), pretty(entry)
    assert all(isinstance(v, str) for v in entry["details"].values()), pretty(entry)
    at = datetime.datetime.fromisoformat(entry["at"].replace("Z", "+00:00"))
    assert at.tzinfo is not None, pretty(entry)
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - at).total_seconds()) < 600, f"at is not about now: {pretty(entry)}"


def summary(entries: list) -> str:
    """One line per entry, for assertion messages."""
    return "\n".join(f"{e['id']} {e['action']} actor={e['actor']} ns={e['namespace']} "
                     f"repo={e['repository']} target={e['target']} from={e['client_address']} "
                     f"{e['details']}" for e in entries)


def matching(entries: list, **fields) -> list:
    return [e for e in entries if all(e.get(k) == v for k, v in fields.items())]


def admin_view(server, username: str) -> dict:
    """The account as GET /api/admin/users shows it to an administrator."""
    accounts = api_json(server, "GET", "/api/admin/users", "admin")
    found = [a for a in accounts if a.get("username") == username]
    assert len(found) == 1, pretty(accounts)
    return found[0]


def ratelimit(resp: requests.Response) -> tuple:
    """(ratelimit-limit, ratelimit-remaining, docker-ratelimit-source) of a response."""
    return (resp.headers.get("ratelimit-limit"), resp.headers.get("ratelimit-remaining"),
            resp.headers.get("docker-ratelimit-source"))


@pytest.fixture
def engine(dockerd, registry_factory, request):
    """The session's Docker engine, logged out of this test's servers afterwards."""
    yield dockerd
    for server in getattr(request.node, "_e2e_servers", []):
        docker_logout(dockerd, server)


# --------------------------------------------------------------------------------------
# Immutable tags
# --------------------------------------------------------------------------------------

def test_immutable_tags_refuse_docker_push_and_deletes(registry_factory, engine, local_images):
    """`docker push` of another image to an immutable tag fails with docker showing "denied"
    and the rule; the tag keeps its digest; the same image pushes again; a tag no rule matches
    moves freely; DELETE by tag, by digest and through the Hub API are refused until the rule
    goes. Only repository admins set rules; a bad pattern is 422."""
    hub = start_wharf(registry_factory)
    sign_up(hub, "alice", "bobby")
    assert docker_login(engine, hub, "alice").returncode == 0
    v1, latest = f"{hub.host}/alice/app:v1", f"{hub.host}/alice/app:latest"
    engine.docker("tag", local_images.BASE, v1)
    original = pushed_digest(docker_push(engine, v1))

    rules = "/api/repositories/alice/app/immutable-tags"
    assert api_json(hub, "GET", rules, "alice") == {"patterns": []}
    assert_api_error(api(hub, "PUT", rules, "bobby", json={"patterns": ["v*"]}), 403)
    assert_api_error(api(hub, "PUT", rules, None, json={"patterns": ["v*"]}), 401)
    for bad in (["v/1"], ["v 1"], [""], ["x" * 129], ["v*", "ü*"]):
        assert_api_error(api(hub, "PUT", rules, "alice", json={"patterns": bad}), 422, "patterns")
    assert api_json(hub, "GET", rules, "alice") == {"patterns": []}, "a refused PUT saved rules"
    saved = api_json(hub, "PUT", rules, "alice", json={"patterns": ["v*", "release-?", "v*"]})
    assert saved == {"patterns": ["v*", "release-?"]}, pretty(saved)
    assert api_json(hub, "GET", rules, "alice") == saved
    assert api_json(hub, "GET", rules, "bobby") == saved, "readers of the repository see the rules"

    # Another image to v1: docker uploads the layers, the manifest PUT is refused.
    engine.docker("tag", local_images.DERIVED, v1)
    refused = docker_push(engine, v1)
    assert refused.returncode != 0, f"push to an immutable tag succeeded:\n{refused.text}"
    assert "denied" in refused.text.lower(), refused.text
    rule = 'the tag v1 is immutable (rule "v*" of alice/app): it cannot be overwritten'
    assert rule in refused.text, f"docker does not show the rule:\n{refused.text}"
    assert tag_digest(hub, "alice/app", "v1") == original

    # The same manifest again is fine.
    engine.docker("tag", local_images.BASE, v1)
    assert pushed_digest(docker_push(engine, v1)) == original
    assert tag_digest(hub, "alice/app", "v1") == original

    # A tag no rule matches moves.
    engine.docker("tag", local_images.DERIVED, latest)
    moved = pushed_digest(docker_push(engine, latest))
    engine.docker("tag", local_images.BASE, latest)
    assert pushed_digest(docker_push(engine, latest)) == original != moved
    engine.docker("tag", local_images.DERIVED, latest)
    assert pushed_digest(docker_push(engine, latest)) == moved

    # Deleting the tag, or the manifest it points at, is refused.
    client = user_client(hub, "alice")
    r = client.delete("/v2/alice/app/manifests/v1")
    assert_oci_error(r, 403, "DENIED")
    assert oci_message(r, "DENIED") == \
        'the tag v1 is immutable (rule "v*" of alice/app): it cannot be deleted', describe(r)
    r = client.delete(f"/v2/alice/app/manifests/{original}")
    assert_oci_error(r, 403, "DENIED")
    assert 'rule "v*" of alice/app' in oci_message(r, "DENIED"), describe(r)
    r = call(hub, "DELETE", "/v2/repositories/alice/app/tags/v1/", hub_login(hub, "alice"))
    assert_hub_error(r, 403)
    assert "immutable" in r.json()["detail"], describe(r)
    assert sorted(client.tags("alice/app")) == ["latest", "v1"]
    assert tag_digest(hub, "alice/app", "v1") == original

    # Without the rules the tag goes.
    assert api_json(hub, "PUT", rules, "alice", json={"patterns": []}) == {"patterns": []}
    r = client.delete("/v2/alice/app/manifests/v1")
    assert r.status_code == 202, describe(r)
    assert client.tags("alice/app") == ["latest"]

    changes = audit(hub, "admin", action="immutable_tags_set")["results"]
    assert [e["details"].get("patterns") for e in changes] == ["", "v*,release-?"], pretty(changes)
    assert all(e["actor"] == "alice" and e["repository"] == "alice/app" for e in changes), \
        pretty(changes)


# --------------------------------------------------------------------------------------
# Retention
# --------------------------------------------------------------------------------------

def test_retention_dry_run_then_run(registry_factory):
    """keep_last 2 + keep_patterns keep-*: the dry run lists the tags no rule keeps (sorted)
    and deletes nothing; the run deletes exactly those; an immutable tag is never deleted;
    max_age_days keeps recent pushes; GET/PUT/DELETE of the policy; only repository admins."""
    hub = start_wharf(registry_factory)
    sign_up(hub, "alice", "bobby")
    client = user_client(hub, "alice")
    order = ["old-1", "keep-a", "v1", "old-3", "old-2", "new-1", "new-2"]  # oldest push first
    images = {}
    for tag in order:
        images[tag] = make_image(n_layers=1, layer_size=512, seed=f"retention-{tag}")
        client.push_image("alice/app", tag, images[tag])
    assert api_json(hub, "PUT", "/api/repositories/alice/app/immutable-tags", "alice",
                    json={"patterns": ["v*"]}) == {"patterns": ["v*"]}

    policy_path = "/api/repositories/alice/app/retention"
    assert_api_error(api(hub, "GET", policy_path, "alice"), 404)
    wanted = {"keep_last": 2, "keep_patterns": ["keep-*"], "max_age_days": None}
    assert_api_error(api(hub, "PUT", policy_path, "bobby", json=wanted), 403)
    assert_api_error(api(hub, "POST", policy_path + "/run", "bobby", json={"dry_run": True}), 403)
    for bad, field in (({"keep_last": -1}, "keep_last"), ({"max_age_days": 0}, "max_age_days"),
                       ({"keep_patterns": ["a/b"]}, "keep_patterns")):
        assert_api_error(api(hub, "PUT", policy_path, "alice", json=bad), 422, field)
    assert_api_error(api(hub, "GET", policy_path, "alice"), 404)

    assert api_json(hub, "PUT", policy_path, "alice", json=wanted) == wanted
    assert api_json(hub, "GET", policy_path, "alice") == wanted
    assert api_json(hub, "GET", policy_path, "bobby") == wanted

    doomed = ["old-1", "old-2", "old-3"]
    dry = api_json(hub, "POST", policy_path + "/run", "alice", json={"dry_run": True})
    assert dry == {"dry_run": True, "tags": doomed}, pretty(dry)
    assert sorted(client.tags("alice/app")) == sorted(order), "a dry run deleted tags"

    done = api_json(hub, "POST", policy_path + "/run", "alice", json={"dry_run": False})
    assert done == {"dry_run": False, "tags": doomed}, pretty(done)
    kept = ["keep-a", "new-1", "new-2", "v1"]
    assert sorted(client.tags("alice/app")) == kept
    for tag in doomed:
        assert_oci_error(client.get_manifest("alice/app", tag), 404, "MANIFEST_UNKNOWN")
    for tag in kept:
        r = client.get_manifest("alice/app", tag)
        assert r.status_code == 200 and r.content == images[tag].manifest, describe(r)
    again = api_json(hub, "POST", policy_path + "/run", "alice", json={})
    assert again == {"dry_run": False, "tags": []}, pretty(again)

    deletions = audit(hub, "admin", action="tag_delete", repository="alice/app")["results"]
    assert sorted(e["target"] for e in deletions) == doomed, pretty(deletions)
    assert all(e["actor"] == "alice" for e in deletions), pretty(deletions)

    # Pushed within a day: max_age_days keeps everything.
    recent = {"keep_last": 0, "keep_patterns": [], "max_age_days": 1}
    assert api_json(hub, "PUT", policy_path, "alice", json=recent) == recent
    assert api_json(hub, "POST", policy_path + "/run", "alice",
                    json={"dry_run": True})["tags"] == []
    # keep_last 0 alone keeps nothing but the immutable tag; fields left out are unset.
    assert api_json(hub, "PUT", policy_path, "alice", json={"keep_last": 0}) == \
        {"keep_last": 0, "keep_patterns": [], "max_age_days": None}
    assert api_json(hub, "POST", policy_path + "/run", "alice",
                    json={"dry_run": True})["tags"] == ["keep-a", "new-1", "new-2"]

    r = api(hub, "DELETE", policy_path, "alice")
    assert r.status_code == 204, describe(r)
    assert_api_error(api(hub, "GET", policy_path, "alice"), 404)
    assert api_json(hub, "POST", policy_path + "/run", "alice", json={"dry_run": False}) == \
        {"dry_run": False, "tags": []}
    assert sorted(client.tags("alice/app")) == kept

    actions = [e["action"] for e in audit(hub, "alice", repository="alice/app")["results"]]
    assert actions.count("retention_set") == 3 and actions.count("retention_remove") == 1, actions


def test_retention_interval_applies_policies_on_its_own(registry_factory):
    """`wharf serve --retention-interval 1`: a policy set through the API is applied without
    being asked, its deletions audited as `system:retention`."""
    hub = start_wharf(registry_factory, "--retention-interval", "1")
    sign_up(hub, "alice")
    client = user_client(hub, "alice")
    for tag in ("a", "b", "c", "keep-me", "d"):
        client.push_image("alice/app", tag, make_image(layer_size=256, seed=f"interval-{tag}"))
    policy = {"keep_last": 1, "keep_patterns": ["keep-*"], "max_age_days": None}
    assert api_json(hub, "PUT", "/api/repositories/alice/app/retention", "alice",
                    json=policy) == policy

    seen = {}

    def applied():
        seen["tags"] = sorted(client.tags("alice/app"))
        return seen["tags"] == ["d", "keep-me"]
    try:
        wait_for(applied, 15, interval=0.25, what="the retention job to delete a, b, c")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; tags: {seen.get('tags')}") from None

    deletions = audit(hub, "admin", action="tag_delete")["results"]
    assert sorted(e["target"] for e in deletions) == ["a", "b", "c"], pretty(deletions)
    for entry in deletions:
        assert entry["actor"] == "system:retention", pretty(entry)
        assert entry["repository"] == "alice/app" and entry["namespace"] == "alice", pretty(entry)
    by_system = audit(hub, "admin", actor="system:retention")
    assert by_system["count"] == 3, pretty(by_system)


# --------------------------------------------------------------------------------------
# Quotas
# --------------------------------------------------------------------------------------

def test_quota_refuses_docker_push_beyond_it(registry_factory, engine, local_images):
    """A docker push beyond the namespace's quota fails with docker showing "denied" and
    "quota exceeded: alice uses U of its Q bytes"; without the quota it goes through; the same
    blobs in a second repository of the namespace count once; at the quota, a new upload is
    refused from the start. Who may read usage and set quotas."""
    hub = start_wharf(registry_factory)
    sign_up(hub, "alice", "bobby")
    empty = {"namespace": "alice", "bytes": 0, "quota": None}
    assert usage(hub, "alice", "admin") == empty
    assert usage(hub, "alice", "alice") == empty
    assert_api_error(api(hub, "GET", "/api/namespaces/alice/usage", "bobby"), 404)
    assert_api_error(api(hub, "GET", "/api/namespaces/alice/usage", None), 401)
    assert_api_error(api(hub, "GET", "/api/namespaces/nosuchuser/usage", "admin"), 404)
    quota_path = "/api/admin/namespaces/alice/quota"
    for who in ("alice", "bobby"):
        assert_api_error(api(hub, "PUT", quota_path, who, json={"bytes": 10**9}), 403)
        assert_api_error(api(hub, "DELETE", quota_path, who), 403)
    assert_api_error(api(hub, "PUT", "/api/admin/namespaces/nosuchuser/quota", "admin",
                         json={"bytes": 1}), 404)
    assert_api_error(api(hub, "PUT", quota_path, "admin", json={"bytes": -1}), 422, "bytes")
    assert_api_error(api(hub, "PUT", quota_path, "admin", json={}), 422, "bytes")
    assert usage(hub, "alice")["quota"] is None, "a refused PUT set a quota"

    # Each layer of the base image is ~96 KiB of random bytes: one fits, two do not.
    quota = 150_000
    assert set_quota(hub, "alice", quota) == {"namespace": "alice", "bytes": 0, "quota": quota}
    assert usage(hub, "alice", "alice") == {"namespace": "alice", "bytes": 0, "quota": quota}
    assert docker_login(engine, hub, "alice").returncode == 0
    ref = f"{hub.host}/alice/app:v1"
    engine.docker("tag", local_images.BASE, ref)
    refused = docker_push(engine, ref)
    assert refused.returncode != 0, f"push beyond the quota succeeded:\n{refused.text}"
    assert "denied" in refused.text.lower(), refused.text
    m = re.search(r"quota exceeded: alice uses (\d+) of its 150000 bytes", refused.text)
    assert m, f"docker does not show the quota message:\n{refused.text}"
    after = usage(hub, "alice")
    assert after["quota"] == quota and 0 < after["bytes"] <= quota, pretty(after)
    assert_oci_error(hub.client().get_manifest("alice/app", "v1"), 404, "MANIFEST_UNKNOWN")

    r = api(hub, "DELETE", quota_path, "admin")
    assert r.status_code == 204, describe(r)
    assert usage(hub, "alice")["quota"] is None
    digest = pushed_digest(docker_push(engine, ref))
    assert tag_digest(hub, "alice/app", "v1") == digest
    stored = usage(hub, "alice")["bytes"]
    assert stored > after["bytes"], (stored, after)

    # The same blobs in another repository of the namespace: mounted, counted once.
    copy = f"{hub.host}/alice/copy:v1"
    engine.docker("tag", local_images.BASE, copy)
    assert pushed_digest(docker_push(engine, copy)) == digest
    assert usage(hub, "alice")["bytes"] == stored
    assert usage(hub, "bobby")["bytes"] == 0

    # Exactly at the quota: the next new layer is refused when its upload starts.
    assert set_quota(hub, "alice", stored)["bytes"] == stored
    more = f"{hub.host}/alice/app:v2"
    engine.docker("tag", local_images.DERIVED, more)
    full = docker_push(engine, more)
    assert full.returncode != 0, full.text
    assert "denied" in full.text.lower(), full.text
    assert f"quota exceeded: alice uses {stored} of its {stored} bytes" in full.text, full.text
    assert usage(hub, "alice")["bytes"] == stored

    sets = audit(hub, "admin", action="quota_set")["results"]
    assert [e["details"].get("bytes") for e in sets] == [str(stored), str(quota)], pretty(sets)
    assert all(e["actor"] == "admin" and e["namespace"] == "alice" for e in sets), pretty(sets)
    assert len(audit(hub, "admin", action="quota_remove")["results"]) == 1


def test_concurrent_uploads_fill_the_quota_exactly(registry_factory):
    """N threads finish uploads of distinct blobs into one namespace at the same moment; its
    quota leaves room for exactly K: exactly K are stored, the others refused with DENIED
    "quota exceeded … this blob needs SIZE more", and usage is base + K × SIZE. Then at the quota
    a new upload is refused when it starts, while a mount of a blob the namespace has is not."""
    hub = start_wharf(registry_factory)
    sign_up(hub, "carol")
    owner = user_client(hub, "carol")
    owner.upload_blob("carol/race", random_bytes(1000, "quota-base"))
    base = usage(hub, "carol")["bytes"]
    assert base == 1000, base

    size, room, threads = 40_000, 3, 8
    quota = base + room * size + size // 2
    set_quota(hub, "carol", quota)
    blobs = [random_bytes(size, f"quota-race-{i}") for i in range(threads)]
    results = finish_uploads_together(hub, "carol", "carol/race", blobs)
    assert all(r is not None for r in results), "a finishing PUT did not return"

    stored = [i for i, r in enumerate(results) if r.status_code == 201]
    message_re = re.compile(
        rf"^quota exceeded: carol uses (\d+) of its {quota} bytes; this blob needs {size} more$")
    for i, r in enumerate(results):
        if i in stored:
            continue
        assert_oci_error(r, 403, "DENIED")
        m = message_re.match(oci_message(r, "DENIED"))
        assert m, describe(r)
        assert int(m.group(1)) + size > quota, f"refused though it fit\n{describe(r)}"
    assert len(stored) == room, (
        f"{len(stored)} of {threads} concurrent uploads were stored; the quota has room for "
        f"{room}: " + "; ".join(f"{r.status_code}" for r in results))
    assert usage(hub, "carol") == {"namespace": "carol", "bytes": base + room * size,
                                   "quota": quota}
    for i, data in enumerate(blobs):
        assert owner.blob_exists("carol/race", sha256(data)) == (i in stored), i

    # At the quota exactly: starting an upload is refused, a mount (no new bytes) is not.
    set_quota(hub, "carol", base + room * size)
    r = owner.post("/v2/carol/race/blobs/uploads/", headers={"Content-Length": "0"})
    assert_oci_error(r, 403, "DENIED")
    full = base + room * size
    assert oci_message(r, "DENIED") == f"quota exceeded: carol uses {full} of its {full} bytes", \
        describe(r)
    mounted = sha256(blobs[stored[0]])
    mount = with_query("/v2/carol/other/blobs/uploads/", mount=mounted, **{"from": "carol/race"})
    r = owner.post(mount, headers={"Content-Length": "0"})
    assert r.status_code == 201, f"mount of a blob the namespace stores\n{describe(r)}"
    assert owner.blob_exists("carol/other", mounted)
    assert usage(hub, "carol")["bytes"] == full


# --------------------------------------------------------------------------------------
# Pull rate limits
# --------------------------------------------------------------------------------------

def test_pull_limits_headers_429_and_docker_pull(registry_factory, engine):
    """--pull-limit-anonymous 4 --pull-limit-authenticated 6: manifest GETs and HEADs carry
    ratelimit-limit / ratelimit-remaining / docker-ratelimit-source; only GETs count; an
    anonymous docker pull counts against the client address; when it is used up a GET is 429
    TOOMANYREQUESTS with Retry-After and docker pull shows "toomanyrequests"; accounts have their
    own count and limit, and an administrator's per-account limit."""
    window = 3600
    hub = start_wharf(registry_factory, "--pull-limit-anonymous", "4",
                      "--pull-limit-authenticated", "6", "--pull-limit-window", str(window))
    sign_up(hub, "alice", "bobby")
    create_repository(hub, "alice", "pub")
    image = make_image(n_layers=1, layer_size=4096, seed="pull-limits")
    user_client(hub, "alice").push_image("alice/pub", "v1", image)
    user_client(hub, "alice").push_image("alice/pub", "v2",
                                         make_image(n_layers=1, layer_size=4096, seed="pull-v2"))
    url = hub.url + "/v2/alice/pub/manifests/v1"
    headers = {"Accept": image.media_type}

    def anonymous(method: str) -> requests.Response:
        return requests.request(method, url, headers=headers, timeout=30)

    def limits(limit: int, remaining: int, source: str) -> tuple:
        return (f"{limit};w={window}", f"{remaining};w={window}", source)

    r = anonymous("HEAD")
    assert r.status_code == 200 and ratelimit(r) == limits(4, 4, "127.0.0.1"), describe(r)
    r = anonymous("GET")
    assert r.status_code == 200 and r.content == image.manifest, describe(r)
    assert ratelimit(r) == limits(4, 3, "127.0.0.1"), describe(r)
    r = anonymous("HEAD")
    assert ratelimit(r) == limits(4, 3, "127.0.0.1"), f"a HEAD counted\n{describe(r)}"

    ref = f"{hub.host}/alice/pub:v1"
    docker_logout(engine, hub)
    engine.docker("rmi", ref, check=False)
    engine.docker("pull", ref)
    r = anonymous("HEAD")
    remaining = int(r.headers["ratelimit-remaining"].split(";")[0])
    assert remaining < 3, f"docker pull did not count\n{describe(r)}"
    for left in range(remaining - 1, -1, -1):
        r = anonymous("GET")
        assert r.status_code == 200 and ratelimit(r) == limits(4, left, "127.0.0.1"), describe(r)

    r = anonymous("GET")
    assert_oci_error(r, 429, "TOOMANYREQUESTS")
    assert oci_message(r, "TOOMANYREQUESTS").startswith("You have reached your pull rate limit"), \
        describe(r)
    assert ratelimit(r) == limits(4, 0, "127.0.0.1"), describe(r)
    retry = r.headers.get("Retry-After", "")
    assert retry.isdigit() and 1 <= int(retry) <= window, describe(r)
    r = anonymous("HEAD")
    assert r.status_code == 200 and ratelimit(r) == limits(4, 0, "127.0.0.1"), describe(r)

    # docker pull HEADs the tag (not counted), then GETs the manifest by digest; an image it has
    # never seen (docker keeps manifests it pulled in its content store, even after rmi).
    other = f"{hub.host}/alice/pub:v2"
    refused = engine.docker("pull", other, check=False)
    text = refused.stdout + refused.stderr
    assert refused.returncode != 0, f"docker pull beyond the limit succeeded:\n{text}"
    assert "toomanyrequests" in text.lower(), text
    assert "You have reached your pull rate limit" in text, text
    assert not engine.has_image(other)
    engine.docker("rmi", ref, check=False)

    # Accounts: their own count, under the authenticated limit.
    assert admin_view(hub, "alice")["pull_limit"] == 6
    alice = user_client(hub, "alice")
    r = alice.get_manifest("alice/pub", "v1")
    assert r.status_code == 200 and ratelimit(r) == limits(6, 5, "alice"), describe(r)

    # An administrator gives bobby a limit of his own.
    assert_api_error(api(hub, "PUT", "/api/admin/users/bobby", "alice", json={"pull_limit": 100}),
                     403)
    view = api_json(hub, "PUT", "/api/admin/users/bobby", "admin", json={"pull_limit": 1})
    assert view["username"] == "bobby" and view["pull_limit"] == 1, pretty(view)
    assert admin_view(hub, "bobby")["pull_limit"] == 1
    bobby = user_client(hub, "bobby")
    r = bobby.get_manifest("alice/pub", "v1")
    assert r.status_code == 200 and ratelimit(r) == limits(1, 0, "bobby"), describe(r)
    r = bobby.get_manifest("alice/pub", "v1")
    assert_oci_error(r, 429, "TOOMANYREQUESTS")
    assert oci_message(r, "TOOMANYREQUESTS").startswith(
        "You have reached your pull rate limit of 1 pulls"), describe(r)
    assert r.headers.get("Retry-After", "").isdigit(), describe(r)
    r = alice.get_manifest("alice/pub", "v1")
    assert r.status_code == 200 and ratelimit(r) == limits(6, 4, "alice"), describe(r)


def test_pull_limit_window_starts_over(registry_factory):
    """--pull-limit-window 2: after Retry-After seconds the anonymous client may pull again."""
    hub = start_wharf(registry_factory, "--pull-limit-anonymous", "1", "--pull-limit-window", "2")
    sign_up(hub, "alice")
    create_repository(hub, "alice", "pub")
    image = make_image(layer_size=256, seed="pull-window")
    user_client(hub, "alice").push_image("alice/pub", "v1", image)
    url = hub.url + "/v2/alice/pub/manifests/v1"
    r = requests.get(url, headers={"Accept": image.media_type}, timeout=30)
    assert r.status_code == 200 and ratelimit(r) == ("1;w=2", "0;w=2", "127.0.0.1"), describe(r)
    r = requests.get(url, headers={"Accept": image.media_type}, timeout=30)
    assert_oci_error(r, 429, "TOOMANYREQUESTS")
    retry = r.headers.get("Retry-After", "")
    assert retry.isdigit() and 1 <= int(retry) <= 2, describe(r)
    time.sleep(int(retry) + 0.3)
    r = requests.get(url, headers={"Accept": image.media_type}, timeout=30)
    assert r.status_code == 200 and ratelimit(r) == ("1;w=2", "0;w=2", "127.0.0.1"), describe(r)


def test_no_pull_limits_without_the_flags(registry_factory):
    """Without --pull-limit-*: no ratelimit headers for anyone, and no 429 however many pulls;
    an account an administrator gives a limit of its own is still held to it."""
    hub = start_wharf(registry_factory)
    sign_up(hub, "alice", "bobby")
    create_repository(hub, "alice", "pub")
    image = make_image(layer_size=256, seed="no-limits")
    alice = user_client(hub, "alice")
    alice.push_image("alice/pub", "v1", image)
    url = hub.url + "/v2/alice/pub/manifests/v1"
    for method in ["HEAD"] + ["GET"] * 12:
        r = requests.request(method, url, headers={"Accept": image.media_type}, timeout=30)
        assert r.status_code == 200, describe(r)
        assert ratelimit(r) == (None, None, None), describe(r)
    for _ in range(3):
        r = alice.get_manifest("alice/pub", "v1")
        assert r.status_code == 200 and ratelimit(r) == (None, None, None), describe(r)
    assert admin_view(hub, "alice")["pull_limit"] is None

    view = api_json(hub, "PUT", "/api/admin/users/bobby", "admin", json={"pull_limit": 2})
    assert view["pull_limit"] == 2, pretty(view)
    bobby = user_client(hub, "bobby")
    for left in (1, 0):
        r = bobby.get_manifest("alice/pub", "v1")
        assert r.status_code == 200, describe(r)
        assert ratelimit(r)[1:] == (f"{left};w=21600", "bobby"), describe(r)
    assert_oci_error(bobby.get_manifest("alice/pub", "v1"), 429, "TOOMANYREQUESTS")
    r = alice.get_manifest("alice/pub", "v1")
    assert r.status_code == 200 and ratelimit(r) == (None, None, None), describe(r)


# --------------------------------------------------------------------------------------
# Audit log
# --------------------------------------------------------------------------------------

def test_audit_log(registry_factory, engine, local_images):
    """docker login, docker push, a tag deletion, a token, Hub API logins (bad then good
    password) and a garbage collection are audited with actor, action, repository, target and
    client address; filters by action, actor, repository and time; an owner sees only the entries
    of their namespace, an administrator all; page_size=1 pages through with `next`."""
    hub = start_wharf(registry_factory)
    sign_up(hub, "alice", "bobby")
    started = time.time()

    r = requests.post(hub.url + "/v2/users/login", timeout=30,
                      json={"username": "alice", "password": "not-alices-password"})
    assert_hub_error(r, 401)
    good = docker_login(engine, hub, "alice")
    assert good.returncode == 0, good.stdout + good.stderr
    digests = {}
    for tag in ("v1", "v2"):
        ref = f"{hub.host}/alice/app:{tag}"
        engine.docker("tag", local_images.BASE, ref)
        digests[tag] = pushed_digest(docker_push(engine, ref))
    alice = user_client(hub, "alice")
    r = alice.delete("/v2/alice/app/manifests/v2")
    assert r.status_code == 202, describe(r)
    token = api_json(hub, "POST", "/api/tokens", "alice", status=201,
                     json={"name": "ci", "scopes": ["read"]})
    bobby_image = make_image(layer_size=256, seed="audit-bobby")
    user_client(hub, "bobby").push_image("bobby/own", "v1", bobby_image)
    hub_login(hub, "bobby")
    gc = api_json(hub, "POST", "/api/admin/gc", "admin", json={"dry_run": False, "grace_period": 0})
    assert gc["dry_run"] is False, pretty(gc)

    everything = audit(hub, "admin", page_size=100)
    entries = everything["results"]
    assert everything["count"] == len(entries) and everything["next"] is None, pretty(everything)

    def one(**fields) -> dict:
        found = matching(entries, **fields)
        assert len(found) == 1, f"expected one entry with {fields}, got {pretty(found)}\n" \
            f"all entries:\n{summary(entries)}"
        return found[0]

    failed = one(action="login_failed", actor="alice")
    assert failed["namespace"] == "alice" and failed["target"] == "alice", pretty(failed)
    assert failed["details"].get("via") == "hub-api", pretty(failed)
    assert failed["details"].get("reason") == "invalid credentials", pretty(failed)
    assert failed["client_address"] == "127.0.0.1", pretty(failed)
    login = one(action="login", actor="alice")
    assert login["details"] == {"via": "docker"} and login["client_address"] == "127.0.0.1", \
        pretty(login)
    assert one(action="login", actor="bobby")["details"].get("via") == "hub-api"
    assert failed["id"] < login["id"], "the failed login came first"

    pushes = matching(entries, action="push", repository="alice/app")
    assert sorted(e["target"] for e in pushes) == ["v1", "v2"], pretty(pushes)
    for entry in pushes:
        assert entry["actor"] == "alice" and entry["namespace"] == "alice", pretty(entry)
        assert entry["client_address"] == "127.0.0.1", pretty(entry)
        assert entry["details"].get("digest") == digests[entry["target"]], pretty(entry)
    # Exactly one: test_concurrent_first_pushes_audit_one_repository_create (docker starts its
    # layer uploads into the new repository at once).
    created = matching(entries, action="repository_create", repository="alice/app")
    assert created and all(e["actor"] == "alice" for e in created), summary(entries)
    deleted = one(action="tag_delete")
    assert (deleted["actor"], deleted["repository"], deleted["target"], deleted["client_address"]) \
        == ("alice", "alice/app", "v2", "127.0.0.1"), pretty(deleted)
    minted = one(action="token_create")
    assert (minted["actor"], minted["namespace"], minted["target"]) == \
        ("alice", "alice", token["id"]), pretty(minted)
    assert minted["details"].get("name") == "ci", pretty(minted)
    bobby_push = one(action="push", repository="bobby/own")
    assert bobby_push["actor"] == "bobby" and bobby_push["target"] == "v1", pretty(bobby_push)
    collected = one(action="gc")
    assert collected["actor"] == "system:gc" and collected["namespace"] is None, pretty(collected)
    assert set(collected["details"]) >= {"blobs", "manifests", "bytes"}, pretty(collected)

    # Filters.
    logins = audit(hub, "admin", action="login")
    assert logins["count"] == 2 and {e["action"] for e in logins["results"]} == {"login"}, \
        pretty(logins)
    by_alice = audit(hub, "admin", actor="alice", page_size=100)["results"]
    assert by_alice and all(e["actor"] == "alice" for e in by_alice), pretty(by_alice)
    assert {"login", "login_failed", "push", "tag_delete", "token_create"} <= \
        {e["action"] for e in by_alice}, pretty(by_alice)
    assert len(by_alice) == len(matching(entries, actor="alice"))
    in_app = audit(hub, "admin", repository="alice/app", page_size=100)["results"]
    assert in_app and all(e["repository"] == "alice/app" for e in in_app), pretty(in_app)
    assert {"push", "tag_delete", "repository_create"} <= {e["action"] for e in in_app}
    both = audit(hub, "admin", action="push", repository="alice/app")
    assert both["count"] == 2, pretty(both)
    def rfc3339(seconds):
        return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    assert audit(hub, "admin", since=rfc3339(time.time() + 3600))["count"] == 0
    assert audit(hub, "admin", until=rfc3339(started - 3600))["count"] == 0
    assert_api_error(api(hub, "GET", "/api/audit", "admin", params={"since": str(int(started))}), 400)
    assert_api_error(api(hub, "GET", "/api/audit", "admin", params={"until": ""}), 400)
    since = datetime.datetime.fromtimestamp(started - 5, datetime.timezone.utc)
    assert audit(hub, "admin", since=since.strftime("%Y-%m-%dT%H:%M:%SZ"),
                 page_size=100)["count"] == everything["count"]
    assert_api_error(api(hub, "GET", "/api/audit", "admin", params={"since": "yesterday"}), 400)

    # Scope: owners see their namespaces' entries only.
    for user in ("alice", "bobby"):
        own = audit(hub, user, page_size=100)
        assert own["results"], f"{user} sees no entries"
        assert all(e["namespace"] == user for e in own["results"]), pretty(own)
        assert own["count"] == len(matching(entries, namespace=user)), pretty(own)
    assert audit(hub, "bobby", repository="alice/app")["count"] == 0
    assert audit(hub, "alice", action="gc")["count"] == 0
    assert audit(hub, "alice", action="login_failed")["count"] == 1
    assert_api_error(api(hub, "GET", "/api/audit", None), 401)

    # Pagination: newest first, page by page through `next`.
    first = audit(hub, "admin", page_size=1)
    assert (first["count"], first["page"], first["page_size"]) == (everything["count"], 1, 1)
    assert first["results"] == entries[:1], pretty(first)
    assert first["next"] == "/api/audit?page=2&page_size=1", pretty(first)
    second = api_json(hub, "GET", first["next"], "admin")
    assert second["page"] == 2 and second["results"] == entries[1:2], pretty(second)
    filtered = audit(hub, "admin", action="push", page_size=1)
    assert filtered["count"] == 3 and "action=push" in filtered["next"], pretty(filtered)
    walked, link = [], "/api/audit?action=push&page_size=1"
    while link:
        page = api_json(hub, "GET", link, "admin")
        walked += page["results"]
        link = page["next"]
        assert len(walked) <= 3, "pagination does not end"
    assert walked == matching(entries, action="push"), pretty(walked)
    last = audit(hub, "admin", page=everything["count"], page_size=1)
    assert last["next"] is None and last["results"] == entries[-1:], pretty(last)
    for bad in ({"page_size": 0}, {"page_size": 101}, {"page": 0}, {"page": "x"}):
        r = api(hub, "GET", "/api/audit", "admin", params=bad)
        assert r.status_code in (400, 422), describe(r)


def test_failed_docker_login_is_audited(registry_factory, engine):
    """`docker login` with a wrong password (the token endpoint with offline_token=true) is
    audited as login_failed via docker, before the successful login; a failed login to a name no
    account has is audited without actor or namespace, for administrators only."""
    hub = start_wharf(registry_factory)
    sign_up(hub, "alice")
    bad = docker_login(engine, hub, "alice", "not-alices-password")
    assert bad.returncode != 0, bad.stdout + bad.stderr
    assert docker_login(engine, hub, "nosuchuser", "whatever").returncode != 0
    good = docker_login(engine, hub, "alice")
    assert good.returncode == 0, good.stdout + good.stderr

    entries = audit(hub, "admin", page_size=100)["results"]
    failed = matching(entries, action="login_failed", target="alice")
    assert len(failed) == 1, f"no login_failed entry for a bad docker login:\n{summary(entries)}"
    failed = failed[0]
    assert (failed["actor"], failed["namespace"], failed["client_address"]) == \
        ("alice", "alice", "127.0.0.1"), pretty(failed)
    assert failed["details"] == {"via": "docker", "reason": "invalid credentials"}, pretty(failed)
    unknown = matching(entries, action="login_failed", target="nosuchuser")
    assert len(unknown) == 1, summary(entries)
    assert unknown[0]["actor"] is None and unknown[0]["namespace"] is None, pretty(unknown)
    login = matching(entries, action="login", actor="alice")
    assert len(login) == 1 and login[0]["details"] == {"via": "docker"}, summary(entries)
    assert failed["id"] < login[0]["id"], summary(entries)
    own = audit(hub, "alice", action="login_failed")["results"]
    assert [e["id"] for e in own] == [failed["id"]], pretty(own)


def test_concurrent_first_pushes_audit_one_repository_create(registry_factory):
    """Blob uploads that finish at once into a repository that does not exist yet (as docker's
    parallel layer uploads of a first push do) create it once: one repository_create entry."""
    hub = start_wharf(registry_factory)
    sign_up(hub, "alice")
    threads = 6
    blobs = [random_bytes(2048, f"fresh-{i}") for i in range(threads)]
    results = finish_uploads_together(hub, "alice", "alice/fresh", blobs)
    for r in results:
        assert r is not None and r.status_code == 201, describe(r) if r is not None else "no answer"
    entries = audit(hub, "admin", page_size=100)["results"]
    created = matching(entries, action="repository_create", repository="alice/fresh")
    assert len(created) == 1, (
        f"{len(created)} repository_create entries for one new repository:\n{summary(entries)}")


def finish_uploads_together(hub, user: str, repository: str, blobs: list) -> list:
    """Uploads each blob in its own thread as `user`, then finishes every upload at the same
    moment (a barrier before the PUTs); returns the finishing responses (None when one never came)."""
    barrier = threading.Barrier(len(blobs))
    results, errors = [None] * len(blobs), []

    def upload(i: int):
        try:
            client = user_client(hub, user)
            location = client.start_upload(repository)
            r = client.patch(location, data=blobs[i],
                             headers={"Content-Type": "application/octet-stream"})
            assert r.status_code == 202, describe(r)
            location = client.location(r)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(f"upload {i}: {exc!r}")
            barrier.abort()
            return
        try:
            barrier.wait(timeout=60)
        except threading.BrokenBarrierError:
            return
        results[i] = client.put(with_query(location, digest=sha256(blobs[i])),
                                headers={"Content-Type": "application/octet-stream"})

    workers = [threading.Thread(target=upload, args=(i,)) for i in range(len(blobs))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not errors, "\n".join(errors)
    return results
