"""An alert's life after it opens (SPEC §5): acknowledge, follow-up check, resolve; reading notifications."""
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Alert, FollowUp, Notification


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
