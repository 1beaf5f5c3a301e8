"""Writes to a key account's dossier, shared by the API and the dossier page.

Every write names the user, who is recorded in the audit trail (`audit` on each model).
Validation errors are Django ValidationErrors keyed by field; the API turns them into 400s.
"""
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from .models import EVENT_AUDIT, Competitor, CompetitorPresence, DecisionMaker, KeyAccount, RelationshipEvent

PROFILE_FIELDS = [
    "name", "kind", "customer_roles", "description", "employees", "founded", "history", "organisation_structure",
    "business_environment", "headquarters", "website",
]


def _save(instance, user, **extra):
    instance._history_user = user
    instance.full_clean(**extra)
    instance.save()
    return instance


@transaction.atomic
def update_profile(*, account: KeyAccount, user, tier: str | None = None, **fields) -> KeyAccount:
    """Change the profile fields of SPEC §2 (see PROFILE_FIELDS).

    `tier`: None leaves it alone; a tier overrides the one the analytics run derives (SPEC §4.5);
    "" hands it back to the run, which keeps the current value until it recomputes.
    """
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"Not profile fields: {sorted(unknown)}")
    for name, value in fields.items():
        setattr(account, name, value)
    if tier:
        account.tier, account.tier_override = tier, True
    elif tier is not None:
        account.tier_override = False
    return _save(account, user)


@transaction.atomic
def save_decision_maker(*, account: KeyAccount, user, person: DecisionMaker | None = None, **fields) -> DecisionMaker:
    """Create a decision-maker of `account`, or change `person`; `reports_to` must close no cycle."""
    person = person or DecisionMaker(account=account)
    if person.account_id != account.pk:
        raise ValueError("The decision-maker belongs to another account.")
    for name, value in fields.items():
        setattr(person, name, value)
    return _save(person, user)


@transaction.atomic
def delete_decision_maker(*, person: DecisionMaker, user) -> None:
    """Delete `person`; their reports move up to `person`'s own boss, so the org chart stays connected."""
    for report in person.reports.all():
        report.reports_to_id = person.reports_to_id
        report._history_user = user
        report.save(update_fields=["reports_to"])
    person._history_user = user
    person.delete()


@transaction.atomic
def save_event(
    *, account: KeyAccount, user, event: RelationshipEvent | None = None, decision_makers=None, **fields
) -> RelationshipEvent:
    """Record an event of `account` (or change `event`) with the decision-makers involved.

    The people involved count as contacted on the event's date (except for deliveries). The audit
    trail gets one row per write, with the people involved, instead of one for the row and more for
    each change of the people.
    """
    creating = event is None
    event = event or RelationshipEvent(account=account, recorded_by=user)
    if event.account_id != account.pk:
        raise ValueError("The event belongs to another account.")
    for name, value in fields.items():
        setattr(event, name, value)
    if decision_makers is not None:
        strangers = [p.name for p in decision_makers if p.account_id != account.pk]
        if strangers:
            raise ValidationError({"decision_makers": _("Choose decision-makers of this account.")})
    event.full_clean()
    event.skip_history_when_saving = True
    try:
        event.save()
        if decision_makers is not None:
            event.decision_makers.set(decision_makers)
    finally:
        del event.skip_history_when_saving
    event._history_user = user
    EVENT_AUDIT.create_historical_record(event, "+" if creating else "~")
    if event.kind in RelationshipEvent.CONTACT_KINDS:
        # A plain UPDATE: the event itself is the audited fact.
        DecisionMaker.objects.filter(events=event).filter(
            Q(last_contacted__isnull=True) | Q(last_contacted__lt=event.date)
        ).update(last_contacted=event.date)
    return event


@transaction.atomic
def delete_event(*, event: RelationshipEvent, user) -> None:
    event._history_user = user
    event.delete()


def competitor_named(name: str) -> Competitor:
    """The brand called `name` (case and spacing ignored), created on first mention."""
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"competitor": _("Name the competing brand.")})
    found = Competitor.objects.filter(name__iexact=name).first()
    if found:
        return found
    try:
        with transaction.atomic():
            return Competitor.objects.create(name=name)
    except IntegrityError:  # created by a concurrent request
        return Competitor.objects.get(name__iexact=name)


@transaction.atomic
def save_competitor_presence(
    *, account: KeyAccount, user, competitor: str | None = None, presence: CompetitorPresence | None = None, **fields
) -> CompetitorPresence:
    """Add a competing brand to `account` by name (the brand is created if new), or change `presence`."""
    presence = presence or CompetitorPresence(account=account)
    if presence.account_id != account.pk:
        raise ValueError("The competitor presence belongs to another account.")
    if competitor is not None:
        brand = competitor_named(competitor)
        clash = CompetitorPresence.objects.filter(account=account, competitor=brand).exclude(pk=presence.pk)
        if clash.exists():
            raise ValidationError(
                {"competitor": _("%(brand)s is already in this account's competitor table; change that row.") % {"brand": brand.name}}
            )
        presence.competitor = brand
    for name, value in fields.items():
        setattr(presence, name, value)
    return _save(presence, user)


@transaction.atomic
def delete_competitor_presence(*, presence: CompetitorPresence, user) -> None:
    presence._history_user = user
    presence.delete()
