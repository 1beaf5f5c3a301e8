"""The audit trail (SPEC §9): who changed a dossier or a sales figure, what, and when."""
import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import DecisionMaker, KeyAccount, RelationshipEvent
from stores.models import StoreVisit
from stores.services import BULK_CHANGE_REASON
from tests.conftest import client_for
from tests.factories import StoreVisitFactory

from .factories import DecisionMakerFactory, EventFactory

pytestmark = pytest.mark.django_db


def test_a_dossier_edit_on_the_page_is_recorded_with_its_author_and_shown_on_the_dossier(client, ka1, wm):
    person = DecisionMakerFactory(account=wm, name="Liu Yang", influence=3, attitude="neutral")
    client.force_login(ka1)
    data = {"name": "Liu Yang", "title": "Buyer", "department": "", "buying_role": "purchaser", "influence": "5",
            "attitude": "champion", "reports_to": "", "phone": "", "email": "", "birthday": "", "last_contacted": "",
            "interests": "", "notes": ""}

    response = client.post(reverse("account-person-save", args=["wm", person.pk]),
                           {f"person-{person.pk}-{k}": v for k, v in data.items()})

    assert response.status_code == 302
    latest = person.audit.latest()
    assert (latest.history_type, latest.history_user, latest.influence, latest.attitude) == ("~", ka1, 5, "champion")
    change = client.get(reverse("account-dossier", args=["wm"])).context["changes"][0]
    assert (change.who, change.action, change.label) == (ka1, "~", "Liu Yang")
    assert change.fields == [("influence", "3", "5"), ("attitude", "Neutral", "Champion")]


def test_an_api_edit_is_recorded_with_the_api_user(ka1, wm):
    response = client_for(ka1).post("/api/v1/accounts/wm/decision-makers/",
                                    {"name": "New", "buying_role": "gatekeeper"}, format="json")
    client_for(ka1).patch("/api/v1/accounts/wm/", {"employees": 500}, format="json")

    created = DecisionMaker.objects.get(pk=response.json()["id"])
    assert [(h.history_type, h.history_user) for h in created.audit.all()] == [("+", ka1)]
    assert (wm.audit.latest().history_user, wm.audit.latest().employees) == (ka1, 500)


def test_deletes_are_recorded_too(client, ka1, wm):
    person = DecisionMakerFactory(account=wm, name="Gone")
    client.force_login(ka1)

    client.post(reverse("account-person-delete", args=["wm", person.pk]))

    record = DecisionMaker.audit.get(id=person.pk, history_type="-")
    assert (record.history_user, record.name) == (ka1, "Gone")
    assert client.get(reverse("account-dossier", args=["wm"])).context["changes"][0].action == "-"


def test_an_event_write_is_one_audit_row_with_the_people_involved(ka1, wm):
    a, b = DecisionMakerFactory(account=wm), DecisionMakerFactory(account=wm)
    client = client_for(ka1)

    response = client.post("/api/v1/accounts/wm/events/", {"date": "2026-03-02", "kind": "call", "summary": "Hi",
                                                            "decision_makers": [a.pk, b.pk]}, format="json")
    client.patch(f"/api/v1/accounts/wm/events/{response.json()['id']}/", {"decision_makers": [a.pk]}, format="json")

    event = RelationshipEvent.objects.get()
    records = list(event.audit.order_by("history_id"))
    assert [(r.history_type, r.history_user) for r in records] == [("+", ka1), ("~", ka1)]
    assert [sorted(m.decisionmaker_id for m in r.decision_makers.all()) for r in records] == [sorted([a.pk, b.pk]), [a.pk]]


def test_a_visit_correction_is_recorded_with_the_rep_and_the_old_figure(rep, my_store):
    visit = StoreVisitFactory(store=my_store, total_sales=100, own_sales=20)

    response = client_for(rep).patch(f"/api/v1/visits/{visit.pk}/", {"own_sales": 25}, format="json")

    assert response.status_code == 200
    latest = visit.audit.latest()
    assert (latest.history_type, latest.history_user, latest.own_sales) == ("~", rep, 25)


def test_a_visit_correction_shows_on_the_dossier_of_the_stores_account(client, ka1, wm, rep):
    store = wm.stores.get()
    visit = StoreVisitFactory(store=store, total_sales=100, own_sales=20)
    client_for(rep).post("/api/v1/visits/", {"store": store.code, "date": (timezone.localdate() - dt.timedelta(days=1)).isoformat(),
                                               "total_sales": 50, "own_sales": 5}, format="json")
    client_for(rep).patch(f"/api/v1/visits/{visit.pk}/", {"total_sales": 120}, format="json")
    client.force_login(ka1)

    corrections = client.get(reverse("account-dossier", args=["wm"])).context["corrections"]

    assert [(c.who, c.fields) for c in corrections] == [(rep, [("total category sales (units, all brands)", "100", "120")])]


def test_a_bulk_upsert_writes_one_audit_row_per_changed_visit_with_the_api_user(rep, my_store, their_store):
    first, second = (timezone.localdate() - dt.timedelta(days=d) for d in (1, 2))
    StoreVisitFactory(store=my_store, date=second, total_sales=50, own_sales=10)
    batch = [
        {"store": "mine", "date": first.isoformat(), "total_sales": 100, "own_sales": 20},
        {"store": "mine", "date": second.isoformat(), "total_sales": 60, "own_sales": 10},
    ]
    client = client_for(rep)

    assert client.post("/api/v1/visits/bulk/", batch, format="json").json() == {"created": 1, "updated": 1}
    assert client.post("/api/v1/visits/bulk/", batch, format="json").json() == {"created": 0, "updated": 0}

    rows = StoreVisit.audit.filter(history_change_reason=BULK_CHANGE_REASON).order_by("date")
    assert [(r.date, r.history_type, r.history_user, r.total_sales) for r in rows] == [
        (second, "~", rep, 60), (first, "+", rep, 100),
    ]
    assert all(r.id == StoreVisit.objects.get(store=my_store, date=r.date).pk for r in rows)


def test_a_rejected_bulk_batch_leaves_no_audit_row(rep, my_store):
    batch = [{"store": "mine", "date": "2026-01-01", "total_sales": 10, "own_sales": 20}]

    assert client_for(rep).post("/api/v1/visits/bulk/", batch, format="json").status_code == 400
    assert StoreVisit.audit.count() == 0


def test_staff_read_the_history_in_the_admin(admin_client, wm):
    DecisionMakerFactory(account=wm)
    KeyAccount.objects.get(code="wm").save()

    assert admin_client.get(reverse("admin:accounts_keyaccount_history", args=[wm.pk])).status_code == 200
    assert admin_client.get(reverse("admin:accounts_decisionmaker_history", args=[DecisionMaker.objects.get().pk])).status_code == 200
    visit = StoreVisitFactory(store=wm.stores.get())
    assert admin_client.get(reverse("admin:stores_storevisit_history", args=[visit.pk])).status_code == 200
    event = EventFactory(account=wm)
    assert admin_client.get(reverse("admin:accounts_relationshipevent_history", args=[event.pk])).status_code == 200
