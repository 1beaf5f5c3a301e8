from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.formats import date_format, localize, number_format
from django.utils.html import escape, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import KeyAccount
from alerts import cards
from stores.models import Store

from . import computations, services
from .forms import (
    AccountPlanSummaryForm, ActionForm, ActionStatusForm, ForecastForm, ObjectiveForm, ReassignForm, ReviewForm,
    TargetEditForm, TargetFilterForm, VisitPlanForm,
)
from org.access import Action, can
from org.models import Role, User

from .models import AccountPlan, PlanAction, Target, VisitPlan

PAGE_SIZE = 50

# ---- Planning pages (SPEC §6) ----

@login_required
def target_list(request):
    user = request.user
    filters = TargetFilterForm(request.GET)
    filters.is_valid()
    data = filters.cleaned_data if filters.is_bound else {}
    month = data.get("month") or timezone.localdate().replace(day=1)
    group = data.get("group") or "store"
    visible = Target.objects.visible_to(user)
    editable = can(user, Action.EDIT_PLANNING)
    edit_form = None
    if request.method == "POST":
        if not editable:
            raise PermissionDenied
        edit_form = TargetEditForm(request.POST)
        if edit_form.is_valid():
            target = get_object_or_404(visible.select_related("store"), pk=edit_form.cleaned_data["target"])
            services.edit_target(target=target, target_own=edit_form.cleaned_data["target_own"], user=user)
            messages.success(request, _("Target of %(store)s for %(month)s set to %(value)s units.") % {
                "store": target.store.name, "month": date_format(target.month, "YEAR_MONTH_FORMAT"),
                "value": number_format(target.target_own, 0),
            })
            return redirect(request.get_full_path())
        messages.error(request, _("The target was not saved: %(errors)s") % {
            "errors": " ".join(e for errors in edit_form.errors.values() for e in errors)})

    context = {
        "filters": filters, "month": month, "group": group, "editable": editable,
        "previous_month": (month - timedelta(days=1)).replace(day=1), "next_month": computations.next_month(month),
    }
    if group == "store":
        ids = visible.filter(month=month).order_by("store__code").values_list("pk", flat=True)
        page = Paginator(ids, PAGE_SIZE).get_page(request.GET.get("page"))
        rows = services.with_actuals(
            Target.objects.filter(pk__in=list(page.object_list)).select_related(
                "store", "store__rep", "store__region", "edited_by"), month,
        ).order_by("store__code")
        page.object_list = [_with_attainment(t) for t in rows]
        context["page"] = page
    else:
        context["summary"] = services.summarize_targets(visible, month, group)
        context["totals"] = _totals(context["summary"])
    return render(request, "planning/target_list.html", context)


def _with_attainment(target):
    target.attainment = target.actual_own / target.target_own if target.actual_own is not None and target.target_own else None
    return target


def _totals(rows):
    target = sum(r["target"] or 0 for r in rows)
    covered_target = sum(r["covered_target"] or 0 for r in rows)
    actuals = [r["actual"] for r in rows if r["actual"] is not None]
    actual = sum(actuals) if actuals else None
    return {
        "stores": sum(r["stores"] for r in rows), "covered": sum(r["covered"] for r in rows), "target": target,
        "actual": actual, "attainment": actual / covered_target if actual is not None and covered_target else None,
    }


ZONE_ORDER = {"attack": 0, "defend": 1, "maintenance": 2}


