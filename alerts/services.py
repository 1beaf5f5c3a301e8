"""Alerts of SPEC §5: load window sums with aggregated queries -> decide in pandas -> apply, notify."""
import dataclasses
import logging
from datetime import date, timedelta
from functools import partial

import pandas as pd
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Max, Q, Sum
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from rest_framework.exceptions import ValidationError

from analytics.models import AnalyticsSettings, StoreScore
from org.models import Region
from stores.models import MarketShare, StoreVisit

from . import fsi
from .models import Alert, FollowUp, Notification, PendingEvaluation

log = logging.getLogger(__name__)

STORE_BATCH = 2000  # store ids per IN (...): far under SQLite's 32,766 parameters, one plan on PostgreSQL
DELETE_BATCH = 400  # (store, requested_at) pairs per DELETE, two parameters each
SAVE_BATCH = 1000
TREND_DAYS = 90


@dataclasses.dataclass
class Outcome:
    """What an evaluation did: stores evaluated, alerts opened and recovered (ids), readings updated."""

    evaluated: int = 0
    opened: list = dataclasses.field(default_factory=list)
    recovered: list = dataclasses.field(default_factory=list)
    updated: int = 0

    def add(self, other: "Outcome") -> "Outcome":
        self.evaluated += other.evaluated
        self.opened += other.opened
        self.recovered += other.recovered
        self.updated += other.updated
        return self


@dataclasses.dataclass(frozen=True)
class Reading:
    """CS, MS and FSI of one store at `t` (SPEC §5); `sufficient` with enough valid days and a known MS."""

    t: date | None
    store_share: float | None
    market_share: float | None
    market_share_source: str | None
    fsi: float | None
    valid_days: int
    min_days: int
    window_days: int
    sufficient: bool


def _batches(ids, size=STORE_BATCH):
    ids = list(ids)
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _none_if_nan(value):
    return None if value is None or pd.isna(value) else float(value)


# --- requesting an evaluation (inside the visit's transaction) -------------------------------


def request_evaluation(*, store_ids) -> None:
    """Record a pending evaluation per store in the caller's transaction; publish the task once it commits.

    The rows are the durable part: if the broker is down the publish fails quietly and the periodic
    sweep (or the nightly run) evaluates them later.
    """
    ids = sorted({int(i) for i in store_ids})
    if not ids:
        return
    now = timezone.now()
    PendingEvaluation.objects.bulk_create(
        [PendingEvaluation(store_id=i, requested_at=now) for i in ids],
        update_conflicts=True, unique_fields=["store"], update_fields=["requested_at"], batch_size=STORE_BATCH,
    )
    transaction.on_commit(partial(publish_evaluation, ids))


def publish_evaluation(store_ids) -> bool:
    """Hand the stores to a worker; never raises, so a broker outage cannot fail the request that saved visits."""
    from .tasks import evaluate_pending_task

    try:
        # No retries: an unreachable broker fails at once instead of holding the request.
        evaluate_pending_task.apply_async(kwargs={"store_ids": list(store_ids)}, retry=False)
    except Exception as exc:  # kombu OperationalError, redis ConnectionError, OSError, ...
        log.warning("Alert evaluation of %d store(s) not queued (%r); the sweep will run it.", len(store_ids), exc)
        return False
    return True


# --- loading ---------------------------------------------------------------------------------


def _window_filters(t: date, params):
    w, back = params.alert_window_days, params.alert_lookback_days
    now = Q(date__gt=t - timedelta(days=w))
    prev = Q(date__lte=t - timedelta(days=back))
    span = Q(date__gt=t - timedelta(days=back + w), date__lte=t)
    aggregates = {
        "own_now": Sum("own_sales", filter=now), "total_now": Sum("total_sales", filter=now),
        "days_now": Count("id", filter=now),
        "own_prev": Sum("own_sales", filter=prev), "total_prev": Sum("total_sales", filter=prev),
        "days_prev": Count("id", filter=prev),
    }
    return span, aggregates


def _sums_frame(rows, key: str) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(list(rows))
    if frame.empty:
        frame = pd.DataFrame(columns=[key, *fsi.SUMS])
    frame[fsi.SUMS] = frame[fsi.SUMS].fillna(0).astype("int64")
    return frame.set_index(key)


