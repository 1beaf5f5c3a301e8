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
- `market_shares`: `country`, `region_id` (None = whole country), `period_start`,
  `period_end` (inclusive), `share`.
- `accounts`: `account_id` (index or column), `kind`, `previous_zone`.

Outputs
- `screen_suspects` returns the visits up to `as_of` with bool `in_window`, `suspect`, `valid`.
- Per-store steps return the stores frame indexed by `store_id` with columns added:
  `obs_days`, `observed`, `p_obs`, `own_annual` | `p_model`, `extrapolated` | `potential`,
  `potential_source` | `wallet_share` | `market_share`, `market_share_source` |
  `key_potential`, `zone`, `trad_ka`, `missed_attack`, `false_ka` | `abc`, `xyz` |
  `recency`, `customer_status`.
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


def _day_numbers(dates: pd.Series) -> np.ndarray:
    """Days since 1970-01-01 (a Thursday) as int64."""
    return dates.to_numpy().astype("datetime64[D]").astype(np.int64)


def _day_number(day: pd.Timestamp) -> int:
    return int(day.to_datetime64().astype("datetime64[D]").astype(np.int64))


def _per_store_cells(visits, mask, stores, cell, width, columns):
    """(count, *sums of columns) over the masked visits, each a (len(stores), width) array.

    np.bincount over store row * width + cell keeps millions of rows free of Python and
    of multi-key groupbys; visits of stores not in `stores` are dropped.
    """
    row = stores.index.get_indexer(visits["store_id"].to_numpy()[mask])
    known = row >= 0
    index = row[known] * width + cell[mask][known]
    size = len(stores) * width
    count = np.bincount(index, minlength=size).reshape(-1, width)
    sums = [
        np.bincount(index, weights=visits[c].to_numpy()[mask][known].astype(float), minlength=size).reshape(-1, width)
        for c in columns
    ]
    return count, *sums


# --- §3.1-3.2 window, valid days, suspects -----------------------------------------------


def screen_suspects(visits: pd.DataFrame, as_of, params: Params) -> pd.DataFrame:
    """Visits up to as_of with `in_window`, `suspect` (flagged, confirmed or not) and `valid`."""
    as_of = _timestamp(as_of)
    v = visits
    if v["date"].dtype != "datetime64[ns]":  # converting copies millions of rows: only when needed
        v = v.assign(date=pd.to_datetime(v["date"]).astype("datetime64[ns]"))
    if (v["date"] > as_of).any():  # the filter copies millions of rows: only when needed
        v = v[v["date"] <= as_of]
    confirmed = _column(v, "confirmed", False).fillna(False).astype(bool)
    in_window = (v["date"] >= _window_start(as_of, params)).to_numpy()
    total = v["total_sales"].to_numpy()

    # Robust z-score of ln(total) per store over the positive days of W (confirmed included);
    # plain arrays grouped by factorized codes avoid index alignment on millions of rows.
    stat = in_window & (total > 0)
    x = np.log(total[stat].astype(float))
    codes = pd.factorize(v["store_id"].to_numpy()[stat])[0]
    med = pd.Series(x).groupby(codes).median().to_numpy()[codes]
    dev = np.abs(x - med)
    s = params.suspect_mad_factor * pd.Series(dev).groupby(codes).median().to_numpy()[codes]
    days = np.bincount(codes)[codes] if len(codes) else codes
    with np.errstate(divide="ignore", invalid="ignore"):
        flagged = (days >= params.suspect_min_days) & (s > 0) & (dev / s > params.suspect_threshold)

    suspect = np.zeros(len(v), dtype=bool)
    suspect[stat] = flagged
    valid = (total > 0) & ~(suspect & ~confirmed.to_numpy())
    return v.assign(in_window=in_window, suspect=suspect, valid=valid)


# --- §3.3 observed potential ---------------------------------------------------------------


def _closed_matrix(stores: pd.DataFrame) -> np.ndarray:
    closed = np.zeros((len(stores), 7), dtype=bool)
    days = _column(stores, "closed_weekdays", None).explode().dropna()
    closed[stores.index.get_indexer(days.index), days.astype(int).to_numpy()] = True
    return closed


