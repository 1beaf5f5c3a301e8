"""Visits packed a month at a time (PostgreSQL): what the nightly run reads instead of aggregating a year again.

Each night the window moves by one day, yet aggregating it (SPEC §3: a year of visits, 36 million
rows at 100,000 stores) cost three times the bare GROUP BY over the same rows. Past months rarely
change, so `refresh` packs each month once into one `VisitMonth` row per store (`grid.PACKED_ROW`,
days counted from the month's first) and sets the month's `VisitMonthBuilt` marker; a statement
trigger on the visits table (migration 0005) deletes the marker of every month a statement
inserts, deletes or changes a visit of (store, date, figures, confirmation; not the `suspect`
flag the run itself sets). `read` then returns the rows of the marked months only. A night packs
the current month again (new visits cleared its marker) and any month with a correction.

Packing holds a SHARE lock on the visits table for the month's aggregate (about 1/13 of a run's
reading): writers wait for it, so no write can commit between reading the month and setting its
marker, and none is lost. SQLite has no such trigger: the run reads plain rows there.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import psycopg
from django.db import connection, transaction

from stores.models import Store, StoreVisit

from .grid import PACKED_ROW
from .models import VisitMonth, VisitMonthBuilt


def month_starts(first_day: date, last_day: date) -> list[date]:
    """The first day of every month from `first_day`'s to `last_day`'s."""
    months, month = [], first_day.replace(day=1)
    while month <= last_day:
        months.append(month)
        month = _next(month)
    return months


def _next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def stale(first_day: date, last_day: date) -> list[date]:
    """The months of [first_day, last_day] without a marker: never packed, or written since."""
    months = month_starts(first_day, last_day)
    built = set(VisitMonthBuilt.objects.filter(month__in=months).values_list("month", flat=True))
    return [m for m in months if m not in built]


def pack(month: date) -> None:
    """Pack every store's visits of `month` and mark it, in one transaction under a SHARE lock on the visits."""
    visits, packed = StoreVisit._meta.db_table, VisitMonth._meta.db_table
    params = {"first": month, "next": _next(month)}
    with transaction.atomic(), connection.cursor() as cursor:
        # A hash aggregate of many growing strings needs room; JIT costs more than it saves here.
        cursor.execute("SELECT set_config('work_mem', '256MB', true), set_config('jit', 'off', true)")
        cursor.execute(f"LOCK TABLE {visits} IN SHARE MODE")
        cursor.execute(f"DELETE FROM {packed} WHERE month = %(first)s", params)
        cursor.execute(
            f"INSERT INTO {packed} (store_id, month, blob, max_total) "
            f"SELECT store_id, %(first)s, string_agg({PACKED_ROW}, ''::bytea), max(total_sales) FROM {visits} "
            f"WHERE date >= %(first)s AND date < %(next)s GROUP BY store_id", params,
        )
        VisitMonthBuilt.objects.filter(month=month).delete()
        VisitMonthBuilt.objects.create(month=month)


def refresh(first_day: date, last_day: date, partitions: int = 2) -> list[date]:
    """Pack the stale months of the range, `partitions` at a time (one connection each); returns them.

    Inside a transaction (tests, a caller's atomic block) other connections could not see its
    writes, so the months are packed in turn on this one.
    """
    from .loading import in_background  # loading reads what this module packs

    todo = stale(first_day, last_day)
    with ThreadPoolExecutor(max(partitions, 1)) as pool:
        for done in [in_background(pool, pack, month) for month in todo]:
            done.result()
    return todo


def read(first_day: date, last_day: date, region_ids=None) -> list[tuple]:
    """(store_id, packed bytes, max total, the month's first day number) of every store and month of the range.

    With `region_ids`, only those regions' stores. The rows are as of each month's last `refresh`,
    which the run calls first: a month written since keeps its rows (and loses its marker) until
    the next refresh, so a split run's parts all read the data its refresh packed.
    """
    rows = VisitMonth.objects.filter(month__in=month_starts(first_day, last_day))
    if region_ids is not None:
        rows = rows.filter(store__in=Store.objects.filter(region_id__in=region_ids).values("id"))
    sql, params = rows.values_list("store_id", "blob", "max_total", "month").query.sql_with_params()
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:  # Django's binds client-side: text results only
        # Binary results: bytea as text would be hex, twice the size, to encode and decode.
        cursor.execute(
            f"SELECT store_id, blob, max_total, (month - DATE '1970-01-01') FROM ({sql}) packed", params, binary=True
        )
        return cursor.fetchall()
