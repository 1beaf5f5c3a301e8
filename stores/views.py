from datetime import date, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, Max, OuterRef, Prefetch, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _

from alerts import services as alert_services
from org.models import Region, Role, User
from planning.models import VisitPlan

from . import services
from .forms import SERVICE_ERRORS, StoreFilterForm, VisitFilterForm, VisitForm
from .models import MarketShare, Store, StoreVisit

PAGE_SIZE = 50
SHARE_DAYS = 28  # CS(t) window of SPEC §5
SUFFICIENT_DAYS = 8  # CS(t) is "sufficient" with at least 8 valid days (SPEC §5)
HISTORY_LENGTH = 60


def can_log_visits(user, store) -> bool:
    """Reps (own stores), supervisors (their regions), analysts and admins; KA managers only read."""
    return store.active and (user.sees_everything or user.role in (Role.SALES_MANAGER, Role.SUPERVISOR))


def reps_in_scope(user):
    """Sales managers of the stores the user may see (filter choices)."""
    return User.objects.filter(stores__in=Store.objects.visible_to(user)).distinct().order_by("username")


def with_figures(stores, today):
    """Stores with `last_visit`, the CS(today) sums of SPEC §5 and `today_visits`, in two queries."""
    valid = Q(visits__total_sales__gt=0) & (Q(visits__suspect=False) | Q(visits__suspect_confirmed=True))
    window = valid & Q(visits__date__gt=today - timedelta(days=SHARE_DAYS), visits__date__lte=today)
    return (
        stores.select_related("region", "rep", "account")
        .annotate(
            last_visit=Max("visits__date"),
            own_28=Sum("visits__own_sales", filter=window),
            total_28=Sum("visits__total_sales", filter=window),
            days_28=Count("visits", filter=window),
        )
        .prefetch_related(Prefetch("visits", queryset=StoreVisit.objects.filter(date=today), to_attr="today_visits"))
    )


def attach_shares(stores, day):
    """Set `share`, `market_share` (+ `_pct`) and `share_status` on stores from `with_figures`; one query for all."""
    region_ids = {s.region_id for s in stores}
    countries = {s.region.country for s in stores}
    rows = MarketShare.objects.valid_on(day).filter(
        Q(region_id__in=region_ids) | Q(region__isnull=True, country__in=countries)
    ).order_by("period_start", "id")
    by_region, by_country = {}, {}
    for row in rows:  # ascending start: the latest start wins (SPEC §3.5)
        (by_region if row.region_id else by_country)[row.region_id or row.country] = row
    for store in stores:
        store.share = store.own_28 / store.total_28 if store.total_28 else None
        store.market_share = by_region.get(store.region_id) or by_country.get(store.region.country)
        store.share_pct = None if store.share is None else 100 * store.share
        store.market_pct = None if store.market_share is None else 100 * store.market_share.share
        if store.share is None or store.days_28 < SUFFICIENT_DAYS or store.market_share is None:
            store.share_status = "thin"
        else:
            store.share_status = "below" if store.share < store.market_share.share else "above"
    return stores


