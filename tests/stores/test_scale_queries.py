"""Issue 10: the store pages and the visits API issue the same queries for 3 stores as for 30 (with their visits)."""
import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.conftest import client_for
from tests.factories import (
    KAManagerFactory,
    KeyAccountFactory,
    MarketShareFactory,
    RegionFactory,
    StoreFactory,
    StoreVisitFactory,
)

pytestmark = pytest.mark.django_db

VISIT_DAYS = [0, 1, 3, 10, 40]  # today, inside the alert windows, and before them


@pytest.fixture
def ka_manager():
    return KAManagerFactory(username="ka1")


@pytest.fixture
def world(region, rep, supervisor, ka_manager):
    """grow(n): n more stores of the rep in the KA manager's account, half of them in a region without a share row
    (its cards read the country panel), each with visits on VISIT_DAYS."""
    MarketShareFactory(region=region)
    bare = RegionFactory(code="bare", country="CN")  # no share row of its own: the panel
    bare.supervisors.add(supervisor)
    account = KeyAccountFactory(owner=ka_manager)
    today = timezone.localdate()

    def grow(n):
        for i in range(n):
            store = StoreFactory(region=region if i % 2 else bare, rep=rep, account=account)
            for back in VISIT_DAYS:
                StoreVisitFactory(store=store, date=today - dt.timedelta(days=back))

    return grow


def queries(client, method, url, expect, **kwargs):
    """The number of queries of one request, after an untimed one that warms caches."""
    getattr(client, method)(url, **kwargs)
    with CaptureQueriesContext(connection) as captured:
        response = getattr(client, method)(url, **kwargs)
    assert response.status_code == expect
    return len(captured)


def page_client(client, user):
    client.force_login(user)
    return client


@pytest.mark.parametrize("viewer", ["rep", "supervisor", "ka_manager", "analyst"])
def test_the_store_list_issues_the_same_queries_for_3_and_30_stores(request, client, world, viewer):
    client = page_client(client, request.getfixturevalue(viewer))
    world(3)
    small = queries(client, "get", reverse("store-list"), 200)
    world(27)
    assert queries(client, "get", reverse("store-list"), 200) == small


@pytest.mark.parametrize("viewer", ["rep", "supervisor", "ka_manager", "analyst"])
def test_the_store_page_issues_the_same_queries_for_3_and_30_stores(request, client, world, viewer):
    client = page_client(client, request.getfixturevalue(viewer))
    world(3)
    from stores.models import Store

    url = reverse("store-detail", args=[Store.objects.order_by("code").first().code])
    small = queries(client, "get", url, 200)
    world(27)
    assert queries(client, "get", url, 200) == small


@pytest.mark.parametrize("viewer", ["rep", "supervisor", "ka_manager", "analyst"])
def test_the_visit_list_issues_the_same_queries_for_3_and_30_stores(request, client, world, viewer):
    client = page_client(client, request.getfixturevalue(viewer))
    world(3)
    small = queries(client, "get", reverse("visit-list"), 200)
    world(27)
    assert queries(client, "get", reverse("visit-list"), 200) == small


def test_the_store_page_visit_form_post_issues_the_same_queries_for_3_and_30_stores(client, world, rep):
    client = page_client(client, rep)
    world(3)
    from stores.models import Store

    store = Store.objects.order_by("code").first()
    url = reverse("store-detail", args=[store.code])
    today = timezone.localdate()

    def post(back):
        day = (today - dt.timedelta(days=back)).isoformat()
        data = {"visit": "", "date": day, "total_sales": 120, "own_sales": 30, "display_ok": "True", "notes": "x"}
        with CaptureQueriesContext(connection) as captured:
            assert client.post(url, data).status_code == 302
        return len(captured)

    post(2)  # warm-up
    small = post(4)
    world(27)
    assert post(5) == small


@pytest.mark.parametrize("viewer", ["rep", "supervisor", "ka_manager", "analyst"])
@pytest.mark.parametrize("params", ["", "?page_size=1000"])
def test_the_visits_endpoint_issues_the_same_queries_for_3_and_30_stores(request, world, viewer, params):
    api = client_for(request.getfixturevalue(viewer))
    world(3)
    small = queries(api, "get", "/api/v1/visits/" + params, 200)
    world(27)
    assert queries(api, "get", "/api/v1/visits/" + params, 200) == small


