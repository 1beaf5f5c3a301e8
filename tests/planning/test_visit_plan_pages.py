import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from planning import services
from planning.models import VisitPlan
from stores.models import StoreVisit
from tests.conftest import client_for
from tests.factories import RegionFactory, RepFactory, StoreFactory, StoreVisitFactory, SupervisorFactory
from tests.planning.helpers import score

pytestmark = pytest.mark.django_db


def plan_today(*stores, weekdays=None):
    """Plans for `stores` that include today's weekday, whatever day the tests run."""
    services.generate_visit_plans()
    today = timezone.localdate().weekday()
    VisitPlan.objects.filter(store__in=stores).update(weekdays=weekdays if weekdays is not None else [today])


def visit_data(store, **extra):
    return {"store": store.code, "date": timezone.localdate().isoformat(), "total_sales": "120", "own_sales": "30",
            "display_ok": "", "promotion_ok": "", "staff_ok": "", "notes": "", "visit": "", **extra}


def test_a_rep_with_a_plan_lands_on_today(client, rep, my_store):
    plan_today(my_store)
    client.force_login(rep)
    assert client.get("/").url == reverse("today")


def test_a_rep_without_a_plan_lands_on_my_stores(client, rep, my_store):
    client.force_login(rep)
    assert client.get("/").url == reverse("store-list")


def test_today_lists_attack_stores_first_by_headroom_then_the_rest(client, rep, region):
    small_attack = StoreFactory(code="a-small", region=region, rep=rep)
    big_attack = StoreFactory(code="a-big", region=region, rep=rep)
    defend = StoreFactory(code="d", region=region, rep=rep)
    unplanned_today = StoreFactory(code="later", region=region, rep=rep)
    score(small_attack, zone="attack", potential=12000, own_annual=1200)  # headroom 10,800
    score(big_attack, zone="attack", potential=50000, own_annual=5000)  # headroom 45,000
    score(defend, zone="defend", potential=90000, own_annual=40000)  # the largest headroom, but defend
    plan_today(small_attack, big_attack, defend)
    VisitPlan.objects.filter(store=unplanned_today).update(weekdays=[(timezone.localdate().weekday() + 1) % 7])
    client.force_login(rep)

    response = client.get(reverse("today"))

    assert [store.code for store, form in response.context["cards"]] == ["a-big", "a-small", "d"]
    assert 'id="store-a-big"' in response.content.decode()


def test_a_rep_logs_a_planned_visit_from_today(client, rep, my_store):
    plan_today(my_store)
    client.force_login(rep)

    response = client.post(reverse("today"), visit_data(my_store))

    assert response.status_code == 302
    assert response.url == f"{reverse('today')}#store-mine"
    assert list(StoreVisit.objects.values_list("store__code", "own_sales", "rep__username")) == [("mine", 30, "rep1")]
    assert client.get(reverse("today")).context["done"] == 1


def test_a_rep_cannot_log_a_colleagues_store_from_today(client, rep, their_store):
    client.force_login(rep)
    assert client.post(reverse("today"), visit_data(their_store)).status_code == 404


def test_today_skips_stores_closed_today(client, rep, region):
    weekday = timezone.localdate().weekday()
    closed = StoreFactory(region=region, rep=rep, closed_weekdays=[weekday])
    plan_today(closed)
    client.force_login(rep)
    assert client.get(reverse("today")).context["cards"] == []


def test_today_costs_the_same_queries_at_two_sizes(client, rep, region):
    client.force_login(rep)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("today")).status_code == 200
        return len(ctx)

    first = StoreFactory(region=region, rep=rep)
    score(first, zone="attack")
    plan_today(first)
    small = count()
    more = [StoreFactory(region=region, rep=rep) for _ in range(5)]
    for store in more:
        score(store, zone="defend")
        StoreVisitFactory(store=store)
    plan_today(first, *more)
    assert count() == small


def test_compliance_is_for_supervisors_and_analysts(client, rep):
    client.force_login(rep)
    assert client.get(reverse("compliance")).status_code == 403