def paginate_then_load(request, ids, load):
    """Paginate on ids (cheap count and slice), then `load(ids)` the rows of one page with their aggregates.

    Aggregating only the page keeps the visit join at 50 stores instead of every store in scope (SPEC §9).
    """
    page = Paginator(ids, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = list(load(list(page.object_list)))
    return page


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
            visit = services.correct_visit(visit=visit, **data)
        else:
            visit = services.log_visit(user=request.user, store=store, **data)
    except SERVICE_ERRORS as exc:
        form.add_service_errors(exc)
        return None
    saved = _("Visit saved for %(store)s on %(date)s: %(own)s of %(total)s units.") % {
        "store": store.name, "date": visit.date.isoformat(), "own": visit.own_sales, "total": visit.total_sales,
    }
    # The store's current FSI (SPEC §5), as its alert evaluation will see it: a few aggregated queries.
    messages.success(request, f"{saved} {alert_services.describe_reading(alert_services.store_reading(store=store))}")
    return visit


def _card_form(store, today):
    """The quick form of a store card: today's visit to correct, or a new one."""
    visit = store.today_visits[0] if store.today_visits else None
    return VisitForm.for_visit(visit, day=today, today=today, auto_id=f"id_{store.code}_%s")


@login_required
def home(request):
    """Reps with a visit plan start on Today (planning); everyone else, and reps without a plan, on the stores."""
    if request.user.is_sales_manager and VisitPlan.objects.current().filter(rep=request.user).exists():
        return redirect("today")
    return redirect("store-list")


@login_required
def store_list(request):
    user, today = request.user, timezone.localdate()
    visible = Store.objects.visible_to(user)
    posted = None
    if request.method == "POST":
        store = get_object_or_404(visible, code=request.POST.get("store", ""))
        if not can_log_visits(user, store):
            raise PermissionDenied
        form = VisitForm(request.POST, today=today, auto_id=f"id_{store.code}_%s")
        if save_visit(request, store, form):
            return redirect(f"{request.get_full_path()}#store-{store.code}")
        messages.error(request, _("The visit for %(store)s was not saved; see the form below.") % {"store": store.name})
        posted = (store.pk, form)

    filters = None
    if not user.is_sales_manager:
        filters = StoreFilterForm(request.GET, regions=Region.objects.visible_to(user), reps=reps_in_scope(user))
        visible = filters.filter(visible)
    ids = visible.order_by("code").values_list("pk", flat=True)
    page = paginate_then_load(request, ids, lambda pks: with_figures(Store.objects.filter(pk__in=pks), today).order_by("code"))
    attach_shares(page.object_list, today)
    cards = []
    if user.is_sales_manager:
        for store in page.object_list:
            form = posted[1] if posted and posted[0] == store.pk else _card_form(store, today)
            cards.append((store, form if can_log_visits(user, store) else None))
    return render(request, "stores/store_list.html", {
        "page": page, "cards": cards, "filters": filters, "today": today, "rep_view": user.is_sales_manager,
    })


def _form_day(request, today) -> date:
    try:
        day = date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        return today
    return min(day, today)


@login_required
def store_detail(request, code):
    user, today = request.user, timezone.localdate()
    store = get_object_or_404(with_figures(Store.objects.visible_to(user), today), code=code)
    attach_shares([store], today)
    may_log = can_log_visits(user, store)
    form = None
    if request.method == "POST":
        if not may_log:
            raise PermissionDenied
        form = VisitForm(request.POST, today=today)
        if save_visit(request, store, form):
            return redirect("store-detail", code=store.code)
    elif may_log:
        day = _form_day(request, today)
        visit = store.today_visits[0] if store.today_visits and day == today else store.visits.filter(date=day).first()
        form = VisitForm.for_visit(visit, day=day, today=today)
    history = store.visits.select_related("rep")[:HISTORY_LENGTH]
    closed_days = ", ".join(str(WEEKDAYS[d]) for d in sorted(store.closed_weekdays))
    return render(request, "stores/store_detail.html", {
        "store": store, "form": form, "history": history, "today": today, "history_length": HISTORY_LENGTH,
        "closed_days": closed_days,
    })


@login_required
def rep_list(request):
    user, today = request.user, timezone.localdate()
    if not (user.sees_everything or user.role == Role.SUPERVISOR):
        raise PermissionDenied
    reps = User.objects.filter(role=Role.SALES_MANAGER, is_active=True)
    if not user.sees_everything:
        reps = reps.filter(region__in=Region.objects.visible_to(user))
    store_count = (
        Store.objects.filter(rep=OuterRef("pk"), active=True).order_by().values("rep").annotate(n=Count("pk")).values("n")
    )

    def load(pks):
        return (
            User.objects.filter(pk__in=pks).select_related("region").order_by("username")
            .annotate(
                store_count=Coalesce(Subquery(store_count, output_field=IntegerField()), Value(0)),
                visits_7d=Count("visits", filter=Q(visits__date__gt=today - timedelta(days=7), visits__date__lte=today)),
                last_visit=Max("visits__date"),
            )
        )

    page = paginate_then_load(request, reps.order_by("username").values_list("pk", flat=True), load)
    return render(request, "stores/rep_list.html", {"page": page, "today": today})


@login_required
def visit_list(request):
    user = request.user
    filters = VisitFilterForm(request.GET, reps=reps_in_scope(user))
    visits = filters.filter(StoreVisit.objects.visible_to(user)).select_related("store", "rep").order_by("-date", "store__code")
    page = Paginator(visits, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "stores/visit_list.html", {"page": page, "filters": filters})
