"""The website's Builds pages (issue 14) in a real browser: headless Chromium driven by selenium
(browser.py), building from a real git server on loopback (`git daemon`, gitserver.py) with the
server's real build engine (buildah), as test_builds.py does through the API.

- the repository's owner logs in, opens the Builds tab (nothing to build yet: "Connect a git
  repository below first."), is told why a file:// URL is refused (the form comes back as
  typed), saves settings pointing at the git daemon with a token, then a deploy key, then
  removes them (never shown back; the page and the API agree on every rule, build argument and
  autobuild), copies the trigger URL, asks for a ref no rule matches (refused, explained), then
  builds main: the build's page streams the log as it grows (site.js follows
  …/builds/{id}/log on the same page), reloads itself when the build ends and says success,
  with the push in the log; the history lists it. A build whose RUN step sleeps is stopped
  with the Cancel button (after the confirmation dialog: no, then yes) and ends cancelled;
- a stranger sees no Builds tab on the owner's public repository, gets no build page by its
  address, and forms posted with their own session change nothing.

Screenshots of the pages go where test_website.py puts its own (its ``shots`` fixture), with the
same page checks (labels, sideways scrolling on a phone, script errors, CSP violations).
"""

from __future__ import annotations

import os
import re

import pytest
import requests
from selenium.common.exceptions import WebDriverException

import test_builds as builds
from browser import Browser, absent
from harness import wait_for
from hubapi import ADMIN_PASSWORD, create_repository, pretty, sign_up
from oci import describe
from test_builds import build_tools, git_server  # noqa: F401 (fixtures: skip without tools)
from test_website import browsers, expect, shots  # noqa: F401 (fixtures)
from test_website import csrf_of, log_in_from_header, notice, tabs

pytestmark = pytest.mark.wharf_only(reason="the website's automated builds")

WAIT = 30  # seconds: generous, for a loaded machine; the waits end as soon as the thing happens
BUILD_TIMEOUT = builds.BUILD_TIMEOUT
BUILD_PATH_RE = re.compile(r"^/r/alice/app/builds/(\d+)$")
TRIGGER_RE = r"/api/build-triggers/[0-9a-f]{32}"
GREETING = "hello from a build started in the browser"

# Two pauses of a few seconds, each named on its RUN step's line (buildah's STEP line shows the
# command): the log grows while the build page is open, and the build is still running when
# the second one shows, so the page cannot have reloaded in between.
PAUSING_DOCKERFILE = f"""\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox sleep 4; : first-pause"]
ARG GREETING="{GREETING}"
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox echo \\"$GREETING\\" > /msg.txt; /bin/busybox sleep 4; : second-pause"]
CMD ["/bin/busybox", "cat", "/msg.txt"]
"""


@pytest.fixture
def hub(registry_factory):
    """A Wharf with the default build engine (buildah); the `browsers` fixture
    (test_website.py) opens its browsers on this one."""
    return registry_factory(env={"WHARF_ADMIN_PASSWORD": ADMIN_PASSWORD})


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------

def alert_error(b: Browser) -> str:
    found = b.all("p.alert.error")
    return found[0].text.strip() if found else ""


def build_rows(b: Browser) -> list:
    """table#builds as [{id, status, status_text, href, source, tag, commit}], newest first."""
    rows = []
    for tr in b.all("table#builds tr.build"):
        cells = b.all("td", within=tr)
        link = b.one("a", within=cells[0])
        rows.append({"id": tr.get_attribute("data-build"), "status": tr.get_attribute("data-status"),
                     "status_text": b.one("td.status", within=tr).text.strip(),
                     "href": link.get_dom_attribute("href"), "link": link.text.strip(),
                     "source": cells[1].text.strip(), "tag": cells[2].text.strip(),
                     "commit": cells[4].text.strip()})
    return rows


def rule_rows(b: Browser) -> list:
    """table#build-rules as the form shows it: [(type, source, dockerfile, context, tag, args)]."""
    rows = []
    for index, _tr in enumerate(b.all("table#build-rules tbody tr")):
        def value(field):
            return b.one(f"[name=rule_{index}_{field}]").get_attribute("value")
        kind = b.one(f"select[name=rule_{index}_type] option:checked").get_attribute("value")
        rows.append((kind, value("source"), value("dockerfile"), value("context"), value("tag"),
                     value("args")))
    return rows


