"""stores.services called directly: field-keyed Django ValidationErrors, audit rows, idempotent resends."""
import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from stores import services
from stores.models import StoreVisit
from tests.factories import StoreVisitFactory

pytestmark = pytest.mark.django_db


def days_ago(n):
    return timezone.localdate() - dt.timedelta(days=n)


def audit_rows(visit):
    return [(h.history_type, h.total_sales, h.own_sales) for h in visit.audit.order_by("history_id")]


def test_a_visit_logged_by_a_rep_is_credited_to_the_rep_and_audited(rep, my_store):
    visit = services.log_visit(user=rep, store=my_store, date=days_ago(1), total_sales=100, own_sales=20)

    assert (visit.store, visit.rep, visit.total_sales, visit.own_sales) == (my_store, rep, 100, 20)
    assert audit_rows(visit) == [("+", 100, 20)]


def test_a_visit_logged_by_a_supervisor_is_credited_to_the_stores_rep(supervisor, rep, my_store):
    visit = services.log_visit(user=supervisor, store=my_store, date=days_ago(1), total_sales=100, own_sales=20)

    assert visit.rep == rep


def test_a_second_visit_on_the_same_day_is_a_date_error_and_changes_nothing(rep, my_store):
    day = days_ago(1)
    services.log_visit(user=rep, store=my_store, date=day, total_sales=100, own_sales=20)

    with pytest.raises(ValidationError) as error:
        services.log_visit(user=rep, store=my_store, date=day, total_sales=50, own_sales=5)

    assert error.value.message_dict == {
        "date": [f"A visit for this store on {day} already exists; correct it instead."]
    }
    assert list(StoreVisit.objects.values_list("total_sales", flat=True)) == [100]


@pytest.mark.parametrize("figures, field, message", [
    ({"date": 1, "total_sales": 100, "own_sales": 20}, "date", "The date cannot be in the future."),
    ({"date": -1, "total_sales": 10, "own_sales": 20}, "own_sales",
     "Our sales (20) cannot exceed the total category sales (10)."),
    ({"date": -1, "total_sales": -1, "own_sales": 0}, "total_sales", "Ensure this value is greater than or equal to 0."),
])
def test_a_refused_visit_is_an_error_on_its_field_and_leaves_no_row(rep, my_store, figures, field, message):
    figures = {**figures, "date": timezone.localdate() + dt.timedelta(days=figures["date"])}

    with pytest.raises(ValidationError) as error:
        services.log_visit(user=rep, store=my_store, **figures)

    assert error.value.message_dict == {field: [message]}
    assert StoreVisit.objects.count() == 0


def test_a_corrected_total_clears_the_suspect_confirmation_and_is_audited(rep, my_store):
    visit = services.log_visit(user=rep, store=my_store, date=days_ago(1), total_sales=100, own_sales=20)
    StoreVisit.objects.filter(pk=visit.pk).update(suspect=True, suspect_confirmed=True, suspect_confirmed_by=rep)
    visit.refresh_from_db()

    services.correct_visit(visit=visit, total_sales=120)

    visit.refresh_from_db()
    assert (visit.total_sales, visit.suspect_confirmed, visit.suspect_confirmed_by) == (120, False, None)
    assert audit_rows(visit) == [("+", 100, 20), ("~", 120, 20)]


def test_a_correction_of_other_figures_keeps_the_suspect_confirmation(rep, my_store):
    visit = StoreVisitFactory(store=my_store, date=days_ago(1), suspect=True, suspect_confirmed=True)

    services.correct_visit(visit=visit, total_sales=100, own_sales=30)

    visit.refresh_from_db()
    assert (visit.own_sales, visit.suspect_confirmed) == (30, True)


def test_moving_a_visit_onto_a_day_with_a_visit_is_a_date_error(rep, my_store):
    StoreVisitFactory(store=my_store, date=days_ago(1))
    visit = StoreVisitFactory(store=my_store, date=days_ago(2))

    with pytest.raises(ValidationError) as error:
        services.correct_visit(visit=visit, date=days_ago(1))

    assert error.value.message_dict == {"date": ["Another visit of this store already exists on that day."]}
    assert StoreVisit.objects.get(pk=visit.pk).date == days_ago(2)


