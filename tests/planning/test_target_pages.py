import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from planning import services
from planning.models import Target
from tests.factories import RegionFactory, RepFactory, StoreFactory, StoreVisitFactory
from tests.planning.helpers import score

pytestmark = pytest.mark.django_db
NOVEMBER = dt.date(2026, 11, 1)


def _targets(*stores):
    for store in stores:
        score(store, zone="attack", potential=12000, wallet_share=0.10)
    services.generate_targets(month=NOVEMBER)


def test_a_rep_sees_only_own_targets_and_no_edit_form(client, rep, my_store, their_store):
    their_store.name = "Their shop"
    their_store.save()
    _targets(my_store, their_store)
    client.force_login(rep)
    html = client.get("/planning/targets/?month=2026-11").content.decode()
    assert my_store.name in html and "Their shop" not in html
    assert 'name="target_own"' not in html


def test_a_supervisor_sets_a_target_from_the_page(client, supervisor, my_store):
    _targets(my_store)
    target = Target.objects.get()
    client.force_login(supervisor)
    response = client.post("/planning/targets/?month=2026-11", {"target": target.pk, "target_own": "321"})
    assert response.status_code == 302
    target.refresh_from_db()
    assert (target.target_own, target.edited_by) == (321, supervisor)


def test_a_rep_cannot_post_a_target(client, rep, my_store):
    _targets(my_store)
    client.force_login(rep)
    target = Target.objects.get()
    assert client.post("/planning/targets/", {"target": target.pk, "target_own": "1"}).status_code == 403


def test_a_supervisor_cannot_set_another_regions_target(client, supervisor):
    far = StoreFactory(region=RegionFactory(code="south"))
    _targets(far)
    client.force_login(supervisor)
    target = Target.objects.get()
    assert client.post("/planning/targets/", {"target": target.pk, "target_own": "1"}).status_code == 404


@pytest.mark.parametrize("group", ["rep", "region", "account"])
def test_grouped_pages_show_totals(client, analyst, my_store, group):
    _targets(my_store)
    StoreVisitFactory(store=my_store, date=dt.date(2026, 11, 2), own_sales=5)
    client.force_login(analyst)
    response = client.get(f"/planning/targets/?month=2026-11&group={group}")
    assert response.status_code == 200
    assert response.context["totals"]["actual"] == pytest.approx(150)


@pytest.mark.parametrize("group", ["store", "rep", "region", "account"])
def test_target_pages_cost_the_same_queries_at_two_sizes(client, analyst, region, group):
    client.force_login(analyst)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/planning/targets/?month=2026-11&group={group}").status_code == 200
        return len(ctx)

    _targets(StoreFactory(region=region, rep=RepFactory(region=region)))
    small = count()
    for _ in range(5):
        store = StoreFactory(region=RegionFactory(), rep=RepFactory())
        _targets(store)
        StoreVisitFactory(store=store, date=dt.date(2026, 11, 3))
    assert count() == small