def load_store_sums(t: date, params, store_ids=None) -> pd.DataFrame:
    """Both windows of every store (active ones when `store_ids` is None), one grouped query per batch."""
    span, aggregates = _window_filters(t, params)
    visits = StoreVisit.objects.valid().filter(span)
    groups = [visits.filter(store__active=True)] if store_ids is None else [
        visits.filter(store_id__in=batch) for batch in _batches(store_ids)
    ]
    rows = []
    for group in groups:
        rows += group.values("store_id", "store__region_id", "store__region__country").annotate(**aggregates).order_by()
    frame = _sums_frame(rows, "store_id").rename(columns={"store__region_id": "region_id", "store__region__country": "country"})
    if frame.empty:
        frame["region_id"], frame["country"] = pd.Series(dtype="int64"), pd.Series(dtype=object)
    return frame


def load_panel_sums(t: date, params, countries) -> pd.DataFrame:
    """Both windows per country over every store of the country: the panel fallback of MS."""
    if not countries:
        return _sums_frame([], "country")
    span, aggregates = _window_filters(t, params)
    rows = (
        StoreVisit.objects.valid().filter(span, store__region__country__in=sorted(countries))
        .values(country=F("store__region__country")).annotate(**aggregates).order_by()
    )
    return _sums_frame(rows, "country")


def load_market_shares(*days) -> pd.DataFrame:
    """The share rows valid on any of `days`."""
    valid = Q()
    for day in days:
        valid |= Q(period_start__lte=day, period_end__gte=day)
    rows = MarketShare.objects.filter(valid).values("id", "country", "region_id", "period_start", "period_end", "share")
    return pd.DataFrame.from_records(
        list(rows), columns=["id", "country", "region_id", "period_start", "period_end", "share"]
    )


def compute_readings(t: date, params, store_ids=None) -> pd.DataFrame:
    """CS, MS and FSI at `t` and `t - L` per store, from at most three aggregated queries."""
    back = t - timedelta(days=params.alert_lookback_days)
    sums = load_store_sums(t, params, store_ids)
    if sums.empty:
        return sums
    shares = load_market_shares(t, back)
    shares_now, shares_prev = fsi.shares_on(shares, t), fsi.shares_on(shares, back)
    panel = load_panel_sums(t, params, fsi.needs_panel(sums, shares_now, shares_prev))
    return fsi.readings(sums, panel, shares_now, shares_prev, params.alert_min_days)


STATE_FIELDS = ["latest_on", "fsi_latest", "store_share", "market_share", "market_share_source", "valid_days"]


def load_state(t: date, params, store_ids=None) -> pd.DataFrame:
    """Per store: its active alert and latest reading, the cool-down and the history guard of `fsi.decide`."""
    scope = Q() if store_ids is None else Q(store_id__in=list(store_ids))
    active = list(Alert.objects.active().filter(scope).values("id", "store_id", "opened_on", *STATE_FIELDS))
    # The cool-down: a check in (t - 14, t], or after t (then t is a day before the check).
    cooling = FollowUp.objects.filter(
        scope, date__gt=t - timedelta(days=params.alert_cooldown_days)
    ).values_list("store_id", flat=True).distinct()
    # Never behind the store's history: an alert opened on or after t, or recovered after t.
    blocked = Alert.objects.filter(scope).filter(
        Q(opened_on__gte=t) | Q(status=Alert.Status.RECOVERED, closed_on__gt=t)
    ).values_list("store_id", flat=True).distinct()
    state = pd.DataFrame.from_records(active, columns=["id", "store_id", "opened_on", *STATE_FIELDS])
    state = state.rename(columns={"id": "alert_id"}).set_index("store_id")
    flags = pd.DataFrame(index=pd.Index(sorted(set(cooling) | set(blocked) | set(state.index)), name="store_id"))
    flags["cooldown"] = flags.index.isin(list(cooling))
    flags["blocked"] = flags.index.isin(list(blocked))
    return flags.join(state, how="left")


