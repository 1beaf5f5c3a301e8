from datetime import date, timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dates import WEEKDAYS

from alerts import cards
from kacrm import dates
from kacrm.api import CountedPaginator
from org.access import Action, can
from org.models import Region, Role, User
from planning.models import VisitPlan

from . import services as store_services
from .forms import StoreFilterForm, VisitFilterForm, VisitForm
from .models import Store, StoreVisit

PAGE_SIZE = 50
HISTORY_LENGTH = 60


def reps_in_scope(user):
    """Sales managers of the stores the user may see (filter choices)."""
    # IN (the visible stores' reps) rather than a join made DISTINCT: no sort of one row per store.
    return User.objects.filter(pk__in=Store.objects.visible_to(user).values("rep_id")).order_by("username")


def paginate_then_load(request, ids, load):
    """Paginate on ids (cheap count and slice), then `load(ids)` the rows of one page with their aggregates.

    Aggregating only the page keeps the visit join at 50 stores instead of every store in scope (SPEC §9).
    """
    page = Paginator(ids, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = list(load(list(page.object_list)))
    return page


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
        store, failed = cards.post_card(request, visible, today)
        if failed is None:
            return redirect(f"{request.get_full_path()}#store-{store.code}")
        posted = (store.pk, failed)

    filters = None
    if not user.is_sales_manager:
        filters = StoreFilterForm(request.GET, regions=Region.objects.visible_to(user), reps=reps_in_scope(user))
        visible = filters.filter(visible)
    ids = visible.order_by("code").values_list("pk", flat=True)
    page = paginate_then_load(
        request, ids, lambda pks: cards.with_figures(Store.objects.filter(pk__in=pks), today).order_by("code"),
    )
    cards.attach_shares(page.object_list, today)
    rows = cards.cards(user, page.object_list, today, posted) if user.is_sales_manager else []
    return render(request, "stores/store_list.html", {
        "page": page, "cards": rows, "filters": filters, "today": today, "rep_view": user.is_sales_manager,
    })


def _form_day(request, today) -> date:
    try:
        day = date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        return today
    return today if day < dates.EARLIEST else min(day, today)


@login_required
def store_detail(request, code):
    user, today = request.user, timezone.localdate()
    store = get_object_or_404(cards.with_figures(Store.objects.visible_to(user), today), code=code)
    may_log = cards.can_log_visits(user, store)
    form = None
    if request.method == "POST":
        if not may_log:
            raise PermissionDenied
        form = VisitForm(request.POST, today=today)
        if cards.save_visit(request, store, form):
            return redirect("store-detail", code=store.code)
    elif may_log:
        day = _form_day(request, today)
        visit = store.today_visits[0] if store.today_visits and day == today else store.visits.filter(date=day).first()
        form = VisitForm.for_visit(visit, day=day, today=today)
    cards.attach_shares([store], today)  # after a successful POST the redirect's GET shows it; not before
    history = store.visits.select_related("rep")[:HISTORY_LENGTH]
    closed_days = ", ".join(str(WEEKDAYS[d]) for d in sorted(store.closed_weekdays))
    return render(request, "stores/store_detail.html", {
        "store": store, "form": form, "history": history, "today": today, "history_length": HISTORY_LENGTH,
        "closed_days": closed_days,
    })


@login_required
def rep_list(request):
    user, today = request.user, timezone.localdate()
    if not can(user, Action.SEE_REPS):
        raise PermissionDenied
    reps = User.objects.filter(role=Role.SALES_MANAGER, is_active=True)
    if not user.sees_everything:
        reps = reps.filter(region__in=Region.objects.visible_to(user))
    store_count = (
        Store.objects.filter(rep=OuterRef("pk"), active=True).order_by().values("rep").annotate(n=Count("pk")).values("n")
    )
    # Per rep, through visit_rep_date_idx (rep, date): a range scan and a one-row backward scan, where
    # joining the reps' visits counted and sorted every visit they ever logged (7.5 s at 20,000 stores).
    rep_visits = StoreVisit.objects.filter(rep=OuterRef("pk")).order_by()
    visits_7d = (
        rep_visits.filter(date__gt=today - timedelta(days=7), date__lte=today)
        .values("rep").annotate(n=Count("pk")).values("n")
    )
    last_visit = rep_visits.order_by("-date").values("date")[:1]

    def load(pks):
        return (
            User.objects.filter(pk__in=pks).select_related("region").order_by("username")
            .annotate(
                store_count=Coalesce(Subquery(store_count, output_field=IntegerField()), Value(0)),
                visits_7d=Coalesce(Subquery(visits_7d, output_field=IntegerField()), Value(0)),
                last_visit=Subquery(last_visit),
            )
        )

    page = paginate_then_load(request, reps.order_by("username").values_list("pk", flat=True), load)
    return render(request, "stores/rep_list.html", {"page": page, "today": today})


@login_required
def visit_list(request):
    user = request.user
    filters = VisitFilterForm(request.GET, reps=reps_in_scope(user))
    visits = filters.filter(store_services.listed_visits(user))
    counted = filters.counted_stores(Store.objects.visible_to(user))
    if counted is not None:
        visits = store_services.with_counted_visits(visits, counted)
    page = CountedPaginator(visits, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "stores/visit_list.html", {"page": page, "filters": filters})