def test_a_supervisor_sees_compliance_of_own_regions_reps_only(client, supervisor, rep, my_store):
    far_rep = RepFactory(username="far", region=RegionFactory(code="south"))
    far_store = StoreFactory(rep=far_rep, region=far_rep.region)
    plan_today(my_store, far_store)
    StoreVisitFactory(store=my_store)
    client.force_login(supervisor)

    response = client.get(reverse("compliance"))

    rows = response.context["page"].object_list
    assert [rep.username for rep, cells in rows] == ["rep1"]
    assert (rows[0][1][-1]["planned"], rows[0][1][-1]["logged"]) == (1, 1)


def test_compliance_costs_the_same_queries_at_two_sizes(client, analyst, region):
    client.force_login(analyst)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("compliance")).status_code == 200
        return len(ctx)

    plan_today(StoreFactory(region=region, rep=RepFactory(region=region)))
    small = count()
    for _ in range(4):
        rep = RepFactory(region=RegionFactory())
        store = StoreFactory(region=rep.region, rep=rep)
        StoreVisitFactory(store=store)
    plan_today(*VisitPlan.objects.values_list("store", flat=True))
    assert count() == small


# ---- API ----

def test_reps_see_only_their_own_plans(rep, my_store, their_store):
    services.generate_visit_plans()
    assert [p["store"] for p in client_for(rep).get("/api/v1/visit-plans/").json()["results"]] == ["mine"]


def test_supervisors_see_their_regions_plans_and_edit_them(supervisor, my_store, their_store):
    far = StoreFactory(code="far", region=RegionFactory(code="south"), rep=RepFactory())
    services.generate_visit_plans()
    client = client_for(supervisor)
    assert [p["store"] for p in client.get("/api/v1/visit-plans/").json()["results"]] == ["mine", "theirs"]
    far_plan = VisitPlan.objects.get(store=far)
    assert client.patch(f"/api/v1/visit-plans/{far_plan.pk}/", {"weekdays": [1]}, format="json").status_code == 404

    plan = VisitPlan.objects.get(store=my_store)
    response = client.patch(f"/api/v1/visit-plans/{plan.pk}/", {"weekdays": [4, 1]}, format="json")

    assert response.status_code == 200, response.json()
    assert (response.json()["weekdays"], response.json()["edited_by"]) == ([1, 4], "sup1")


def test_reps_may_not_edit_plans(rep, my_store):
    services.generate_visit_plans()
    plan = VisitPlan.objects.get()
    assert client_for(rep).patch(f"/api/v1/visit-plans/{plan.pk}/", {"weekdays": [1]}, format="json").status_code == 403


@pytest.mark.parametrize("weekdays", [[7], [1, 1], "monday", [2]])
def test_bad_weekdays_are_400s(supervisor, region, weekdays):
    store = StoreFactory(region=region, rep=RepFactory(region=region), closed_weekdays=[2])
    services.generate_visit_plans()
    plan = VisitPlan.objects.get(store=store)
    response = client_for(supervisor).patch(f"/api/v1/visit-plans/{plan.pk}/", {"weekdays": weekdays}, format="json")
    assert (response.status_code, list(response.json())) == (400, ["weekdays"])


def test_the_plan_list_costs_the_same_queries_at_two_sizes(analyst, region):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client_for(analyst).get("/api/v1/visit-plans/").status_code == 200
        return len(ctx)

    StoreFactory(region=region, rep=RepFactory(region=region))
    services.generate_visit_plans()
    small = count()
    for _ in range(5):
        StoreFactory(region=RegionFactory(), rep=RepFactory())
    services.generate_visit_plans()
    VisitPlan.objects.filter(pk=VisitPlan.objects.first().pk).update(edited_by=SupervisorFactory())
    assert count() == small


# ---- the plan page ----

def test_a_supervisor_ticks_the_weekdays_of_a_plan(client, supervisor, my_store):
    services.generate_visit_plans()
    plan = VisitPlan.objects.get()
    client.force_login(supervisor)

    response = client.post(reverse("visit-plan-list"), {"plan": plan.pk, "weekdays": ["4", "1"]})

    assert response.status_code == 302
    plan.refresh_from_db()
    assert (plan.weekdays, plan.edited_by) == ([1, 4], supervisor)


