"""FSI sequences built from visits (SPEC §5), with the readings worked out by hand.

The region's market share is 25% and every visit has a total of 100, so CS is own / 100 and
FSI = 100 * CS / 0.25 = 4 * own for a window of equal days.
"""
import pytest
from django.core import mail
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from alerts import evaluation, lifecycle, readings
from alerts.models import Alert, Notification
from stores.models import StoreVisit
from tests.alerts.conftest import day, put
from tests.factories import MarketShareFactory, RegionFactory, StoreFactory

pytestmark = pytest.mark.django_db


def evaluate(n: int):
    """The nightly evaluation of every active store at day n."""
    return evaluation.evaluate_stores(t=day(n))


def alerts_of(store):
    return list(store.alerts.order_by("id").values_list("status", "opened_on", "fsi_at_open", "fsi_week_before"))


def test_an_alert_opens_only_after_two_readings_a_week_apart_below_90(store):
    put(store, 0, 39, own=25)  # FSI 100
    put(store, 40, 70, own=18)  # with k of these 28 days in the window: FSI = (25 (28 - k) + 18 k) / 7 = 100 - k

    for k in range(1, 18):  # k = 11..17: FSI(t) = 89..83 but FSI(t - 7) = 100 - (k - 7) >= 90
        evaluate(39 + k)
        assert alerts_of(store) == [], k

    outcome = evaluate(57)  # k = 18: FSI(t) = 82, FSI(t - 7) = 89

    assert alerts_of(store) == [("open", day(57), 82.0, 89.0)]
    assert outcome.opened == [store.alerts.get().pk]
    alert = store.alerts.get()
    assert (alert.store_share, alert.market_share, alert.market_share_source, alert.valid_days) == (
        pytest.approx(0.205), 0.25, "region", 28,  # (10 x 25 + 18 x 18) / 2800
    )


def test_an_open_alert_holds_in_the_band_and_recovers_at_95(store):
    put(store, 0, 34, own=18)  # 35 days at FSI 72: both windows of day 34 are full
    put(store, 35, 70, own=25)  # j days of these in the window: FSI = (18 (28 - j) + 25 j) / 7 = 72 + j
    evaluate(34)
    assert alerts_of(store) == [("open", day(34), 72.0, 72.0)]

    for j, fsi in [(18, 90.0), (22, 94.0)]:
        evaluate(34 + j)
        alert = store.alerts.get()
        assert (alert.status, alert.fsi_latest, alert.latest_on) == ("open", fsi, day(34 + j))

    outcome = evaluate(57)  # j = 23: FSI 95

    alert = store.alerts.get()
    assert (alert.status, alert.fsi_latest, alert.closed_on) == ("recovered", 95.0, day(57))
    assert outcome.recovered == [alert.pk]


def test_an_acknowledged_alert_recovers_too(store, supervisor):
    put(store, 0, 34, own=18)
    put(store, 35, 70, own=25)
    evaluate(34)
    lifecycle.acknowledge_alert(alert=store.alerts.get(), user=supervisor)

    evaluate(57)

    assert store.alerts.get().status == "recovered"


def test_the_band_between_90_and_95_opens_nothing(store):
    put(store, 0, 60, own=23)  # FSI 92 for months

    for n in range(34, 61, 7):
        evaluate(n)

    assert alerts_of(store) == []


def test_a_reading_of_exactly_90_opens_nothing(store):
    put(store, 0, 60, own=18, total=80)  # 18 / 80 = 22.5%: FSI exactly 90

    evaluate(60)

    assert alerts_of(store) == []


def test_no_alert_for_a_store_above_parity(store):
    put(store, 0, 60, own=30)  # FSI 120

    evaluate(60)

    assert alerts_of(store) == []