@login_required
def today_view(request):
    """A rep's stores planned for today: attack first by headroom (P - O), each with the quick visit form."""
    user, today = request.user, timezone.localdate()
    if not user.is_sales_manager:
        return redirect("store-list")
    posted = None
    if request.method == "POST":
        store, failed = cards.post_card(request, Store.objects.visible_to(user), today)
        if failed is None:
            return redirect(f"{reverse('today')}#store-{store.code}")
        posted = (store.pk, failed)

    ids = services.todays_store_ids(rep=user, today=today)
    stores = cards.attach_shares(list(cards.with_figures(Store.objects.visible_to(user).filter(pk__in=ids), today)), today)
    scores = services.latest_headroom(ids)
    for store in stores:
        store.zone, store.potential, store.own_annual, store.headroom = scores.get(store.pk, ("", None, None, None))
    stores.sort(key=lambda s: (ZONE_ORDER.get(s.zone, 3), -(s.headroom if s.headroom is not None else -1e18), s.code))
    done = sum(1 for store in stores if store.today_visits)
    return render(request, "planning/today.html", {"cards": cards.cards(user, stores, today, posted), "today": today, "done": done})


COMPLIANCE_WEEKS = 4
COMPLIANCE_WARNING = 0.8  # below 80% of the planned visits the week is flagged


@login_required
def compliance_view(request):
    """Weekly visit-plan compliance (logged / planned) per rep of the supervisor's regions, this week and 3 before."""
    user, today = request.user, timezone.localdate()
    if not can(user, Action.EDIT_PLANNING):
        raise PermissionDenied
    this_week = computations.week_start(today)
    weeks = [this_week - timedelta(weeks=n) for n in range(COMPLIANCE_WEEKS - 1, -1, -1)]
    plans = VisitPlan.objects.visible_to(user).current()
    # The reps with a current plan, as ids in username order in one query, paged in Python; then the page's 50
    # reps. PostgreSQL misjudges "store's rep = plan's rep" (29 rows for 3,400 at 100,000 stores), so a COUNT and a
    # LIMIT query each hashed every plan: one pass instead of two.
    ids = list(User.objects.filter(Exists(plans.filter(rep=OuterRef("pk")))).order_by("username").values_list("pk", flat=True))
    page = Paginator(ids, PAGE_SIZE).get_page(request.GET.get("page"))
    reps = list(User.objects.filter(pk__in=page.object_list).select_related("region", "team").order_by("username"))
    # The store's rep among the page's reps too (implied by "current"): then both sides of that join come by index.
    page_reps = [rep.pk for rep in reps]
    figures = services.weekly_compliance(
        plans=plans.filter(rep__in=page_reps, store__rep__in=page_reps), weeks=weeks, today=today)
    rows = []
    for rep in reps:
        cells = []
        for week in weeks:
            planned, logged = figures.get((rep.pk, week), (0, 0))
            ratio = logged / planned if planned else None
            cells.append({"week": week, "planned": planned, "logged": logged, "ratio": ratio,
                          "low": ratio is not None and ratio < COMPLIANCE_WARNING})
        rows.append((rep, cells))
    page.object_list = rows
    return render(request, "planning/compliance.html", {
        "page": page, "weeks": weeks, "today": today, "warning": COMPLIANCE_WARNING,
    })


@login_required
def coverage_view(request):
    """Stores covered by the wrong team, with the reps of the right team in the store's region to hand them to."""
    user = request.user
    if not can(user, Action.EDIT_PLANNING):
        raise PermissionDenied
    visible = Store.objects.visible_to(user)
    if request.method == "POST":
        store = get_object_or_404(visible, code=request.POST.get("store", ""))
        form = ReassignForm(request.POST, store=store)
        if form.is_valid():
            rep = form.cleaned_data["rep"]
            services.reassign_store(store=store, rep=rep)
            messages.success(request, _("%(store)s now belongs to %(rep)s.") % {
                "store": store.name, "rep": rep.get_full_name() or rep.username})
        else:
            messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(request.get_full_path())

    page = Paginator(services.coverage_mismatches(user), PAGE_SIZE).get_page(request.GET.get("page"))
    scores = list(page.object_list)
    wanted = {(s.store.region_id, services.WANTED_TEAM[s.zone]) for s in scores}
    candidates = services.reassignment_candidates(wanted)
    options = {key: candidate_options(reps) for key, reps in candidates.items()}  # a region's list, once
    rows = []
    for score in scores:
        kind = services.mismatch_kind(score)
        wanted = services.WANTED_TEAM.get(score.zone)
        key = (score.store.region_id, wanted)
        rows.append({"score": score, "store": score.store, "kind": kind, "wanted": wanted,
                     "candidates": candidates.get(key, []), "options": options.get(key, "")})
    page.object_list = rows
    return render(request, "planning/coverage.html", {"page": page})


