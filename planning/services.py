from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Avg, Count, DateField, ExpressionWrapper, F, FloatField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Cast, Coalesce, TruncWeek
from django.utils import timezone

from kacrm import tallies
from stores.models import Store, StoreVisit

from . import computations
from .models import StoreMonth, Target, VisitPlan, first_of_month

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
    target.save(update_fields=["target_own", *target.mark_edited(user)])
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

    The actuals are those of `with_actuals`, read from the month's store months (the tally of the valid visits)
    joined once to the targets: a per-target subquery over the visits cost 890 ms at 100,000 stores. `* 1.0` keeps
    the mean the same numeric division as AVG(own_sales) on PostgreSQL, and a real one on SQLite.
    """
    key, label = GROUPS[group]
    month = first_of_month(month)
    targets = targets.filter(month=month).order_by()
    rows_sql, rows_params = targets.values(
        "store_id", "target_own", group_key=F(key), group_label=F(label)).query.sql_with_params()
    # Only the stores in scope: a supervisor's few hundred targets then read their months by index.
    months = StoreMonth.objects.filter(month=month, store_id__in=targets.values("store_id"))
    months_sql, months_params = store_months(months).query.sql_with_params()
    with connection.cursor() as cursor:
        # GROUP BY the key alone, its label (a function of it) as max(): hashed into 3,300 reps at 100,000 stores
        # instead of 44,000 rows sorted by name.
        cursor.execute(f"""
            SELECT t.group_key, max(t.group_label) AS label, count(*), sum(t.target_own),
                   sum(m.own * 1.0 / m.days * %s), count(m.store_id),
                   sum(CASE WHEN m.store_id IS NULL THEN NULL ELSE t.target_own END)
            FROM ({rows_sql}) AS t LEFT JOIN ({months_sql}) AS m ON m.store_id = t.store_id
            GROUP BY t.group_key ORDER BY label, t.group_key""",
            (computations.days_in_month(month), *rows_params, *months_params))
        rows = cursor.fetchall()
    result = []
    for group_key, group_label, stores, target, actual, covered, covered_target in rows:
        actual, covered_target = _float(actual), _float(covered_target) or 0
        result.append({
            "key": group_key, "label": group_label, "stores": stores, "covered": covered,
            "target": _float(target), "actual": actual, "covered_target": covered_target,
            "attainment": actual / covered_target if actual is not None and covered_target else None,
        })
    return result


def _float(value) -> float | None:
    return None if value is None else float(value)  # PostgreSQL answers numeric sums as Decimal


# ---- Visit plans ----

def _latest_zones(as_of: date | None = None) -> dict:
    from analytics.models import StoreScore

    return dict(StoreScore.objects.latest(as_of).values_list("store_id", "zone"))


@transaction.atomic
def generate_visit_plans(*, as_of: date | None = None) -> dict:
    """Default every assigned active store's plan from its latest zone; edited weekdays stay, the rep follows the store.

    Returns the counts `created`, `updated`, `deleted` and `kept` (edited plans whose weekdays were not touched).
    """
    zones = _latest_zones(as_of)
    existing = {p.store_id: p for p in VisitPlan.objects.all()}
    created, updated, kept, seen = [], [], 0, set()
    stores = Store.objects.filter(active=True, rep__isnull=False).values_list("pk", "rep_id", "closed_weekdays")
    for store_id, rep_id, closed in stores.iterator(chunk_size=BATCH_SIZE):
        seen.add(store_id)
        zone = zones.get(store_id, "unclassified")
        weekdays = computations.default_weekdays(zone=zone, closed_weekdays=closed, store_id=store_id)
        plan = existing.get(store_id)
        if plan is None:
            created.append(VisitPlan(store_id=store_id, rep_id=rep_id, weekdays=weekdays, zone=zone))
            continue
        before = (plan.rep_id, plan.zone, plan.weekdays)
        plan.rep_id, plan.zone = rep_id, zone
        if plan.edited:
            kept += 1
        else:
            plan.weekdays = weekdays
        if (plan.rep_id, plan.zone, plan.weekdays) != before:
            plan.updated_at = timezone.now()  # bulk_update skips auto_now
            updated.append(plan)
    VisitPlan.objects.bulk_create(created, batch_size=BATCH_SIZE)
    VisitPlan.objects.bulk_update(updated, ["rep", "zone", "weekdays", "updated_at"], batch_size=BATCH_SIZE)
    # Unassigned or inactive stores lose their generated plan; an edited one waits for the store to come back.
    gone = [store_id for store_id, p in existing.items() if store_id not in seen and not p.edited]
    deleted = VisitPlan.objects.filter(store_id__in=gone).delete()[0] if gone else 0
    return {"created": len(created), "updated": len(updated), "deleted": deleted, "kept": kept}


def edit_visit_plan(*, plan: VisitPlan, weekdays: list[int], user) -> VisitPlan:
    """Set a plan's weekdays by hand; regeneration will not overwrite them."""
    plan.weekdays = sorted(set(weekdays))
    plan.save(update_fields=["weekdays", *plan.mark_edited(user)])
    return plan


