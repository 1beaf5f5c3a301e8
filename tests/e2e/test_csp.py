"""Under the strict Content-Security-Policy, Chromium reports no violation on the pages of the demo, the API docs and
the admin, for each role, and the scripts of those pages still run (charts, Swagger UI's requests, Redoc)."""
import os
from collections import Counter
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.urls import Resolver404, resolve

# Playwright's sync API runs an event loop in this thread; the ORM calls below are still synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync",
]
# Each violation the page sees, as "directive blocked-uri", kept in the page until it is read.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.cspViolations.push(e.effectiveDirective + " " + e.blockedURI);
});
"""
# Redoc's sidebar shows Redocly's logo from their CDN: the policy blocks it (no third-party requests), and Redoc
# then drops the <img>. This is the one violation we expect, and only on /api/redoc/.
EXPECTED = {("/api/redoc/", "img-src https://cdn.redoc.ly/redoc/logo-mini.svg")}
NOT_OURS = ("/admin/", "/api/", "/static/", "/i18n/", "/logout/")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser(live_server):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Visitor:
    """One signed-in browser tab that records the CSP violations of each page it opens."""

    def __init__(self, browser, base_url):
        self.base_url = base_url
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(15_000)
        self.context.add_init_script(RECORD_VIOLATIONS)
        self.page = self.context.new_page()
        self.violations = []

    def open(self, path):
        response = self.page.goto(self.base_url + path)
        self.page.wait_for_load_state("networkidle")
        self.collect()
        return response

    def collect(self):
        path = urlsplit(self.page.url).path
        self.violations += [(path, violation) for violation in self.page.evaluate("window.cspViolations")]
        self.page.evaluate("window.cspViolations = []")

    def sign_in(self, username):
        self.open("/login/")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill("demo")
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_load_state("networkidle")
        self.collect()
        assert urlsplit(self.page.url).path != "/login/", self.page.content()[-1500:]

    def crawl(self, limit=30):
        """Open the pages linked from the first one, one address per view; return the paths opened."""
        queue, seen, views, opened = ["/"], {"/"}, Counter(), []
        while queue and len(opened) < limit:
            response = self.open(queue.pop(0))
            if response.status != 200:
                continue
            opened.append(urlsplit(self.page.url).path)
            for href in self.page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
                parts = urlsplit(href)
                if not href.startswith(self.base_url) or parts.path.startswith(NOT_OURS):
                    continue
                path = parts.path + (f"?{parts.query}" if parts.query else "")
                try:
                    view = resolve(parts.path).url_name
                except Resolver404:
                    continue
                if path not in seen and views[view] < 1:
                    seen.add(path)
                    views[view] += 1
                    queue.append(path)
        return opened


def test_the_violation_recorder_sees_inline_style_and_script(live_server, browser):
    visitor = Visitor(browser, live_server.url)
    visitor.open("/login/")

    visitor.page.evaluate("""() => {
      document.body.insertAdjacentHTML("beforeend", '<p style="color: red">injected</p>');
      const script = document.createElement("script");
      script.textContent = "window.injected = true";
      document.body.append(script);
    }""")
    visitor.page.wait_for_timeout(200)
    visitor.collect()

    assert visitor.violations == [("/login/", "style-src-attr inline"), ("/login/", "script-src-elem inline")]
    assert visitor.page.evaluate("window.injected") is None


def test_no_page_reports_a_csp_violation_for_any_role(live_server, browser):
    expect = sync_api.expect
    call_command("seed_demo", "--stores", "40", "--days", "60", "--seed", "7", "--force", stdout=StringIO())
    violations, opened = [], {}

    for username in ["admin", "ka1", "sup1", "rep1"]:
        visitor = Visitor(browser, live_server.url)
        visitor.sign_in(username)
        opened[username] = visitor.crawl()
        violations += visitor.violations
        visitor.context.close()

    admin = Visitor(browser, live_server.url)
    admin.sign_in("admin")
    # The charts are drawn by our scripts and Chart.js.
    admin.open("/analytics/matrix/")
    expect(admin.page.locator("canvas").first).to_be_visible()
    assert admin.page.evaluate("document.querySelector('canvas').width") > 0
    # The Django admin, its forms and DRF's browsable API.
    for path in ["/admin/", "/admin/org/user/", "/admin/org/user/add/", "/admin/stores/store/",
                 "/api/v1/", "/api/v1/stores/"]:
        assert admin.open(path).status == 200, path
    admin.open("/admin/stores/store/")
    admin.page.locator("#result_list tbody tr a").first.click()
    admin.page.wait_for_load_state("networkidle")
    admin.collect()
    expect(admin.page.get_by_role("button", name="Save", exact=True)).to_be_visible()
    # Swagger UI renders the schema and sends a request from "Try it out".
    admin.open("/api/docs/")
    operation = admin.page.locator("#operations-v1-v1_stores_list")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    expect(operation.locator(".live-responses-table tbody .response-col_status").first).to_have_text("200")
    admin.collect()
    # Redoc renders the schema with its own styles.
    admin.open("/api/redoc/")
    expect(admin.page.get_by_role("heading", name="KA CRM API").first).to_be_visible()
    assert admin.page.evaluate("[...document.styleSheets].filter(s => s.ownerNode.nonce).length") >= 1
    admin.collect()
    violations += admin.violations

    assert {username: len(paths) >= 10 for username, paths in opened.items()} == dict.fromkeys(opened, True), opened
    assert set(violations) == EXPECTED, violations
