"""The dossier page /accounts/<code>/ and the account list /accounts/."""
import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import CompetitorPresence, DecisionMaker, KeyAccount, RelationshipEvent
from accounts.views import next_birthday, org_chart
from analytics.models import AccountScore, StoreScore
from tests.factories import KeyAccountFactory, RepFactory, StoreFactory
from tests.planning.helpers import AS_OF, score

from .factories import CompetitorFactory, DecisionMakerFactory, EventFactory, PresenceFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


@pytest.fixture
def as_user(client):
    def login(user):
        client.force_login(user)
        return client

    return login


def dossier(code="wm"):
    return reverse("account-dossier", args=[code])


def person_form(**kw):
    data = {"name": "Li Ming", "title": "Buyer", "department": "", "buying_role": "purchaser", "influence": "3",
            "attitude": "neutral", "reports_to": "", "phone": "", "email": "", "birthday": "", "last_contacted": "",
            "interests": "", "notes": ""}
    data.update(kw)
    return {f"person-new-{k}": v for k, v in data.items()}


def event_form(prefix="event-new", **kw):
    data = {"date": "2026-03-02", "kind": "meeting", "summary": "Review", "outcome": "", "reason": ""}
    data.update(kw)
    people = data.pop("decision_makers", [])
    body = {f"{prefix}-{k}": v for k, v in data.items()}
    body[f"{prefix}-decision_makers"] = [str(p) for p in people]
    return body


# -- scope ---------------------------------------------------------------------------------------


def test_the_owner_sees_the_whole_dossier_with_edit_forms(as_user, ka1, wm):
    boss = DecisionMakerFactory(account=wm, name="David Chen", buying_role="decision_maker")
    DecisionMakerFactory(account=wm, name="Zhou Min", reports_to=boss)
    EventFactory(account=wm, kind="tender", outcome="lost", reason="Kaiyo paid promoters", summary="Tablet tender")
    PresenceFactory(account=wm, competitor=CompetitorFactory(name="Kaiyo"), estimated_share=0.34)

    response = as_user(ka1).get(dossier())

    assert response.status_code == 200
    html = response.content.decode()
    for text in ["Walmart China", "David Chen", "Zhou Min", "Tablet tender", "Kaiyo paid promoters", "Kaiyo", "wm-001",
                 "Add a decision-maker", "Record an event", "Add a competitor", "Edit profile"]:
        assert text in html, text
    assert response.context["may_edit"] is True


def test_another_ka_managers_dossier_is_a_404_and_an_unknown_code_too(as_user, ka1, wm, cf):
    client = as_user(ka1)

    assert client.get(dossier("cf")).status_code == 404
    assert client.get(dossier("atlantis")).status_code == 404
    assert client.post(reverse("account-person-add", args=["cf"]), person_form()).status_code == 404
    assert DecisionMaker.objects.count() == 0


def test_a_rep_gets_the_summary_of_an_account_of_own_stores_without_forms_and_cannot_post(as_user, rep, wm, cf):
    boss = DecisionMakerFactory(account=wm, name="Boss")
    event = EventFactory(account=wm)
    presence = PresenceFactory(account=wm)
    client = as_user(rep)

    response = client.get(dossier())
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "accounts/account_summary.html"
    assert "Add a decision-maker" not in response.content.decode()
    assert "Boss" not in response.content.decode()
    assert client.get(dossier("cf")).status_code == 404
    assert "Boss" not in client.get(dossier() + f"?edit=person-{boss.pk}").content.decode()

    posts = [
        (reverse("account-person-add", args=["wm"]), person_form()),
        (reverse("account-person-save", args=["wm", boss.pk]), person_form(name="Mine")),
        (reverse("account-person-delete", args=["wm", boss.pk]), {}),
        (reverse("account-event-add", args=["wm"]), event_form()),
        (reverse("account-event-delete", args=["wm", event.pk]), {}),
        (reverse("account-competitor-delete", args=["wm", presence.pk]), {}),
        (reverse("account-profile-save", args=["wm"]), {"profile-name": "Mine"}),
    ]
    for path, data in posts:
        assert client.post(path, data).status_code == 403, path
    assert list(DecisionMaker.objects.values_list("name", flat=True)) == ["Boss"]
    assert (RelationshipEvent.objects.count(), CompetitorPresence.objects.count()) == (1, 1)
    assert KeyAccount.objects.get(code="wm").name == "Walmart China"


