import datetime as dt

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from analytics.models import AnalyticsSettings
from stores.models import StoreVisit
from tests.factories import (
    KAManagerFactory,
    KeyAccountFactory,
    MarketShareFactory,
    RegionFactory,
    RepFactory,
    StoreFactory,
    StoreVisitFactory,
)

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


@pytest.fixture(autouse=True)
def clear_login_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def as_user(client):
    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def elsewhere():
    """A store of another region with its own rep: must never leak into region `north`."""
    south = RegionFactory(code="south", country="CN")
    return StoreFactory(code="south1", region=south, rep=RepFactory(username="rep9", region=south))


def visit_data(store, **overrides):
    data = {
        "store": store.code, "visit": "", "date": TODAY().isoformat(), "total_sales": "120", "own_sales": "30",
        "display_ok": "True", "promotion_ok": "False", "staff_ok": "", "notes": "End cap moved",
    }
    return {**data, **overrides}


def listed_codes(response):
    return [store.code for store in response.context["page"].object_list]


def card_form(response, store):
    return dict((s.code, form) for s, form in response.context["cards"])[store.code]


# Login and scoping


@pytest.mark.parametrize("name, args", [
    ("home", []), ("store-list", []), ("store-detail", ["mine"]), ("rep-list", []), ("visit-list", []),
])
def test_pages_require_login(client, my_store, name, args):
    url = reverse(name, args=args)

    response = client.get(url)

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"


def test_home_redirects_to_the_store_list(as_user, rep):
    response = as_user(rep).get("/")

    assert response.status_code == 302
    assert response.url == reverse("store-list")


def test_a_rep_sees_only_own_stores(as_user, rep, my_store, their_store, elsewhere):
    response = as_user(rep).get(reverse("store-list"))

    assert response.status_code == 200
    assert listed_codes(response) == ["mine"]
    assert [s.code for s, _ in response.context["cards"]] == ["mine"]
    assert "theirs" not in response.content.decode()
    assert "My stores" in response.content.decode()


def test_a_rep_gets_404_on_another_reps_store(as_user, rep, my_store, their_store):
    client = as_user(rep)

    assert client.get(reverse("store-detail", args=["theirs"])).status_code == 404
    assert client.post(reverse("store-detail", args=["theirs"]), visit_data(their_store)).status_code == 404
    assert client.post(reverse("store-list"), visit_data(their_store)).status_code == 404
    assert StoreVisit.objects.count() == 0


def test_a_supervisor_sees_the_stores_of_own_regions_only(as_user, supervisor, my_store, their_store, elsewhere):
    client = as_user(supervisor)

    response = client.get(reverse("store-list"))

    assert listed_codes(response) == ["mine", "theirs"]
    assert response.context["cards"] == []
    assert [r.code for r in response.context["filters"].fields["region"].queryset] == ["north"]
    assert [u.username for u in response.context["filters"].fields["rep"].queryset] == ["rep1", "rep2"]
    assert client.get(reverse("store-detail", args=["south1"])).status_code == 404


def test_the_store_list_filters_by_region_and_rep(as_user, analyst, my_store, their_store, elsewhere):
    client = as_user(analyst)

    assert listed_codes(client.get(reverse("store-list"))) == ["mine", "south1", "theirs"]
    assert listed_codes(client.get(reverse("store-list"), {"region": "south"})) == ["south1"]
    assert listed_codes(client.get(reverse("store-list"), {"rep": "rep2"})) == ["theirs"]
    assert listed_codes(client.get(reverse("store-list"), {"q": "the"})) == ["theirs"]


def test_a_supervisor_cannot_filter_on_another_regions_rep(as_user, supervisor, my_store, elsewhere):
    response = as_user(supervisor).get(reverse("store-list"), {"rep": "rep9"})

    assert listed_codes(response) == ["mine"]
    assert list(response.context["filters"].errors) == ["rep"]


# The 28-day share next to the market share


