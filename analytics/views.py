import csv
import statistics
from dataclasses import dataclass
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Avg, Count, DateField, ExpressionWrapper, F, Max, Min, OuterRef, Q, Subquery, Sum
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from org.access import Action, can
from stores import services as store_services
from stores.models import StoreVisit

from .forms import DEFAULT_SORT, RunDateForm, StoreScoreFilter
from .models import AccountScore, AnalyticsRun, PotentialModelFit, StoreScore, Zone
from .params import Params

PAGE_SIZE = 50
TOP_LIST = 50  # rows per audit list on the comparison page; the full lists are a filter of the scores page
MATRIX_LIMIT = 2000  # dots per chart: beyond that a scatter is solid ink; ~140 bytes of JSON each, 280 kB
RUN_HISTORY = 20
TYPICAL_DAYS = 28  # a suspect day is shown next to the store's average over the 28 days before it
CSV_CHUNK = 2000  # rows fetched per round trip while streaming an export

ZONE_ORDER = [Zone.ATTACK, Zone.DEFEND, Zone.MAINTENANCE, Zone.UNCLASSIFIED]
COEFFICIENT_LABELS = {
    "Intercept": gettext_lazy("Intercept"),
    "floor_area_m2": gettext_lazy("Floor area (per m²)"),
    "checkouts": gettext_lazy("Checkouts (per checkout)"),
    "open_24h": gettext_lazy("Open 24 hours (yes = 1)"),
    "shelves": gettext_lazy("Shelves of the category (per shelf)"),
}


@dataclass
class Run:
    """The scored day a page shows (`day` is None before the first run) and the picker to change it."""

    day: object
    latest: object
    form: RunDateForm


def chosen_run(request) -> Run:
    # One row per scored day, written in the same transaction as that day's scores.
    dates = list(PotentialModelFit.objects.order_by("-as_of").values_list("as_of", flat=True))
    form = RunDateForm(request.GET or None, dates=dates)
    return Run(day=form.day, latest=dates[0] if dates else None, form=form)


def store_scores(user, run: Run):
    if run.day is None:
        return StoreScore.objects.none()
    return StoreScore.objects.visible_to(user).latest(run.day)


def account_scores(user, run: Run):
    if run.day is None:
        return AccountScore.objects.none()
    return AccountScore.objects.visible_to(user).latest(run.day)


def with_percents(scores):
    """Shares as percentages, computed by the database for the templates."""
    return scores.annotate(sow_pct=F("wallet_share") * 100, ms_pct=F("market_share") * 100)


PLOTTED = Q(potential__gt=0, wallet_share__isnull=False)  # a point of the matrix: potential and wallet share known


def zone_summary(scores):
    """Count, potential and own sales per zone in one grouped query, in the order attack, defend, ..."""
    rows = {
        row["zone"]: row
        for row in scores.order_by().values("zone").annotate(
            n=Count("pk"), potential_sum=Sum("potential"), own_sum=Sum("own_annual"),
            plotted=Count("pk", filter=PLOTTED), shares=Count("market_share", filter=PLOTTED),
            low_share=Min("market_share", filter=PLOTTED), high_share=Max("market_share", filter=PLOTTED),
        )
    }
    summary = []
    for zone in ZONE_ORDER:
        row = rows.get(zone, {})
        summary.append({
            "zone": zone.value, "label": zone.label, "count": row.get("n", 0),
            "potential": row.get("potential_sum"), "own": row.get("own_sum"), "plotted": row.get("plotted", 0),
        })
    known = sum(r["potential"] or 0 for r in summary)
    for row in summary:
        row["potential_pct"] = 100 * row["potential"] / known if known and row["potential"] is not None else None
    total = {
        "count": sum(r["count"] for r in summary), "potential": known,
        "own": sum(r["own"] or 0 for r in summary), "plotted": sum(r["plotted"] for r in summary),
        # the market shares of the plotted rows: how many are known, and whether they differ
        "shares": sum(row.get("shares", 0) for row in rows.values()),
        "varied_shares": len({row[k] for row in rows.values() for k in ("low_share", "high_share")} - {None}) > 1,
    }
    return summary, total