def weekly_compliance(*, plans, weeks: list[date], today: date) -> dict:
    """{(rep_id, week): (planned, logged)} for the current plans in `plans` over `weeks` (Mondays), up to `today`.

    Two queries: the plans, and the visits per store and week (TruncWeek: weeks start on Monday). Visits count
    whoever logged them (a rep, a supervisor standing in, or a system through the bulk API).
    """
    rows = list(plans.current().values_list("store_id", "rep_id", "weekdays", "store__closed_weekdays"))
    if not rows or not weeks:
        return {}
    first, last = min(weeks), min(max(weeks) + timedelta(days=6), today)
    counts = (
        StoreVisit.objects.filter(store__in=plans.current().values("store_id"), date__gte=first, date__lte=last)
        .annotate(week=Cast(TruncWeek("date"), DateField())).order_by().values_list("store_id", "week")
        .annotate(n=Count("*"))  # COUNT(*): an index-only scan of (store, date), no visit row read
    )
    visits = {(store_id, _as_date(week)): n for store_id, week, n in counts}
    return computations.weekly_compliance(rows, visits, weeks, today)


def _as_date(value):
    return value.date() if isinstance(value, datetime) else value


def todays_store_ids(*, rep, today: date) -> list[int]:
    """The rep's stores planned for `today`'s weekday, open that day."""
    weekday = today.weekday()
    plans = VisitPlan.objects.current().filter(rep=rep).values_list("store_id", "weekdays", "store__closed_weekdays")
    return [store_id for store_id, weekdays, closed in plans if weekday in weekdays and weekday not in (closed or [])]


def latest_headroom(store_ids) -> dict:
    """{store_id: (zone, P, O, P - O)} from the latest scores; P - O is None when P is unknown."""
    from analytics.models import StoreScore

    rows = StoreScore.objects.latest().filter(store_id__in=store_ids).values_list("store_id", "zone", "potential", "own_annual")
    return {
        store_id: (zone, potential, own, None if potential is None else potential - own)
        for store_id, zone, potential, own in rows
    }


# ---- Teams and coverage ----

class Mismatch:
    ATTACK_FARMER = "attack_farmer"
    DEFEND_HUNTER = "defend_hunter"
    UNASSIGNED = "unassigned"


WANTED_TEAM = {"attack": "hunters", "defend": "farmers"}


def coverage_mismatches(user):
    """Latest scores of the active stores `user` sees, covered by the wrong team (SPEC §6): an attack store whose rep
    is a farmer, a defend store whose rep is a hunter, a key-potential store without a rep. Largest potential first.

    Scoped by the scores' own policy (their store's scope, on the store already joined): `store__in=<visible
    stores>` added a semi-join over every store to the page's count of ~22,000 rows at 100,000 stores."""
    from analytics.models import StoreScore

    wrong = (
        Q(zone="attack", store__rep__team__kind="farmers")
        | Q(zone="defend", store__rep__team__kind="hunters")
        | Q(key_potential=True, store__rep__isnull=True)
    )
    return (
        # zone attack or defend is key potential (SPEC §3.7): said twice, so the (as_of, zone) index skips the rest
        StoreScore.objects.visible_to(user).latest().filter(wrong, zone__in=list(WANTED_TEAM), store__active=True)
        .select_related("store", "store__region", "store__rep", "store__rep__team")
        # NULLS LAST as in the (as_of, potential) index, which then gives a page in 5 ms instead of sorting every
        # mismatch (28 ms at 100,000 stores); attack and defend stores always have a potential (SPEC §3.7).
        .order_by(F("potential").desc(nulls_last=True), "store__code")
    )


def mismatch_kind(score) -> str:
    if score.store.rep_id is None:
        return Mismatch.UNASSIGNED
    return Mismatch.ATTACK_FARMER if score.zone == "attack" else Mismatch.DEFEND_HUNTER


