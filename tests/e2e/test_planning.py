"""A rep on a phone opens Today and logs the first planned visit; the supervisor's compliance moves."""
import os

import pytest
from django.utils import timezone

from planning import services
from planning.models import VisitPlan
from stores.models import StoreVisit
from tests.factories import MarketShareFactory, RegionFactory, RepFactory, StoreFactory, SupervisorFactory
from tests.planning.helpers import score

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync",
]
SCREENSHOTS = "/tmp/e2e-planning-{}.png"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def planned_day():
    region = RegionFactory(code="cn-east", name="East China", country="CN")
    sup1 = SupervisorFactory(username="sup1", password="demo")
    region.supervisors.add(sup1)
    rep1 = RepFactory(username="rep1", first_name="Li", last_name="Wei", region=region, password="demo")
    defend = StoreFactory(code="sh-002", name="Suning Xujiahui", region=region, rep=rep1)
    attack = StoreFactory(code="sh-001", name="Carrefour Gubei", region=region, rep=rep1)
    score(defend, zone="defend", potential=90000, own_annual=40000)
    score(attack, zone="attack", potential=50000, own_annual=5000)
    MarketShareFactory(country="CN", region=region, share=0.22)
    services.generate_visit_plans()
    VisitPlan.objects.update(weekdays=[timezone.localdate().weekday()])  # both planned today, whatever the day
    return region


@pytest.fixture
def browser(live_server):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def sign_in(page, url, username):
    page.goto(f"{url}/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Sign in").click()


def test_a_rep_logs_the_first_planned_visit_on_a_phone_and_compliance_moves(live_server, planned_day, browser):
    expect = sync_api.expect
    desk = browser.new_context(viewport={"width": 1280, "height": 900})
    desk.set_default_timeout(15_000)
    supervisor = desk.new_page()
    sign_in(supervisor, live_server.url, "sup1")
    supervisor.get_by_role("link", name="Compliance").click()
    this_week = supervisor.locator("#rep-rep1 td").last
    expect(this_week).to_contain_text("0 of 2")

    phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                has_touch=True)
    phone.set_default_timeout(15_000)
    rep = phone.new_page()
    sign_in(rep, live_server.url, "rep1")
    expect(rep.get_by_role("heading", name="Today", exact=True)).to_be_visible()
    first = rep.locator(".store-card").first
    expect(first.get_by_role("heading", name="Carrefour Gubei")).to_be_visible()  # attack before defend
    first.get_by_label("Total category sales").fill("140")
    first.get_by_label("Our sales").fill("35")
    first.get_by_role("button", name="Save").tap()

    expect(rep.locator(".message-success")).to_contain_text("Visit saved for Carrefour Gubei")
    expect(rep.locator("#store-sh-001 .badge-ok")).to_have_text("Visited today")
    expect(rep.locator(".page-head p")).to_contain_text("1 of 2 planned stores visited")
    assert list(StoreVisit.objects.values_list("store__code", "own_sales", "rep__username")) == [("sh-001", 35, "rep1")]
    rep.evaluate("window.scrollTo(0, 0)")
    rep.screenshot(path=SCREENSHOTS.format("today"), full_page=True)

    supervisor.reload()
    expect(supervisor.locator("#rep-rep1 td").last).to_contain_text("50%")
    expect(supervisor.locator("#rep-rep1 td").last).to_contain_text("1 of 2")
    supervisor.screenshot(path=SCREENSHOTS.format("compliance"), full_page=True)
    phone.close()
    desk.close()
