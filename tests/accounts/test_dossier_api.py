"""The dossier under /api/v1/accounts/{code}/: decision-makers, events, competitors (SPEC §7)."""
import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Competitor, CompetitorPresence, DecisionMaker, KeyAccount, RelationshipEvent
from tests.conftest import client_for
from tests.factories import AnalystFactory, KeyAccountFactory, StoreFactory, SupervisorFactory

from .factories import CompetitorFactory, DecisionMakerFactory, EventFactory, PresenceFactory

pytestmark = pytest.mark.django_db

DM_FIELDS = [
    "id", "name", "title", "department", "buying_role", "influence", "attitude", "reports_to", "phone", "email",
    "birthday", "interests", "notes", "last_contacted",
]


def url(account, resource, pk=None):
    return f"/api/v1/accounts/{account}/{resource}/" + (f"{pk}/" if pk else "")


def person(**kw):
    return {"name": "Li Ming", "buying_role": "decision_maker", "influence": 4, "attitude": "supporter", **kw}


# -- reading and writing -------------------------------------------------------------------------


def test_the_owner_lists_decision_makers_with_exactly_the_spec_fields(ka1, wm):
    boss = DecisionMakerFactory(account=wm, name="Boss", birthday=dt.date(1970, 5, 1))
    DecisionMakerFactory(account=wm, name="Buyer", reports_to=boss)

    body = client_for(ka1).get(url("wm", "decision-makers")).json()

    assert body["count"] == 2
    assert list(body["results"][0]) == DM_FIELDS
    assert [(r["name"], r["reports_to"]) for r in body["results"]] == [("Boss", None), ("Buyer", boss.pk)]
    assert body["results"][0]["birthday"] == "1970-05-01"


def test_the_owner_adds_a_decision_maker_who_reports_to_a_colleague(ka1, wm):
    boss = DecisionMakerFactory(account=wm)

    response = client_for(ka1).post(url("wm", "decision-makers"), person(reports_to=boss.pk, phone="+86 21 1"), format="json")

    assert response.status_code == 201, response.json()
    created = DecisionMaker.objects.get(pk=response.json()["id"])
    assert (created.account, created.reports_to, created.influence, created.phone) == (wm, boss, 4, "+86 21 1")


def test_an_analyst_reads_and_writes_every_dossier(wm, cf):
    client = client_for(AnalystFactory())

    assert client.post(url("cf", "decision-makers"), person(), format="json").status_code == 201
    assert client.get(url("wm", "decision-makers")).status_code == 200


def test_decision_makers_are_paginated_and_filtered(ka1, wm):
    DecisionMakerFactory(account=wm, name="A", buying_role="gatekeeper", attitude="sceptic")
    DecisionMakerFactory(account=wm, name="B", buying_role="gatekeeper", attitude="champion")
    DecisionMakerFactory(account=wm, name="C", buying_role="purchaser", attitude="sceptic", influence=5)
    client = client_for(ka1)

    def names(query):
        return [r["name"] for r in client.get(url("wm", "decision-makers") + query).json()["results"]]

    assert names("?buying_role=gatekeeper") == ["A", "B"]
    assert names("?attitude=sceptic") == ["A", "C"]
    assert names("?influence_min=5") == ["C"]
    page = client.get(url("wm", "decision-makers") + "?page_size=2&page=2").json()
    assert (page["count"], [r["name"] for r in page["results"]], page["next"]) == (3, ["C"], None)
    assert client.get(url("wm", "decision-makers") + "?buying_role=ceo").status_code == 400


def test_a_decision_maker_is_changed_and_deleted_and_their_reports_move_up(ka1, wm):
    top = DecisionMakerFactory(account=wm, name="Top")
    middle = DecisionMakerFactory(account=wm, name="Middle", reports_to=top)
    low = DecisionMakerFactory(account=wm, name="Low", reports_to=middle)
    client = client_for(ka1)

    assert client.patch(url("wm", "decision-makers", middle.pk), {"attitude": "opponent"}, format="json").status_code == 200
    assert client.delete(url("wm", "decision-makers", middle.pk)).status_code == 204

    low.refresh_from_db()
    assert low.reports_to == top
    assert not DecisionMaker.objects.filter(pk=middle.pk).exists()


