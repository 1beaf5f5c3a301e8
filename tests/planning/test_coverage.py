import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from org.models import Team
from planning.models import VisitPlan
from tests.conftest import client_for
from tests.factories import RegionFactory, RepFactory, StoreFactory
from tests.planning.helpers import score

pytestmark = pytest.mark.django_db


@pytest.fixture
def hunters(region):
    return Team.objects.create(name="North hunters", kind="hunters", region=region)


@pytest.fixture
def farmers(region):
    return Team.objects.create(name="North farmers", kind="farmers", region=region)


@pytest.fixture
def hunter(region, hunters):
    return RepFactory(username="hunter", region=region, team=hunters)


@pytest.fixture
def farmer(region, farmers):
    return RepFactory(username="farmer", region=region, team=farmers)


def listed(response):
    return [(row["store"].code, row["kind"], [r["username"] for r in row["candidates"]])
            for row in response.context["page"].object_list]


def test_coverage_lists_every_kind_of_mismatch_with_right_team_candidates(client, supervisor, region, hunter, farmer):
    score(StoreFactory(code="a-farmer", region=region, rep=farmer), zone="attack", potential=30000)
    score(StoreFactory(code="d-hunter", region=region, rep=hunter), zone="defend", potential=20000)
    score(StoreFactory(code="key-nobody", region=region, rep=None), zone="attack", potential=10000)
    score(StoreFactory(code="fine-a", region=region, rep=hunter), zone="attack", potential=90000)
    score(StoreFactory(code="fine-d", region=region, rep=farmer), zone="defend", potential=80000)
    score(StoreFactory(code="small", region=region, rep=None), zone="maintenance", potential=100)
    client.force_login(supervisor)

    response = client.get(reverse("coverage"))

    assert listed(response) == [
        ("a-farmer", "attack_farmer", ["hunter"]),
        ("d-hunter", "defend_hunter", ["farmer"]),
        ("key-nobody", "unassigned", ["hunter"]),
    ]


def test_a_supervisor_sees_only_own_regions_mismatches(client, supervisor, region, farmer):
    score(StoreFactory(code="mine", region=region, rep=farmer), zone="attack")
    far = RegionFactory(code="south")
    far_farmer = RepFactory(region=far, team=Team.objects.create(name="South farmers", kind="farmers", region=far))
    score(StoreFactory(code="far", region=far, rep=far_farmer), zone="attack")
    client.force_login(supervisor)
    assert [code for code, kind, reps in listed(client.get(reverse("coverage")))] == ["mine"]


def test_reps_and_ka_managers_do_not_get_coverage(client, rep):
    client.force_login(rep)
    assert client.get(reverse("coverage")).status_code == 403


def test_one_click_reassigns_the_store_and_its_plan(client, supervisor, region, hunter, farmer):
    store = StoreFactory(code="a-farmer", region=region, rep=farmer)
    score(store, zone="attack")
    VisitPlan.objects.create(store=store, rep=farmer, weekdays=[0], zone="attack")
    client.force_login(supervisor)

    response = client.post(reverse("coverage"), {"store": "a-farmer", "rep": "hunter"})

    assert response.status_code == 302
    store.refresh_from_db()
    assert (store.rep, VisitPlan.objects.get().rep) == (hunter, hunter)
    assert listed(client.get(reverse("coverage"))) == []


def test_reassigning_an_unassigned_store_creates_its_default_plan(client, supervisor, region, hunter):
    store = StoreFactory(code="key-nobody", region=region, rep=None)
    score(store, zone="attack")
    client.force_login(supervisor)
    client.post(reverse("coverage"), {"store": "key-nobody", "rep": "hunter"})
    assert list(VisitPlan.objects.values_list("store__code", "rep__username", "weekdays")) == [
        ("key-nobody", "hunter", [0, 1, 2, 3, 4])]


