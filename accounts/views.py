import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldError, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.db.models import Count, F, FilteredRelation, IntegerField, Max, OuterRef, Prefetch, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from analytics.models import AccountScore, StoreScore, Zone
from org.access import Action, can
from org.models import User
from stores.audit import visit_corrections
from stores.models import Store

from . import audit, services
from .forms import CompetitorForm, DecisionMakerForm, EventForm, ProfileForm, TimelineFilter, known_brands
from .models import BuyingRole, Competitor, CompetitorPresence, DecisionMaker, KeyAccount, RelationshipEvent

PAGE_SIZE = 50
TREND_RUNS = 6  # analytics runs shown in the key numbers' trend
STORE_ROWS = 20  # the account's stores with the largest potential; the rest are a link away
EVENTS_PER_PAGE = 15
TENDER_ROWS = 8
BIRTHDAY_DAYS = 30
NO_CONTACT_DAYS = 90
CHANGE_ROWS = 15
CORRECTION_ROWS = 8
OPEN_ALERT_STATUSES = ("open", "acknowledged")  # SPEC §5: not yet resolved or recovered
MARKET_SHARE_SOURCES = {
    "region": gettext_lazy("regional market share"), "country": gettext_lazy("country market share"),
    "panel": gettext_lazy("panel share (no market share set)"),
}


def _account_or_404(user, code) -> KeyAccount:
    return get_object_or_404(KeyAccount.objects.visible_to(user).select_related("owner"), code=code)


def _may_read(user, account) -> bool:
    return KeyAccount.objects.dossier_visible_to(user).filter(pk=account.pk).exists()


def _may_edit(user, account) -> bool:
    return KeyAccount.objects.editable_by(user).filter(pk=account.pk).exists()


# -- the list -------------------------------------------------------------------------------------


@login_required
def account_list(request):
    """Readers of dossiers: their accounts with owner, scores, people and last event; reps and supervisors: the
    summary (code, name, kind, tier) of the accounts of their stores, with how many of those stores are theirs."""
    user = request.user
    full = can(user, Action.READ_DOSSIERS)
    visible = KeyAccount.objects.dossier_visible_to(user) if full else KeyAccount.objects.visible_to(user)
    # A semi-join on the scope: a supervisor's scope joins every store of their regions, and a DISTINCT over
    # those rows (with a store count per row) cost 230 ms at 100,000 stores.
    accounts = KeyAccount.objects.filter(pk__in=visible.values("pk"))
    query = request.GET.get("q", "").strip()[:100]
    if query:
        accounts = accounts.filter(Q(code__icontains=query) | Q(name__icontains=query))
    stores = Store.objects.visible_to(user).filter(account=OuterRef("pk"), active=True).order_by()

    def count(qs):
        return Coalesce(Subquery(qs.values("account").annotate(n=Count("pk")).values("n"), output_field=IntegerField()), Value(0))

    rows = accounts.annotate(store_count=count(stores)).order_by("name", "code")
    day = AccountScore.objects.aggregate(last=Max("as_of"))["last"] if full else None
    if full:
        people = DecisionMaker.objects.filter(account=OuterRef("pk")).order_by()
        last_event = RelationshipEvent.objects.filter(account=OuterRef("pk")).order_by("-date").values("date")[:1]
        rows = rows.select_related("owner").annotate(people_count=count(people), last_event=Subquery(last_event))
    if day:
        rows = rows.annotate(score=FilteredRelation("scores", condition=Q(scores__as_of=day))).annotate(
            zone=F("score__zone"), potential=F("score__potential"), sow_pct=F("score__wallet_share") * 100,
            ms_pct=F("score__market_share") * 100, abc=F("score__abc"),
        )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    for account in page.object_list:
        account.zone_label = Zone(account.zone).label if getattr(account, "zone", None) else ""
    return render(request, "accounts/account_list.html", {"page": page, "query": query, "day": day, "full": full})


# -- the dossier ----------------------------------------------------------------------------------


@dataclass
class Figure:
    """One key number of the latest run, with the change since the run before and a sparkline."""

    label: str
    value: object
    kind: str  # "units", "pct" or "text"
    delta: object = None
    points: str = ""  # SVG polyline points, oldest run first


SPARK_W, SPARK_H = 96, 28