# -- scope ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", ["decision-makers", "events", "competitors"])
def test_another_ka_managers_dossier_is_a_404_to_read_and_to_write(ka1, wm, cf, resource):
    DecisionMakerFactory(account=cf)
    theirs = {"decision-makers": DecisionMakerFactory(account=cf), "events": EventFactory(account=cf),
              "competitors": PresenceFactory(account=cf)}[resource]
    client = client_for(ka1)
    before = (DecisionMaker.objects.count(), RelationshipEvent.objects.count(), CompetitorPresence.objects.count())

    assert client.get(url("cf", resource)).status_code == 404
    assert client.get(url("cf", resource, theirs.pk)).status_code == 404
    assert client.post(url("cf", resource), {"name": "x"}, format="json").status_code == 404
    assert client.patch(url("cf", resource, theirs.pk), {"name": "x"}, format="json").status_code == 404
    assert client.delete(url("cf", resource, theirs.pk)).status_code == 404
    # Reaching another account's row through one's own account is a 404 too.
    assert client.get(url("wm", resource, theirs.pk)).status_code == 404
    assert client.delete(url("wm", resource, theirs.pk)).status_code == 404
    assert (DecisionMaker.objects.count(), RelationshipEvent.objects.count(), CompetitorPresence.objects.count()) == before


def test_an_unknown_account_code_is_a_404(ka1, wm):
    client = client_for(AnalystFactory())

    assert client.get(url("atlantis", "decision-makers")).status_code == 404
    assert client.post(url("atlantis", "events"), {"date": "2026-01-01", "kind": "call", "summary": "x"}, format="json").status_code == 404
    assert RelationshipEvent.objects.count() == 0


def test_a_rep_may_neither_read_nor_change_the_dossier_of_an_account_of_own_stores(rep, wm, cf):
    boss = DecisionMakerFactory(account=wm, name="Boss")
    client = client_for(rep)

    assert client.get(url("wm", "decision-makers")).status_code == 403
    assert client.get(url("wm", "decision-makers", boss.pk)).status_code == 403
    assert client.get(url("cf", "decision-makers")).status_code == 403
    assert client.post(url("wm", "decision-makers"), person(), format="json").status_code == 403
    assert client.patch(url("wm", "decision-makers", boss.pk), {"name": "Mine"}, format="json").status_code == 403
    assert client.delete(url("wm", "decision-makers", boss.pk)).status_code == 403
    assert client.post(url("wm", "competitors"), {"competitor": "Kaiyo"}, format="json").status_code == 403
    assert list(DecisionMaker.objects.values_list("name", flat=True)) == ["Boss"]
    assert Competitor.objects.count() == 0


def test_a_supervisor_may_neither_read_nor_change_the_dossier_of_an_account_of_own_regions(supervisor, wm, cf):
    EventFactory(account=wm)
    client = client_for(supervisor)

    assert client.get(url("wm", "events")).status_code == 403
    assert client.get(url("cf", "events")).status_code == 403
    assert client.post(url("wm", "events"), {"date": "2026-01-01", "kind": "call", "summary": "x"}, format="json").status_code == 403


def test_anonymous_requests_are_401(wm):
    from rest_framework.test import APIClient

    assert APIClient().get(url("wm", "decision-makers")).status_code == 401


# -- bad input: clear 400s, nothing stored -------------------------------------------------------


