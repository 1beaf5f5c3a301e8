"""The matrix at any number of stores: a bounded number of points, the count they stand for, constant queries."""
import json
import re
import statistics

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analytics import views
from analytics.models import PotentialModelFit, StoreScore
from tests.factories import AnalystFactory, RegionFactory, StoreFactory
from tests.planning.helpers import AS_OF, score

pytestmark = pytest.mark.django_db
LIMIT = 10


@pytest.fixture(autouse=True)
def small_limit(monkeypatch):
    monkeypatch.setattr(views, "MATRIX_LIMIT", LIMIT)


@pytest.fixture
def client_of(client):
    PotentialModelFit.objects.create(as_of=AS_OF, n=40, m=4, r2=0.8, r2_adj=0.78, rmse=10.0, press_r2=0.7, usable=True)
    client.force_login(AnalystFactory(username="analyst"))
    return client


def add_scored_stores(n, region, start=0):
    """`n` stores with potential 1000 x their number, zones and market shares that vary with it."""
    for i in range(start, start + n):
        store = StoreFactory(region=region, code=f"st{i:04d}")
        score(store, zone=("attack", "defend", "maintenance")[i % 3], potential=1000.0 * (i + 1),
              own_annual=10.0 * (i + 1), market_share=(0.2, 0.25, 0.3, 0.35)[i % 4])


def matrix(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("score-matrix"))
    assert response.status_code == 200
    text = response.content.decode()
    data = json.loads(re.search(r'<script id="matrix-data" type="application/json">(.*?)</script>', text, re.S).group(1))
    return response, text, data, len(queries)


def test_a_view_under_the_limit_draws_every_store_and_says_no_sample(client_of):
    add_scored_stores(LIMIT, RegionFactory())

    response, text, data, _queries = matrix(client_of)

    assert len(data["points"]) == LIMIT
    assert [p["code"] for p in data["points"]][:2] == ["st0009", "st0008"]  # largest potential first
    assert "Showing" not in text


def test_a_view_over_the_limit_draws_a_fixed_sample_and_shows_how_many_it_stands_for(client_of):
    add_scored_stores(95, RegionFactory())

    response, text, data, _queries = matrix(client_of)
    again = matrix(client_of)[2]

    codes = [p["code"] for p in data["points"]]
    assert 5 <= len(codes) <= LIMIT
    assert [p["code"] for p in again["points"]] == codes  # the same stores on every visit
    assert codes == sorted(codes, reverse=True)  # largest potential first (potential grows with the number)
    assert len({int(code[2:]) // 32 for code in codes}) == 3  # small, middle and large stores: the cloud's shape
    assert f"Showing {len(codes)} of 95: a fixed sample" in text
    assert [row["count"] for row in response.context["summary"]] == [32, 32, 31, 0]  # the table counts every store
    shares = StoreScore.objects.values_list("market_share", flat=True)
    assert data["marketShare"] == statistics.median(shares)  # the line stands for every store, drawn or not
    assert data["detailUrl"] == "/stores/__code__/"  # each drawn point still links to its store


def test_the_matrix_costs_the_same_queries_and_bounded_bytes_at_10_and_400_stores(client_of):
    region = RegionFactory()
    add_scored_stores(LIMIT, region)
    _response, small_text, small_data, small_queries = matrix(client_of)

    add_scored_stores(390, region, start=LIMIT)
    _response, large_text, large_data, large_queries = matrix(client_of)

    assert small_queries == large_queries
    assert len(small_data["points"]) == LIMIT and len(large_data["points"]) <= LIMIT
    assert len(large_text) < len(small_text) + 1000  # the count grows, the page does not


def test_the_store_filters_still_apply_before_the_sample(client_of):
    north, south = RegionFactory(code="north"), RegionFactory(code="south")
    add_scored_stores(30, north)
    add_scored_stores(5, south, start=30)

    response = client_of.get(reverse("score-matrix"), {"region": "south"})
    data = json.loads(re.search(r'<script id="matrix-data" type="application/json">(.*?)</script>',
                                response.content.decode(), re.S).group(1))

    assert [p["code"] for p in data["points"]] == ["st0034", "st0033", "st0032", "st0031", "st0030"]


def page_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response


def test_the_scores_list_and_comparison_cost_the_same_queries_at_10_and_200_stores_largest_potential_first(client_of):
    region = RegionFactory()
    add_scored_stores(10, region)
    StoreScore.objects.filter(store__code__in=["st0003", "st0007"]).update(missed_attack=True)
    StoreScore.objects.filter(store__code="st0005").update(false_ka=True, potential=None)
    small = [page_queries(client_of, reverse("score-list"))[0], page_queries(client_of, reverse("score-comparison"))[0]]

    add_scored_stores(190, region, start=10)
    StoreScore.objects.filter(store__code__in=["st0150", "st0151"]).update(potential=5000.0)  # ties: by store code
    StoreScore.objects.filter(store__code__in=["st0151", "st0150"]).update(missed_attack=True)
    large_list, listing = page_queries(client_of, reverse("score-list"))
    large_comparison, comparison = page_queries(client_of, reverse("score-comparison"))

    assert small == [large_list, large_comparison]
    assert [s.store.code for s in listing.context["page"].object_list][:3] == ["st0199", "st0198", "st0197"]
    assert [s.store.code for s in comparison.context["missed"]] == ["st0007", "st0150", "st0151", "st0003"]
    assert [s.store.code for s in comparison.context["false_ka"]] == ["st0005"]  # unknown potential still listed
