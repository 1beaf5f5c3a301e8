"""ka1 opens a dossier, adds a decision-maker who reports to an existing one, and finds them in the org chart."""
import os

import pytest

from accounts.models import DecisionMaker
from tests.accounts.factories import DecisionMakerFactory, EventFactory
from tests.factories import KAManagerFactory, KeyAccountFactory, RegionFactory, StoreFactory

# Playwright's sync API runs an event loop in this thread; the ORM calls below are still synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync",
]
SCREENSHOTS = ("/tmp/e2e-dossier-phone.png", "/tmp/e2e-dossier-desktop.png")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def dossier_world():
    ka1 = KAManagerFactory(username="ka1", first_name="Fang", last_name="Wang", password="demo")
    account = KeyAccountFactory(code="valmore", name="Valmore Supercenters", owner=ka1, description="Hypermarkets.")
    StoreFactory(code="sh-001", name="Valmore Gubei", account=account, region=RegionFactory(code="cn-east"))
    chen = DecisionMakerFactory(account=account, name="David Chen", title="VP Merchandising",
                                buying_role="decision_maker", influence=5)
    EventFactory(account=account, kind="tender", outcome="won", reason="Best service level", summary="Listing 2026")
    other = KeyAccountFactory(code="carrefino", owner=KAManagerFactory(username="ka2"))
    DecisionMakerFactory(account=other, name="Javier Moreno")
    return chen


@pytest.fixture(params=[{"width": 390, "height": 844}, {"width": 1280, "height": 900}], ids=["phone", "desktop"])
def page(request, live_server):
    phone = request.param["width"] < 500
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=request.param, device_scale_factor=2 if phone else 1,
                                      is_mobile=phone, has_touch=phone)
        context.set_default_timeout(15_000)
        yield context.new_page()
        context.close()
        browser.close()


def test_ka1_adds_a_decision_maker_who_reports_to_an_existing_one_and_sees_them_in_the_org_chart(live_server, dossier_world, page):
    expect = sync_api.expect
    chen = dossier_world

    page.goto(f"{live_server.url}/accounts/valmore/")
    page.get_by_label("Username").fill("ka1")
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="Valmore Supercenters")).to_be_visible()
    expect(page.locator(".org-chart")).to_contain_text("David Chen")
    expect(page.locator("#tenders")).to_contain_text("Best service level")

    page.get_by_text("Add a decision-maker").click()
    form = page.locator("#person-new")
    form.get_by_label("Name").fill("Zhou Min")
    form.get_by_label("Title").fill("Senior Buyer")
    form.get_by_label("Buying role").select_option("purchaser")
    form.get_by_label("Attitude").select_option("champion")
    form.get_by_label("Reports to").select_option(label="David Chen")
    expect(form.get_by_label("Reports to").locator("option")).to_have_count(2)  # nobody + David Chen, not ka2's people
    form.get_by_role("button", name="Add").click()

    expect(page.locator(".message-success")).to_contain_text("Zhou Min saved")
    boss = page.locator(".org-chart > li").filter(has=page.locator(".org-card", has_text="David Chen"))
    expect(boss.locator(":scope > ul > li > .org-card")).to_contain_text("Zhou Min")
    expect(page.locator(f"#person-{DecisionMaker.objects.get(name='Zhou Min').pk}")).to_contain_text("David Chen")
    zhou = DecisionMaker.objects.get(name="Zhou Min")
    assert (zhou.reports_to_id, zhou.account.code, zhou.attitude) == (chen.pk, "valmore", "champion")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=SCREENSHOTS[0 if page.viewport_size["width"] < 500 else 1], full_page=True)

    response = page.goto(f"{live_server.url}/accounts/carrefino/")
    assert response.status == 404
