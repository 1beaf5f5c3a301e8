"""The nightly run split by region over workers (README "At 100,000 stores"): same snapshot as one task."""
import datetime as dt

import pytest

from analytics import services
from analytics.models import AnalyticsRun, RunPart, StoreScore
from stores.models import Store, StoreVisit
from tests.analytics.test_services import AS_OF, build_world, snapshot
from tests.factories import RegionFactory

pytestmark = pytest.mark.django_db(transaction=True)  # the parts load on their own connections, as on workers


def world_in_five_regions():
    """build_world's 12 stores spread over five regions of two countries, with a suspect extra-zero typo."""
    stores = build_world(n_stores=12, days=120)
    for i, code in enumerate(["n3", "n4", "e1"]):
        region = RegionFactory(code=code, country="ES" if code == "e1" else "CN")
        Store.objects.filter(pk__in=[s.pk for s in stores[3 * i + 3 : 3 * i + 6]]).update(region=region)
    typo = StoreVisit.objects.get(store=stores[7], date=AS_OF - dt.timedelta(days=3))
    typo.total_sales *= 10
    typo.save()
    return stores


def flags():
    return sorted(StoreVisit.objects.filter(suspect=True).values_list("store_id", "date"))


def run_split(parts: int) -> AnalyticsRun:
    """The chord's steps in order, in this process: start, every observe_part, score_parts."""
    groups = services.split_regions(parts)
    run = services.start_split(groups=groups, as_of=AS_OF)
    for part, group in enumerate(groups):
        services.observe_part(run.pk, part, group)
    return services.score_parts(run.pk)


def test_regions_are_grouped_whole_and_balanced_by_active_stores():
    world_in_five_regions()
    groups = services.split_regions(3)
    assert sorted(r for g in groups for r in g) == sorted(set(Store.objects.values_list("region_id", flat=True)))
    sizes = sorted(Store.objects.filter(region_id__in=g).count() for g in groups)
    assert sizes == [3, 4, 5]  # regions of 3, 3, 3, 2 and 1 stores: each next one into the smallest group
    assert len(services.split_regions(10)) == 5  # never more groups than regions


def test_a_split_run_saves_exactly_the_snapshot_and_flags_of_one_task():
    world_in_five_regions()
    split = run_split(3)  # first: on PostgreSQL the run's start packs the months the parts read
    assert split.status == "succeeded", split.error
    assert split.parts == 3
    assert set(split.timings) == {"observe", "score", "save", "total"}
    got, got_flags = snapshot(), flags()
    assert got_flags  # the typo is a suspect: the parts' suspects are merged
    assert not RunPart.objects.exists()  # the staging rows go with the run

    one = services.recompute(as_of=AS_OF)
    assert snapshot() == got and flags() == got_flags and split.counts == one.counts


def test_a_failing_part_fails_the_run_and_leaves_the_previous_snapshot(monkeypatch):
    world_in_five_regions()
    services.recompute(as_of=AS_OF)
    before = snapshot()
    groups = services.split_regions(2)
    run = services.start_split(groups=groups, as_of=AS_OF)
    services.observe_part(run.pk, 0, groups[0])

    def broken(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "observe", broken)
    with pytest.raises(RuntimeError):
        services.observe_part(run.pk, 1, groups[1])
    run.refresh_from_db()
    assert run.status == "failed" and "the database went away" in run.error
    assert services.score_parts(run.pk) is None  # the chord's callback of a failed run does nothing
    assert snapshot() == before and not RunPart.objects.exists()


def test_a_split_run_in_progress_is_not_taken_for_dead_and_blocks_another_run():
    world_in_five_regions()
    run = services.start_split(groups=services.split_regions(2), as_of=AS_OF)
    with pytest.raises(services.RunInProgress):  # no session holds the lock between the parts' tasks
        services.recompute(as_of=AS_OF)
    run.refresh_from_db()
    assert run.status == "running"
    AnalyticsRun.objects.filter(pk=run.pk).update(started_at=run.started_at - services.STALE_RUN)
    assert services.recompute(as_of=AS_OF).status == "succeeded"  # after STALE_RUN it counts as dead
    run.refresh_from_db()
    assert (run.status, run.error) == ("failed", services.ABANDONED)
    assert StoreScore.objects.filter(as_of=AS_OF).count() == 12


def test_announce_adds_its_time_to_the_run():
    world_in_five_regions()
    run = run_split(2)
    services.announce(run)
    run.refresh_from_db()
    assert run.timings["announce"] >= 0 and {"observe", "score", "save", "total"} < set(run.timings)
