import datetime as dt

import pytest

from planning import services
from planning.models import Target
from tests.factories import KeyAccountFactory, RepFactory, StoreFactory, StoreVisitFactory
from tests.planning.helpers import AS_OF, score

pytestmark = pytest.mark.django_db
NOVEMBER = dt.date(2026, 11, 1)


def test_targets_are_generated_from_the_latest_scores_by_zone(region):
    attack, defend, maintenance = (StoreFactory(region=region) for _ in range(3))
    score(attack, zone="defend", potential=12000, wallet_share=0.5, as_of=AS_OF - dt.timedelta(days=1))  # older
    score(attack, zone="attack", potential=12000, wallet_share=0.10, market_share=0.25)
    score(defend, zone="defend", potential=24000, wallet_share=0.30)
    score(maintenance, zone="maintenance", potential=600, wallet_share=0.5)

    counts = services.generate_targets(month=dt.date(2026, 11, 17))

    assert counts == {"created": 2, "updated": 0, "deleted": 0, "kept": 0}
    rows = {t.store_id: t for t in Target.objects.all()}
    assert set(rows) == {attack.pk, defend.pk}
    assert rows[attack.pk].month == NOVEMBER
    assert rows[attack.pk].target_own == pytest.approx(130)
    assert rows[defend.pk].target_own == pytest.approx(600)
    assert (rows[attack.pk].zone, rows[attack.pk].score_as_of) == ("attack", AS_OF)


def test_regenerating_the_same_month_changes_nothing(region):
    score(StoreFactory(region=region), zone="attack", potential=12000, wallet_share=0.10)
    services.generate_targets(month=NOVEMBER)
    assert services.generate_targets(month=NOVEMBER) == {"created": 0, "updated": 0, "deleted": 0, "kept": 0}
    assert Target.objects.count() == 1


def test_edited_targets_survive_regeneration(region, supervisor):
    store = StoreFactory(region=region)
    score(store, zone="attack", potential=12000, wallet_share=0.10)
    services.generate_targets(month=NOVEMBER)
    services.edit_target(target=Target.objects.get(), target_own=175, user=supervisor)
    score(store, zone="attack", potential=24000, wallet_share=0.10, as_of=AS_OF + dt.timedelta(days=1))

    counts = services.generate_targets(month=NOVEMBER)

    target = Target.objects.get()
    assert counts["kept"] == 1
    assert (target.target_own, target.edited_by, target.generated_own) == (175, supervisor, pytest.approx(260))


def test_unedited_targets_follow_new_scores_and_vanish_in_maintenance(region):
    moved, dropped = StoreFactory(region=region), StoreFactory(region=region)
    score(moved, zone="attack", potential=12000, wallet_share=0.10)
    score(dropped, zone="defend", potential=12000, wallet_share=0.40)
    services.generate_targets(month=NOVEMBER)
    later = AS_OF + dt.timedelta(days=1)
    score(moved, zone="defend", potential=12000, wallet_share=0.40, as_of=later)
    score(dropped, zone="maintenance", potential=1200, wallet_share=0.40, as_of=later)

    counts = services.generate_targets(month=NOVEMBER)

    assert counts == {"created": 0, "updated": 1, "deleted": 1, "kept": 0}
    assert list(Target.objects.values_list("store_id", "target_own")) == [(moved.pk, pytest.approx(400))]


def test_edited_target_of_a_store_gone_to_maintenance_is_kept(region, supervisor):
    store = StoreFactory(region=region)
    score(store, zone="defend", potential=12000, wallet_share=0.40)
    services.generate_targets(month=NOVEMBER)
    services.edit_target(target=Target.objects.get(), target_own=500, user=supervisor)
    score(store, zone="maintenance", potential=1200, wallet_share=0.40, as_of=AS_OF + dt.timedelta(days=1))

    services.generate_targets(month=NOVEMBER)

    assert list(Target.objects.values_list("target_own", flat=True)) == [500]