def reassignment_candidates(wanted) -> dict:
    """{(region_id, team kind): [reps, fewest active stores first]} for the active reps of the (region, kind) pairs in
    `wanted`, one query; each rep a dict of `username`, `name`, `team` (its name) and `store_count`."""
    from org.models import Role, User

    # A count per rep through the store's rep index: a join and GROUP BY over every store of the regions cost
    # 2.5 times as much at 100,000 stores.
    active_stores = (
        Store.objects.filter(rep=OuterRef("pk"), active=True).order_by().values("rep").annotate(n=Count("pk")).values("n")
    )
    # Only the team wanted in each region, as rows: model instances of both teams' reps cost 40 ms at 100,000 stores.
    pairs = Q(pk__in=[])
    for region_id, kind in wanted:
        pairs |= Q(region_id=region_id, team__kind=kind)
    reps = (
        User.objects.filter(pairs, role=Role.SALES_MANAGER, is_active=True, team__isnull=False)
        .annotate(store_count=Coalesce(Subquery(active_stores), Value(0)))
        .order_by("store_count", "username")
        .values_list("region_id", "team__kind", "username", "first_name", "last_name", "team__name", "store_count")
    )
    result = {}
    for region_id, kind, username, first, last, team, store_count in reps:
        result.setdefault((region_id, kind), []).append({
            "username": username, "name": f"{first} {last}".strip() or username, "team": team, "store_count": store_count,
        })
    return result


@transaction.atomic
def reassign_store(*, store: Store, rep) -> Store:
    """Give `store` to `rep`; its visit plan follows (a default plan when it had none)."""
    store.rep = rep
    store.save(update_fields=["rep"])
    updated = VisitPlan.objects.filter(store=store).update(rep=rep, updated_at=timezone.now())
    if not updated:
        zone = _latest_zones().get(store.pk, "unclassified")
        weekdays = computations.default_weekdays(zone=zone, closed_weekdays=store.closed_weekdays, store_id=store.pk)
        VisitPlan.objects.create(store=store, rep=rep, weekdays=weekdays, zone=zone)
    return store


# ---- Nightly ----

class ScoresBusy(Exception):
    """An analytics run is computing; plans wait for its scores."""


def regenerate_plans(*, today: date | None = None) -> dict:
    """Next month's targets and every store's visit-plan defaults from the latest scores; edits stay as they are.

    The running month keeps the targets it started with; it only gets some when it has none at all.
    """
    from analytics.models import AnalyticsRun

    if AnalyticsRun.objects.filter(status=AnalyticsRun.Status.RUNNING).exists():
        raise ScoresBusy
    today = today or timezone.localdate()
    this_month, month = first_of_month(today), computations.next_month(today)
    if not Target.objects.filter(month=this_month).exists():  # a first run: this month too, never reshuffled later
        generate_targets(month=this_month)
    return {"month": month.isoformat(), "targets": generate_targets(month=month), "visit_plans": generate_visit_plans()}


# ---- Account plans ----

ROLLING_MONTHS = 3


def account_actuals(*, account, year: int) -> dict:
    """{month number: our units} of `account` in `year`, each store's month as for targets (mean own per valid
    visit day x days in the month), summed over its stores. One aggregated query over the store months (about 12
    rows per store, kept by the database from the visits: StoreMonth), whatever the number of visits."""
    # The account's stores as a semi-join, and the units summed as floats: 85 -> 55 ms for 4,200 stores (49,000 store
    # months) at 100,000 stores.
    stores = Store.objects.filter(account=account).values("pk")
    months = store_months(StoreMonth.objects.filter(store__in=stores, month__year=year), float_own=True)
    sql, params = months.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT month, sum(CAST(own AS DOUBLE PRECISION) / days) FROM ({sql}) AS m GROUP BY month", params
        )
        rows = cursor.fetchall()
    return {_as_date(month).month: float(means) * computations.days_in_month(_as_date(month)) for month, means in rows}


def store_months(rows, *, float_own: bool = False):
    """The tally's (store, month) rows summed (kacrm.tallies: PostgreSQL keeps deltas): `store_id`, `month`, `days`
    (valid days) and `own` (their own units), months with at least one valid day. `float_own` sums the units as
    double precision: exact below 2**53 units, and a third cheaper than PostgreSQL's numeric sum of a bigint."""
    own = Sum(Cast("own_sales", FloatField())) if float_own else Sum("own_sales")
    return rows.order_by().values("store_id", "month").annotate(days=Sum("valid_days"), own=own).filter(days__gt=0)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])  # SQLite answers text