# --- scores list and export ---------------------------------------------------------------


CSV_COLUMNS = [
    ("store", "store__code"), ("store_name", "store__name"), ("region", "store__region__code"),
    ("account", "store__account__code"), ("as_of", "as_of"), ("obs_days", "obs_days"), ("observed", "observed"),
    ("potential", "potential"), ("potential_source", "potential_source"), ("own_annual", "own_annual"),
    ("wallet_share", "wallet_share"), ("market_share", "market_share"), ("market_share_source", "market_share_source"),
    ("key_potential", "key_potential"), ("zone", "zone"), ("abc", "abc"), ("xyz", "xyz"), ("trad_ka", "trad_ka"),
    ("missed_attack", "missed_attack"), ("false_ka", "false_ka"), ("customer_status", "customer_status"),
]


class _Echo:
    def write(self, value):
        return value


def _csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1 else f"{value:.1f}"
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value  # a spreadsheet must not run a store name as a formula
    return value


def scores_csv(scores, day):
    """The filtered rows, streamed: the export holds any number of stores in constant memory."""
    writer = csv.writer(_Echo())
    rows = scores.values_list(*(path for column, path in CSV_COLUMNS)).iterator(chunk_size=CSV_CHUNK)

    def lines():
        yield writer.writerow([column for column, path in CSV_COLUMNS])
        for row in rows:
            yield writer.writerow([_csv_cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="store-scores-{day.isoformat() if day else "none"}.csv"'
    return response


@login_required
def score_list(request):
    run = chosen_run(request)
    scores = store_scores(request.user, run).select_related("store__region", "store__account")
    filters = StoreScoreFilter(request.GET, queryset=scores, request=request)
    if request.GET.get("format") == "csv":
        return scores_csv(filters.qs, run.day)
    page = Paginator(with_percents(filters.qs), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "analytics/score_list.html", {
        "run": run, "filters": filters, "page": page,
        "sort": filters.form.cleaned_data.get("sort") or DEFAULT_SORT,
    })


# --- attack / defend matrix ---------------------------------------------------------------


def _median_market_share(plottable, n):
    """The median S* over the `n` plottable rows with one, drawn or not: one query whatever the size."""
    if not n:
        return None
    shares = plottable.exclude(market_share__isnull=True).order_by("market_share").values_list("market_share", flat=True)
    return statistics.median(list(shares[(n - 1) // 2 : n // 2 + 1]))


# A row's place in the sample: ((id x K) mod P)^2 mod P, P = 2^31 - 1 (prime). The square breaks the regular pattern a
# multiplication alone leaves on ids with a stride (an account's stores); every product stays under 2^62.
SAMPLE_MULTIPLIER = 2654435761
SAMPLE_PRIME = 2**31 - 1
SAMPLE_MARGIN = 0.95  # aim a little under the limit, so the sample (about limit x 0.95 +- 2%) is rarely cut


def _matrix_points(plottable, total, code, name, key):
    """At most MATRIX_LIMIT rows, largest potential first: all of them, or a fixed pseudo-random sample picked by a
    hash of the row's id (the same rows on every visit and under every filter), which keeps the cloud's shape and
    each zone's share of the points without sorting every row."""
    rows = plottable
    sampled = total > MATRIX_LIMIT
    if sampled:
        cut = int(SAMPLE_PRIME * SAMPLE_MARGIN * MATRIX_LIMIT / total)
        mixed = F(key) * SAMPLE_MULTIPLIER % SAMPLE_PRIME
        rows = rows.alias(mixed=mixed).alias(bucket=F("mixed") * F("mixed") % SAMPLE_PRIME).filter(bucket__lt=cut)
    rows = rows.order_by(F("potential").desc(), F(code).asc())
    rows = rows.values_list(code, name, "potential", "wallet_share", "market_share", "zone")[:MATRIX_LIMIT]
    return [{"code": c, "name": n, "x": p, "y": w, "s": s, "zone": z} for c, n, p, w, s, z in rows], sampled


def _matrix_context(run, scores, *, code, name, key, detail_url, median_label):
    summary, total = zone_summary(scores)
    plottable = scores.filter(PLOTTED)
    points, sampled = _matrix_points(plottable, total["plotted"], code, name, key)
    market_share, varied = _median_market_share(plottable, total["shares"]), total["varied_shares"]
    if market_share is not None and not varied:
        line_label = _("Market share S*: %(share).1f%%") % {"share": 100 * market_share}
    elif market_share is not None:
        line_label = median_label % {"share": 100 * market_share}
    else:
        line_label = ""
    chart = {
        "points": points,
        "marketShare": market_share,
        "detailUrl": detail_url,
        "labels": {
            "x": _("Potential (units a year, log scale)"), "y": _("Wallet share (own sales ÷ potential)"),
            "zones": {zone.value: str(zone.label) for zone in Zone}, "line": line_label,
            "potential": _("Potential"), "walletShare": _("Wallet share"), "marketShare": _("Market share S*"),
        },
    }
    return {
        "run": run, "summary": summary, "total": total, "chart": chart, "plotted": len(points),
        "sampled": sampled, "unplotted": total["count"] - total["plotted"], "limit": MATRIX_LIMIT,
        "varied_shares": varied,
        "market_share_pct": None if market_share is None else 100 * market_share,
    }


@login_required
def score_matrix(request):
    run = chosen_run(request)
    filters = StoreScoreFilter(request.GET, queryset=store_scores(request.user, run), request=request)
    context = _matrix_context(
        run, filters.qs, code="store__code", name="store__name", key="store_id", detail_url=reverse("store-detail", args=["__code__"]),
        median_label=_("Median market share S* of the plotted stores: %(share).1f%%"),
    )
    return render(request, "analytics/matrix.html", {**context, "filters": filters, "level": "stores"})


@login_required
def account_matrix(request):
    if not can(request.user, Action.READ_DOSSIERS):  # account-wide figures include other regions' stores
        raise PermissionDenied
    run = chosen_run(request)
    context = _matrix_context(
        run, account_scores(request.user, run), code="account__code", name="account__name", key="account_id", detail_url="",
        median_label=_("Median market share S* of the plotted accounts: %(share).1f%%"),
    )
    return render(request, "analytics/matrix.html", {**context, "filters": None, "level": "accounts"})


# --- traditional split vs potential -------------------------------------------------------


def split_counts(scores):
    """The 2x2 of traditional KA (own sales class A) against key potential, in one query."""
    counts = scores.aggregate(
        ka_key=Count("pk", filter=Q(trad_ka=True, key_potential=True)),
        ka_other=Count("pk", filter=Q(trad_ka=True, key_potential=False)),
        other_key=Count("pk", filter=Q(trad_ka=False, key_potential=True)),
        other_other=Count("pk", filter=Q(trad_ka=False, key_potential=False)),
        unknown=Count("pk", filter=Q(potential__isnull=True)),
        missed=Count("pk", filter=Q(missed_attack=True)),
        false_ka=Count("pk", filter=Q(false_ka=True)),
    )
    counts["ka"] = counts["ka_key"] + counts["ka_other"]
    counts["other"] = counts["other_key"] + counts["other_other"]
    counts["key"] = counts["ka_key"] + counts["other_key"]
    counts["not_key"] = counts["ka_other"] + counts["other_other"]
    counts["total"] = counts["ka"] + counts["other"]
    return counts


@login_required
def score_comparison(request):
    run = chosen_run(request)
    scores = store_scores(request.user, run)
    listed = with_percents(scores.select_related("store")).order_by(F("potential").desc(nulls_last=True), "store__code")
    return render(request, "analytics/comparison.html", {
        "run": run,
        "stores": split_counts(scores),
        "accounts": split_counts(account_scores(request.user, run)) if can(request.user, Action.READ_DOSSIERS) else None,
        "missed": listed.filter(missed_attack=True)[:TOP_LIST],
        "false_ka": listed.filter(false_ka=True)[:TOP_LIST],
        "top": TOP_LIST,
    })


# --- potential model ----------------------------------------------------------------------


def _coefficients(fit):
    """(label, name, value, training range) rows: intercept, numeric drivers, then format levels."""
    order = ["Intercept", "floor_area_m2", "checkouts", "open_24h", "shelves"]
    names = [n for n in order if n in fit.coefficients] + sorted(n for n in fit.coefficients if n not in order)
    rows = []
    for name in names:
        if name.startswith("format[") and name.endswith("]"):
            label = _("Format %(level)s (vs the reference)") % {"level": name[7:-1]}
        else:
            label = COEFFICIENT_LABELS.get(name, name)
        rows.append({"label": label, "name": name, "value": fit.coefficients[name], "range": fit.ranges.get(name)})
    return rows


@login_required
def potential_model(request):
    run = chosen_run(request)
    fit = PotentialModelFit.objects.filter(as_of=run.day).first() if run.day else None
    context = {"run": run, "fit": fit}
    if fit is not None:
        used = (
            AnalyticsRun.objects.filter(as_of=run.day, status=AnalyticsRun.Status.SUCCEEDED)
            .order_by("-finished_at").values_list("params", flat=True).first()
        )
        params = Params.from_dict(used)
        required = params.model_min_n_base + params.model_min_n_per_predictor * fit.m
        context.update({
            "params": params, "required_n": required, "n_ok": fit.n >= required,
            "press_ok": fit.press_r2 is not None and fit.press_r2 >= params.model_min_press_r2,
            "coefficients": _coefficients(fit),
        })
    if can(request.user, Action.RUN_ANALYTICS):
        context["runs"] = AnalyticsRun.objects.visible_to(request.user).select_related("requested_by")[:RUN_HISTORY]
    return render(request, "analytics/model.html", context)


# --- suspect days -------------------------------------------------------------------------


def with_typical_total(visits):
    """Each visit with `typical_total`: the store's mean total over the valid days of the 28 before it."""
    start = ExpressionWrapper(OuterRef("date") - timedelta(days=TYPICAL_DAYS), output_field=DateField())
    typical = (
        StoreVisit.objects.valid()
        .filter(store=OuterRef("store"), date__lt=OuterRef("date"), date__gte=start)
        .order_by().values("store").annotate(mean=Avg("total_sales")).values("mean")
    )
    return visits.annotate(typical_total=Subquery(typical))


@login_required
def suspect_list(request):
    state = request.GET.get("state", "")
    visits = StoreVisit.objects.visible_to(request.user).filter(suspect=True)
    if state == "pending":
        visits = visits.filter(suspect_confirmed=False)
    elif state == "confirmed":
        visits = visits.filter(suspect_confirmed=True)
    visits = with_typical_total(
        visits.select_related("store", "rep", "suspect_confirmed_by").order_by("suspect_confirmed", "-date", "store__code")
    )
    page = Paginator(visits, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "analytics/suspect_list.html", {
        "page": page, "state": state, "may_confirm": can(request.user, Action.LOG_VISITS), "typical_days": TYPICAL_DAYS,
    })


@login_required
@require_POST
def suspect_confirm(request, pk):
    if not can(request.user, Action.LOG_VISITS):  # reps, supervisors, analysts, admins; KA managers only read
        raise PermissionDenied
    visit = get_object_or_404(StoreVisit.objects.visible_to(request.user).select_related("store"), pk=pk)
    try:
        store_services.confirm_suspect(visit=visit, user=request.user)
    except ValidationError:
        messages.error(request, _("The visit of %(store)s on %(date)s is not flagged as a suspect any more.") % {
            "store": visit.store.name, "date": visit.date.isoformat(),
        })
    else:
        messages.success(request, _(
            "Confirmed: %(total)s units at %(store)s on %(date)s are a real figure and count from the next run on."
        ) % {"total": visit.total_sales, "store": visit.store.name, "date": visit.date.isoformat()})
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = reverse("suspect-list")
    return redirect(back)
