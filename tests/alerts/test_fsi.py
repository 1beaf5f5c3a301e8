"""alerts.fsi on small hand-computed frames: no database, no clock."""
import datetime as dt
import math

import pandas as pd

from alerts import fsi

T = dt.date(2024, 3, 1)
NONE = float("nan")


def sums(rows):
    """rows: store_id -> (region_id, country, own_now, total_now, days_now, own_prev, total_prev, days_prev)."""
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["region_id", "country", *fsi.SUMS])
    frame.index.name = "store_id"
    return frame


def panel(rows):
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=fsi.SUMS)
    frame.index.name = "country"
    return frame


def test_fsi_is_rounded_to_six_decimals_so_parity_and_thresholds_compare_exactly():
    assert 100 * 0.29 / 0.2 == 144.99999999999997
    assert list(fsi.fsi([0.29, 1 / 3], [0.2, 0.25])) == [145.0, 133.333333]


def test_fsi_is_unknown_without_a_store_share_or_a_positive_market_share():
    assert [math.isnan(v) for v in fsi.fsi([NONE, 0.1, 0.1], [0.2, 0.0, NONE])] == [True, True, True]


def test_readings_take_the_region_row_then_the_country_row_then_the_panel():
    frame = fsi.readings(
        sums({
            1: (10, "CN", 18, 100, 8, 20, 100, 8),
            2: (11, "CN", 30, 100, 8, 30, 100, 8),
            3: (20, "ES", 5, 50, 7, 5, 50, 8),
        }),
        panel({"ES": (10, 40, 3, 10, 50, 3)}),
        shares_now=({10: 0.2}, {"CN": 0.25}), shares_prev=({10: 0.2}, {"CN": 0.25}), min_days=8,
    )

    assert frame[["cs_now", "ms_now", "source_now", "fsi_now", "ok_now"]].to_dict("index") == {
        1: {"cs_now": 0.18, "ms_now": 0.2, "source_now": "region", "fsi_now": 90.0, "ok_now": True},
        2: {"cs_now": 0.3, "ms_now": 0.25, "source_now": "country", "fsi_now": 120.0, "ok_now": True},
        3: {"cs_now": 0.1, "ms_now": 0.25, "source_now": "panel", "fsi_now": 40.0, "ok_now": False},  # 7 days of 8
    }
    assert frame[["ms_prev", "fsi_prev", "ok_prev"]].loc[3].to_dict() == {"ms_prev": 0.2, "fsi_prev": 50.0, "ok_prev": True}


def test_a_reading_without_sales_or_without_any_market_share_is_insufficient():
    frame = fsi.readings(
        sums({1: (10, "CN", 0, 0, 9, 0, 0, 9), 2: (30, "FR", 20, 100, 9, 20, 100, 9)}),
        panel({}), shares_now=({10: 0.2}, {}), shares_prev=({10: 0.2}, {}), min_days=8,
    )

    assert math.isnan(frame.at[1, "cs_now"]) and math.isnan(frame.at[1, "fsi_now"])
    assert (frame.at[2, "cs_now"], frame.at[2, "source_now"]) == (0.2, "panel")
    assert math.isnan(frame.at[2, "ms_now"]) and math.isnan(frame.at[2, "fsi_now"])
    assert list(frame["ok_now"]) == [False, False]
    assert list(frame["ok_prev"]) == [False, False]


def test_needs_panel_lists_only_the_countries_of_stores_without_a_share_row_now_or_a_week_before():
    stores = sums({
        1: (10, "CN", 0, 0, 0, 0, 0, 0), 2: (11, "CN", 0, 0, 0, 0, 0, 0),
        3: (20, "ES", 0, 0, 0, 0, 0, 0), 4: (30, "FR", 0, 0, 0, 0, 0, 0),
    })

    assert fsi.needs_panel(stores, ({10: 0.2}, {"CN": 0.25, "FR": 0.1}), ({10: 0.2, 11: 0.3}, {"ES": 0.2})) == {"ES", "FR"}