def test_insufficient_days_open_nothing_and_only_valid_days_count(store, rep):
    put(store, 22, 28, own=10)  # 7 days at FSI 40: windows (7, 35] and (0, 28] of day 35 hold 7 each
    put(store, 29, 29, own=0, total=0)  # no sales recorded: not valid
    put(store, 30, 30, own=10, suspect=True)  # an unconfirmed suspect: not valid
    evaluate(35)
    assert alerts_of(store) == []

    StoreVisit.objects.filter(date=day(30)).update(suspect_confirmed=True)  # now 8 days at t, still 7 at t - 7
    evaluate(35)
    assert alerts_of(store) == []

    put(store, 21, 21, own=10)  # 8 days in (0, 28] as well
    evaluate(35)
    assert alerts_of(store) == [("open", day(35), 40.0, 40.0)]


def test_insufficient_days_close_nothing(store):
    put(store, 0, 34, own=18)
    evaluate(34)
    put(store, 60, 66, own=40)  # FSI 160, but only 7 days in (38, 66]

    evaluate(66)

    alert = store.alerts.get()
    assert (alert.status, alert.fsi_latest, alert.latest_on) == ("open", 72.0, day(34))


def test_a_follow_up_holds_back_a_new_alert_for_14_days(store, supervisor):
    put(store, 0, 80, own=18)  # FSI 72 throughout
    evaluate(34)
    alert = store.alerts.get()
    lifecycle.record_follow_up(alert=alert, user=supervisor, date=day(40), actions="Moved the display.")
    lifecycle.resolve_alert(alert=alert, user=supervisor)

    for n in range(35, 54):  # day 40 lies in (t - 14, t] up to t = day 53
        evaluate(n)
    assert store.alerts.filter(status="open").count() == 0

    evaluate(54)

    assert alerts_of(store) == [("resolved", day(34), 72.0, 72.0), ("open", day(54), 72.0, 72.0)]


def test_an_evaluation_of_a_day_before_the_follow_up_opens_nothing(store, supervisor):
    put(store, 0, 40, own=18)
    evaluate(34)
    alert = store.alerts.get()
    lifecycle.record_follow_up(alert=alert, user=supervisor, date=day(40))
    lifecycle.resolve_alert(alert=alert, user=supervisor)

    evaluate(34)  # e.g. an old visit corrected: t = day 34, the check was on day 40
    evaluate(36)

    assert alerts_of(store) == [("resolved", day(34), 72.0, 72.0)]


def test_evaluating_twice_changes_nothing(store, supervisor):
    put(store, 0, 40, own=18)
    evaluate(34)
    before = list(Alert.objects.values())

    again = evaluate(34)
    evaluate(34)

    assert list(Alert.objects.values()) == before
    assert (again.opened, again.recovered, again.updated) == ([], [], 0)
    assert Notification.objects.count() == 1
    assert len(mail.outbox) == 0  # the emails leave on commit, which a test transaction never reaches


def test_the_nightly_run_twice_changes_nothing(store, supervisor, django_capture_on_commit_callbacks):
    put(store, 0, 40, own=18)
    with django_capture_on_commit_callbacks(execute=True):
        first = evaluation.evaluate_nightly(as_of=day(40))
    before = list(Alert.objects.values())
    with django_capture_on_commit_callbacks(execute=True):
        second = evaluation.evaluate_nightly(as_of=day(40))

    assert len(first.opened) == 1 and second.opened == []
    assert list(Alert.objects.values()) == before
    assert Notification.objects.count() == 1
    assert len(mail.outbox) == 1


def test_the_database_refuses_a_second_active_alert_for_a_store(store):
    put(store, 0, 40, own=18)
    evaluate(34)

    with pytest.raises(IntegrityError):
        Alert.objects.create(
            store=store, status="acknowledged", opened_on=day(40), fsi_at_open=70, fsi_week_before=70,
            latest_on=day(40), fsi_latest=70, store_share=0.18, market_share=0.25, market_share_source="region",
            valid_days=28,
        )


# --- MS(t): the §3.5 precedence and the panel fallback ----------------------------------------