def _sparkline(values) -> str:
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(known) < 2:
        return ""
    low, high = min(v for _, v in known), max(v for _, v in known)
    span = (high - low) or 1.0
    step = SPARK_W / max(1, len(values) - 1)
    return " ".join(f"{i * step:.1f},{SPARK_H - 2 - (v - low) / span * (SPARK_H - 4):.1f}" for i, v in known)


def key_figures(scores):
    """Figures of the latest score (scores newest first), or [] before the first run."""
    if not scores:
        return []
    latest, before = scores[0], scores[1] if len(scores) > 1 else None
    oldest_first = list(reversed(scores))

    def figure(label, attr, kind, scale=1):
        value = getattr(latest, attr)
        value = None if value is None else value * scale
        old = getattr(before, attr) if before else None
        delta = None if value is None or old is None else value - old * scale
        series = [None if getattr(s, attr) is None else getattr(s, attr) * scale for s in oldest_first]
        return Figure(str(label), value, kind, delta, _sparkline(series))

    return [
        figure(_("Potential (units / year)"), "potential", "units"),
        figure(_("Our sales (units / year)"), "own_annual", "units"),
        figure(_("Wallet share"), "wallet_share", "pct", 100),
        figure(_("Coverage"), "coverage", "pct", 100),
    ]


def next_birthday(birthday: dt.date, today: dt.date) -> dt.date:
    for year in (today.year, today.year + 1):
        try:
            day = birthday.replace(year=year)
        except ValueError:  # 29 February in a common year
            day = dt.date(year, 3, 1)
        if day >= today:
            return day
    raise AssertionError("unreachable")


def reminders(people, today):
    """(birthdays in the next 30 days, people not contacted for 90 days), each sorted by urgency."""
    birthdays = []
    for person in people:
        if person.birthday:
            day = next_birthday(person.birthday, today)
            if (day - today).days <= BIRTHDAY_DAYS:
                birthdays.append({"person": person, "day": day, "in_days": (day - today).days, "turns": day.year - person.birthday.year})
    birthdays.sort(key=lambda b: (b["in_days"], b["person"].name))
    cutoff = today - dt.timedelta(days=NO_CONTACT_DAYS)
    silent = [p for p in people if p.last_contacted is None or p.last_contacted < cutoff]
    silent.sort(key=lambda p: (p.last_contacted is not None, p.last_contacted or today, -p.influence, p.name))
    for person in silent:
        person.silent_days = None if person.last_contacted is None else (today - person.last_contacted).days
    return birthdays, silent


def org_chart(people):
    """The roots of the reporting tree; each person gets `chart_reports`, strongest influence first."""
    by_id = {p.pk: p for p in people}
    ordered = sorted(people, key=lambda p: (-p.influence, p.name))
    for person in ordered:
        person.chart_reports = []
    roots = []
    for person in ordered:
        boss = by_id.get(person.reports_to_id)
        (boss.chart_reports if boss else roots).append(person)
    # A cycle cannot be saved (models.check_reports_to), but a race could still store one: show it, don't lose it.
    reached = set()

    def reach(nodes):
        stack = list(nodes)
        while stack:
            node = stack.pop()
            if node.pk not in reached:
                reached.add(node.pk)
                stack.extend(node.chart_reports)

    reach(roots)
    for person in ordered:
        if person.pk not in reached:
            by_id[person.reports_to_id].chart_reports.remove(person)
            roots.append(person)
            reach([person])
    return roots


def role_groups(people):
    by_role = {}
    for person in sorted(people, key=lambda p: (-p.influence, p.name)):
        by_role.setdefault(person.buying_role, []).append(person)
    return [(value, label, by_role[value]) for value, label in BuyingRole.choices if value in by_role]


def open_alert_counts(store_ids):
    """{store id: open alerts}, or None while the alerts app (SPEC §5) is not installed."""
    if not apps.is_installed("alerts"):
        return None
    try:
        alert = apps.get_model("alerts", "Alert")
        rows = (
            alert.objects.filter(store_id__in=store_ids, status__in=OPEN_ALERT_STATUSES)
            .values("store_id").annotate(n=Count("pk")).values_list("store_id", "n")
        )
        return dict(rows)
    except (LookupError, FieldError):  # an alerts app of another shape: leave the column out
        return None