def decided(rows, state):
    """rows: store_id -> (ok_now, fsi_now, ok_prev, fsi_prev); state: store_id -> (alert_id, opened_on, latest_on, cooldown, blocked)."""
    readings = pd.DataFrame.from_dict(rows, orient="index", columns=["ok_now", "fsi_now", "ok_prev", "fsi_prev"])
    readings.index.name = "store_id"
    state = pd.DataFrame.from_dict(state, orient="index", columns=["alert_id", "opened_on", "latest_on", "cooldown", "blocked"])
    state.index.name = "store_id"
    frame = fsi.decide(readings, state, T, open_below=90.0, recover_at=95.0)
    return frame["action"].to_dict()


def test_an_alert_opens_on_two_sufficient_readings_under_90_a_week_apart():
    week_ago = T - dt.timedelta(days=7)
    actions = decided(
        {1: (True, 89.9, True, 80.0), 2: (True, 90.0, True, 80.0), 3: (True, 80.0, True, 90.0),
         4: (True, 80.0, False, 80.0), 5: (False, 80.0, True, 80.0), 6: (True, 80.0, True, 80.0),
         7: (True, 80.0, True, 80.0), 8: (True, 80.0, True, 80.0)},
        {6: (NONE, None, None, True, False),  # a follow-up check in the cool-down
         7: (NONE, None, None, False, True),  # an alert opened on or after t: never behind the history
         8: (41, week_ago, week_ago, False, False)},  # already has its active alert
    )

    assert actions == {1: "open", 2: "", 3: "", 4: "", 5: "", 6: "", 7: "", 8: "update"}


def test_an_active_alert_recovers_at_95_and_otherwise_takes_the_latest_reading():
    opened = T - dt.timedelta(days=10)
    actions = decided(
        {1: (True, 95.0, True, 80.0), 2: (True, 94.999999, True, 80.0), 3: (False, 99.0, True, 80.0),
         4: (True, 99.0, True, 80.0), 5: (True, 99.0, True, 80.0), 6: (True, 99.0, True, 80.0)},
        {1: (11, opened, opened, False, False), 2: (12, opened, opened, False, False),
         3: (13, opened, opened, False, False),  # insufficient now: neither recovers nor updates
         4: (14, T + dt.timedelta(days=1), T + dt.timedelta(days=1), False, True),  # opened after t
         5: (15, opened, T + dt.timedelta(days=2), False, False),  # a later reading is already stored
         6: (16, T, T, False, True)},  # opened at t itself
    )

    assert actions == {1: "recover", 2: "update", 3: "", 4: "", 5: "", 6: "recover"}


def test_the_daily_series_rolls_the_window_and_falls_back_to_the_panel_after_the_share_row_ends():
    day = dt.date
    visits = pd.DataFrame({
        "date": [day(2024, 1, 1), day(2024, 1, 3), day(2024, 1, 5)], "own_sales": [10, 20, 30], "total_sales": [100, 100, 100],
    })
    panel_visits = pd.DataFrame({"date": [day(2024, 1, 4), day(2024, 1, 5)], "own_sales": [10, 40], "total_sales": [100, 100]})
    shares = pd.DataFrame({
        "id": [1], "country": ["CN"], "region_id": [10], "period_start": [day(2024, 1, 1)], "period_end": [day(2024, 1, 4)],
        "share": [0.2],
    })

    series = fsi.daily_series(
        visits, panel_visits, shares, region_id=10, country="CN", start=day(2024, 1, 3), end=day(2024, 1, 5),
        window=3, min_days=2,
    )

    assert list(series.index.date) == [day(2024, 1, 3), day(2024, 1, 4), day(2024, 1, 5)]
    assert list(series["days"]) == [2, 1, 2]
    assert list(series["source"]) == ["region", "region", "panel"]
    assert list(series["ms"]) == [0.2, 0.2, 0.25]
    assert series["cs"].iloc[0] == 0.15 and math.isnan(series["cs"].iloc[1]) and series["cs"].iloc[2] == 0.25
    assert series["fsi"].iloc[0] == 75.0 and math.isnan(series["fsi"].iloc[1]) and series["fsi"].iloc[2] == 100.0
