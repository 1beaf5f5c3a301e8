"""The fair-share index of SPEC §5: pure pandas, no Django, no clock (MS by the rule of `stores.rules`).

Contract (`readings.py` loads the inputs with aggregated queries, `evaluation.py` applies the decisions):

- `sums`: one row per store (index `store_id`) with `region_id`, `country` and the sums over the
  store's valid days of the two windows of a reading at `t`: `own_now`, `total_now`, `days_now` over
  `(t - W, t]` and `own_prev`, `total_prev`, `days_prev` over `(t - L - W, t - L]` (W = 28 days,
  L = 7 days by default). A store without a valid day in either window may be missing.
- `panel`: the same six sums per country (index `country`) over every store of the country.
- `market_shares`: `id`, `country`, `region_id` (None = whole country), `period_start`,
  `period_end` (inclusive), `share`.
- `state`: one row per store (index `store_id`) with `alert_id` (the open or acknowledged alert,
  NaN without one), `opened_on`, `latest_on`, `cooldown` (a follow-up in `(t - 14, t]`, or after
  `t`) and `blocked` (an alert of the store opened on or after `t`, or recovered after `t`).

Choices where the spec is silent:
- FSI is rounded to 6 decimals before it is compared, so 100 * 0.29 / 0.2 is 145, not 144.99999999999997.
- A reading is insufficient when MS is unknown (no share row and no panel sales) as well as with
  fewer than 8 valid days: it neither opens nor closes.
- An evaluation never moves behind a store's alert history: re-evaluating a day before an alert
  opened or recovered, or before a follow-up check, opens nothing (a visit corrected after an alert
  was resolved evaluates the store's latest visit day, which may be older than the check).
- An evaluation at `t` before an alert's opening day neither recovers it nor changes its readings.
"""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from stores import rules

FSI_DECIMALS = 6
SUMS = ["own_now", "total_now", "days_now", "own_prev", "total_prev", "days_prev"]


def fsi(cs, ms):
    """100 * CS / MS, rounded for stable comparisons; NaN where either is unknown."""
    ms = np.where(np.asarray(ms, dtype=float) > 0, ms, np.nan)
    return np.round(100 * np.asarray(cs, dtype=float) / ms, FSI_DECIMALS)


def _ratio(own, total) -> pd.Series:
    total = total.astype(float)
    return own.astype(float) / total.where(total > 0)


def needs_panel(stores: pd.DataFrame, shares_now: tuple[dict, dict], shares_prev: tuple[dict, dict]) -> set:
    """The countries of stores without a share row at `t` or at `t - L`: only these need the panel."""
    missing = set()
    for by_region, by_country in (shares_now, shares_prev):
        lacking = ~(stores["region_id"].isin(list(by_region)) | stores["country"].isin(list(by_country)))
        missing |= set(stores.loc[lacking, "country"])
    return missing


def readings(sums: pd.DataFrame, panel: pd.DataFrame, shares_now, shares_prev, min_days: int) -> pd.DataFrame:
    """Add CS, MS (+ source), FSI and `ok` (sufficient) for `now` (t) and `prev` (t - L)."""
    out = sums.copy()
    for when, shares in (("now", shares_now), ("prev", shares_prev)):
        panel_share = _ratio(panel[f"own_{when}"], panel[f"total_{when}"]) if len(panel) else pd.Series(dtype=float)
        ms, source = rules.market_share(out["region_id"], out["country"], shares, panel_share)
        cs = _ratio(out[f"own_{when}"], out[f"total_{when}"])
        out[f"cs_{when}"] = cs
        out[f"ms_{when}"] = ms
        out[f"source_{when}"] = source
        out[f"fsi_{when}"] = fsi(cs, ms)
        out[f"ok_{when}"] = (out[f"days_{when}"] >= min_days) & out[f"fsi_{when}"].notna()
    return out


def decide(readings: pd.DataFrame, state: pd.DataFrame, t: date, *, open_below: float, recover_at: float) -> pd.DataFrame:
    """Add `action`: 'open', 'recover', 'update' (the active alert's latest reading) or '' (nothing)."""
    frame = readings.join(state, how="left")
    active = frame["alert_id"].notna()
    cooldown = frame["cooldown"].fillna(False).astype(bool)
    blocked = frame["blocked"].fillna(False).astype(bool)
    ok_now, ok_prev = frame["ok_now"].astype(bool), frame["ok_prev"].astype(bool)
    low = ok_now & ok_prev & (frame["fsi_now"] < open_below) & (frame["fsi_prev"] < open_below)
    opens = ~active & low & ~cooldown & ~blocked
    # Only readings at or after the alert's opening day and not older than its latest one touch it.
    day = pd.Timestamp(t)
    opened_on, latest_on = pd.to_datetime(frame["opened_on"]), pd.to_datetime(frame["latest_on"])
    current = active & ok_now & (opened_on <= day) & ~(latest_on > day)
    recovers = current & (frame["fsi_now"] >= recover_at)
    updates = current & ~recovers
    frame["action"] = np.select([opens, recovers, updates], ["open", "recover", "update"], "")
    return frame


def daily_series(
    visits: pd.DataFrame, panel_visits: pd.DataFrame, market_shares: pd.DataFrame, *,
    region_id: int, country: str, start: date, end: date, window: int, min_days: int,
) -> pd.DataFrame:
    """One row per day of [start, end]: CS(t) over (t - window, t] (NaN below `min_days`), MS(t), source, FSI(t).

    `visits`: the store's valid days (`date`, `own_sales`, `total_sales`) from `start - window + 1`;
    `panel_visits`: the country's daily sums of valid days (`date`, `own_sales`, `total_sales`) over the
    same range, only needed on days without a share row.
    """
    days = pd.date_range(start - timedelta(days=window - 1), end, freq="D")

    def rolling(frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            daily = pd.DataFrame(0, index=days, columns=["own_sales", "total_sales", "n"])
        else:
            daily = frame.assign(n=1, date=pd.to_datetime(frame["date"])).groupby("date")[["own_sales", "total_sales", "n"]].sum()
            daily = daily.reindex(days, fill_value=0)
        return daily.rolling(window, min_periods=1).sum().loc[pd.Timestamp(start):]

    store = rolling(visits)
    panel = rolling(panel_visits)
    cs = _ratio(store["own_sales"], store["total_sales"]).where(store["n"] >= min_days)
    rows = []
    for day, (by_region, by_country) in zip(store.index, rules.shares_on_days(market_shares, store.index)):
        if region_id in by_region:
            rows.append((by_region[region_id], "region"))
        elif country in by_country:
            rows.append((by_country[country], "country"))
        else:
            total = panel.at[day, "total_sales"]
            rows.append((panel.at[day, "own_sales"] / total if total > 0 else np.nan, "panel"))
    ms = pd.Series([r[0] for r in rows], index=store.index, dtype=float)
    return pd.DataFrame({
        "cs": cs, "days": store["n"].astype(int), "ms": ms, "source": [r[1] for r in rows], "fsi": fsi(cs, ms),
    }, index=store.index)
