"""SPEC rules about stores and their visits that several apps apply, written once.

Pure Python and pandas (no ORM, no clock), so analytics, alerts and the pages all call the same code.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

# The columns a frame of MarketShare rows carries (`region_id` None = the whole country).
MARKET_SHARE_COLUMNS = ["id", "country", "region_id", "period_start", "period_end", "share"]


def shares_on(rows: pd.DataFrame, day) -> tuple[dict[int, float], dict[str, float]]:
    """SPEC §3.5: ({region_id: share}, {country: share}) of the rows whose period contains `day`.

    The latest start wins; on equal starts the latest end, then the most recently created row (highest id).
    """
    if rows is None or len(rows) == 0:
        return {}, {}
    day = pd.Timestamp(day)
    start, end = pd.to_datetime(rows["period_start"]), pd.to_datetime(rows["period_end"])
    valid = rows[(start <= day) & (end >= day)].assign(_start=start, _end=end)
    valid = valid.sort_values(["_start", "_end", "id"], kind="stable")  # later rows overwrite earlier ones
    regional = valid["region_id"].notna()
    by_region = dict(zip(valid.loc[regional, "region_id"].astype("int64").tolist(), valid.loc[regional, "share"].astype(float)))
    by_country = dict(zip(valid.loc[~regional, "country"].tolist(), valid.loc[~regional, "share"].astype(float)))
    return by_region, by_country


def shares_on_days(rows: pd.DataFrame, days) -> list[tuple[dict[int, float], dict[str, float]]]:
    """`shares_on` for each of `days`, computed once per distinct set of valid rows (it changes only at period edges)."""
    if rows is None or len(rows) == 0:
        return [({}, {}) for _ in days]
    start, end = pd.to_datetime(rows["period_start"]).to_numpy(), pd.to_datetime(rows["period_end"]).to_numpy()
    found, result = {}, []
    for day in days:
        moment = pd.Timestamp(day).to_datetime64()
        valid = ((start <= moment) & (end >= moment)).tobytes()
        if valid not in found:
            found[valid] = shares_on(rows, day)
        result.append(found[valid])
    return result


def market_share(region_ids: pd.Series, countries: pd.Series, shares: tuple[dict, dict], fallback) -> tuple[pd.Series, pd.Series]:
    """(share, source) per unit: its region's row, else its country's row, else `fallback` (source 'panel').

    `fallback` is a number or a Series keyed like `countries`' values (the panel share of §3.5 or §5).
    """
    by_region, by_country = shares
    region = region_ids.map(by_region).astype(float)
    country = countries.map(by_country).astype(float)
    panel = countries.map(fallback).astype(float) if isinstance(fallback, (pd.Series, dict)) else float(fallback)
    share = region.fillna(country).fillna(panel)
    source = np.select([region.notna().to_numpy(), country.notna().to_numpy()], ["region", "country"], "panel")
    return share, pd.Series(source, index=region_ids.index, dtype=object)
