import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from analytics.grid import VisitGrid, day_number
from analytics.params import Params
from analytics.scoring import (
    ModelFit,
    abc,
    add_market_share,
    add_model_potential,
    add_wallet_share,
    add_zones,
    choose_potential,
    fit_potential_model,
    panel_share,
    score_accounts,
    score_observations,
)
from analytics.store_rules import (
    add_customer_status,
    observe_grid,
    screen_suspects,
)
from stores.rules import MARKET_SHARE_COLUMNS

P = Params()
AS_OF = pd.Timestamp("2024-06-30")  # a Sunday
NAN = float("nan")


def visits(store_id, dates, totals, owns=0):
    """One visit per date; scalar figures repeat."""
    dates = pd.to_datetime(list(dates)).astype("datetime64[ns]")
    return pd.DataFrame(
        {"store_id": store_id, "date": dates, "total_sales": totals, "own_sales": owns, "confirmed": False}
    )


def last_days(n, as_of=AS_OF):
    return pd.date_range(end=as_of, periods=n, freq="D")


def stores(ids, **columns):
    frame = pd.DataFrame({"store_id": ids, **columns}).set_index("store_id")
    if "closed_weekdays" not in frame:
        frame["closed_weekdays"] = [[] for _ in ids]
    return frame


def text(values, index=None):
    return pd.Series(values, index=index, dtype="str")


# --- Params -------------------------------------------------------------------------------


def test_params_from_dict_ignores_unknown_keys_and_keeps_defaults():
    params = Params.from_dict({"abc_a": 0.7, "no_such_param": 1})

    assert params == dataclasses.replace(Params(), abc_a=0.7)


def test_params_survive_a_round_trip_through_a_dict():
    params = Params(window_days=182, key_stay=0.9)

    assert Params.from_dict(dataclasses.asdict(params)) == params


# --- §3.2 suspects ------------------------------------------------------------------------


def typo_store():
    # 12 days: 10 x5, 11 x3, 9 x3 and an extra zero (110). med = ln 10; MAD = ln 1.1, so
    # s = 1.4826 ln 1.1 = 0.1413 and |ln 11| / s = 16.97 > 5, while |ln 0.9| / s = 0.75.
    totals = [10, 11, 9, 10, 110, 11, 9, 10, 10, 11, 9, 10]
    return visits(1, last_days(12), totals, owns=1)


def test_an_extra_zero_typo_is_a_suspect_and_not_valid():
    screened = screen_suspects(typo_store(), AS_OF, P)

    assert screened["suspect"].tolist() == [False] * 4 + [True] + [False] * 7
    assert screened["valid"].tolist() == [True] * 4 + [False] + [True] * 7


def test_a_confirmed_suspect_stays_flagged_but_counts_valid():
    v = typo_store()
    v.loc[4, "confirmed"] = True

    screened = screen_suspects(v, AS_OF, P)

    assert screened.loc[4, ["suspect", "valid"]].tolist() == [True, True]
    assert screened["valid"].all()


def test_a_store_with_fewer_than_ten_positive_days_is_not_screened():
    v = visits(1, last_days(10), [10, 11, 9, 10, 110, 11, 9, 10, 10, 0])

    screened = screen_suspects(v, AS_OF, P)

    assert not screened["suspect"].any()
    assert screened["valid"].tolist() == [True] * 9 + [False]


def test_a_store_without_spread_has_no_suspects():
    # Nine equal days make the MAD 0, so s = 0 and nothing can be flagged.
    v = visits(1, last_days(10), [10] * 9 + [100])

    assert not screen_suspects(v, AS_OF, P)["suspect"].any()


def test_days_outside_the_window_are_never_suspects_and_later_days_are_dropped():
    v = pd.concat([
        visits(1, [AS_OF - pd.Timedelta(days=364)], [5000]),  # the day before W
        typo_store(),
        visits(1, [AS_OF + pd.Timedelta(days=1)], [10]),  # after as_of
    ], ignore_index=True)

    screened = screen_suspects(v, AS_OF.date(), P)

    assert len(screened) == 13
    assert screened.iloc[0][["in_window", "suspect", "valid"]].tolist() == [False, False, True]
    assert screened["in_window"].tolist() == [False] + [True] * 12
    assert screened["suspect"].sum() == 1


def test_the_window_is_364_days_ending_at_as_of():
    v = visits(1, [AS_OF - pd.Timedelta(days=363), AS_OF - pd.Timedelta(days=364), AS_OF], [1, 1, 1])

    assert screen_suspects(v, AS_OF, P)["in_window"].tolist() == [True, False, True]


def test_python_dates_are_accepted():
    v = visits(1, last_days(2), [1, 0])
    v["date"] = [d.date() for d in v["date"]]

    screened = screen_suspects(v, AS_OF.date(), P)

    assert screened["date"].dtype == "datetime64[ns]"
    assert screened["valid"].tolist() == [True, False]


# --- §3.3 observed potential --------------------------------------------------------------


def observed(frame, table, as_of=AS_OF):
    """The per-store rules as the run applies them (`observe_grid`), on a long visits frame."""
    grid = VisitGrid.from_frame(frame, table.index, last=day_number(as_of))
    return observe_grid(grid, None, table, P, as_of)[0]


