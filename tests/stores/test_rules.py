"""stores.rules: which market-share row applies on a day (SPEC §3.5), day by day and over a range of days."""
import datetime as dt

import pandas as pd

from stores import rules

ROWS = pd.DataFrame.from_records([
    # id, country, region_id, period_start, period_end, share
    (1, "CN", None, dt.date(2026, 1, 1), dt.date(2026, 12, 31), 0.10),
    (2, "CN", 7, dt.date(2026, 3, 1), dt.date(2026, 3, 31), 0.20),
    (3, "CN", None, dt.date(2026, 3, 15), dt.date(2026, 4, 15), 0.12),  # a later start wins
    (4, "ES", None, dt.date(2026, 3, 10), dt.date(2026, 3, 20), 0.30),
], columns=rules.MARKET_SHARE_COLUMNS)


def test_shares_on_days_gives_shares_on_for_every_day_across_period_edges():
    days = [dt.date(2026, 2, 20) + dt.timedelta(days=i) for i in range(70)]
    expected = [rules.shares_on(ROWS, day) for day in days]
    assert rules.shares_on_days(ROWS, days) == expected
    assert expected[days.index(dt.date(2026, 3, 15))] == ({7: 0.20}, {"CN": 0.12, "ES": 0.30})
    assert expected[days.index(dt.date(2026, 4, 16))] == ({}, {"CN": 0.10})


def test_shares_on_days_without_rows():
    assert rules.shares_on_days(ROWS.iloc[:0], [dt.date(2026, 1, 1)] * 2) == [({}, {}), ({}, {})]