# --- evaluating --------------------------------------------------------------------------------


def evaluate_stores(*, t: date, store_ids=None, params=None) -> Outcome:
    """Evaluate SPEC §5 at `t` for the stores (every active one when None): open, recover, update readings.

    Set-based: a fixed number of aggregated queries whatever the number of stores (per batch of
    2000 when `store_ids` are given), then batched writes. Running it twice changes nothing the second time.
    """
    params = params or AnalyticsSettings.current()
    batches = [None] if store_ids is None else list(_batches(sorted(set(store_ids))))
    outcome = Outcome()
    for batch in batches:
        frame = compute_readings(t, params, batch)
        if frame.empty:
            continue
        state = load_state(t, params, batch)
        decided = fsi.decide(
            frame, state, t, open_below=params.alert_open_fsi, recover_at=params.alert_recover_fsi,
        )
        outcome.add(_apply(decided, t))
        outcome.evaluated += len(frame)
    return outcome


def _latest(row) -> dict:
    return {
        "latest_on": row.t, "fsi_latest": float(row.fsi_now), "store_share": float(row.cs_now),
        "market_share": float(row.ms_now), "market_share_source": row.source_now, "valid_days": int(row.days_now),
    }


def _changed(row, values) -> bool:
    return any(getattr(row, field) != value for field, value in values.items())


@transaction.atomic
def _apply(decided: pd.DataFrame, t: date) -> Outcome:
    outcome = Outcome()
    decided = decided.assign(t=t)
    opening = [
        Alert(store_id=row.Index, opened_on=t, fsi_at_open=float(row.fsi_now), fsi_week_before=float(row.fsi_prev), **_latest(row))
        for row in decided[decided["action"] == "open"].itertuples()
    ]
    outcome.opened = [alert.pk for alert in _insert_alerts(opening)]
    recovering = {int(row.alert_id): _latest(row) for row in decided[decided["action"] == "recover"].itertuples()}
    outcome.recovered = sorted(_write_readings(recovering, recover_on=t))
    changed = {
        int(row.alert_id): values
        for row in decided[decided["action"] == "update"].itertuples()
        if _changed(row, values := _latest(row))
    }
    outcome.updated = len(_write_readings(changed))
    if outcome.opened:
        notify_opened(alert_ids=outcome.opened)
    return outcome


def _write_readings(readings: dict, *, recover_on: date | None = None) -> list:
    """Store the latest reading of active alerts ({id: values}); with `recover_on`, recover them too.

    Only alerts still open or acknowledged are written (a supervisor may have resolved one meanwhile);
    returns their ids. PostgreSQL: one UPDATE ... FROM unnest(...) whatever the number of alerts,
    where Django's bulk_update builds a CASE per row (16 s for 10,000 alerts).
    """
    if not readings:
        return []
    now = timezone.now()
    closing = {"status": Alert.Status.RECOVERED, "closed_on": recover_on} if recover_on else {}
    if connection.vendor != "postgresql":
        return [
            pk for pk, values in readings.items()
            if Alert.objects.filter(pk=pk, status__in=Alert.ACTIVE).update(updated_at=now, **closing, **values)
        ]
    table = Alert._meta.db_table
    columns = [("id", "bigint"), ("latest_on", "date"), ("fsi_latest", "float8"), ("store_share", "float8"),
               ("market_share", "float8"), ("market_share_source", "text"), ("valid_days", "integer")]
    sets = ", ".join(f"{name} = u.{name}" for name, _type in columns[1:])
    if closing:
        sets += ", status = %s, closed_on = %s"
    sql = (
        f"UPDATE {table} AS a SET {sets}, updated_at = %s "
        f"FROM unnest({', '.join(f'%s::{kind}[]' for _name, kind in columns)}) AS u({', '.join(n for n, _k in columns)}) "
        f"WHERE a.id = u.id AND a.status = ANY(%s) RETURNING a.id"
    )
    arrays = [list(readings)] + [[values[name] for values in readings.values()] for name, _kind in columns[1:]]
    params = [*closing.values(), now, *arrays, [str(status) for status in Alert.ACTIVE]]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [pk for (pk,) in cursor.fetchall()]