def test_the_weekday_estimator_corrects_a_weekend_light_sample():
    # Four weeks ending Sunday 2024-06-30: every weekday (10 sold, 1 ours) but only two
    # Saturdays and two Sundays (40 sold, 4 ours). A plain mean gives 360 / 24 = 15 a day.
    weekdays = [d for d in last_days(28) if d.day_of_week < 5]
    weekends = pd.to_datetime(["2024-06-08", "2024-06-09", "2024-06-15", "2024-06-16"])
    v = pd.concat([visits(1, weekdays, 10, 1), visits(1, weekends, 40, 4)], ignore_index=True)

    result = observed(v, stores([1]))

    assert result.loc[1, "obs_days"] == 24
    assert bool(result.loc[1, "observed"]) is True
    assert result.loc[1, "p_obs"] == pytest.approx(365 * (5 * 10 + 2 * 40) / 7, rel=1e-12)
    assert result.loc[1, "p_obs"] != pytest.approx(365 * 15)
    assert result.loc[1, "own_annual"] == pytest.approx(365 * (5 * 1 + 2 * 4) / 7, rel=1e-12)


def test_a_fully_visited_window_equals_the_plain_mean_times_365():
    rng = np.random.default_rng(7)
    totals = rng.integers(20, 60, 364)  # no suspects: ln spread stays small
    owns = rng.integers(0, 1, 364) + totals // 3
    v = visits(1, last_days(364), totals, owns)

    result = observed(v, stores([1]))

    assert result.loc[1, "obs_days"] == 364
    assert result.loc[1, "p_obs"] == pytest.approx(365 * totals.mean(), rel=1e-12)
    assert result.loc[1, "own_annual"] == pytest.approx(365 * owns.mean(), rel=1e-12)


def test_a_store_needs_twenty_valid_days_and_two_per_open_weekday():
    nineteen = visits(1, last_days(19), 7, 2)
    one_wednesday = visits(2, [d for d in last_days(35) if d.day_of_week != 2 or d.day == 26], 7, 2)
    twenty_one = visits(3, last_days(21), 7, 2)
    v = pd.concat([nineteen, one_wednesday, twenty_one], ignore_index=True)

    result = observed(v, stores([1, 2, 3]))

    expected = pd.DataFrame(
        {"obs_days": [19, 31, 21], "observed": [False, False, True], "p_obs": [NAN, NAN, 365 * 7.0],
         "own_annual": [365 * 2.0] * 3},
        index=pd.Index([1, 2, 3], name="store_id"),
    )
    pd.testing.assert_frame_equal(result[expected.columns], expected)


def test_a_closed_weekday_contributes_zero_and_needs_no_visits():
    # Closed on Sundays; a Sunday visit still counts as a valid day but not in P_obs.
    open_days = [d for d in last_days(28) if d.day_of_week != 6]
    v = pd.concat([visits(1, open_days, 12, 3), visits(1, ["2024-06-30"], 70, 7)], ignore_index=True)

    result = observed(v, stores([1], closed_weekdays=[[6]]))

    assert result.loc[1, "obs_days"] == 25
    assert bool(result.loc[1, "observed"]) is True
    assert result.loc[1, "p_obs"] == 365 * 6 * 12 / 7
    assert result.loc[1, "own_annual"] == 365 * 6 * 3 / 7


def test_suspects_and_zero_days_are_left_out_and_a_store_without_valid_days_has_zero_own():
    v = pd.concat([typo_store(), visits(2, last_days(3), 0)], ignore_index=True)

    result = observed(v, stores([1, 2, 3]))

    assert result["obs_days"].tolist() == [11, 0, 0]
    assert result["own_annual"].tolist() == [365.0, 0.0, 0.0]
    assert result["p_obs"].isna().all()


# --- §3.4 potential model -----------------------------------------------------------------


FORMAT_BONUS = {"hypermarket": 900.0, "large": 400.0, "medium": 150.0, "small": 0.0}


def driver_level(table):
    """The true daily-sales level behind the seeded stores."""
    return (
        300 + 2.0 * table["floor_area_m2"] + 40 * table["checkouts"] + 250 * table["open_24h"].astype(float)
        + 6 * table["shelves"] + table["format"].map(FORMAT_BONUS)
    )


def driver_table(n, seed=3, noise=50.0):
    rng = np.random.default_rng(seed)
    table = stores(
        list(range(1, n + 1)),
        format=rng.choice(list(FORMAT_BONUS), n),
        floor_area_m2=rng.uniform(100, 5000, n),
        checkouts=rng.integers(1, 30, n).astype(float),
        shelves=rng.integers(5, 200, n).astype(float),
        open_24h=rng.random(n) < 0.3,
    )
    return table.assign(observed=True, p_obs=driver_level(table) + rng.normal(0, noise, n))


def test_model_statistics_equal_statsmodels():
    table = driver_table(160)

    fit = fit_potential_model(table, P)

    data = table.assign(open_24h=table["open_24h"].astype(float))
    reference = smf.ols(
        "p_obs ~ floor_area_m2 + checkouts + open_24h + shelves + C(format, Treatment('small'))", data
    ).fit()
    press = reference.get_influence().resid_press
    assert (fit.n, fit.m) == (160, 7)
    assert fit.r2 == pytest.approx(reference.rsquared, abs=1e-9)
    assert fit.r2_adj == pytest.approx(reference.rsquared_adj, abs=1e-9)
    assert fit.rmse == pytest.approx(math.sqrt(reference.ssr / 160), abs=1e-9)
    assert fit.press_r2 == pytest.approx(1 - (press**2).sum() / reference.centered_tss, abs=1e-9)
    renamed = {
        name.replace("C(format, Treatment('small'))[T.", "format[").replace("]]", "]"): value
        for name, value in reference.params.items()
    }
    assert fit.coefficients.keys() == renamed.keys()
    for name, value in renamed.items():
        assert fit.coefficients[name] == pytest.approx(value, rel=1e-9, abs=1e-9)
    assert (fit.usable, fit.reason) == (True, "")


