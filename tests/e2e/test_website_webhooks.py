"""The website's Webhooks pages (issue 13) in a real browser: headless Chromium driven by
selenium (browser.py), with a real receiver on loopback (webhook_receiver.py).

- the repository's owner logs in through the form, opens the Webhooks tab, is told why an
  ftp:// URL is refused (the form comes back as typed, the secret not echoed), adds a signed
  webhook pointing at the receiver, sends a test event and watches the delivery log until it
  says delivered with status 200 (the receiver got it, signed with the secret, and the log's
  request body is the exact body sent), redelivers it (the same body arrives again), disables
  the webhook (the page says so; a test event is then refused), and deletes it after the
  confirmation dialog (no, then yes);
- another logged-in person sees no Webhooks tab on the owner's public repository, gets no
  webhook page by its address, and forms posted with their own session change nothing.

Screenshots of the pages go where test_website.py puts its own (its ``shots`` fixture), with the
same page checks (labels, sideways scrolling on a phone, script errors, CSP violations).
"""

from __future__ import annotations

import re

import pytest
import requests

from browser import Browser, absent
from harness import wait_for
from hubapi import ADMIN_PASSWORD, create_repository, password, push_small_image, sign_up, \
    user_client
from oci import ALL_MANIFESTS, describe
from test_website import browsers, expect, shots  # noqa: F401 (fixtures)
from test_website import csrf_of, log_in_from_header, notice, tabs
from webhook_receiver import SECRET, WebhookReceiver, assert_signed

pytestmark = pytest.mark.wharf_only(reason="the website's webhooks")

# Receivers on loopback, and retries that come quickly.
ALLOW_PRIVATE = ["--webhook-allow-private", "true"]
FAST_RETRIES = ["--webhook-retry-delay", "0.2", "--webhook-retry-max-delay", "1"]
WAIT = 30  # seconds: generous, for a loaded machine; the waits end as soon as the thing happens
HOOK_PATH_RE = re.compile(r"^/r/alice/app/webhooks/(\d+)\?notice=created$")


@pytest.fixture
def hub(registry_factory):
    """A Wharf whose webhooks may call loopback (the receiver), retrying quickly; the
    `browsers` fixture (test_website.py) opens its browsers on this one."""
    return registry_factory(extra_args=ALLOW_PRIVATE + FAST_RETRIES,
                            env={"WHARF_ADMIN_PASSWORD": ADMIN_PASSWORD})


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------

def alert_error(b: Browser) -> str:
    """The page's error alert (not the 'this webhook is disabled' one)."""
    found = b.all(".alert.error:not(#disabled-reason)")
    return found[0].text.strip() if found else ""


def webhook_rows(b: Browser) -> list:
    """table#webhooks as [{name, href, url, events, badges}]."""
    rows = []
    for tr in b.all("table#webhooks tbody tr"):
        cells = b.all("td", within=tr)
        link = b.one("a", within=cells[0])
        rows.append({"name": link.text.strip(), "href": link.get_dom_attribute("href"),
                     "url": b.one("code", within=cells[1]).text.strip(),
                     "events": cells[2].text.strip(),
                     "badges": sorted(s.text.strip() for s in b.all(".badge", within=cells[3]))})
    return rows


def delivery_rows(b: Browser) -> list:
    """table#deliveries as [{id, state, status, event, attempts}], newest first as shown."""
    rows = []
    for tr in b.all("table#deliveries tr.delivery"):
        cells = b.all("td", within=tr)
        rows.append({"id": tr.get_attribute("data-delivery"),
                     "state": tr.get_attribute("data-state"),
                     "state_text": b.one("td.state", within=tr).text.strip(),
                     "status": b.one("td.status", within=tr).text.strip(),
                     "event": b.one("td.event", within=tr).text.strip(), "attempts": cells[3].text.strip()})
    return rows