def test_actual_is_the_mean_own_per_valid_visit_day_scaled_to_the_month(region):
    store = StoreFactory(region=region)
    score(store, zone="attack", potential=12000, wallet_share=0.10)
    services.generate_targets(month=NOVEMBER)
    StoreVisitFactory(store=store, date=dt.date(2026, 11, 2), total_sales=100, own_sales=4)
    StoreVisitFactory(store=store, date=dt.date(2026, 11, 3), total_sales=100, own_sales=6)
    StoreVisitFactory(store=store, date=dt.date(2026, 11, 4), total_sales=0, own_sales=0)  # not valid
    StoreVisitFactory(store=store, date=dt.date(2026, 11, 5), total_sales=100, own_sales=90, suspect=True)
    StoreVisitFactory(store=store, date=dt.date(2026, 10, 31), total_sales=100, own_sales=50)  # October

    target = services.with_actuals(Target.objects.all(), NOVEMBER).get()

    assert (target.visit_days, target.actual_own) == (2, pytest.approx(5 * 30))


def test_a_store_without_visits_has_no_actual(region):
    score(StoreFactory(region=region), zone="attack", potential=12000, wallet_share=0.10)
    services.generate_targets(month=NOVEMBER)
    target = services.with_actuals(Target.objects.all(), NOVEMBER).get()
    assert (target.visit_days, target.actual_own) == (0, None)


def test_summaries_by_rep_region_and_account_compare_only_covered_stores(region):
    rep = RepFactory(username="ann", region=region)
    account = KeyAccountFactory(name="Chain A")
    visited = StoreFactory(region=region, rep=rep, account=account)
    unvisited = StoreFactory(region=region, rep=rep, account=account)
    score(visited, zone="attack", potential=12000, wallet_share=0.10)  # 130
    score(unvisited, zone="defend", potential=24000, wallet_share=0.30)  # 600
    services.generate_targets(month=NOVEMBER)
    StoreVisitFactory(store=visited, date=dt.date(2026, 11, 2), total_sales=100, own_sales=5)  # 150 a month

    for group, label in [("rep", "ann"), ("region", region.name), ("account", "Chain A")]:
        [row] = services.summarize_targets(Target.objects.all(), NOVEMBER, group)
        assert (row["label"], row["stores"], row["covered"]) == (label, 2, 1)
        assert (row["target"], row["covered_target"], row["actual"]) == (
            pytest.approx(730), pytest.approx(130), pytest.approx(150))
        assert row["attainment"] == pytest.approx(150 / 130)


def test_summary_sums_each_stores_actual_as_the_target_list_shows_it(region):
    """The summary reads the store months; the list reads the visits: the same figures, store by store summed."""
    ann, bob = RepFactory(username="ann", region=region), RepFactory(username="bob", region=region)
    stores = [StoreFactory(region=region, rep=ann), StoreFactory(region=region, rep=ann), StoreFactory(region=region, rep=bob),
              StoreFactory(region=region)]  # the last one has no rep
    for store in stores:
        score(store, zone="attack", potential=12000, wallet_share=0.10)
    services.generate_targets(month=NOVEMBER)
    for day, own in [(2, 4), (3, 7), (9, 1)]:
        StoreVisitFactory(store=stores[0], date=dt.date(2026, 11, day), total_sales=100, own_sales=own)
    StoreVisitFactory(store=stores[2], date=dt.date(2026, 11, 2), total_sales=100, own_sales=3)
    suspect = StoreVisitFactory(store=stores[2], date=dt.date(2026, 11, 3), total_sales=100, own_sales=9)
    suspect.suspect = True  # a later change: on PostgreSQL a second delta row of the same store month
    suspect.save()
    StoreVisitFactory(store=stores[3], date=dt.date(2026, 10, 31), total_sales=100, own_sales=5)  # October

    per_store = list(services.with_actuals(Target.objects.select_related("store"), NOVEMBER))
    summary = services.summarize_targets(Target.objects.all(), NOVEMBER, "rep")

    assert {row["key"]: (row["stores"], row["covered"], row["actual"]) for row in summary} == {
        ann.pk: (2, 1, 4 * 30.0), bob.pk: (1, 1, 3 * 30.0), None: (1, 0, None),  # mean of 4, 7, 1; the suspect left out
    }
    for row in summary:
        mine = [t for t in per_store if t.store.rep_id == row["key"]]
        assert row["actual"] == (sum(t.actual_own for t in mine if t.actual_own is not None) or None)
        assert row["covered"] == sum(1 for t in mine if t.visit_days)
