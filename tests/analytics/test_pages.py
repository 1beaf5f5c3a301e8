import csv
import datetime as dt
import io
import json
import re
from types import SimpleNamespace

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from accounts.models import KeyAccount
from analytics import services
from analytics.models import PotentialModelFit, StoreScore
from stores.models import Store, StoreVisit
from tests.analytics.test_services import AS_OF, build_world
from tests.factories import (
    AnalystFactory,
    KAManagerFactory,
    KeyAccountFactory,
    RegionFactory,
    RepFactory,
    StoreFactory,
    SupervisorFactory,
)

pytestmark = pytest.mark.django_db

# build_world() scores its 12 stores like this at AS_OF (potential grows with the store number):
#   maintenance s00 s01 s02 s03 (s03 is traditional KA: false KA)   account "wm" holds s00-s03
#   attack      s06 s07 (not traditional KA: missed attack) s08 s09
#   defend      s04 s05 s10 s11
# Region n1 holds the even stores, n2 the odd ones. Nobody is the rep of a store until `world` assigns:
REP1_STORES = ["s10", "s06", "s03"]  # by potential, highest first
REP2_STORES = ["s07", "s04"]
TYPO_STORES = ["s03", "s06", "s07"]  # one day each typed with two extra zeros: the run flags it


@pytest.fixture
def world():
    stores = {store.code: store for store in build_world()}
    for i, code in enumerate(sorted(stores)):
        # build_world derives own sales from the primary key; derive them from the code instead, as
        # they come out on a fresh SQLite table, so that the zones above hold on every database.
        rate = 5 + 2 * ((i + 1) % 7)
        StoreVisit.objects.filter(store__code=code).update(own_sales=F("total_sales") * rate / 100)
    n1, n2 = stores["s00"].region, stores["s01"].region
    rep1 = RepFactory(username="rep1", region=n1)
    rep2 = RepFactory(username="rep2", region=n1)
    Store.objects.filter(code__in=REP1_STORES).update(rep=rep1)
    Store.objects.filter(code__in=REP2_STORES).update(rep=rep2)
    StoreVisit.objects.filter(store__rep__isnull=False).update(rep=rep1)  # who logged them does not matter here
    sup1 = SupervisorFactory(username="sup1")
    n1.supervisors.add(sup1)
    ka = KAManagerFactory(username="ka1")
    KeyAccount.objects.filter(code="wm").update(owner=ka)
    typo_day = AS_OF - dt.timedelta(days=10)
    for code in TYPO_STORES:
        visit = StoreVisit.objects.get(store__code=code, date=typo_day)
        StoreVisit.objects.filter(pk=visit.pk).update(total_sales=visit.total_sales * 100)
    services.recompute(as_of=AS_OF)
    return SimpleNamespace(
        stores=stores, n1=n1, n2=n2, rep1=rep1, rep2=rep2, sup1=sup1, ka=ka, analyst=AnalystFactory(username="analyst"),
        typo_day=typo_day,
    )


@pytest.fixture
def as_user(client):
    def login(user):
        client.force_login(user)
        return client

    return login


def listed(response):
    return [score.store.code for score in response.context["page"].object_list]


def chart_data(response):
    """The json_script block of the matrix page, parsed as the browser's JS parses it."""
    match = re.search(r'<script id="matrix-data" type="application/json">(.*?)</script>', response.content.decode(), re.S)
    return json.loads(match.group(1))


def csv_rows(response):
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


# Login and scope


@pytest.mark.parametrize("name", [
    "score-list", "score-matrix", "account-matrix", "score-comparison", "potential-model", "suspect-list",
])
def test_pages_require_login(client, name):
    url = reverse(name)

    response = client.get(url)

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"


def test_confirming_requires_login(client, world):
    visit = StoreVisit.objects.get(store__code="s06", date=world.typo_day)

    response = client.post(reverse("suspect-confirm", args=[visit.pk]))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    visit.refresh_from_db()
    assert visit.suspect_confirmed is False


def test_the_model_page_has_the_name_the_brief_gives_it():
    # The API's potential-model route shares the name; the page is declared later, so reverse() finds it.
    assert reverse("potential-model") == "/analytics/model/"