def test_press_r2_equals_an_explicit_leave_one_out_refit():
    table = driver_table(40, seed=11, noise=400.0)
    fit = fit_potential_model(table, P)

    data = table.assign(open_24h=table["open_24h"].astype(float))
    formula = "p_obs ~ floor_area_m2 + checkouts + open_24h + shelves + C(format, Treatment('small'))"
    errors = [
        data["p_obs"].iloc[i] - smf.ols(formula, data.drop(data.index[i])).fit().predict(data.iloc[[i]]).iloc[0]
        for i in range(len(data))
    ]
    tss = ((data["p_obs"] - data["p_obs"].mean()) ** 2).sum()
    assert fit.press_r2 == pytest.approx(1 - np.sum(np.square(errors)) / tss, abs=1e-9)


def test_a_shuffled_target_makes_the_model_unusable():
    table = driver_table(200)
    table["p_obs"] = np.random.default_rng(5).permutation(table["p_obs"].to_numpy())

    fit = fit_potential_model(table, P)

    assert fit.n == 200
    assert fit.press_r2 < 0.70
    assert fit.usable is False
    assert fit.reason == f"PRESS R² {fit.press_r2:.2f} < 0.70"


def test_too_few_training_stores_make_the_model_unusable():
    fit = fit_potential_model(driver_table(40), P)

    assert fit.press_r2 > 0.70
    assert (fit.usable, fit.reason) == (False, "n=40 < 106 required")


def test_too_few_rows_to_fit_give_nan_statistics_without_raising():
    fit = fit_potential_model(driver_table(5), P)

    assert (fit.n, fit.usable, fit.coefficients) == (5, False, {})
    assert math.isnan(fit.r2) and math.isnan(fit.press_r2) and math.isnan(fit.rmse)
    assert fit.reason.startswith("n=5 < ")


def test_an_empty_training_set_gives_an_unusable_fit():
    fit = fit_potential_model(driver_table(5).assign(observed=False), P)

    assert (fit.n, fit.m, fit.usable, fit.reason) == (0, 4, False, "n=0 < 82 required (too few rows to fit)")


def test_format_levels_absent_from_training_are_dropped():
    table = driver_table(80)
    table = table[table["format"].isin(["small", "large"])]

    fit = fit_potential_model(table, P)

    assert list(fit.coefficients) == ["Intercept", "floor_area_m2", "checkouts", "open_24h", "shelves", "format[large]"]
    assert (fit.m, fit.formats) == (5, ["large", "small"])


def test_training_uses_observed_stores_with_every_driver_only():
    table = driver_table(30)
    table.loc[1, "shelves"] = NAN
    table["open_24h"] = table["open_24h"].astype(object)
    table.loc[2, "open_24h"] = None
    table.loc[3, "format"] = None
    table.loc[4, "observed"] = False

    assert fit_potential_model(table, P).n == 26


def hand_fit(usable=True):
    # Ranges widen by 10 %: floor [0, 1200], checkouts [1, 13], shelves [8, 32].
    return ModelFit(
        n=100, m=5, r2=0.9, r2_adj=0.9, rmse=1.0, press_r2=0.9, usable=usable, reason="",
        coefficients={"Intercept": -1000.0, "floor_area_m2": 2.0, "checkouts": 10.0, "open_24h": 50.0,
                      "shelves": 5.0, "format[large]": 300.0},
        ranges={"floor_area_m2": [100.0, 1100.0], "checkouts": [2.0, 12.0], "shelves": [10.0, 30.0]},
        formats=["large", "small"],
    )


def test_model_potential_is_the_clipped_prediction_and_flags_extrapolation():
    table = stores(
        list("abcdefgh"),
        format=["small", "large", "small", "small", "small", "hypermarket", "small", "small"],
        floor_area_m2=[500, 1200, 1201, 100, 500, 500, 500, 500],
        checkouts=[5, 13, 5, 2, 5, 5, 5, 5],
        open_24h=[False, True, False, False, False, False, False, None],
        shelves=[20, 32, 20, 10, 20, 20, NAN, 20],
        observed=[False, False, False, False, True, False, False, False],
    )

    result = add_model_potential(table, hand_fit(), P)

    expected = pd.DataFrame(
        {
            # a: -1000 + 1000 + 50 + 100; b (edges of the band): -1000 + 2400 + 130 + 50 + 160 + 300;
            # c: floor 1201 > 1200; d: -730 clipped; e observed; f untrained format; g, h a driver missing.
            "p_model": [150.0, 2040.0, 1552.0, 0.0, NAN, NAN, NAN, NAN],
            "extrapolated": [False, False, True, False, False, False, False, False],
        },
        index=pd.Index(list("abcdefgh"), name="store_id"),
    )
    pd.testing.assert_frame_equal(result[["p_model", "extrapolated"]], expected)


def test_potential_prefers_observed_then_the_model_then_stays_unknown():
    table = stores(
        list("abcde"),
        observed=[True, False, False, False, False],
        p_obs=[1000.0, NAN, NAN, NAN, NAN],
        p_model=[NAN, 500.0, 900.0, 700.0, NAN],
        extrapolated=[False, False, False, True, False],
        own_annual=[100.0, 800.0, 100.0, 50.0, 30.0],
    )

    usable = choose_potential(table, hand_fit())
    unusable = choose_potential(table, hand_fit(usable=False))

    assert usable["potential"].tolist()[:3] == [1000.0, 800.0, 900.0]
    assert usable["potential"].iloc[3:].isna().all()
    pd.testing.assert_series_equal(
        usable["potential_source"],
        text(["observed", "model", "model", "extrapolated", "unknown"], table.index), check_names=False,
    )
    assert unusable["potential_source"].tolist() == ["observed"] + ["unknown"] * 4