def test_the_card_shows_the_28_day_share_of_valid_days_and_the_region_market_share(as_user, rep, my_store, region):
    today = TODAY()
    StoreVisitFactory(store=my_store, date=today, total_sales=100, own_sales=20)
    StoreVisitFactory(store=my_store, date=today - dt.timedelta(days=27), total_sales=300, own_sales=30)
    StoreVisitFactory(store=my_store, date=today - dt.timedelta(days=28), total_sales=1000, own_sales=1000)  # outside
    StoreVisitFactory(store=my_store, date=today - dt.timedelta(days=3), total_sales=9000, own_sales=0, suspect=True)
    StoreVisitFactory(store=my_store, date=today - dt.timedelta(days=4), total_sales=0, own_sales=0)
    MarketShareFactory(country="CN", region=None, share=0.40)
    MarketShareFactory(country="CN", region=region, share=0.30, period_start=dt.date(2001, 1, 1))
    MarketShareFactory(country="CN", region=region, share=0.20, period_start=dt.date(2002, 1, 1))

    response = as_user(rep).get(reverse("store-list"))

    store = response.context["page"].object_list[0]
    assert (store.own_28, store.total_28, store.days_28) == (50, 400, 2)
    assert store.share == 0.125
    assert store.market_share.share == 0.20
    assert store.last_visit == today
    assert "12.5%" in response.content.decode()
    assert "20.0%" in response.content.decode()


def test_the_market_share_falls_back_to_the_country_row(as_user, rep, my_store):
    MarketShareFactory(country="CN", region=None, share=0.40)
    MarketShareFactory(country="ES", region=None, share=0.10)

    response = as_user(rep).get(reverse("store-list"))

    assert response.context["page"].object_list[0].market_share.share == 0.40


def test_without_a_share_row_the_card_compares_with_the_panel_of_the_country_as_alerts_do(as_user, rep, my_store, elsewhere):
    today = TODAY()
    for back in range(8):
        StoreVisitFactory(store=my_store, date=today - dt.timedelta(days=back), total_sales=100, own_sales=10)
    StoreVisitFactory(store=elsewhere, date=today, total_sales=200, own_sales=110)

    response = as_user(rep).get(reverse("store-list"))

    store = response.context["page"].object_list[0]
    assert (store.share, store.market_share.share, store.market_share.source) == (0.1, 0.19, "panel")  # 190 of 1000
    assert store.share_status == "below"
    assert "of the panel of stores" in response.content.decode()


def test_the_card_follows_the_alert_window_and_minimum_days_of_the_analytics_settings(as_user, rep, my_store):
    today = TODAY()
    for back in (0, 5, 10):
        StoreVisitFactory(store=my_store, date=today - dt.timedelta(days=back), total_sales=100, own_sales=10)
    MarketShareFactory(country="CN", region=None, share=0.40)
    client = as_user(rep)

    def card():
        store = client.get(reverse("store-list")).context["page"].object_list[0]
        return store.share_status, (store.own_28, store.total_28, store.days_28), store.window_days

    assert card() == ("thin", (30, 300, 3), 28)  # 3 valid days, 8 needed
    settings = AnalyticsSettings.objects.create(params={"alert_min_days": 3})
    assert card() == ("below", (30, 300, 3), 28)
    settings.params = {"alert_min_days": 3, "alert_window_days": 7}
    settings.save()
    assert card() == ("thin", (20, 200, 2), 7)  # the visit 10 days back is outside the 7 days


# The quick visit form on "My stores"


def test_the_quick_form_logs_todays_visit(as_user, rep, my_store):
    client = as_user(rep)

    response = client.post(reverse("store-list"), visit_data(my_store))

    assert response.status_code == 302
    assert response.url == reverse("store-list") + "#store-mine"
    visit = StoreVisit.objects.get()
    assert (visit.store, visit.date, visit.rep) == (my_store, TODAY(), rep)
    assert (visit.total_sales, visit.own_sales) == (120, 30)
    assert (visit.display_ok, visit.promotion_ok, visit.staff_ok) == (True, False, None)
    assert visit.notes == "End cap moved"
    page = client.get(response.url).content.decode()
    assert f"Visit saved for {my_store.name} on {TODAY().isoformat()}: 30 of 120 units." in page


def test_the_quick_form_is_prefilled_with_todays_visit(as_user, rep, my_store):
    visit = StoreVisitFactory(store=my_store, total_sales=80, own_sales=8, staff_ok=True)

    form = card_form(as_user(rep).get(reverse("store-list")), my_store)

    assert form.initial["visit"] == visit.pk
    assert (form.initial["total_sales"], form.initial["own_sales"], form.initial["staff_ok"]) == (80, 8, True)


