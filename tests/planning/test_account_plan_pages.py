import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from planning.models import AccountPlan, BusinessReview, PlanAction, PlanObjective
from tests.factories import KAManagerFactory, KeyAccountFactory, StoreFactory, StoreVisitFactory

pytestmark = pytest.mark.django_db
YEAR = timezone.localdate().year


@pytest.fixture
def ka1():
    return KAManagerFactory(username="ka1")


@pytest.fixture
def account(ka1):
    return KeyAccountFactory(code="carrefour", name="Carrefour", owner=ka1)


def plan_url(year=YEAR):
    return reverse("account-plan", args=["carrefour", year])


def test_the_owner_builds_the_plan_from_the_page(client, ka1, account):
    client.force_login(ka1)
    soon = (timezone.localdate() + dt.timedelta(days=10)).isoformat()

    client.post(plan_url() + "?form=summary", {"summary-summary": "Grow"})
    client.post(plan_url() + "?form=objective", {"objective-title": "Wallet share 25%", "objective-metric": "wallet_share",
                                                 "objective-target": "25", "objective-due": soon})
    client.post(plan_url() + "?form=action", {"action-title": "End caps", "action-owner": ka1.pk, "action-due": soon,
                                              "action-status": "open"})
    client.post(plan_url() + "?form=review", {"review-quarter": "2", "review-date": soon, "review-held": "on"})
    client.post(plan_url() + "?form=forecast", {"forecast-m1": "100", "forecast-m2": "", "forecast-m3": "300"})
    action = PlanAction.objects.get()
    client.post(plan_url() + "?form=status", {"action": action.pk, "status": "done"})

    plan = AccountPlan.objects.get()
    assert (plan.account, plan.year, plan.summary, plan.updated_by) == (account, YEAR, "Grow", ka1)
    assert list(PlanObjective.objects.values_list("title", "target")) == [("Wallet share 25%", 25)]
    assert list(PlanAction.objects.values_list("title", "owner__username", "status")) == [("End caps", "ka1", "done")]
    assert list(BusinessReview.objects.values_list("quarter", "held")) == [(2, True)]
    assert list(plan.forecast.values_list("month", "own_units")) == [(1, 100), (3, 300)]


def test_an_invalid_form_is_shown_again_and_saves_nothing(client, ka1, account):
    client.force_login(ka1)
    response = client.post(plan_url() + "?form=objective", {"objective-title": "", "objective-metric": "x"})
    assert response.status_code == 200
    assert response.context["forms"]["objective"].errors
    assert AccountPlan.objects.count() == 0


def test_readers_of_the_dossier_cannot_edit_the_plan_and_strangers_get_a_404(client, account, rep, region):
    StoreFactory(account=account, region=region, rep=rep)
    client.force_login(rep)
    assert client.get(plan_url()).status_code == 403
    client.force_login(KAManagerFactory(username="ka2"))
    assert client.get(plan_url()).status_code == 404


def test_the_dossier_shows_the_plan_rolling_months_and_forecast_against_actuals(client, ka1, account, region):
    today = timezone.localdate()
    plan = AccountPlan.objects.create(account=account, year=YEAR, summary="Grow in hypermarkets")
    PlanObjective.objects.create(plan=plan, title="Wallet share 25%", metric="wallet_share", target=25, due=today)
    PlanAction.objects.create(plan=plan, title="End caps in 20 stores", due=today, status="open")
    PlanAction.objects.create(plan=plan, title="Old action", due=today, status="done")
    plan.forecast.create(month=today.month, own_units=1000)
    store = StoreFactory(account=account, region=region)
    StoreVisitFactory(store=store, date=today, own_sales=10)
    client.force_login(ka1)

    response = client.get(reverse("account-dossier", args=["carrefour"]))

    html = response.content.decode()
    assert "Grow in hypermarkets" in html and "End caps in 20 stores" in html
    rolling = response.context["rolling"]
    assert [a.title for a in rolling[0]["actions"]] == ["End caps in 20 stores"]
    assert len(rolling) == 3
    row = response.context["forecast"][today.month - 1]
    days = (dt.date(YEAR + today.month // 12, today.month % 12 + 1, 1) - dt.timedelta(days=1)).day
    assert (row["forecast"], row["actual"]) == (1000, 10 * days)


def test_the_dossier_plan_section_costs_the_same_queries_at_two_sizes(client, ka1, account, region):
    client.force_login(ka1)
    plan = AccountPlan.objects.create(account=account, year=YEAR)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("account-dossier", args=["carrefour"])).status_code == 200
        return len(ctx)

    today = timezone.localdate()

    def add(n):
        PlanObjective.objects.create(plan=plan, title=f"o{n}", metric="other", target=1, due=today)
        PlanAction.objects.create(plan=plan, title=f"a{n}", due=today, owner=ka1)
        plan.forecast.create(month=n + 1, own_units=5)
        StoreVisitFactory(store=StoreFactory(account=account, region=region), date=today)

    add(0)
    small = count()
    for n in range(1, 5):
        add(n)
    BusinessReview.objects.create(plan=plan, quarter=1, date=today)
    assert count() == small


def test_the_action_owner_list_offers_the_owner_ka_managers_supervisors_and_the_accounts_reps(client, ka1, account, region):
    from tests.factories import RepFactory, SupervisorFactory

    sup = SupervisorFactory(username="sup<1>")
    mine, other = RepFactory(username="rep-mine", region=region), RepFactory(username="rep-other", region=region)
    StoreFactory(account=account, region=region, rep=mine)
    StoreFactory(region=region, rep=other)
    client.force_login(ka1)

    fresh = client.get(plan_url()).content.decode()
    invalid = client.post(plan_url() + "?form=action", {"action-title": "", "action-owner": mine.pk}).content.decode()

    options = [(ka1.pk, "ka1"), (mine.pk, "rep-mine"), (sup.pk, "sup&lt;1&gt;")]
    assert ('<select name="action-owner" id="id_action-owner"><option value="">---------</option>'
            + "".join(f'<option value="{pk}" selected>{name}</option>' if pk == ka1.pk else f'<option value="{pk}">{name}</option>'
                      for pk, name in options) + "</select>") in fresh
    assert f'<option value="{mine.pk}" selected>rep-mine</option>' in invalid
    assert 'rep-other' not in fresh
