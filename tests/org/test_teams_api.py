"""The teams endpoint and the region scope it stands on, for a KA manager (issue 10): their regions are the regions of
their accounts' stores, each once, and the members are the active people of those regions only."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from org.models import Region, Team
from tests.conftest import client_for
from tests.factories import KAManagerFactory, KeyAccountFactory, RegionFactory, RepFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ka1():
    return KAManagerFactory(username="ka1")


@pytest.fixture
def regions():
    return {code: RegionFactory(code=code) for code in ("east", "north", "south")}


def team(name, region, *members):
    team = Team.objects.create(name=name, kind="hunters", region=region)
    for username in members:
        RepFactory(username=username, region=region, team=team)
    return team


def test_a_ka_managers_regions_are_those_of_their_stores_each_once(ka1, regions):
    mine, theirs = KeyAccountFactory(owner=ka1), KeyAccountFactory(owner=KAManagerFactory())
    for _ in range(3):
        StoreFactory(account=mine, region=regions["north"])
    StoreFactory(account=mine, region=regions["south"])
    StoreFactory(account=theirs, region=regions["east"])

    visible = Region.objects.visible_to(ka1).order_by("code")

    assert list(visible.values_list("code", flat=True)) == ["north", "south"]
    assert visible.count() == 2
    assert list(Region.objects.filter(pk__in=Region.objects.visible_to(ka1)).values_list("code", flat=True)) == [
        "north", "south"]


def test_a_ka_manager_lists_the_teams_of_their_regions_with_members_of_those_regions_only(ka1, regions):
    account = KeyAccountFactory(owner=ka1)
    StoreFactory(account=account, region=regions["north"])
    StoreFactory(account=account, region=regions["north"])
    north = team("North hunters", regions["north"], "rep-n2", "rep-n1")
    RepFactory(username="rep-s1", region=regions["south"], team=north)  # a member from a region ka1 does not see
    RepFactory(username="rep-n3", region=regions["north"], team=north, is_active=False)
    team("South hunters", regions["south"], "rep-s2")

    response = client_for(ka1).get("/api/v1/teams/")

    assert response.json()["results"] == [
        {"name": "North hunters", "kind": "hunters", "region": "north", "members": ["rep-n1", "rep-n2"]}]
    assert client_for(ka1).get("/api/v1/teams/South hunters/").status_code == 404


def test_the_team_list_of_a_ka_manager_costs_the_same_queries_for_1_and_4_regions_of_stores(ka1, regions):
    account = KeyAccountFactory(owner=ka1)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            response = client_for(ka1).get("/api/v1/teams/")
        assert response.status_code == 200
        return len(ctx), [t["name"] for t in response.json()["results"]]

    StoreFactory(account=account, region=regions["north"])
    team("North hunters", regions["north"], "rep-n1")
    small, names = count()
    assert names == ["North hunters"]
    for n in range(3):
        region = RegionFactory(code=f"west-{n}")
        for _ in range(4):
            StoreFactory(account=account, region=region)
        team(f"West hunters {n}", region, f"rep-w{n}a", f"rep-w{n}b")
    large, names = count()

    assert names == ["North hunters", "West hunters 0", "West hunters 1", "West hunters 2"]
    assert large == small