def test_saving_todays_visit_again_corrects_it(as_user, rep, my_store):
    visit = StoreVisitFactory(store=my_store, total_sales=80, own_sales=8)

    response = as_user(rep).post(reverse("store-list"), visit_data(my_store, visit=str(visit.pk), own_sales="40"))

    assert response.status_code == 302
    assert StoreVisit.objects.count() == 1
    visit.refresh_from_db()
    assert (visit.total_sales, visit.own_sales) == (120, 40)


@pytest.mark.parametrize("overrides, field, message", [
    ({"own_sales": "121"}, "own_sales", "Our sales (121) cannot exceed the total category sales (120)."),
    ({"total_sales": "-5"}, "total_sales", "Ensure this value is greater than or equal to 0."),
    ({"own_sales": "-1"}, "own_sales", "Ensure this value is greater than or equal to 0."),
    ({"total_sales": "12O"}, "total_sales", "Enter a whole number."),
    ({"own_sales": "3.5"}, "own_sales", "Enter a whole number."),
    ({"total_sales": "99999999"}, "total_sales", "Ensure this value is less than or equal to 10000000."),
    ({"date": "2099-01-01"}, "date", "The date cannot be in the future."),
    ({"date": "yesterday"}, "date", "Enter a valid date."),
])
def test_bad_input_shows_the_field_error_and_stores_nothing(as_user, rep, my_store, overrides, field, message):
    response = as_user(rep).post(reverse("store-list"), visit_data(my_store, **overrides))

    assert response.status_code == 200
    assert card_form(response, my_store).errors == {field: [message]}
    assert escape(message) in response.content.decode()
    assert StoreVisit.objects.count() == 0


def test_a_second_create_for_the_same_day_says_to_correct_it(as_user, rep, my_store):
    StoreVisitFactory(store=my_store, total_sales=80, own_sales=8)

    response = as_user(rep).post(reverse("store-list"), visit_data(my_store))

    assert response.status_code == 200
    message = f"A visit for this store on {TODAY().isoformat()} already exists; correct it instead."
    assert card_form(response, my_store).errors == {"date": [message]}
    assert message in response.content.decode()
    assert list(StoreVisit.objects.values_list("total_sales", "own_sales")) == [(80, 8)]


def test_a_correction_cannot_reach_another_stores_visit(as_user, rep, my_store, their_store):
    theirs = StoreVisitFactory(store=their_store, total_sales=80, own_sales=8)

    response = as_user(rep).post(reverse("store-list"), visit_data(my_store, visit=str(theirs.pk)))

    assert response.status_code == 200
    assert card_form(response, my_store).non_field_errors() == ["This visit no longer exists; reload the page."]
    assert list(StoreVisit.objects.values_list("store__code", "total_sales")) == [("theirs", 80)]


# The store page


def test_the_store_page_shows_drivers_history_and_the_suspect_flag(as_user, rep, my_store):
    StoreVisitFactory(store=my_store, date=TODAY() - dt.timedelta(days=1), total_sales=9999, suspect=True)
    for days_ago in range(2, 70):
        StoreVisitFactory(store=my_store, date=TODAY() - dt.timedelta(days=days_ago))

    response = as_user(rep).get(reverse("store-detail", args=["mine"]))

    page = response.content.decode()
    assert response.status_code == 200
    assert len(response.context["history"]) == 60
    assert response.context["history"][0].suspect is True
    assert "suspect" in page
    assert "1200 m²" in page
    assert response.context["form"].initial == {"date": TODAY()}


def test_the_store_page_logs_a_visit_for_an_earlier_day(as_user, rep, my_store):
    day = TODAY() - dt.timedelta(days=2)

    response = as_user(rep).post(reverse("store-detail", args=["mine"]), visit_data(my_store, date=day.isoformat()))

    assert response.status_code == 302
    assert response.url == reverse("store-detail", args=["mine"])
    assert list(StoreVisit.objects.values_list("date", "total_sales")) == [(day, 120)]


