"""Save: one analytics snapshot per `as_of`, replaced in one transaction (SPEC §3, §4)."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
from django.db import connection, transaction

from accounts.models import KeyAccount
from stores.models import StoreVisit

from .models import AccountScore, PotentialModelFit, StoreScore

SAVE_BATCH = 2000  # rows per INSERT: 2000 x 24 columns stays under every driver's parameter limit


def _clean(value):
    """A DataFrame cell as a database value: NaN/NA -> None, numpy scalars -> Python."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    return value


def _records(frame: pd.DataFrame, fields: list[str]):
    for row in frame[fields].itertuples(index=False, name=None):
        yield {field: _clean(value) for field, value in zip(fields, row)}


STORE_FIELDS = [
    "obs_days", "observed", "p_obs", "p_model", "extrapolated", "potential", "potential_source", "own_annual",
    "wallet_share", "market_share", "market_share_source", "key_potential", "zone", "abc", "xyz", "trad_ka",
    "missed_attack", "false_ka", "recency", "customer_status",
]
ACCOUNT_FIELDS = [
    "potential", "own_annual", "wallet_share", "active_stores", "known_stores", "coverage", "market_share",
    "market_share_source", "key_potential", "zone", "abc", "trad_ka", "missed_attack", "false_ka", "lifeblood", "tier",
]
TEXT_FIELDS = {"market_share_source", "tier"}


def _rows(model, frame, key, fields, as_of):
    for record in _records(frame, [key, *fields]):
        for field in TEXT_FIELDS & record.keys():
            record[field] = record[field] or ""
        record[key.removesuffix("_id") + "_id"] = record.pop(key)
        yield model(as_of=as_of, **record)


def _insert(model, frame: pd.DataFrame, key: str, fields: list[str], as_of: date) -> None:
    """Insert one result row per frame row: COPY on PostgreSQL (20,000 rows in ~0.2 s), else bulk_create."""
    if connection.vendor != "postgresql":
        model.objects.bulk_create(_rows(model, frame, key, fields, as_of), batch_size=SAVE_BATCH)
        return
    columns = [key, "as_of", *(model._meta.get_field(f).column for f in fields)]
    cells = [frame[key].astype(int).astype(str).tolist(), [as_of.isoformat()] * len(frame)]
    cells += [_copy_cells(frame[field], model._meta.get_field(field).get_internal_type()) for field in fields]
    text = "".join("\t".join(row) + "\n" for row in zip(*cells))
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write(text)


def _copy_cells(values: pd.Series, kind: str) -> list[str]:
    """A column as COPY text cells (twice as fast as pandas' to_csv); missing numbers are \\N.

    Floats print as repr, which round-trips, so the stored values are exactly the computed ones.
    """
    if kind == "BooleanField":
        return np.where(values.to_numpy(dtype=bool), "t", "f").tolist()
    if kind in {"CharField", "TextField"}:
        return values.fillna("").tolist()
    numbers = values.to_numpy(dtype=float, na_value=np.nan).tolist()
    show = repr if kind == "FloatField" else (lambda x: str(int(x)))
    return ["\\N" if x != x else show(x) for x in numbers]


def save_snapshot(*, as_of, store_scores, account_scores, fit, suspects, is_latest: bool) -> None:
    """Replace the `as_of` snapshot in one transaction: readers see the old rows or the new, never half."""
    with transaction.atomic():
        StoreScore.objects.filter(as_of=as_of).delete()
        AccountScore.objects.filter(as_of=as_of).delete()
        PotentialModelFit.objects.filter(as_of=as_of).delete()
        _insert(StoreScore, store_scores, "store_id", STORE_FIELDS, as_of)
        _insert(AccountScore, account_scores, "account_id", ACCOUNT_FIELDS, as_of)
        PotentialModelFit.objects.create(
            as_of=as_of, n=fit.n, m=fit.m, r2=_clean(fit.r2), r2_adj=_clean(fit.r2_adj), rmse=_clean(fit.rmse),
            press_r2=_clean(fit.press_r2), usable=fit.usable, reason=fit.reason,
            coefficients={k: _clean(v) for k, v in fit.coefficients.items()}, ranges=fit.ranges,
        )
        if is_latest:
            _flag_suspects(suspects)
            _set_tiers(account_scores)


def _flag_suspects(suspects: pd.DataFrame) -> None:
    """The visits' `suspect` flag mirrors the latest run; only the visits whose flag changes are written.

    (Clearing every flag and setting the run's again rewrote every suspect visit, its index
    entries and its heap page on each run: seconds with a few thousand suspects.)
    """
    flagged = set(StoreVisit.objects.filter(suspect=True).values_list("store_id", "date"))
    wanted = set(zip(suspects["store_id"].astype(int).tolist(), suspects["date"].dt.date.tolist()))
    table = StoreVisit._meta.db_table
    with connection.cursor() as cursor:
        for value, pairs in ((False, sorted(flagged - wanted)), (True, sorted(wanted - flagged))):
            for start in range(0, len(pairs), 500):
                chunk = pairs[start : start + 500]
                keys = ", ".join(["(%s, %s)"] * len(chunk))
                cursor.execute(
                    f"UPDATE {table} SET suspect = %s WHERE (store_id, date) IN ({keys})",
                    [value, *(v for pair in chunk for v in pair)],
                )


def _set_tiers(account_scores: pd.DataFrame) -> None:
    """Computed tiers land on the accounts whose tier nobody set by hand: one UPDATE per tier.

    (bulk_update's CASE of one branch per account took 0.13 s for 400 accounts.)"""
    tiers = account_scores[["account_id", "tier"]].astype({"tier": object}).fillna({"tier": ""})
    for tier, ids in tiers.groupby("tier")["account_id"]:
        KeyAccount.objects.filter(tier_override=False, pk__in=ids.astype(int).tolist()).exclude(tier=tier).update(
            tier=tier
        )