def test_a_rep_sees_only_own_stores_on_every_page(as_user, world):
    client = as_user(world.rep1)

    scores = client.get(reverse("score-list"))
    exported = csv_rows(client.get(reverse("score-list"), {"format": "csv"}))
    matrix = client.get(reverse("score-matrix"))
    comparison = client.get(reverse("score-comparison"))
    suspects = client.get(reverse("suspect-list"))

    assert listed(scores) == REP1_STORES
    assert [row["store"] for row in exported] == REP1_STORES
    assert [p["code"] for p in chart_data(matrix)["points"]] == REP1_STORES
    assert [row["count"] for row in matrix.context["summary"]] == [1, 1, 1, 0]  # attack, defend, maintenance, unclassified
    assert [s.store.code for s in comparison.context["missed"]] == ["s06"]
    assert [s.store.code for s in comparison.context["false_ka"]] == ["s03"]
    assert comparison.context["stores"]["total"] == 3
    assert [(v.store.code, v.date) for v in suspects.context["page"].object_list] == [
        ("s03", world.typo_day), ("s06", world.typo_day),
    ]
    for response in (scores, matrix, comparison, suspects):
        page = response.content.decode()
        assert "s07" not in page and "s04" not in page


def test_a_supervisor_sees_the_stores_of_own_regions(as_user, world):
    response = as_user(world.sup1).get(reverse("score-list"), {"sort": "store"})

    assert listed(response) == ["s00", "s02", "s04", "s06", "s08", "s10"]
    assert [r.code for r in response.context["filters"].form.fields["region"].queryset] == ["n1"]


def test_a_ka_manager_sees_the_stores_and_the_account_they_own(as_user, world):
    client = as_user(world.ka)

    scores = client.get(reverse("score-list"))
    accounts = client.get(reverse("account-matrix"))

    assert listed(scores) == ["s03", "s02", "s01", "s00"]
    assert [p["code"] for p in chart_data(accounts)["points"]] == ["wm"]


def test_the_account_matrix_is_for_readers_of_dossiers_and_leaves_out_accounts_without_a_store(as_user, world):
    KeyAccountFactory(code="other")
    services.recompute(as_of=AS_OF)

    ka = as_user(world.ka).get(reverse("account-matrix"))
    analyst = as_user(world.analyst).get(reverse("account-matrix"))

    assert as_user(world.rep1).get(reverse("account-matrix")).status_code == 403  # wm's figures include other stores
    assert as_user(world.sup1).get(reverse("account-matrix")).status_code == 403
    assert [p["code"] for p in chart_data(ka)["points"]] == ["wm"]
    assert ka.context["total"]["count"] == 1
    assert [p["code"] for p in chart_data(analyst)["points"]] == ["wm"]
    assert analyst.context["total"]["count"] == 2  # "other" has no store: unclassified, not plotted
    assert analyst.context["unplotted"] == 1


# Filters, sorting, export


@pytest.mark.parametrize("params, expected", [
    ({"zone": "attack"}, ["s09", "s08", "s07", "s06"]),
    ({"zone": "defend", "region": "n1"}, ["s10", "s04"]),
    ({"account": "wm"}, ["s03", "s02", "s01", "s00"]),
    ({"abc": "B"}, ["s07", "s06", "s02"]),
    ({"audit": "missed_attack"}, ["s07", "s06"]),
    ({"audit": "false_ka"}, ["s03"]),
    ({"zone": "maintenance", "sort": "potential"}, ["s00", "s01", "s02", "s03"]),
    ({"zone": "attack", "sort": "-own_annual"}, ["s09", "s08", "s07", "s06"]),
    ({"region": "n2", "sort": "wallet_share"}, ["s07", "s01", "s09", "s03", "s11", "s05"]),  # own rates 7 9 11 13 15 17 %
])
def test_the_score_filters_give_exact_lists(as_user, world, params, expected):
    response = as_user(world.analyst).get(reverse("score-list"), params)

    assert listed(response) == expected


