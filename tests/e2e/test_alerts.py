"""A supervisor on a laptop: the header count, the inbox, the trend chart, the check at the store, resolve."""
import datetime as dt
import os

import pytest
from django.utils import timezone

from alerts import evaluation
from alerts.models import Alert
from stores.models import StoreVisit
from tests.factories import MarketShareFactory, RegionFactory, RepFactory, StoreFactory, SupervisorFactory

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

sync_api = pytest.importorskip("playwright.sync_api")

from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

SCREENSHOTS = "/tmp/e2e-alert-{}.png"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def alert():
    region = RegionFactory(code="cn-east", name="East China", country="CN")
    sup1 = SupervisorFactory(username="sup1", first_name="Jing", last_name="Chen", password="demo")
    region.supervisors.add(sup1)
    rep1 = RepFactory(username="rep1", first_name="Li", last_name="Wei", region=region)
    store = StoreFactory(code="sh-001", name="Carrefour Gubei", region=region, rep=rep1)
    MarketShareFactory(country="CN", region=region, share=0.25)
    today = timezone.localdate()
    StoreVisit.objects.bulk_create(
        StoreVisit(store=store, date=today - dt.timedelta(days=n), total_sales=100, own_sales=25 if n > 30 else 15)
        for n in range(90)
    )
    evaluation.evaluate_stores(t=today)
    return Alert.objects.get()


@pytest.fixture
def page(live_server):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        yield context.new_page()
        context.close()
        browser.close()


def test_a_supervisor_checks_the_store_and_resolves_the_alert(live_server, alert, page):
    expect = sync_api.expect
    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill("sup1")
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Sign in").click()

    expect(page.locator(".nav-count")).to_have_text("1")
    page.get_by_role("link", name="Alerts").click()
    expect(page.locator(".alert-table tbody tr")).to_have_count(1)
    page.screenshot(path=SCREENSHOTS.format("inbox"), full_page=True)
    page.locator(".alert-table").get_by_role("link", name="Carrefour Gubei").click()

    expect(page.get_by_role("heading", name="Carrefour Gubei")).to_be_visible()
    expect(page.locator(".nav-count")).to_have_count(0)  # opening the alert read its notification
    page.wait_for_function("document.getElementById('trend-chart').width > 300")  # Chart.js drew the trend
    expect(page.get_by_role("button", name="Resolve")).to_be_disabled()
    page.screenshot(path=SCREENSHOTS.format("page"), full_page=True)

    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(".alert-status")).to_have_text("Acknowledged")
    form = page.locator("#follow-up")
    form.locator("label[for=id_display_ok_1]").click()
    form.locator("label[for=id_promotion_ok_1]").click()
    form.locator("label[for=id_staff_ok_0]").click()
    form.get_by_label("Actions taken").fill("Asked for the end cap back; briefed two promoters.")
    form.get_by_role("button", name="Save the check").click()
    expect(page.locator(".message-success")).to_contain_text("Follow-up check recorded for Carrefour Gubei")
    page.get_by_role("button", name="Resolve").click()

    expect(page.locator(".alert-status")).to_have_text("Resolved")
    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert list(alert.follow_ups.values_list("display_ok", "promotion_ok", "staff_ok")) == [(False, False, True)]
    page.screenshot(path=SCREENSHOTS.format("resolved"), full_page=True)
