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
