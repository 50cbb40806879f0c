"""Webhooks (issue 13): pushes, tag deletions and test events POSTed to real HTTP receivers on
loopback (webhook_receiver.py), in Docker Hub's payload shape or as CloudEvents, signed with
HMAC-SHA256 when the webhook has a secret; retried with backoff while a receiver is down and
delivered in push order when it comes back; kept across kill -9; redelivered and tested on
demand; disabled after repeated failures; refused for private addresses unless allowed, and
never following redirects; visible only to those who may administer the repository or
organization, and never showing the secret.  The contract is the issue's (SPEC: API under
/api/repositories/{ns}/{name}/webhooks and /api/orgs/{org}/webhooks, receiver headers
X-Wharf-Event / X-Wharf-Delivery / X-Wharf-Webhook / X-Wharf-Signature-256)."""

from __future__ import annotations

import datetime
import os
import time
from collections import Counter

import pytest
import requests

import harness
from harness import wait_for
from hubapi import (ADMIN_PASSWORD, create_repository, docker_login, docker_logout, is_int,
                    password, pretty, push_small_image, sign_up, user_client)
from oci import ALL_MANIFESTS, OCI_MANIFEST, describe, make_image
from webhook_receiver import SECRET, Received, WebhookReceiver, assert_signed

pytestmark = pytest.mark.wharf_only(reason="Wharf's webhooks")

# Receivers on loopback, and retries that come quickly (0.2 s, doubling, at most 1 s apart).
ALLOW_PRIVATE = ["--webhook-allow-private", "true"]
FAST_RETRIES = ["--webhook-retry-delay", "0.2", "--webhook-retry-max-delay", "1"]
WAIT = 30  # seconds: generous, for a loaded machine; the waits end as soon as the thing happens

EVENTS = {"push", "tag_delete", "repository_delete", "test"}
STATES = {"pending", "delivered", "failed"}


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------

def start_wharf(registry_factory, *flags: str):
    """A Wharf with these flags whose administrator has ADMIN_PASSWORD."""
    return registry_factory(extra_args=list(flags), env={"WHARF_ADMIN_PASSWORD": ADMIN_PASSWORD})


def api(server, method: str, path: str, user=None, **kw) -> requests.Response:
    """A request to /api as `user` (HTTP Basic with the user's password; None: anonymous)."""
    auth = None
    if user:
        auth = (user, ADMIN_PASSWORD if user == "admin" else password(user))
    return requests.request(method, server.url + path, auth=auth, timeout=30, **kw)


def get_json(server, path: str, user) -> object:
    r = api(server, "GET", path, user)
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Content-Type", "").startswith("application/json"), describe(r)
    return r.json()


def repo_hooks(namespace: str, name: str) -> str:
    return f"/api/repositories/{namespace}/{name}/webhooks"


def org_hooks(org: str) -> str:
    return f"/api/orgs/{org}/webhooks"


def create_webhook(server, user, hooks: str, **fields) -> dict:
    r = api(server, "POST", hooks, user, json=fields)
    assert r.status_code == 201, describe(r)
    view = r.json()
    assert_webhook_view(view)
    assert view["name"] == fields["name"] and view["url"] == fields["url"], pretty(view)
    assert view["has_secret"] is bool(fields.get("secret")), pretty(view)
    return view


def hook_path(hooks: str, view: dict) -> str:
    return f"{hooks}/{view['id']}"


def deliveries(server, user, hook: str) -> list:
    listing = get_json(server, f"{hook}/deliveries", user)
    assert isinstance(listing, list), pretty(listing)
    for delivery in listing:
        assert_delivery_view(delivery)
    return listing


def delivery(server, user, hook: str, delivery_id: str) -> dict:
    view = get_json(server, f"{hook}/deliveries/{delivery_id}", user)
    assert_delivery_view(view)
    assert view["id"] == delivery_id, pretty(view)
    assert isinstance(view.get("request_body"), str), f"no request_body: {pretty(view)}"
    return view


def wait_for_delivery(server, user, hook: str, delivery_id: str, state: str = "delivered",
                      timeout: float = WAIT) -> dict:
    """Poll GET …/deliveries/{id} until its state is `state`; returns the view."""
    last = {}

    def reached():
        last["view"] = delivery(server, user, hook, delivery_id)
        return last["view"] if last["view"]["state"] == state else None
    try:
        return wait_for(reached, timeout, interval=0.1, what=f"delivery {delivery_id} {state}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nlast seen: {pretty(last.get('view'))}") from None