# --- §3.5 wallet share and market share ---------------------------------------------------


def test_wallet_share_is_empty_without_a_positive_potential():
    table = stores([1, 2, 3], potential=[1000.0, 0.0, NAN], own_annual=[200.0, 5.0, 5.0])

    result = add_wallet_share(table)

    assert result["wallet_share"].tolist()[0] == 0.2
    assert result["wallet_share"].iloc[1:].isna().all()


def test_market_share_prefers_region_then_country_then_panel_and_the_latest_start():
    as_of = pd.Timestamp("2024-12-31")
    table = stores(
        [1, 2, 3, 4],
        region_id=[1, 2, 3, 3],
        country=["CN", "CN", "ES", "ES"],
        potential=[1000.0, 1000.0, 2000.0, NAN],
        own_annual=[100.0, 300.0, 100.0, 999.0],
    )
    shares = pd.DataFrame(
        [
            (1, "CN", 1, "2024-01-01", "2024-12-31", 0.30),
            (2, "CN", 1, "2024-06-01", "2024-12-31", 0.35),  # latest start wins
            (3, "CN", 1, "2023-01-01", "2023-12-31", 0.90),  # expired
            (4, "CN", 2, "2025-01-01", "2025-12-31", 0.80),  # not started
            (5, "CN", None, "2024-01-01", "2024-12-31", 0.20),
            (6, "ES", None, "2023-01-01", "2024-12-30", 0.70),  # ended the day before
        ],
        columns=MARKET_SHARE_COLUMNS,
    )

    result = add_market_share(table, shares, as_of.date())

    # Panel: (100 + 300 + 100) / (1000 + 1000 + 2000) over stores with known potential.
    expected = pd.DataFrame(
        {"market_share": [0.35, 0.20, 0.125, 0.125],
         "market_share_source": text(["region", "country", "panel", "panel"], table.index)},
        index=table.index,
    )
    pd.testing.assert_frame_equal(result[["market_share", "market_share_source"]], expected)


def test_without_market_share_rows_every_store_takes_the_panel_share():
    table = stores([1], region_id=[1], country=["CN"], potential=[400.0], own_annual=[100.0])
    empty = pd.DataFrame(columns=["country", "region_id", "period_start", "period_end", "share"])

    result = add_market_share(table, empty, AS_OF)

    assert result[["market_share", "market_share_source"]].values.tolist() == [[0.25, "panel"]]


def test_market_share_rows_with_equal_start_and_end_resolve_to_the_most_recently_created():
    table = stores([1, 2], region_id=[1, 2], country=["CN", "CN"], potential=[1000.0, 1000.0], own_annual=[0.0, 0.0])
    shares = pd.DataFrame(
        [
            (7, "CN", 1, "2024-01-01", "2024-12-31", 0.40),  # created last: wins although listed first
            (3, "CN", 1, "2024-01-01", "2024-12-31", 0.10),
            (5, "CN", 1, "2024-01-01", "2024-12-31", 0.20),
            (2, "CN", 2, "2024-03-01", "2024-09-30", 0.50),
            (1, "CN", 2, "2024-03-01", "2024-12-31", 0.60),  # same start, later end: wins over the higher id
        ],
        columns=MARKET_SHARE_COLUMNS,
    )

    result = add_market_share(table, shares, AS_OF)

    assert result["market_share"].tolist() == [0.40, 0.60]
    assert result["market_share_source"].tolist() == ["region", "region"]


def test_panel_share_is_nan_when_no_potential_is_known():
    assert math.isnan(panel_share(stores([1], potential=[NAN], own_annual=[5.0])))
    assert math.isnan(panel_share(stores([1], potential=[0.0], own_annual=[0.0])))


# --- §3.6 ABC -----------------------------------------------------------------------------


def abc_table(cls, before, total, index):
    return pd.DataFrame({"cls": text(cls, index), "before": before, "T": float(total)}, index=index)


def test_abc_the_unit_crossing_a_line_goes_up():
    values = pd.Series([50.0, 30.0, 15.0, 5.0], index=list("abcd"))

    result = abc(values, P)

    # b crosses 80 % (50 -> 80) and stays A; c crosses 95 % (80 -> 95) and is B.
    pd.testing.assert_frame_equal(result, abc_table(["A", "A", "B", "C"], [0.0, 50.0, 80.0, 95.0], 100, values.index))


def test_abc_tie_groups_share_the_class_of_the_group():
    # Ranked one by one the last two tens would be B (before 80 and 90).
    values = pd.Series([10.0, 70.0, 10.0, 10.0], index=list("abcd"))

    result = abc(values, P)

    pd.testing.assert_frame_equal(result, abc_table(["A"] * 4, [70.0, 0.0, 70.0, 70.0], 100, values.index))


def test_abc_non_positive_values_are_c_and_nan_is_excluded():
    values = pd.Series([10.0, 0.0, -5.0, NAN], index=list("abcd"))

    result = abc(values, P)

    pd.testing.assert_frame_equal(result, abc_table(["A", "C", "C", NAN], [0.0, 10.0, 10.0, NAN], 10, values.index))


def test_abc_with_no_positive_total_makes_everything_c():
    result = abc(pd.Series([0.0, -1.0]), P)

    assert result["cls"].tolist() == ["C", "C"]
    assert result["T"].tolist() == [0.0, 0.0]


def test_abc_the_largest_unit_is_always_a():
    result = abc(pd.Series([90.0, 10.0]), P)

    assert result["cls"].tolist() == ["A", "B"]