def test_a_rep_sees_only_own_stores_of_the_account(as_user, rep, wm, region):
    StoreFactory(code="wm-002", account=wm, region=region, rep=RepFactory(username="rep7", region=region))

    response = as_user(rep).get(dossier())

    assert [s.code for s in response.context["stores"]] == ["wm-001"]
    assert response.context["store_total"] == 1


def test_the_account_list_shows_only_accounts_in_scope(as_user, ka1, wm, cf, rep):
    KeyAccountFactory(code="other", owner=ka1, name="Other chain")

    response = as_user(ka1).get(reverse("account-list"))
    assert [a.code for a in response.context["page"]] == ["other", "wm"]
    rep_view = as_user(rep).get(reverse("account-list") + "?q=walmart")
    assert [a.code for a in rep_view.context["page"]] == ["wm"]


# -- edits in place (POST, redirect, GET) --------------------------------------------------------


def test_the_owner_adds_a_decision_maker_who_reports_to_another(as_user, ka1, wm):
    boss = DecisionMakerFactory(account=wm, name="Boss")

    response = as_user(ka1).post(reverse("account-person-add", args=["wm"]), person_form(reports_to=boss.pk))

    created = DecisionMaker.objects.get(name="Li Ming")
    assert response.status_code == 302
    assert response["Location"] == f"{dossier()}#person-{created.pk}"
    assert created.reports_to == boss
    chart = as_user(ka1).get(dossier()).context["chart"]
    assert [(n.name, [c.name for c in n.chart_reports]) for n in chart] == [("Boss", ["Li Ming"])]


def test_a_reporting_cycle_is_refused_on_the_form_and_nothing_changes(as_user, ka1, wm):
    a = DecisionMakerFactory(account=wm, name="A")
    b = DecisionMakerFactory(account=wm, name="B", reports_to=a)
    data = {k.replace("person-new", f"person-{a.pk}"): v for k, v in person_form(name="A", reports_to=b.pk).items()}

    response = as_user(ka1).post(reverse("account-person-save", args=["wm", a.pk]), data)

    assert response.status_code == 200
    form = next(p.edit_form for p in response.context["people"] if p.pk == a.pk)
    assert list(form.errors) == ["reports_to"]
    a.refresh_from_db()
    assert a.reports_to is None


def test_a_boss_from_another_account_is_not_a_choice(as_user, ka1, wm, cf):
    stranger = DecisionMakerFactory(account=cf)

    response = as_user(ka1).post(reverse("account-person-add", args=["wm"]), person_form(reports_to=stranger.pk))

    assert response.status_code == 200
    assert list(response.context["person_form"].errors) == ["reports_to"]
    assert not DecisionMaker.objects.filter(account=wm).exists()


def test_the_add_forms_offer_exactly_the_accounts_people_by_name(as_user, ka1, wm, cf):
    zhao, li = DecisionMakerFactory(account=wm, name="Zhao Lei"), DecisionMakerFactory(account=wm, name="Li Ming")
    DecisionMakerFactory(account=cf, name="Stranger")

    context = as_user(ka1).get(dossier()).context

    assert list(context["person_form"]["reports_to"].field.widget.choices) == [
        ("", "Nobody (top of the chart)"), (li.pk, "Li Ming"), (zhao.pk, "Zhao Lei")]
    assert [(o.data["value"], o.choice_label) for o in context["event_form"]["decision_makers"]] == [
        (li.pk, "Li Ming"), (zhao.pk, "Zhao Lei")]


def test_an_outcome_on_a_meeting_is_refused_on_the_form(as_user, ka1, wm):
    response = as_user(ka1).post(reverse("account-event-add", args=["wm"]), event_form(outcome="won", reason="Price"))

    assert response.status_code == 200
    assert sorted(response.context["event_form"].errors) == ["outcome", "reason"]
    assert RelationshipEvent.objects.count() == 0