def wait_for_webhook(server, user, hook: str, predicate, what: str,
                     timeout: float = WAIT) -> dict:
    last = {}

    def reached():
        last["view"] = get_json(server, hook, user)
        return last["view"] if predicate(last["view"]) else None
    try:
        return wait_for(reached, timeout, interval=0.1, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nlast seen: {pretty(last.get('view'))}") from None


def attempt_codes(view: dict) -> list:
    """The status codes of a delivery's attempts, in attempt order."""
    return [a["status_code"] for a in sorted(view["attempts"], key=lambda a: a["number"])]


def parse_iso(value, what: str) -> datetime.datetime:
    """An ISO 8601 / RFC 3339 time with a zone; returned in UTC."""
    assert isinstance(value, str), f"{what} is not a string: {value!r}"
    try:
        when = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise AssertionError(f"{what} is not ISO 8601: {value!r}") from None
    assert when.tzinfo is not None, f"{what} has no time zone: {value!r}"
    return when.astimezone(datetime.timezone.utc)


def assert_utc(value, what: str):
    when = parse_iso(value, what)
    assert value.endswith("Z") or value.endswith("+00:00"), f"{what} is not UTC: {value!r}"
    return when


def assert_recent_epoch(value, what: str):
    assert is_int(value), f"{what} is not an integer: {value!r}"
    assert abs(time.time() - value) < 300, f"{what} {value} is not about now ({time.time():.0f})"


def assert_webhook_view(view: dict):
    """WebhookView: every field with its type; the secret is never in it."""
    assert isinstance(view, dict), pretty(view)
    assert is_int(view.get("id")), pretty(view)
    assert isinstance(view.get("name"), str) and isinstance(view.get("url"), str), pretty(view)
    assert isinstance(view.get("events"), list) and set(view["events"]) <= EVENTS, pretty(view)
    assert view.get("format") in ("hub", "cloudevents"), pretty(view)
    assert isinstance(view.get("enabled"), bool), pretty(view)
    assert isinstance(view.get("has_secret"), bool), pretty(view)
    assert view.get("disabled_reason") is None or isinstance(view["disabled_reason"], str), \
        pretty(view)
    assert is_int(view.get("consecutive_failures")), pretty(view)
    assert view.get("created_by") is None or isinstance(view["created_by"], str), pretty(view)
    assert_utc(view.get("created_at"), "created_at")
    assert_utc(view.get("updated_at"), "updated_at")
    assert (view.get("repository") is None) != (view.get("organization") is None), \
        f"a webhook belongs to a repository or an organization: {pretty(view)}"
    assert "secret" not in view, f"the secret must never be returned: {pretty(view)}"


def assert_delivery_view(view: dict):
    """DeliveryView: every field with its type."""
    assert isinstance(view, dict), pretty(view)
    assert isinstance(view.get("id"), str) and view["id"], pretty(view)
    assert is_int(view.get("webhook")), pretty(view)
    assert view.get("event") in EVENTS, pretty(view)
    assert view.get("state") in STATES, pretty(view)
    assert_utc(view.get("created_at"), "created_at")
    for key in ("finished_at", "next_attempt_at"):
        if view.get(key) is not None:
            assert_utc(view[key], key)
    if view["state"] != "pending":
        assert view.get("finished_at") is not None, f"finished without finished_at: {pretty(view)}"
    assert is_int(view.get("attempt_count")), pretty(view)
    attempts = view.get("attempts")
    assert isinstance(attempts, list) and len(attempts) == view["attempt_count"], pretty(view)
    assert sorted(a.get("number") for a in attempts) == list(range(1, len(attempts) + 1)), \
        pretty(view)
    for attempt in attempts:
        assert_utc(attempt.get("started_at"), "attempts[].started_at")
        assert is_int(attempt.get("duration_ms")) and attempt["duration_ms"] >= 0, pretty(view)
        assert attempt.get("status_code") is None or is_int(attempt["status_code"]), pretty(view)
        assert attempt.get("error") is None or isinstance(attempt["error"], str), pretty(view)
        assert isinstance(attempt.get("response_excerpt"), str), pretty(view)
    assert view.get("redelivery_of") is None or isinstance(view["redelivery_of"], str), \
        pretty(view)
    validation = view.get("validation")
    assert validation is None or isinstance(validation, dict), pretty(view)


def assert_wharf_request(hit: Received, event: str, hook: dict,
                         content_type: str = "application/json"):
    """The headers every delivery carries."""
    assert hit.method == "POST", hit.describe()
    assert hit.path == "/hook", f"posted to another path than the webhook's URL\n{hit.describe()}"
    assert hit.headers.get("User-Agent") == "Wharf-Hookshot/1", hit.describe()
    assert hit.event == event, hit.describe()
    assert hit.webhook == str(hook["id"]), hit.describe()
    assert hit.delivery, f"no X-Wharf-Delivery\n{hit.describe()}"
    ctype = hit.headers.get("Content-Type", "").split(";")[0].strip().lower()
    assert ctype == content_type, hit.describe()


def assert_hub_repository(repository: dict, server, namespace: str, name: str,
                          private: bool = False):
    """The `repository` object of a Hub-format payload."""
    assert repository.get("repo_name") == f"{namespace}/{name}", pretty(repository)
    assert repository.get("namespace") == namespace, pretty(repository)
    assert repository.get("name") == name, pretty(repository)
    assert repository.get("owner") == namespace, pretty(repository)
    assert repository.get("repo_url") == f"{server.url}/r/{namespace}/{name}", pretty(repository)
    assert repository.get("is_private") is private, pretty(repository)
    assert repository.get("status") == "Active", pretty(repository)
    assert is_int(repository.get("date_created")), pretty(repository)
    for key in ("comment_count", "star_count"):
        assert is_int(repository.get(key)), f"{key}: {pretty(repository)}"
    for key in ("description", "dockerfile", "full_description"):
        assert isinstance(repository.get(key), str), f"{key}: {pretty(repository)}"
    for key in ("is_official", "is_trusted"):
        assert isinstance(repository.get(key), bool), f"{key}: {pretty(repository)}"


def is_push_of(tag: str):
    return lambda hit: hit.event == "push" and hit.json["push_data"]["tag"] == tag


def push_tag(hit: Received) -> str:
    return hit.json["push_data"]["tag"]


def alice_with_app(registry_factory, *flags: str):
    """A Wharf with `flags`, the user alice and her public repository alice/app."""
    server = start_wharf(registry_factory, *flags)
    sign_up(server, "alice")
    create_repository(server, "alice", "app")
    return server


# --------------------------------------------------------------------------------------
# Delivery: payloads, signature, callback
# --------------------------------------------------------------------------------------

def test_docker_push_delivers_signed_hub_payload_and_records_the_callback(
        registry_factory, dockerd, local_images):
    """docker push as alice → one POST with Docker Hub's payload (the tag, pusher alice,
    alice/app, images = the manifest digest the registry serves, callback_url for this
    delivery), X-Wharf-Event push, signed with the secret; the delivery log shows it delivered
    on the first attempt with the exact body sent; a CI's POST to callback_url shows up as the
    delivery's validation."""
    server = alice_with_app(registry_factory, *ALLOW_PRIVATE, *FAST_RETRIES)
    hooks = repo_hooks("alice", "app")
    with WebhookReceiver() as receiver:
        hook = create_webhook(server, "alice", hooks, name="ci", url=receiver.url, secret=SECRET)
        assert hook["events"] == ["push"] and hook["format"] == "hub", pretty(hook)
        assert hook["enabled"] is True and hook.get("disabled_reason") is None, pretty(hook)
        assert hook["repository"] == "alice/app" and hook.get("organization") is None
        assert hook["created_by"] == "alice" and hook["consecutive_failures"] == 0, pretty(hook)
        hook_url = hook_path(hooks, hook)

        ref = f"{server.host}/alice/app:v1"
        dockerd.docker("tag", local_images.BASE, ref)
        login = docker_login(dockerd, server, "alice")
        assert login.returncode == 0, login.stderr
        try:
            pushed = dockerd.docker("push", ref).stdout
        finally:
            docker_logout(dockerd, server)
        head = user_client(server, "alice").head("/v2/alice/app/manifests/v1",
                                                 headers={"Accept": ALL_MANIFESTS})
        assert head.status_code == 200, describe(head)
        digest = head.headers["Docker-Content-Digest"]
        assert f"digest: {digest}" in pushed, pushed

        [hit] = receiver.wait_for_requests(1)
        assert_wharf_request(hit, "push", hook)
        assert_signed(hit)
        body = hit.json
        assert body.get("callback_url") == f"{server.url}/api/webhook-callbacks/{hit.delivery}", \
            hit.describe()
        push_data = body["push_data"]
        assert push_data.get("tag") == "v1", pretty(body)
        assert push_data.get("pusher") == "alice", pretty(body)
        assert push_data.get("images") == [digest], pretty(body)
        assert push_data.get("media_type") == head.headers["Content-Type"], pretty(body)
        assert_recent_epoch(push_data.get("pushed_at"), "push_data.pushed_at")
        assert_hub_repository(body["repository"], server, "alice", "app")

        delivered = wait_for_delivery(server, "alice", hook_url, hit.delivery)
        assert delivered["request_body"] == hit.body.decode(), \
            f"request_body is not the exact text sent:\n{delivered['request_body']}\n{hit.body!r}"
        listing = deliveries(server, "alice", hook_url)
        assert [d["id"] for d in listing] == [hit.delivery], pretty(listing)
        [entry] = listing
        assert entry["webhook"] == hook["id"] and entry["event"] == "push", pretty(entry)
        assert entry["state"] == "delivered" and entry["attempt_count"] == 1, pretty(entry)
        assert attempt_codes(entry) == [200], pretty(entry)
        assert entry["attempts"][0].get("error") is None, pretty(entry)
        assert entry.get("redelivery_of") is None and entry.get("validation") is None, \
            pretty(entry)

        # The CI system that got the hook reports back, without credentials.
        report = {"state": "success", "description": "tests passed", "context": "ci",
                  "target_url": "http://ci/1"}
        r = requests.post(body["callback_url"], json=report, timeout=30)
        assert r.status_code == 200, describe(r)
        validation = delivery(server, "alice", hook_url, hit.delivery).get("validation")
        assert isinstance(validation, dict), pretty(validation)
        assert {k: validation.get(k) for k in report} == report, pretty(validation)
        assert_utc(validation.get("received_at"), "validation.received_at")
        r = requests.post(body["callback_url"], json={"state": "maybe"}, timeout=30)
        assert r.status_code == 422, describe(r)
        r = requests.post(f"{server.url}/api/webhook-callbacks/no-such-delivery", json=report,
                          timeout=30)
        assert r.status_code == 404, describe(r)
        assert len(receiver.requests()) == 1, receiver.summary()


def test_cloudevents_format_carries_the_push_in_data(registry_factory):
    """format "cloudevents": a CloudEvents 1.0 structured JSON POST
    (application/cloudevents+json) whose type ends with .push and whose data names the tag,
    the digest and the pusher; no secret, no signature header."""
    server = alice_with_app(registry_factory, *ALLOW_PRIVATE, *FAST_RETRIES)
    hooks = repo_hooks("alice", "app")
    with WebhookReceiver() as receiver:
        hook = create_webhook(server, "alice", hooks, name="events", url=receiver.url,
                              format="cloudevents")
        assert hook["format"] == "cloudevents", pretty(hook)
        image = push_small_image(server, "alice", "alice/app", "v1", seed="cloudevents")

        [hit] = receiver.wait_for_requests(1)
        assert_wharf_request(hit, "push", hook, content_type="application/cloudevents+json")
        assert "X-Wharf-Signature-256" not in hit.headers, hit.describe()
        event = hit.json
        assert event.get("specversion") == "1.0", pretty(event)
        assert isinstance(event.get("type"), str) and event["type"].endswith(".push"), \
            pretty(event)
        assert isinstance(event.get("id"), str) and event["id"], pretty(event)
        assert event.get("source") == f"{server.url}/r/alice/app", pretty(event)
        assert event.get("subject") == "alice/app:v1", pretty(event)
        parse_iso(event.get("time"), "time")
        assert event.get("datacontenttype") == "application/json", pretty(event)
        data = event.get("data")
        assert isinstance(data, dict), pretty(event)
        assert data.get("repository") == "alice/app", pretty(data)
        assert data.get("namespace") == "alice" and data.get("name") == "app", pretty(data)
        assert data.get("tag") == "v1" and data.get("digest") == image.digest, pretty(data)
        assert data.get("media_type") == OCI_MANIFEST, pretty(data)
        assert data.get("pusher") == "alice", pretty(data)
        assert data.get("images") == [image.digest], pretty(data)

        delivered = wait_for_delivery(server, "alice", hook_path(hooks, hook), hit.delivery)
        assert delivered["request_body"] == hit.body.decode(), pretty(delivered)


# --------------------------------------------------------------------------------------
# Retries, order and crashes
# --------------------------------------------------------------------------------------

def test_deliveries_held_while_the_receiver_is_down_arrive_in_push_order(registry_factory):
    """Pushes of t1, t2, t3 while the receiver answers 503: the first delivery is retried with
    backoff and holds the others back; when the receiver answers 200 again all three arrive,
    t1, t2, t3, each exactly once; the log shows t1's failed attempts before its success."""
    server = alice_with_app(registry_factory, *ALLOW_PRIVATE, *FAST_RETRIES)
    hooks = repo_hooks("alice", "app")
    with WebhookReceiver(status=503) as receiver:
        hook = create_webhook(server, "alice", hooks, name="flaky", url=receiver.url)
        hook_url = hook_path(hooks, hook)
        images = {tag: push_small_image(server, "alice", "alice/app", tag, seed=f"down-{tag}")
                  for tag in ("t1", "t2", "t3")}

        receiver.wait_for_requests(3, what="three failed attempts (503)")
        receiver.set_response(200)
        receiver.wait_for_requests(3, match=lambda hit: hit.status == 200,
                                   what="the three pushes delivered")

        def all_delivered():
            got = deliveries(server, "alice", hook_url)
            return got if len(got) == 3 and all(d["state"] == "delivered" for d in got) else None
        listing = wait_for(all_delivered, WAIT, what="three deliveries in state delivered")

        received = receiver.requests()
        ok = [hit for hit in received if hit.status == 200]
        assert [push_tag(hit) for hit in ok] == ["t1", "t2", "t3"], receiver.summary()
        assert len({hit.delivery for hit in ok}) == 3, receiver.summary()
        for hit in ok:
            assert_wharf_request(hit, "push", hook)
            assert hit.json["push_data"]["images"] == [images[push_tag(hit)].digest], \
                hit.describe()
        failed = [hit for hit in received if hit.status == 503]
        assert len(failed) >= 3, receiver.summary()
        assert {hit.delivery for hit in failed} == {ok[0].delivery}, (
            "while the first delivery fails the later ones must wait:\n" + receiver.summary())

        # Newest first: t3, t2, t1; t1 failed as often as the receiver saw it fail, then passed.
        assert [d["id"] for d in listing] == [hit.delivery for hit in reversed(ok)], \
            pretty(listing)
        first = delivery(server, "alice", hook_url, ok[0].delivery)
        assert attempt_codes(first) == [503] * len(failed) + [200], pretty(first)
        for hit in ok[1:]:
            later = delivery(server, "alice", hook_url, hit.delivery)
            assert attempt_codes(later) == [200], pretty(later)
            assert later["request_body"] == hit.body.decode(), pretty(later)
        assert len(receiver.requests(lambda hit: hit.status == 200)) == 3, receiver.summary()


def test_delivery_pending_at_kill9_is_sent_after_restart(registry_factory):
    """A push acknowledged while nothing listens at the webhook's URL, then kill -9: after a
    restart the delivery is still there (pending, same id) and reaches the receiver once it
    listens; the attempts made while it was down are recorded as errors, not statuses."""
    server = alice_with_app(registry_factory, *ALLOW_PRIVATE, *FAST_RETRIES)
    hooks = repo_hooks("alice", "app")
    receiver = WebhookReceiver()  # not started: its port refuses connections for now
    try:
        hook = create_webhook(server, "alice", hooks, name="later", url=receiver.url)
        hook_url = hook_path(hooks, hook)
        image = push_small_image(server, "alice", "alice/app", "v1", seed="kill9")
        server.kill9()
        server.restart()

        [pending] = deliveries(server, "alice", hook_url)
        assert pending["event"] == "push" and pending["state"] == "pending", pretty(pending)

        receiver.start()
        hit = receiver.wait_for_requests(1)[0]
        assert hit.delivery == pending["id"], hit.describe()
        assert_wharf_request(hit, "push", hook)
        assert push_tag(hit) == "v1", hit.describe()
        assert hit.json["push_data"]["images"] == [image.digest], hit.describe()

        delivered = wait_for_delivery(server, "alice", hook_url, pending["id"])
        codes = attempt_codes(delivered)
        assert codes[-1] == 200, pretty(delivered)
        for attempt in sorted(delivered["attempts"], key=lambda a: a["number"])[:-1]:
            assert attempt["status_code"] is None and attempt["error"], pretty(delivered)
        assert [d["id"] for d in deliveries(server, "alice", hook_url)] == [pending["id"]]
        # At least once: a repeat is allowed only as the same delivery.
        assert {h.delivery for h in receiver.requests()} == {pending["id"]}, receiver.summary()
    finally:
        receiver.stop()


# --------------------------------------------------------------------------------------
# Redelivery, test events, automatic disabling
# --------------------------------------------------------------------------------------

def test_redeliver_and_test_send_again_on_request(registry_factory):
    """Redeliver: a new delivery (new id, redelivery_of the old one) with the same body reaches
    the receiver again, signed; test: X-Wharf-Event test with a push-shaped body for the most
    recently pushed tag."""
    server = alice_with_app(registry_factory, *ALLOW_PRIVATE, *FAST_RETRIES)
    hooks = repo_hooks("alice", "app")
    with WebhookReceiver() as receiver:
        hook = create_webhook(server, "alice", hooks, name="ci", url=receiver.url, secret=SECRET)
        hook_url = hook_path(hooks, hook)
        push_small_image(server, "alice", "alice/app", "v1", seed="redeliver")
        [original] = receiver.wait_for_requests(1)
        wait_for_delivery(server, "alice", hook_url, original.delivery)

        r = api(server, "POST", f"{hook_url}/deliveries/{original.delivery}/redeliver", "alice")
        assert r.status_code == 202, describe(r)
        again = r.json()
        assert_delivery_view(again)
        assert again["id"] != original.delivery, pretty(again)
        assert again["redelivery_of"] == original.delivery, pretty(again)
        assert again["event"] == "push" and again["webhook"] == hook["id"], pretty(again)

        [hit] = receiver.wait_for_requests(1, match=lambda h: h.delivery == again["id"])
        assert_wharf_request(hit, "push", hook)
        assert_signed(hit)
        resent, first = hit.json, original.json
        assert resent["callback_url"].rsplit("/", 1)[-1] in (original.delivery, again["id"]), \
            hit.describe()
        resent.pop("callback_url")
        first.pop("callback_url")
        assert resent == first, f"the redelivery's body differs:\n{pretty(resent)}\n{pretty(first)}"
        redelivered = wait_for_delivery(server, "alice", hook_url, again["id"])
        assert redelivered["request_body"] == hit.body.decode(), pretty(redelivered)
        assert redelivered["redelivery_of"] == original.delivery, pretty(redelivered)

        # The test event describes the most recently pushed tag.
        push_small_image(server, "alice", "alice/app", "v2", seed="redeliver-v2")
        [v2] = receiver.wait_for_requests(1, match=is_push_of("v2"))
        wait_for_delivery(server, "alice", hook_url, v2.delivery)
        r = api(server, "POST", f"{hook_url}/test", "alice")
        assert r.status_code == 202, describe(r)
        test = r.json()
        assert_delivery_view(test)
        assert test["event"] == "test" and test["webhook"] == hook["id"], pretty(test)
        assert test["id"] not in (original.delivery, again["id"], v2.delivery), pretty(test)
        [hit] = receiver.wait_for_requests(1, match=lambda h: h.delivery == test["id"])
        assert_wharf_request(hit, "test", hook)
        assert_signed(hit)
        body = hit.json
        assert body.get("callback_url") == f"{server.url}/api/webhook-callbacks/{test['id']}", \
            hit.describe()
        assert body["push_data"]["tag"] == "v2", hit.describe()
        assert isinstance(body["push_data"].get("images"), list), hit.describe()
        assert_hub_repository(body["repository"], server, "alice", "app")
        tested = wait_for_delivery(server, "alice", hook_url, test["id"])
        assert tested["event"] == "test" and attempt_codes(tested) == [200], pretty(tested)
        assert len(deliveries(server, "alice", hook_url)) == 4


def test_webhook_failing_for_good_is_disabled_until_reenabled(registry_factory):
    """--webhook-disable-after 2: two deliveries that fail for good (receiver always 500,
    --webhook-retry-for 0.5) disable the webhook with a reason; redeliver and test are 409;
    a third push is not sent to it (another webhook on the repository gets it); PATCH
    enabled true re-enables it (reason and count cleared) and the next push arrives."""
    server = alice_with_app(registry_factory, *ALLOW_PRIVATE, "--webhook-retry-for", "0.5",
                            "--webhook-disable-after", "2", "--webhook-retry-delay", "0.1",
                            "--webhook-retry-max-delay", "0.2")
    hooks = repo_hooks("alice", "app")
    with WebhookReceiver(status=500) as failing, WebhookReceiver() as healthy:
        hook = create_webhook(server, "alice", hooks, name="broken", url=failing.url)
        witness = create_webhook(server, "alice", hooks, name="witness", url=healthy.url)
        hook_url = hook_path(hooks, hook)

        push_small_image(server, "alice", "alice/app", "v1", seed="disable-v1")
        first = failing.wait_for_requests(1)[0]
        failed = wait_for_delivery(server, "alice", hook_url, first.delivery, state="failed")
        assert failed["attempts"] and set(attempt_codes(failed)) == {500}, pretty(failed)
        view = get_json(server, hook_url, "alice")
        assert view["enabled"] is True and view["consecutive_failures"] == 1, pretty(view)

        push_small_image(server, "alice", "alice/app", "v2", seed="disable-v2")
        view = wait_for_webhook(server, "alice", hook_url, lambda v: v["enabled"] is False,
                                "the webhook disabled after two failed deliveries")
        assert isinstance(view.get("disabled_reason"), str) and view["disabled_reason"].strip(), \
            pretty(view)
        assert view["consecutive_failures"] >= 2, pretty(view)
        listing = deliveries(server, "alice", hook_url)
        assert [d["state"] for d in listing] == ["failed", "failed"], pretty(listing)
        assert any(h.delivery == listing[0]["id"] for h in failing.requests()), failing.summary()

        r = api(server, "POST", f"{hook_url}/deliveries/{first.delivery}/redeliver", "alice")
        assert r.status_code == 409, describe(r)
        r = api(server, "POST", f"{hook_url}/test", "alice")
        assert r.status_code == 409, describe(r)

        # v3 reaches the other webhook of the repository, not the disabled one.
        sent_before = len(failing.requests())
        push_small_image(server, "alice", "alice/app", "v3", seed="disable-v3")
        healthy.wait_for_requests(1, match=is_push_of("v3"))
        time.sleep(1.5)  # several retry periods (0.1-0.2 s) for a wrong attempt to show up
        assert len(failing.requests()) == sent_before, failing.summary()
        view = get_json(server, hook_url, "alice")
        assert view["enabled"] is False, pretty(view)
        assert all(d["state"] != "delivered" for d in deliveries(server, "alice", hook_url))

        failing.set_response(200)
        r = api(server, "PATCH", hook_url, "alice", json={"enabled": True})
        assert r.status_code == 200, describe(r)
        view = r.json()
        assert_webhook_view(view)
        assert view["enabled"] is True and view.get("disabled_reason") is None, pretty(view)
        assert view["consecutive_failures"] == 0, pretty(view)
        push_small_image(server, "alice", "alice/app", "v4", seed="disable-v4")
        [v4] = failing.wait_for_requests(1, match=lambda h: h.status == 200 and is_push_of("v4")(h))
        wait_for_delivery(server, "alice", hook_url, v4.delivery)
        # A delivery held while disabled may go out on re-enabling, before v4; nothing else.
        assert [push_tag(h) for h in failing.requests(lambda h: h.status == 200)] in (
            ["v4"], ["v3", "v4"]), failing.summary()
        healthy.wait_for_requests(1, match=is_push_of("v4"))
        assert [push_tag(h) for h in healthy.requests()] == ["v1", "v2", "v3", "v4"], \
            healthy.summary()
        assert get_json(server, hook_path(hooks, witness), "alice")["enabled"] is True


# --------------------------------------------------------------------------------------
# Addresses
# --------------------------------------------------------------------------------------

def assert_refused_url(response: requests.Response):
    assert response.status_code == 422, describe(response)
    body = response.json()
    assert body.get("field") == "url", describe(response)
    assert isinstance(body.get("message"), str) and body["message"], describe(response)


def test_private_addresses_are_refused_without_the_flag(registry_factory):
    """Without --webhook-allow-private, a URL on loopback (by address or by the name
    localhost), a private network or a link-local address is refused with 422, field url; so
    are URLs that are not http(s) with a host; nothing is created."""
    server = alice_with_app(registry_factory)
    hooks = repo_hooks("alice", "app")
    with WebhookReceiver() as receiver:
        port = receiver.port
        for url in (f"http://127.0.0.1:{port}/hook", f"http://localhost:{port}/hook",
                    f"http://[::1]:{port}/hook", "http://10.1.2.3/hook",
                    "http://192.168.1.10:8080/hook", "http://172.16.5.4/hook",
                    "http://169.254.169.254/latest/meta-data/"):
            assert_refused_url(api(server, "POST", hooks, "alice", json={"name": "ci", "url": url}))
        for url in ("ftp://ci.example.com/hook", "not a url", "http:///hook"):
            assert_refused_url(api(server, "POST", hooks, "alice", json={"name": "ci", "url": url}))
        assert get_json(server, hooks, "alice") == []
        push_small_image(server, "alice", "alice/app", "v1", seed="refused")
        assert receiver.requests() == [], receiver.summary()


def test_invalid_webhook_fields_are_refused(registry_factory):
    """name 1-100 characters, known events and formats: anything else is 422 with the field."""
    server = alice_with_app(registry_factory, *ALLOW_PRIVATE)
    hooks = repo_hooks("alice", "app")
    url = "http://127.0.0.1:9/hook"
    for fields, field in (({"name": "", "url": url}, "name"),
                          ({"name": "n" * 101, "url": url}, "name"),
                          ({"name": "ci", "url": url, "events": ["push", "pull"]}, "events"),
                          ({"name": "ci", "url": url, "format": "xml"}, "format")):
        r = api(server, "POST", hooks, "alice", json=fields)
        assert r.status_code == 422, describe(r)
        assert str(r.json().get("field")).startswith(field), describe(r)
    hook = create_webhook(server, "alice", hooks, name="n" * 100, url=url,
                          events=["push", "tag_delete", "repository_delete"])
    assert sorted(hook["events"]) == ["push", "repository_delete", "tag_delete"], pretty(hook)
    r = api(server, "PATCH", hook_path(hooks, hook), "alice", json={"url": "ftp://x/"})
    assert_refused_url(r)
    assert get_json(server, hook_path(hooks, hook), "alice")["url"] == url


def test_allowed_network_receiver_redirect_is_not_followed(registry_factory):
    """--webhook-allowed-networks 127.0.0.2/32 admits a receiver on 127.0.0.2 (127.0.0.1 stays
    refused); its 302 to a receiver on 127.0.0.1 is recorded as a failed attempt with status
    302, retried, and never followed."""
    server = alice_with_app(registry_factory, "--webhook-allowed-networks", "127.0.0.2/32",
                            *FAST_RETRIES)
    hooks = repo_hooks("alice", "app")
    with WebhookReceiver("127.0.0.1") as target, WebhookReceiver("127.0.0.2") as redirector:
        redirector.set_response(302, {"Location": target.url})
        assert_refused_url(api(server, "POST", hooks, "alice",
                               json={"name": "direct", "url": target.url}))
        hook = create_webhook(server, "alice", hooks, name="redirecting", url=redirector.url)
        hook_url = hook_path(hooks, hook)
        push_small_image(server, "alice", "alice/app", "v1", seed="redirect")

        hits = redirector.wait_for_requests(2, what="the 302 answered, then the retry")
        assert {h.delivery for h in hits} == {hits[0].delivery}, redirector.summary()
        assert_wharf_request(hits[0], "push", hook)

        def attempted():
            view = delivery(server, "alice", hook_url, hits[0].delivery)
            return view if view["attempts"] else None
        view = wait_for(attempted, WAIT, what="the delivery's first attempt recorded")
        assert set(attempt_codes(view)) == {302}, pretty(view)
        assert view["state"] != "delivered", pretty(view)
        assert target.requests() == [], "the redirect was followed:\n" + target.summary()


# --------------------------------------------------------------------------------------
# Who may see and manage webhooks
# --------------------------------------------------------------------------------------

def test_webhooks_need_admin_on_the_repository_and_never_show_the_secret(registry_factory):
    """On a private repository: a user who cannot see it gets 404 on every webhook route (like
    a missing repository), read and write collaborators 403, an admin collaborator and the
    owner 200; no answer ever contains the secret (has_secret says whether there is one), and
    PATCH secret "" or null removes it."""
    server = start_wharf(registry_factory, *ALLOW_PRIVATE, *FAST_RETRIES)
    for user in ("alice", "bobby", "carol", "dave", "erin"):
        sign_up(server, user)
    create_repository(server, "alice", "secret", private=True)
    for user, permission in (("carol", "read"), ("dave", "write"), ("erin", "admin")):
        r = api(server, "PUT", f"/api/repositories/alice/secret/collaborators/{user}", "alice",
                json={"permission": permission})
        assert r.status_code == 200, describe(r)
    hooks = repo_hooks("alice", "secret")
    answers = []

    def call(method, path, user, status, **kw):
        r = api(server, method, path, user, **kw)
        assert r.status_code == status, f"{user}: expected {status}\n{describe(r)}"
        answers.append(r)
        return r

    created = call("POST", hooks, "alice", 201,
                   json={"name": "ci", "url": "http://127.0.0.1:9/hook", "secret": SECRET})
    hook = created.json()
    assert_webhook_view(hook)
    assert hook["has_secret"] is True, pretty(hook)
    one = hook_path(hooks, hook)
    attempts = (("GET", hooks, {}), ("POST", hooks, {"json": {"name": "x", "url": hook["url"]}}),
                ("GET", one, {}), ("PATCH", one, {"json": {"name": "renamed"}}),
                ("GET", f"{one}/deliveries", {}), ("POST", f"{one}/test", {}),
                ("DELETE", one, {}))
    for method, path, kw in attempts:
        call(method, path, "bobby", 404, **kw)
        call(method, path.replace("/secret/", "/nosuch/"), "bobby", 404, **kw)
        for user in ("carol", "dave"):
            call(method, path, user, 403, **kw)
    r = api(server, "GET", hooks, None)
    assert r.status_code in (401, 404), describe(r)

    for user in ("alice", "erin"):
        [listed] = call("GET", hooks, user, 200).json()
        assert listed["id"] == hook["id"] and listed["name"] == "ci", pretty(listed)
        assert listed["has_secret"] is True and listed["repository"] == "alice/secret"
        assert_webhook_view(listed)
    view = call("PATCH", one, "erin", 200, json={"name": "by-erin"}).json()
    assert view["name"] == "by-erin" and view["has_secret"] is True, pretty(view)
    assert call("GET", one, "alice", 200).json()["url"] == hook["url"]

    for secret, has in (("", False), ("another secret", True), (None, False), (SECRET, True)):
        view = call("PATCH", one, "alice", 200, json={"secret": secret}).json()
        assert_webhook_view(view)
        assert view["has_secret"] is has, f"secret {secret!r}: {pretty(view)}"
        assert get_json(server, one, "alice")["has_secret"] is has
    for r in answers:
        for secret in (SECRET, "another secret"):
            assert secret not in r.text, f"the secret is in an answer:\n{describe(r)}"
    [still] = get_json(server, hooks, "alice")
    assert still["id"] == hook["id"], pretty(still)

    call("DELETE", one, "alice", 204)
    call("GET", one, "alice", 404)
    assert get_json(server, hooks, "alice") == []


def test_organization_webhook_receives_pushes_to_its_repositories(registry_factory):
    """An organization webhook (owner only; a team member gets 403) gets the pushes to the
    organization's repositories, including one created after it, and not others."""
    server = start_wharf(registry_factory, *ALLOW_PRIVATE, *FAST_RETRIES)
    sign_up(server, "alice")
    sign_up(server, "bobby")
    assert api(server, "POST", "/api/orgs", "alice", json={"name": "acmeorg"}).status_code == 201
    assert api(server, "POST", "/api/orgs/acmeorg/teams", "alice",
               json={"name": "devs"}).status_code == 201
    assert api(server, "PUT", "/api/orgs/acmeorg/teams/devs/members/bobby",
               "alice").status_code == 200
    create_repository(server, "alice", "app")
    hooks = org_hooks("acmeorg")
    with WebhookReceiver() as receiver:
        hook = create_webhook(server, "alice", hooks, name="org-ci", url=receiver.url,
                              secret=SECRET)
        assert hook["organization"] == "acmeorg" and hook.get("repository") is None, pretty(hook)
        r = api(server, "GET", hooks, "bobby")
        assert r.status_code == 403, describe(r)
        r = api(server, "POST", hooks, "bobby", json={"name": "mine", "url": receiver.url})
        assert r.status_code == 403, describe(r)

        r = api(server, "POST", "/api/repositories", "alice",
                json={"namespace": "acmeorg", "name": "tool", "is_private": False})
        assert r.status_code == 201, describe(r)
        push_small_image(server, "alice", "alice/app", "v1", seed="org-outside")
        image = push_small_image(server, "alice", "acmeorg/tool", "v1", seed="org-tool")

        # Deliveries go in event order: had alice/app's push been sent, it would be first.
        [hit] = receiver.wait_for_requests(1)
        assert_wharf_request(hit, "push", hook)
        assert_signed(hit)
        body = hit.json
        assert_hub_repository(body["repository"], server, "acmeorg", "tool")
        assert body["push_data"]["tag"] == "v1" and body["push_data"]["pusher"] == "alice"
        assert body["push_data"]["images"] == [image.digest], pretty(body)
        hook_url = hook_path(hooks, hook)
        wait_for_delivery(server, "alice", hook_url, hit.delivery)
        assert [d["id"] for d in deliveries(server, "alice", hook_url)] == [hit.delivery]
        assert len(receiver.requests()) == 1, receiver.summary()
        [listed] = get_json(server, hooks, "alice")
        assert listed["id"] == hook["id"] and listed["has_secret"] is True, pretty(listed)


# --------------------------------------------------------------------------------------
# Other events
# --------------------------------------------------------------------------------------

def test_tag_delete_is_delivered_to_a_webhook_subscribed_to_it(registry_factory):
    """events ["tag_delete"]: the pushes are not sent; DELETE /v2/…/manifests/<tag> is, as
    X-Wharf-Event tag_delete with event_data.tag, the actor and the repository."""
    server = alice_with_app(registry_factory, *ALLOW_PRIVATE, *FAST_RETRIES)
    hooks = repo_hooks("alice", "app")
    with WebhookReceiver() as receiver:
        hook = create_webhook(server, "alice", hooks, name="cleanup", url=receiver.url,
                              events=["tag_delete"])
        assert hook["events"] == ["tag_delete"], pretty(hook)
        v1 = push_small_image(server, "alice", "alice/app", "v1", seed="tagdel-v1")
        push_small_image(server, "alice", "alice/app", "v2", seed="tagdel-v2")
        r = user_client(server, "alice").delete("/v2/alice/app/manifests/v1")
        assert r.status_code == 202, describe(r)

        # The pushes came first: had they been sent, they would have arrived first.
        [hit] = receiver.wait_for_requests(1)
        assert_wharf_request(hit, "tag_delete", hook)
        body = hit.json
        assert body.get("event") == "tag_delete", pretty(body)
        assert "push_data" not in body, pretty(body)
        assert body.get("callback_url") == f"{server.url}/api/webhook-callbacks/{hit.delivery}"
        data = body.get("event_data")
        assert isinstance(data, dict), pretty(body)
        assert data.get("tag") == "v1" and data.get("actor") == "alice", pretty(data)
        assert data.get("digest") in (None, v1.digest), pretty(data)
        assert_recent_epoch(data.get("occurred_at"), "event_data.occurred_at")
        assert_hub_repository(body["repository"], server, "alice", "app")

        hook_url = hook_path(hooks, hook)
        delivered = wait_for_delivery(server, "alice", hook_url, hit.delivery)
        assert delivered["event"] == "tag_delete", pretty(delivered)
        assert [d["id"] for d in deliveries(server, "alice", hook_url)] == [hit.delivery]
        assert len(receiver.requests()) == 1, receiver.summary()


# --------------------------------------------------------------------------------------
# Replicas
# --------------------------------------------------------------------------------------

# Replicas share one PostgreSQL database: this runs only with E2E_DATABASE=postgres
# (scripts/test-postgres).  With E2E_STORAGE=s3 too they also share the bucket
# (harness.start_replicas); otherwise each keeps its blobs in its own data folder, so each image
# is pushed whole, blobs and manifest, through the replica that gets its manifest.
ON_POSTGRES = (harness.REGISTRY_KIND == "wharf"
               and os.environ.get("E2E_DATABASE") == "postgres")
ON_POSTGRES_SKIP_REASON = (
    "replicas share one PostgreSQL database: run Wharf with E2E_DATABASE=postgres "
    "(scripts/test-postgres)")


def start_webhook_replicas(registry_factory, count: int, *flags: str) -> list:
    """`count` Wharf servers with `flags` on one fresh PostgreSQL database (and one S3 prefix
    with E2E_STORAGE=s3); their administrator has ADMIN_PASSWORD."""
    if harness.SHARED_STORES:
        assert harness.REPLICA_ADMIN_PASSWORD == ADMIN_PASSWORD
        return harness.start_replicas(registry_factory, count, extra_args=list(flags))
    shared = {"WHARF_DATABASE": harness.create_postgres_database(),
              "WHARF_ADMIN_PASSWORD": ADMIN_PASSWORD}
    # One after the other: the first creates the schema.
    return [registry_factory(env=shared, extra_args=list(flags)) for _ in range(count)]


def senders(replicas: list, deliveries_by_tag: dict) -> dict:
    """{tag: ["attempt N: replica I", ...]} from the replicas' logs (each logs its attempts with
    wharf.delivery= and wharf.attempt=): which replica sent what, to explain a failure."""
    tag_of = {delivery: tag for tag, delivery in deliveries_by_tag.items()}
    found = {}
    for i, server in enumerate(replicas):
        for line in server.log_text().splitlines():
            fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
            tag = tag_of.get(fields.get("wharf.delivery"))
            if tag and "wharf.attempt" in fields:
                found.setdefault(tag, []).append(
                    f"attempt {fields['wharf.attempt']}: replica {i} "
                    f"({fields.get('wharf.status', fields.get('error', '?'))})")
    return {tag: sorted(found[tag]) for tag in sorted(found)}


@pytest.mark.skipif(not ON_POSTGRES, reason=ON_POSTGRES_SKIP_REASON)
def test_replicas_never_send_a_delivery_twice_and_keep_push_order(registry_factory):
    """Three replicas on one database, each with 4 webhook workers; 20 tags pushed back to back,
    their manifests PUT to the replicas in turn, to a receiver that answers 503 to its first 3
    requests and to the first attempt of t06, t11 and t16: every failed attempt ends the
    sender's turn (the webhook's job waits for the retry), and whichever replica's workers
    claim it next go on, right after a delivery another replica made.  Each of the 20
    deliveries is answered 2xx exactly once; the first 2xx of each arrives in push order; no
    request for a delivery comes while an earlier one is still failing; and every replica's
    delivery log shows the 20 delivered, newest first, each with the attempts the receiver saw
    for it: its 503s, then one 2xx."""
    count, failures = 3, 3
    tags = [f"t{i:02d}" for i in range(1, 21)]
    hiccups = {"t06", "t11", "t16"}  # their first attempt is answered 503
    replicas = start_webhook_replicas(
        registry_factory, count, *ALLOW_PRIVATE, "--webhook-retry-delay", "0.2",
        "--webhook-retry-max-delay", "0.5", "--webhook-workers", "4")
    first = replicas[0]
    sign_up(first, "alice")
    create_repository(first, "alice", "app")
    hooks = repo_hooks("alice", "app")

    seen = set()  # deliveries the receiver has had a request for (the responder runs locked)

    def answer(hit: Received) -> int:
        first_attempt = hit.delivery not in seen
        seen.add(hit.delivery)
        if hit.number <= failures or (first_attempt and push_tag(hit) in hiccups):
            return 503
        return 200

    with WebhookReceiver() as receiver:
        receiver.set_responder(answer)
        hook = create_webhook(first, "alice", hooks, name="replicated", url=receiver.url)
        hook_url = hook_path(hooks, hook)

        # Blobs first (each through the replica that gets the image's manifest), then the 20
        # manifest PUTs back to back, replica 0, 1, 2, 0, ...: push order is the order of these.
        clients = [user_client(server, "alice") for server in replicas]
        images = {tag: make_image(n_layers=1, layer_size=2048, seed=f"replicas-{tag}")
                  for tag in tags}
        for i, tag in enumerate(tags):
            clients[i % count].push_blobs("alice/app", images[tag].blobs)
        pushed_at = {}
        started = time.monotonic()
        for i, tag in enumerate(tags):
            image = images[tag]
            clients[i % count].put_manifest("alice/app", tag, image.manifest, image.media_type)
            pushed_at[tag] = round(time.monotonic() - started, 3)

        def received_ok() -> list:
            return receiver.requests(lambda hit: 200 <= hit.status < 300)

        def context() -> str:
            by_tag = {}
            for hit in receiver.requests():
                by_tag.setdefault(push_tag(hit), hit.delivery)
            arrivals = "\n".join(
                f"  #{hit.number} +{hit.at - started:.3f} s {push_tag(hit)} {hit.delivery} "
                f"-> {hit.status}" for hit in receiver.requests())
            return (f"manifest PUT acknowledged at (s after the first began): {pushed_at}\n"
                    f"requests received:\n{arrivals}\n"
                    f"attempts by replica (their logs): {pretty(senders(replicas, by_tag))}")

        try:
            wait_for(lambda: len({hit.delivery for hit in received_ok()}) >= len(tags), 60,
                     interval=0.05, what=f"{len(tags)} distinct deliveries answered 2xx")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{context()}") from None

        # Every replica's log: the 20, delivered (the last may still be being recorded).
        listings = []
        for i, server in enumerate(replicas):
            last = {}

            def logged_delivered(server=server, last=last):
                last["listing"] = deliveries(server, "alice", hook_url)
                done = [d for d in last["listing"] if d["state"] == "delivered"]
                return last["listing"] if len(done) == len(tags) else None
            try:
                listings.append(wait_for(logged_delivered, WAIT,
                                         what=f"replica {i}'s log showing {len(tags)} delivered"))
            except AssertionError as exc:
                raise AssertionError(f"{exc}\nlast seen: {pretty(last.get('listing'))}\n"
                                     f"{context()}") from None
        # Several retry periods (0.2-0.5 s) for a late second send of any delivery to show up.
        time.sleep(2)

        received, ok, why = receiver.requests(), received_ok(), context()
        for hit in received:
            assert_wharf_request(hit, "push", hook)
        twice = {d: n for d, n in Counter(hit.delivery for hit in ok).items() if n > 1}
        assert not twice, f"deliveries answered 2xx more than once: {twice}\n{why}"
        assert len(ok) == len(tags), f"{len(ok)} 2xx answers for {len(tags)} pushes\n{why}"
        assert [push_tag(hit) for hit in ok] == tags, (
            f"the deliveries did not arrive in push order: {[push_tag(h) for h in ok]}\n{why}")
        by_tag = {push_tag(hit): hit for hit in ok}
        for tag in tags:
            assert by_tag[tag].json["push_data"]["images"] == [images[tag].digest], \
                by_tag[tag].describe()
            assert by_tag[tag].json["push_data"]["pusher"] == "alice", by_tag[tag].describe()
        # One at a time, in order: a request for a delivery only once the earlier ones are done.
        order = [tags.index(push_tag(hit)) for hit in received]
        assert order == sorted(order), f"a later delivery was sent before an earlier one\n{why}"
        refused = Counter(push_tag(hit) for hit in received if hit.status == 503)
        assert refused == Counter({tags[0]: failures, **{tag: 1 for tag in hiccups}}), \
            f"503s: {dict(refused)}\n{why}"
        assert len(received) == len(tags) + sum(refused.values()), why

        sent = Counter(hit.delivery for hit in received)
        newest_first = [by_tag[tag].delivery for tag in reversed(tags)]
        for i, listing in enumerate(listings):
            assert [d["id"] for d in listing] == newest_first, (
                f"replica {i}'s delivery log is not the 20 deliveries, newest first\n"
                f"{pretty(listing)}\n{why}")
            for entry in listing:
                assert entry["state"] == "delivered" and entry["event"] == "push", pretty(entry)
                assert attempt_codes(entry) == [503] * (sent[entry["id"]] - 1) + [200], (
                    f"replica {i} does not record the attempts the receiver saw "
                    f"({sent[entry['id']]}: 503s, then 200)\n{pretty(entry)}\n{why}")
        print(f"\n{len(tags)} manifests PUT in {pushed_at[tags[-1]]:.2f} s over {count} "
              f"replicas; all delivered {ok[-1].at - started:.2f} s after the first PUT began; "
              f"attempts by replica: {senders(replicas, {t: h.delivery for t, h in by_tag.items()})}")