def test_the_xyz_and_customer_status_filters(as_user, world):
    StoreScore.objects.filter(store__code="s05").update(xyz="Y", customer_status="at_risk")
    StoreScore.objects.filter(store__code="s08").update(customer_status="lost")
    client = as_user(world.analyst)

    assert listed(client.get(reverse("score-list"), {"xyz": "Y"})) == ["s05"]
    assert listed(client.get(reverse("score-list"), {"customer_status": "lost"})) == ["s08"]
    assert listed(client.get(reverse("score-list"), {"customer_status": "never"})) == []


def test_the_filter_choices_are_limited_to_the_users_scope(as_user, world):
    rep1 = as_user(world.rep1).get(reverse("score-list")).context["filters"].form
    rep2_response = as_user(world.rep2).get(reverse("score-list"), {"account": "wm"})
    rep2 = rep2_response.context["filters"].form

    assert [r.code for r in rep1.fields["region"].queryset] == ["n1", "n2"]  # own region and s03's
    assert [a.code for a in rep1.fields["account"].queryset] == ["wm"]
    assert [a.code for a in rep2.fields["account"].queryset] == []
    assert list(rep2.errors) == ["account"]
    assert listed(rep2_response) == REP2_STORES


def test_the_csv_export_holds_the_filtered_rows_of_the_scope_on_every_page(as_user, world):
    analyst = csv_rows(as_user(world.analyst).get(reverse("score-list"), {"format": "csv", "zone": "attack", "page": "2"}))
    rep = csv_rows(as_user(world.rep1).get(reverse("score-list"), {"format": "csv", "zone": "attack"}))

    assert [row["store"] for row in analyst] == ["s09", "s08", "s07", "s06"]
    assert [row["store"] for row in rep] == ["s06"]
    score = StoreScore.objects.get(store__code="s06")
    assert rep[0] == {
        "store": "s06", "store_name": world.stores["s06"].name, "region": "n1", "account": "", "as_of": "2026-06-30",
        "obs_days": str(score.obs_days), "observed": "true", "potential": f"{score.potential:.1f}",
        "potential_source": "observed", "own_annual": f"{score.own_annual:.1f}",
        "wallet_share": f"{score.wallet_share:.6g}", "market_share": "0.12", "market_share_source": "country",
        "key_potential": "true", "zone": "attack", "abc": "B", "xyz": "X", "trad_ka": "false",
        "missed_attack": "true", "false_ka": "false", "customer_status": "active",
    }


def test_the_csv_export_defuses_spreadsheet_formulas(as_user, world):
    Store.objects.filter(code="s06").update(name="=HYPERLINK(\"http://evil\")")

    rows = csv_rows(as_user(world.rep1).get(reverse("score-list"), {"format": "csv", "zone": "attack"}))

    assert rows[0]["store_name"] == "'=HYPERLINK(\"http://evil\")"


def test_the_score_list_links_each_store_to_its_page(as_user, world):
    page = as_user(world.rep1).get(reverse("score-list")).content.decode()

    assert f'href="{reverse("store-detail", args=["s06"])}"' in page


# Earlier runs


def test_as_of_shows_an_earlier_run(as_user, world):
    earlier = AS_OF - dt.timedelta(days=7)
    services.recompute(as_of=earlier)
    StoreScore.objects.filter(as_of=earlier, store__code="s06").update(zone="defend")
    client = as_user(world.rep1)

    latest = client.get(reverse("score-list"), {"zone": "defend"})
    before = client.get(reverse("score-list"), {"zone": "defend", "as_of": earlier.isoformat()})

    assert listed(latest) == ["s10"]
    assert listed(before) == ["s10", "s06"]
    assert before.context["run"].day == earlier
    assert "You are looking at the run of" in before.content.decode()


@pytest.mark.parametrize("name", ["score-list", "score-matrix", "account-matrix", "score-comparison", "potential-model"])
@pytest.mark.parametrize("value, message", [
    ("2026-13-45", "Enter a valid date (YYYY-MM-DD)."),
    ("yesterday", "Enter a valid date (YYYY-MM-DD)."),
    ("2020-01-01", "No analytics run scored Jan. 1, 2020."),
])
def test_a_bad_as_of_shows_a_message_and_the_latest_run(as_user, world, name, value, message):
    response = as_user(world.analyst).get(reverse(name), {"as_of": value})

    assert response.status_code == 200
    assert response.context["run"].day == AS_OF
    page = response.content.decode()
    assert message in page
    assert "Showing the latest run (June 30, 2026) instead." in page


