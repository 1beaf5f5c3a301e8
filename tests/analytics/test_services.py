import contextlib
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command
from django.db import connection, connections

from analytics import loading, services
from analytics.models import AccountScore, AnalyticsRun, PotentialModelFit, StoreScore
from accounts.models import KeyAccount
from stores.models import StoreVisit
from tests.factories import KeyAccountFactory, MarketShareFactory, RegionFactory, StoreFactory

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 6, 30)


def build_world(n_stores=12, days=364, seed=1):
    """Stores visited every day for `days` days up to AS_OF; sales scale with floor area."""
    rng = np.random.default_rng(seed)
    regions = [RegionFactory(code="n1", country="CN"), RegionFactory(code="n2", country="CN")]
    account = KeyAccountFactory(code="wm")
    stores = []
    for i in range(n_stores):
        area = 500 + 300 * i
        stores.append(StoreFactory(code=f"s{i:02d}", region=regions[i % 2], account=account if i < 4 else None,
                                   floor_area_m2=area, checkouts=2 + i, shelves=3 + i % 4,
                                   format=["small", "medium", "large", "hypermarket"][i % 4]))
    visits = []
    for store in stores:
        base = store.floor_area_m2 / 10
        for d in range(days):
            total = int(base * rng.uniform(0.8, 1.2))
            own = int(total * (0.05 + 0.02 * (store.pk % 7)))
            visits.append(StoreVisit(store=store, date=AS_OF - dt.timedelta(days=d), total_sales=total, own_sales=own))
    StoreVisit.objects.bulk_create(visits, batch_size=2000)
    MarketShareFactory(country="CN", share=0.12)
    return stores


def snapshot(as_of=AS_OF):
    stores = list(StoreScore.objects.filter(as_of=as_of).order_by("store_id").values())
    accounts = list(AccountScore.objects.filter(as_of=as_of).order_by("account_id").values())
    for row in stores + accounts:
        row.pop("id")
    fit = PotentialModelFit.objects.filter(as_of=as_of).values("n", "r2", "press_r2", "usable", "coefficients").get()
    return stores, accounts, fit


def test_recompute_scores_every_active_store_and_account():
    stores = build_world()
    StoreFactory(code="closed-down", active=False)
    run = services.recompute(as_of=AS_OF)
    assert run.status == "succeeded"
    assert run.counts["stores"] == 12 and run.counts["accounts"] == 1
    assert set(run.timings) == {"observe", "score", "save", "total"}
    score = StoreScore.objects.get(store=stores[0], as_of=AS_OF)
    visits = StoreVisit.objects.filter(store=stores[0])
    mean_total = sum(v.total_sales for v in visits) / visits.count()
    mean_own = sum(v.own_sales for v in visits) / visits.count()
    assert score.observed and score.obs_days == 364 and score.potential_source == "observed"
    assert score.potential == pytest.approx(365 * mean_total, rel=1e-12)
    assert score.own_annual == pytest.approx(365 * mean_own, rel=1e-12)
    assert score.market_share == 0.12 and score.market_share_source == "country"
    account = AccountScore.objects.get(as_of=AS_OF)
    member_scores = StoreScore.objects.filter(store__account__code="wm")
    assert account.potential == pytest.approx(sum(s.potential for s in member_scores))
    assert (account.coverage, account.tier) == (1.0, "NKA")
    assert KeyAccount.objects.get(code="wm").tier == "NKA"


def test_computed_tiers_land_only_on_accounts_nobody_tiered_by_hand():
    stores = build_world(n_stores=6, days=40)
    by_hand = KeyAccountFactory(code="carrefour", tier="GKA", tier_override=True)
    stale = KeyAccountFactory(code="suning", tier="GKA")
    for store, account in ((stores[4], by_hand), (stores[5], stale)):
        store.account = account
        store.save()

    services.recompute(as_of=AS_OF)

    tiers = dict(KeyAccount.objects.values_list("code", "tier"))
    assert tiers == {"wm": "NKA", "carrefour": "GKA", "suning": "LKA"}  # one region each for the last two
    assert AccountScore.objects.get(account=by_hand).tier == "LKA"  # the score still says what the data say