def test_the_owner_records_a_tender_with_the_people_involved(as_user, ka1, wm):
    boss = DecisionMakerFactory(account=wm)

    response = as_user(ka1).post(
        reverse("account-event-add", args=["wm"]),
        event_form(kind="tender", outcome="won", reason="Service", decision_makers=[boss.pk]),
    )

    assert response.status_code == 302
    event = RelationshipEvent.objects.get()
    assert (event.kind, event.outcome, list(event.decision_makers.all()), event.recorded_by) == ("tender", "won", [boss], ka1)


def test_the_owner_edits_and_deletes_an_event(as_user, ka1, wm):
    event = EventFactory(account=wm)
    client = as_user(ka1)

    page = client.get(dossier() + f"?edit=event-{event.pk}")
    assert next(e for e in page.context["timeline"] if e.pk == event.pk).edit_form is not None
    assert client.post(reverse("account-event-save", args=["wm", event.pk]), event_form(f"event-{event.pk}", summary="New")).status_code == 302
    event.refresh_from_db()
    assert event.summary == "New"
    assert client.post(reverse("account-event-delete", args=["wm", event.pk])).status_code == 302
    assert RelationshipEvent.objects.count() == 0


def test_a_competitor_is_added_with_a_share_in_percent(as_user, ka1, wm):
    data = {"competitor-new-competitor": "Kaiyo", "competitor-new-share_pct": "34.5", "competitor-new-strengths": "Brand",
            "competitor-new-weaknesses": "", "competitor-new-activity": "", "competitor-new-updated_on": "2026-03-01"}

    response = as_user(ka1).post(reverse("account-competitor-add", args=["wm"]), data)

    assert response.status_code == 302
    presence = CompetitorPresence.objects.get()
    assert (presence.competitor.name, presence.estimated_share, presence.strengths) == ("Kaiyo", 0.345, "Brand")
    again = as_user(ka1).post(reverse("account-competitor-add", args=["wm"]), {**data, "competitor-new-competitor": "kaiyo"})
    assert list(again.context["competitor_form"].errors) == ["competitor"]
    assert CompetitorPresence.objects.count() == 1


def test_the_owner_edits_the_profile_and_overrides_the_tier(as_user, ka1, wm):
    data = {"profile-name": "Walmart China", "profile-kind": "chain", "profile-tier": "NKA",
            "profile-customer_roles": ["lifeblood", "expert"], "profile-description": "Hypermarkets",
            "profile-headquarters": "Shenzhen", "profile-website": "https://wm.example", "profile-employees": "1000",
            "profile-founded": "1996", "profile-history": "", "profile-organisation_structure": "",
            "profile-business_environment": ""}

    response = as_user(ka1).post(reverse("account-profile-save", args=["wm"]), data)

    assert response.status_code == 302
    wm.refresh_from_db()
    assert (wm.customer_roles, wm.tier, wm.tier_override, wm.founded) == (["lifeblood", "expert"], "NKA", True, 1996)
    bad = as_user(ka1).post(reverse("account-profile-save", args=["wm"]), {**data, "profile-founded": "2999"})
    assert list(bad.context["profile_form"].errors) == ["founded"]


def test_deleting_a_boss_moves_the_reports_up(as_user, ka1, wm):
    top = DecisionMakerFactory(account=wm)
    middle = DecisionMakerFactory(account=wm, reports_to=top)
    low = DecisionMakerFactory(account=wm, reports_to=middle)

    assert as_user(ka1).post(reverse("account-person-delete", args=["wm", middle.pk])).status_code == 302

    low.refresh_from_db()
    assert low.reports_to == top


# -- what the page shows -------------------------------------------------------------------------


def test_reminders_list_birthdays_within_30_days_and_people_silent_for_90(as_user, ka1, wm):
    today = TODAY()
    soon = today + dt.timedelta(days=10)
    DecisionMakerFactory(account=wm, name="Soon", birthday=dt.date(1980, soon.month, min(soon.day, 28)), last_contacted=today)
    DecisionMakerFactory(account=wm, name="Later", birthday=today - dt.timedelta(days=40) - dt.timedelta(days=365 * 30),
                         last_contacted=today - dt.timedelta(days=89))
    DecisionMakerFactory(account=wm, name="Silent", last_contacted=today - dt.timedelta(days=91))
    DecisionMakerFactory(account=wm, name="Never")

    context = as_user(ka1).get(dossier()).context

    assert [b["person"].name for b in context["birthdays"]] == ["Soon"]
    assert [p.name for p in context["silent"]] == ["Never", "Silent"]