def _insert_alerts(alerts: list) -> list:
    """Insert new alerts in batches; if another worker opened one of them meanwhile, one by one, skipping it."""
    if not alerts:
        return []
    try:
        with transaction.atomic():
            return Alert.objects.bulk_create(alerts, batch_size=SAVE_BATCH)
    except IntegrityError:
        pass
    inserted = []
    for alert in alerts:
        alert.pk = None
        try:
            with transaction.atomic():
                alert.save(force_insert=True)
        except IntegrityError:  # the store got its active alert a moment ago
            continue
        inserted.append(alert)
    return inserted


def latest_visit_days(store_ids) -> dict:
    """store_id -> date of its latest visit (the `t` of an evaluation after visits are saved)."""
    days = {}
    for batch in _batches(store_ids):
        days.update(StoreVisit.objects.filter(store_id__in=batch).values("store_id").annotate(t=Max("date")).values_list("store_id", "t"))
    return days


def evaluate_pending(*, store_ids=None) -> Outcome:
    """Evaluate the pending stores (of `store_ids`, or all) at their latest visit date and clear their rows.

    A row is deleted only if nobody requested the store again meanwhile (same `requested_at`), so a
    visit saved during the evaluation is evaluated by its own task or the next sweep.
    """
    outcome = Outcome()
    params = AnalyticsSettings.current()
    pending = PendingEvaluation.objects.order_by("store_id")
    if store_ids is not None:
        pending = pending.filter(store_id__in=sorted(set(store_ids)))
    after = 0
    while True:
        rows = list(pending.filter(store_id__gt=after).values_list("store_id", "requested_at")[:STORE_BATCH])
        if not rows:
            return outcome
        after = rows[-1][0]
        by_day = {}
        for store_id, day in latest_visit_days([r[0] for r in rows]).items():
            by_day.setdefault(day, []).append(store_id)
        with transaction.atomic():
            for day, ids in sorted(by_day.items()):
                outcome.add(evaluate_stores(t=day, store_ids=ids, params=params))
            for chunk in _batches(rows, DELETE_BATCH):
                handled = Q()
                for store_id, requested_at in chunk:
                    handled |= Q(store_id=store_id, requested_at=requested_at)
                PendingEvaluation.objects.filter(handled).delete()


def evaluate_nightly(*, as_of: date) -> Outcome | None:
    """The nightly part of SPEC §5: every active store at `as_of`, then any pending leftovers.

    None (nothing done) when a later analytics day exists: re-scoring the past must not raise alerts.
    """
    if StoreScore.objects.filter(as_of__gt=as_of).exists():
        return None
    outcome = evaluate_stores(t=as_of)
    return outcome.add(evaluate_pending())


def store_reading(*, store, t: date | None = None) -> Reading:
    """The store's CS, MS and FSI at `t` (default: its latest visit day), as the rep sees it after a visit."""
    params = AnalyticsSettings.current()
    if t is None:
        t = store.visits.aggregate(t=Max("date"))["t"]
    if t is None:
        return Reading(None, None, None, None, None, 0, params.alert_min_days, params.alert_window_days, False)
    frame = compute_readings(t, params, [store.pk])
    if store.pk not in frame.index:
        return Reading(t, None, None, None, None, 0, params.alert_min_days, params.alert_window_days, False)
    row = frame.loc[store.pk]
    return Reading(
        t=t, store_share=_none_if_nan(row["cs_now"]), market_share=_none_if_nan(row["ms_now"]),
        market_share_source=row["source_now"], fsi=_none_if_nan(row["fsi_now"]), valid_days=int(row["days_now"]),
        min_days=params.alert_min_days, window_days=params.alert_window_days, sufficient=bool(row["ok_now"]),
    )