@pytest.mark.parametrize("name", ["score-list", "score-matrix", "account-matrix", "score-comparison", "potential-model"])
def test_the_pages_say_so_before_the_first_run(as_user, name):
    response = as_user(AnalystFactory()).get(reverse(name), {"as_of": "2026-06-30"})

    assert response.status_code == 200
    assert "No analytics run yet." in response.content.decode()


# The matrix


def test_the_matrix_hands_the_visible_stores_to_vendored_chartjs(as_user, world):
    client = as_user(world.sup1)

    response = client.get(reverse("score-matrix"))

    page = response.content.decode()
    data = chart_data(response)
    assert [(p["code"], p["zone"]) for p in data["points"]] == [
        ("s10", "defend"), ("s08", "attack"), ("s06", "attack"), ("s04", "defend"), ("s02", "maintenance"),
        ("s00", "maintenance"),
    ]
    s06 = StoreScore.objects.get(store__code="s06")
    assert data["points"][2] == {
        "code": "s06", "name": world.stores["s06"].name, "x": s06.potential, "y": s06.wallet_share, "s": 0.12,
        "zone": "attack",
    }
    assert data["marketShare"] == 0.12
    assert data["labels"]["line"] == "Market share S*: 12.0%"
    assert data["detailUrl"] == "/stores/__code__/"
    assert '<script src="/static/vendor/chartjs/chart.umd.js" defer></script>' in page
    assert '<script src="/static/js/analytics.js" defer></script>' in page
    assert "<script>" not in page and "<style" not in page and "style=" not in page


@pytest.mark.parametrize("path, marker", [
    ("/static/vendor/chartjs/chart.umd.js", b"Chart.js v4.6.1"),
    ("/static/js/analytics.js", b"matrix-data"),
    ("/static/css/analytics.css", b"--zone-attack"),
])
def test_the_chart_assets_are_served_locally(client, path, marker):
    response = client.get(path)

    assert response.status_code == 200
    assert marker in b"".join(response.streaming_content)


def test_the_matrix_filters_by_region(as_user, world):
    response = as_user(world.analyst).get(reverse("score-matrix"), {"region": "n2", "account": "wm"})

    assert [p["code"] for p in chart_data(response)["points"]] == ["s03", "s01"]


def test_the_matrix_line_is_the_median_market_share_when_stores_differ(as_user, world):
    StoreScore.objects.filter(store__code__in=["s00", "s02", "s04"]).update(market_share=0.10)
    StoreScore.objects.filter(store__code__in=["s06", "s08"]).update(market_share=0.30)

    data = chart_data(as_user(world.sup1).get(reverse("score-matrix")))

    # 0.10 0.10 0.10 | 0.12 (s10) | 0.30 0.30
    assert data["marketShare"] == pytest.approx(0.11)
    assert data["labels"]["line"] == "Median market share S* of the plotted stores: 11.0%"


def test_the_matrix_summarises_count_and_potential_per_zone(as_user, world):
    response = as_user(world.analyst).get(reverse("score-matrix"))

    scores = {s.store.code: s.potential for s in StoreScore.objects.select_related("store")}
    rows = [(r["zone"], r["count"], r["potential"]) for r in response.context["summary"]]
    assert rows == [
        ("attack", 4, pytest.approx(sum(scores[c] for c in ["s06", "s07", "s08", "s09"]))),
        ("defend", 4, pytest.approx(sum(scores[c] for c in ["s04", "s05", "s10", "s11"]))),
        ("maintenance", 4, pytest.approx(sum(scores[c] for c in ["s00", "s01", "s02", "s03"]))),
        ("unclassified", 0, None),
    ]
    assert response.context["total"]["count"] == 12


# Traditional split against potential