def test_a_purchase_before_the_loaded_days_still_gives_recency_and_status():
    stores = build_world(n_stores=2, days=30)
    lapsed = StoreFactory(code="lapsed", region=stores[0].region)
    StoreVisit.objects.create(store=lapsed, date=AS_OF - dt.timedelta(days=500), total_sales=40, own_sales=3)
    StoreVisit.objects.bulk_create(
        StoreVisit(store=lapsed, date=AS_OF - dt.timedelta(days=d), total_sales=40, own_sales=0) for d in range(30)
    )

    services.recompute(as_of=AS_OF)

    score = StoreScore.objects.get(store=lapsed, as_of=AS_OF)
    assert (score.recency, score.customer_status) == (500, "lost")  # no gaps: the 180-day default
    assert StoreScore.objects.get(store=stores[0], as_of=AS_OF).customer_status == "active"


def test_running_the_same_day_twice_gives_identical_rows():
    build_world()
    services.recompute(as_of=AS_OF)
    first = snapshot()
    services.recompute(as_of=AS_OF)
    assert snapshot() == first
    assert StoreScore.objects.filter(as_of=AS_OF).count() == 12


def test_a_run_that_fails_midway_leaves_the_previous_snapshot_intact(monkeypatch):
    build_world()
    services.recompute(as_of=AS_OF)
    before = snapshot()
    StoreVisit.objects.filter(date=AS_OF).update(own_sales=0)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    # Fails after the store and account rows of the new snapshot are written.
    monkeypatch.setattr(PotentialModelFit.objects, "create", broken)
    with pytest.raises(RuntimeError):
        services.recompute(as_of=AS_OF)
    assert snapshot() == before
    failed = AnalyticsRun.objects.latest("id")
    assert failed.status == "failed" and "disk full" in failed.error


def test_earlier_days_stay_as_history():
    build_world()
    services.recompute(as_of=AS_OF - dt.timedelta(days=7))
    services.recompute(as_of=AS_OF)
    assert sorted(set(StoreScore.objects.values_list("as_of", flat=True))) == [AS_OF - dt.timedelta(days=7), AS_OF]


@contextlib.contextmanager
def another_run_computing():
    """PostgreSQL: another session holds the lock a computing run holds (SQLite has none: the running row is all)."""
    if connection.vendor != "postgresql":
        yield
        return
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [services.RUN_LOCK])
        yield
    finally:
        other.close()


def test_two_runs_cannot_overlap():
    build_world(n_stores=2, days=30)
    AnalyticsRun.objects.create(as_of=AS_OF, status="running", started_at=dt.datetime.now(dt.timezone.utc))
    with another_run_computing(), pytest.raises(services.RunInProgress):
        services.recompute(as_of=AS_OF)
    assert StoreScore.objects.count() == 0
    assert list(AnalyticsRun.objects.values_list("status", flat=True)) == ["running"]  # no refused run left queued


def test_a_task_redelivered_for_a_run_that_already_finished_neither_retries_nor_runs_again():
    from analytics.tasks import recompute_task

    build_world(n_stores=2, days=30)
    run = services.queue_run(as_of=AS_OF)
    services.recompute(run_id=run.pk)
    recompute_task.delay(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded"
    assert AnalyticsRun.objects.count() == 1


def test_a_queued_run_whose_task_stops_waiting_is_recorded_failed_not_left_queued():
    from analytics.tasks import recompute_task

    build_world(n_stores=2, days=30)
    AnalyticsRun.objects.create(as_of=AS_OF, status="running", started_at=dt.datetime.now(dt.timezone.utc))
    waiting = services.queue_run(as_of=AS_OF)
    with another_run_computing(), pytest.raises(services.RunInProgress):  # the last retry: the task fails
        recompute_task.apply(kwargs={"run_id": waiting.pk}, retries=recompute_task.max_retries)
    waiting.refresh_from_db()
    assert waiting.status == "failed"
    assert waiting.error.startswith("Gave up after waiting an hour for another run to finish.")
    assert StoreScore.objects.count() == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the run lock is a PostgreSQL advisory lock")
def test_on_postgresql_a_run_marked_running_whose_session_is_gone_is_abandoned_at_once():
    build_world(n_stores=2, days=30)
    dead = AnalyticsRun.objects.create(as_of=AS_OF, status="running", started_at=dt.datetime.now(dt.timezone.utc))
    assert services.recompute(as_of=AS_OF).status == "succeeded"
    dead.refresh_from_db()
    assert (dead.status, dead.error) == ("failed", "Abandoned: the worker stopped before finishing.")


def test_an_abandoned_run_does_not_hold_the_lock_forever():
    build_world(n_stores=2, days=30)
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=7)
    stale = AnalyticsRun.objects.create(as_of=AS_OF, status="running", started_at=old)
    assert services.recompute(as_of=AS_OF).status == "succeeded"
    stale.refresh_from_db()
    assert stale.status == "failed"