def account_stores(user, account, day):
    """(the stores the user may see, largest potential first, at most STORE_ROWS; how many in all; alert counts)."""
    stores = Store.objects.visible_to(user).filter(account=account)
    total = stores.count()
    rows = stores.select_related("region", "rep")
    if day:
        rows = rows.annotate(score=FilteredRelation("scores", condition=Q(scores__as_of=day))).annotate(
            zone=F("score__zone"), potential=F("score__potential"), sow_pct=F("score__wallet_share") * 100,
            ms_pct=F("score__market_share") * 100, abc=F("score__abc"),
        )
        # Largest potential first, then the stores without one by code (the order of potential DESC NULLS LAST,
        # code) in two queries: a LEFT JOIN from the stores made PostgreSQL join all 4,000 scores of a large account
        # to sort them (20-45 ms at 100,000 stores), where an inner join can walk the day's scores by potential
        # (storescore_asof_potential_idx) and stop at the 20th of the account.
        scored = list(rows.filter(potential__isnull=False).order_by(F("potential").desc(nulls_last=True), "code")[:STORE_ROWS])
        rest = rows.filter(potential__isnull=True).order_by("code")[:STORE_ROWS - len(scored)]
        rows = scored + (list(rest) if len(scored) < STORE_ROWS else [])
    else:
        rows = list(rows.order_by("code")[:STORE_ROWS])
    alerts = open_alert_counts([s.pk for s in rows])
    for store in rows:
        store.zone_label = Zone(store.zone).label if getattr(store, "zone", None) else ""
        store.open_alerts = alerts.get(store.pk, 0) if alerts is not None else None
    return rows, total, alerts


def tender_record(account):
    counts = dict(account.events.tenders().order_by().values_list("outcome").annotate(n=Count("pk")))
    won, lost = counts.get("won", 0), counts.get("lost", 0)
    recent = list(account.events.tenders().order_by("-date", "-id")[:TENDER_ROWS])
    return {
        "won": won, "lost": lost, "pending": counts.get("pending", 0) + counts.get("", 0),
        "win_rate": 100 * won / (won + lost) if won + lost else None, "recent": recent,
    }


def render_dossier(request, account, *, bound=None):
    """The dossier page; `bound` = (target, form) of a rejected POST, shown in place with its errors."""
    user, today = request.user, timezone.localdate()
    may_edit = _may_edit(user, account)
    target = bound[0] if bound else (request.GET.get("edit", "") if may_edit else "")
    keep = request.GET.copy()
    keep.pop("edit", None)
    context = {
        "account": account, "may_edit": may_edit, "today": today, "target": target,
        "dossier_url": reverse("account-dossier", args=[account.code]), "keep_query": keep.urlencode(),
        **_scores_section(account),
        **_people_section(account, today),
        **_timeline_section(request, account),
        **_competitors_section(account),
    }
    context.update(_stores_section(user, account, context["store_day"]))
    context.update(_forms_section(account, today, may_edit, target, bound, context))
    context.update(_history_section(account, user, context["people"], context["presences"]))
    return render(request, "accounts/dossier.html", context)


def _scores_section(account):
    """The key numbers of the latest runs; `store_day`: the run the store table shows."""
    scores = list(AccountScore.objects.filter(account=account).order_by("-as_of")[:TREND_RUNS])
    latest = scores[0] if scores else None
    return {
        "score": latest, "figures": key_figures(scores), "trend_runs": len(scores),
        "market_share_pct": None if latest is None or latest.market_share is None else 100 * latest.market_share,
        "market_share_source": MARKET_SHARE_SOURCES.get(latest.market_share_source, "") if latest else "",
        "store_day": latest.as_of if latest else StoreScore.objects.aggregate(last=Max("as_of"))["last"],
    }


def _people_section(account, today):
    people = list(account.decision_makers.all())
    names = {p.pk: p for p in people}
    for person in people:
        person.boss = names.get(person.reports_to_id)
    birthdays, silent = reminders(people, today)
    return {
        "people": people, "groups": role_groups(people), "chart": org_chart(people),
        "birthdays": birthdays, "silent": silent, "birthday_days": BIRTHDAY_DAYS, "no_contact_days": NO_CONTACT_DAYS,
    }


