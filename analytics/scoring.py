"""The cross-store rules of SPEC §3 and §4: potential model, potential, shares, ABC, zones, accounts.

Pure pandas and statsmodels: no Django, no clock. They run on all stores' observations at once
(`store_rules.observe_grid` gives them); `services` builds the inputs and saves the outputs.

Inputs
- observations: `store_rules.observe_grid`'s stores frame (indexed by `store_id`).
- `market_shares`: the MarketShare rows, columns `stores.rules.MARKET_SHARE_COLUMNS` (`id`,
  `country`, `region_id` (None = whole country), `period_start`, `period_end` (inclusive),
  `share`); which row applies is `stores.rules.shares_on` (SPEC §3.5).
- `accounts`: `account_id` (index or column), `kind`, `previous_zone`.

Outputs
- Per-store steps return the stores frame indexed by `store_id` with columns added:
  `p_model`, `extrapolated` | `potential`, `potential_source` | `wallet_share` |
  `market_share`, `market_share_source` | `key_potential`, `zone`, `trad_ka`,
  `missed_attack`, `false_ka`.
- `score_observations` returns (one row per store with `store_id` as a column, the observations
  and all of the above plus `abc`, the `ModelFit`).
- `score_accounts` returns one row per account with `account_id` as a column: `potential`,
  `own_annual`, `wallet_share`, `active_stores`, `known_stores`, `coverage`, `country`,
  `market_share`, `market_share_source`, `key_potential`, `zone`, `abc`, `trad_ka`,
  `missed_attack`, `false_ka`, `lifeblood`, `tier`.
Missing numbers are NaN; text columns use pandas' `str` dtype, missing text is NaN.
Potential model coefficients are named `Intercept`, `floor_area_m2`, `checkouts`, `open_24h`,
`shelves` and `format[<level>]` (treatment dummies, reference `small`).

Choices where the spec is silent (each also commented where it is made):
- `p_model` is computed whenever a fit exists, usable or not; `choose_potential` checks `usable`.
- Extrapolation looks at floor_area_m2, checkouts and shelves (open_24h is 0/1, format categorical).
- Hysteresis only moves the A line of key potential; a unit with P <= 0 or T = 0 is never key.
- With no share row and no known potential the panel share is NaN (source still 'panel').
- Account P and O are NaN without a store of known potential; such accounts get no ABC class.
- `lifeblood` is False when the run's total O is 0.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm

from stores.rules import market_share, shares_on

from . import frames
from .params import Params

FORMATS = ("hypermarket", "large", "medium", "small")
NUMERIC_DRIVERS = ("floor_area_m2", "checkouts", "shelves")


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


# --- §3.4 potential model ----------------------------------------------------------------


def _drivers(stores: pd.DataFrame) -> pd.DataFrame:
    """Driver columns as floats, plus `format` (NaN when unknown) and `complete`."""
    d = pd.DataFrame({name: frames.as_float(frames.column(stores, name)) for name in NUMERIC_DRIVERS}, index=stores.index)
    d["open_24h"] = frames.as_float(frames.column(stores, "open_24h", None))
    fmt = frames.column(stores, "format", None)
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
    stores = frames.indexed(stores_with_pobs, "store_id")
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
    stores = frames.indexed(stores, "store_id")
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
    stores = frames.indexed(stores, "store_id")
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
    return stores.assign(potential=potential, potential_source=frames.text(source, stores.index))


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
    stores = frames.indexed(stores, "store_id")
    share, source = market_share(
        stores["region_id"], stores["country"], shares_on(market_shares, as_of), panel_share(stores)
    )
    return stores.assign(market_share=share, market_share_source=frames.text(source, stores.index))


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
    return pd.DataFrame({"cls": frames.text(cls, v.index), "before": before, "T": total}, index=v.index)


# --- §3.7 zones --------------------------------------------------------------------------


def add_zones(units: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Add `key_potential`, `zone`, `trad_ka`, `missed_attack`, `false_ka` (stores or accounts).

    Needs `potential`, `own_annual`, `wallet_share`, `market_share`; `previous_zone` optional.
    """
    potential = units["potential"].astype(float)
    ranked = abc(potential, params)
    previous = frames.column(units, "previous_zone", None)
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
        zone=frames.text(zone, units.index),
        trad_ka=trad_ka,
        missed_attack=(zone == "attack") & ~trad_ka,
        false_ka=(zone == "maintenance") & trad_ka,
    )


# --- the cross-store half --------------------------------------------------------------


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


def _main_country(stores: pd.DataFrame) -> pd.Series:
    """account_id -> country holding most of its stores (ties: alphabetical first)."""
    counts = stores.groupby(["account_id", "country"]).size().rename("n").reset_index()
    counts = counts.sort_values(["account_id", "n", "country"], ascending=[True, False, True])
    return counts.drop_duplicates("account_id").set_index("account_id")["country"]


def score_accounts(store_scores, stores, accounts, market_shares, params: Params, as_of) -> pd.DataFrame:
    """One row per account (`account_id` column) with the §4 figures; see the module docstring."""
    scores = frames.indexed(store_scores, "store_id")
    stores = frames.indexed(stores, "store_id")
    accounts = frames.indexed(accounts, "account_id")
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
    result["market_share_source"] = frames.text(source, result.index)
    result = add_zones(result, params)
    # An account without a store of known potential has no O; like v <= 0 it is class C.
    result["abc"] = abc(result["own_annual"], params)["cls"].fillna("C")

    total_own = scores["own_annual"].sum()
    result["lifeblood"] = (total_own > 0) & (result["own_annual"] >= params.lifeblood_share * total_own)
    tier = np.select(
        [result["countries"] >= 2, result["regions"] >= 2, result["regions"] == 1], ["GKA", "NKA", "LKA"], None
    )
    chain = frames.column(result, "kind", None).eq("chain").to_numpy()
    result["tier"] = frames.text(np.where(chain, tier, None), result.index)
    return result.drop(columns=["countries", "regions"]).reset_index()

