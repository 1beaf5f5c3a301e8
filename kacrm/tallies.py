"""Tallies: sums per key that database triggers keep from another table's rows, so a page reads one row per key
instead of every row (SPEC §9: a number of queries, and rows read, that does not grow with the data).

Two tallies are kept from the visits: `stores.StoreVisitCount` (visits per store: the visit lists' exact count)
and `planning.StoreMonth` (valid days and own units per store and month: the account plan's actuals).

- **PostgreSQL**: a tally is a ledger of deltas. A statement-level trigger on the source table inserts one row per
  key that the statement changed (grouped from its transition tables), and never updates one: concurrent bulk
  batches of adjacent days touch the same stores, and an upsert would make each wait for the other's commit (it
  halved bulk ingest, bench/README.md). Readers sum the rows of a key; `fold` replaces each key's rows by their
  sum, nightly, so the ledger stays about one row per key.
- **SQLite** (one writer at a time): row-level triggers upsert a single row per key (a unique index the migration
  creates); `fold` has nothing to do.

A tally's model declares no constraint or index of its own: its migration creates them for each database.
"""
from __future__ import annotations

from django.db import connection, transaction


def fold(model, *, keys: list[str], sums: list[str]) -> int:
    """Replace every key's ledger rows in `model`'s table by one row of their sums (none when they sum to zero);
    return how many rows were folded. Safe beside writers: rows committed after it started are left for next time,
    and the sums of every key are the same before and after."""
    if connection.vendor != "postgresql":
        return 0
    table = connection.ops.quote_name(model._meta.db_table)
    key = ", ".join(keys)
    joined = " AND ".join(f"t.{k} = c.{k}" for k in keys)
    totals = ", ".join(f"sum({s})" for s in sums)
    nonzero = " OR ".join(f"sum({s}) <> 0" for s in sums)
    zero = " AND ".join(f"sum({s}) = 0" for s in sums)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"""
            WITH crowded AS (SELECT {key} FROM {table} GROUP BY {key} HAVING count(*) > 1 OR ({zero})),
            gone AS (DELETE FROM {table} AS t USING crowded AS c WHERE {joined} RETURNING t.*),
            kept AS (INSERT INTO {table} ({key}, {", ".join(sums)})
                     SELECT {key}, {totals} FROM gone GROUP BY {key} HAVING {nonzero} RETURNING 1)
            SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM kept)
        """)
        gone, kept = cursor.fetchone()
    return gone - kept
