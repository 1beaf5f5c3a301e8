"""Writes of store visits, shared by the API and the pages.

Validation errors are Django ValidationErrors keyed by field; the API turns them into 400s.
"""
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from kacrm import db, tallies

from .models import Store, StoreVisit, StoreVisitCount
from .signals import visits_saved

VISIT_FIGURES = ["total_sales", "own_sales", "display_ok", "promotion_ok", "staff_ok", "notes"]
# 1000 rows x 13 columns = 13,000 parameters: under SQLite's 32,766 and PostgreSQL's 65,535 limits.
UPSERT_CHUNK = 1000


class StoreKey(NamedTuple):
    """What upsert_visits needs of a store, without loading the model (the bulk API)."""

    pk: int
    rep_id: int | None


def rep_for(*, user, store):
    """The sales manager a visit is credited to: the writer when a rep, else the store's rep."""
    return user if user.is_sales_manager else store.rep


@transaction.atomic
def log_visit(*, user, store, date, **figures) -> StoreVisit:
    """Create the visit of `store` on `date`; a second one for the same day is a validation error."""
    visit = StoreVisit(store=store, date=date, rep=rep_for(user=user, store=store), **figures)
    _validate(visit)
    try:
        with transaction.atomic():
            visit.save()
    except IntegrityError:
        raise ValidationError(
            {"date": [_("A visit for this store on %(date)s already exists; correct it instead.") % {"date": date}]}
        )
    return visit


@transaction.atomic
def correct_visit(*, visit: StoreVisit, **changes) -> StoreVisit:
    """Apply corrections to a visit; a changed total clears an earlier suspect confirmation."""
    if "total_sales" in changes and changes["total_sales"] != visit.total_sales:
        visit.suspect_confirmed = False
        visit.suspect_confirmed_by = None
    for field, value in changes.items():
        setattr(visit, field, value)
    _validate(visit)
    try:
        with transaction.atomic():
            visit.save()
    except IntegrityError:
        raise ValidationError({"date": [_("Another visit of this store already exists on that day.")]})
    return visit


def _validate(visit: StoreVisit) -> None:
    # Field rules and model.clean(); relations were checked by the caller (scoped lookups).
    visit.clean_fields(exclude=["store", "rep", "suspect_confirmed_by"])
    visit.clean()


def _upsert_sql(rows: int) -> str:
    table = StoreVisit._meta.db_table
    columns = ["store_id", "date", "rep_id", *VISIT_FIGURES, "suspect", "suspect_confirmed", "created_at", "updated_at"]
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    changed = " OR ".join(f"{table}.{c} IS DISTINCT FROM excluded.{c}" for c in VISIT_FIGURES)
    updates = ", ".join(f"{c} = excluded.{c}" for c in VISIT_FIGURES)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([placeholders] * rows)} "
        f"ON CONFLICT (store_id, date) DO UPDATE SET {updates}, updated_at = excluded.updated_at, "
        f"suspect_confirmed = CASE WHEN {table}.total_sales = excluded.total_sales "
        f"THEN {table}.suspect_confirmed ELSE FALSE END "
        f"WHERE {changed} "
        f"RETURNING id, created_at = updated_at"
    )


# The audit trail (StoreVisit.audit) of the raw upserts: the rows they inserted or changed, as they
# are now, in one statement per batch, credited to the API user. Unchanged rows are not returned by
# the upsert, so a re-sent batch adds no audit rows either.
BULK_CHANGE_REASON = "bulk upsert"


def _audit_insert_sql(source: str) -> str:
    """INSERT the audit rows of the visit rows in `source` (a table or CTE); params: date, reason, user id."""
    columns = [f.column for f in StoreVisit._meta.concrete_fields]
    return (
        f"INSERT INTO {StoreVisit.audit.model._meta.db_table} "
        f"({', '.join(columns)}, history_date, history_change_reason, history_type, history_user_id) "
        f"SELECT {', '.join(columns)}, %s, %s, CASE WHEN created_at = updated_at THEN '+' ELSE '~' END, %s FROM {source}"
    )


@transaction.atomic
def upsert_visits(*, user, visits: list[dict]) -> tuple[int, int]:
    """Insert or update visits keyed on (store, date) in one statement per chunk; returns (created, updated).

    `visits` are validated dicts with a `store` (a Store or a StoreKey). Unchanged rows are left alone, so
    re-sending a batch reports (0, 0). The unique constraint decides what exists: no lookup per row.
    """
    # Inside the transaction: whatever reacts (alert evaluations) commits or rolls back with the visits.
    visits_saved.send(sender=StoreVisit, store_ids={v["store"].pk for v in visits})
    now = timezone.now()
    if connection.vendor == "postgresql":
        return _upsert_unnest(user=user, visits=visits, now=now)
    created = updated = 0
    with connection.cursor() as cursor:
        for start in range(0, len(visits), UPSERT_CHUNK):
            chunk = visits[start : start + UPSERT_CHUNK]
            params = []
            for v in chunk:
                rep_id = user.pk if user.is_sales_manager else v["store"].rep_id
                params += [
                    v["store"].pk, v["date"], rep_id,
                    v["total_sales"], v["own_sales"], v.get("display_ok"), v.get("promotion_ok"),
                    v.get("staff_ok"), v.get("notes", ""), False, False, now, now,
                ]
            cursor.execute(_upsert_sql(len(chunk)), params)
            rows = cursor.fetchall()
            if rows:
                ids = [pk for pk, _inserted in rows]
                table = StoreVisit._meta.db_table
                cursor.execute(
                    _audit_insert_sql(f"{table} WHERE id IN ({', '.join(['%s'] * len(ids))})"),
                    [now, BULK_CHANGE_REASON, user.pk, *ids],
                )
            for _pk, inserted in rows:
                if inserted:
                    created += 1
                else:
                    updated += 1
    return created, updated