def test_the_comparison_lists_missed_attack_and_false_ka_with_the_2x2(as_user, world):
    response = as_user(world.analyst).get(reverse("score-comparison"))

    assert [s.store.code for s in response.context["missed"]] == ["s07", "s06"]
    assert [s.store.code for s in response.context["false_ka"]] == ["s03"]
    stores = response.context["stores"]
    # traditional KA (class A on own sales): s03 s04 s05 s08 s09 s10 s11; key potential: s04-s11
    assert (stores["ka_key"], stores["ka_other"], stores["other_key"], stores["other_other"]) == (6, 1, 2, 3)
    assert (stores["missed"], stores["false_ka"], stores["total"]) == (2, 1, 12)
    accounts = response.context["accounts"]
    assert (accounts["ka_key"], accounts["ka_other"], accounts["other_key"], accounts["other_other"]) == (1, 0, 0, 0)
    page = response.content.decode()
    assert f'{StoreScore.objects.get(store__code="s07").potential:,.0f}' in page


# The potential model


def test_the_model_page_shows_the_fit_and_why_it_is_not_usable(as_user, world):
    response = as_user(world.analyst).get(reverse("potential-model"))

    page = response.content.decode()
    fit = PotentialModelFit.objects.get()
    assert fit.usable is False
    assert "Not usable" in page
    assert escape(fit.reason) in page  # "n=12 < 106 required"
    assert "n ≥ 50 + 8 × m = 50 + 8 × 7 = 106; this fit has n = 12." in page
    assert "PRESS R² ≥ 0.70" in page
    assert [row["name"] for row in response.context["coefficients"]] == [
        "Intercept", "floor_area_m2", "checkouts", "open_24h", "shelves", "format[hypermarket]", "format[large]",
        "format[medium]",
    ]
    assert [(r.as_of, r.status) for r in response.context["runs"]] == [(AS_OF, "succeeded")]


def test_only_analysts_see_the_runs_and_the_model_link(as_user, world):
    rep_page = as_user(world.rep1).get(reverse("potential-model"))
    analyst_page = as_user(world.analyst).get(reverse("score-list")).content.decode()

    assert rep_page.status_code == 200
    assert "runs" not in rep_page.context
    assert "Recent runs" not in rep_page.content.decode()
    assert f'href="{reverse("potential-model")}"' not in rep_page.content.decode()
    assert f'href="{reverse("potential-model")}"' in analyst_page
    for name in ("score-list", "score-matrix", "suspect-list"):
        assert f'href="{reverse(name)}"' in rep_page.content.decode()


# Suspect days


def suspect(code, world):
    return StoreVisit.objects.get(store__code=code, date=world.typo_day)


def test_the_suspect_list_shows_the_day_next_to_the_usual_total(as_user, world):
    response = as_user(world.analyst).get(reverse("suspect-list"))

    rows = response.context["page"].object_list
    assert [(v.store.code, v.suspect_confirmed) for v in rows] == [("s03", False), ("s06", False), ("s07", False)]
    before = StoreVisit.objects.filter(
        store__code="s03", date__lt=world.typo_day, date__gte=world.typo_day - dt.timedelta(days=28)
    )
    assert rows[0].typical_total == pytest.approx(sum(v.total_sales for v in before) / 28)
    assert rows[0].total_sales > 50 * rows[0].typical_total


def test_a_rep_confirms_a_suspect_day_of_an_own_store(as_user, world):
    visit = suspect("s06", world)
    client = as_user(world.rep1)

    response = client.post(reverse("suspect-confirm", args=[visit.pk]), {"next": "/analytics/suspects/?state=pending"})

    assert response.status_code == 302
    assert response.url == "/analytics/suspects/?state=pending"
    visit.refresh_from_db()
    assert (visit.suspect_confirmed, visit.suspect_confirmed_by) == (True, world.rep1)
    page = client.get(response.url)
    assert [v.store.code for v in page.context["page"].object_list] == ["s03"]
    assert f"Confirmed: {visit.total_sales} units at {visit.store.name} on {world.typo_day.isoformat()}" in page.content.decode()


def test_a_supervisor_confirms_in_own_regions_and_an_analyst_anywhere(as_user, world):
    s06, s07 = suspect("s06", world), suspect("s07", world)

    as_user(world.sup1).post(reverse("suspect-confirm", args=[s06.pk]))
    as_user(world.analyst).post(reverse("suspect-confirm", args=[s07.pk]))

    assert list(StoreVisit.objects.filter(suspect_confirmed=True).order_by("store__code").values_list(
        "store__code", "suspect_confirmed_by__username"
    )) == [("s06", "sup1"), ("s07", "analyst")]


