"""The website (issue 12) in a real browser: headless Chromium driven by selenium, clicking,
typing and submitting forms the way a person does, with `docker login` / `docker push` for the
images the pages show.

- a person signs up, logs out and in, makes an access token, pushes with it, sees the
  repository and its tags (digest and size as docker and the registry say), writes a README
  with script in it (nothing runs), makes the repository private (an anonymous browser gets
  the same 404 page as for a missing one), stars it, finds it, deletes a tag, logs out;
- an organization with a team that is given a private repository, seen by a second person;
- a form posted from another site is refused (in the browser and with crafted requests).

Screenshots of every main page at desktop and phone widths (and desktop in the dark scheme)
go to $E2E_SCREENSHOTS or `screenshots/` under pytest's base temporary folder; the folder is
printed at the end of the run.  Taking them also checks each page: no sideways scrolling on a
phone, a label on every form control, no script error or CSP violation in the console.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from pathlib import Path

import pytest
import requests

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from browser import Browser, Screenshots, absent
from harness import free_port
from hubapi import (create_repository, docker_login, docker_logout, hub_login, manifest_size,
                    password, patch_repository, sign_up as sign_up_by_api, user_client)
from oci import describe

pytestmark = pytest.mark.wharf_only(reason="the website")

ADMIN_PASSWORD = "e2e-admin-password"
PUSH_DIGEST_RE = re.compile(r": digest: (sha256:[0-9a-f]{64}) size: \d+")

# Markdown a person writes, with what a sanitizer must take out: script, an event handler,
# javascript: links (plain, mixed case, entity-encoded), an inline style and an SVG onload.
README = """# Tiny image

