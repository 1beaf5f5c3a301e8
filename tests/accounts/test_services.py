"""accounts.services called directly: field-keyed Django ValidationErrors and audit rows naming the user."""
import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from accounts import services
from accounts.models import Competitor, CompetitorPresence, DecisionMaker, KeyAccount, RelationshipEvent
from tests.accounts.factories import DecisionMakerFactory, PresenceFactory

pytestmark = pytest.mark.django_db


def test_a_profile_change_is_saved_and_audited_with_the_user(ka1, wm):
    services.update_profile(account=wm, user=ka1, description="Big", employees=500)

    account = KeyAccount.objects.get(code="wm")
    assert (account.description, account.employees) == ("Big", 500)
    assert [(h.history_type, h.history_user, h.description) for h in account.audit.order_by("history_id")] == [
        ("+", None, ""), ("~", ka1, "Big"),
    ]


def test_a_tier_written_by_hand_overrides_the_run_and_a_blank_hands_it_back(ka1, wm):
    services.update_profile(account=wm, user=ka1, tier="NKA")
    assert (wm.tier, wm.tier_override) == ("NKA", True)

    services.update_profile(account=wm, user=ka1, tier="")
    account = KeyAccount.objects.get(pk=wm.pk)
    assert (account.tier, account.tier_override) == ("NKA", False)


def test_a_field_outside_the_profile_is_refused(ka1, wm):
    with pytest.raises(ValueError, match=r"Not profile fields: \['owner'\]"):
        services.update_profile(account=wm, user=ka1, owner=None)


def test_a_decision_maker_is_created_and_changed_with_audit_rows_naming_the_user(ka1, wm):
    person = services.save_decision_maker(account=wm, user=ka1, name="Li Na", title="Buyer", buying_role="purchaser",
                                          influence=4, attitude="supporter")
    services.save_decision_maker(account=wm, user=ka1, person=person, influence=5)

    assert [(h.history_type, h.history_user, h.influence) for h in person.audit.order_by("history_id")] == [
        ("+", ka1, 4), ("~", ka1, 5),
    ]


def test_a_reporting_cycle_is_an_error_on_reports_to_and_is_not_saved(ka1, wm):
    boss = DecisionMakerFactory(account=wm, name="Boss")
    report = DecisionMakerFactory(account=wm, name="Report", reports_to=boss)

    with pytest.raises(ValidationError) as error:
        services.save_decision_maker(account=wm, user=ka1, person=boss, reports_to=report)

    assert error.value.message_dict == {
        "reports_to": ["Report already reports to Boss, directly or through others: that would be a reporting cycle."]
    }
    assert DecisionMaker.objects.get(pk=boss.pk).reports_to is None


def test_a_boss_from_another_account_is_an_error_on_reports_to(ka1, wm, cf):
    with pytest.raises(ValidationError) as error:
        services.save_decision_maker(account=wm, user=ka1, name="New", title="Buyer", buying_role="purchaser",
                                     influence=3, attitude="neutral", reports_to=DecisionMakerFactory(account=cf))

    assert error.value.message_dict == {"reports_to": ["Choose a decision-maker of the same account."]}
    assert DecisionMaker.objects.filter(account=wm).count() == 0


def test_deleting_a_decision_maker_moves_their_reports_up_and_audits_both(ka1, wm):
    top = DecisionMakerFactory(account=wm, name="Top")
    middle = DecisionMakerFactory(account=wm, name="Middle", reports_to=top)
    DecisionMakerFactory(account=wm, name="Bottom", reports_to=middle)

    services.delete_decision_maker(person=middle, user=ka1)

    assert list(DecisionMaker.objects.order_by("name").values_list("name", "reports_to__name")) == [
        ("Bottom", "Top"), ("Top", None),
    ]
    assert [(h.name, h.history_type, h.history_user) for h in DecisionMaker.audit.filter(history_user=ka1)
            .order_by("history_id")] == [("Bottom", "~", ka1), ("Middle", "-", ka1)]


def test_an_event_counts_as_a_contact_of_the_people_involved_unless_they_were_contacted_later(ka1, wm):
    earlier = DecisionMakerFactory(account=wm, last_contacted=dt.date(2026, 1, 1))
    later = DecisionMakerFactory(account=wm, last_contacted=dt.date(2026, 6, 1))

    event = services.save_event(account=wm, user=ka1, date=dt.date(2026, 3, 2), kind="meeting", summary="Review",
                                decision_makers=[earlier, later])

    assert (event.recorded_by, sorted(p.pk for p in event.decision_makers.all())) == (ka1, sorted([earlier.pk, later.pk]))
    assert dict(DecisionMaker.objects.values_list("pk", "last_contacted")) == {
        earlier.pk: dt.date(2026, 3, 2), later.pk: dt.date(2026, 6, 1),
    }
    assert [(h.history_type, h.history_user) for h in event.audit.all()] == [("+", ka1)]


def test_decision_makers_of_another_account_on_an_event_are_an_error_and_nothing_is_saved(ka1, wm, cf):
    with pytest.raises(ValidationError) as error:
        services.save_event(account=wm, user=ka1, date=dt.date(2026, 3, 2), kind="call", summary="Hi",
                            decision_makers=[DecisionMakerFactory(account=cf)])

    assert error.value.message_dict == {"decision_makers": ["Choose decision-makers of this account."]}
    assert RelationshipEvent.objects.count() == 0


def test_an_outcome_on_a_call_is_an_error_on_outcome(ka1, wm):
    with pytest.raises(ValidationError) as error:
        services.save_event(account=wm, user=ka1, date=dt.date(2026, 3, 2), kind="call", summary="Hi", outcome="won")

    assert error.value.message_dict == {"outcome": ["Only a tender has an outcome."]}


def test_a_brand_is_found_whatever_its_case_and_spacing_and_created_on_first_mention():
    kaiyo = services.competitor_named("  Kaiyo   Foods ")

    assert kaiyo.name == "Kaiyo Foods"
    assert services.competitor_named("kaiyo foods") == kaiyo
    assert Competitor.objects.count() == 1


def test_a_blank_brand_is_an_error_on_competitor():
    with pytest.raises(ValidationError) as error:
        services.competitor_named("   ")

    assert error.value.message_dict == {"competitor": ["Name the competing brand."]}


def test_a_competitor_is_added_by_name_and_audited_with_the_user(ka1, wm):
    presence = services.save_competitor_presence(account=wm, user=ka1, competitor="Kaiyo", estimated_share=0.2)

    assert (presence.competitor.name, presence.estimated_share) == ("Kaiyo", 0.2)
    assert [(h.history_type, h.history_user) for h in presence.audit.all()] == [("+", ka1)]


def test_the_same_brand_twice_in_an_account_is_an_error_on_competitor(ka1, wm):
    PresenceFactory(account=wm, competitor=services.competitor_named("Kaiyo"))

    with pytest.raises(ValidationError) as error:
        services.save_competitor_presence(account=wm, user=ka1, competitor="KAIYO")

    assert error.value.message_dict == {
        "competitor": ["Kaiyo is already in this account's competitor table; change that row."]
    }
    assert CompetitorPresence.objects.count() == 1


def test_deleting_a_competitor_presence_is_audited_with_the_user(ka1, wm):
    presence = PresenceFactory(account=wm)

    services.delete_competitor_presence(presence=presence, user=ka1)

    assert CompetitorPresence.objects.count() == 0
    assert [h.history_type for h in CompetitorPresence.audit.filter(history_user=ka1)] == ["-"]