def _timeline_section(request, account):
    timeline_filter = TimelineFilter(request.GET)
    events = account.events.select_related("recorded_by").prefetch_related(
        Prefetch("decision_makers", queryset=DecisionMaker.objects.only("id", "name", "account_id").order_by("name"))
    ).order_by("-date", "-id")
    kind = timeline_filter.cleaned_data.get("kind") if timeline_filter.is_valid() else ""
    if kind:
        events = events.filter(kind=kind)
    timeline = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    timeline.object_list = list(timeline.object_list)
    return {
        "timeline": timeline, "timeline_filter": timeline_filter, "kind": kind,
        "kinds": RelationshipEvent.Kind.choices, "tenders": tender_record(account),
    }


def _competitors_section(account):
    return {"presences": list(
        account.competitor_presences.select_related("competitor")
        .order_by(F("estimated_share").desc(nulls_last=True), "competitor__name")
    )}


def _stores_section(user, account, day):
    stores, store_total, alerts = account_stores(user, account, day)
    return {"stores": stores, "store_total": store_total, "alerts": alerts, "alerts_installed": apps.is_installed("alerts")}


def _forms_section(account, today, may_edit, target, bound, context):
    """The add forms and the one item being edited, which shows its form in place of its card."""
    people, events, presences = context["people"], context["timeline"].object_list, context["presences"]
    forms = {}
    if may_edit:
        forms = {
            "person-new": DecisionMakerForm(account=account, prefix="person-new", people=people),
            "event-new": EventForm(account=account, prefix="event-new", initial={"date": today}, people=people),
            "competitor-new": CompetitorForm(prefix="competitor-new", initial={"updated_on": today}),
        }
        if bound:
            forms[bound[0]] = bound[1]
        else:
            forms.update(_edit_form(target, account, people, events, presences))
    for prefix, items in (("person", people), ("event", events), ("competitor", presences)):
        for item in items:
            item.anchor = f"{prefix}-{item.pk}"
            item.edit_form = forms.get(item.anchor)
    return {
        "profile_form": forms.get("profile"), "person_form": forms.get("person-new"),
        "event_form": forms.get("event-new"), "competitor_form": forms.get("competitor-new"),
        "brands": known_brands() if may_edit else [],
    }


def _history_section(account, user, people, presences):
    return {
        "changes": audit.recent_changes(account, limit=CHANGE_ROWS, known={
            DecisionMaker: {p.pk: p.name for p in people},
            Competitor: {p.competitor_id: p.competitor.name for p in presences},
            User: {u.pk: u.get_full_name() or u.username for u in (account.owner, user) if u is not None},
        }),
        "corrections": visit_corrections(account, user, limit=CORRECTION_ROWS),
    }


def _edit_form(target, account, people, events, presences):
    """The form of the one item being edited (`?edit=person-12`), if it is on the page."""
    kind, _sep, pk = target.partition("-")
    if target == "profile":
        return {"profile": ProfileForm(instance=account, prefix="profile")}
    if not pk.isdigit():
        return {}
    pk = int(pk)
    if kind == "person":
        person = next((p for p in people if p.pk == pk), None)
        return {target: DecisionMakerForm(instance=person, account=account, prefix=target)} if person else {}
    if kind == "event":
        event = next((e for e in events if e.pk == pk), None)
        return {target: EventForm(instance=event, account=account, prefix=target)} if event else {}
    if kind == "competitor":
        presence = next((p for p in presences if p.pk == pk), None)
        return {target: CompetitorForm.for_presence(presence, prefix=target)} if presence else {}
    return {}


def render_summary(request, account):
    """What a rep or supervisor sees of an account of their stores: code, name, kind, tier and their stores' scores."""
    day = StoreScore.objects.aggregate(last=Max("as_of"))["last"]
    return render(request, "accounts/account_summary.html", {
        "account": account, "store_day": day, **_stores_section(request.user, account, day),
    })


@login_required
def dossier(request, code):
    account = _account_or_404(request.user, code)
    if not _may_read(request.user, account):
        return render_summary(request, account)
    return render_dossier(request, account)


# -- edits: small views posting back to the dossier (POST, redirect, GET) ------------------------


def _editable_account(request, code) -> KeyAccount:
    account = _account_or_404(request.user, code)
    if not _may_edit(request.user, account):
        raise PermissionDenied
    return account


def _done(request, account, anchor, message):
    messages.success(request, message)
    return redirect(f"{reverse('account-dossier', args=[account.code])}#{anchor}")