A *tiny* image for **testing**, with `code` and a [safe link](https://example.com/docs).

- first
- second

[click me](javascript:alert(3)) and [encoded](jav&#x61;script:alert(5))

<a href="JaVaScRiPt:alert(4)">raw link</a>

<p style="position:fixed;top:0;left:0;width:100%;height:100%;background:red">overlay</p>

<svg onload=alert(6)></svg>

<script>alert(1)</script>

<img src=x onerror=alert(2)>
"""


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------

@pytest.fixture
def hub(registry_factory):
    return registry_factory(env={"WHARF_ADMIN_PASSWORD": ADMIN_PASSWORD})


@pytest.fixture(scope="session")
def shots(request, tmp_path_factory):
    """The screenshot folder of the run ($E2E_SCREENSHOTS or <basetemp>/screenshots)."""
    configured = os.environ.get("E2E_SCREENSHOTS")
    folder = Path(configured).resolve() if configured else \
        tmp_path_factory.getbasetemp() / "screenshots"
    screenshots = Screenshots(folder)
    yield screenshots
    line = f"website screenshots ({len(screenshots.taken)} files): {folder}"
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # shown even when the test passed
            reporter.write("\n")
            reporter.write_line(line)
    else:
        print(line)


@pytest.fixture
def browsers(hub, shots, request):
    """open(name) -> a new Browser (fresh profile) on `hub`; all quit after the test. When the
    test fails, its report gets each browser's page, a screenshot of it and its console."""
    opened = []

    def report(browser):
        shot = browser.snapshot(shots.folder, request.node.name)
        console = "\n".join(f"  {path}: {entry.get('level')} {entry.get('message')}"
                            for path, entry in browser.console[-20:])
        return f"page: {browser.driver.current_url}\nscreenshot: {shot}\nconsole:\n{console}"

    def open_browser(name: str) -> Browser:
        browser = Browser(hub.url, name, shots)
        opened.append(browser)
        logs = getattr(request.node, "_e2e_logs", None)
        if logs is None:
            logs = request.node._e2e_logs = []
        logs.append((f"browser {name}", functools.partial(report, browser)))
        return browser

    yield open_browser
    for browser in opened:
        browser.quit()


class Expect:
    """Checks that do not stop the journey (a wrong detail on one page): collected, then
    asserted at the end of the test together with what the screenshots' page checks found."""

    def __init__(self, shots: Screenshots):
        self.shots = shots
        self.failed: list = []

    def __call__(self, ok: bool, message: str):
        if not ok:
            self.failed.append(message)

    def all_met(self):
        problems = self.failed + self.shots.problems
        assert not problems, "\n".join(problems)


@pytest.fixture
def expect(shots) -> Expect:
    shots.problems.clear()
    return Expect(shots)


@pytest.fixture
def engine(dockerd, hub):
    """The session's Docker engine, logged out of this test's hub afterwards."""
    yield dockerd
    docker_logout(dockerd, hub)


# --------------------------------------------------------------------------------------
# What a person does, step by step
# --------------------------------------------------------------------------------------

def sign_up(b: Browser, user: str, shoot: bool = False):
    """From any page: the header's Sign up link, the form, and we land on our namespace."""
    b.open("/")
    b.click(b.link("Sign up"))
    assert b.path == "/signup" and b.h1() == "Create your account", b.path
    if shoot:
        b.shoot("signup")
    b.type("#username", user)
    b.type("#email", f"{user}@example.com")
    b.type("#password", password(user))
    b.click(b.button("Sign up"))
    assert b.path == f"/u/{user}", f"after sign-up: {b.path}\n{b.main_html()[:2000]}"
    assert_logged_in(b, user)


def log_in(b: Browser, user: str, secret: str = None):
    """On the login page: type the name and password, press the button."""
    assert b.path.startswith("/login"), b.path
    b.type("#username", user)
    b.type("#password", secret or password(user))
    b.click(b.button("Log in"))


def log_out(b: Browser):
    b.click(b.button("Log out", within=b.one("header.site-header")))
    assert b.path == "/", b.path
    assert_logged_out(b)


def assert_logged_in(b: Browser, user: str):
    header = b.one("header.site-header")
    b.link(user, within=header)
    b.button("Log out", within=header)
    assert not any(a.text == "Log in" for a in b.all("a", within=header)), header.text


def log_in_from_header(b: Browser, user: str):
    """From the home page: the header's Log in link, the form, and we are back home."""
    b.open("/")
    b.click(b.link("Log in", within=b.one("header.site-header")))
    log_in(b, user)
    assert b.path == "/", b.path
    assert_logged_in(b, user)


def tabs(b: Browser) -> list:
    """The labels of a repository page's tabs."""
    return [a.text.strip() for a in b.all("nav.tabs a")]


def assert_logged_out(b: Browser):
    header = b.one("header.site-header")
    b.link("Log in", within=header)
    assert absent(b, "header.site-header button.link"), header.text
    assert b.cookie("wharf_session") is None, b.cookie("wharf_session")


def notice(b: Browser) -> str:
    found = b.all(".alert.notice")
    return found[0].text.strip() if found else ""


def error(b: Browser) -> str:
    found = b.all(".alert.error")
    return found[0].text.strip() if found else ""


def csrf_of(b: Browser) -> str:
    return b.one("input[name=csrf]").get_attribute("value")


def build_image(engine, tmp_path: Path, ref: str, size: int):
    """docker build FROM scratch + one file of random bytes."""
    context = tmp_path / re.sub(r"[^a-z0-9]+", "-", ref.lower())
    context.mkdir()
    (context / "payload.bin").write_bytes(os.urandom(size))
    (context / "Dockerfile").write_text("FROM scratch\nCOPY payload.bin /payload.bin\n")
    engine.docker("build", "--tag", ref, str(context))


def push(engine, ref: str) -> str:
    out = engine.docker("push", ref).stdout
    m = PUSH_DIGEST_RE.search(out)
    assert m, f"no digest in docker push output:\n{out}"
    return m.group(1)


def readme_facts(b: Browser) -> dict:
    """What the README container holds, as the browser parsed it."""
    return b.driver.execute_script("""
        const root = document.querySelector('article.readme');
        const all = [...root.querySelectorAll('*')];
        return {
          scripts: root.getElementsByTagName('script').length,
          handlers: all.flatMap(e => [...e.attributes]
              .filter(a => a.name.toLowerCase().startsWith('on'))
              .map(a => e.tagName + ' ' + a.name + '=' + a.value)),
          styles: all.filter(e => e.hasAttribute('style')).map(e => e.outerHTML),
          links: [...root.querySelectorAll('a')].map(a => ({text: a.textContent.trim(),
                    href: a.getAttribute('href'), protocol: a.href ? a.protocol : null})),
          dangerous: all.filter(e => ['IFRAME', 'OBJECT', 'EMBED', 'FORM', 'SVG', 'svg',
                                      'STYLE', 'LINK', 'META', 'BASE'].includes(e.tagName))
                        .map(e => e.outerHTML),
          html: root.innerHTML,
        };""")


def anonymous_page(hub, path: str) -> requests.Response:
    return requests.get(hub.url + path, timeout=30, allow_redirects=False)


# --------------------------------------------------------------------------------------
# The person's journey
# --------------------------------------------------------------------------------------

def test_sign_up_token_push_readme_private_star_search_delete_tag_log_out(
        hub, engine, browsers, expect, tmp_path):
    alice = browsers("alice")

    # -- sign up, log out, log in (a wrong password first), log out and in again -------------
    sign_up(alice, "alice", shoot=True)
    cookie = alice.cookie("wharf_session")
    assert cookie and cookie["httpOnly"] and cookie.get("sameSite") == "Lax" \
        and not cookie["secure"], f"session cookie flags over plain HTTP: {cookie}"
    first_session = cookie["value"]
    log_out(alice)
    r = requests.get(hub.url + "/settings", cookies={"wharf_session": first_session},
                     allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["Location"].startswith("/login"), \
        f"a logged-out session must be gone on the server\n{describe(r)}"

    alice.click(alice.link("Log in"))
    assert alice.path.startswith("/login") and alice.h1() == "Log in", alice.path
    alice.shoot("login")
    log_in(alice, "alice", "not-the-password")
    assert alice.path.startswith("/login"), alice.path
    assert error(alice) == "Incorrect username or password.", alice.main_html()[:1500]
    assert alice.one("#username").get_attribute("value") == "alice"
    log_in(alice, "alice")
    assert alice.path == "/", alice.path
    assert_logged_in(alice, "alice")
    second_session = alice.cookie("wharf_session")["value"]
    assert second_session != first_session, "login must start a new session"

    # -- settings, then an access token, shown once ------------------------------------------
    alice.click(alice.link("Settings"))
    assert alice.path == "/settings" and alice.h1() == "Settings", alice.path
    assert alice.one("#email").get_attribute("value") == "alice@example.com"
    alice.shoot("settings")
    alice.click(alice.link("Access tokens"))
    assert alice.path == "/settings/tokens", alice.path
    assert alice.has("main p.muted") and "No tokens yet" in alice.one("main").text
    alice.type("#token-name", "laptop")
    alice.choose("#token-scope", "read-write")
    alice.click(alice.button("Generate"))
    secret = alice.text("#new-token")
    assert secret.startswith("wharf_pat_") and len(secret) > 20, secret
    alice.shoot("tokens-created")
    alice.driver.refresh()  # reload: the secret is not shown again (and no second token made)
    alice._wait_ready()
    expect(absent(alice, "#new-token") and secret not in alice.driver.page_source
           and len(alice.all("main table.data tbody tr")) == 1,
           f"reloading /settings/tokens after creating a token shows a token again "
           f"(new secret: {alice.has('#new-token')}, tokens listed: "
           f"{len(alice.all('main table.data tbody tr'))}): the form is posted again")
    alice.open("/settings/tokens")  # come back later: the secret is not shown again
    assert absent(alice, "#new-token"), "the token must be shown only once"
    assert secret not in alice.driver.page_source, "the secret is still in the page"
    rows = [row.text for row in alice.all("main table.data tbody tr")]
    assert rows and all("laptop" in row and "read-write" in row for row in rows), rows
    alice.shoot("tokens")

    # -- docker login with the token; push two tags --------------------------------------------
    result = docker_login(engine, hub, "alice", secret)
    assert result.returncode == 0, result.stdout + result.stderr
    refs = {tag: f"{hub.host}/alice/app:{tag}" for tag in ("v1", "v2")}
    digests = {}
    for size, (tag, ref) in zip((7000, 12000), refs.items()):
        build_image(engine, tmp_path, ref, size)
        digests[tag] = push(engine, ref)
        repo_digest = engine.docker("inspect", "--format", "{{index .RepoDigests 0}}",
                                    ref).stdout.strip()
        assert repo_digest == f"{hub.host}/alice/app@{digests[tag]}", (repo_digest, digests)
    platform = engine.docker("image", "inspect", "--format", "{{.Os}}/{{.Architecture}}",
                             refs["v1"]).stdout.strip()
    alice.open("/settings/tokens")  # the token's row says it was used
    used = [[td.text for td in alice.all("td", within=row)]
            for row in alice.all("main table.data tbody tr")]
    expect(any(len(cells) >= 4 and cells[3] == "just now" for cells in used),
           f"/settings/tokens: the token docker logged in and pushed with is not shown as "
           f"used: {used}")
    registry = user_client(hub, "alice")
    sizes = {}
    for tag in refs:
        r = registry.get_manifest("alice/app", tag)
        assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == digests[tag], \
            describe(r)
        sizes[tag] = manifest_size(r.json())

    # -- the namespace, the repository, its tags, a tag -----------------------------------------
    alice.click(alice.link("alice", within=alice.one("header.site-header")))
    assert alice.path == "/u/alice" and alice.h1() == "alice", alice.path
    assert "1 repository" in alice.one("main .page-header").text
    alice.shoot("namespace")
    alice.click(alice.link("alice/app"))
    assert alice.path == "/r/alice/app", alice.path
    assert alice.text("#pull-command") == f"docker pull {hub.host}/alice/app"
    assert alice.text("#star-count") == "0"
    recent = [a.text for a in alice.all("aside a[href*='/tags/']")]
    assert sorted(recent) == ["v1", "v2"], recent
    assert "no README yet" in alice.one("article.readme").text
    alice.click(alice.link("Tags", within=alice.one("nav.tabs")))
    assert alice.path == "/r/alice/app/tags", alice.path
    assert alice.text("#tag-count") == "2 tags"
    for tag in refs:
        row = alice.one(f"tr[data-tag='{tag}']")
        digest = alice.one("code.digest", within=row)
        assert digest.get_attribute("data-digest") == digests[tag], row.get_attribute("outerHTML")
        assert digest.text == digests[tag][:len("sha256:") + 12], digest.text
        size = alice.one("td.size", within=row)
        assert int(size.get_attribute("data-bytes")) == sizes[tag], \
            (tag, size.get_attribute("outerHTML"), sizes)
        cells = [td.text.strip() for td in alice.all("td", within=row)]
        assert cells[2] == platform and cells[4] == "just now by alice", cells
    assert absent(alice, ".pager") or alice.text(".pager span") == "Page 1 of 1"
    expect(absent(alice, ".pager a[rel=next]") and absent(alice, ".pager a[rel=prev]"),
           f"{alice.path}: a 'Next' link on the only page of 2 tags: "
           f"{[a.get_attribute('href') for a in alice.all('.pager a')]}")
    alice.shoot("tags")
    alice.click(alice.link("v1", within=alice.one("tr[data-tag='v1']")))
    assert alice.path == "/r/alice/app/tags/v1", alice.path
    assert digests["v1"] in alice.one("main .page-header").text
    assert alice.text("#pull-command") == f"docker pull {hub.host}/alice/app:v1"
    layers = [li.text for li in alice.all("ol.layers li")]
    assert len(layers) == 1 and "COPY" in layers[0] and "/payload.bin" in layers[0], layers
    alice.shoot("tag")

    # -- the README, with script in it ---------------------------------------------------------
    alice.click(alice.link("Settings", within=alice.one("nav.tabs")))
    assert alice.path == "/r/alice/app/settings", alice.path
    alice.type("#description", "A tiny test image")
    alice.type("#full_description", README)
    alice.click(alice.button("Save", within=alice.section("Description and README")))
    assert notice(alice) == "Description and README saved.", alice.main_html()[:2000]
    assert alice.alert_text() is None, f"an alert ran on the settings page: {alice.alert_text()}"
    source = alice.one("#full_description").get_property("value")
    assert source == README, f"the README source does not come back as typed:\n{source!r}"
    assert len(alice.all("script")) == 1, "only the site's own script on the settings page"
    alice.shoot("repository-settings")

    alice.click(alice.link("Overview", within=alice.one("nav.tabs")))
    assert alice.path == "/r/alice/app", alice.path
    assert alice.alert_text() is None, f"the README ran script: {alice.alert_text()}"
    assert alice.text(".repo-header .lead") == "A tiny test image"
    markdown = alice.one("article.readme .markdown")
    rendered = markdown.get_attribute("innerHTML")
    assert alice.text("article.readme h1") == "Tiny image"
    assert alice.one("em", within=markdown).text == "tiny"
    assert alice.one("strong", within=markdown).text == "testing"
    assert alice.one("code", within=markdown).text == "code"
    assert [li.text for li in alice.all("ul li", within=markdown)] == ["first", "second"], \
        rendered
    facts = readme_facts(alice)
    assert facts["scripts"] == 0, facts["html"]
    assert alice.driver.find_elements("css selector", "article.readme script") == []
    assert facts["handlers"] == [] and "onerror" not in facts["html"].lower(), facts["html"]
    assert facts["styles"] == [], facts["html"]
    assert facts["dangerous"] == [], facts["html"]
    links = {link["text"]: link for link in facts["links"]}
    assert links.get("safe link", {}).get("href") == "https://example.com/docs", facts["links"]
    assert {"click me", "encoded", "raw link"} <= set(links), facts["links"]
    for link in facts["links"]:
        assert (link["protocol"] or "") in ("http:", "https:", ""), facts["links"]
        assert "script:" not in (link["href"] or "").lower().replace("&#x61;", "a"), facts["links"]
    assert len(alice.all("script")) == 1, "only the site's own script on the repository page"
    for text in ("click me", "raw link"):
        link = [a for a in alice.all("article.readme a") if a.text == text][0]
        alice.press(link)
        assert alice.alert_text() is None and alice.path == "/r/alice/app", (text, alice.path)
    assert alice.console_errors() == [], "script errors or CSP violations on the README page"
    alice.open("/r/alice/app")  # keyboard, from the top: the first stop skips to the content
    ActionChains(alice.driver).send_keys(Keys.TAB).perform()
    focused = alice.driver.switch_to.active_element
    expect(focused.get_attribute("class") == "skip"
           and focused.get_dom_attribute("href") == "#main",
           f"{alice.path}: the first Tab stop is {focused.get_attribute('outerHTML')}, "
           f"not the skip link")
    alice.shoot("repository")

    # -- private: an anonymous browser sees what it sees for a missing repository -------------
    alice.click(alice.link("Settings", within=alice.one("nav.tabs")))
    assert "0 of 1" in alice.section("Visibility").text, alice.section("Visibility").text
    alice.click("#make-private")
    assert notice(alice) == "The repository is private.", alice.main_html()[:2000]
    assert alice.has(".repo-header .badge.private") and alice.has("#make-public")
    assert "1 of 1" in alice.section("Visibility").text, alice.section("Visibility").text

    stranger = browsers("anonymous")
    stranger.open("/r/alice/app")
    hidden = (stranger.title, stranger.h1(), stranger.text(".status-code"),
              stranger.text(".empty-state p:not(.status-code)"))
    hidden_main = stranger.main_html()
    stranger.shoot("404")
    stranger.open("/r/alice/nothing-here")
    missing = (stranger.title, stranger.h1(), stranger.text(".status-code"),
               stranger.text(".empty-state p:not(.status-code)"))
    assert hidden == missing, (hidden, missing)
    assert hidden[1] == "Not found" and hidden[2] == "404", hidden
    assert stranger.main_html() == hidden_main
    for suffix in ("", "/tags", "/tags/v1"):
        private = anonymous_page(hub, f"/r/alice/app{suffix}")
        missing_one = anonymous_page(hub, f"/r/alice/nothing-here{suffix}")
        assert private.status_code == missing_one.status_code == 404, \
            (describe(private), describe(missing_one))
        # The same body but for the page's own path (in the "Log in" link's return address).
        assert private.text.replace("/r/alice/app", "@") == \
            missing_one.text.replace("/r/alice/nothing-here", "@"), \
            f"the private repository's 404 differs from a missing one's:\n{private.text}\n---\n" \
            f"{missing_one.text}"
        assert private.headers.get("Content-Type") == missing_one.headers.get("Content-Type")
    stranger.type_and_enter("#site-search", "app")
    assert stranger.path == "/search?q=app", stranger.path
    assert stranger.text("#result-count").startswith("0 results"), stranger.text("#result-count")
    stranger.open("/search?q=app&page=1")  # "Log in" comes back to the same page
    stranger.click(stranger.link("Log in"))
    back = stranger.one("input[name=next]").get_attribute("value")
    expect(back == "/search?q=app&page=1",
           f"the header's Log in link on /search?q=app&page=1 comes back to {back!r}: "
           f"{stranger.driver.current_url}")

    # -- star it; find it from the header's search box ---------------------------------------
    alice.click(alice.link("Overview", within=alice.one("nav.tabs")))
    button = alice.one("#star-button")
    assert button.get_attribute("aria-pressed") == "false" and alice.text("#star-count") == "0"
    alice.click("#star-button")
    assert alice.path == "/r/alice/app", alice.path
    assert alice.text("#star-count") == "1", alice.text("#star-count")
    assert alice.one("#star-button").get_attribute("aria-pressed") == "true"
    alice.click("#star-button")
    assert alice.text("#star-count") == "0" and \
        alice.one("#star-button").get_attribute("aria-pressed") == "false"
    alice.click("#star-button")
    assert alice.text("#star-count") == "1"

    alice.type_and_enter("#site-search", "app")
    assert alice.path == "/search?q=app", alice.path
    assert alice.text("#result-count") == "1 result for “app”", alice.text("#result-count")
    card = alice.one("ul.cards li.repo-card")
    assert alice.one("a.repo-name", within=card).text == "alice/app"
    assert alice.has("ul.cards li.repo-card .badge.private")
    assert "A tiny test image" in card.text and "★ 1" in card.text, card.text
    assert alice.one("#site-search").get_attribute("value") == "app"
    expect(absent(alice, ".pager a[rel=next]"),
           f"{alice.path}: a 'Next' link on the only page of 1 result: "
           f"{[a.get_attribute('href') for a in alice.all('.pager a')]}")
    alice.shoot("search")
    alice.click(alice.one("a.repo-name", within=card))
    assert alice.path == "/r/alice/app", alice.path

    # -- delete a tag (the confirmation dialog: no, then yes) --------------------------------
    alice.click(alice.link("Tags", within=alice.one("nav.tabs")))
    delete = alice.button("Delete", within=alice.one("tr[data-tag='v1']"))
    assert alice.click_expecting_confirm(delete, accept=False) == "Delete the tag v1?"
    assert alice.has("tr[data-tag='v1']") and alice.text("#tag-count") == "2 tags"
    delete = alice.button("Delete", within=alice.one("tr[data-tag='v1']"))
    alice.click_expecting_confirm(delete, accept=True)
    assert alice.path == "/r/alice/app/tags", alice.path
    assert absent(alice, "tr[data-tag='v1']") and alice.has("tr[data-tag='v2']")
    assert alice.text("#tag-count") == "1 tag" or alice.text("#tag-count") == "1 tags", \
        alice.text("#tag-count")
    r = registry.get_manifest("alice/app", "v1")
    assert r.status_code == 404, describe(r)
    r = registry.get_manifest("alice/app", "v2")
    assert r.status_code == 200, describe(r)

    # -- log out; the settings page then asks to log in, and comes back after ------------------
    log_out(alice)
    alice.open("/settings")
    assert alice.path == "/login?next=/settings", alice.path
    assert alice.one("input[name=next]").get_attribute("value") == "/settings"
    log_in(alice, "alice")
    assert alice.path == "/settings", alice.path
    log_out(alice)
    alice.open("/settings/tokens")
    assert alice.path == "/login?next=/settings/tokens", alice.path

    expect.all_met()


def test_readme_markdown_after_raw_html_is_still_formatted(hub, browsers):
    """README badges are HTML (`<img src=…>`, often without `/>`), and a `<br>` inside a
    paragraph is common: the Markdown after them must still be formatted, not shown as text."""
    sign_up_by_api(hub, "alice")
    create_repository(hub, "alice", "app")
    readme = ('<img src="https://example.com/badge.svg" alt="build passing">\n\n'
              "# Usage\n\nRun **it**:\n\n- one\n- two\n\n"
              "First line<br>second line\n\n## After the break\n\n*done*\n")
    patch_repository(hub, hub_login(hub, "alice"), "alice", "app", full_description=readme)
    reader = browsers("reader")
    reader.open("/r/alice/app")
    markdown = reader.one("article.readme .markdown")
    rendered = markdown.get_attribute("innerHTML")
    assert reader.one("img", within=markdown).get_attribute("alt") == "build passing", rendered
    headings = [h.text for h in reader.all("h1, h2", within=markdown)]
    assert headings == ["Usage", "After the break"], \
        f"the Markdown after an <img> (or <br>) is not formatted:\n{rendered}"
    assert [li.text for li in reader.all("li", within=markdown)] == ["one", "two"], rendered
    assert reader.one("strong", within=markdown).text == "it", rendered
    assert "# Usage" not in markdown.text and "**" not in markdown.text, rendered


# --------------------------------------------------------------------------------------
# Organizations and teams
# --------------------------------------------------------------------------------------

def test_organization_team_is_given_a_private_repository(hub, browsers, expect):
    alice, bob = browsers("owner"), browsers("member")
    sign_up(bob, "bobby")
    sign_up(alice, "alice")

    # -- create the organization from the settings page -------------------------------------
    alice.click(alice.link("Settings"))
    alice.click(alice.link("Create organization", within=alice.one("nav.tabs")))
    assert alice.path == "/orgs/create", alice.path
    alice.shoot("org-create")
    alice.type("#org-name", "acmeorg")
    alice.click(alice.button("Create"))
    assert alice.path == "/orgs/acmeorg" and alice.h1() == "acmeorg", alice.path
    assert "alice" in alice.section("Members").text

    # -- a team, with bobby in it ---------------------------------------------------------------
    alice.type("#team-name", "devs")
    alice.click(alice.button("Create team"))
    assert notice(alice) == "Team devs created.", alice.main_html()[:2000]
    alice.type("#member-name", "bobby")
    alice.choose("#member-team", "devs")
    alice.click(alice.button("Add member"))
    assert notice(alice) == "bobby joined devs.", alice.main_html()[:2000]
    team = alice.one("section.team[data-team='devs']")
    assert "bobby" in team.text and "No repository yet" in team.text, team.text

    # -- a private repository of the organization, and a public one --------------------------
    alice.click(alice.link("Create repository"))
    assert alice.path == "/repositories/create", alice.path
    options = [o.get_attribute("value") for o in alice.all("#namespace option")]
    assert options == ["alice", "acmeorg"], options
    alice.choose("#namespace", "acmeorg")
    alice.type("#name", "secret")
    alice.type("#description", "The organization's secret image")
    alice.press(alice.one("input[name=visibility][value=private]"))
    alice.shoot("repository-create")
    alice.click(alice.button("Create"))
    assert alice.path == "/r/acmeorg/secret", alice.path
    assert alice.has(".repo-header .badge.private")
    alice.click(alice.link("Create repository"))
    alice.choose("#namespace", "acmeorg")
    alice.type("#name", "tools")
    alice.type("#description", "Public tools of acmeorg")
    alice.click(alice.button("Create"))
    assert alice.path == "/r/acmeorg/tools" and alice.has(".repo-header .badge.public")

    # -- before the grant, bobby (in the organization) cannot see the private repository -------
    bob.open("/r/acmeorg/secret")
    assert bob.h1() == "Not found", bob.h1()
    bob.open("/u/acmeorg")
    assert [a.text for a in bob.all("a.repo-name")] == ["acmeorg/tools"], bob.main_html()[:2000]

    # -- grant the team read on it ---------------------------------------------------------------
    alice.open("/orgs/acmeorg")
    alice.choose("#grant-team", "devs")
    alice.choose("#grant-permission", "read")
    alice.type("#grant-repository", "secret")
    alice.click(alice.button("Grant"))
    assert notice(alice) == "devs has the read permission on acmeorg/secret.", \
        alice.main_html()[:2000]
    team = alice.one("section.team[data-team='devs']")
    assert "acmeorg/secret: read" in team.text, team.text
    alice.shoot("organization")

    # -- now bobby sees it, read-only --------------------------------------------------------
    bob.open("/r/acmeorg/secret")
    assert bob.title.startswith("acmeorg/secret"), bob.title
    assert bob.h1().startswith("secret") and bob.has(".repo-header .badge.private"), bob.h1()
    tabs = [a.text for a in bob.all("nav.tabs a")]
    assert tabs == ["Overview", "Tags"], f"a reader must not get the Settings tab: {tabs}"
    bob.open("/r/acmeorg/secret/settings")
    assert bob.h1() in ("Not found", "Not allowed"), bob.h1()
    bob.open("/u/acmeorg")
    assert sorted(a.text for a in bob.all("a.repo-name")) == ["acmeorg/secret", "acmeorg/tools"]
    bob.open("/orgs/acmeorg")
    assert bob.h1() == "acmeorg" and absent(bob, "#team-name"), "a member cannot manage"

    # -- anonymous: still a 404 -------------------------------------------------------------
    assert anonymous_page(hub, "/r/acmeorg/secret").status_code == 404
    stranger = browsers("anonymous")
    stranger.open("/")
    assert "acmeorg/tools" in [a.text for a in stranger.all("a.repo-name")], \
        stranger.main_html()[:3000]
    assert "acmeorg/secret" not in stranger.driver.page_source
    stranger.shoot("explore")
    stranger.click(stranger.link("acmeorg/tools"))
    assert stranger.path == "/r/acmeorg/tools" and absent(stranger, "#star-button")
    stranger.shoot("repository-anonymous")

    expect.all_met()


# --------------------------------------------------------------------------------------
# Cross-site forms
# --------------------------------------------------------------------------------------

class EvilSite:
    """Pages served from another origin (another port, or another host name) that post a form
    to the hub as soon as they load."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir()
        self.port = free_port()
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
        handler.log_message = lambda *args: None
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def page(self, name: str, action: str, fields: dict, host: str = "127.0.0.1") -> str:
        inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
        (self.folder / name).write_text(
            f'<!doctype html><title>win a prize</title>'
            f'<form method="post" action="{action}">{inputs}</form>'
            f'<script>document.forms[0].submit()</script>')
        return f"http://{host}:{self.port}/{name}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def evil(tmp_path):
    site = EvilSite(tmp_path / "evil")
    yield site
    site.close()


def test_cross_site_form_posts_are_refused(hub, browsers, evil):
    victim = browsers("victim")
    sign_up(victim, "alice")
    victim.click(victim.link("Create repository"))
    victim.type("#name", "app")
    victim.click(victim.button("Create"))
    assert victim.path == "/r/alice/app" and victim.text("#star-count") == "0"
    stolen = csrf_of(victim)  # what an attacker who learnt the form token would send
    session = victim.cookie("wharf_session")["value"]
    attacker = browsers("attacker")  # the attacker's own account: its own form token
    sign_up(attacker, "mallory")
    other_token = csrf_of(attacker)
    assert other_token != stolen

    # Another port of the same host: same site, so the Lax cookie goes along; the server must
    # refuse by the Origin header (with or without the form token).
    attacks = [
        ("star-no-token", f"{hub.url}/r/alice/app/star", {}, "127.0.0.1"),
        ("star-stolen-token", f"{hub.url}/r/alice/app/star", {"csrf": stolen}, "127.0.0.1"),
        ("token-stolen-token", f"{hub.url}/settings/tokens",
         {"csrf": stolen, "name": "evil", "scope": "read-write-delete"}, "127.0.0.1"),
        # Another site altogether (localhost is not 127.0.0.1): no cookie, cross-site.
        ("star-cross-site", f"{hub.url}/r/alice/app/star", {"csrf": stolen}, "localhost"),
    ]
    for name, action, fields, host in attacks:
        url = evil.page(f"{name}.html", action, fields, host)
        victim.driver.get(url)
        victim.wait_for_url(action[len(hub.url):])
        assert victim.title == "Not allowed · Wharf" and victim.h1() == "Not allowed", \
            f"{name}: {victim.title}\n{victim.main_html()[:1500]}"
        assert "another site" in victim.text(".empty-state p:not(.status-code)") or \
            "did not come from Wharf" in victim.text(".empty-state p:not(.status-code)"), \
            victim.main_html()[:1500]

    victim.open("/r/alice/app")
    assert victim.text("#star-count") == "0", "a cross-site post starred the repository"
    victim.open("/settings/tokens")
    assert "evil" not in victim.one("main").text, "a cross-site post made a token"
    assert victim.cookie("wharf_session")["value"] == session, "still the same session"

    # Every page carries the security headers.
    for path in ("/", "/r/alice/app", "/login", "/r/alice/nothing-here"):
        r = requests.get(hub.url + path, cookies={"wharf_session": session}, timeout=30)
        csp = r.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, describe(r)
        assert "script-src 'self'" in csp or \
            ("default-src 'self'" in csp and "script-src" not in csp), describe(r)
        assert r.headers.get("X-Content-Type-Options") == "nosniff", describe(r)
        assert r.headers.get("Referrer-Policy"), describe(r)

    # The same checks with crafted requests: the session cookie goes along every time.
    star = f"{hub.url}/r/alice/app/star"
    cookies = {"wharf_session": session}
    cross_site = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
    cases = [
        ("cross-site, no token", cross_site, {}),
        ("cross-site, wrong token", cross_site, {"csrf": "x" * len(stolen)}),
        ("foreign Origin, right token", {"Origin": "http://evil.example"}, {"csrf": stolen}),
        ("Sec-Fetch-Site cross-site, right token", {"Sec-Fetch-Site": "cross-site"},
         {"csrf": stolen}),
        ("Origin null, right token", {"Origin": "null"}, {"csrf": stolen}),
        ("same origin, no token", {"Origin": hub.url}, {}),
        ("same origin, wrong token", {"Origin": hub.url},
         {"csrf": stolen[:-1] + ("B" if stolen.endswith("A") else "A")}),
        ("same origin, another session's token", {"Origin": hub.url}, {"csrf": other_token}),
    ]
    for what, headers, form in cases:
        r = requests.post(star, data=form, headers=headers, cookies=cookies, timeout=30,
                          allow_redirects=False)
        assert r.status_code == 403, f"{what}: not refused\n{describe(r)}"
        assert "text/html" in r.headers.get("Content-Type", ""), describe(r)
    r = requests.post(f"{hub.url}/login", data={"username": "alice", "password": password("alice")},
                      headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
                      timeout=30, allow_redirects=False)
    assert r.status_code == 403 and "wharf_session" not in r.headers.get("Set-Cookie", ""), \
        describe(r)
    victim.open("/r/alice/app")
    assert victim.text("#star-count") == "0"

    # The control: the same request from the site itself, with its token, works.
    r = requests.post(star, data={"csrf": stolen}, cookies=cookies, timeout=30,
                      headers={"Origin": hub.url, "Sec-Fetch-Site": "same-origin"},
                      allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/r/alice/app", describe(r)
    victim.open("/r/alice/app")
    assert victim.text("#star-count") == "1"
