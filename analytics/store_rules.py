"""The per-store rules of SPEC §3 (§3.1-3.3, §3.8 XYZ, §3.9): each store's row from its own visits.

Pure numpy and pandas: no Django, no clock. `observe_grid` is the run's path; the frame-level
functions apply one rule to a long visits frame.

Inputs
- `visits`: one row per (store_id, date): `store_id` int, `date` (datetime64 or date),
  `total_sales` int >= 0, `own_sales` int (0 <= own <= total), `confirmed` bool (a suspect
  confirmed by a rep or supervisor). Covers the window W = [as_of - 363 days, as_of] and the
  12 complete calendar months before the month of `as_of`; rows after `as_of` are ignored.
  The run passes them as a `grid.VisitGrid`.
- `prior_purchase`: Series store_id -> last purchase date strictly before the first date of
  `visits` (missing stores: no earlier purchase).
- `stores`: one row per active store, `store_id` as index or column: `region_id`, `country`,
  `account_id`, `format` ('hypermarket'|'large'|'medium'|'small'|None), `floor_area_m2`,
  `checkouts`, `shelves` (float, NaN = missing), `open_24h` (bool|None), `closed_weekdays`
  (list of ints, 0 = Monday), `previous_zone` (zone of the latest earlier run or None).

Outputs
- `screen_suspects` returns the visits up to `as_of` with bool `in_window`, `suspect`, `valid`.
- `add_customer_status` returns the stores frame indexed by `store_id` with `recency` and
  `customer_status` added.
- `observe_grid` returns (the stores frame indexed by `store_id` with `obs_days`, `observed`,
  `p_obs`, `own_annual`, `xyz`, `recency` and `customer_status` added, the flagged suspect days
  [`store_id`, `date`, `confirmed`]); `scoring.score_observations` takes it from there.
Missing numbers are NaN; text columns use pandas' `str` dtype, missing text is NaN.

Choices where the spec is silent (each also commented where it is made):
- `suspect` marks every flagged day, confirmed or not; only unconfirmed ones lose `valid`.
- Visits on a closed weekday count in `obs_days` and in the plain-mean O, never in P_obs / O_obs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import frames
from .grid import VisitGrid, day_number, day_numbers, positions, row_medians, row_middles, timestamp
from .params import Params, window_first_day


# --- §3.1-3.2 window, valid days, suspects -----------------------------------------------


def _suspects(grid: VisitGrid, window_start: int, params: Params) -> np.ndarray:
    """(n, D) bool: the days of W whose ln(total) is a robust outlier of the store's positive days of W.

    Robust z-score: |ln x - median| / (1.4826 MAD) over the store's positive days of W, confirmed
    suspects included; a store with fewer than `suspect_min_days` of them is not screened.
    """
    start = grid.column(window_start)
    total = grid.total[:, start:]  # 0 where not visited
    count = np.count_nonzero(total, axis=1)  # the positive days
    # ln is increasing, so the middle days by ln(total) are the middle days by total: an integer
    # sort, with the zero days first.
    low, high = row_middles(total, count, skip=total.shape[1] - count)
    with np.errstate(divide="ignore", invalid="ignore"):
        median = (np.log(low) + np.log(high)) / 2
        dev = np.log(total)  # in place from here: fresh arrays cost page faults
        dev -= median[:, None]
        np.abs(dev, out=dev)  # +inf off the positive days, which sort last
        s = params.suspect_mad_factor * row_medians(dev, count)
        screened = (count >= params.suspect_min_days) & (s > 0)
        flagged = (total > 0) & screened[:, None] & (dev / s[:, None] > params.suspect_threshold)
    suspect = np.zeros(grid.visited.shape, dtype=bool)
    suspect[:, start:] = flagged
    return suspect


def _valid(grid: VisitGrid, suspect: np.ndarray) -> np.ndarray:
    """§3.2 valid days: sales recorded and not an unconfirmed suspect."""
    return grid.visited & (grid.total > 0) & ~(suspect & ~grid.confirmed)


def screen_suspects(visits: pd.DataFrame, as_of, params: Params) -> pd.DataFrame:
    """Visits up to as_of with `in_window`, `suspect` (flagged, confirmed or not) and `valid`."""
    as_of = timestamp(as_of)
    v = visits
    if v["date"].dtype != "datetime64[ns]":
        v = v.assign(date=pd.to_datetime(v["date"]).astype("datetime64[ns]"))
    v = v[v["date"] <= as_of]
    grid = VisitGrid.from_frame(v, pd.unique(v["store_id"].to_numpy()))
    rows, columns = positions(grid, v)
    window_start = day_number(window_first_day(as_of, params))
    suspect = _suspects(grid, window_start, params)[rows, columns]
    confirmed = grid.confirmed[rows, columns]
    return v.assign(
        in_window=columns + grid.first >= window_start,
        suspect=suspect,
        valid=(v["total_sales"] > 0).to_numpy() & ~(suspect & ~confirmed),
    )


# --- §3.3 observed potential ---------------------------------------------------------------


def _closed_matrix(stores: pd.DataFrame) -> np.ndarray:
    closed = np.zeros((len(stores), 7), dtype=bool)
    days = frames.column(stores, "closed_weekdays", None).explode().dropna()
    closed[stores.index.get_indexer(days.index), days.astype(int).to_numpy()] = True
    return closed


def _observed(grid: VisitGrid, valid: np.ndarray, window_start: int, closed: np.ndarray, params: Params) -> dict:
    """§3.3 per row: `obs_days`, `observed`, `p_obs` (NaN unless observed) and `own_annual` (O)."""
    start = grid.column(window_start)
    v = valid[:, start:]
    total = grid.total[:, start:] * v  # masking by product: np.where is many times slower
    own = grid.own[:, start:] * v
    monday = (-(grid.first + start + 3)) % 7  # the first Monday column (day 0 was a Thursday)
    n = np.empty((len(v), 7), dtype=np.int64)
    t_sum, o_sum = np.empty_like(n), np.empty_like(n)
    for weekday in range(7):  # 0 = Monday: every 7th column from that weekday's first one
        cols = slice((monday + weekday) % 7, None, 7)
        n[:, weekday] = np.count_nonzero(v[:, cols], axis=1)
        t_sum[:, weekday] = total[:, cols].sum(axis=1, dtype=np.int64)
        o_sum[:, weekday] = own[:, cols].sum(axis=1, dtype=np.int64)
    obs_days = n.sum(axis=1)
    # A closed weekday contributes 0 and needs no visits; visits on it still count as valid days.
    observed = (obs_days >= params.observed_min_days) & ((n >= params.observed_min_per_weekday) | closed).all(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(closed | (n == 0), 0.0, t_sum / n)
        o = np.where(closed | (n == 0), 0.0, o_sum / n)
    p_obs = np.where(observed, 365 * t.sum(axis=1) / 7, np.nan)
    plain_own = 365 * o_sum.sum(axis=1) / np.maximum(obs_days, 1)  # 0 with no valid day
    own_annual = np.where(observed, 365 * o.sum(axis=1) / 7, plain_own)
    return {"obs_days": obs_days, "observed": observed, "p_obs": p_obs, "own_annual": own_annual}


# --- §3.8 ABC-XYZ ------------------------------------------------------------------------


def _xyz(grid: VisitGrid, valid: np.ndarray, as_of, params: Params) -> np.ndarray:
    """§3.8 per row: 'X'|'Y'|'Z'|'N' from the monthly mean own sales of the 12 complete months before as_of's."""
    first_month = timestamp(as_of).to_numpy().astype("datetime64[M]") - 12
    starts = (first_month + np.arange(13)).astype("datetime64[D]").astype(np.int64)
    columns = np.array([grid.column(day) for day in starts])
    lo, hi = columns[0], columns[-1]
    days = np.zeros((len(valid), 12), dtype=np.int64)
    own = np.zeros_like(days)
    months = columns[1:] > columns[:-1]  # a month before the grid's first day has no column
    if months.any():
        starts = columns[:-1][months] - lo
        mask = valid[:, lo:hi]
        days[:, months] = np.add.reduceat(mask, starts, axis=1, dtype=np.int64)
        own[:, months] = np.add.reduceat(grid.own[:, lo:hi] * mask, starts, axis=1, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        monthly = np.where(days > 0, own / days, np.nan)  # a month without a valid day is skipped
        months = days.astype(bool).sum(axis=1)
        mean = np.nansum(monthly, axis=1) / months
        sd = np.sqrt(np.nansum((monthly - mean[:, None]) ** 2, axis=1) / months)  # population SD
        cv = sd / mean
    return np.select(
        [months < params.xyz_min_months, ~(mean > 0), cv <= params.xyz_x, cv <= params.xyz_y],
        ["N", "Z", "X", "Y"],
        "Z",
    )


# --- §3.9 lost customers -----------------------------------------------------------------


def _customer_status(
    grid: VisitGrid, purchase: np.ndarray, prior_purchase: np.ndarray, as_of, params: Params
) -> tuple[np.ndarray, np.ndarray]:
    """§3.9 per row: (`recency` in days, NaN without a purchase; 'never'|'lost'|'at_risk'|'active').

    `purchase` marks the purchase days up to as_of; `prior_purchase` holds each row's last
    purchase day number before the grid (NaN: none), which may open the first gap.
    """
    none, filler = -(1 << 30), 1 << 30  # int32 room: column - none and every gap stay below 2**31
    prior = np.where(np.isnan(prior_purchase), np.inf, prior_purchase - grid.first)
    # A prior purchase must lie before the grid, or a day could count twice.
    prior = np.where(prior < 0, prior, none).astype(np.int32)[:, None]
    column = np.arange(grid.days, dtype=np.int32)
    # Per cell, the column of the latest purchase at or before it (the prior purchase if none);
    # products mask the arrays, as np.where is many times slower.
    latest = np.maximum.accumulate(prior + purchase * (column - prior), axis=1)
    start = grid.column(day_number(window_first_day(as_of, params)))
    previous = latest[:, start - 1 : -1] if start else np.hstack([prior, latest[:, :-1]])
    bought = purchase[:, start:]
    gap_at = bought & (previous > none)  # the later day lies in W; the earlier one may not
    # A purchase without an earlier one has a gap of at least `filler`, so it sorts last too.
    gaps = (column[start:] - previous) * bought + filler * ~bought
    count = np.count_nonzero(gap_at, axis=1)
    g = np.where(count >= params.lost_min_gaps, row_medians(gaps, count), np.nan)
    last = latest[:, -1] if grid.days else prior[:, 0]
    recency = np.where(last > none, day_number(as_of) - grid.first - last.astype(float), np.nan)

    risk = np.where(np.isnan(g), params.risk_default_days, np.maximum(2 * g, params.risk_floor_days))
    lost = np.where(
        np.isnan(g), params.lost_default_days, np.clip(3 * g, params.lost_floor_days, params.lost_cap_days)
    )
    status = np.select([np.isnan(recency), recency > lost, recency > risk], ["never", "lost", "at_risk"], "active")
    return recency, status


def _prior_days(prior_purchase: pd.Series | None, store_ids) -> np.ndarray:
    """Each store's last purchase day number before the loaded days (NaN: none)."""
    if prior_purchase is None or not len(prior_purchase.dropna()):
        return np.full(len(store_ids), np.nan)
    prior = pd.to_datetime(prior_purchase.dropna())
    days = pd.Series(day_numbers(prior).astype(float), index=prior.index)
    return days.reindex(store_ids).to_numpy()


def add_customer_status(
    stores: pd.DataFrame, valid_visits: pd.DataFrame, prior_purchase: pd.Series, as_of, params: Params
) -> pd.DataFrame:
    """Add `recency` (days, NaN without purchase) and `customer_status` ('never'|'lost'|'at_risk'|'active')."""
    stores = frames.indexed(stores, "store_id")
    v = valid_visits
    bought = v[(v["valid"] & (v["own_sales"] > 0) & (pd.to_datetime(v["date"]) <= timestamp(as_of))).to_numpy()]
    last = day_number(as_of)
    grid = VisitGrid.from_frame(bought, stores.index, first=None if len(bought) else last + 1, last=last)
    recency, status = _customer_status(
        grid, grid.visited, _prior_days(prior_purchase, stores.index), as_of, params
    )
    return stores.assign(recency=recency, customer_status=frames.text(status, stores.index))


# --- the per-store half ----------------------------------------------------------------


def observe_grid(grid: VisitGrid, prior_purchase, stores, params: Params, as_of):
    """The per-store half of §3 (suspects, §3.3, XYZ, §3.9) on a grid whose rows are `stores`.

    Returns (observations indexed by store_id, suspects [store_id, date, confirmed]). Each row
    depends only on that store's visits, so any partition of the stores (row ranges on threads,
    regions on workers) gives the same rows; `score_observations` does the rest.
    `prior_purchase` is a Series store_id -> last purchase date before the grid's first day.
    """
    stores = frames.indexed(stores, "store_id")
    if not np.array_equal(grid.store_ids, stores.index.to_numpy()):
        raise ValueError("The grid's rows must be the stores, in the same order.")
    grid = grid.until(day_number(as_of))  # later days are ignored
    window_start = day_number(window_first_day(as_of, params))
    suspect = _suspects(grid, window_start, params)
    valid = _valid(grid, suspect)
    observed = _observed(grid, valid, window_start, _closed_matrix(stores), params)
    xyz = _xyz(grid, valid, as_of, params)
    recency, status = _customer_status(
        grid, valid & (grid.own > 0), _prior_days(prior_purchase, stores.index), as_of, params
    )
    observations = stores.assign(
        **observed, xyz=frames.text(xyz, stores.index), recency=recency, customer_status=frames.text(status, stores.index)
    )
    rows, columns = np.nonzero(suspect)
    suspects = pd.DataFrame({
        "store_id": grid.store_ids[rows],
        "date": (grid.first + columns).astype("datetime64[D]").astype("datetime64[ns]"),
        "confirmed": grid.confirmed[rows, columns],
    })
    return observations, suspects