def checked_credentials(b: Browser) -> str:
    return b.one("input[name=credentials_kind]:checked").get_attribute("value")


def api_settings(hub, status=200):
    r = builds.api(hub, "GET", builds.settings_path("alice", "app"), "alice")
    if status != 200:
        builds.expect_error(r, status, what="GET build-settings")
        return None
    view = builds.expect_json(r, 200, "GET build-settings")
    builds.assert_settings_view(view, hub)
    return view


def page_state(b: Browser):
    """The build page as the browser has it now, read in one go (None while it reloads):
    {page: the marker set on this document, or None after a reload, status, section,
    running (pre's data-running), log (the pre's text), cancel (a cancel button is there)}."""
    try:
        return b.driver.execute_script("""
            const pre = document.querySelector('pre#build-log');
            const status = document.querySelector('span#build-status');
            const section = document.querySelector('section#build');
            if (!pre || !status || !section || document.readyState !== 'complete') return null;
            return {page: window.__e2ePage || null, status: status.textContent.trim(),
                    section: section.dataset.status, running: pre.dataset.running,
                    log: pre.textContent, cancel: !!document.querySelector('button#cancel-build')};
        """)
    except WebDriverException:
        return None  # the page is being replaced (site.js reloads it when the build ends)


def mark_page(b: Browser) -> str:
    """Put a marker on the current document: it is gone once the page reloads."""
    token = os.urandom(6).hex()
    b.driver.execute_script("window.__e2ePage = arguments[0];", token)
    return token


def wait_for_page_state(b: Browser, check, what: str, timeout: float = BUILD_TIMEOUT) -> dict:
    seen = {}

    def reached():
        state = page_state(b)
        if state is not None:
            seen["state"] = state
        return state if state is not None and check(state) else None
    try:
        return wait_for(reached, timeout, interval=0.1, what=what)
    except AssertionError as exc:
        state = seen.get("state") or {}
        raise AssertionError(f"{exc}\nlast seen on {b.path}: "
                             f"{ {k: v for k, v in state.items() if k != 'log'} }\n"
                             f"--- log on the page ---\n{state.get('log')}") from None


def press_copy(b: Browser, target: str) -> str:
    """Press the Copy button of `target` (a code element); what got copied: the clipboard's
    text when the browser let the page write it, else the selection site.js made instead."""
    button = b.one(f"button.copy[data-copy='{target}']")
    assert button.text.strip() == "Copy", button.get_attribute("outerHTML")
    b.press(button)
    wait_for(lambda: button.text.strip() in ("Copied", "Press Ctrl+C"), WAIT,
             what=f"the Copy button of {target} to answer")
    if button.text.strip() == "Copied":
        return b.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "navigator.clipboard.readText().then(done, e => done('clipboard: ' + e));")
    return b.driver.execute_script("return window.getSelection().toString();").strip()


# --------------------------------------------------------------------------------------
# The owner's journey
# --------------------------------------------------------------------------------------