def describe_reading(reading: Reading) -> str:
    """One sentence for the rep after a visit: the store's current FSI, or why there is none yet."""
    if reading.sufficient:
        return _(
            "Share over the %(days)s days to %(date)s: %(cs).1f%% against a market share of %(ms).1f%%, FSI %(fsi).0f (100 = parity)."
        ) % {
            "days": reading.window_days, "date": reading.t.isoformat(), "cs": 100 * reading.store_share,
            "ms": 100 * reading.market_share, "fsi": reading.fsi,
        }
    if reading.valid_days < reading.min_days:
        return ngettext(
            "No FSI yet: %(n)s valid day in the last %(days)s, %(min)s needed.",
            "No FSI yet: %(n)s valid days in the last %(days)s, %(min)s needed.",
            reading.valid_days,
        ) % {
            "n": reading.valid_days, "days": reading.window_days, "min": reading.min_days,
        }
    return _("No FSI: there is no market share to compare with.")


def alert_trend(*, alert: Alert, end: date, days: int = TREND_DAYS) -> pd.DataFrame:
    """Daily CS(t), MS(t) and FSI(t) of the alert's store over the `days` days to `end`, in three queries at most."""
    params = AnalyticsSettings.current()
    store = alert.store
    start = end - timedelta(days=days - 1)
    first = start - timedelta(days=params.alert_window_days - 1)
    span = Q(date__gte=first, date__lte=end)
    visits = pd.DataFrame.from_records(
        list(StoreVisit.objects.valid().filter(span, store=store).values("date", "own_sales", "total_sales")),
        columns=["date", "own_sales", "total_sales"],
    )
    shares = pd.DataFrame.from_records(
        list(MarketShare.objects.filter(period_start__lte=end, period_end__gte=start).filter(
            Q(region_id=store.region_id) | Q(region__isnull=True, country=store.region.country)
        ).values("id", "country", "region_id", "period_start", "period_end", "share")),
        columns=["id", "country", "region_id", "period_start", "period_end", "share"],
    )
    covered = all(
        store.region_id in by_region or store.region.country in by_country
        for by_region, by_country in (fsi.shares_on(shares, start + timedelta(days=i)) for i in range(days))
    )
    panel = pd.DataFrame(columns=["date", "own_sales", "total_sales"])
    if not covered:
        panel = pd.DataFrame.from_records(
            list(
                StoreVisit.objects.valid().filter(span, store__region__country=store.region.country)
                .values("date").annotate(own_sales=Sum("own_sales"), total_sales=Sum("total_sales")).order_by()
            ),
            columns=["date", "own_sales", "total_sales"],
        )
    return fsi.daily_series(
        visits, panel, shares, region_id=store.region_id, country=store.region.country, start=start, end=end,
        window=params.alert_window_days, min_days=params.alert_min_days,
    )


# --- notifying ---------------------------------------------------------------------------------


def _supervisor_links(region_ids):
    return Region.supervisors.through.objects.filter(region_id__in=set(region_ids), user__is_active=True)


def notify_opened(*, alert_ids) -> None:
    """In-app notifications now, in the caller's transaction; emails once it commits."""
    regions = dict(Alert.objects.filter(pk__in=alert_ids).values_list("pk", "store__region_id"))
    links = list(_supervisor_links(regions.values()).values_list("region_id", "user_id"))
    Notification.objects.bulk_create(
        [Notification(user_id=user_id, alert_id=alert_id) for alert_id, region_id in regions.items()
         for link_region, user_id in links if link_region == region_id],
        batch_size=SAVE_BATCH,
    )
    transaction.on_commit(partial(send_alert_emails, alert_ids=list(alert_ids)))


def alert_url(alert: Alert) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("alert-detail", args=[alert.pk])


def _email_row(alert: Alert) -> dict:
    return {
        "alert": alert, "store": alert.store, "url": alert_url(alert),
        "store_share_pct": 100 * alert.store_share, "market_share_pct": 100 * alert.market_share,
    }


