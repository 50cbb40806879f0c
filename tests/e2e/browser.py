"""Headless Chromium driven by selenium, for the website tests (test_website.py).

``Browser`` is one person's browser: a fresh profile (its own cookies), real clicks and typing,
helpers that wait for the page a click or a form submission loads, and ``shoot`` — screenshots
of the current page at desktop and phone widths (and the desktop in the dark scheme) into the
``Screenshots`` folder, checking on the way that the page has no horizontal scrolling on a
phone, that every visible form control has a label, and that the console shows no script
error or Content-Security-Policy violation.

Debian's ``chromium`` and ``chromium-driver`` (scripts/test installs them) and selenium from
PyPI (tests/e2e/requirements.txt).
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Optional

from selenium import webdriver
from selenium.common.exceptions import (NoAlertPresentException, NoSuchElementException,
                                        StaleElementReferenceException, WebDriverException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from harness import require_tool

# The widths a person reviews: a laptop and a phone (iPhone 12–15: 390 × 844 CSS pixels).
VIEWPORTS = (
    ("desktop", 1280, 900, False, "light"),
    ("phone", 390, 844, True, "light"),
    ("desktop-dark", 1280, 900, False, "dark"),
)
# Full-page screenshots, but no taller than this (a long README would make huge files).
MAX_SHOT_HEIGHT = 5000
WAIT = 10  # seconds for a page to load or an element to appear


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError("chromium is not installed; ./scripts/test installs it (Debian chromium)")


class Screenshots:
    """A folder of screenshots, NN-page-viewport.png in the order they were taken, and what
    the checks ``Browser.shoot`` makes found wrong (``problems``, asserted by the tests)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0
        self.taken: list = []
        self.problems: list = []

    def path(self, name: str, viewport: str) -> Path:
        safe = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-")
        return self.folder / f"{self.count:02d}-{safe}-{viewport}.png"