def _service_errors(form, exc: DjangoValidationError):
    detail = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
    for name, errors in detail.items():
        form.add_error(name if name in form.fields else None, errors)


@login_required
@require_POST
def profile_save(request, code):
    account = _editable_account(request, code)
    form = ProfileForm(request.POST, instance=KeyAccount.objects.get(pk=account.pk), prefix="profile")
    if form.is_valid():
        try:
            services.update_profile(account=account, user=request.user, **form.cleaned_data)
        except DjangoValidationError as exc:
            _service_errors(form, exc)
        else:
            return _done(request, account, "profile", _("Profile of %(account)s saved.") % {"account": account.name})
    return render_dossier(request, account, bound=("profile", form))


@dataclass(frozen=True)
class DossierItem:
    """One kind of row of the dossier that the page adds, changes and deletes: people, events, competitors."""

    rows: object  # the queryset the row is looked up in (within the account of the URL)
    form: Callable  # (data, row or None, account, prefix) -> the bound form
    save: Callable  # (account, user, row or None, form) -> the saved row
    saved: Callable  # row -> the success message
    delete: Callable  # (row, user) -> None
    deleted: Callable  # row -> the success message
    list_anchor: str  # where the page goes back to after a delete


def _save_event(account, user, event, form):
    data = dict(form.cleaned_data)
    people = list(data.pop("decision_makers"))
    return services.save_event(account=account, user=user, event=event, decision_makers=people, **data)


ITEMS = {
    "person": DossierItem(
        rows=DecisionMaker.objects.all(),
        form=lambda data, person, account, prefix: DecisionMakerForm(data, instance=person, account=account, prefix=prefix),
        save=lambda account, user, person, form: services.save_decision_maker(
            account=account, user=user, person=form.instance, **form.cleaned_data),
        saved=lambda person: _("%(name)s saved.") % {"name": person.name},
        delete=lambda person, user: services.delete_decision_maker(person=person, user=user),
        deleted=lambda person: _("%(name)s deleted; their reports now report one level up.") % {"name": person.name},
        list_anchor="people",
    ),
    "event": DossierItem(
        rows=RelationshipEvent.objects.all(),
        form=lambda data, event, account, prefix: EventForm(data, instance=event, account=account, prefix=prefix),
        save=_save_event,
        saved=lambda event: _("Event of %(date)s saved.") % {"date": event.date.isoformat()},
        delete=lambda event, user: services.delete_event(event=event, user=user),
        deleted=lambda event: _("Event of %(date)s deleted.") % {"date": event.date.isoformat()},
        list_anchor="timeline",
    ),
    "competitor": DossierItem(
        rows=CompetitorPresence.objects.select_related("competitor"),
        form=lambda data, presence, account, prefix: CompetitorForm(data, prefix=prefix),
        save=lambda account, user, presence, form: services.save_competitor_presence(
            account=account, user=user, presence=presence, **form.service_fields()),
        saved=lambda presence: _("%(brand)s saved.") % {"brand": presence.competitor.name},
        delete=lambda presence, user: services.delete_competitor_presence(presence=presence, user=user),
        deleted=lambda presence: _("%(brand)s removed from the account.") % {"brand": presence.competitor.name},
        list_anchor="competitors",
    ),
}


@login_required
@require_POST
def item_save(request, code, kind, pk=None):
    """Add (no `pk`) or change a person, event or competitor of the dossier; a rejected form shows in place."""
    account, item = _editable_account(request, code), ITEMS[kind]
    row = get_object_or_404(item.rows, account=account, pk=pk) if pk else None
    target = f"{kind}-{pk}" if pk else f"{kind}-new"
    form = item.form(request.POST, row, account, target)
    if form.is_valid():
        try:
            row = item.save(account, request.user, row, form)
        except DjangoValidationError as exc:
            _service_errors(form, exc)
        else:
            return _done(request, account, f"{kind}-{row.pk}", item.saved(row))
    return render_dossier(request, account, bound=(target, form))


@login_required
@require_POST
def item_delete(request, code, kind, pk):
    account, item = _editable_account(request, code), ITEMS[kind]
    row = get_object_or_404(item.rows, account=account, pk=pk)
    item.delete(row, request.user)
    return _done(request, account, item.list_anchor, item.deleted(row))