def test_an_owner_sets_up_builds_builds_main_watches_the_log_and_cancels_a_build(
        hub, browsers, expect, git_server, build_tools, tmp_path):
    sign_up(hub, "alice")
    create_repository(hub, "alice", "app")
    repository, work, sha = builds.git_app(git_server, tmp_path, build_tools,
                                           {"Dockerfile": PAUSING_DOCKERFILE})
    marker = builds.new_marker()
    work.write("Dockerfile", builds.sleep_dockerfile(marker))
    slow_sha = work.commit_and_push("slow", "a build that sleeps a minute")
    assert repository.ref_sha("refs/heads/slow") == slow_sha != sha
    token = "glpat-e2e-" + os.urandom(12).hex()
    ssh_key = ("-----BEGIN OPENSSH PRIVATE KEY-----\n" + os.urandom(48).hex() +
               "\n-----END OPENSSH PRIVATE KEY-----")

    alice = browsers("owner")
    alice.driver.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": hub.url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    log_in_from_header(alice, "alice")
    page = None
    try:
        # -- the Builds tab: nothing to build yet ------------------------------------------------
        alice.open("/r/alice/app")
        assert tabs(alice) == ["Overview", "Tags", "Builds", "Webhooks", "Settings"], tabs(alice)
        tab = alice.link("Builds", within=alice.one("nav.tabs"))
        assert tab.get_dom_attribute("href") == "/r/alice/app/builds", \
            tab.get_attribute("outerHTML")
        alice.click(tab)
        assert alice.path == "/r/alice/app/builds", alice.path
        assert alice.title.startswith("Builds"), alice.title
        current = alice.one("nav.tabs a[aria-current=page]")
        assert current.text.strip() == "Builds", current.get_attribute("outerHTML")
        build_now = alice.section("Build now")
        assert "Connect a git repository below first." in build_now.text, build_now.text
        assert absent(alice, "form#trigger-build") and absent(alice, "#build-ref")
        assert build_rows(alice) == [] and alice.has("table#builds"), alice.main_html()[:2000]
        assert "No builds yet." in alice.section("Recent builds").text
        assert alice.one("#git-url").get_attribute("value") == ""
        assert checked_credentials(alice) == "keep"
        assert "None (a public repository)" in alice.one("form#build-settings").text
        assert absent(alice, "#credentials-remove"), "nothing stored, nothing to remove"
        assert alice.one("#autobuild").is_selected(), "autobuild is on by default"
        assert rule_rows(alice) == [("branch", "main", "Dockerfile", ".", "latest", ""),
                                    ("branch", "", "", "", "", "")], rule_rows(alice)
        assert absent(alice, "code#trigger-url") and absent(alice, "code#trigger-secret")
        assert absent(alice, "#no-engine"), alice.text("#no-engine")
        alice.shoot("builds-empty")

        # -- a local path as the git URL is refused, and explained -----------------------------
        alice.type("#git-url", "file:///etc")
        alice.click(alice.button("Save build settings"))
        problem = alert_error(alice)
        assert "git_url" in problem or "git server" in problem, \
            f"the refusal does not say why: {problem!r}\n{alice.main_html()[:2000]}"
        assert "file:///etc" == alice.one("#git-url").get_attribute("value"), \
            "the form comes back as typed"
        assert "Connect a git repository below first." in alice.section("Build now").text
        assert absent(alice, "code#trigger-url")
        api_settings(hub, 404)
        alice.shoot("builds-refused")

        # -- the git daemon, a token and a second rule (a tag expression with build arguments) --
        alice.type("#git-url", repository.url)
        alice.press(alice.one("#credentials-token"))
        alice.type("#token-username", "deploy")
        alice.type("#token", token)
        alice.choose("select[name=rule_1_type]", "tag")
        alice.type("#rule-1-source", "/^v([0-9.]+)$/")
        alice.type("#rule-1-tag", "v{\\1}")
        alice.type("[name=rule_1_args]", "MODE=fast, GREETING=tagged build")
        alice.click(alice.button("Save build settings"))
        assert alice.path == "/r/alice/app/builds?notice=saved", \
            f"{alice.path}: {alert_error(alice)}\n{alice.main_html()[:2000]}"
        assert notice(alice) == "Build settings saved.", alice.main_html()[:2000]
        view = api_settings(hub)
        assert view["git_url"] == repository.url and view["has_credentials"] is True, pretty(view)
        assert view["autobuild"] is True and view["engine"] == "buildah", pretty(view)
        assert view["rules"] == [
            {"source_type": "branch", "source": "main", "dockerfile": "Dockerfile", "context": ".",
             "tag": "latest", "build_args": {}},
            {"source_type": "tag", "source": "/^v([0-9.]+)$/", "dockerfile": "Dockerfile",
             "context": ".", "tag": "v{\\1}",
             "build_args": {"GREETING": "tagged build", "MODE": "fast"}}], pretty(view)
        assert alice.one("#git-url").get_attribute("value") == repository.url
        assert rule_rows(alice) == [
            ("branch", "main", "Dockerfile", ".", "latest", ""),
            ("tag", "/^v([0-9.]+)$/", "Dockerfile", ".", "v{\\1}",
             "GREETING=tagged build, MODE=fast"),
            ("branch", "", "", "", "", "")], rule_rows(alice)
        assert "(stored)" in alice.one("form#build-settings fieldset legend").text
        assert alice.has("#credentials-remove"), "stored credentials can be removed"
        assert checked_credentials(alice) == "keep"
        assert "Keep the stored ones" in alice.one("form#build-settings").text
        assert alice.one("#token").get_attribute("value") == "", "the token is not sent back"
        assert token not in alice.driver.page_source, "the token is in the page"
        # The Build now form, and the trigger for the git server (the API's own).
        assert alice.has("form#trigger-build") and alice.has("#build-ref")
        alice.button("Build", within=alice.one("form#trigger-build"))
        assert "Connect a git repository" not in alice.section("Build now").text
        trigger_url = alice.text("code#trigger-url")
        trigger_secret = alice.text("code#trigger-secret")
        assert re.fullmatch(re.escape(hub.url) + TRIGGER_RE, trigger_url), trigger_url
        assert (trigger_url, trigger_secret) == (view["trigger_url"], view["trigger_secret"]), \
            (trigger_url, trigger_secret, pretty(view))
        for target in ("#trigger-url", "#trigger-secret"):
            copy = alice.one(f"button.copy[data-copy='{target}']")
            assert copy.text.strip() == "Copy" and copy.is_displayed(), \
                copy.get_attribute("outerHTML")
        copied = press_copy(alice, "#trigger-url")
        assert copied == trigger_url, f"the Copy button copied {copied!r}"
        alice.shoot("builds-settings-saved")

        # -- a deploy key instead (kept secret too), then no credentials and autobuild off ------
        alice.press(alice.one("#credentials-ssh"))
        alice.type("#ssh-key", ssh_key)
        alice.click(alice.button("Save build settings"))
        assert notice(alice) == "Build settings saved.", \
            f"{alert_error(alice)}\n{alice.main_html()[:2000]}"
        assert api_settings(hub)["has_credentials"] is True
        assert alice.one("#ssh-key").get_attribute("value") == ""
        source = alice.driver.page_source
        assert ssh_key.splitlines()[1] not in source and token not in source, \
            "the deploy key or the token is in the page"
        alice.press(alice.one("#credentials-remove"))
        alice.press(alice.one("#autobuild"))
        assert not alice.one("#autobuild").is_selected()
        alice.click(alice.button("Save build settings"))
        assert notice(alice) == "Build settings saved.", \
            f"{alert_error(alice)}\n{alice.main_html()[:2000]}"
        view = api_settings(hub)
        assert view["has_credentials"] is False and view["autobuild"] is False, pretty(view)
        assert view["git_url"] == repository.url and len(view["rules"]) == 2, pretty(view)
        assert (view["trigger_url"], view["trigger_secret"]) == (trigger_url, trigger_secret), \
            "saving again keeps the trigger"
        assert absent(alice, "#credentials-remove"), "nothing stored any more"
        assert "(stored)" not in alice.one("form#build-settings fieldset legend").text
        assert not alice.one("#autobuild").is_selected()
        assert alice.text("code#trigger-url") == trigger_url

        # -- Build now: a ref no rule matches is refused ----------------------------------------
        alice.type("#build-ref", "no-such-branch")
        alice.click(alice.button("Build", within=alice.one("form#trigger-build")))
        problem = alert_error(alice)
        assert "no-such-branch" in problem, \
            f"the refusal does not name the ref: {problem!r}\n{alice.main_html()[:2000]}"
        assert build_rows(alice) == [], build_rows(alice)
        assert builds.expect_json(builds.api(hub, "GET", builds.builds_path("alice", "app"),
                                             "alice"), 200) == []

        # -- Build now: main. The build's page, its log growing on the page ---------------------
        alice.type("#build-ref", "main")
        alice.click(alice.button("Build", within=alice.one("form#trigger-build")))
        m = BUILD_PATH_RE.match(alice.path)
        assert m, f"after Build: {alice.path}: {alert_error(alice)}\n{alice.main_html()[:2000]}"
        build_id = int(m.group(1))
        page = f"/r/alice/app/builds/{build_id}"
        first = page_state(alice)
        assert first is not None, alice.main_html()[:2000]
        mark = mark_page(alice)
        assert first["status"] in ("queued", "running") and first["section"] == first["status"], \
            first
        assert first["running"] == "true" and first["cancel"] is True, first
        heading = alice.text("section#build h2")
        assert heading == f"Build #{build_id}: branch main → latest", heading
        assert "started by alice" in alice.text("section#build"), alice.text("section#build")
        alice.link("All builds")

        # The same document (no reload) shows the first pause, then the second: it grew.
        at_first = wait_for_page_state(
            alice, lambda s: s["page"] == mark and "first-pause" in s["log"],
            "the first RUN step in the log, on the page as loaded")
        assert at_first["running"] == "true" and at_first["status"] in ("queued", "running"), \
            {k: v for k, v in at_first.items() if k != "log"}
        assert f"==> Commit {sha}" in at_first["log"], at_first["log"]
        at_second = wait_for_page_state(
            alice, lambda s: s["page"] != mark or "second-pause" in s["log"],
            "the second RUN step in the log, on the same page")
        assert at_second["page"] == mark, \
            f"the page reloaded before the second RUN step showed in its log:\n{at_second['log']}"
        assert at_second["log"].startswith(at_first["log"].rstrip("\n")), \
            f"the log did not grow by its end:\n{at_first['log']}\n---\n{at_second['log']}"
        assert len(at_second["log"]) > len(at_first["log"])
        assert "==> Pushed" not in at_second["log"], at_second["log"]

        # site.js reloads the page when the build ends: it says success, with the push.
        done = wait_for_page_state(alice, lambda s: s["page"] is None and s["status"] != "running"
                                   and s["status"] != "queued", "the page to reload, finished")
        assert done["status"] == "success" and done["section"] == "success", \
            f"{ {k: v for k, v in done.items() if k != 'log'} }\n{done['log']}"
        assert done["running"] == "false" and done["cancel"] is False, \
            {k: v for k, v in done.items() if k != "log"}
        assert alice.path == page, alice.path
        log = done["log"]
        builds.in_order(log, f"==> Cloning branch main of {repository.url}", f"==> Commit {sha}",
                        "first-pause", "second-pause", "==> Pushing", "==> Pushed alice/app:latest")
        assert "==> Failed" not in log, log
        api_log, finished = builds.log_now(hub, "alice", "alice", "app", build_id)
        assert finished and log.strip() == api_log.strip(), \
            f"the page's log is not the build's:\n{log}\n---\n{api_log}"
        assert f"commit {sha[:12]}" in alice.text("section#build"), alice.text("section#build")
        assert absent(alice, "#build-error"), alice.text("#build-error")
        view = builds.get_build(hub, "alice", "alice", "app", build_id)
        assert view["status"] == "success" and view["commit"] == sha, pretty(view)
        assert view["triggered_by"] == "alice", pretty(view)
        assert builds.registry_tags(hub, "alice", "alice/app") == ["latest"]
        alice.shoot("build-success")

        # -- the history ------------------------------------------------------------------------
        alice.click(alice.link("All builds"))
        assert alice.path == "/r/alice/app/builds", alice.path
        rows = build_rows(alice)
        assert [(r["id"], r["status"], r["status_text"], r["href"], r["link"], r["source"],
                 r["tag"], r["commit"]) for r in rows] == \
            [(str(build_id), "success", "success", page, f"#{build_id}", "branch main", "latest",
              sha[:12])], rows
        assert absent(alice, ".alert.notice") and absent(alice, "p.alert.error")
        alice.shoot("builds-history")

        # -- a third rule from the empty row, autobuild back on ---------------------------------
        alice.type("#rule-2-source", "slow")
        alice.type("#rule-2-tag", "slow")
        alice.press(alice.one("#autobuild"))
        alice.click(alice.button("Save build settings"))
        assert notice(alice) == "Build settings saved.", \
            f"{alert_error(alice)}\n{alice.main_html()[:2000]}"
        view = api_settings(hub)
        assert view["autobuild"] is True, pretty(view)
        assert [(r["source_type"], r["source"], r["tag"]) for r in view["rules"]] == [
            ("branch", "main", "latest"), ("tag", "/^v([0-9.]+)$/", "v{\\1}"),
            ("branch", "slow", "slow")], pretty(view)
        assert [r[1] for r in rule_rows(alice)] == ["main", "/^v([0-9.]+)$/", "slow", ""]

        # -- a build that sleeps a minute, stopped with Cancel ----------------------------------
        alice.type("#build-ref", "slow")
        alice.click(alice.button("Build", within=alice.one("form#trigger-build")))
        m = BUILD_PATH_RE.match(alice.path)
        assert m, f"after Build: {alice.path}: {alert_error(alice)}\n{alice.main_html()[:2000]}"
        slow_id = int(m.group(1))
        assert slow_id != build_id
        page = f"/r/alice/app/builds/{slow_id}"
        mark = mark_page(alice)
        running = wait_for_page_state(
            alice, lambda s: s["page"] == mark and marker in s["log"],
            "the sleeping RUN step in the log, on the page as loaded")
        assert running["running"] == "true" and running["cancel"] is True, \
            {k: v for k, v in running.items() if k != "log"}
        wait_for(lambda: builds.processes_mentioning(marker), 60, what="the RUN step's processes")
        assert builds.get_build(hub, "alice", "alice", "app", slow_id)["status"] == "running"
        alice.shoot("build-running")
        mark = mark_page(alice)  # shoot() does not reload; mark again all the same

        message = alice.click_expecting_confirm(alice.one("button#cancel-build"), accept=False)
        assert message == f"Stop build #{slow_id}?", message
        still = page_state(alice)
        assert still and still["page"] == mark and still["cancel"], still
        view = builds.get_build(hub, "alice", "alice", "app", slow_id)
        assert view["status"] == "running" and view["cancel_requested"] is False, pretty(view)

        alice.click_expecting_confirm(alice.one("button#cancel-build"), accept=True)
        assert alice.path == page, alice.path
        cancelled = wait_for_page_state(alice, lambda s: s["status"] == "cancelled",
                                        "the page to say cancelled", timeout=WAIT)
        assert cancelled["section"] == "cancelled" and cancelled["running"] == "false", \
            {k: v for k, v in cancelled.items() if k != "log"}
        assert cancelled["cancel"] is False, "a finished build offers no Cancel"
        log = cancelled["log"]
        assert log.rstrip().endswith("==> cancelled"), log
        assert "==> Pushing" not in log and "==> Pushed" not in log, log
        assert f"==> Commit {slow_sha}" in log, log
        assert "(stopping)" not in alice.text("section#build"), alice.text("section#build")
        view = builds.get_build(hub, "alice", "alice", "app", slow_id)
        assert view["status"] == "cancelled" and view["cancel_requested"] is True, pretty(view)
        assert view["error"] is None, pretty(view)
        assert builds.registry_tags(hub, "alice", "alice/app") == ["latest"]
        try:
            wait_for(lambda: not builds.processes_mentioning(marker), 15,
                     what="the cancelled build's RUN step to end")
        except AssertionError as exc:
            expect(False, f"{exc}: still running\n"
                          f"{builds.describe_processes(builds.processes_mentioning(marker))}")
        alice.shoot("build-cancelled")

        alice.click(alice.link("All builds"))
        rows = build_rows(alice)
        assert [(r["id"], r["status"], r["status_text"], r["source"], r["tag"]) for r in rows] == \
            [(str(slow_id), "cancelled", "cancelled", "branch slow", "slow"),
             (str(build_id), "success", "success", "branch main", "latest")], rows
    finally:
        for item in builds.expect_json(builds.api(hub, "GET", builds.builds_path("alice", "app"),
                                                  "alice"), 200):
            if item["status"] not in builds.FINISHED:
                builds.api(hub, "POST", f"{builds.builds_path('alice', 'app')}/{item['id']}/cancel",
                           "alice")
        builds.end_leftover_build_processes(hub, marker)

    expect.all_met()