def test_abc_of_nothing_is_empty():
    assert abc(pd.Series([], dtype=float), P).empty


# --- §3.7 zones and hysteresis ------------------------------------------------------------


def zone_units(potential, wallet_share, previous=None, share=0.5, own=None):
    n = len(potential)
    return stores(
        list(range(1, n + 1)),
        potential=potential,
        own_annual=own if own is not None else [0.0] * n,
        wallet_share=wallet_share,
        market_share=[share] * n,
        previous_zone=previous if previous is not None else [None] * n,
    )


def test_zones_without_history_follow_the_plain_rules():
    units = zone_units(
        potential=[500.0, 300.0, 150.0, 50.0, NAN],
        wallet_share=[0.49, 0.50, 0.9, 0.1, NAN],
        previous=[None, "unclassified", None, None, None],
    )

    result = add_zones(units, P)

    assert result["key_potential"].tolist() == [True, True, False, False, False]
    assert result["zone"].tolist() == ["attack", "defend", "maintenance", "maintenance", "unclassified"]


def run_sequence(wallet_shares, start=None):
    zones, previous = [], start
    for sow in wallet_shares:
        previous = add_zones(zone_units([100.0], [sow], [previous]), P)["zone"].iloc[0]
        zones.append(previous)
    return zones


def test_attack_becomes_defend_only_at_110_percent_of_market_share():
    # S* = 0.5: the attack -> defend line is 0.55.
    assert run_sequence([0.40, 0.52, 0.549, 0.55, 0.51]) == ["attack", "attack", "attack", "defend", "defend"]


def test_defend_becomes_attack_only_below_90_percent_of_market_share():
    # S* = 0.5: the defend -> attack line is 0.45.
    assert run_sequence([0.60, 0.48, 0.45, 0.449, 0.52]) == ["defend", "defend", "defend", "attack", "attack"]


@pytest.mark.parametrize(
    ("before", "previous", "key"),
    [
        (78.0, None, True),  # plain A line 80
        (78.0, "maintenance", False),  # enters only below 75
        (74.0, "maintenance", True),
        (75.0, "maintenance", False),
        (82.0, None, False),
        (82.0, "attack", True),  # stays key below 85
        (84.0, "defend", True),
        (85.0, "attack", False),
        (86.0, "defend", False),
        (82.0, "unclassified", False),
    ],
)
def test_key_potential_stay_and_enter_bands(before, previous, key):
    # Two units: the big one ranks first, so the tested unit has `before` = big and T = 100.
    units = zone_units([before, 100.0 - before], [0.9, 0.1], [None, previous])

    result = add_zones(units, P)

    assert bool(result["key_potential"].iloc[1]) is key
    assert result["zone"].iloc[1] == ("attack" if key else "maintenance")


def test_a_store_that_loses_key_potential_becomes_maintenance_whatever_its_share():
    units = zone_units([90.0, 10.0], [0.1, 0.9], [None, "defend"])

    assert add_zones(units, P)["zone"].tolist() == ["attack", "maintenance"]


def test_traditional_split_audit_flags_missed_attacks_and_false_key_accounts():
    # P: a is the only A. O: b is the only A (500 of 530).
    units = zone_units([1000.0, 100.0, 50.0], [0.01, 0.2, 0.4], share=0.2, own=[10.0, 500.0, 20.0])

    result = add_zones(units, P)

    expected = pd.DataFrame(
        {
            "key_potential": [True, False, False],
            "zone": text(["attack", "maintenance", "maintenance"], units.index),
            "trad_ka": [False, True, False],
            "missed_attack": [True, False, False],
            "false_ka": [False, True, False],
        },
        index=units.index,
    )
    pd.testing.assert_frame_equal(result[expected.columns], expected)


# --- §3.8 ABC-XYZ -------------------------------------------------------------------------


def monthly_visits(store_id, own_by_month, year=2024):
    dates = [f"{year}-{month:02d}-10" for month in range(1, len(own_by_month) + 1)]
    return visits(store_id, dates, 100, own_by_month)


def test_xyz_uses_the_population_sd_of_monthly_means():
    as_of = pd.Timestamp("2025-01-15")  # months: January to December 2024
    v = pd.concat([
        monthly_visits(1, [9, 11] * 6),  # mean 10, SD 1 -> CV 0.10 (the sample SD would give Y)
        monthly_visits(2, [8, 12] * 6),  # CV 0.20
        monthly_visits(3, [5, 15] * 6),  # CV 0.50
        monthly_visits(4, [10] * 5),  # 5 months
        monthly_visits(5, [0] * 6),  # mean 0
        visits(6, ["2025-01-02"], 100, 10),  # only in the month of as_of
    ], ignore_index=True)
    table = stores([1, 2, 3, 4, 5, 6, 7], own_annual=[6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0])

    result = observed(v, table, as_of).assign(abc=abc(table["own_annual"], P)["cls"])

    assert result["xyz"].tolist() == ["X", "Y", "Z", "N", "Z", "N", "N"]
    # O: T = 21, before 0, 6, 11, 15 (< 16.8), 18 (< 19.95), 20, and 0 is C.
    assert result["abc"].tolist() == ["A", "A", "A", "A", "B", "C", "C"]


def test_xyz_averages_days_within_a_month_and_skips_months_without_a_valid_day():
    as_of = pd.Timestamp("2025-01-15")
    v = pd.concat([
        monthly_visits(1, [10] * 5),
        visits(1, ["2024-06-03", "2024-06-20"], 100, [8, 10]),  # June mean 9
        visits(1, ["2024-07-03"], 0, 0),  # not valid: July is skipped
    ], ignore_index=True)

    result = observed(v, stores([1], own_annual=[1.0]), as_of)

    # Six months: 10 x5 and 9 -> mean 59 / 6, SD sqrt(5/36) = 0.3727, CV 0.038.
    assert result["xyz"].tolist() == ["X"]