def candidate_options(reps) -> str:
    """The <option>s of a region's candidates: built once per region and team rather than per store of the page."""
    return format_html_join("", '<option value="{}">{} · {} ({})</option>', (
        (r["username"], r["name"], r["team"],
         ngettext("%(counter)s store", "%(counter)s stores", r["store_count"]) % {"counter": localize(r["store_count"])})
        for r in reps
    ))


@login_required
def account_plan_view(request, code, year):
    """Edit one account's plan for one year: summary, objectives, actions, reviews and the monthly forecast."""
    user = request.user
    account = get_object_or_404(KeyAccount.objects.visible_to(user), code=code)
    if not KeyAccount.objects.editable_by(user).filter(pk=account.pk).exists():
        raise PermissionDenied
    if not 2000 <= year <= 2100:
        raise Http404
    plan = AccountPlan.objects.filter(account=account, year=year).first()
    # The reps of the account's stores as a semi-join: joining every user to their stores and DISTINCT-ing
    # them cost 46 ms at 100,000 stores.
    owners = User.objects.filter(is_active=True).filter(
        Q(pk=account.owner_id) | Q(role__in=[Role.KA_MANAGER, Role.SUPERVISOR])
        | Q(pk__in=Store.objects.filter(account=account).values("rep_id"))
    ).order_by("username")
    forecast_initial = {f"m{f.month}": f.own_units for f in plan.forecast.all()} if plan else {}
    forms_ = {
        "summary": AccountPlanSummaryForm(initial={"summary": plan.summary if plan else ""}, prefix="summary"),
        "objective": ObjectiveForm(prefix="objective"),
        "action": ActionForm(prefix="action", owners=owners, initial={"owner": user if user.role == Role.KA_MANAGER else None}),
        "review": ReviewForm(prefix="review"),
        "forecast": ForecastForm(initial=forecast_initial, prefix="forecast", year=year),
    }
    if request.method == "POST":
        which = request.POST.get("form") or request.GET.get("form", "")
        if which == "status":
            status_form = ActionStatusForm(request.POST)
            if status_form.is_valid() and plan:
                action = get_object_or_404(plan.actions, pk=status_form.cleaned_data["action"])
                action.status = status_form.cleaned_data["status"]
                action.save(update_fields=["status"])
                services.touch_plan(plan=plan, user=user)
                messages.success(request, _("Action “%(title)s” is now %(status)s.") % {
                    "title": action.title, "status": action.get_status_display()})
            return redirect(f"{request.path}#actions")
        if which not in forms_:
            raise Http404
        bound = {
            "summary": lambda: AccountPlanSummaryForm(request.POST, prefix="summary"),
            "objective": lambda: ObjectiveForm(request.POST, prefix="objective"),
            "action": lambda: ActionForm(request.POST, prefix="action", owners=owners),
            "review": lambda: ReviewForm(request.POST, prefix="review"),
            "forecast": lambda: ForecastForm(request.POST, prefix="forecast", year=year),
        }[which]()
        if bound.is_valid():
            plan = plan or AccountPlan.objects.create(account=account, year=year, updated_by=user)
            services.save_plan_form(plan=plan, which=which, form=bound, user=user)
            messages.success(request, _("The account plan was saved."))
            return redirect(f"{request.path}#plan-{which}")
        forms_[which] = bound
        messages.error(request, _("Not saved; see the form below."))
    return render(request, "planning/account_plan.html", {
        "account": account, "year": year, "plan": plan, "forms": forms_,
        "actions": list(plan.actions.select_related("owner")) if plan else [],
        "statuses": PlanAction.Status.choices,
    })


