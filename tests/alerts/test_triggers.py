"""Saving visits asks for an evaluation at the store's latest visit day, through Celery after the commit."""
import pytest
from django.contrib.admin.sites import site
from django.core import mail
from django.test import RequestFactory

from alerts import evaluation, publish
from alerts.models import Alert, PendingEvaluation
from analytics.models import StoreScore
from stores.models import StoreVisit
from tests.alerts.conftest import day, put
from tests.conftest import client_for
from tests.factories import StoreFactory

pytestmark = pytest.mark.django_db


def low_history(store, last=33):
    """Days 0..last at FSI 72 (18 of 100 against 25%): one more low day opens an alert."""
    put(store, 0, last, own=18)


def test_a_visit_logged_through_the_api_opens_the_alert_after_the_commit(rep, store, supervisor, django_capture_on_commit_callbacks):
    low_history(store)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_for(rep).post("/api/v1/visits/", {"store": "mine", "date": day(34), "total_sales": 100, "own_sales": 18})
        assert response.status_code == 201
        assert list(PendingEvaluation.objects.values_list("store__code", flat=True)) == ["mine"]
        assert Alert.objects.count() == 0  # nothing before the commit
    for callback in callbacks:
        callback()

    alert = Alert.objects.get()
    assert (alert.store, alert.status, alert.opened_on, alert.fsi_at_open) == (store, "open", day(34), 72.0)
    assert PendingEvaluation.objects.count() == 0


def test_a_corrected_visit_evaluates_the_latest_visit_day(rep, store, django_capture_on_commit_callbacks):
    low_history(store, last=40)
    visit = store.visits.get(date=day(20))

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(rep).patch(f"/api/v1/visits/{visit.pk}/", {"own_sales": 17}, format="json")

    assert response.status_code == 200
    assert list(Alert.objects.values_list("opened_on", flat=True)) == [day(40)]


def test_a_bulk_batch_evaluates_every_store_it_touches(rep, region, share, django_capture_on_commit_callbacks):
    first = StoreFactory(code="a1", region=region, rep=rep)
    second = StoreFactory(code="a2", region=region, rep=rep)
    untouched = StoreFactory(code="a3", region=region, rep=rep)
    for store in (first, second, untouched):
        low_history(store)
    batch = [
        {"store": "a1", "date": day(34).isoformat(), "total_sales": 100, "own_sales": 18},
        {"store": "a2", "date": day(34).isoformat(), "total_sales": 100, "own_sales": 18},
        {"store": "a2", "date": day(30).isoformat(), "total_sales": 100, "own_sales": 18},  # an update
    ]

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(rep).post("/api/v1/visits/bulk/", batch, format="json")

    assert response.json() == {"created": 2, "updated": 0}
    assert sorted(Alert.objects.values_list("store__code", "opened_on")) == [("a1", day(34)), ("a2", day(34))]
    assert PendingEvaluation.objects.count() == 0


def test_a_failed_bulk_batch_records_no_pending_evaluation(rep, store):
    response = client_for(rep).post(
        "/api/v1/visits/bulk/", [{"store": "mine", "date": day(1).isoformat(), "total_sales": 1, "own_sales": 2}], format="json"
    )

    assert response.status_code == 400
    assert PendingEvaluation.objects.count() == 0


def test_a_visit_saved_in_the_admin_asks_for_an_evaluation(store, django_capture_on_commit_callbacks):
    from org.models import User

    low_history(store)
    admin_user = User.objects.create_superuser("root", "root@example.com", "pw")
    request = RequestFactory().post("/admin/")
    request.user = admin_user
    model_admin = site._registry[StoreVisit]
    visit = StoreVisit(store=store, date=day(34), total_sales=100, own_sales=18)

    with django_capture_on_commit_callbacks(execute=True):
        model_admin.save_model(request, visit, form=None, change=False)

    assert list(Alert.objects.values_list("opened_on", flat=True)) == [day(34)]


def test_a_confirmed_suspect_asks_for_an_evaluation(rep, store, django_capture_on_commit_callbacks):
    put(store, 0, 6, own=18)  # only in (t - 35, t - 7] of day 34
    put(store, 27, 33, own=18)  # 27 in both windows: 8 days at t - 7, 7 at t
    put(store, 34, 34, own=18, suspect=True)  # the 8th day at t, once confirmed
    visit = store.visits.get(date=day(34))
    evaluation.evaluate_stores(t=day(34), store_ids=[store.pk])
    assert Alert.objects.count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(rep).post(f"/api/v1/visits/{visit.pk}/confirm-suspect/")

    assert response.status_code == 200
    assert list(Alert.objects.values_list("opened_on", flat=True)) == [day(34)]