# --- §3.9 lost customers -------------------------------------------------------------------


def purchases(store_id, recency, gap, count, as_of=AS_OF):
    days = [as_of - pd.Timedelta(days=recency + gap * k) for k in range(count)]
    return visits(store_id, sorted(days), 10, 1).assign(valid=True)


def at(*offsets):
    """Dates `offset` days before AS_OF (W is offsets 0..363)."""
    return [AS_OF - pd.Timedelta(days=offset) for offset in offsets]


@pytest.mark.parametrize(
    ("gap", "count", "recency", "status"),
    [
        # weekly: g = 7, risk = max(14, 45) = 45, lost = max(21, 90) = 90
        (7, 10, 45, "active"), (7, 10, 46, "at_risk"), (7, 10, 90, "at_risk"), (7, 10, 91, "lost"),
        # monthly: g = 30, risk = 60, lost = 90
        (30, 6, 60, "active"), (30, 6, 61, "at_risk"), (30, 6, 91, "lost"),
        # every 60 days: g = 60, risk = 120, lost = 180
        (60, 4, 120, "active"), (60, 4, 121, "at_risk"), (60, 4, 180, "at_risk"), (60, 4, 181, "lost"),
        # every 100 days: g = 100, risk = 200, so 150 days is still active (the default says 45)
        (100, 4, 150, "active"),
        # sparse: 2 gaps only -> defaults risk 45, lost 180
        (100, 3, 45, "active"), (100, 3, 46, "at_risk"), (100, 3, 180, "at_risk"), (100, 3, 181, "lost"),
        # a single purchase: no gap -> defaults
        (30, 1, 46, "at_risk"),
    ],
)
def test_lost_and_at_risk_thresholds(gap, count, recency, status):
    v = visits(1, at(*(recency + gap * k for k in range(count))), 10, 1).assign(valid=True)

    result = add_customer_status(stores([1]), v, pd.Series(dtype=object), AS_OF, P)

    assert result["customer_status"].tolist() == [status]
    assert result["recency"].tolist() == [float(recency)]


def test_gaps_count_only_when_the_later_day_lies_in_the_window():
    v = pd.concat([
        # gaps of 120 ending at 363 (first day of W), 243, 123: g = 120, risk 240 -> active
        visits(1, at(483, 363, 243, 123), 10, 1),
        # one day earlier: the gap ending at 364 lies outside W, 2 gaps -> default risk 45
        visits(2, at(484, 364, 244, 124), 10, 1),
        # three gaps of 100 before W are ignored; in W only 280 and 20 -> defaults -> at risk
        visits(3, at(700, 600, 500, 400, 120, 100), 10, 1),
    ], ignore_index=True).assign(valid=True)

    result = add_customer_status(stores([1, 2, 3]), v, pd.Series(dtype=object), AS_OF, P)

    assert result["recency"].tolist() == [123.0, 124.0, 100.0]
    assert result["customer_status"].tolist() == ["active", "at_risk", "at_risk"]


def test_a_prior_purchase_before_the_frame_provides_a_gap_and_recency():
    # Store 1 buys at 151, 121, 91 and before the frame at 181: three gaps of 30 -> lost 90,
    # so recency 91 is lost (with the defaults it would only be at risk, as for store 4).
    # Store 2 only bought before the frame; store 3 never bought.
    v = pd.concat([visits(1, at(151, 121, 91), 10, 1), visits(4, at(151, 121, 91), 10, 1)]).assign(valid=True)
    prior = pd.Series({1: AS_OF - pd.Timedelta(days=181), 2: AS_OF - pd.Timedelta(days=170)})

    result = add_customer_status(stores([1, 2, 3, 4]), v, prior, AS_OF, P)

    index = pd.Index([1, 2, 3, 4], name="store_id")
    expected = pd.DataFrame(
        {"recency": [91.0, 170.0, NAN, 91.0], "customer_status": text(["lost", "at_risk", "never", "at_risk"], index)},
        index=index,
    )
    pd.testing.assert_frame_equal(result[["recency", "customer_status"]], expected)


def test_days_without_own_sales_or_not_valid_are_not_purchases():
    v = pd.concat([
        visits(1, ["2024-06-01"], 10, 0).assign(valid=True),
        visits(1, ["2024-06-02"], 10, 5).assign(valid=False),
    ], ignore_index=True)

    result = add_customer_status(stores([1]), v, pd.Series(dtype=object), AS_OF, P)

    assert result["customer_status"].tolist() == ["never"]
    assert result["recency"].isna().all()


# --- §4 accounts --------------------------------------------------------------------------


def account_world():
    table = stores(
        [1, 2, 3, 4, 5, 6, 7, 8],
        account_id=pd.array([10, 10, 10, 20, 20, 30, 40, None], dtype="Int64"),
        country=["CN", "ES", "ES", "CN", "CN", "CN", "CN", "CN"],
        region_id=[1, 3, 4, 1, 2, 1, 1, 1],
    )
    scores = table.assign(
        potential=[1000.0, 500.0, NAN, 2000.0, 1000.0, NAN, 300.0, 200.0],
        own_annual=[100.0, 50.0, 30.0, 600.0, 400.0, 20.0, 30.0, 800.0],
    ).reset_index()
    accounts = pd.DataFrame({
        "account_id": [10, 20, 30, 40, 50, 60],
        "kind": ["chain", "chain", "chain", "institution", "chain", "independent"],
        "previous_zone": [None, "attack", None, None, None, None],
    })
    shares = pd.DataFrame(
        [(1, "CN", None, "2024-01-01", "2024-12-31", 0.32), (2, "CN", 1, "2024-01-01", "2024-12-31", 0.90)],
        columns=MARKET_SHARE_COLUMNS,
    )
    return scores, table.reset_index(), accounts, shares