def test_the_store_page_corrects_the_visit_of_the_chosen_day(as_user, rep, my_store):
    day = TODAY() - dt.timedelta(days=2)
    visit = StoreVisitFactory(store=my_store, date=day, total_sales=50, own_sales=5)
    client = as_user(rep)

    form = client.get(reverse("store-detail", args=["mine"]), {"date": day.isoformat()}).context["form"]
    response = client.post(
        reverse("store-detail", args=["mine"]), visit_data(my_store, visit=str(form.initial["visit"]), date=day.isoformat())
    )

    assert response.status_code == 302
    assert list(StoreVisit.objects.values_list("pk", "date", "total_sales")) == [(visit.pk, day, 120)]


def test_the_store_page_refuses_a_future_date(as_user, rep, my_store):
    tomorrow = TODAY() + dt.timedelta(days=1)

    response = as_user(rep).post(reverse("store-detail", args=["mine"]), visit_data(my_store, date=tomorrow.isoformat()))

    assert response.status_code == 200
    assert response.context["form"].errors == {"date": ["The date cannot be in the future."]}
    assert StoreVisit.objects.count() == 0


def test_a_supervisor_logs_a_visit_credited_to_the_stores_rep(as_user, supervisor, rep, my_store):
    response = as_user(supervisor).post(reverse("store-detail", args=["mine"]), visit_data(my_store))

    assert response.status_code == 302
    assert StoreVisit.objects.get().rep == rep


def test_a_ka_manager_reads_but_cannot_post(as_user, my_store):
    ka = KAManagerFactory(username="ka1")
    my_store.account = KeyAccountFactory(owner=ka)
    my_store.save()
    client = as_user(ka)

    page = client.get(reverse("store-detail", args=["mine"]))
    post_detail = client.post(reverse("store-detail", args=["mine"]), visit_data(my_store))
    post_list = client.post(reverse("store-list"), visit_data(my_store))

    assert page.status_code == 200
    assert page.context["form"] is None
    assert (post_detail.status_code, post_list.status_code) == (403, 403)
    assert StoreVisit.objects.count() == 0


def test_nobody_logs_visits_for_an_inactive_store(as_user, rep, my_store):
    my_store.active = False
    my_store.save()

    response = as_user(rep).post(reverse("store-detail", args=["mine"]), visit_data(my_store))

    assert response.status_code == 403
    assert StoreVisit.objects.count() == 0


# Supervisor pages


def test_the_rep_list_shows_the_reps_of_own_regions_with_their_figures(as_user, supervisor, rep, my_store, elsewhere):
    StoreVisitFactory(store=my_store, date=TODAY() - dt.timedelta(days=2))
    StoreVisitFactory(store=my_store, date=TODAY() - dt.timedelta(days=9))
    RepFactory(username="rep2", region=supervisor.supervised_regions.get())

    response = as_user(supervisor).get(reverse("rep-list"))

    rows = [(r.username, r.store_count, r.visits_7d, r.last_visit) for r in response.context["page"].object_list]
    assert rows == [("rep1", 1, 1, TODAY() - dt.timedelta(days=2)), ("rep2", 0, 0, None)]


def test_reps_and_ka_managers_cannot_open_the_rep_list(as_user, rep):
    assert as_user(rep).get(reverse("rep-list")).status_code == 403
    assert as_user(KAManagerFactory()).get(reverse("rep-list")).status_code == 403


def test_the_visit_list_is_scoped_and_filtered(as_user, supervisor, my_store, their_store, elsewhere):
    today = TODAY()
    StoreVisitFactory(store=my_store, date=today)
    StoreVisitFactory(store=my_store, date=today - dt.timedelta(days=5))
    StoreVisitFactory(store=their_store, date=today)
    StoreVisitFactory(store=elsewhere, date=today)
    client = as_user(supervisor)

    def listed(**params):
        page = client.get(reverse("visit-list"), params).context["page"]
        return [(v.store.code, v.date) for v in page.object_list]

    assert listed() == [("mine", today), ("theirs", today), ("mine", today - dt.timedelta(days=5))]
    assert listed(rep="rep2") == [("theirs", today)]
    assert listed(store="mine") == [("mine", today), ("mine", today - dt.timedelta(days=5))]
    assert listed(date_from=(today - dt.timedelta(days=6)).isoformat(), date_to=(today - dt.timedelta(days=1)).isoformat()) == [
        ("mine", today - dt.timedelta(days=5))
    ]
    assert listed(store="south1") == []


# Query counts do not grow with the data


