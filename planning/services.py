from datetime import date

from django.db import transaction
from django.db.models import Avg, Count, ExpressionWrapper, F, FloatField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from stores.models import StoreVisit

from . import computations
from .models import Target, first_of_month

TARGET_ZONES = ("attack", "defend")
BATCH_SIZE = 2000  # rows per INSERT/UPDATE: ~20 parameters each, far below SQLite's and PostgreSQL's limits
SNAPSHOT_FIELDS = ["zone", "score_as_of", "potential", "wallet_share", "market_share", "generated_own"]


def _latest_scores(as_of: date | None):
    # Planning shows analytics' results; analytics never imports planning's services.
    from analytics.models import StoreScore

    return (
        StoreScore.objects.latest(as_of)
        .filter(zone__in=TARGET_ZONES, potential__isnull=False, wallet_share__isnull=False, store__active=True)
        .values("store_id", "as_of", "zone", "potential", "wallet_share", "market_share")
    )


@transaction.atomic
def generate_targets(*, month: date, as_of: date | None = None) -> dict:
    """Create or refresh the month's targets from the latest scores; edited targets keep their value.

    Returns the counts `created`, `updated`, `deleted` and `kept` (edited rows whose target was not touched).
    """
    month = first_of_month(month)
    existing = {t.store_id: t for t in Target.objects.filter(month=month)}
    created, updated, kept, seen = [], [], 0, set()
    for score in _latest_scores(as_of).iterator(chunk_size=BATCH_SIZE):
        value = computations.target_own(
            zone=score["zone"], potential=score["potential"], wallet_share=score["wallet_share"],
            market_share=score["market_share"],
        )
        if value is None:
            continue
        snapshot = {
            "zone": score["zone"], "score_as_of": score["as_of"], "potential": score["potential"],
            "wallet_share": score["wallet_share"], "market_share": score["market_share"], "generated_own": value,
        }
        seen.add(score["store_id"])
        target = existing.get(score["store_id"])
        if target is None:
            created.append(Target(store_id=score["store_id"], month=month, target_own=value, **snapshot))
            continue
        changed = any(getattr(target, field) != snapshot[field] for field in SNAPSHOT_FIELDS)
        for field, field_value in snapshot.items():
            setattr(target, field, field_value)
        if target.edited:
            kept += 1  # the snapshot shows what the formula says now; the edited value stays
        elif target.target_own != value:
            target.target_own, changed = value, True
        if changed:
            target.updated_at = timezone.now()  # bulk_update skips auto_now
            updated.append(target)
    Target.objects.bulk_create(created, batch_size=BATCH_SIZE)
    Target.objects.bulk_update(updated, SNAPSHOT_FIELDS + ["target_own", "updated_at"], batch_size=BATCH_SIZE)
    # A store that left attack and defend (maintenance: no target) loses its generated target, not an edited one.
    gone = [store_id for store_id, t in existing.items() if store_id not in seen and not t.edited]
    deleted = Target.objects.filter(month=month, store_id__in=gone).delete()[0] if gone else 0
    return {"created": len(created), "updated": len(updated), "deleted": deleted, "kept": kept}


def edit_target(*, target: Target, target_own: float, user) -> Target:
    """Set a target by hand; regeneration will not overwrite it."""
    target.target_own = target_own
    target.edited_by = user
    target.edited_at = timezone.now()
    target.save(update_fields=["target_own", "edited_by", "edited_at", "updated_at"])
    return target


def with_actuals(targets, month: date):
    """Annotate `visit_days` and `actual_own`: mean own units per valid visit day of the month x days in the month.

    The month's valid visits (sales recorded, not an unconfirmed suspect) are a sample of its days; scaling
    their mean to the whole month makes a half-logged month comparable with its target (a projection while
    the month runs). A store without a valid visit that month has no actual (None), not zero.
    """
    month = first_of_month(month)
    visits = (
        StoreVisit.objects.valid()
        .filter(store=OuterRef("store_id"), date__gte=month, date__lt=computations.next_month(month))
        .order_by().values("store")
    )
    days = computations.days_in_month(month)
    return targets.annotate(
        visit_days=Coalesce(Subquery(visits.annotate(n=Count("pk")).values("n")), Value(0)),
        actual_own=ExpressionWrapper(
            Subquery(visits.annotate(mean=Avg("own_sales")).values("mean"), output_field=FloatField()) * Value(days),
            output_field=FloatField(),
        ),
    )


GROUPS = {
    "rep": ("store__rep_id", "store__rep__username"),
    "region": ("store__region_id", "store__region__name"),
    "account": ("store__account_id", "store__account__name"),
}


def summarize_targets(targets, month: date, group: str) -> list[dict]:
    """Target versus actual per rep, region or account, in one aggregated query.

    `target` sums every store's target; `covered_target` only the stores with an actual, which is what
    `actual` is compared with (`attainment`), so stores nobody visited do not count as zero sales.
    """
    key, label = GROUPS[group]
    rows = (
        with_actuals(targets.filter(month=first_of_month(month)), month)
        .order_by().values(key, label)
        .annotate(
            stores=Count("pk"),
            target=Sum("target_own"),
            actual=Sum("actual_own"),
            covered=Count("pk", filter=Q(visit_days__gt=0)),
            covered_target=Sum("target_own", filter=Q(visit_days__gt=0)),
        )
        .order_by(label)
    )
    result = []
    for row in rows:
        covered_target = row["covered_target"] or 0
        result.append({
            "key": row[key], "label": row[label], "stores": row["stores"], "covered": row["covered"],
            "target": row["target"], "actual": row["actual"], "covered_target": covered_target,
            "attainment": row["actual"] / covered_target if row["actual"] is not None and covered_target else None,
        })
    return result

