"""Telling supervisors about opened alerts (SPEC §5): in-app notifications and one email (or digest) each."""
import logging
from functools import partial

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from analytics.models import AnalyticsSettings
from org.models import Region

from .models import Alert, Notification

log = logging.getLogger(__name__)

NOTIFY_BATCH = 1000


def _supervisor_links(region_ids):
    return Region.supervisors.through.objects.filter(region_id__in=set(region_ids), user__is_active=True)


def notify_opened(*, alert_ids) -> None:
    """In-app notifications now, in the caller's transaction; emails once it commits."""
    regions = dict(Alert.objects.filter(pk__in=alert_ids).values_list("pk", "store__region_id"))
    links = list(_supervisor_links(regions.values()).values_list("region_id", "user_id"))
    Notification.objects.bulk_create(
        [Notification(user_id=user_id, alert_id=alert_id) for alert_id, region_id in regions.items()
         for link_region, user_id in links if link_region == region_id],
        batch_size=NOTIFY_BATCH,
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
