"""Issue 10: an alert's page issues the same queries whether its region has 3 stores with visits or 30."""
import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.alerts.conftest import make_alert
from tests.factories import MarketShareFactory, RegionFactory, StoreFactory, StoreVisitFactory

pytestmark = pytest.mark.django_db


def grow(region, n):
    """n more stores of the region, each with a visit every 3rd day of the last 120 (inside the chart's 90 days and window)."""
    today = timezone.localdate()
    for _ in range(n):
        store = StoreFactory(region=region)
        for back in range(0, 120, 3):
            StoreVisitFactory(store=store, date=today - dt.timedelta(days=back), own_sales=20 + back % 7)


def count_queries(client, url):
    client.get(url)  # warm-up
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("viewer", ["supervisor", "analyst"])
@pytest.mark.parametrize("with_share", [True, False], ids=["share row", "country panel"])
def test_an_alert_page_issues_the_same_queries_for_3_and_30_stores(request, client, viewer, with_share, supervisor):
    region = RegionFactory(code="east", country="ES")
    region.supervisors.add(supervisor)
    if with_share:
        MarketShareFactory(country="ES", region=region, share=0.2)
    grow(region, 3)
    alert = make_alert(region.stores.order_by("code").first(), opened_on=timezone.localdate() - dt.timedelta(days=5))
    client.force_login(request.getfixturevalue(viewer))
    url = reverse("alert-detail", args=[alert.pk])

    small = count_queries(client, url)
    grow(region, 27)
    assert count_queries(client, url) == small