def test_when_the_task_cannot_be_published_the_pending_row_waits_for_the_sweep(rep, store, monkeypatch, django_capture_on_commit_callbacks):
    from alerts import tasks

    low_history(store)

    def broker_down(*args, **kwargs):
        from kombu.exceptions import OperationalError

        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setattr(tasks.evaluate_pending_task, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(rep).post("/api/v1/visits/", {"store": "mine", "date": day(34), "total_sales": 100, "own_sales": 18})
    assert response.status_code == 201
    assert (Alert.objects.count(), PendingEvaluation.objects.values("store").distinct().count()) == (0, 1)  # stores pending
    monkeypatch.undo()

    tasks.evaluate_pending_task.delay()  # the beat sweep: every pending store

    assert list(Alert.objects.values_list("opened_on", flat=True)) == [day(34)]
    assert PendingEvaluation.objects.count() == 0


def test_a_store_requested_again_during_an_evaluation_stays_pending(store, monkeypatch):
    low_history(store, last=34)
    publish.request_evaluation(store_ids=[store.pk])
    publish.request_evaluation(store_ids=[store.pk])  # two batches: two rows, both handled by one evaluation
    evaluate = evaluation.evaluate_stores
    again = []

    def requested_again(**kwargs):  # another visit is saved while the evaluation runs
        again.append(publish.request_evaluation(store_ids=[store.pk]))
        return evaluate(**kwargs)

    monkeypatch.setattr(evaluation, "evaluate_stores", requested_again)
    evaluation.evaluate_pending()

    assert len(again) == 1 and PendingEvaluation.objects.count() == 1  # the request made meanwhile is kept
    assert Alert.objects.count() == 1
    monkeypatch.undo()
    evaluation.evaluate_pending()
    assert PendingEvaluation.objects.count() == 0 and Alert.objects.count() == 1


def test_the_nightly_run_evaluates_pending_stores_at_their_latest_visit(store, region, share):
    later = StoreFactory(code="later", region=region)
    put(later, 0, 50, own=18)  # its latest visit is day 50
    low_history(store, last=40)
    publish.request_evaluation(store_ids=[later.pk])

    outcome = evaluation.evaluate_nightly(as_of=day(40))

    assert sorted(Alert.objects.values_list("store__code", "opened_on")) == [("later", day(40)), ("mine", day(40))]
    assert outcome.evaluated == 3  # both stores at day 40, then `later` at day 50 (its alert just holds)
    assert PendingEvaluation.objects.count() == 0


def test_the_nightly_run_raises_no_alert_when_rescoring_the_past(store):
    low_history(store, last=40)
    StoreScore.objects.create(
        store=store, as_of=day(41), obs_days=0, observed=False, potential_source="unknown", own_annual=0,
        key_potential=False, zone="unclassified", abc="C", xyz="N", trad_ka=False, missed_attack=False,
        false_ka=False, customer_status="never",
    )

    assert evaluation.evaluate_nightly(as_of=day(40)) is None
    assert Alert.objects.count() == 0


def test_the_recompute_command_runs_the_nightly_evaluation(store, supervisor, capsys, django_capture_on_commit_callbacks):
    from django.core.management import call_command

    low_history(store, last=40)

    with django_capture_on_commit_callbacks(execute=True):
        call_command("recompute", "--as-of", day(40).isoformat())

    assert list(Alert.objects.values_list("store__code", "opened_on")) == [("mine", day(40))]
    assert "alerts_evaluated=1 alerts_opened=1 alerts_recovered=0" in capsys.readouterr().out
    assert [m.to for m in mail.outbox] == [["sup1@example.com"]]


def test_the_nightly_beat_task_runs_the_evaluation_after_the_recompute(store):
    from analytics.tasks import recompute_task

    low_history(store, last=40)

    recompute_task.delay(as_of=day(40).isoformat())

    assert list(Alert.objects.values_list("store__code", "opened_on")) == [("mine", day(40))]


def test_a_deleted_store_takes_its_pending_evaluations_with_it(store, region):
    kept = StoreFactory(region=region)
    publish.request_evaluation(store_ids=[store.pk, kept.pk])
    publish.request_evaluation(store_ids=[store.pk])

    store.delete()

    assert list(PendingEvaluation.objects.values_list("store_id", flat=True)) == [kept.pk]
