"""Store and account analytics of SPEC §3 and §4: pure pandas, no Django, no clock.

Contract (the columns are the interface; `services.py` builds the inputs and saves the outputs):

Inputs
- `visits`: one row per (store_id, date): `store_id` int, `date` (datetime64 or date),
  `total_sales` int >= 0, `own_sales` int (0 <= own <= total), `confirmed` bool (a suspect
  confirmed by a rep or supervisor). Covers the window W = [as_of - 363 days, as_of] and the
  12 complete calendar months before the month of `as_of`; rows after `as_of` are ignored.
- `prior_purchase`: Series store_id -> last purchase date strictly before the first date of
  `visits` (missing stores: no earlier purchase).
- `stores`: one row per active store, `store_id` as index or column: `region_id`, `country`,
  `account_id`, `format` ('hypermarket'|'large'|'medium'|'small'|None), `floor_area_m2`,
  `checkouts`, `shelves` (float, NaN = missing), `open_24h` (bool|None), `closed_weekdays`
  (list of ints, 0 = Monday), `previous_zone` (zone of the latest earlier run or None).
- `market_shares`: the MarketShare rows, columns `stores.rules.MARKET_SHARE_COLUMNS` (`id`,
  `country`, `region_id` (None = whole country), `period_start`, `period_end` (inclusive),
  `share`); which row applies is `stores.rules.shares_on` (SPEC §3.5).
- `accounts`: `account_id` (index or column), `kind`, `previous_zone`.

Outputs
- `screen_suspects` returns the visits up to `as_of` with bool `in_window`, `suspect`, `valid`.
- Per-store steps return the stores frame indexed by `store_id` with columns added:
  `obs_days`, `observed`, `p_obs`, `own_annual` | `p_model`, `extrapolated` | `potential`,
  `potential_source` | `wallet_share` | `market_share`, `market_share_source` |
  `key_potential`, `zone`, `trad_ka`, `missed_attack`, `false_ka` | `abc`, `xyz` |
  `recency`, `customer_status`.
- `observe_grid` is the per-store half on a `VisitGrid` (stores x days arrays, the form the
  service loads); `observe_stores` and the per-rule functions build one from a long frame.
- `score_stores` returns (one row per store with `store_id` as a column and all of the above,
  the `ModelFit`, the flagged suspect days [`store_id`, `date`, `confirmed`]).
- `score_accounts` returns one row per account with `account_id` as a column: `potential`,
  `own_annual`, `wallet_share`, `active_stores`, `known_stores`, `coverage`, `country`,
  `market_share`, `market_share_source`, `key_potential`, `zone`, `abc`, `trad_ka`,
  `missed_attack`, `false_ka`, `lifeblood`, `tier`.
Missing numbers are NaN; text columns use pandas' `str` dtype, missing text is NaN.
Potential model coefficients are named `Intercept`, `floor_area_m2`, `checkouts`, `open_24h`,
`shelves` and `format[<level>]` (treatment dummies, reference `small`).

Choices where the spec is silent (each also commented where it is made):
- `suspect` marks every flagged day, confirmed or not; only unconfirmed ones lose `valid`.
- Visits on a closed weekday count in `obs_days` and in the plain-mean O, never in P_obs / O_obs.
- `p_model` is computed whenever a fit exists, usable or not; `choose_potential` checks `usable`.
- Extrapolation looks at floor_area_m2, checkouts and shelves (open_24h is 0/1, format categorical).
- Hysteresis only moves the A line of key potential; a unit with P <= 0 or T = 0 is never key.
- With no share row and no known potential the panel share is NaN (source still 'panel').
- Account P and O are NaN without a store of known potential; such accounts get no ABC class.
- `lifeblood` is False when the run's total O is 0.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm

from stores.rules import market_share, shares_on

FORMATS = ("hypermarket", "large", "medium", "small")
NUMERIC_DRIVERS = ("floor_area_m2", "checkouts", "shelves")


@dataclass(frozen=True)
class Params:
    window_days: int = 364
    suspect_min_days: int = 10
    suspect_mad_factor: float = 1.4826
    suspect_threshold: float = 5.0
    observed_min_days: int = 20
    observed_min_per_weekday: int = 2
    model_min_n_base: int = 50
    model_min_n_per_predictor: int = 8
    model_min_press_r2: float = 0.70
    extrapolation_margin: float = 0.10
    abc_a: float = 0.80
    abc_b: float = 0.95
    key_stay: float = 0.85  # hysteresis: attack/defend stays key unless before >= 0.85 T
    key_enter: float = 0.75  # hysteresis: maintenance becomes key only when before < 0.75 T
    attack_to_defend: float = 1.10
    defend_to_attack: float = 0.90
    xyz_min_months: int = 6
    xyz_x: float = 0.10
    xyz_y: float = 0.25
    lost_min_gaps: int = 3
    risk_floor_days: int = 45
    lost_floor_days: int = 90
    lost_cap_days: int = 730
    risk_default_days: int = 45
    lost_default_days: int = 180
    lifeblood_share: float = 0.10
    # alerts (§5)
    alert_window_days: int = 28
    alert_min_days: int = 8
    alert_open_fsi: float = 90.0
    alert_recover_fsi: float = 95.0
    alert_lookback_days: int = 7
    alert_cooldown_days: int = 14

    @classmethod
    def from_dict(cls, d) -> Params:
        """Params from a stored dict; unknown keys are ignored, missing keys take defaults."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (d or {}).items() if k in names})


