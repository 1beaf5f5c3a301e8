import math

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from analytics.models import AnalyticsSettings
from org.access import Action, can
from org.models import Region

from . import lifecycle, readings
from .forms import STATUS_TABS, AlertFilterForm, FollowUpForm
from .models import Alert, FollowUp, Notification

PAGE_SIZE = 50
INBOX_NOTIFICATIONS = 5  # unread notifications shown above the inbox; the rest are one click away


def _alerts_for(user):
    """The alerts the user may see; a 404 for roles that never handle alerts (reps, KA managers)."""
    if not can(user, Action.HANDLE_ALERTS):
        raise Http404
    return Alert.objects.visible_to(user)


def _thresholds(params) -> dict:
    return {
        "fsi_open": params.alert_open_fsi, "fsi_recover": params.alert_recover_fsi,
        "window_days": params.alert_window_days, "min_days": params.alert_min_days,
    }


def _service_error(request, exc: ValidationError):
    for message in exc.messages:
        messages.error(request, message)


@login_required
def alert_inbox(request):
    user = request.user
    visible = _alerts_for(user)
    regions = Region.objects.visible_to(user)
    filters = AlertFilterForm(request.GET, regions=regions)
    alerts = filters.filter(visible).select_related("store__region", "store__rep", "acknowledged_by")
    page = Paginator(alerts, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = dict(visible.order_by().values_list("status").annotate(n=Count("pk")))
    tabs = [
        (value, label, counts.get(Alert.Status.OPEN, 0) + counts.get(Alert.Status.ACKNOWLEDGED, 0) if value == ""
         else sum(counts.values()) if value == "all" else counts.get(value, 0))
        for value, label in STATUS_TABS
    ]
    unread = Notification.objects.filter(user=user).unread().select_related("alert__store")
    return render(request, "alerts/inbox.html", {
        "page": page, "filters": filters, "tabs": tabs, "status": filters.current_status,
        "many_regions": user.sees_everything or regions.count() > 1,
        "notifications": list(unread[:INBOX_NOTIFICATIONS]), "unread_count": unread.count(),
        **_thresholds(AnalyticsSettings.current()),
    })


def _detail_context(request, alert, form=None):
    params = AnalyticsSettings.current()
    trend = readings.alert_trend(alert=alert, end=timezone.localdate())
    threshold = params.alert_open_fsi / 100

    def clean(values, scale=1.0):
        return [None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v) * scale, 6) for v in values]

    chart = {
        "days": [d.strftime("%Y-%m-%d") for d in trend.index],
        "cs": clean(trend["cs"]), "ms": clean(trend["ms"]), "line": clean(trend["ms"], threshold),
        "fsi": clean(trend["fsi"]), "validDays": trend["days"].tolist(), "source": trend["source"].tolist(),
        "openedOn": alert.opened_on.isoformat(),
        "labels": {
            "cs": _("Store share (%(days)s days)") % {"days": params.alert_window_days}, "ms": _("Market share"),
            "line": _("Alert line (%(fsi)s%% of market share)") % {"fsi": f"{params.alert_open_fsi:g}"},
            "fsi": _("FSI"), "validDays": _("Valid days"), "opened": _("Opened"), "insufficient": _("too few valid days"),
            "sources": {"region": _("region"), "country": _("country"), "panel": _("panel")},
        },
    }
    may_act = alert.is_active
    return {
        "alert": alert, "store": alert.store, "follow_ups": list(alert.follow_ups.all()),
        "form": form or (FollowUpForm(alert=alert) if may_act else None), "may_act": may_act,
        "chart": chart, "plotted": any(v is not None for v in chart["cs"]),
        "trend_days": readings.TREND_DAYS, **_thresholds(params),
    }


def _get_alert(request, pk):
    alerts = _alerts_for(request.user).select_related(
        "store__region", "store__rep", "store__account", "acknowledged_by", "resolved_by"
    ).prefetch_related(Prefetch("follow_ups", queryset=FollowUp.objects.select_related("recorded_by")))
    return get_object_or_404(alerts, pk=pk)


@login_required
def alert_detail(request, pk):
    alert = _get_alert(request, pk)
    lifecycle.mark_read(user=request.user, alert=alert)
    return render(request, "alerts/detail.html", _detail_context(request, alert))


@login_required
@require_POST
def alert_acknowledge(request, pk):
    alert = _get_alert(request, pk)
    try:
        lifecycle.acknowledge_alert(alert=alert, user=request.user)
    except ValidationError as exc:
        _service_error(request, exc)
    else:
        messages.success(request, _("Alert acknowledged. Record your check at the store when you have been there."))
    return redirect("alert-detail", pk=alert.pk)


@login_required
@require_POST
def alert_follow_up(request, pk):
    alert = _get_alert(request, pk)
    form = FollowUpForm(request.POST, alert=alert)
    if form.is_valid():
        try:
            lifecycle.record_follow_up(alert=alert, user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            # A closed alert is refused under `status` (the API's key), a field the form lacks: form-wide then.
            form.add_error(None, exc if set(exc.message_dict) <= set(form.fields) else exc.messages)
        else:
            messages.success(request, _("Follow-up check recorded for %(store)s.") % {"store": alert.store.name})
            return redirect("alert-detail", pk=alert.pk)
    messages.error(request, _("The follow-up check was not saved; see the form below."))
    return render(request, "alerts/detail.html", _detail_context(request, alert, form), status=400)


@login_required
@require_POST
def alert_resolve(request, pk):
    alert = _get_alert(request, pk)
    try:
        lifecycle.resolve_alert(alert=alert, user=request.user)
    except ValidationError as exc:
        _service_error(request, exc)
    else:
        messages.success(request, _("Alert resolved."))
    return redirect("alert-detail", pk=alert.pk)


@login_required
def notification_list(request):
    user = request.user
    _alerts_for(user)
    if request.method == "POST":
        count = lifecycle.mark_read(user=user)
        messages.success(request, ngettext(
            "%(n)s notification marked as read.", "%(n)s notifications marked as read.", count
        ) % {"n": count})
        return redirect("notification-list")
    notifications = Notification.objects.filter(user=user).select_related("alert__store__region")
    page = Paginator(notifications, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "alerts/notifications.html", {
        "page": page, "unread_count": Notification.objects.filter(user=user).unread().count(),
    })