def test_a_rep_gets_404_on_another_reps_suspect_day(as_user, world):
    visit = suspect("s07", world)

    response = as_user(world.rep1).post(reverse("suspect-confirm", args=[visit.pk]))

    assert response.status_code == 404
    visit.refresh_from_db()
    assert visit.suspect_confirmed is False


def test_a_ka_manager_reads_the_suspect_list_but_cannot_confirm(as_user, world):
    visit = suspect("s03", world)
    client = as_user(world.ka)

    page = client.get(reverse("suspect-list"))
    response = client.post(reverse("suspect-confirm", args=[visit.pk]))

    assert [v.store.code for v in page.context["page"].object_list] == ["s03"]
    assert "Confirm</button>" not in page.content.decode()
    assert response.status_code == 403
    visit.refresh_from_db()
    assert visit.suspect_confirmed is False


def test_confirming_a_day_that_is_not_flagged_says_so(as_user, world):
    visit = StoreVisit.objects.get(store__code="s06", date=AS_OF)
    client = as_user(world.rep1)

    response = client.post(reverse("suspect-confirm", args=[visit.pk]), follow=True)

    assert response.redirect_chain == [(reverse("suspect-list"), 302)]
    assert f"The visit of {visit.store.name} on {AS_OF.isoformat()} is not flagged as a suspect any more." in (
        response.content.decode()
    )
    visit.refresh_from_db()
    assert visit.suspect_confirmed is False


def test_confirming_ignores_a_next_url_on_another_site(as_user, world):
    response = as_user(world.rep1).post(reverse("suspect-confirm", args=[suspect("s06", world).pk]), {"next": "https://evil.example/"})

    assert response.url == reverse("suspect-list")


def test_confirming_needs_a_post(as_user, world):
    assert as_user(world.rep1).get(reverse("suspect-confirm", args=[suspect("s06", world).pk])).status_code == 405


# Query counts do not grow with the data


def add_stores(n, *, region, rep, account=None, typo=True):
    """n observed stores (28 daily visits up to AS_OF, each with a mistyped day) for the rep."""
    visits = []
    for _ in range(n):
        store = StoreFactory(region=region, rep=rep, account=account)
        for day in range(28):
            total = 100 + 3 * day
            if typo and day == 5:
                total *= 100
            visits.append(StoreVisit(store=store, date=AS_OF - dt.timedelta(days=day), total_sales=total, own_sales=10))
    StoreVisit.objects.bulk_create(visits)


def count_queries(client, name, **params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(name), params)
    assert response.status_code == 200
    if response.streaming:
        b"".join(response.streaming_content)
    return len(queries)


LIST_PAGES = [
    ("score-list", {}), ("score-list", {"zone": "maintenance", "region": "n1", "account": "wm"}),
    ("score-list", {"format": "csv"}), ("score-matrix", {}), ("account-matrix", {}), ("score-comparison", {}),
    ("suspect-list", {}), ("potential-model", {}),
]


@pytest.mark.parametrize("viewer", ["rep1", "sup1", "ka", "analyst"])
def test_the_analytics_pages_issue_the_same_queries_for_small_and_large_worlds(as_user, world, viewer):
    user = getattr(world, viewer)
    client = as_user(user)
    pages = [(name, params) for name, params in LIST_PAGES if name != "account-matrix" or viewer in ("ka", "analyst")]
    small = [count_queries(client, name, **params) for name, params in pages]

    account = KeyAccount.objects.get(code="wm")
    add_stores(30, region=world.n1, rep=world.rep1, account=account)
    for i in range(5):
        KeyAccountFactory(owner=world.ka, code=f"extra{i}")
    add_stores(10, region=RegionFactory(), rep=RepFactory(), account=KeyAccount.objects.get(code="extra0"))
    services.recompute(as_of=AS_OF)
    large = [count_queries(client, name, **params) for name, params in pages]

    assert small == large
    assert StoreScore.objects.visible_to(user).count() > 30
    assert StoreVisit.objects.visible_to(user).filter(suspect=True).count() > 30 or viewer == "ka"