def test_posting_a_visit_to_the_api_issues_the_same_queries_for_3_and_30_stores(world, rep):
    api = client_for(rep)
    world(3)
    from stores.models import Store

    code = Store.objects.order_by("code").first().code
    today = timezone.localdate()

    def post(back):
        body = {"store": code, "date": (today - dt.timedelta(days=back)).isoformat(), "total_sales": 120, "own_sales": 30}
        with CaptureQueriesContext(connection) as captured:
            assert api.post("/api/v1/visits/", body, format="json").status_code == 201
        return len(captured)

    post(2)  # warm-up
    small = post(4)
    world(27)
    assert post(5) == small


# The store pages' widgets are written in Python (stores.forms.WidgetRenderer): the same HTML as Django's templates


def rendered(form):
    parts = []
    for field in form:
        parts += [str(field), field.as_hidden()]
        if field.name in form.fields and hasattr(form.fields[field.name].widget, "choices"):
            parts += [radio.tag() for radio in field] + [str(radio) for radio in field]
    return parts


def both(make):
    from django.forms.renderers import DjangoTemplates

    return rendered(make(None)), rendered(make(DjangoTemplates()))


def test_the_visit_form_renders_exactly_as_with_djangos_templates(rep, my_store):
    from stores.forms import VisitForm

    today = timezone.localdate()
    visit = StoreVisitFactory(store=my_store, date=today, notes='<b>"Tom & Jerry"</b>', display_ok=True, staff_ok=False)
    bad = {"date": "2999-01-01", "total_sales": "x", "own_sales": "5", "display_ok": "True", "notes": "a\nb <i>"}

    for make in [
        lambda r: VisitForm.for_visit(visit, day=today, today=today, auto_id="id_mine_%s", renderer=r),
        lambda r: VisitForm.for_visit(None, day=today, today=today, renderer=r),
        lambda r: VisitForm(bad, today=today, auto_id="id_x_%s", renderer=r),
    ]:
        fast, templates = both(make)
        assert fast == templates


def test_the_filter_forms_render_exactly_as_with_djangos_templates(rep, other_rep, region):
    from org.models import Region, User
    from stores.forms import StoreFilterForm, VisitFilterForm

    rep.first_name, rep.last_name = "Ana <&>", "O'Neil"
    rep.save()
    reps = User.objects.filter(pk__in=[rep.pk, other_rep.pk]).order_by("username")
    query = {"q": 'a "b"', "region": region.code, "rep": "rep2", "store": "<x>", "date_from": "2026-01-01", "date_to": "bad"}

    for make in [
        lambda r: StoreFilterForm(query, regions=Region.objects.all(), reps=reps, renderer=r),
        lambda r: StoreFilterForm({}, regions=Region.objects.all(), reps=reps, renderer=r),
        lambda r: VisitFilterForm(query, reps=reps, renderer=r),
    ]:
        fast, templates = both(make)
        assert fast == templates


def test_over_the_limit_of_reps_the_filter_takes_a_username_checked_against_the_scope(monkeypatch):
    from stores import forms
    from tests.factories import RepFactory

    reps = [RepFactory(username=f"bulk-rep-{i}") for i in range(4)]
    scope = forms.User.objects.filter(pk__in=[r.pk for r in reps[:3]])
    assert "<select" in str(forms.VisitFilterForm({}, reps=scope)["rep"])  # under the limit: a list
    monkeypatch.setattr(forms, "REP_CHOICES_LIMIT", 2)
    box = forms.VisitFilterForm({"rep": "bulk-rep-1"}, reps=scope)
    assert '<input type="text" name="rep" value="bulk-rep-1"' in str(box["rep"]) and "<option" not in str(box["rep"])
    assert box.is_valid() and box.cleaned_data["rep"] == reps[1]
    outside = forms.VisitFilterForm({"rep": "bulk-rep-3"}, reps=scope)  # a rep outside the user's scope
    assert not outside.is_valid() and outside.errors["rep"] == ["No sales manager with this username."]
