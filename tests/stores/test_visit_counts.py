"""The visits' per-store tally (StoreVisitCount, kept by triggers, kacrm.tallies): every writer keeps it exact, the
nightly fold changes no sum, and the visit lists' `count` taken from it equals COUNT(*) for every role and filter.
The lists read the same visits, in the same order, whether they filter by a list of visible store ids or by a join."""
import datetime as dt

import pytest
from django.db import connection
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from stores import services
from stores.models import StoreVisit, StoreVisitCount
from tests.conftest import client_for
from tests.factories import (
    AnalystFactory,
    KAManagerFactory,
    KeyAccountFactory,
    RegionFactory,
    StoreFactory,
    StoreVisitFactory,
)

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 30)


def counters():
    """The tally summed per store as the lists read it, then folded: the same again, one row per store."""
    rows = StoreVisitCount.objects.order_by().values("store_id").annotate(n=Sum("visits"))
    before = {row["store_id"]: row["n"] for row in rows if row["n"]}
    services.fold_visit_counts()
    after = {row.store_id: row.visits for row in StoreVisitCount.objects.all() if row.visits}
    assert after == before
    return before


def counted():
    rows = StoreVisit.objects.order_by().values("store_id").annotate(n=Sum(1))
    return {row["store_id"]: row["n"] for row in rows}


def test_every_writer_keeps_the_counters_equal_to_the_visits(region):
    a, b = StoreFactory(region=region), StoreFactory(region=region)
    StoreVisitFactory(store=a, date=TODAY)
    moved = StoreVisitFactory(store=a, date=TODAY - dt.timedelta(days=1))
    assert counters() == counted() == {a.pk: 2}
    services.upsert_visits(user=AnalystFactory(), visits=[  # one new, one correction of a stored visit
        {"store": b, "date": TODAY, "total_sales": 50, "own_sales": 5},
        {"store": a, "date": TODAY, "total_sales": 60, "own_sales": 6},
    ])
    assert counters() == counted() == {a.pk: 2, b.pk: 1}
    StoreVisit.objects.filter(pk=moved.pk).update(store=b)  # a visit moved to another store
    assert counters() == counted() == {a.pk: 1, b.pk: 2}
    StoreVisit.objects.filter(store=b).update(suspect=True)  # the analytics run's flags change no count
    StoreVisit.objects.filter(store=b).delete()
    assert counters() == counted() == {a.pk: 1}


@pytest.fixture
def world(region, rep, supervisor):
    other = RegionFactory(code="other", country="CN")
    ka = KAManagerFactory(username="ka1")
    account = KeyAccountFactory(owner=ka)
    stores = [StoreFactory(region=region, rep=rep, account=account), StoreFactory(region=region),
              StoreFactory(region=other, account=account), StoreFactory(region=other, active=False)]
    for i, store in enumerate(stores):
        for day in range(i + 2):
            StoreVisitFactory(store=store, date=timezone.localdate() - dt.timedelta(days=day), rep=rep if i == 0 else None)
    return {"rep": rep, "supervisor": supervisor, "ka_manager": ka, "analyst": AnalystFactory(), "stores": stores}


@pytest.mark.parametrize("role", ["rep", "supervisor", "ka_manager", "analyst"])
@pytest.mark.parametrize("query", [
    "", "?store={code}", "?region=other", "?rep={rep}", "?date_after={yesterday}", "?suspect=false", "?page_size=1",
])
def test_the_api_count_is_the_count_of_the_visits_listed(world, role, query):
    user = world[role]
    yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    url = "/api/v1/visits/" + query.format(code=world["stores"][0].code, rep=world["rep"].username, yesterday=yesterday)
    answer = client_for(user).get(url).json()
    every = client_for(user).get(url.replace("page_size=1", "") + ("&" if "?" in url else "?") + "page_size=1000").json()
    assert answer["count"] == len(every["results"]) == every["count"]


@pytest.mark.parametrize("role", ["rep", "supervisor", "ka_manager", "analyst"])
@pytest.mark.parametrize("query", ["", "?store={code}", "?date_from={yesterday}"])
def test_the_visit_page_shows_the_count_of_its_visits(world, client, role, query):
    user = world[role]
    client.force_login(user)
    yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    response = client.get(reverse("visit-list") + query.format(code=world["stores"][0].code, yesterday=yesterday))
    page = response.context["page"]
    assert page.paginator.count == len(page.object_list)  # one page: every visit listed


def test_on_postgresql_writers_only_add_rows_and_the_fold_leaves_one_per_store(region):
    store = StoreFactory(region=region)
    for day in range(3):
        StoreVisitFactory(store=store, date=TODAY - dt.timedelta(days=day))
    StoreVisit.objects.filter(date=TODAY).delete()
    if connection.vendor == "postgresql":
        assert sorted(StoreVisitCount.objects.values_list("visits", flat=True)) == [-1, 1, 1, 1]
        assert services.fold_visit_counts() == 3
    else:
        assert list(StoreVisitCount.objects.values_list("visits", flat=True)) == [2]  # SQLite upserts
        assert services.fold_visit_counts() == 0
    assert list(StoreVisitCount.objects.values_list("store_id", "visits")) == [(store.pk, 2)]
    assert services.count_visits(StoreFactory._meta.model.objects.all()) == 2


def test_the_visit_list_counts_from_the_tally_in_a_number_of_queries_that_does_not_grow(world, django_assert_num_queries):
    analyst = world["analyst"]
    client = client_for(analyst)
    client.get("/api/v1/visits/")  # warm: the session and the token
    every = StoreVisit.objects.count()
    with django_assert_num_queries(2) as few:  # the tally's sum and the page
        assert client.get("/api/v1/visits/").json()["count"] == every
    assert not any("COUNT(*)" in q["sql"].upper() for q in few.captured_queries)  # no count of the visits


@pytest.mark.parametrize("role", ["rep", "supervisor", "ka_manager", "analyst"])
@pytest.mark.parametrize("listed", [(1, 5000), (10**9, 10**9)], ids=["store-ids", "join"])
def test_the_visit_lists_show_the_visible_visits_newest_day_first_then_by_store(world, client, monkeypatch, role, listed):
    monkeypatch.setattr(services, "LISTED_STORE_IDS", listed)
    user = world[role]
    expected = list(StoreVisit.objects.visible_to(user).order_by("-date", "store_id").values_list("pk", flat=True))
    assert expected and len(expected) < StoreVisit.objects.count() or role == "analyst"
    answer = client_for(user).get("/api/v1/visits/?page_size=1000").json()
    assert [v["id"] for v in answer["results"]] == expected and answer["count"] == len(expected)
    client.force_login(user)
    page = client.get(reverse("visit-list")).context["page"]
    assert [v.pk for v in page.object_list] == expected