def test_account_figures_sum_the_stores_with_known_potential():
    scores, table, accounts, shares = account_world()

    result = score_accounts(scores, table, accounts, shares, P, AS_OF)

    expected = pd.DataFrame({
        "account_id": [10, 20, 30, 40, 50, 60],
        "potential": [1500.0, 3000.0, NAN, 300.0, NAN, NAN],
        "own_annual": [150.0, 1000.0, NAN, 30.0, NAN, NAN],
        "wallet_share": [0.1, 1 / 3, NAN, 0.1, NAN, NAN],
        "active_stores": [3, 2, 1, 1, 0, 0],
        "known_stores": [2, 2, 0, 1, 0, 0],
        "coverage": [2 / 3, 1.0, 0.0, 1.0, NAN, NAN],
    })
    pd.testing.assert_frame_equal(result[expected.columns], expected)


def test_account_market_share_is_the_main_countrys_else_the_panel_share():
    scores, table, accounts, shares = account_world()

    result = score_accounts(scores, table, accounts, shares, P, AS_OF)

    # Account 10 has two stores in ES (no share row) and one in CN: panel share
    # (100 + 50 + 600 + 400 + 30 + 800) / (1000 + 500 + 2000 + 1000 + 300 + 200) = 0.396.
    # The region row (0.90) never applies to accounts.
    assert result["country"].tolist()[:4] == ["ES", "CN", "CN", "CN"]
    assert result["market_share"].tolist() == pytest.approx([0.396, 0.32, 0.32, 0.32, 0.396, 0.396], abs=1e-15)
    assert result["market_share_source"].tolist() == ["panel", "country", "country", "country", "panel", "panel"]


def test_the_main_country_tie_goes_to_the_alphabetically_first():
    scores, table, accounts, shares = account_world()
    table.loc[table["store_id"] == 3, "account_id"] = pd.NA  # account 10: one CN, one ES store

    result = score_accounts(scores, table, accounts, shares, P, AS_OF)

    assert result.loc[0, ["country", "market_share_source"]].tolist() == ["CN", "country"]


def test_account_zones_abc_audit_and_lifeblood():
    scores, table, accounts, shares = account_world()

    result = score_accounts(scores, table, accounts, shares, P, AS_OF)

    # P: 20 (3000) before 0 -> A, 10 (1500) before 3000 < 3840 -> A, 40 before 4500 -> B.
    # Account 20 was attack: SOW 0.333 < 1.10 x 0.32 = 0.352 keeps it attack.
    # O: 20 (1000) A, 10 (150) before 1000 >= 944 -> B, 40 -> C. Lifeblood: O >= 203 (10 % of 2030).
    expected = pd.DataFrame({
        "key_potential": [True, True, False, False, False, False],
        "zone": text(["attack", "attack", "unclassified", "maintenance", "unclassified", "unclassified"]),
        "abc": text(["B", "A", "C", "C", "C", "C"]),  # no known O: class C
        "trad_ka": [False, True, False, False, False, False],
        "missed_attack": [True, False, False, False, False, False],
        "false_ka": [False] * 6,
        "lifeblood": [False, True, False, False, False, False],
    })
    pd.testing.assert_frame_equal(result[expected.columns], expected)


def test_account_tiers_follow_the_footprint_of_active_stores():
    scores, table, accounts, shares = account_world()

    result = score_accounts(scores, table, accounts, shares, P, AS_OF)

    # 10: CN + ES; 20: CN regions 1 and 2; 30: one region; 40 an institution; 50 no store.
    pd.testing.assert_series_equal(result["tier"], text(["GKA", "NKA", "LKA", NAN, NAN, NAN]), check_names=False)


# --- pipeline -----------------------------------------------------------------------------


def score_stores(v, prior_purchase, table, shares, params, as_of):
    """The run's path on a long visits frame: (store scores, ModelFit, suspects)."""
    table = table.set_index("store_id") if "store_id" in table.columns else table
    grid = VisitGrid.from_frame(v, table.index, last=day_number(as_of))
    observations, suspects = observe_grid(grid, prior_purchase, table, params, as_of)
    scores, fit = score_observations(observations, shares, params, as_of)
    return scores, fit, suspects


def weekly_pattern_store(store_id, typo_day=None):
    # Mon..Sun sell 8, 9, 10, 11, 12, 20, 20: med ln 11, s = 1.4826 ln(11/9) = 0.2975, so
    # an extra zero on a Wednesday (100: |ln(100/11)| / s = 7.4) is a suspect.
    days = last_days(364)
    totals = np.array([8, 9, 10, 11, 12, 20, 20])[days.day_of_week]
    if typo_day is not None:
        totals[days.get_loc(typo_day)] = 100
    return visits(store_id, days, totals, 1)