def count_queries(client, url, **params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(queries)


def add_stores(n, region, rep):
    for _ in range(n):
        store = StoreFactory(region=region, rep=rep)
        StoreVisitFactory(store=store, date=TODAY())
        StoreVisitFactory(store=store, date=TODAY() - dt.timedelta(days=3))


@pytest.mark.parametrize("viewer", ["rep", "supervisor", "analyst"])
def test_the_store_list_issues_the_same_queries_for_2_and_20_stores(request, as_user, region, viewer):
    rep = request.getfixturevalue("rep")
    user = request.getfixturevalue(viewer)
    MarketShareFactory(region=region)
    client = as_user(user)
    add_stores(2, region, rep)

    small = count_queries(client, reverse("store-list"))
    other = RegionFactory()  # without a share row of its own: the country panel
    other.supervisors.add(*region.supervisors.all())  # the supervisor sees the new stores too
    add_stores(18, other, rep)
    large = count_queries(client, reverse("store-list"))

    assert small == large
    assert len(client.get(reverse("store-list")).context["page"].object_list) == 20


def test_the_rep_list_issues_the_same_queries_for_2_and_20_reps(as_user, supervisor, region):
    client = as_user(supervisor)
    for _ in range(2):
        add_stores(1, region, RepFactory(region=region))

    small = count_queries(client, reverse("rep-list"))
    for _ in range(18):
        add_stores(1, region, RepFactory(region=region))
    large = count_queries(client, reverse("rep-list"))

    assert small == large
    assert len(client.get(reverse("rep-list")).context["page"].object_list) == 20


def test_the_visit_list_issues_the_same_queries_for_2_and_20_visits(as_user, supervisor, region, rep):
    client = as_user(supervisor)
    add_stores(1, region, rep)

    small = count_queries(client, reverse("visit-list"))
    add_stores(9, region, RepFactory(region=region))
    large = count_queries(client, reverse("visit-list"))

    assert small == large
    assert len(client.get(reverse("visit-list")).context["page"].object_list) == 20


def test_the_store_page_issues_the_same_queries_with_2_and_60_visits(as_user, rep, my_store):
    client = as_user(rep)
    for days_ago in range(2):
        StoreVisitFactory(store=my_store, date=TODAY() - dt.timedelta(days=days_ago))

    small = count_queries(client, reverse("store-detail", args=["mine"]))
    for days_ago in range(2, 60):
        StoreVisitFactory(store=my_store, date=TODAY() - dt.timedelta(days=days_ago))
    large = count_queries(client, reverse("store-detail", args=["mine"]))

    assert small == large


# Layout


def test_the_nav_follows_the_role(as_user, rep, supervisor):
    rep_page = as_user(rep).get(reverse("store-list")).content.decode()
    sup_page = as_user(supervisor).get(reverse("store-list")).content.decode()

    assert "My stores" in rep_page and reverse("rep-list") not in rep_page
    assert reverse("rep-list") in sup_page and reverse("visit-list") in sup_page
    for page in (rep_page, sup_page):
        assert "/api/docs/" in page and reverse("admin:index") not in page
        assert "<style" not in page and "<script>" not in page and "style=" not in page


def test_the_pages_speak_spanish(as_user, rep, my_store):
    client = as_user(rep)
    client.post(reverse("set_language"), {"language": "es", "next": "/"})

    page = client.get(reverse("store-list"))

    assert page.context["LANGUAGE_CODE"] == "es"
    assert '<html lang="es">' in page.content.decode()


def test_a_rep_sees_only_own_visits_in_the_visit_list(as_user, rep, my_store, their_store):
    StoreVisitFactory(store=my_store)
    StoreVisitFactory(store=their_store)

    page = as_user(rep).get(reverse("visit-list")).context["page"]

    assert [v.store.code for v in page.object_list] == ["mine"]


def test_the_visit_list_issues_the_same_queries_for_4_and_40_visits(as_user, supervisor, region, rep):
    client = as_user(supervisor)
    add_stores(2, region, rep)

    small = count_queries(client, reverse("visit-list"))
    add_stores(18, region, RepFactory(region=region))
    large = count_queries(client, reverse("visit-list"))

    assert small == large
    assert len(client.get(reverse("visit-list")).context["page"].object_list) == 40