def alert_email(alerts: list, recipient, params=None) -> EmailMultiAlternatives:
    """The opening email to one supervisor: plain text with an HTML alternative.

    One alert gets its own email; the alerts one evaluation opens together (the nightly run) go to
    each supervisor as one digest, worst FSI first, instead of a burst of emails at 02:30.
    """
    params = params or AnalyticsSettings.current()
    rows = [_email_row(alert) for alert in sorted(alerts, key=lambda a: (a.fsi_at_open, a.store.code))]
    context = {"recipient": recipient, "rows": rows, "count": len(rows), "window_days": params.alert_window_days,
               "inbox_url": settings.SITE_URL.rstrip("/") + reverse("alert-inbox"), **rows[0]}
    name = "alert_opened" if len(rows) == 1 else "alert_digest"
    subject = " ".join(render_to_string(f"alerts/email/{name}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject, body=render_to_string(f"alerts/email/{name}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL, to=[recipient.email],
    )
    message.attach_alternative(render_to_string(f"alerts/email/{name}.html", context), "text/html")
    return message


def send_alert_emails(*, alert_ids) -> int:
    """Email every active supervisor of the alerts' regions; a mail failure is logged, never raised."""
    alerts = list(Alert.objects.filter(pk__in=alert_ids).select_related("store__region", "store__rep"))
    links = list(_supervisor_links(a.store.region_id for a in alerts).exclude(user__email="").select_related("user"))
    params = AnalyticsSettings.current()
    recipients, theirs = {}, {}
    for link in links:
        recipients[link.user_id] = link.user
        theirs.setdefault(link.user_id, []).extend(a for a in alerts if a.store.region_id == link.region_id)
    messages = [alert_email(theirs[user_id], user, params) for user_id, user in sorted(recipients.items())]
    if not messages:
        return 0
    try:
        return get_connection().send_messages(messages) or 0
    except Exception:
        log.exception("Alert emails for %s not sent.", alert_ids)
        return 0


# --- the lifecycle -------------------------------------------------------------------------------


def _refuse_closed(alert: Alert) -> None:
    if not alert.is_active:
        raise ValidationError({"status": [_("This alert is %(status)s; it cannot change any more.") % {"status": alert.get_status_display().lower()}]})


@transaction.atomic
def acknowledge_alert(*, alert: Alert, user) -> Alert:
    """Open -> acknowledged; acknowledging again changes nothing; a closed alert is refused."""
    _refuse_closed(alert)
    Alert.objects.filter(pk=alert.pk, status=Alert.Status.OPEN).update(
        status=Alert.Status.ACKNOWLEDGED, acknowledged_at=timezone.now(), acknowledged_by=user, updated_at=timezone.now(),
    )
    alert.refresh_from_db()
    return alert


@transaction.atomic
def record_follow_up(*, alert: Alert, user, date: date, display_ok=None, promotion_ok=None, staff_ok=None,
                     actions: str = "", notes: str = "") -> FollowUp:
    """The supervisor's check at the store; it acknowledges an open alert (someone is on it)."""
    _refuse_closed(alert)
    errors = {}
    if date > timezone.localdate():
        errors["date"] = [_("The date cannot be in the future.")]
    elif date < alert.opened_on:
        errors["date"] = [_("The check cannot be before the alert opened (%(day)s).") % {"day": alert.opened_on.isoformat()}]
    if errors:
        raise ValidationError(errors)
    follow_up = FollowUp.objects.create(
        alert=alert, store_id=alert.store_id, date=date, display_ok=display_ok, promotion_ok=promotion_ok,
        staff_ok=staff_ok, actions=actions, notes=notes, recorded_by=user,
    )
    acknowledge_alert(alert=alert, user=user)
    return follow_up


@transaction.atomic
def resolve_alert(*, alert: Alert, user) -> Alert:
    """Acknowledged (or open) -> resolved, only after a follow-up check."""
    _refuse_closed(alert)
    if not alert.follow_ups.exists():
        raise ValidationError({"follow_up": [_("Record a follow-up check at the store before resolving the alert.")]})
    now = timezone.now()
    Alert.objects.filter(pk=alert.pk, status__in=Alert.ACTIVE).update(
        status=Alert.Status.RESOLVED, closed_on=timezone.localdate(), resolved_at=now, resolved_by=user, updated_at=now,
    )
    alert.refresh_from_db()
    return alert


def mark_read(*, user, alert=None) -> int:
    """Mark the user's unread notifications read (of one alert, or all); returns how many."""
    unread = Notification.objects.filter(user=user).unread()
    if alert is not None:
        unread = unread.filter(alert=alert)
    return unread.update(read_at=timezone.now())