def observed_potential(valid_visits: pd.DataFrame, stores: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Stores with `obs_days`, `observed`, `p_obs` (NaN unless observed) and `own_annual` (O)."""
    stores = _indexed(stores, "store_id")
    v = valid_visits
    weekday = (_day_numbers(v["date"]) + 3) % 7  # 0 = Monday
    mask = (v["valid"] & v["in_window"]).to_numpy()
    n, t_sum, o_sum = _per_store_cells(v, mask, stores, weekday, 7, ["total_sales", "own_sales"])
    closed = _closed_matrix(stores)
    obs_days = n.sum(axis=1)
    # A closed weekday contributes 0 and needs no visits; visits on it still count as valid days.
    observed = (obs_days >= params.observed_min_days) & (
        (n >= params.observed_min_per_weekday) | closed
    ).all(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(closed | (n == 0), 0.0, t_sum / n)
        o = np.where(closed | (n == 0), 0.0, o_sum / n)
    p_obs = np.where(observed, 365 * t.sum(axis=1) / 7, np.nan)
    plain_own = 365 * o_sum.sum(axis=1) / np.maximum(obs_days, 1)  # 0 with no valid day
    own_annual = np.where(observed, 365 * o.sum(axis=1) / 7, plain_own)
    return stores.assign(obs_days=obs_days, observed=observed, p_obs=p_obs, own_annual=own_annual)


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


def _current_shares(market_shares: pd.DataFrame, as_of) -> tuple[pd.Series, pd.Series]:
    """(region_id -> share, country -> share) of the rows whose period contains as_of."""
    if market_shares is None or len(market_shares) == 0:
        return pd.Series(dtype=float), pd.Series(dtype=float)
    as_of = _timestamp(as_of)
    ms = market_shares.assign(
        period_start=pd.to_datetime(market_shares["period_start"]),
        period_end=pd.to_datetime(market_shares["period_end"]),
    )
    # Latest start wins; on equal starts the later end, then the later row (stable sort).
    ms = ms[(ms["period_start"] <= as_of) & (ms["period_end"] >= as_of)]
    ms = ms.sort_values(["period_start", "period_end"], kind="stable")
    regional = ms["region_id"].notna()
    region = ms[regional].drop_duplicates("region_id", keep="last")
    country = ms[~regional].drop_duplicates("country", keep="last")
    return (
        pd.Series(region["share"].to_numpy(float), index=region["region_id"].astype("int64").to_numpy()),
        pd.Series(country["share"].to_numpy(float), index=country["country"].to_numpy()),
    )


def add_market_share(stores: pd.DataFrame, market_shares: pd.DataFrame, as_of) -> pd.DataFrame:
    """Add `market_share` and `market_share_source` ('region'|'country'|'panel')."""
    stores = _indexed(stores, "store_id")
    by_region, by_country = _current_shares(market_shares, as_of)
    region_share = stores["region_id"].map(by_region).astype(float)
    country_share = stores["country"].map(by_country).astype(float)
    share = region_share.fillna(country_share).fillna(panel_share(stores))
    source = np.select([region_share.notna(), country_share.notna()], ["region", "country"], "panel")
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


def add_xyz(stores: pd.DataFrame, valid_visits: pd.DataFrame, as_of, params: Params) -> pd.DataFrame:
    """Add `abc` (on O) and `xyz` ('X'|'Y'|'Z'|'N') from the 12 complete months before as_of's month."""
    stores = _indexed(stores, "store_id")
    v = valid_visits
    first = _timestamp(as_of).to_numpy().astype("datetime64[M]").astype(np.int64) - 12
    month = v["date"].to_numpy().astype("datetime64[M]").astype(np.int64) - first  # 0..11 = the 12 months
    mask = v["valid"].to_numpy() & (month >= 0) & (month < 12)
    days, own = _per_store_cells(v, mask, stores, month, 12, ["own_sales"])
    with np.errstate(divide="ignore", invalid="ignore"):
        monthly = np.where(days > 0, own / days, np.nan)  # a month without a valid day is skipped
        months = days.astype(bool).sum(axis=1)
        mean = np.nansum(monthly, axis=1) / months
        sd = np.sqrt(np.nansum((monthly - mean[:, None]) ** 2, axis=1) / months)  # population SD
        cv = sd / mean
    xyz = np.select(
        [months < params.xyz_min_months, ~(mean > 0), cv <= params.xyz_x, cv <= params.xyz_y],
        ["N", "Z", "X", "Y"],
        "Z",
    )
    return stores.assign(abc=abc(stores["own_annual"], params)["cls"], xyz=_text(xyz, stores.index))


# --- §3.9 lost customers -----------------------------------------------------------------


def add_customer_status(
    stores: pd.DataFrame, valid_visits: pd.DataFrame, prior_purchase: pd.Series, as_of, params: Params
) -> pd.DataFrame:
    """Add `recency` (days, NaN without purchase) and `customer_status` ('never'|'lost'|'at_risk'|'active')."""
    stores = _indexed(stores, "store_id")
    as_of = _timestamp(as_of)
    v = valid_visits
    bought = (v["valid"] & (v["own_sales"] > 0) & (v["date"] <= as_of)).to_numpy()
    store = v["store_id"].to_numpy()[bought].astype(np.int64)
    day = _day_numbers(v["date"])[bought]
    if prior_purchase is not None and len(prior_purchase.dropna()):
        prior = pd.to_datetime(prior_purchase.dropna())
        prior_day = _day_numbers(prior)
        # The contract says "strictly before the frame"; enforcing it keeps a day from counting twice.
        keep = prior_day < day.min() if len(day) else np.ones(len(prior_day), dtype=bool)
        store = np.concatenate([store, prior.index.to_numpy().astype(np.int64)[keep]])
        day = np.concatenate([day, prior_day[keep]])
    # Sort by (store, day) through one int64 key; "stable" is near free on presorted input.
    if len(day):
        offset = day.min()
        key = np.sort((store.astype(np.int64) << 32) | (day - offset), kind="stable")
        store, day = key >> 32, (key & 0xFFFFFFFF) + offset

    same = np.r_[False, store[1:] == store[:-1]]
    start = _day_number(_window_start(as_of, params))
    gap_at = same & (day >= start)  # the later day lies in W; the earlier one may not
    gaps = pd.Series(np.diff(day, prepend=0)[gap_at]).groupby(store[gap_at])
    g = gaps.median().where(gaps.size() >= params.lost_min_gaps).reindex(stores.index)
    is_last = np.r_[store[1:] != store[:-1], True] if len(store) else np.zeros(0, dtype=bool)
    last = pd.Series(day[is_last], index=store[is_last]).reindex(stores.index)

    recency = (_day_number(as_of) - last).astype(float)
    risk = (2 * g).clip(lower=params.risk_floor_days).fillna(params.risk_default_days)
    lost = (3 * g).clip(lower=params.lost_floor_days, upper=params.lost_cap_days).fillna(params.lost_default_days)
    status = np.select(
        [recency.isna(), recency > lost, recency > risk], ["never", "lost", "at_risk"], "active"
    )
    return stores.assign(recency=recency, customer_status=_text(status, stores.index))


# --- pipelines -----------------------------------------------------------------------------


def observe_stores(visits, prior_purchase, stores, params: Params, as_of):
    """The per-store half of §3 (suspects, §3.3, XYZ, §3.9): (observations indexed by store_id, suspects).

    Each store's row depends only on its own visits, so any partition of the stores (by range,
    by region, over several workers) gives the same rows; `score_observations` does the rest.
    """
    stores = _indexed(stores, "store_id")
    active = visits["store_id"].isin(stores.index)
    if not active.all():  # inactive stores are not in the run
        visits = visits[active]
    screened = screen_suspects(visits, as_of, params)
    observed = (
        observed_potential(screened, stores, params)
        .pipe(add_xyz, screened, as_of, params)
        .drop(columns="abc")  # ABC ranks across all stores: score_observations
        .pipe(add_customer_status, screened, prior_purchase, as_of, params)
    )
    flagged = screened[screened["suspect"]]
    suspects = pd.DataFrame({
        "store_id": flagged["store_id"].to_numpy(),
        "date": flagged["date"].to_numpy(),
        "confirmed": _column(flagged, "confirmed", False).fillna(False).astype(bool).to_numpy(),
    })
    return observed, suspects


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

    by_country = _current_shares(market_shares, as_of)[1]
    country_share = result["country"].map(by_country).astype(float)
    result["market_share"] = country_share.fillna(panel_share(scores))
    result["market_share_source"] = _text(np.where(country_share.notna(), "country", "panel"), result.index)
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