def test_next_birthday_of_a_leap_day_child_in_a_common_year_is_the_first_of_march():
    assert next_birthday(dt.date(1992, 2, 29), dt.date(2027, 2, 20)) == dt.date(2027, 3, 1)
    assert next_birthday(dt.date(1992, 2, 29), dt.date(2028, 2, 20)) == dt.date(2028, 2, 29)
    assert next_birthday(dt.date(1980, 1, 5), dt.date(2026, 12, 30)) == dt.date(2027, 1, 5)


def test_the_org_chart_nests_reports_strongest_first_and_survives_a_stored_cycle(wm):
    boss = DecisionMakerFactory(account=wm, name="Boss", influence=5)
    DecisionMakerFactory(account=wm, name="Weak", influence=1, reports_to=boss)
    DecisionMakerFactory(account=wm, name="Strong", influence=4, reports_to=boss)
    x = DecisionMakerFactory(account=wm, name="X")
    y = DecisionMakerFactory(account=wm, name="Y", reports_to=x)
    DecisionMaker.objects.filter(pk=x.pk).update(reports_to=y)  # bypasses validation, as a race could
    people = list(DecisionMaker.objects.all())

    roots = org_chart(people)

    assert [r.name for r in roots][0] == "Boss"
    assert [c.name for c in roots[0].chart_reports] == ["Strong", "Weak"]
    assert sorted(r.name for r in roots) == ["Boss", "X"]  # the cycle is shown from one of its members
    assert [c.name for c in roots[1].chart_reports] == ["Y"]


def test_the_timeline_filters_by_kind_and_the_tender_record_counts_outcomes(as_user, ka1, wm):
    EventFactory(account=wm, kind="call", date=dt.date(2026, 1, 1))
    EventFactory(account=wm, kind="tender", outcome="won", date=dt.date(2026, 2, 1))
    EventFactory(account=wm, kind="tender", outcome="lost", date=dt.date(2026, 3, 1), reason="Price")
    EventFactory(account=wm, kind="tender", outcome="lost", date=dt.date(2026, 4, 1))
    client = as_user(ka1)

    context = client.get(dossier() + "?kind=tender").context

    assert [e.date.month for e in context["timeline"]] == [4, 3, 2]
    assert {k: context["tenders"][k] for k in ("won", "lost", "pending")} == {"won": 1, "lost": 2, "pending": 0}
    assert round(context["tenders"]["win_rate"]) == 33
    assert [e.date.month for e in client.get(dossier() + "?kind=bogus").context["timeline"]] == [4, 3, 2, 1]


def _scores(account, stores, runs=3):
    for i in range(runs):
        day = dt.date(2026, 1, 1) + dt.timedelta(days=7 * i)
        AccountScore.objects.create(
            account=account, as_of=day, potential=1000.0 + i, own_annual=200.0 + i, wallet_share=0.2, active_stores=2,
            known_stores=2, coverage=1.0, market_share=0.25, market_share_source="country", key_potential=True,
            zone="attack", abc="A", trad_ka=True, missed_attack=False, false_ka=False, lifeblood=True, tier="NKA",
        )
        StoreScore.objects.bulk_create([
            StoreScore(store=s, as_of=day, obs_days=30, observed=True, potential=100.0 * (n + 1), potential_source="observed",
                       own_annual=20.0, wallet_share=0.2, market_share=0.25, market_share_source="country",
                       key_potential=True, zone="attack", abc="A", xyz="X", trad_ka=True, missed_attack=False,
                       false_ka=False, customer_status="active")
            for n, s in enumerate(stores)
        ])


def test_key_numbers_come_from_the_latest_account_score_with_their_trend(as_user, ka1, wm):
    _scores(wm, list(wm.stores.all()))

    context = as_user(ka1).get(dossier()).context

    assert context["score"].as_of == dt.date(2026, 1, 15)
    potential = context["figures"][0]
    assert (potential.value, potential.delta, len(potential.points.split())) == (1002.0, 1.0, 3)
    assert [s.zone for s in context["stores"]] == ["attack"]