def test_the_region_row_wins_over_the_country_row(store):
    MarketShareFactory(country="CN", region=None, share=0.18)  # would make FSI 100
    put(store, 0, 40, own=18)

    evaluate(40)

    alert = store.alerts.get()
    assert (alert.market_share, alert.market_share_source, alert.fsi_at_open) == (0.25, "region", 72.0)


def test_the_latest_start_wins_among_rows_of_the_region(store, region):
    MarketShareFactory(country="CN", region=region, period_start=day(30), period_end=day(90), share=0.2)
    put(store, 0, 40, own=18)  # against 20%: FSI 90 at day 40; day 33 still has only the 25% row

    evaluate(40)

    assert alerts_of(store) == []
    assert readings.store_reading(store=store, t=day(40)).fsi == 90.0
    assert readings.store_reading(store=store, t=day(29)).fsi == 72.0


def test_the_country_row_applies_when_no_region_row_covers_the_day(region):
    MarketShareFactory(country="CN", region=region, period_start=day(100), period_end=day(200), share=0.5)
    MarketShareFactory(country="CN", region=None, share=0.24)
    store = StoreFactory(code="cn1", region=region)
    put(store, 0, 40, own=18)  # 18% against 24%: FSI 75

    evaluate(40)

    alert = store.alerts.get()
    assert (alert.market_share, alert.market_share_source, alert.fsi_at_open) == (0.24, "country", 75.0)


def test_without_share_rows_the_panel_of_the_country_applies(region):
    mine = StoreFactory(code="cn1", region=region)
    other = StoreFactory(code="cn2", region=RegionFactory(code="west", country="CN"))
    spain = StoreFactory(code="es1", region=RegionFactory(code="madrid", country="ES"))
    MarketShareFactory(country="ES", share=0.5)  # another country's row changes nothing in CN
    put(mine, 0, 40, own=18)
    put(other, 0, 40, own=30)  # panel = (18 + 30) / 200 = 24%
    put(spain, 0, 40, own=90)

    evaluate(40)

    alert = mine.alerts.get()
    assert (alert.market_share, alert.market_share_source, alert.fsi_at_open, alert.fsi_week_before) == (
        0.24, "panel", 75.0, 75.0,
    )
    assert list(other.alerts.all()) == []
    assert readings.store_reading(store=other, t=day(40)).fsi == 125.0


def test_the_panel_of_t_minus_7_uses_its_own_window(region):
    mine = StoreFactory(code="cn1", region=region)
    other = StoreFactory(code="cn2", region=region)
    put(mine, 0, 40, own=18)
    put(other, 0, 33, own=18)  # panel over (5, 33]: 18%, so FSI(t - 7) = 100
    put(other, 34, 40, own=60)  # panel over (12, 40]: (28 x 18 + 21 x 18 + 7 x 60) / 5600 = 23.25%

    evaluate(40)

    assert list(mine.alerts.all()) == []
    assert readings.store_reading(store=mine, t=day(40)).fsi == pytest.approx(77.419355)  # 18 / 23.25


def test_the_nightly_evaluation_issues_the_same_queries_for_2_and_20_stores(region, share):
    def count(n_stores):
        for i in range(n_stores):
            put(StoreFactory(region=region), 0, 40, own=30)
        with CaptureQueriesContext(connection) as queries:
            evaluate(40)
        return len(queries)

    small = count(2)
    assert count(18) == small


def test_opening_skips_a_store_another_worker_opened_meanwhile(store, region):
    from tests.alerts.conftest import make_alert

    other = StoreFactory(code="other", region=region)
    make_alert(store)  # opened by a concurrent evaluation after this one read the state
    fields = dict(opened_on=day(40), fsi_at_open=70, fsi_week_before=70, latest_on=day(40), fsi_latest=70,
                  store_share=0.175, market_share=0.25, market_share_source="region", valid_days=28)

    inserted = evaluation._insert_alerts([Alert(store=store, **fields), Alert(store=other, **fields)])

    assert [a.store.code for a in inserted] == ["other"]
    assert sorted(Alert.objects.values_list("store__code", "opened_on")) == [("mine", day(34)), ("other", day(40))]
