"""Issue 10: the rep list issues the same queries for 3 reps as for 30 (with their stores and visits)."""
import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import RepFactory, StoreFactory, StoreVisitFactory

pytestmark = pytest.mark.django_db


def grow(region, n):
    """n more reps of the region, each with two stores and visits today, 3 and 30 days ago."""
    today = timezone.localdate()
    for _ in range(n):
        rep = RepFactory(region=region)
        for _store in range(2):
            store = StoreFactory(region=region, rep=rep)
            for back in (0, 3, 30):
                StoreVisitFactory(store=store, date=today - dt.timedelta(days=back))


def count_queries(client):
    client.get(reverse("rep-list"))  # warm-up
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("rep-list"))
    assert response.status_code == 200
    return len(captured), [(r.username, r.store_count, r.visits_7d) for r in response.context["page"].object_list]


@pytest.mark.parametrize("viewer", ["supervisor", "analyst"])
def test_the_rep_list_issues_the_same_queries_for_3_and_30_reps(request, client, region, viewer):
    client.force_login(request.getfixturevalue(viewer))
    grow(region, 3)
    small, rows = count_queries(client)
    assert [(stores, visits) for _name, stores, visits in rows] == [(2, 4)] * 3  # today and 3 days ago, two stores
    grow(region, 27)
    large, rows = count_queries(client)
    assert len(rows) == 30
    assert large == small


def test_the_rep_list_shows_each_reps_own_visits_and_last_visit_day(client, analyst, region):
    today = timezone.localdate()
    busy, idle = RepFactory(username="busy", region=region), RepFactory(username="idle", region=region)
    store = StoreFactory(region=region, rep=busy)
    StoreVisitFactory(store=store, date=today - dt.timedelta(days=6), rep=busy)
    StoreVisitFactory(store=store, date=today - dt.timedelta(days=7), rep=busy)  # outside the 7 days
    StoreVisitFactory(store=store, date=today - dt.timedelta(days=1), rep=idle)  # logged by another rep: theirs
    StoreVisitFactory(store=store, date=today - dt.timedelta(days=40), rep=idle)
    client.force_login(analyst)

    page = client.get(reverse("rep-list")).context["page"]

    assert [(r.username, r.store_count, r.visits_7d, r.last_visit) for r in page.object_list] == [
        ("busy", 1, 1, today - dt.timedelta(days=6)),
        ("idle", 0, 1, today - dt.timedelta(days=1)),
    ]