def test_a_supervisor_cannot_reassign_another_regions_store_or_to_another_regions_rep(client, supervisor, region, farmer):
    far = RegionFactory(code="south")
    far_rep = RepFactory(username="far-rep", region=far)
    score(StoreFactory(code="far", region=far, rep=far_rep), zone="attack")
    mine = StoreFactory(code="mine", region=region, rep=farmer)
    client.force_login(supervisor)

    assert client.post(reverse("coverage"), {"store": "far", "rep": "farmer"}).status_code == 404
    client.post(reverse("coverage"), {"store": "mine", "rep": "far-rep"})

    mine.refresh_from_db()
    assert mine.rep == farmer


def test_coverage_costs_the_same_queries_at_two_sizes(client, analyst, region, hunter, farmer):
    client.force_login(analyst)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("coverage")).status_code == 200
        return len(ctx)

    score(StoreFactory(region=region, rep=farmer), zone="attack")
    small = count()
    for n in range(4):
        other = RegionFactory()
        team = Team.objects.create(name=f"H{n}", kind="hunters", region=other)
        RepFactory(region=other, team=team)
        score(StoreFactory(region=other, rep=RepFactory(region=other, team=Team.objects.create(
            name=f"F{n}", kind="farmers", region=other))), zone="attack")
    assert count() == small


# ---- API ----

def test_teams_list_members_and_are_scoped(rep, supervisor, region, hunters, hunter):
    rep.team = hunters
    rep.save()
    far = RegionFactory(code="south")
    Team.objects.create(name="South farmers", kind="farmers", region=far)

    assert client_for(supervisor).get("/api/v1/teams/").json()["results"] == [
        {"name": "North hunters", "kind": "hunters", "region": "north", "members": ["hunter", "rep1"]}]
    assert [t["name"] for t in client_for(rep).get("/api/v1/teams/").json()["results"]] == ["North hunters"]
    assert client_for(supervisor).get("/api/v1/teams/South farmers/").status_code == 404


def test_analysts_create_teams_and_supervisors_may_not(analyst, supervisor, region):
    payload = {"name": "East hunters", "kind": "hunters", "region": "north"}
    assert client_for(supervisor).post("/api/v1/teams/", payload, format="json").status_code == 403
    response = client_for(analyst).post("/api/v1/teams/", payload, format="json")
    assert response.status_code == 201, response.json()
    bad = client_for(analyst).post("/api/v1/teams/", {"name": "X", "kind": "gatherers"}, format="json")
    assert (bad.status_code, list(bad.json())) == (400, ["kind"])


def test_the_team_list_costs_the_same_queries_at_two_sizes(analyst, region):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client_for(analyst).get("/api/v1/teams/").status_code == 200
        return len(ctx)

    RepFactory(region=region, team=Team.objects.create(name="T0", kind="hunters", region=region))
    small = count()
    for n in range(1, 5):
        RepFactory(region=region, team=Team.objects.create(name=f"T{n}", kind="farmers", region=RegionFactory()))
    assert count() == small


def test_each_candidate_shows_name_team_and_active_stores_once_per_region_and_team(client, supervisor, region, hunters):
    RepFactory(username="ann", first_name="Ann", last_name="<Lee>", region=region, team=hunters)
    busy = RepFactory(username="bo", region=region, team=hunters)
    StoreFactory(region=region, rep=busy)
    StoreFactory(region=region, rep=busy, active=False)  # not counted
    farmer = RepFactory(region=region, team=Team.objects.create(name="North farmers", kind="farmers", region=region))
    for code in ("a1", "a2"):
        score(StoreFactory(code=code, region=region, rep=farmer), zone="attack")
    client.force_login(supervisor)

    response = client.get(reverse("coverage"))

    options = ('<option value="ann">Ann &lt;Lee&gt; · North hunters (0 stores)</option>'
               '<option value="bo">bo · North hunters (1 store)</option>')
    assert [row["options"] for row in response.context["page"].object_list] == [options, options]
    assert response.content.decode().count(options) == 2