def test_the_latest_run_flags_an_extra_zero_typo_as_suspect():
    stores = build_world(n_stores=2, days=60)
    typo = StoreVisit.objects.get(store=stores[0], date=AS_OF - dt.timedelta(days=3))
    typo.total_sales *= 10
    typo.save()
    services.recompute(as_of=AS_OF)
    assert list(StoreVisit.objects.filter(suspect=True).values_list("pk", flat=True)) == [typo.pk]


def test_the_recompute_command_prints_a_one_line_summary(capsys):
    build_world(n_stores=3, days=40)
    call_command("recompute", "--as-of", AS_OF.isoformat())
    out = capsys.readouterr().out.strip()
    assert len(out.splitlines()) == 1
    assert out.startswith(f"recompute as_of={AS_OF} status=succeeded stores=3 accounts=1 visits=120 ")
    assert "total=" in out


def test_visits_load_exactly_as_stored_with_their_confirmations():
    stores = build_world(n_stores=3, days=20)
    confirmed = StoreVisit.objects.filter(store=stores[1]).order_by("date").first()
    confirmed.total_sales, confirmed.own_sales, confirmed.suspect, confirmed.suspect_confirmed = 9_999_999, 9_999_998, True, True
    confirmed.save()
    first_day = AS_OF - dt.timedelta(days=10)

    grid = loading.load_visits([stores[2].pk, stores[1].pk], first_day, AS_OF).rows(0, 2)

    expected = sorted(
        (v.store_id, v.date, v.total_sales, v.own_sales, v.suspect_confirmed)
        for v in StoreVisit.objects.filter(store__in=stores[1:], date__gte=first_day)
    )
    rows, columns = grid.visited.nonzero()
    loaded = sorted(
        (int(grid.store_ids[r]), dt.date.fromordinal(dt.date(1970, 1, 1).toordinal() + grid.first + c),
         int(grid.total[r, c]), int(grid.own[r, c]), bool(grid.confirmed[r, c]))
        for r, c in zip(rows, columns)
    )
    assert loaded == expected and len(loaded) == 22
    assert grid.days == 11 and grid.total[~grid.visited].sum() == 0


def test_partitions_and_chunks_give_the_same_scores_as_one_pass(monkeypatch):
    build_world(n_stores=9, days=120)
    params = services.AnalyticsSettings.current()

    _, one, _, one_visits = services.observe(as_of=AS_OF, params=params, partitions=1)
    monkeypatch.setattr(services, "OBSERVE_CHUNK", 4)  # stores 1-4, 5-8 and 9 on three threads
    _, three, _, three_visits = services.observe(as_of=AS_OF, params=params, partitions=3)

    assert one_visits == three_visits == 9 * 120  # PostgreSQL: three page ranges, each store's rows reunited
    pd.testing.assert_frame_equal(one.sort_index(), three.sort_index())


def test_hysteresis_looks_at_the_latest_earlier_run_only():
    stores = build_world(n_stores=4, days=60)
    services.recompute(as_of=AS_OF - dt.timedelta(days=2))
    StoreScore.objects.filter(as_of=AS_OF - dt.timedelta(days=2), store=stores[0]).update(zone="attack")
    services.recompute(as_of=AS_OF - dt.timedelta(days=1))
    StoreScore.objects.filter(as_of=AS_OF - dt.timedelta(days=1), store=stores[0]).delete()

    frame = loading.load_stores(AS_OF).set_index("store_id")

    assert pd.isna(frame.loc[stores[0].pk, "previous_zone"])  # not in the latest earlier run
    assert frame.loc[stores[1].pk, "previous_zone"] == StoreScore.objects.get(
        as_of=AS_OF - dt.timedelta(days=1), store=stores[1]
    ).zone
