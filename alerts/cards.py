"""The rep's store cards (My stores, Today, the store page), written once for every page that shows them.

A card's share against the market share is the alert's reading of SPEC §5 (`card_readings`):
CS over the alert window, sufficient with the alert's minimum of valid days, MS by the rule of
`stores.rules` with the panel fallback. The quick visit form of a card and its POST are handled here too.
"""
import dataclasses
from datetime import timedelta

import pandas as pd
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import CharField, F, IntegerField, Max, Prefetch, Value
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from analytics.models import AnalyticsSettings
from org.access import Action, can
from stores import rules
from stores import services as store_services
from stores.forms import VisitForm
from stores.models import StoreVisit

from . import fsi, readings


@dataclasses.dataclass(frozen=True)
class CardShare:
    """The market share a card compares with, and where it comes from: 'region', 'country' or 'panel'."""

    share: float
    source: str


def can_log_visits(user, store) -> bool:
    """Reps (own stores), supervisors (their regions), analysts and admins, on active stores; KA managers only read."""
    return store.active and can(user, Action.LOG_VISITS)


def with_figures(stores, today):
    """Stores with `last_visit` and `today_visits` (with their region, rep and account), in two queries."""
    return (
        stores.select_related("region", "rep", "account")
        .annotate(last_visit=Max("visits__date"))
        .prefetch_related(Prefetch("visits", queryset=StoreVisit.objects.filter(date=today), to_attr="today_visits"))
    )


def _number(value):
    return None if pd.isna(value) else float(value)


def card_readings(stores, t, params) -> pd.DataFrame:
    """The alert's reading at `t` (`fsi.readings`) of listed stores (region loaded), one row each even without a valid day.

    Two queries whatever the stores: the share rows, then one UNION of the stores' window sums and the
    panel sums of the countries whose listed stores lack a share row at `t` or `t - L` (only they read the
    panel). Summing every visit of a whole country for nothing was 190-250 ms of each page at 20,000 stores.
    """
    units = pd.DataFrame(
        {"region_id": [s.region_id for s in stores], "country": [s.region.country for s in stores]},
        index=pd.Index([s.pk for s in stores], name="store_id"),
    )
    back = t - timedelta(days=params.alert_lookback_days)
    shares = readings.load_market_shares(t, back)
    shares_now, shares_prev = rules.shares_on_days(shares, [t, back])
    countries = fsi.needs_panel(units, shares_now, shares_prev)
    span, aggregates = readings._window_filters(t, params)
    visits = StoreVisit.objects.valid().filter(span).order_by()
    # Same columns in the same order on both sides; an empty country list drops the panel part (no query of its own).
    per_store = visits.filter(store_id__in=list(units.index)).values(
        key_store=F("store_id"), key_country=Value(None, output_field=CharField()),
    ).annotate(**aggregates)
    per_country = visits.filter(store__region__country__in=sorted(countries)).values(
        key_store=Value(None, output_field=IntegerField()), key_country=F("store__region__country"),
    ).annotate(**aggregates)
    rows = list(per_store.union(per_country, all=True))
    store_rows = [{"store_id": r["key_store"], **{k: r[k] for k in fsi.SUMS}} for r in rows if r["key_store"] is not None]
    panel_rows = [{"country": r["key_country"], **{k: r[k] for k in fsi.SUMS}} for r in rows if r["key_store"] is None]
    sums = units.join(readings._sums_frame(store_rows, "store_id")[fsi.SUMS], how="left")
    sums[fsi.SUMS] = sums[fsi.SUMS].fillna(0).astype("int64")
    panel = readings._sums_frame(panel_rows, "country")
    return fsi.readings(sums, panel, shares_now, shares_prev, params.alert_min_days)


def attach_shares(stores, day):
    """Set the card's reading at `day` on stores from `with_figures`, in three queries for all of them.

    `own_28`, `total_28`, `days_28` (the sums over the alert window), `share`, `market_share`
    (a `CardShare`), `window_days`, `share_pct`, `market_pct` and `share_status` ('thin', 'below' or 'above').
    """
    if not stores:
        return stores
    params = AnalyticsSettings.current()
    frame = card_readings(stores, day, params)
    for store in stores:
        row = frame.loc[store.pk]
        store.window_days = params.alert_window_days
        store.own_28, store.total_28, store.days_28 = int(row["own_now"]), int(row["total_now"]), int(row["days_now"])
        store.share = _number(row["cs_now"])
        ms = _number(row["ms_now"])
        store.market_share = None if ms is None else CardShare(share=ms, source=row["source_now"])
        store.share_pct = None if store.share is None else 100 * store.share
        store.market_pct = None if ms is None else 100 * ms
        if not row["ok_now"]:
            store.share_status = "thin"
        else:
            store.share_status = "below" if store.share < ms else "above"
    return stores


def card_form(store, today):
    """The quick form of a store card: today's visit to correct, or a new one."""
    visit = store.today_visits[0] if store.today_visits else None
    return VisitForm.for_visit(visit, day=today, today=today, auto_id=f"id_{store.code}_%s")


def save_visit(request, store, form):
    """Create or correct a visit from a bound form; returns it, or None with the errors on the form."""
    if not form.is_valid():
        return None
    data = dict(form.cleaned_data)
    visit_id = data.pop("visit")
    try:
        if visit_id:
            visit = store.visits.filter(pk=visit_id).first()
            if visit is None:
                form.add_error(None, _("This visit no longer exists; reload the page."))
                return None
            visit = store_services.correct_visit(visit=visit, **data)
        else:
            visit = store_services.log_visit(user=request.user, store=store, **data)
    except ValidationError as exc:
        form.add_error(None, exc)
        return None
    saved = _("Visit saved for %(store)s on %(date)s: %(own)s of %(total)s units.") % {
        "store": store.name, "date": visit.date.isoformat(), "own": visit.own_sales, "total": visit.total_sales,
    }
    # The store's current FSI (SPEC §5), as its alert evaluation will see it: a few aggregated queries.
    messages.success(request, f"{saved} {readings.describe_reading(readings.store_reading(store=store))}")
    return visit


def post_card(request, stores, today):
    """The POST of a card's quick form: (store, form) of the visit, saved when `form` is None.

    404 for a store out of `stores`, 403 when the user may not log its visits.
    """
    store = get_object_or_404(stores, code=request.POST.get("store", ""))
    if not can_log_visits(request.user, store):
        raise PermissionDenied
    form = VisitForm(request.POST, today=today, auto_id=f"id_{store.code}_%s")
    if save_visit(request, store, form):
        return store, None
    messages.error(request, _("The visit for %(store)s was not saved; see the form below.") % {"store": store.name})
    return store, form


def cards(user, stores, today, posted=None):
    """(store, form) per store: the quick form (the posted one if it failed), None where the user may not log."""
    rows = []
    for store in stores:
        form = posted[1] if posted and posted[0] == store.pk else card_form(store, today)
        rows.append((store, form if can_log_visits(user, store) else None))
    return rows