def test_score_stores_runs_the_whole_pipeline():
    typo = pd.Timestamp("2024-06-26")  # a Wednesday
    v = pd.concat([
        weekly_pattern_store(1, typo),
        visits(2, last_days(3), 50, 5),
        visits(1, [AS_OF + pd.Timedelta(days=1)], 10_000, 10),  # after as_of: ignored
        visits(9, last_days(3), 50, 5),  # store 9 is not active
    ], ignore_index=True)
    table = stores(
        [1, 2], region_id=[1, 1], country=["CN", "CN"], account_id=pd.array([None, None], dtype="Int64"),
        format=["small", "large"], floor_area_m2=[100.0, 900.0], checkouts=[2.0, 6.0], shelves=[10.0, 40.0],
        open_24h=[False, True], previous_zone=[None, None],
    )
    shares = pd.DataFrame(columns=["country", "region_id", "period_start", "period_end", "share"])

    scores, fit, suspects = score_stores(v, pd.Series(dtype="datetime64[ns]"), table.reset_index(), shares, P, AS_OF)

    pd.testing.assert_frame_equal(
        suspects, pd.DataFrame({"store_id": [1], "date": pd.to_datetime([typo]).astype("datetime64[ns]"),
                                "confirmed": [False]})
    )
    # Only store 1 trains, a `small` one: m = 4 predictors, 50 + 8 x 4 = 82 stores required.
    assert (fit.n, fit.usable, fit.reason) == (1, False, "n=1 < 82 required (too few rows to fit)")
    assert scores["store_id"].tolist() == [1, 2]
    one, two = scores.iloc[0], scores.iloc[1]
    assert (one["obs_days"], one["observed"], one["potential_source"]) == (363, True, "observed")
    assert one["p_obs"] == pytest.approx(365 * 90 / 7, rel=1e-12)
    assert one["own_annual"] == pytest.approx(365.0, rel=1e-12)
    assert one["market_share_source"] == "panel"
    assert one["wallet_share"] == pytest.approx(7 / 90, rel=1e-12)
    assert one["market_share"] == pytest.approx(7 / 90, rel=1e-12)  # the only known potential
    # abc on O: store 2 (1825) is A; store 1 (365) has before 1825 >= 0.8 x 2190 -> B.
    assert (one["key_potential"], one["zone"], one["abc"], one["xyz"]) == (True, "defend", "B", "X")
    assert (one["recency"], one["customer_status"]) == (0.0, "active")
    assert (two["obs_days"], two["potential_source"], two["zone"], two["abc"], two["xyz"]) == (
        3, "unknown", "unclassified", "A", "N"
    )
    assert two["own_annual"] == 365 * 5.0
    assert {
        "store_id", "obs_days", "observed", "p_obs", "p_model", "extrapolated", "potential", "potential_source",
        "own_annual", "wallet_share", "market_share", "market_share_source", "key_potential", "zone", "abc",
        "xyz", "trad_ka", "missed_attack", "false_ka", "recency", "customer_status",
    } <= set(scores.columns)


def test_score_stores_uses_a_usable_model_for_stores_without_enough_visits():
    table = driver_table(120, noise=0.0).drop(columns=["observed", "p_obs"])
    table.loc[121] = ["medium", 1000.0, 10.0, 50.0, True, []]
    table = table.assign(region_id=1, country="CN", account_id=pd.array([None] * 121, dtype="Int64"),
                         previous_zone=None)
    # Stores 1..120 sell their driver level every day of four weeks (observed, P_obs = 365 x level);
    # store 121 has two visits only.
    level = driver_level(table)
    days = last_days(28)
    v = pd.DataFrame({
        "store_id": np.repeat(np.arange(1, 121), 28),
        "date": np.tile(days.to_numpy(), 120),
        "total_sales": np.repeat(level.iloc[:120].round().astype(int).to_numpy(), 28),
        "own_sales": 1,
        "confirmed": False,
    })
    v = pd.concat([v, visits(121, last_days(2), 10, 10)], ignore_index=True)
    shares = pd.DataFrame(columns=["country", "region_id", "period_start", "period_end", "share"])

    scores, fit, _ = score_stores(v, pd.Series(dtype="datetime64[ns]"), table, shares, P, AS_OF)

    assert (fit.n, fit.m, fit.usable) == (120, 7, True)
    new = scores.set_index("store_id").loc[121]
    assert new["p_model"] == pytest.approx(365 * (300 + 2000 + 400 + 250 + 300 + 150), rel=1e-3)
    assert (new["potential_source"], new["potential"], new["extrapolated"]) == ("model", new["p_model"], False)


def test_without_small_stores_in_training_the_first_format_present_is_the_reference():
    table = driver_table(80)
    table = table[table["format"].isin(["medium", "large"])]

    fit = fit_potential_model(table, P)

    assert list(fit.coefficients)[-1:] == ["format[medium]"]
    assert (fit.m, fit.formats) == (5, ["large", "medium"])


def test_an_empty_world_scores_without_raising():
    v = visits(1, [], 0).astype({"total_sales": int, "own_sales": int, "confirmed": bool})
    table = stores(
        [1], region_id=[1], country=["CN"], account_id=pd.array([5], dtype="Int64"), format=[None],
        floor_area_m2=[NAN], checkouts=[NAN], shelves=[NAN], open_24h=[None], previous_zone=[None],
    )
    shares = pd.DataFrame(columns=["country", "region_id", "period_start", "period_end", "share"])
    accounts = pd.DataFrame({"account_id": [5], "kind": ["chain"], "previous_zone": [None]})

    scores, fit, suspects = score_stores(v, pd.Series(dtype="datetime64[ns]"), table, shares, P, AS_OF)
    account_scores = score_accounts(scores, table, accounts, shares, P, AS_OF)

    assert scores[["potential_source", "zone", "xyz", "customer_status"]].values.tolist() == [
        ["unknown", "unclassified", "N", "never"]
    ]
    assert (fit.n, fit.usable, suspects.empty) == (0, False, True)
    assert account_scores[["zone", "coverage", "tier"]].values.tolist() == [["unclassified", 0.0, "LKA"]]