# --------------------------------------------------------------------------------------
# Someone else
# --------------------------------------------------------------------------------------

def test_a_stranger_sees_no_builds_tab_and_cannot_use_the_pages(hub, browsers, build_tools):
    sign_up(hub, "alice", "bobby")
    create_repository(hub, "alice", "app")  # public
    git_url = "git://127.0.0.1:9/app.git"  # nothing listens: the build fails at the clone
    view = builds.save_settings(hub, "alice", "alice", "app", git_url,
                                [builds.rule("branch", "main", tag="latest")],
                                credentials={"token": "glpat-e2e-" + os.urandom(8).hex()})
    [build] = builds.start_builds(hub, "alice", "alice", "app", "main")
    done = builds.wait_for_build(hub, "alice", "alice", "app", build["id"])
    assert done["status"] == "failed", pretty(done)
    page = f"/r/alice/app/builds/{build['id']}"

    bob = browsers("stranger")
    log_in_from_header(bob, "bobby")
    bob.open("/r/alice/app")
    assert bob.title.startswith("alice/app"), bob.title
    assert tabs(bob) == ["Overview", "Tags"], f"a stranger must not get the Builds tab: {tabs(bob)}"
    assert absent(bob, "a[href*='/builds']"), bob.main_html()[:2000]
    for path in ("/r/alice/app/builds", page, f"{page}/log"):
        bob.open(path)
        assert bob.h1() in ("Not found", "Not allowed"), (path, bob.h1(), bob.main_html()[:1500])
        for css in ("form#build-settings", "form#trigger-build", "table#builds", "section#build",
                    "pre#build-log", "button#cancel-build"):
            assert absent(bob, css), f"{path} shows {css}"
        source = bob.driver.page_source
        for secret in (git_url, view["trigger_secret"], view["trigger_url"]):
            assert secret not in source, f"{path} shows {secret}"

    # Forms posted with bobby's own session and form token (same origin): refused, no change.
    bob.open("/r/alice/app")
    csrf = csrf_of(bob)
    session = {"wharf_session": bob.cookie("wharf_session")["value"]}
    posts = [("/r/alice/app/builds/settings", {"git_url": "git://127.0.0.1:9/evil.git",
                                               "credentials_kind": "remove", "autobuild": "on",
                                               "rule_0_type": "branch", "rule_0_source": "evil",
                                               "rule_0_tag": "evil"}),
             ("/r/alice/app/builds/trigger", {"ref": "main"}),
             (f"{page}/cancel", {})]
    for path, form in posts:
        r = requests.post(hub.url + path, data=dict(form, csrf=csrf), cookies=session,
                          headers={"Origin": hub.url}, allow_redirects=False, timeout=30)
        assert r.status_code in (403, 404), f"{path}: a stranger's post is not refused\n" \
                                            f"{describe(r)}"
        assert "did not come from Wharf" not in r.text and "another site" not in r.text, \
            f"{path}: refused as a cross-site post, not for the permission\n{describe(r)}"
        assert view["trigger_secret"] not in r.text, f"{path}: the answer shows the secret"
    # The control: the same session and form token save settings of bobby's own repository.
    create_repository(hub, "bobby", "own")
    r = requests.post(f"{hub.url}/r/bobby/own/builds/settings", cookies=session, timeout=30,
                      data={"csrf": csrf, "git_url": "git://127.0.0.1:9/own.git",
                            "credentials_kind": "keep", "autobuild": "on",
                            "rule_0_type": "branch", "rule_0_source": "main",
                            "rule_0_tag": "latest"},
                      headers={"Origin": hub.url}, allow_redirects=False)
    assert r.status_code == 303 and \
        r.headers["Location"] == "/r/bobby/own/builds?notice=saved", describe(r)
    after = builds.expect_json(builds.api(hub, "GET", builds.settings_path("alice", "app"),
                                          "alice"), 200)
    assert after == view, f"a stranger changed the settings:\n{pretty(after)}\n{pretty(view)}"
    listing = builds.expect_json(builds.api(hub, "GET", builds.builds_path("alice", "app"),
                                            "alice"), 200)
    assert [(b["id"], b["status"], b["cancel_requested"]) for b in listing] == \
        [(build["id"], "failed", False)], f"a stranger started or touched a build: {listing}"

    # Anonymous: sent to log in (or not found), never the page.
    for path in ("/r/alice/app/builds", page, f"{page}/log"):
        r = requests.get(hub.url + path, allow_redirects=False, timeout=30)
        assert r.status_code in (303, 404), f"{path}\n{describe(r)}"
        if r.status_code == 303:
            assert r.headers["Location"].startswith("/login"), describe(r)
        assert view["trigger_secret"] not in r.text and git_url not in r.text, describe(r)