def wait_for_deliveries(b: Browser, page: str, ids: set, what: str) -> list:
    """Open `page` (GET; the POSTed pages are not reloaded: that would post again) until every
    delivery in `ids` is listed as delivered; returns the rows."""
    seen = {}

    def done():
        b.open(page)
        seen["rows"] = delivery_rows(b)
        states = {row["id"]: row["state"] for row in seen["rows"]}
        return seen["rows"] if all(states.get(i) == "delivered" for i in ids) else None
    try:
        return wait_for(done, WAIT, interval=0.2, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nlast seen: {seen.get('rows')}") from None


def logged_body(b: Browser, delivery_id: str) -> str:
    """Open the delivery's details (a click on its summary) and return the request body the
    log shows (the <pre><code>'s text, exactly)."""
    row = b.one(f"tr.delivery[data-delivery='{delivery_id}']")
    detail = row.find_element("xpath", "following-sibling::tr[1]")
    assert "delivery-detail" in detail.get_attribute("class"), detail.get_attribute("outerHTML")
    details = b.one("details", within=detail)
    b.press(b.one("summary", within=details))
    assert details.get_property("open") is True, details.get_attribute("outerHTML")[:500]
    code = b.one("pre code", within=details)
    assert code.is_displayed(), details.get_attribute("outerHTML")[:500]
    attempts = [li.text for li in b.all("ol li", within=details)]
    assert len(attempts) == 1 and "status 200" in attempts[0], attempts
    return code.get_property("textContent")


# --------------------------------------------------------------------------------------
# The owner's journey
# --------------------------------------------------------------------------------------

def test_an_owner_adds_a_webhook_sends_a_test_event_redelivers_disables_and_deletes_it(
        hub, browsers, expect):
    sign_up(hub, "alice")
    create_repository(hub, "alice", "app")
    push_small_image(hub, "alice", "alice/app", "v1", seed="website-webhooks-v1")
    head = user_client(hub, "alice").head("/v2/alice/app/manifests/v1",
                                          headers={"Accept": ALL_MANIFESTS})
    assert head.status_code == 200, describe(head)
    digest = head.headers["Docker-Content-Digest"]

    alice = browsers("owner")
    log_in_from_header(alice, "alice")

    with WebhookReceiver() as receiver:
        # -- the repository's Webhooks tab: nothing yet ----------------------------------------
        alice.open("/r/alice/app")
        assert tabs(alice) == ["Overview", "Tags", "Builds", "Webhooks", "Settings"], tabs(alice)
        tab = alice.link("Webhooks", within=alice.one("nav.tabs"))
        assert tab.get_dom_attribute("href") == "/r/alice/app/webhooks", \
            tab.get_attribute("outerHTML")
        alice.click(tab)
        assert alice.path == "/r/alice/app/webhooks", alice.path
        current = alice.one("nav.tabs a[aria-current=page]")
        assert current.text.strip() == "Webhooks", current.get_attribute("outerHTML")
        assert alice.all("table#webhooks tbody tr") == [], webhook_rows(alice)
        assert "No webhooks yet." in alice.one("main").text, alice.main_html()[:2000]
        assert alice.one("#event-push").is_selected(), "push must be ticked by default"
        assert not alice.one("#event-tag_delete").is_selected()
        assert not alice.one("#event-repository_delete").is_selected()
        assert alice.one("#webhook-url").get_attribute("type") == "url"
        formats = [o.get_attribute("value") for o in alice.all("#webhook-format option")]
        assert formats == ["hub", "cloudevents"], formats
        assert alice.one("#webhook-format option:checked").get_attribute("value") == "hub"
        alice.shoot("webhooks-empty")

        # -- an ftp:// URL (a valid URL to the browser) is refused, and explained ---------------
        form = alice.one("form#new-webhook")
        alice.type("#webhook-name", "ci")
        alice.type("#webhook-url", "ftp://example.com/")
        alice.type("#webhook-secret", SECRET)
        alice.press(alice.one("#event-tag_delete"))
        alice.click(alice.button("Add webhook", within=form))
        assert alice.path == "/r/alice/app/webhooks", alice.path
        problem = alice.text("p.alert.error")
        assert "http or https" in problem and "url" in problem.lower(), \
            f"the refusal does not say why: {problem!r}\n{alice.main_html()[:2000]}"
        assert alice.all("table#webhooks tbody tr") == [], webhook_rows(alice)
        assert alice.one("#webhook-name").get_attribute("value") == "ci"
        assert alice.one("#webhook-url").get_attribute("value") == "ftp://example.com/"
        assert alice.one("#event-push").is_selected() and \
            alice.one("#event-tag_delete").is_selected(), "the events ticked come back ticked"
        assert alice.one("#webhook-secret").get_attribute("value") == "", \
            "the secret typed must not be sent back in the page"
        assert SECRET not in alice.driver.page_source, "the secret is in the page"
        alice.shoot("webhooks-refused")

        # -- the receiver's URL and a secret: added ---------------------------------------------
        alice.type("#webhook-url", receiver.url)
        alice.type("#webhook-secret", SECRET)
        alice.choose("#webhook-format", "hub")
        alice.click(alice.button("Add webhook", within=alice.one("form#new-webhook")))
        m = HOOK_PATH_RE.match(alice.path)
        assert m, f"after adding: {alice.path}\n{alice.main_html()[:2000]}"
        hook_id = m.group(1)
        page = f"/r/alice/app/webhooks/{hook_id}"
        assert notice(alice).startswith("Webhook added."), alice.main_html()[:2000]
        edit = alice.one("form#edit-webhook")
        assert alice.one("#webhook-name", within=edit).get_attribute("value") == "ci"
        assert alice.one("#webhook-url", within=edit).get_attribute("value") == receiver.url
        assert alice.one("#webhook-secret", within=edit).get_attribute("value") == ""
        assert alice.has("#remove-secret") and not alice.one("#remove-secret").is_selected(), \
            "a signed webhook offers to remove its secret"
        assert "Deliveries are signed." in edit.text, edit.text
        ticked = {e: alice.one(f"#event-{e}", within=edit).is_selected()
                  for e in ("push", "tag_delete", "repository_delete")}
        assert ticked == {"push": True, "tag_delete": True, "repository_delete": False}, ticked
        assert alice.one("#webhook-format option:checked").get_attribute("value") == "hub"
        assert alice.one("#webhook-enabled").is_selected(), "a new webhook is enabled"
        assert absent(alice, "#disabled-reason"), alice.text("#disabled-reason")
        assert SECRET not in alice.driver.page_source, "the secret is in the page"
        assert alice.all("table#deliveries tr.delivery") == [], delivery_rows(alice)
        assert "Nothing delivered yet." in alice.one("main").text
        assert receiver.requests() == [], receiver.summary()
        alice.shoot("webhook-added")

        alice.click(alice.link("All webhooks"))
        assert alice.path == "/r/alice/app/webhooks", alice.path
        assert webhook_rows(alice) == [{"name": "ci", "href": page, "url": receiver.url,
                                        "events": "push, tag_delete",
                                        "badges": ["enabled", "signed"]}], webhook_rows(alice)
        alice.shoot("webhooks")
        alice.click(alice.link("ci", within=alice.one("table#webhooks")))
        assert alice.path == page, alice.path

        # -- Send test event: delivered, signed, logged with the body sent ----------------------
        alice.click("#send-test")
        assert notice(alice).startswith("Test event queued"), alice.main_html()[:2000]
        [test] = receiver.wait_for_requests(1, what="the test event")
        assert test.method == "POST" and test.path == "/hook", test.describe()
        assert test.event == "test" and test.webhook == hook_id and test.delivery, \
            test.describe()
        assert_signed(test)
        body = test.json
        assert body["repository"]["repo_name"] == "alice/app", test.describe()
        assert body["push_data"]["tag"] == "v1", test.describe()
        assert body["push_data"]["pusher"] == "alice", test.describe()
        assert digest in body["push_data"]["images"], (digest, test.describe())
        rows = wait_for_deliveries(alice, page, {test.delivery}, "the test event delivered")
        assert [(r["id"], r["event"], r["state"], r["status"], r["attempts"]) for r in rows] == \
            [(test.delivery, "test", "delivered", "200", "1")], rows
        assert rows[0]["state_text"] == "delivered", rows
        logged = logged_body(alice, test.delivery)
        assert logged == test.body.decode(), \
            f"the log's request body is not the body sent:\n{logged}\n---\n{test.body!r}"
        alice.shoot("webhook-delivered")

        # -- Redeliver: the same body again, a new delivery -------------------------------------
        row = alice.one(f"tr.delivery[data-delivery='{test.delivery}']")
        alice.click(alice.one("button.redeliver", within=row))
        assert notice(alice) == "Delivery queued again.", alice.main_html()[:2000]
        again = receiver.wait_for_requests(2, what="the redelivery")[1]
        assert again.event == "test" and again.webhook == hook_id, again.describe()
        assert again.delivery and again.delivery != test.delivery, again.describe()
        assert again.body == test.body, \
            f"a redelivery must send the same body\n{test.describe()}\n{again.describe()}"
        assert_signed(again)
        rows = wait_for_deliveries(alice, page, {test.delivery, again.delivery},
                                   "the redelivery delivered")
        assert sorted(r["id"] for r in rows) == sorted([test.delivery, again.delivery]), rows
        assert all(r["status"] == "200" for r in rows), rows
        redelivered = [r for r in rows if r["id"] == again.delivery][0]
        assert redelivered["event"] == "test redelivery", rows
        assert logged_body(alice, again.delivery) == test.body.decode()
        assert len(receiver.requests()) == 2, receiver.summary()

        # -- untick Enabled and save: the page says it is disabled -----------------------------
        enabled = alice.one("#webhook-enabled")
        alice.press(enabled)
        assert not enabled.is_selected()
        alice.click(alice.button("Save", within=alice.one("form#edit-webhook")))
        assert notice(alice) == "Webhook saved.", alice.main_html()[:2000]
        assert alice.has("#disabled-reason"), alice.main_html()[:2000]
        assert "disabled" in alice.text("#disabled-reason"), alice.text("#disabled-reason")
        assert not alice.one("#webhook-enabled").is_selected()
        assert alice.has("#remove-secret"), "saving with an empty secret keeps it"
        alice.shoot("webhook-disabled")
        alice.click("#send-test")
        refusal = alert_error(alice)
        assert "disabled" in refusal, f"sending a test event to a disabled webhook: " \
                                      f"{refusal!r}\n{alice.main_html()[:2000]}"
        alice.open("/r/alice/app/webhooks")
        assert [r["badges"] for r in webhook_rows(alice)] == [["disabled", "signed"]], \
            webhook_rows(alice)
        assert len(receiver.requests()) == 2, receiver.summary()

        # -- delete it: the confirmation dialog, no then yes -----------------------------------
        alice.click(alice.link("ci", within=alice.one("table#webhooks")))
        assert alice.path == page, alice.path
        message = alice.click_expecting_confirm(alice.one("#delete-webhook"), accept=False)
        assert message.startswith("Delete the webhook ci?"), message
        assert alice.path == page and alice.has("form#edit-webhook"), alice.path
        alice.click_expecting_confirm(alice.one("#delete-webhook"), accept=True)
        assert alice.path == "/r/alice/app/webhooks?notice=deleted", alice.path
        assert notice(alice) == "Webhook deleted.", alice.main_html()[:2000]
        assert alice.all("table#webhooks tbody tr") == [], webhook_rows(alice)
        assert "No webhooks yet." in alice.one("main").text, alice.main_html()[:2000]
        alice.shoot("webhooks-deleted")
        alice.open(page)
        assert alice.h1() == "Not found", (alice.h1(), alice.main_html()[:1500])

    expect.all_met()


# --------------------------------------------------------------------------------------
# Someone else
# --------------------------------------------------------------------------------------

def test_a_stranger_sees_no_webhooks_tab_and_cannot_use_the_pages(hub, browsers):
    sign_up(hub, "alice", "bobby")
    create_repository(hub, "alice", "app")  # public
    r = requests.post(f"{hub.url}/api/repositories/alice/app/webhooks", timeout=30,
                      auth=("alice", password("alice")),
                      json={"name": "ci", "url": "http://127.0.0.1:9/hook", "secret": SECRET})
    assert r.status_code == 201, describe(r)
    hook_id = r.json()["id"]
    page = f"/r/alice/app/webhooks/{hook_id}"

    bob = browsers("stranger")
    log_in_from_header(bob, "bobby")
    bob.open("/r/alice/app")
    assert bob.title.startswith("alice/app"), bob.title
    assert tabs(bob) == ["Overview", "Tags"], f"a stranger must not get the Webhooks tab: " \
                                              f"{tabs(bob)}"
    assert absent(bob, "a[href*='/webhooks']"), bob.main_html()[:2000]
    for path in ("/r/alice/app/webhooks", page):
        bob.open(path)
        assert bob.h1() in ("Not found", "Not allowed"), (path, bob.h1(), bob.main_html()[:1500])
        assert absent(bob, "form#new-webhook") and absent(bob, "form#edit-webhook"), path
        assert "127.0.0.1:9" not in bob.driver.page_source, f"{path} shows the webhook's URL"

    # Forms posted with bobby's own session and form token (same origin): refused, no change.
    bob.open("/r/alice/app")
    csrf = csrf_of(bob)
    session = {"wharf_session": bob.cookie("wharf_session")["value"]}
    posts = [("/r/alice/app/webhooks", {"name": "evil", "url": "http://127.0.0.1:9/evil",
                                        "event_push": "on", "format": "hub"}),
             (page, {"name": "evil", "url": "http://127.0.0.1:9/evil", "event_push": "on",
                     "format": "hub", "enabled": "on"}),
             (f"{page}/test", {}),
             (f"{page}/delete", {})]
    for path, form in posts:
        r = requests.post(hub.url + path, data=dict(form, csrf=csrf), cookies=session,
                          headers={"Origin": hub.url}, allow_redirects=False, timeout=30)
        assert r.status_code in (403, 404), f"{path}: a stranger's post is not refused\n" \
                                            f"{describe(r)}"
        assert "did not come from Wharf" not in r.text and "another site" not in r.text, \
            f"{path}: refused as a cross-site post, not for the permission\n{describe(r)}"
    # The control: the same session and form token add a webhook to bobby's own repository.
    create_repository(hub, "bobby", "own")
    r = requests.post(f"{hub.url}/r/bobby/own/webhooks", cookies=session, timeout=30,
                      data={"csrf": csrf, "name": "mine", "url": "http://127.0.0.1:9/mine",
                            "event_push": "on", "format": "hub"},
                      headers={"Origin": hub.url}, allow_redirects=False)
    assert r.status_code == 303 and \
        r.headers["Location"].startswith("/r/bobby/own/webhooks/"), describe(r)
    r = requests.get(f"{hub.url}/api/repositories/alice/app/webhooks", timeout=30,
                     auth=("alice", password("alice")))
    assert r.status_code == 200, describe(r)
    hooks = r.json()
    hooks = hooks.get("results", hooks) if isinstance(hooks, dict) else hooks
    assert [(h["id"], h["name"], h["url"]) for h in hooks] == \
        [(hook_id, "ci", "http://127.0.0.1:9/hook")], hooks
    r = requests.get(f"{hub.url}/api/repositories/alice/app/webhooks/{hook_id}/deliveries",
                     timeout=30, auth=("alice", password("alice")))
    assert r.status_code == 200 and r.json() == [], f"a stranger queued a test event\n" \
                                                    f"{describe(r)}"

    # Anonymous: sent to log in (or not found), never the page.
    r = requests.get(hub.url + "/r/alice/app/webhooks", allow_redirects=False, timeout=30)
    assert r.status_code in (303, 404), describe(r)
    if r.status_code == 303:
        assert r.headers["Location"].startswith("/login"), describe(r)