def test_the_dossier_lists_the_largest_potentials_first_then_the_stores_without_one_by_code(as_user, ka1, region):
    account = KeyAccountFactory(code="chain", owner=ka1)
    stores = {code: StoreFactory(code=code, account=account, region=region)
              for code in ("s-c", "s-a", "s-b", "s-0", "s-1", "r-9", "s-d")}
    for code, potential in (("s-c", 500.0), ("s-a", 900.0), ("s-b", 500.0), ("s-0", None)):
        score(stores[code], zone="attack" if potential else "unclassified", potential=potential)
    score(stores["s-d"], zone="attack", potential=5000.0, as_of=AS_OF - dt.timedelta(days=7))  # not the day shown

    context = as_user(ka1).get(dossier("chain")).context

    assert context["store_day"] == AS_OF
    assert [(s.code, s.potential) for s in context["stores"]] == [
        ("s-a", 900.0), ("s-b", 500.0), ("s-c", 500.0), ("r-9", None), ("s-0", None), ("s-1", None), ("s-d", None)]


def test_the_dossier_lists_the_20_largest_potentials_of_a_large_account(as_user, ka1, region):
    account = KeyAccountFactory(code="chain", owner=ka1)
    for n in range(22):
        store = StoreFactory(code=f"s-{n:02}", account=account, region=region)
        if n:  # s-00 has no score
            score(store, zone="defend", potential=100.0 * n)

    context = as_user(ka1).get(dossier("chain")).context

    assert [s.code for s in context["stores"]] == [f"s-{n:02}" for n in range(21, 1, -1)]
    assert context["store_total"] == 22


def _world(code, n, region):
    account = KeyAccountFactory(code=code)
    people = [DecisionMakerFactory(account=account, birthday=dt.date(1980, 1, 1 + i % 28)) for i in range(n)]
    for i, p in enumerate(people[1:]):
        p.reports_to = people[i // 2]
        p.save()
    for i in range(n):
        event = EventFactory(account=account, date=dt.date(2026, 1, 1) + dt.timedelta(days=i),
                             kind="tender" if i % 3 == 0 else "meeting", outcome="won" if i % 3 == 0 else "")
        event.decision_makers.add(*people[: 1 + i % 3])
        PresenceFactory(account=account, competitor=CompetitorFactory(name=f"{code}-{i}"))
    stores = [StoreFactory(account=account, region=region) for _ in range(n)]
    _scores(account, stores)
    # Audit rows with predecessors: one change per person.
    for p in people:
        p.influence = 4
        p.save()
    return account


@pytest.mark.parametrize("target", ["", "?edit=profile", "?kind=tender"])
def test_the_dossier_issues_no_more_queries_with_50_people_events_and_stores_than_with_2(as_user, region, target):
    counts = []
    for code, n in (("small", 2), ("large", 50)):
        account = _world(code, n, region)
        client = as_user(account.owner)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(dossier(code) + target)
        assert response.status_code == 200
        assert len(response.context["people"]) == n
        counts.append(len(ctx))
    # One query fewer for the large account: its 20 stores shown all have a potential, so none is looked up without.
    assert counts[1] <= counts[0]


def test_the_account_list_issues_the_same_queries_for_2_and_20_accounts(as_user, analyst, region):
    counts = []
    client = as_user(analyst)
    for n in (2, 20):
        for i in range(n if not counts else n - 2):
            _world(f"acc-{n}-{i}", 2, region)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse("account-list"))
        assert len(response.context["page"]) == n
        counts.append(len(ctx))
    assert counts[0] == counts[1]


def test_the_dossier_page_loads_its_own_assets_and_no_inline_script_or_style(as_user, ka1, wm):
    html = as_user(ka1).get(dossier()).content.decode()

    assert "/static/css/dossier.css" in html and "/static/js/dossier.js" in html
    assert "<style" not in html
    assert "<script>" not in html and "<script " not in html.replace('<script src="', "")
    assert ' style="' not in html