class PlansByRep:
    """`plans` in (rep's username, store code) order for a Paginator, from each rep's number of plans (`counts`,
    in username order): its length is their sum, and a slice reads only the plans of the reps it spans."""

    def __init__(self, plans, counts: list[tuple[int, int]]):
        self.plans, self.counts = plans, counts

    def __len__(self):
        return sum(n for _rep, n in self.counts)

    def __getitem__(self, window: slice):
        start, stop = window.start or 0, window.stop
        reps, first, offset = [], None, 0
        for rep_id, n in self.counts:
            if offset < stop and offset + n > start:
                first = offset if first is None else first
                reps.append(rep_id)
            offset += n
        if not reps:
            return []
        return list(self.plans.filter(rep__in=reps).order_by("rep__username", "store__code")[start - first:stop - first])


@login_required
def visit_plan_list(request):
    """The visit plans in scope (reps: their own); supervisors and analysts tick the weekdays of each store."""
    user = request.user
    editable = can(user, Action.EDIT_PLANNING)
    plans = VisitPlan.objects.visible_to(user).filter(store__active=True)
    if request.method == "POST":
        if not editable:
            raise PermissionDenied
        form = VisitPlanForm(request.POST)
        if not form.is_valid():
            raise Http404
        plan = get_object_or_404(plans.select_related("store"), pk=form.cleaned_data["plan"])
        try:
            weekdays = form.clean_weekdays_for(plan.store)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            services.edit_visit_plan(plan=plan, weekdays=weekdays, user=user)
            messages.success(request, _("Visit plan of %(store)s saved.") % {"store": plan.store.name})
        return redirect(f"{request.get_full_path()}#plan-{plan.pk}")

    reps = reps_with_plans(plans)
    rep = request.GET.get("rep", "")
    shown = [r for r in reps if r["username"] == rep] if rep else reps
    rows = PlansByRep(plans.select_related("store", "rep", "edited_by"), [(r["pk"], r["plans"]) for r in shown])
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    days = list(enumerate(WEEKDAYS_ABBR.values()))
    page.object_list = [
        (plan, [(d, label, d in plan.weekdays, d in (plan.store.closed_weekdays or [])) for d, label in days])
        for plan in page.object_list
    ]
    return render(request, "planning/visit_plan_list.html", {
        "page": page, "reps": reps if not user.is_sales_manager else None, "rep_options": rep_options(reps, rep),
        "rep": rep, "editable": editable,
    })


def reps_with_plans(plans) -> list[dict]:
    """The reps of `plans` in username order with their number of plans (`pk`, `username`, `name`, `plans`).

    One query: the plans grouped by rep, joined to the reps. Their sum is the page count, and a page then reads only
    its own reps' plans (PlansByRep): at 100,000 stores a COUNT, an ORDER BY over every plan and the reps' semi-join
    each joined every plan to its store."""
    counts_sql, params = plans.order_by().values("rep_id").annotate(n=Count("pk")).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT u.id, u.username, u.first_name, u.last_name, c.n FROM ({counts_sql}) AS c "
            f"JOIN {User._meta.db_table} AS u ON u.id = c.rep_id ORDER BY u.username", params,
        )
        rows = cursor.fetchall()
    return [
        {"pk": pk, "username": username, "name": f"{first} {last}".strip() or username, "plans": n}
        for pk, username, first, last, n in rows
    ]


def rep_options(reps, selected: str) -> str:
    """The reps' <option>s: 3,300 at 100,000 stores, which a template loop took 30-40 ms to render."""
    return mark_safe("".join(
        f'<option value="{escape(r["username"])}"{" selected" if r["username"] == selected else ""}>{escape(r["name"])}</option>'
        for r in reps
    ))
