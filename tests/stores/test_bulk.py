"""The bulk visit endpoint's fast path: the same answers, errors, audit rows and hand-off rows as the serializer path."""
import datetime as dt

import pytest
from django.utils import timezone
from rest_framework import serializers

from alerts.models import PendingEvaluation
from stores import services
from stores.api import BulkVisitItemSerializer, PlainBulkCheck
from stores.models import StoreVisit
from tests.conftest import client_for
from tests.factories import StoreFactory, StoreVisitFactory

pytestmark = pytest.mark.django_db


def days_ago(n):
    return timezone.localdate() - dt.timedelta(days=n)


def item(store="mine", day=1, total=100, own=20, **extra):
    return {"store": store, "date": days_ago(day).isoformat(), "total_sales": total, "own_sales": own, **extra}


def bulk(user, items):
    return client_for(user).post("/api/v1/visits/bulk/", items, format="json")


def serializer_answer(checker, value):
    try:
        return "valid", checker.run_validation(value)
    except serializers.ValidationError as exc:
        return "invalid", serializers.as_serializer_error(exc)


COMMON = [
    item(),
    item(day=0, total=0, own=0),
    item(total=10_000_000, own=10_000_000),
    item(display_ok=True, promotion_ok=False, staff_ok=None),
    item(notes="bench"),
    item(notes="  padded  "),
    item(notes="tienda cerrada, café"),
    item(notes="店铺"),
    item(notes=None),
    item(notes="x" * 2000),
    item(unknown="ignored"),
]
UNUSUAL = [
    "not an object", None, 17, [item()],
    item(store="theirs"), item(store="nowhere"), item(store=" mine"), item(store=5), item(store=None),
    {k: v for k, v in item().items() if k != "store"},
    item(day=-1), item(total=-1, own=0), item(total=10_000_001, own=0), item(total=5, own=6), item(own=-1),
    item(total=True, own=0), item(total=100.0), item(total="100"), item(own=None), item(total=2**70),
    {**item(), "date": "2026-1-05"}, {**item(), "date": "20261105"}, {**item(), "date": "2026-02-30"},
    {**item(), "date": "1999-12-31"}, {**item(), "date": "2100-01-01"}, {**item(), "date": "２０２６-１１-０５"},
    {**item(), "date": 20261105}, {**item(), "date": None}, {**item(), "date": "2026-11-05T00:00"},
    item(display_ok=1), item(promotion_ok="true"), item(staff_ok=0),
    item(notes="x" * 2001), item(notes=" " + "x" * 2000 + " "), item(notes="bad \ud800 text"), item(notes=7),
    item(notes="   "), item(notes=["a"]),
]


@pytest.mark.parametrize("value", COMMON + UNUSUAL)
def test_the_plain_check_never_answers_otherwise_than_the_serializer(rep, my_store, their_store, value):
    stores = {"mine": services.StoreKey(my_store.pk, my_store.rep_id)}
    checker = BulkVisitItemSerializer(context={"stores": stores, "today": timezone.localdate()})

    plain = PlainBulkCheck(checker)(value)

    if plain is not None:  # None hands the item to the serializer, which then answers alone
        assert serializer_answer(checker, value) == ("valid", plain)


@pytest.mark.parametrize("value", COMMON)
def test_the_plain_check_takes_the_common_items_itself(rep, my_store, value):
    stores = {"mine": services.StoreKey(my_store.pk, my_store.rep_id)}
    checker = BulkVisitItemSerializer(context={"stores": stores, "today": timezone.localdate()})

    assert PlainBulkCheck(checker)(value) is not None


def test_bad_items_get_the_serializers_field_errors_by_index(rep, my_store, their_store):
    items = [
        item(day=1), item(store="theirs"), item(day=-1), item(total=5, own=6), item(total="x"),
        item(notes="x" * 2001), item(display_ok="yes"), item(day=1, total=3, own=1),
    ]

    response = bulk(rep, items)

    assert response.status_code == 400
    assert response.json() == {"errors": [
        {"index": 1, "errors": {"store": ["Unknown store code “theirs”, or not a store you may log visits for."]}},
        {"index": 2, "errors": {"date": ["The date cannot be in the future."]}},
        {"index": 3, "errors": {"own_sales": ["Our sales (6) cannot exceed the total category sales (5)."]}},
        {"index": 4, "errors": {"total_sales": ["Give a number, not a string."]}},
        {"index": 5, "errors": {"notes": ["Ensure this field has no more than 2000 characters."]}},
        {"index": 6, "errors": {"display_ok": ["Give true or false, not a string."]}},
        {"index": 7, "errors": {"date": ["Same store and day as item 0."]}},
    ]}
    assert StoreVisit.objects.count() == 0
    assert StoreVisit.audit.count() == 0
    assert PendingEvaluation.objects.count() == 0