def test_an_invalid_correction_is_an_error_on_its_field(rep, my_store):
    visit = StoreVisitFactory(store=my_store, date=days_ago(1), total_sales=100, own_sales=20)

    with pytest.raises(ValidationError) as error:
        services.correct_visit(visit=visit, own_sales=150)

    assert error.value.message_dict == {"own_sales": ["Our sales (150) cannot exceed the total category sales (100)."]}
    assert StoreVisit.objects.get(pk=visit.pk).own_sales == 20


def batch(store, *totals):
    return [{"store": store, "date": days_ago(i + 1), "total_sales": total, "own_sales": 10}
            for i, total in enumerate(totals)]


def test_an_upsert_creates_then_updates_and_audits_each_changed_row_with_the_user(rep, my_store):
    assert services.upsert_visits(user=rep, visits=batch(my_store, 100, 200)) == (2, 0)
    assert services.upsert_visits(user=rep, visits=batch(my_store, 100, 250)) == (0, 1)

    history = StoreVisit.audit.order_by("history_id")
    assert [(h.date, h.total_sales, h.history_type, h.history_user, h.history_change_reason) for h in history] == [
        (days_ago(1), 100, "+", rep, services.BULK_CHANGE_REASON),
        (days_ago(2), 200, "+", rep, services.BULK_CHANGE_REASON),
        (days_ago(2), 250, "~", rep, services.BULK_CHANGE_REASON),
    ]
    assert sorted(StoreVisit.objects.values_list("total_sales", "rep")) == [(100, rep.pk), (250, rep.pk)]


def test_resending_a_batch_changes_nothing(rep, my_store):
    services.upsert_visits(user=rep, visits=batch(my_store, 100, 200))
    before = list(StoreVisit.objects.order_by("date").values_list("id", "total_sales", "updated_at"))
    audited = StoreVisit.audit.count()

    assert services.upsert_visits(user=rep, visits=batch(my_store, 100, 200)) == (0, 0)

    assert list(StoreVisit.objects.order_by("date").values_list("id", "total_sales", "updated_at")) == before
    assert StoreVisit.audit.count() == audited


def test_an_upserted_total_clears_a_suspect_confirmation_and_an_unchanged_total_keeps_it(rep, my_store):
    changed = StoreVisitFactory(store=my_store, date=days_ago(1), total_sales=100, suspect=True, suspect_confirmed=True)
    kept = StoreVisitFactory(store=my_store, date=days_ago(2), total_sales=200, suspect=True, suspect_confirmed=True)

    assert services.upsert_visits(user=rep, visits=[
        {"store": my_store, "date": days_ago(1), "total_sales": 150, "own_sales": 10},
        {"store": my_store, "date": days_ago(2), "total_sales": 200, "own_sales": 30},
    ]) == (0, 2)

    changed.refresh_from_db()
    kept.refresh_from_db()
    assert (changed.suspect_confirmed, kept.suspect_confirmed) == (False, True)


def test_confirming_a_suspect_marks_it_with_the_user_and_a_second_confirmation_changes_nothing(supervisor, my_store):
    visit = StoreVisitFactory(store=my_store, date=days_ago(1), suspect=True)

    services.confirm_suspect(visit=visit, user=supervisor)
    visit.refresh_from_db()
    confirmed = (visit.suspect_confirmed, visit.suspect_confirmed_by, visit.updated_at)
    again = services.confirm_suspect(visit=visit, user=supervisor)

    assert confirmed[:2] == (True, supervisor)
    assert (again.suspect_confirmed, again.suspect_confirmed_by, again.updated_at) == confirmed


def test_confirming_a_visit_that_is_not_a_suspect_is_a_suspect_error(rep, my_store):
    visit = StoreVisitFactory(store=my_store, date=days_ago(1))

    with pytest.raises(ValidationError) as error:
        services.confirm_suspect(visit=visit, user=rep)

    assert error.value.message_dict == {"suspect": ["This visit is not flagged as a suspect."]}
    visit.refresh_from_db()
    assert (visit.suspect_confirmed, visit.suspect_confirmed_by) == (False, None)