def test_a_reporting_cycle_is_a_400_naming_reports_to(ka1, wm):
    a = DecisionMakerFactory(account=wm, name="A")
    b = DecisionMakerFactory(account=wm, name="B", reports_to=a)
    c = DecisionMakerFactory(account=wm, name="C", reports_to=b)

    response = client_for(ka1).patch(url("wm", "decision-makers", a.pk), {"reports_to": c.pk}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["reports_to"]
    assert "cycle" in response.json()["reports_to"][0]
    a.refresh_from_db()
    assert a.reports_to is None


def test_reporting_to_oneself_is_a_400(ka1, wm):
    a = DecisionMakerFactory(account=wm)

    response = client_for(ka1).patch(url("wm", "decision-makers", a.pk), {"reports_to": a.pk}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["reports_to"]


def test_a_decision_maker_of_another_account_as_boss_is_a_400(ka1, wm, cf):
    stranger = DecisionMakerFactory(account=cf)

    response = client_for(ka1).post(url("wm", "decision-makers"), person(reports_to=stranger.pk), format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["reports_to"]
    assert "same account" in response.json()["reports_to"][0]
    assert DecisionMaker.objects.filter(account=wm).count() == 0


@pytest.mark.parametrize(
    "change, field",
    [({"influence": 0}, "influence"), ({"influence": 6}, "influence"), ({"buying_role": "boss"}, "buying_role"),
     ({"attitude": "hostile"}, "attitude"), ({"email": "not-an-email"}, "email"), ({"name": ""}, "name"),
     ({"birthday": "1990-02-30"}, "birthday"), ({"reports_to": "x"}, "reports_to")],
)
def test_bad_decision_maker_payloads_are_400s(ka1, wm, change, field):
    response = client_for(ka1).post(url("wm", "decision-makers"), person(**change), format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert DecisionMaker.objects.count() == 0


def test_an_outcome_on_a_non_tender_event_is_a_400(ka1, wm):
    client = client_for(ka1)
    payload = {"date": "2026-03-02", "kind": "meeting", "summary": "Review", "outcome": "won", "reason": "Price"}

    response = client.post(url("wm", "events"), payload, format="json")

    assert response.status_code == 400
    assert sorted(response.json()) == ["outcome", "reason"]
    assert RelationshipEvent.objects.count() == 0


def test_turning_a_tender_with_an_outcome_into_a_call_is_a_400(ka1, wm):
    tender = EventFactory(account=wm, kind="tender", outcome="lost", reason="Price")

    response = client_for(ka1).patch(url("wm", "events", tender.pk), {"kind": "call"}, format="json")

    assert response.status_code == 400
    assert "outcome" in response.json()
    tender.refresh_from_db()
    assert tender.kind == "tender"


def test_decision_makers_of_another_account_on_an_event_are_a_400(ka1, wm, cf):
    stranger = DecisionMakerFactory(account=cf)
    payload = {"date": "2026-03-02", "kind": "meeting", "summary": "Review", "decision_makers": [stranger.pk]}

    response = client_for(ka1).post(url("wm", "events"), payload, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["decision_makers"]
    assert RelationshipEvent.objects.count() == 0


@pytest.mark.parametrize(
    "change, field",
    [({"kind": "lunch"}, "kind"), ({"date": "soon"}, "date"), ({"summary": ""}, "summary"),
     ({"kind": "tender", "outcome": "draw"}, "outcome"), ({"decision_makers": "1"}, "decision_makers")],
)
def test_bad_event_payloads_are_400s(ka1, wm, change, field):
    payload = {"date": "2026-03-02", "kind": "meeting", "summary": "Review", **change}

    response = client_for(ka1).post(url("wm", "events"), payload, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert RelationshipEvent.objects.count() == 0


# -- events ----------------------------------------------------------------------------------------


def test_a_tender_is_recorded_with_the_people_involved_who_count_as_contacted(ka1, wm):
    a = DecisionMakerFactory(account=wm, last_contacted=dt.date(2026, 1, 1))
    b = DecisionMakerFactory(account=wm, last_contacted=dt.date(2026, 6, 1))
    payload = {"date": "2026-03-02", "kind": "tender", "summary": "Listing 2026", "outcome": "lost",
               "reason": "Price", "decision_makers": [a.pk, b.pk]}

    response = client_for(ka1).post(url("wm", "events"), payload, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert {k: body[k] for k in payload} == {**payload, "decision_makers": [a.pk, b.pk]}
    assert list(body) == ["id", "date", "kind", "summary", "outcome", "reason", "decision_makers"]
    event = RelationshipEvent.objects.get()
    assert event.recorded_by == ka1
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.last_contacted, b.last_contacted) == (dt.date(2026, 3, 2), dt.date(2026, 6, 1))


def test_events_are_filtered_by_kind_outcome_date_and_person(ka1, wm):
    boss = DecisionMakerFactory(account=wm)
    EventFactory(account=wm, date=dt.date(2026, 1, 5), kind="call")
    won = EventFactory(account=wm, date=dt.date(2026, 2, 5), kind="tender", outcome="won")
    EventFactory(account=wm, date=dt.date(2026, 3, 5), kind="tender", outcome="lost")
    won.decision_makers.add(boss)
    client = client_for(ka1)

    def dates(query):
        return [r["date"] for r in client.get(url("wm", "events") + query).json()["results"]]

    assert dates("") == ["2026-03-05", "2026-02-05", "2026-01-05"]
    assert dates("?kind=tender") == ["2026-03-05", "2026-02-05"]
    assert dates("?outcome=won") == ["2026-02-05"]
    assert dates("?date_after=2026-02-01&date_before=2026-02-28") == ["2026-02-05"]
    assert dates(f"?decision_maker={boss.pk}") == ["2026-02-05"]


# -- competitors -----------------------------------------------------------------------------------


def test_a_competitor_is_added_by_brand_name_and_the_brand_is_reused_across_accounts(ka1, wm, analyst, cf):
    client = client_for(ka1)
    payload = {"competitor": "Kaiyo", "estimated_share": 0.3, "strengths": "Promoters", "weaknesses": "Supply",
               "activity": "Price cut", "updated_on": "2026-03-01"}

    response = client.post(url("wm", "competitors"), payload, format="json")
    other = client_for(analyst).post(url("cf", "competitors"), {"competitor": " kaiyo "}, format="json")

    assert response.status_code == 201, response.json()
    assert {k: response.json()[k] for k in payload} == payload
    assert list(response.json()) == ["id", "competitor", "estimated_share", "strengths", "weaknesses", "activity", "updated_on"]
    assert other.status_code == 201
    assert other.json()["competitor"] == "Kaiyo"
    assert list(Competitor.objects.values_list("name", flat=True)) == ["Kaiyo"]


def test_the_same_competitor_twice_in_one_account_is_a_400(ka1, wm):
    PresenceFactory(account=wm, competitor=CompetitorFactory(name="Kaiyo"))

    response = client_for(ka1).post(url("wm", "competitors"), {"competitor": "KAIYO"}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["competitor"]
    assert CompetitorPresence.objects.count() == 1


def test_a_competitor_is_renamed_by_pointing_it_at_another_brand(ka1, wm):
    presence = PresenceFactory(account=wm, competitor=CompetitorFactory(name="Kaiyo"))

    response = client_for(ka1).patch(url("wm", "competitors", presence.pk), {"competitor": "Nordex", "estimated_share": None}, format="json")

    assert response.status_code == 200, response.json()
    presence.refresh_from_db()
    assert (presence.competitor.name, presence.estimated_share) == ("Nordex", None)


@pytest.mark.parametrize(
    "payload, field",
    [({"competitor": ""}, "competitor"), ({"competitor": "   "}, "competitor"), ({}, "competitor"),
     ({"competitor": "K", "estimated_share": 1.5}, "estimated_share"),
     ({"competitor": "K", "estimated_share": -0.1}, "estimated_share"),
     ({"competitor": "K", "updated_on": "yesterday"}, "updated_on")],
)
def test_bad_competitor_payloads_are_400s(ka1, wm, payload, field):
    response = client_for(ka1).post(url("wm", "competitors"), payload, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert (Competitor.objects.count(), CompetitorPresence.objects.count()) == (0, 0)


# -- the account's profile ------------------------------------------------------------------------


def test_the_owner_fills_the_profile(ka1, wm):
    profile = {
        "customer_roles": ["lifeblood", "image_maker"], "description": "Hypermarkets", "employees": 210000,
        "founded": 1962, "history": "Entered China in 1996", "organisation_structure": "Central buying",
        "business_environment": "Online pressure", "headquarters": "Shanghai", "website": "https://wm.example",
    }

    response = client_for(ka1).patch("/api/v1/accounts/wm/", profile, format="json")

    assert response.status_code == 200, response.json()
    assert {k: response.json()[k] for k in profile} == profile
    wm.refresh_from_db()
    assert (wm.customer_roles, wm.employees, wm.history) == (["lifeblood", "image_maker"], 210000, "Entered China in 1996")


@pytest.mark.parametrize(
    "change, field",
    [({"customer_roles": ["vip"]}, "customer_roles"), ({"customer_roles": ["expert", "expert"]}, "customer_roles"),
     ({"customer_roles": "expert"}, "customer_roles"), ({"employees": -1}, "employees"),
     ({"founded": 3000}, "founded"), ({"website": "not a url"}, "website")],
)
def test_bad_profile_payloads_are_400s(ka1, wm, change, field):
    response = client_for(ka1).patch("/api/v1/accounts/wm/", change, format="json")

    assert response.status_code == 400
    assert field in response.json()
    wm.refresh_from_db()
    assert (wm.customer_roles, wm.employees, wm.founded, wm.website) == ([], None, None, "")


# -- the database holds the rules too ----------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda wm: DecisionMakerFactory(account=wm, influence=6),
        lambda wm: DecisionMakerFactory(account=wm, influence=0),
        lambda wm: EventFactory(account=wm, kind="meeting", outcome="won"),
        lambda wm: EventFactory(account=wm, kind="call", reason="Price"),
        lambda wm: PresenceFactory(account=wm, estimated_share=1.2),
        lambda wm: [PresenceFactory(account=wm, competitor=brand) for brand in [CompetitorFactory(name="K")] * 2],
        lambda wm: Competitor.objects.bulk_create([Competitor(name="Kaiyo"), Competitor(name="KAIYO")]),
    ],
)
def test_constraints_refuse_what_validation_would_refuse(wm, make):
    with pytest.raises(IntegrityError), transaction.atomic():
        make(wm)


def test_a_person_cannot_be_their_own_boss_in_the_database(wm):
    person = DecisionMakerFactory(account=wm)
    with pytest.raises(IntegrityError), transaction.atomic():
        DecisionMaker.objects.filter(pk=person.pk).update(reports_to=person)


# -- constant queries -------------------------------------------------------------------------------


def _fill(account, n, start=0):
    people = [DecisionMakerFactory(account=account) for _ in range(n)]
    for i in range(start, start + n):
        event = EventFactory(account=account, date=dt.date(2026, 1, 1) + dt.timedelta(days=i))
        event.decision_makers.add(*people[: 1 + i % 3])
        PresenceFactory(account=account, competitor=CompetitorFactory(name=f"{account.code}-{i}"))


@pytest.mark.parametrize("resource", ["decision-makers", "events", "competitors"])
def test_nested_lists_issue_the_same_number_of_queries_for_2_and_50_rows(resource):
    counts = []
    for code, n in (("small", 2), ("large", 50)):
        account = KeyAccountFactory(code=code)
        _fill(account, n)
        client = client_for(account.owner)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url(code, resource) + "?page_size=100")
        assert response.json()["count"] == n
        counts.append(len(ctx))
    assert counts[0] == counts[1]


def test_a_supervisor_lists_account_summaries_in_the_same_queries_through_a_distinct_scope(region, rep, wm):
    sup = SupervisorFactory()
    region.supervisors.add(sup)
    with CaptureQueriesContext(connection) as small:
        assert client_for(sup).get("/api/v1/accounts/").json()["count"] == 1
    for n in range(20):
        account = KeyAccountFactory(code=f"more-{n}")
        StoreFactory(code=f"more-{n}-a", account=account, region=region)
        StoreFactory(code=f"more-{n}-b", account=account, region=region)
    with CaptureQueriesContext(connection) as large:
        assert client_for(sup).get("/api/v1/accounts/").json()["count"] == 21
    assert len(small) == len(large)


def test_the_schema_documents_the_nested_resources(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in ["/api/v1/accounts/{account_code}/decision-makers/", "/api/v1/accounts/{account_code}/events/{id}/",
                 "/api/v1/accounts/{account_code}/competitors/{id}/"]:
        assert path in schema["paths"], path


def test_today_is_a_valid_event_date(ka1, wm):
    today = timezone.localdate().isoformat()
    response = client_for(ka1).post(url("wm", "events"), {"date": today, "kind": "call", "summary": "x"}, format="json")
    assert response.status_code == 201
    assert KeyAccount.objects.get(code="wm").events.count() == 1
