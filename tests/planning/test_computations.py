import datetime as dt

import pytest

from planning.computations import days_in_month, next_month, target_own


def test_attack_target_lifts_wallet_share_by_three_points():
    # P = 12,000, SOW = 0.10, S* = 0.25: 1,000 * 0.13 = 130
    assert target_own(zone="attack", potential=12000, wallet_share=0.10, market_share=0.25) == pytest.approx(130)


def test_attack_target_stops_at_the_market_share():
    # SOW = 0.24 + 0.03 > S* = 0.25: 1,000 * 0.25 = 250
    assert target_own(zone="attack", potential=12000, wallet_share=0.24, market_share=0.25) == pytest.approx(250)


def test_defend_target_holds_the_wallet_share():
    # P = 24,000, SOW = 0.30: 2,000 * 0.30 = 600
    assert target_own(zone="defend", potential=24000, wallet_share=0.30, market_share=0.25) == pytest.approx(600)


@pytest.mark.parametrize("zone", ["maintenance", "unclassified"])
def test_maintenance_and_unclassified_stores_get_no_target(zone):
    assert target_own(zone=zone, potential=12000, wallet_share=0.10, market_share=0.25) is None


def test_unknown_potential_gives_no_target():
    assert target_own(zone="attack", potential=None, wallet_share=None, market_share=0.25) is None


def test_month_helpers_cross_the_year_and_leap_february():
    assert next_month(dt.date(2026, 12, 15)) == dt.date(2027, 1, 1)
    assert days_in_month(dt.date(2024, 2, 1)) == 29
    assert days_in_month(dt.date(2026, 2, 1)) == 28


# ---- visit plans ----
from planning.computations import default_weekdays, weekly_compliance  # noqa: E402

MON = dt.date(2026, 11, 16)


def test_attack_stores_are_planned_every_open_working_day():
    assert default_weekdays(zone="attack", closed_weekdays=[], store_id=1) == [0, 1, 2, 3, 4]
    assert default_weekdays(zone="attack", closed_weekdays=[1, 6], store_id=1) == [0, 2, 3, 4]


def test_defend_stores_get_monday_wednesday_friday_with_stand_ins_for_closed_days():
    assert default_weekdays(zone="defend", closed_weekdays=[], store_id=1) == [0, 2, 4]
    assert default_weekdays(zone="defend", closed_weekdays=[0], store_id=1) == [1, 2, 4]
    assert default_weekdays(zone="defend", closed_weekdays=[0, 2, 4], store_id=1) == [1, 3]


def test_maintenance_stores_get_one_day_spread_by_store():
    assert default_weekdays(zone="maintenance", closed_weekdays=[], store_id=7) == [2]
    assert default_weekdays(zone="maintenance", closed_weekdays=[2], store_id=7) == [4]  # 7 % 4 open days
    assert default_weekdays(zone="unclassified", closed_weekdays=[], store_id=10) == [0]


def test_a_store_closed_all_working_week_gets_no_plan():
    assert default_weekdays(zone="attack", closed_weekdays=[0, 1, 2, 3, 4], store_id=1) == []


def test_compliance_counts_each_week_on_its_own():
    plans = [(1, 9, [0, 2, 4], [])]
    visits = {(1, MON - dt.timedelta(days=7)): 3, (1, MON): 1}
    result = weekly_compliance(plans, visits, [MON - dt.timedelta(days=7), MON], today=MON + dt.timedelta(days=6))
    assert result == {(9, MON - dt.timedelta(days=7)): (3, 3), (9, MON): (3, 1)}


def test_compliance_skips_closed_weekdays_and_days_still_to_come():
    plans = [(1, 9, [0, 2, 4], [2])]  # planned Wednesday, but the store closes on Wednesdays
    assert weekly_compliance(plans, {}, [MON], today=MON + dt.timedelta(days=6)) == {(9, MON): (2, 0)}
    assert weekly_compliance(plans, {(1, MON): 1}, [MON], today=MON) == {(9, MON): (1, 1)}


def test_extra_visits_to_one_store_do_not_make_up_for_a_missed_one():
    plans = [(1, 9, [0], []), (2, 9, [0], [])]
    assert weekly_compliance(plans, {(1, MON): 3}, [MON], today=MON + dt.timedelta(days=6)) == {(9, MON): (2, 1)}