class Browser:
    """One person's browser (a fresh Chromium profile) on the site at ``base_url``."""

    def __init__(self, base_url: str, name: str = "browser", shots: Optional[Screenshots] = None):
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.shots = shots
        self.profile = Path(tempfile.mkdtemp(prefix=f"e2e-chromium-{name}-", dir="/tmp"))
        options = webdriver.ChromeOptions()
        options.binary_location = chromium_binary()
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         f"--user-data-dir={self.profile}", "--window-size=1280,900",
                         "--no-first-run", "--no-default-browser-check", "--disable-gpu",
                         "--disable-extensions", "--password-store=basic",
                         "--disable-features=Translate,OptimizationHints,MediaRouter"):
            options.add_argument(argument)
        # Leave alert/confirm dialogs open: the tests look for them (and answer confirms).
        options.unhandled_prompt_behavior = "ignore"
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(require_tool("chromedriver"))
        self.driver = webdriver.Chrome(options=options, service=service)
        self.driver.set_page_load_timeout(30)
        self.console: list = []  # every console entry seen, with the page it was on

    def quit(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    # -- where we are ------------------------------------------------------------------
    def url(self, path: str) -> str:
        return path if path.startswith(("http:", "https:", "data:")) else self.base_url + path

    @property
    def path(self) -> str:
        """The current page's path and query on the site ('/r/alice/app?x=1')."""
        current = self.driver.current_url
        return current[len(self.base_url):] if current.startswith(self.base_url) else current

    @property
    def title(self) -> str:
        return self.driver.title

    def h1(self) -> str:
        return self.one("h1").text.strip()

    def main_html(self) -> str:
        return self.one("main").get_attribute("innerHTML")

    # -- finding -----------------------------------------------------------------------
    def one(self, css: str, within=None) -> WebElement:
        return (within or self.driver).find_element(By.CSS_SELECTOR, css)

    def all(self, css: str, within=None) -> list:
        return (within or self.driver).find_elements(By.CSS_SELECTOR, css)

    def has(self, css: str) -> bool:
        return bool(self.all(css))

    def text(self, css: str) -> str:
        return self.one(css).text.strip()

    def link(self, text: str, within=None) -> WebElement:
        """The visible link whose text is `text`."""
        for a in (within or self.driver).find_elements(By.TAG_NAME, "a"):
            if a.text.strip() == text and a.is_displayed():
                return a
        raise AssertionError(f"no link {text!r} on {self.path}")

    def button(self, text: str, within=None) -> WebElement:
        """The visible submit button whose text is `text` (within a form or section)."""
        for b in (within or self.driver).find_elements(By.TAG_NAME, "button"):
            if b.text.strip() == text and b.is_displayed():
                return b
        raise AssertionError(f"no button {text!r} on {self.path}")

    def section(self, heading: str) -> WebElement:
        """The section (card) whose h2 reads `heading`."""
        for h2 in self.all("section h2"):
            if h2.text.strip() == heading:
                return h2.find_element(By.XPATH, "./ancestor::section[1]")
        raise AssertionError(f"no section {heading!r} on {self.path}")

    # -- acting like a person ----------------------------------------------------------
    def open(self, path: str) -> "Browser":
        self.driver.get(self.url(path))
        self._wait_ready()
        return self

    def type(self, css: str, text: str, clear: bool = True) -> WebElement:
        field = self.one(css)
        self.press(field)

        def fill():  # all again on a retry: no text typed twice
            if clear:
                field.clear()
            field.send_keys(text)
        self.retried(fill)
        return field

    def type_and_enter(self, css: str, text: str) -> "Browser":
        """Type into a field and press Enter (submits its form); wait for the page it loads."""
        field = self.one(css)
        self.press(field)
        self.retried(field.clear)
        old = self.one("html")
        self.retried(field.send_keys, text, Keys.ENTER)
        self.wait_until_replaced(old)
        return self

    def wait_for_url(self, path: str):
        """Wait until the browser shows `path` of the site (after a page navigated itself)."""
        WebDriverWait(self.driver, WAIT).until(lambda d: d.current_url == self.url(path))
        self._wait_ready()

    def choose(self, css: str, value: str):
        self.retried(Select(self.one(css)).select_by_value, value)

    @staticmethod
    def retried(action, *args):
        """action(*args), again when chromedriver lost track of an element's DOM node: now and
        then (more under load) a click or key press right after a page loaded fails with 'Node
        with given id does not belong to the document' although the element is still there."""
        for attempt in range(4):
            try:
                return action(*args)
            except WebDriverException as exc:
                if "does not belong to the document" not in str(exc) or attempt == 3:
                    raise
                time.sleep(0.2)

    def wait_until_replaced(self, old: WebElement):
        """Wait until `old` (the previous page's html element) is gone: a new page loaded.
        (selenium's staleness_of, but a DOM-node error while the page changes means 'not yet'.)"""
        def replaced(_driver):
            try:
                old.is_enabled()
                return False
            except StaleElementReferenceException:
                return True
            except WebDriverException as exc:
                if "does not belong to the document" in str(exc):
                    return False
                raise
        WebDriverWait(self.driver, WAIT).until(replaced)
        self._wait_ready()

    def press(self, element: WebElement):
        """Click an element (that does not load a page)."""
        return self.retried(element.click)

    def click(self, element_or_css) -> "Browser":
        """Click something that loads a new page (a link, a submit button); wait for it."""
        element = self.one(element_or_css) if isinstance(element_or_css, str) else element_or_css
        old = self.one("html")
        self.press(element)
        self.wait_until_replaced(old)
        return self

    def click_expecting_confirm(self, element, accept: bool) -> str:
        """Click a button whose form asks for confirmation; answer the dialog. Returns its text.
        When accepted, waits for the page the form loads."""
        old = self.one("html")
        self.press(element)
        alert = WebDriverWait(self.driver, WAIT).until(EC.alert_is_present())
        message = alert.text
        if accept:
            alert.accept()
            self.wait_until_replaced(old)
        else:
            alert.dismiss()
        return message

    def alert_text(self) -> Optional[str]:
        """The text of an open alert/confirm dialog, or None when there is none."""
        try:
            return self.driver.switch_to.alert.text
        except NoAlertPresentException:
            return None

    def _wait_ready(self):
        WebDriverWait(self.driver, WAIT).until(
            lambda d: d.execute_script("return document.readyState") == "complete")

    def cookie(self, name: str) -> Optional[dict]:
        return self.driver.get_cookie(name)

    def console_errors(self) -> list:
        """Console entries since the last call that point at a broken page: uncaught script
        errors and Content-Security-Policy violations (not 404s for a missing image)."""
        found = []
        for entry in self.driver.get_log("browser"):
            self.console.append((self.path, entry))
            message = entry.get("message", "")
            if "Content Security Policy" in message or "Uncaught" in message \
                    or entry.get("source") == "javascript":
                found.append(f"{self.path}: {message}")
        return found

    # -- checks of any page -------------------------------------------------------------
    def unlabelled_controls(self) -> list:
        """Visible inputs, selects and textareas with no label (nor aria-label)."""
        return self.driver.execute_script("""
            return [...document.querySelectorAll('input, select, textarea')]
              .filter(e => e.type !== 'hidden' && !e.hidden)
              .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                           && !e.getAttribute('aria-labelledby'))
              .map(e => e.outerHTML);""")

    def nameless_buttons(self) -> list:
        return self.driver.execute_script("""
            return [...document.querySelectorAll('button, a[href]')]
              .filter(e => !e.textContent.trim() && !e.getAttribute('aria-label')
                           && !e.getAttribute('title'))
              .map(e => e.outerHTML);""")

    def page_width(self) -> int:
        return self.driver.execute_script(
            "return Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")

    def overflowing(self, width: int) -> list:
        """The innermost elements that reach past `width`, or whose text spills out of them
        (what makes a page scroll sideways); what is inside a scrolling box does not count."""
        return self.driver.execute_script("""
            const width = arguments[0];
            const spills = e => {
              const style = getComputedStyle(e);
              return style.overflowX === 'visible' && e.scrollWidth > e.clientWidth + 1
                     && e.clientWidth > 0;
            };
            const inScroller = e => {
              for (let p = e.parentElement; p && p !== document.body; p = p.parentElement)
                if (getComputedStyle(p).overflowX !== 'visible') return true;
              return false;
            };
            const wide = [...document.body.querySelectorAll('*')].filter(e => !inScroller(e) &&
                (e.getBoundingClientRect().right > width + 1 || spills(e)));
            return wide.filter(e => !wide.some(o => o !== e && e.contains(o))).slice(0, 5).map(e =>
                e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                (e.className && typeof e.className === 'string'
                    ? '.' + e.className.trim().split(/\\s+/).join('.') : '') +
                ' (' + e.scrollWidth + ' px of content in ' + e.clientWidth + ' px): ' +
                (e.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 80));""", width)

    def shoot(self, name: str) -> list:
        """Screenshots of the current page at every viewport (full page height); checks the
        page on the way. Returns the files written."""
        if self.shots is None:
            return []
        shots = self.shots
        shots.count += 1
        written = []
        page = self.path
        problems = [f"{page} ({name}): control without a label: {html}"
                    for html in self.unlabelled_controls()]
        problems += [f"{page} ({name}): link or button without a name: {html}"
                     for html in self.nameless_buttons()]
        problems += [f"({name}) {error}" for error in self.console_errors()]
        d = self.driver
        try:
            for viewport, width, height, mobile, scheme in VIEWPORTS:
                d.execute_cdp_cmd("Emulation.setEmulatedMedia", {
                    "features": [{"name": "prefers-color-scheme", "value": scheme}]})
                metrics = {"width": width, "height": height, "deviceScaleFactor": 1,
                           "mobile": mobile}
                d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
                if mobile:
                    wide = self.page_width()
                    if wide > width + 1:
                        problems.append(f"{page} ({name}): scrolls sideways on a phone: "
                                        f"{wide} px wide in a {width} px screen, past its "
                                        f"right edge: {self.overflowing(width)}")
                full = d.execute_script(
                    "return Math.max(document.documentElement.scrollHeight,"
                    " document.body.scrollHeight)")
                tall = min(max(height, int(full)), MAX_SHOT_HEIGHT)
                if tall != height:
                    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                      dict(metrics, height=tall))
                target = shots.path(name, viewport)
                target.write_bytes(d.get_screenshot_as_png())
                written.append(target)
        finally:
            d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
            d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
        shots.taken.extend(written)
        shots.problems.extend(problems)
        return written

    def snapshot(self, folder: Path, label: str) -> Optional[Path]:
        """A plain screenshot of what the browser shows now (for a failed test)."""
        try:
            if self.alert_text() is not None:
                self.driver.switch_to.alert.dismiss()
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"FAILED-{label}-{self.name}.png"
            self.driver.save_screenshot(str(target))
            return target
        except Exception:  # noqa: BLE001 - best effort while reporting a failure
            return None


def absent(browser: Browser, css: str) -> bool:
    try:
        browser.one(css)
        return False
    except NoSuchElementException:
        return True
