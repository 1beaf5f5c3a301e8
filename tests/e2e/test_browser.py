"""A rep on a phone: sign in, log today's visit from "My stores", get a 404 on a colleague's store."""
import os

import pytest

from stores.models import StoreVisit
from tests.factories import MarketShareFactory, RegionFactory, RepFactory, StoreFactory, SupervisorFactory

# Playwright's sync API runs an event loop in this thread; the ORM calls below are still synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync",
]
SCREENSHOT = "/tmp/e2e-mystores.png"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo_world():
    region = RegionFactory(code="cn-east", name="East China", country="CN")
    sup1 = SupervisorFactory(username="sup1", password="demo")
    region.supervisors.add(sup1)
    rep1 = RepFactory(username="rep1", first_name="Li", last_name="Wei", region=region, password="demo")
    rep2 = RepFactory(username="rep2", region=region, password="demo")
    StoreFactory(code="sh-001", name="Carrefour Gubei", address="Hongqiao Rd 268, Shanghai", region=region, rep=rep1)
    StoreFactory(code="sh-002", name="Suning Xujiahui", region=region, rep=rep2)
    MarketShareFactory(country="CN", region=region, share=0.22)
    return region


@pytest.fixture
def page(live_server):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)
        context.set_default_timeout(15_000)
        yield context.new_page()
        context.close()
        browser.close()


def test_a_rep_logs_a_visit_on_a_phone_and_cannot_open_a_colleagues_store(live_server, demo_world, page):
    expect = sync_api.expect

    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill("rep1")
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="My stores")).to_be_visible()
    card = page.locator("#store-sh-001")
    card.get_by_label("Total category sales").fill("140")
    card.get_by_label("Our sales").fill("35")
    card.get_by_role("button", name="Save").tap()

    expect(page.locator(".message-success")).to_contain_text("Visit saved for Carrefour Gubei")
    expect(page.locator(".message-success")).to_contain_text("35 of 140 units")
    card = page.locator("#store-sh-001")
    expect(card.get_by_label("Total category sales")).to_have_value("140")
    expect(card.get_by_label("Our sales")).to_have_value("35")
    expect(card.locator(".badge-ok")).to_have_text("Visited today")
    expect(card.locator(".stat").nth(1).locator("dd").first).to_have_text("25.0%")
    expect(card.locator(".stat").nth(2).locator("dd").first).to_have_text("22.0%")
    assert list(StoreVisit.objects.values_list("store__code", "total_sales", "own_sales", "rep__username")) == [
        ("sh-001", 140, 35, "rep1")
    ]
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=SCREENSHOT, full_page=True)

    response = page.goto(f"{live_server.url}/stores/sh-002/")

    assert response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