def confirm_suspect(*, visit: StoreVisit, user) -> StoreVisit:
    """Mark a flagged day as a real figure: it counts as valid from the next run on (SPEC §3.2)."""
    if not visit.suspect:
        raise ValidationError({"suspect": [_("This visit is not flagged as a suspect.")]})
    updated = StoreVisit.objects.filter(pk=visit.pk, suspect=True, suspect_confirmed=False).update(
        suspect_confirmed=True, suspect_confirmed_by=user
    )
    if updated:
        visits_saved.send(sender=StoreVisit, store_ids={visit.store_id})
    visit.refresh_from_db()
    if not updated and not visit.suspect_confirmed:
        raise ValidationError({"suspect": [_("This visit is not flagged as a suspect.")]})
    return visit


_UNNEST_TYPES = ["bigint", "date", "bigint", "integer", "integer", "boolean", "boolean", "boolean", "text"]


def _upsert_unnest_sql() -> str:
    table = StoreVisit._meta.db_table
    columns = ["store_id", "date", "rep_id", *VISIT_FIGURES]
    changed = " OR ".join(f"{table}.{c} IS DISTINCT FROM excluded.{c}" for c in VISIT_FIGURES)
    updates = ", ".join(f"{c} = excluded.{c}" for c in VISIT_FIGURES)
    arrays = ", ".join(f"%b::{t}[]" for t in _UNNEST_TYPES)  # %b: psycopg dumps the lists binary, without quoting
    return (
        f"INSERT INTO {table} ({', '.join(columns)}, suspect, suspect_confirmed, created_at, updated_at) "
        f"SELECT u.*, FALSE, FALSE, %s, %s FROM unnest({arrays}) AS u({', '.join(columns)}) "
        f"ON CONFLICT (store_id, date) DO UPDATE SET {updates}, updated_at = excluded.updated_at, "
        f"suspect_confirmed = CASE WHEN {table}.total_sales = excluded.total_sales "
        f"THEN {table}.suspect_confirmed ELSE FALSE END "
        f"WHERE {changed} "
        f"RETURNING *"
    )


def _upsert_unnest_audited_sql() -> str:
    # One statement: the upsert, then its audit rows read from what it returned.
    return (
        f"WITH upserted AS ({_upsert_unnest_sql()}), audited AS ({_audit_insert_sql('upserted')}) "
        f"SELECT created_at = updated_at FROM upserted"
    )


def _upsert_unnest(*, user, visits, now) -> tuple[int, int]:
    # PostgreSQL: one array per column (9 parameters) instead of 13 parameters per row, so psycopg
    # does not quote 13,000 values in Python (30-54 ms a batch) and the statement text is constant.
    columns = [
        [v["store"].pk for v in visits],
        [v["date"] for v in visits],
        [v["store"].rep_id for v in visits] if not user.is_sales_manager else [user.pk] * len(visits),
        *([v.get(f) for v in visits] for f in ["total_sales", "own_sales", "display_ok", "promotion_ok", "staff_ok"]),
        [v.get("notes", "") for v in visits],
    ]
    # Bound server-side: client-side, psycopg quoted the 9,000 values into the text, ~8 ms of a batch's Python.
    with db.server_bound_cursor() as cursor:
        cursor.execute(_upsert_unnest_audited_sql(), [now, now, *columns, now, BULK_CHANGE_REASON, user.pk])
        rows = cursor.fetchall()
    created = sum(1 for (inserted,) in rows if inserted)
    return created, len(rows) - created


# A visit list walks the index of the newest visits (date, then store) and keeps the visible ones. Checking a visit
# against the list of visible store ids costs a fraction of joining its store, which pays when a user sees hundreds
# to thousands of stores (a supervisor's region keeps one visit in 60 at 100,000 stores: 114 -> 40 ms for 1,000).
# With fewer, PostgreSQL reads those stores' visits store by store; with more, few visits are passed over and the
# list itself would cost more than the join.
LISTED_STORE_IDS = (100, 5000)


def listed_visits(user):
    """The visits `user` may see, as the visit lists read them: newest day first, with their store and rep."""
    visits = StoreVisit.objects.visible_to(user)
    if visits.query.has_filters():  # not every store
        fewest, most = LISTED_STORE_IDS
        ids = list(Store.objects.visible_to(user).order_by().values_list("pk", flat=True)[:most + 1])
        if fewest <= len(ids) <= most:
            visits = StoreVisit.objects.filter(store_id__in=ids)
    return visits.select_related("store", "rep")


def count_visits(stores) -> int:
    """How many visits the stores of the queryset `stores` have, summed from their tally (StoreVisitCount)."""
    rows = StoreVisitCount.objects.all()
    if stores.query.has_filters():  # every store (analysts, admins): the whole tally, no join
        rows = rows.filter(store__in=stores.values("pk"))
    return rows.aggregate(n=Sum("visits"))["n"] or 0


def with_counted_visits(visits, stores):
    """`visits` (a queryset of the visits of `stores`, no visit-level filter) with its count known from the tally."""
    visits.known_count = count_visits(stores)
    return visits


def fold_visit_counts() -> int:
    """Fold the visit tally's deltas into one row per store (nightly; kacrm.tallies)."""
    return tallies.fold(StoreVisitCount, keys=["store_id"], sums=["visits"])