def test_a_closed_weekday_is_refused(client, supervisor, region, rep):
    store = StoreFactory(region=region, rep=rep, closed_weekdays=[2])
    services.generate_visit_plans()
    plan = VisitPlan.objects.get(store=store)
    before = plan.weekdays
    client.force_login(supervisor)
    client.post(reverse("visit-plan-list"), {"plan": plan.pk, "weekdays": ["2"]})
    plan.refresh_from_db()
    assert (plan.weekdays, plan.edited_at) == (before, None)


def test_reps_read_only_their_plans_on_the_page(client, rep, my_store, their_store):
    services.generate_visit_plans()
    client.force_login(rep)
    response = client.get(reverse("visit-plan-list"))
    assert [plan.store.code for plan, days in response.context["page"].object_list] == ["mine"]
    assert 'name="weekdays"' not in response.content.decode()
    plan = VisitPlan.objects.get(store=my_store)
    assert client.post(reverse("visit-plan-list"), {"plan": plan.pk, "weekdays": ["1"]}).status_code == 403


def test_a_supervisor_cannot_edit_another_regions_plan(client, supervisor):
    far = StoreFactory(region=RegionFactory(code="south"), rep=RepFactory())
    services.generate_visit_plans()
    client.force_login(supervisor)
    plan = VisitPlan.objects.get(store=far)
    assert client.post(reverse("visit-plan-list"), {"plan": plan.pk, "weekdays": ["1"]}).status_code == 404


def test_the_plan_page_costs_the_same_queries_at_two_sizes(client, analyst, region):
    client.force_login(analyst)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("visit-plan-list")).status_code == 200
        return len(ctx)

    StoreFactory(region=region, rep=RepFactory(region=region))
    services.generate_visit_plans()
    VisitPlan.objects.update(edited_by=SupervisorFactory())
    small = count()
    for _ in range(5):
        StoreFactory(region=RegionFactory(), rep=RepFactory())
    services.generate_visit_plans()
    VisitPlan.objects.update(edited_by=SupervisorFactory())
    assert count() == small


def test_the_plan_page_pages_by_rep_then_store_and_a_ka_manager_sees_only_their_accounts(client, region, monkeypatch):
    from planning import views
    from tests.factories import KAManagerFactory, KeyAccountFactory

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    ka = KAManagerFactory(username="ka1")
    mine, other = KeyAccountFactory(owner=ka), KeyAccountFactory()
    ann = RepFactory(username="ann", first_name="Ann", last_name="<Lee>", region=region)
    bob, cid = RepFactory(username="bob", region=region), RepFactory(username="cid", region=region)
    for code, rep, account in [("a3", ann, mine), ("a1", ann, mine), ("b1", bob, mine), ("b2", bob, other),
                               ("c2", cid, mine), ("c1", cid, mine), ("zz", cid, other)]:
        StoreFactory(code=code, region=region, rep=rep, account=account)
    StoreFactory(code="a0", region=region, rep=ann, account=mine, active=False)  # an inactive store's plan: not shown
    services.generate_visit_plans()
    VisitPlan.objects.create(store=StoreFactory(code="a0x", region=region, rep=ann, account=mine, active=False), rep=ann,
                             weekdays=[1], edited_at=timezone.now())
    client.force_login(ka)

    def codes(query=""):
        response = client.get(reverse("visit-plan-list") + query)
        assert response.status_code == 200
        return [plan.store.code for plan, _days in response.context["page"].object_list], response

    pages = [codes(f"?page={n}")[0] for n in (1, 2, 3)]
    _rows, response = codes()

    assert pages == [["a1", "a3"], ["b1", "c1"], ["c2"]]
    assert response.context["page"].paginator.count == 5
    assert [(r["username"], r["name"], r["plans"]) for r in response.context["reps"]] == [
        ("ann", "Ann <Lee>", 2), ("bob", "bob", 1), ("cid", "cid", 2)]
    cid_rows, cid_page = codes("?rep=cid")
    assert cid_rows == ["c1", "c2"]
    assert ('<option value="ann">Ann &lt;Lee&gt;</option><option value="bob">bob</option>'
            '<option value="cid" selected>cid</option>') in cid_page.content.decode()
    assert codes("?rep=cid&page=2")[0] == ["c1", "c2"]  # past the last page: the last one
    assert codes("?rep=nobody")[0] == []