@dataclass(frozen=True)
class ModelFit:
    n: int
    m: int
    r2: float
    r2_adj: float
    rmse: float
    press_r2: float
    usable: bool
    reason: str  # why not usable; "" when usable
    coefficients: dict = field(default_factory=dict)  # name -> value; empty when not fitted
    ranges: dict = field(default_factory=dict)  # numeric driver -> [min, max] in training
    formats: list = field(default_factory=list)  # formats seen in training (reference included)


# --- helpers -----------------------------------------------------------------------------


def _timestamp(d) -> pd.Timestamp:
    return pd.Timestamp(d).normalize()


def _window_start(as_of, params: Params) -> pd.Timestamp:
    return _timestamp(as_of) - pd.Timedelta(days=params.window_days - 1)


def _indexed(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """The frame indexed by `key` (accepted as a column or as the index)."""
    if key in frame.columns:
        frame = frame.set_index(key)
    return frame.rename_axis(key)


def _column(frame: pd.DataFrame, name: str, default=np.nan) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series(default, index=frame.index, dtype=object if default is None else None)


def _as_float(s: pd.Series) -> pd.Series:
    """Bools / None / numbers as float with NaN for missing (open_24h becomes 0/1)."""
    return pd.Series(
        pd.array(s.tolist(), dtype="Float64").to_numpy(dtype=float, na_value=np.nan), index=s.index
    )


def _text(values, index) -> pd.Series:
    return pd.Series(values, index=index, dtype="str")


def _day_number(day) -> int:
    """Days since 1970-01-01 (a Thursday)."""
    return int(_timestamp(day).to_datetime64().astype("datetime64[D]").astype(np.int64))


def _day_numbers(dates: pd.Series) -> np.ndarray:
    return pd.to_datetime(dates).to_numpy().astype("datetime64[D]").astype(np.int64)


# --- visits as a grid of stores x days ----------------------------------------------------


@dataclass
class VisitGrid:
    """Visits as (stores x days) arrays: row i is store `store_ids[i]`, column j is day `first + j`.

    A store has at most one visit a day, so every per-store rule becomes a row-wise array
    operation (a strided sum, a cumulative sum, a row sort for a median) instead of a groupby
    or a sort over millions of rows. A range of rows is a grid of those stores: the stores can
    be split across threads or workers without changing a result.
    """

    store_ids: np.ndarray  # (n,) int64
    first: int  # day number of column 0
    visited: np.ndarray  # (n, D) bool
    total: np.ndarray  # (n, D) int32, 0 where not visited
    own: np.ndarray  # (n, D) int32
    confirmed: np.ndarray  # (n, D) bool: a suspect day confirmed by a rep or supervisor

    @classmethod
    def empty(cls, store_ids, first: int, days: int) -> VisitGrid:
        shape = (len(store_ids), max(days, 0))
        return cls(
            np.asarray(store_ids, dtype=np.int64), int(first), np.zeros(shape, dtype=bool),
            np.zeros(shape, dtype=np.int32), np.zeros(shape, dtype=np.int32), np.zeros(shape, dtype=bool),
        )

    @classmethod
    def from_frame(cls, visits: pd.DataFrame, store_ids, first: int | None = None, last: int | None = None):
        """The grid of a long visits frame (the contract's columns); other stores' visits are dropped."""
        day = _day_numbers(visits["date"])
        first = first if first is not None else (int(day.min()) if len(day) else 0)
        last = last if last is not None else (int(day.max()) if len(day) else first - 1)
        grid = cls.empty(store_ids, first, last - first + 1)
        grid.put(
            pd.Index(grid.store_ids).get_indexer(visits["store_id"].to_numpy()), day - first,
            visits["total_sales"].to_numpy(), visits["own_sales"].to_numpy(),
            _column(visits, "confirmed", False).fillna(False).to_numpy(dtype=bool),
        )
        return grid

    def put(self, rows, columns, total, own, confirmed) -> None:
        """Write visits at (rows, columns); rows < 0 (other stores) and columns off the grid are skipped."""
        keep = (rows >= 0) & (columns >= 0) & (columns < self.days)
        if not keep.all():
            rows, columns, total, own, confirmed = (a[keep] for a in (rows, columns, total, own, confirmed))
        cells = rows * self.days + columns  # one flat index serves the four arrays
        for array, values in ((self.visited, True), (self.total, total), (self.own, own), (self.confirmed, confirmed)):
            array.put(cells, values)

    @property
    def days(self) -> int:
        return self.visited.shape[1]

    @property
    def visits(self) -> int:
        return int(np.count_nonzero(self.visited))

    def rows(self, start: int, stop: int) -> VisitGrid:
        """The stores start..stop-1 as a grid (views, no copy)."""
        return VisitGrid(self.store_ids[start:stop], self.first, *(a[start:stop] for a in self._arrays()))

    def until(self, day: int) -> VisitGrid:
        """The days up to `day` (views, no copy)."""
        stop = max(0, min(self.days, day - self.first + 1))
        return VisitGrid(self.store_ids, self.first, *(a[:, :stop] for a in self._arrays()))

    def column(self, day: int) -> int:
        """The column of `day`, clipped to the grid (0 for earlier days)."""
        return int(min(max(day - self.first, 0), self.days))

    def _arrays(self):
        return self.visited, self.total, self.own, self.confirmed


def _row_middles(values: np.ndarray, counts: np.ndarray, skip=0) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the two middle values (equal for an odd count) of its `counts` values, as floats.

    The other cells hold a filler: either `skip` of them sort first (zeros, say) or they sort
    last (+inf, or the dtype's maximum).
    """
    ordered = np.sort(values, axis=1)
    if ordered.shape[1] == 0:
        return np.full(len(ordered), np.nan), np.full(len(ordered), np.nan)
    rows, last = np.arange(len(ordered)), ordered.shape[1] - 1
    low = ordered[rows, np.clip(skip + (counts - 1) // 2, 0, last)].astype(float)
    high = ordered[rows, np.clip(skip + counts // 2, 0, last)].astype(float)
    return np.where(counts > 0, low, np.nan), np.where(counts > 0, high, np.nan)


def _row_medians(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per row, the median of its `counts` values (the rest sort last); NaN without values."""
    low, high = _row_middles(values, counts)
    return (low + high) / 2


def _positions(grid: VisitGrid, visits: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of each visit of a frame in the grid built from it."""
    rows = pd.Index(grid.store_ids).get_indexer(visits["store_id"].to_numpy())
    return rows, _day_numbers(visits["date"]) - grid.first


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
    low, high = _row_middles(total, count, skip=total.shape[1] - count)
    with np.errstate(divide="ignore", invalid="ignore"):
        median = (np.log(low) + np.log(high)) / 2
        dev = np.log(total)  # in place from here: fresh arrays cost page faults
        dev -= median[:, None]
        np.abs(dev, out=dev)  # +inf off the positive days, which sort last
        s = params.suspect_mad_factor * _row_medians(dev, count)
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
    as_of = _timestamp(as_of)
    v = visits
    if v["date"].dtype != "datetime64[ns]":
        v = v.assign(date=pd.to_datetime(v["date"]).astype("datetime64[ns]"))
    v = v[v["date"] <= as_of]
    grid = VisitGrid.from_frame(v, pd.unique(v["store_id"].to_numpy()))
    rows, columns = _positions(grid, v)
    window_start = _day_number(_window_start(as_of, params))
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
    days = _column(stores, "closed_weekdays", None).explode().dropna()
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


def observed_potential(valid_visits: pd.DataFrame, stores: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Stores with `obs_days`, `observed`, `p_obs` (NaN unless observed) and `own_annual` (O)."""
    stores = _indexed(stores, "store_id")
    v = valid_visits[(valid_visits["valid"] & valid_visits["in_window"]).to_numpy()]
    grid = VisitGrid.from_frame(v, stores.index)
    return stores.assign(**_observed(grid, grid.visited, grid.first, _closed_matrix(stores), params))


# --- §3.4 potential model ----------------------------------------------------------------


def _drivers(stores: pd.DataFrame) -> pd.DataFrame:
    """Driver columns as floats, plus `format` (NaN when unknown) and `complete`."""
    d = pd.DataFrame({name: _as_float(_column(stores, name)) for name in NUMERIC_DRIVERS}, index=stores.index)
    d["open_24h"] = _as_float(_column(stores, "open_24h", None))
    fmt = _column(stores, "format", None)
    d["format"] = fmt.where(fmt.isin(FORMATS))
    d["complete"] = d.notna().all(axis=1)
    return d


def _design(drivers: pd.DataFrame, dummies: list[str]) -> pd.DataFrame:
    x = pd.DataFrame({"Intercept": 1.0}, index=drivers.index)
    for name in ("floor_area_m2", "checkouts", "open_24h", "shelves"):
        x[name] = drivers[name]
    for level in dummies:
        x[f"format[{level}]"] = (drivers["format"] == level).astype(float)
    return x


def fit_potential_model(stores_with_pobs: pd.DataFrame, params: Params) -> ModelFit:
    """OLS of P_obs on the drivers over observed stores with every driver; never raises."""
    stores = _indexed(stores_with_pobs, "store_id")
    d = _drivers(stores)
    train = d[d["complete"] & stores["observed"].astype(bool)]
    y = stores.loc[train.index, "p_obs"].astype(float)
    formats = [f for f in FORMATS if f in set(train["format"])]
    # `small` is the reference; were it absent, the first level present takes its place so that
    # the dummies never duplicate the intercept.
    reference = "small" if "small" in formats else (formats[0] if formats else None)
    dummies = [f for f in formats if f != reference]
    m = 4 + len(dummies)
    n = len(train)
    required = params.model_min_n_base + params.model_min_n_per_predictor * m
    ranges = {name: [float(train[name].min()), float(train[name].max())] for name in NUMERIC_DRIVERS} if n else {}
    if n <= m + 1:
        nan = float("nan")
        return ModelFit(n, m, nan, nan, nan, nan, False, f"n={n} < {required} required (too few rows to fit)",
                        {}, ranges, formats)

    with warnings.catch_warnings():
        # A rank-deficient design (e.g. a driver constant in training) still fits via the
        # pseudo-inverse; whether the fit is good enough is the PRESS rule's call, not a warning's.
        warnings.simplefilter("ignore")
        result = sm.OLS(y.to_numpy(), _design(train, dummies)).fit()
        press = result.get_influence().resid_press
    press_r2 = float(1 - np.sum(press**2) / result.centered_tss) if result.centered_tss > 0 else float("nan")
    problems = []
    if n < required:
        problems.append(f"n={n} < {required} required")
    if not press_r2 >= params.model_min_press_r2:  # NaN (constant target, leverage 1) fails too
        shown = "undefined" if math.isnan(press_r2) else f"{press_r2:.2f}"
        problems.append(f"PRESS R² {shown} < {params.model_min_press_r2:.2f}")
    return ModelFit(
        n=n,
        m=m,
        r2=float(result.rsquared),
        r2_adj=float(result.rsquared_adj),
        rmse=float(np.sqrt(result.ssr / n)),
        press_r2=press_r2,
        usable=not problems,
        reason="; ".join(problems),
        coefficients={name: float(value) for name, value in result.params.items()},
        ranges=ranges,
        formats=formats,
    )


def add_model_potential(stores: pd.DataFrame, fit: ModelFit, params: Params) -> pd.DataFrame:
    """Add `p_model` (non-observed stores with every driver and a trained format) and `extrapolated`."""
    stores = _indexed(stores, "store_id")
    d = _drivers(stores)
    eligible = d["complete"] & ~stores["observed"].astype(bool) & d["format"].isin(fit.formats)
    if not fit.coefficients:
        eligible &= False
    c = fit.coefficients
    prediction = c.get("Intercept", 0.0) + sum(
        c.get(name, 0.0) * d[name] for name in ("floor_area_m2", "checkouts", "open_24h", "shelves")
    )
    prediction = prediction + d["format"].map({f: c.get(f"format[{f}]", 0.0) for f in FORMATS}).astype(float)
    # Only the numeric drivers can extrapolate: open_24h is 0/1 and a format is either seen in
    # training (eligible) or not (no prediction at all).
    outside = pd.Series(False, index=stores.index)
    for name, (lo, hi) in fit.ranges.items():
        margin = params.extrapolation_margin * (hi - lo)
        outside |= (d[name] < lo - margin) | (d[name] > hi + margin)
    return stores.assign(
        p_model=prediction.clip(lower=0).where(eligible),
        extrapolated=(eligible & outside).to_numpy(),
    )


# --- §3.5 potential, wallet share, market share -------------------------------------------


def choose_potential(stores: pd.DataFrame, fit: ModelFit) -> pd.DataFrame:
    """Add `potential` and `potential_source` ('observed'|'model'|'extrapolated'|'unknown')."""
    stores = _indexed(stores, "store_id")
    observed = stores["observed"].astype(bool)
    has_model = stores["p_model"].notna() & fit.usable
    model = has_model & ~observed & ~stores["extrapolated"]
    extrapolated = has_model & ~observed & stores["extrapolated"]
    potential = np.select(
        [observed, model],
        [stores["p_obs"], np.fmax(stores["p_model"], stores["own_annual"])],
        np.nan,
    )
    source = np.select([observed, model, extrapolated], ["observed", "model", "extrapolated"], "unknown")
    return stores.assign(potential=potential, potential_source=_text(source, stores.index))


def add_wallet_share(stores: pd.DataFrame) -> pd.DataFrame:
    """Add `wallet_share` = own_annual / potential; NaN where potential is unknown or 0."""
    potential = stores["potential"].where(stores["potential"] > 0)
    return stores.assign(wallet_share=stores["own_annual"] / potential)


def panel_share(stores: pd.DataFrame) -> float:
    """sum(O) / sum(P) over the units with known potential; NaN when that sum of P is 0."""
    known = stores["potential"].notna()
    total = stores.loc[known, "potential"].sum()
    return float(stores.loc[known, "own_annual"].sum() / total) if total > 0 else float("nan")


def add_market_share(stores: pd.DataFrame, market_shares: pd.DataFrame, as_of) -> pd.DataFrame:
    """Add `market_share` and `market_share_source` ('region'|'country'|'panel'), SPEC §3.5."""
    stores = _indexed(stores, "store_id")
    share, source = market_share(
        stores["region_id"], stores["country"], shares_on(market_shares, as_of), panel_share(stores)
    )
    return stores.assign(market_share=share, market_share_source=_text(source, stores.index))


# --- §3.6 ABC ------------------------------------------------------------------------------


def abc(values: pd.Series, params: Params) -> pd.DataFrame:
    """Per value: `cls` ('A'|'B'|'C', NaN for NaN values), `before` and the total `T`."""
    v = values.astype(float)
    present = v.dropna()
    total = float(present[present > 0].sum())
    # Tie groups: `before` is the sum of all values of strictly greater groups.
    groups = present.groupby(present).sum().sort_index(ascending=False)
    before = v.map(groups.cumsum().shift(fill_value=0.0))
    cls = np.select(
        [v.isna(), (v <= 0) | (total <= 0), before < params.abc_a * total, before < params.abc_b * total],
        [None, "C", "A", "B"],
        "C",
    )
    return pd.DataFrame({"cls": _text(cls, v.index), "before": before, "T": total}, index=v.index)


# --- §3.7 zones --------------------------------------------------------------------------


def add_zones(units: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Add `key_potential`, `zone`, `trad_ka`, `missed_attack`, `false_ka` (stores or accounts).

    Needs `potential`, `own_annual`, `wallet_share`, `market_share`; `previous_zone` optional.
    """
    potential = units["potential"].astype(float)
    ranked = abc(potential, params)
    previous = _column(units, "previous_zone", None)
    was_key = previous.isin(["attack", "defend"])
    was_maintenance = previous.eq("maintenance")
    # Hysteresis moves the A line only; a non-positive value or T = 0 is never key.
    line = np.select([was_key, was_maintenance], [params.key_stay, params.key_enter], params.abc_a)
    positive = (potential > 0) & (ranked["T"] > 0)
    key = (positive & (ranked["before"] < line * ranked["T"])).to_numpy()

    sow = units["wallet_share"].astype(float).to_numpy()
    share = units["market_share"].astype(float).to_numpy()
    defend = np.select(
        [previous.eq("attack"), previous.eq("defend")],
        [sow >= params.attack_to_defend * share, ~(sow < params.defend_to_attack * share)],
        ~(sow < share),
    )
    zone = np.select(
        [potential.isna(), ~key, defend], ["unclassified", "maintenance", "defend"], "attack"
    )
    trad_ka = (abc(units["own_annual"], params)["cls"] == "A").to_numpy()
    return units.assign(
        key_potential=key,
        zone=_text(zone, units.index),
        trad_ka=trad_ka,
        missed_attack=(zone == "attack") & ~trad_ka,
        false_ka=(zone == "maintenance") & trad_ka,
    )


# --- §3.8 ABC-XYZ ------------------------------------------------------------------------


def _xyz(grid: VisitGrid, valid: np.ndarray, as_of, params: Params) -> np.ndarray:
    """§3.8 per row: 'X'|'Y'|'Z'|'N' from the monthly mean own sales of the 12 complete months before as_of's."""
    first_month = _timestamp(as_of).to_numpy().astype("datetime64[M]") - 12
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


def add_xyz(stores: pd.DataFrame, valid_visits: pd.DataFrame, as_of, params: Params) -> pd.DataFrame:
    """Add `abc` (on O) and `xyz` ('X'|'Y'|'Z'|'N') from the 12 complete months before as_of's month."""
    stores = _indexed(stores, "store_id")
    grid = VisitGrid.from_frame(valid_visits[valid_visits["valid"].to_numpy()], stores.index)
    xyz = _xyz(grid, grid.visited, as_of, params)
    return stores.assign(abc=abc(stores["own_annual"], params)["cls"], xyz=_text(xyz, stores.index))


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
    start = grid.column(_day_number(_window_start(as_of, params)))
    previous = latest[:, start - 1 : -1] if start else np.hstack([prior, latest[:, :-1]])
    bought = purchase[:, start:]
    gap_at = bought & (previous > none)  # the later day lies in W; the earlier one may not
    # A purchase without an earlier one has a gap of at least `filler`, so it sorts last too.
    gaps = (column[start:] - previous) * bought + filler * ~bought
    count = np.count_nonzero(gap_at, axis=1)
    g = np.where(count >= params.lost_min_gaps, _row_medians(gaps, count), np.nan)
    last = latest[:, -1] if grid.days else prior[:, 0]
    recency = np.where(last > none, _day_number(as_of) - grid.first - last.astype(float), np.nan)

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
    days = pd.Series(_day_numbers(prior).astype(float), index=prior.index)
    return days.reindex(store_ids).to_numpy()


def add_customer_status(
    stores: pd.DataFrame, valid_visits: pd.DataFrame, prior_purchase: pd.Series, as_of, params: Params
) -> pd.DataFrame:
    """Add `recency` (days, NaN without purchase) and `customer_status` ('never'|'lost'|'at_risk'|'active')."""
    stores = _indexed(stores, "store_id")
    v = valid_visits
    bought = v[(v["valid"] & (v["own_sales"] > 0) & (pd.to_datetime(v["date"]) <= _timestamp(as_of))).to_numpy()]
    last = _day_number(as_of)
    grid = VisitGrid.from_frame(bought, stores.index, first=None if len(bought) else last + 1, last=last)
    recency, status = _customer_status(
        grid, grid.visited, _prior_days(prior_purchase, stores.index), as_of, params
    )
    return stores.assign(recency=recency, customer_status=_text(status, stores.index))


# --- pipelines -----------------------------------------------------------------------------


def observe_grid(grid: VisitGrid, prior_purchase, stores, params: Params, as_of):
    """The per-store half of §3 (suspects, §3.3, XYZ, §3.9) on a grid whose rows are `stores`.

    Returns (observations indexed by store_id, suspects [store_id, date, confirmed]). Each row
    depends only on that store's visits, so any partition of the stores (row ranges on threads,
    regions on workers) gives the same rows; `score_observations` does the rest.
    `prior_purchase` is a Series store_id -> last purchase date before the grid's first day.
    """
    stores = _indexed(stores, "store_id")
    if not np.array_equal(grid.store_ids, stores.index.to_numpy()):
        raise ValueError("The grid's rows must be the stores, in the same order.")
    grid = grid.until(_day_number(as_of))  # later days are ignored
    window_start = _day_number(_window_start(as_of, params))
    suspect = _suspects(grid, window_start, params)
    valid = _valid(grid, suspect)
    observed = _observed(grid, valid, window_start, _closed_matrix(stores), params)
    xyz = _xyz(grid, valid, as_of, params)
    recency, status = _customer_status(
        grid, valid & (grid.own > 0), _prior_days(prior_purchase, stores.index), as_of, params
    )
    observations = stores.assign(
        **observed, xyz=_text(xyz, stores.index), recency=recency, customer_status=_text(status, stores.index)
    )
    rows, columns = np.nonzero(suspect)
    suspects = pd.DataFrame({
        "store_id": grid.store_ids[rows],
        "date": (grid.first + columns).astype("datetime64[D]").astype("datetime64[ns]"),
        "confirmed": grid.confirmed[rows, columns],
    })
    return observations, suspects


def observe_stores(visits, prior_purchase, stores, params: Params, as_of):
    """`observe_grid` for a long visits frame (the module contract's `visits`)."""
    stores = _indexed(stores, "store_id")
    grid = VisitGrid.from_frame(visits, stores.index, last=_day_number(as_of))
    return observe_grid(grid, prior_purchase, stores, params, as_of)


def score_observations(observed: pd.DataFrame, market_shares, params: Params, as_of):
    """The cross-store half of §3 on all observations: (store scores with `store_id` column, ModelFit)."""
    fit = fit_potential_model(observed, params)
    scored = (
        observed.pipe(add_model_potential, fit, params)
        .pipe(choose_potential, fit)
        .pipe(add_wallet_share)
        .pipe(add_market_share, market_shares, as_of)
        .pipe(add_zones, params)
    )
    scored["abc"] = abc(scored["own_annual"], params)["cls"]
    return scored.reset_index(), fit


def score_stores(visits, prior_purchase, stores, market_shares, params: Params, as_of):
    """(store scores with `store_id` column, ModelFit, flagged suspects [store_id, date, confirmed])."""
    observed, suspects = observe_stores(visits, prior_purchase, stores, params, as_of)
    scored, fit = score_observations(observed, market_shares, params, as_of)
    return scored, fit, suspects


def _main_country(stores: pd.DataFrame) -> pd.Series:
    """account_id -> country holding most of its stores (ties: alphabetical first)."""
    counts = stores.groupby(["account_id", "country"]).size().rename("n").reset_index()
    counts = counts.sort_values(["account_id", "n", "country"], ascending=[True, False, True])
    return counts.drop_duplicates("account_id").set_index("account_id")["country"]


def score_accounts(store_scores, stores, accounts, market_shares, params: Params, as_of) -> pd.DataFrame:
    """One row per account (`account_id` column) with the §4 figures; see the module docstring."""
    scores = _indexed(store_scores, "store_id")
    stores = _indexed(stores, "store_id")
    accounts = _indexed(accounts, "account_id")
    members = stores.loc[stores["account_id"].notna(), ["account_id", "country", "region_id"]]
    members = members.join(scores[["potential", "own_annual"]])
    members["known"] = members["potential"].notna()
    known = members[members["known"]]
    by_account = members.groupby("account_id")

    result = accounts.assign(
        potential=known.groupby("account_id")["potential"].sum(),
        own_annual=known.groupby("account_id")["own_annual"].sum(),
        active_stores=by_account.size(),
        known_stores=by_account["known"].sum(),
        countries=by_account["country"].nunique(),
        regions=by_account["region_id"].nunique(),
        country=_main_country(members),
    )
    result["active_stores"] = result["active_stores"].fillna(0).astype(int)
    result["known_stores"] = result["known_stores"].fillna(0).astype(int)
    result["coverage"] = result["known_stores"] / result["active_stores"].where(result["active_stores"] > 0)
    result = add_wallet_share(result)

    # An account takes its main country's row: region rows never apply to accounts.
    by_country = shares_on(market_shares, as_of)[1]
    no_region = pd.Series(np.nan, index=result.index)
    share, source = market_share(no_region, result["country"], ({}, by_country), panel_share(scores))
    result["market_share"] = share
    result["market_share_source"] = _text(source, result.index)
    result = add_zones(result, params)
    # An account without a store of known potential has no O; like v <= 0 it is class C.
    result["abc"] = abc(result["own_annual"], params)["cls"].fillna("C")

    total_own = scores["own_annual"].sum()
    result["lifeblood"] = (total_own > 0) & (result["own_annual"] >= params.lifeblood_share * total_own)
    tier = np.select(
        [result["countries"] >= 2, result["regions"] >= 2, result["regions"] == 1], ["GKA", "NKA", "LKA"], None
    )
    chain = _column(result, "kind", None).eq("chain").to_numpy()
    result["tier"] = _text(np.where(chain, tier, None), result.index)
    return result.drop(columns=["countries", "regions"]).reset_index()