def fold_store_months() -> int:
    """Fold the store months' deltas into one row per store and month (nightly; kacrm.tallies)."""
    return tallies.fold(StoreMonth, keys=["store_id", "month"], sums=["valid_days", "own_sales"])


def forecast_vs_actual(plan) -> list[dict]:
    """Twelve rows (`month`, `forecast`, `actual`, `gap` = actual - forecast) for the plan's year."""
    forecast = {f.month: f.own_units for f in plan.forecast.all()}
    actuals = account_actuals(account=plan.account, year=plan.year)
    rows = []
    for month in range(1, 13):
        f, a = forecast.get(month), actuals.get(month)
        rows.append({"month": date(plan.year, month, 1), "forecast": f, "actual": a,
                     "gap": a - f if a is not None and f is not None else None})
    return rows


def rolling_plan(*, account, today: date) -> list[dict]:
    """This month and the next two: the account's objectives and open actions due, and its reviews, per month."""
    from .models import BusinessReview, PlanAction, PlanObjective

    start = first_of_month(today)
    months = [start]
    for _ in range(ROLLING_MONTHS - 1):
        months.append(computations.next_month(months[-1]))
    end = computations.next_month(months[-1])
    window = {"plan__account": account}
    objectives = PlanObjective.objects.filter(**window, due__gte=start, due__lt=end)
    actions = PlanAction.objects.filter(**window, due__gte=start, due__lt=end).exclude(
        status__in=[PlanAction.Status.DONE, PlanAction.Status.CANCELLED]).select_related("owner")
    reviews = BusinessReview.objects.filter(**window, date__gte=start, date__lt=end)
    result = [{"month": m, "objectives": [], "actions": [], "reviews": []} for m in months]
    index = {m: row for m, row in zip(months, result)}
    for key, items, field in [("objectives", objectives, "due"), ("actions", actions, "due"), ("reviews", reviews, "date")]:
        for item in items:
            index[first_of_month(getattr(item, field))][key].append(item)
    return result


@transaction.atomic
def set_forecast(*, plan, values: dict, user) -> None:
    """Replace the plan's monthly forecast with `values` ({month number: units}); None removes a month."""
    from .models import ForecastMonth

    plan.forecast.all().delete()
    ForecastMonth.objects.bulk_create(
        [ForecastMonth(plan=plan, month=m, own_units=v) for m, v in sorted(values.items()) if v is not None]
    )
    touch_plan(plan=plan, user=user)


def touch_plan(*, plan, user) -> None:
    plan.updated_by = user
    plan.save(update_fields=["updated_by", "updated_at"])


NESTED = ("objectives", "actions", "reviews")


@transaction.atomic
def save_account_plan(*, plan, data: dict, user):
    """Save a plan's own fields and replace each nested list given (`objectives`, `actions`, `reviews`, `forecast`)."""
    from .models import BusinessReview, PlanAction, PlanObjective

    nested = {key: data.pop(key) for key in (*NESTED, "forecast") if key in data}
    for field, value in data.items():
        setattr(plan, field, value)
    plan.updated_by = user
    plan.save()
    for key, model in zip(NESTED, (PlanObjective, PlanAction, BusinessReview)):
        if key in nested:
            getattr(plan, key).all().delete()
            model.objects.bulk_create([model(plan=plan, **item) for item in nested[key]])
    if "forecast" in nested:
        set_forecast(plan=plan, values={f["month"]: f["own_units"] for f in nested["forecast"]}, user=user)
    return plan


@transaction.atomic
def save_plan_form(*, plan, which: str, form, user) -> None:
    """Apply one of the plan page's forms: the summary, a new objective or action, a review (upsert by quarter),
    or the forecast."""
    from .models import BusinessReview

    if which == "summary":
        plan.summary = form.cleaned_data["summary"]
        plan.save(update_fields=["summary"])
    elif which in ("objective", "action"):
        item = form.save(commit=False)
        item.plan = plan
        item.save()
    elif which == "review":
        data = form.cleaned_data
        BusinessReview.objects.update_or_create(plan=plan, quarter=data["quarter"], defaults={
            "date": data["date"], "held": data["held"], "summary": data["summary"]})
    elif which == "forecast":
        set_forecast(plan=plan, values=form.values(), user=user)
    touch_plan(plan=plan, user=user)