def test_a_batch_without_one_store_code_gets_field_errors(rep, my_store):
    response = bulk(rep, [{"date": "2026-11-20"}, {"store": 7, "date": "2026-11-20", "total_sales": 1, "own_sales": 0}])

    assert response.status_code == 400
    assert [sorted(e["errors"]) for e in response.json()["errors"]] == [["own_sales", "store", "total_sales"], ["store"]]
    assert StoreVisit.objects.count() == 0


def test_a_rep_may_not_write_another_reps_store_even_in_the_common_shape(rep, my_store, their_store):
    response = bulk(rep, [item(), item(store="theirs")])

    assert response.json()["errors"] == [
        {"index": 1, "errors": {"store": ["Unknown store code “theirs”, or not a store you may log visits for."]}}
    ]
    assert StoreVisit.objects.count() == 0


def test_the_stored_visits_are_the_items_as_validated(rep, my_store):
    response = bulk(rep, [item(day=2, total=50, own=5, notes="  late fix  ", staff_ok=False), item(day=1, notes=None)])

    assert response.json() == {"created": 2, "updated": 0}
    assert list(StoreVisit.objects.order_by("date").values_list(
        "store__code", "date", "rep__username", "total_sales", "own_sales", "display_ok", "staff_ok", "notes")) == [
        ("mine", days_ago(2), "rep1", 50, 5, None, False, "late fix"),
        ("mine", days_ago(1), "rep1", 100, 20, None, None, ""),
    ]


def test_one_audit_row_per_created_or_changed_visit_and_none_for_an_unchanged_one(rep, my_store):
    assert bulk(rep, [item(day=3), item(day=2), item(day=1)]).json() == {"created": 3, "updated": 0}

    response = bulk(rep, [item(day=3), item(day=2, total=150), item(day=4)])

    assert response.json() == {"created": 1, "updated": 1}
    assert sorted(StoreVisit.audit.values_list(
        "date", "history_type", "total_sales", "history_user__username", "history_change_reason")) == [
        (days_ago(4), "+", 100, "rep1", services.BULK_CHANGE_REASON),
        (days_ago(3), "+", 100, "rep1", services.BULK_CHANGE_REASON),
        (days_ago(2), "+", 100, "rep1", services.BULK_CHANGE_REASON),
        (days_ago(2), "~", 150, "rep1", services.BULK_CHANGE_REASON),
        (days_ago(1), "+", 100, "rep1", services.BULK_CHANGE_REASON),
    ]


def test_a_resent_batch_changes_no_visit_and_adds_no_audit_row(rep, my_store):
    StoreVisitFactory(store=my_store, date=days_ago(5), total_sales=7, own_sales=1)
    batch = [item(day=n, total=100 + n, own=n, notes="n" if n % 2 else "") for n in range(1, 6)]
    assert bulk(rep, batch).json() == {"created": 4, "updated": 1}
    visits = list(StoreVisit.objects.order_by("date").values())
    audit = StoreVisit.audit.count()

    response = bulk(rep, batch)

    assert (response.status_code, response.json()) == (200, {"created": 0, "updated": 0})
    assert list(StoreVisit.objects.order_by("date").values()) == visits
    assert StoreVisit.audit.count() == audit


def test_a_batch_records_one_pending_evaluation_per_store_beside_those_already_pending(rep, region, my_store,
                                                                                      django_capture_on_commit_callbacks):
    other = StoreFactory(code="other", rep=rep, region=region)
    untouched = StoreFactory(code="untouched", rep=rep, region=region)
    earlier = timezone.now() - dt.timedelta(hours=1)
    PendingEvaluation.objects.create(store=my_store, requested_at=earlier)
    PendingEvaluation.objects.create(store=untouched, requested_at=earlier)

    with django_capture_on_commit_callbacks() as callbacks:
        response = bulk(rep, [item(day=2), item("other", day=2), item(day=1)])

    assert response.json() == {"created": 3, "updated": 0}
    pending = sorted(PendingEvaluation.objects.values_list("store__code", "requested_at"))
    assert [code for code, _ in pending] == ["mine", "mine", "other", "untouched"]  # insert-only: one row per request
    (_, first), (_, new), (_, other_at), (_, untouched_at) = pending
    assert first == untouched_at == earlier and new > earlier and other_at == new
    assert [(c.func.__name__, c.args) for c in callbacks] == [("publish_evaluation", ([my_store.pk, other.pk],))]
