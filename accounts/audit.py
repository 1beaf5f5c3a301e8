"""Reading the audit trail of a dossier: who changed what and when, as plain entries for a page.

A fixed number of queries whatever the history's length: per audited model, one for the latest
records (with the id of each one's predecessor) and one for those predecessors; then one per kind
of related object named in a change.
"""
from dataclasses import dataclass, field

from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext_lazy as _

from org.models import User

from .models import Competitor, CompetitorPresence, CustomerRole, DecisionMaker, KeyAccount, RelationshipEvent

ACTIONS = {"+": _("added"), "~": _("changed"), "-": _("deleted")}
# Bookkeeping columns that change with every save and say nothing to a reader.
SKIPPED = {"id", "created_at", "updated_at", "account", "tier_override", "suspect", "suspect_confirmed_by"}


@dataclass
class Change:
    when: object
    who: object  # a User or None (a script, the analytics run)
    action: str  # "+", "~" or "-"
    what: str  # the kind of object: "decision-maker", ...
    label: str  # which one: "Li Ming", "Tender 2026-03-02", ...
    fields: list = field(default_factory=list)  # (label, old, new) for a change
    reason: str = ""

    @property
    def action_label(self):
        return ACTIONS[self.action]


def with_previous(history, limit):
    """The latest `limit` records of a filtered history queryset, each with `previous` (or None)."""
    model = history.model
    previous = model.objects.filter(id=OuterRef("id"), history_id__lt=OuterRef("history_id")).order_by("-history_id")
    records = list(
        history.select_related("history_user")
        .annotate(previous_id=Subquery(previous.values("history_id")[:1]))
        .order_by("-history_date", "-history_id")[:limit]
    )
    earlier = model.objects.in_bulk([r.previous_id for r in records if r.previous_id])
    for record in records:
        record.previous = earlier.get(record.previous_id)
    return records


def changed_fields(record, model):
    """[(field, old value, new value)] between a record and its predecessor; empty for an add or delete."""
    if record.history_type != "~" or record.previous is None:
        return []
    out = []
    for f in model._meta.concrete_fields:
        if f.name in SKIPPED:
            continue
        old, new = getattr(record.previous, f.attname), getattr(record, f.attname)
        if old != new:
            out.append((f, old, new))
    return out


class Names:
    """Display names of the related objects a list of changes mentions, one query per model."""

    def __init__(self, known=None):
        self.wanted = {DecisionMaker: set(), Competitor: set(), User: set()}
        self.found = {model: dict(names) for model, names in (known or {}).items()}

    def want(self, model, pk):
        if pk is not None and model in self.wanted and pk not in self.found.get(model, {}):
            self.wanted[model].add(pk)

    def load(self):
        """Look up what the page had not loaded already (people since deleted, a former owner, ...)."""
        for model, pks in self.wanted.items():
            if pks:
                self.found.setdefault(model, {}).update(
                    {obj.pk: str(obj.get_full_name() or obj.username) if model is User else str(obj)
                     for obj in model.objects.filter(pk__in=pks)}
                )

    def name(self, model, pk):
        return self.found.get(model, {}).get(pk, f"#{pk}")


def display(f, value, names):
    if value is None or value == "":
        return "—"
    if f.is_relation:
        return names.name(f.related_model, value)
    if f.choices:
        return str(dict(f.flatchoices).get(value, value))
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, list):
        labels = dict(CustomerRole.choices)  # the only list field audited
        return ", ".join(str(labels.get(v, v)) for v in value) or "—"
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "…"


def recent_changes(account: KeyAccount, *, limit: int = 15, known=None) -> list[Change]:
    """The latest `limit` changes to the account's profile, decision-makers, events and competitors.

    `known`: {model: {pk: name}} the page has loaded already (people, brands, users), so that names
    in the changes cost no query unless they are gone since.
    """
    sources = [
        (KeyAccount, KeyAccount.audit.filter(id=account.pk), _("profile")),
        (DecisionMaker, DecisionMaker.audit.filter(account_id=account.pk), _("decision-maker")),
        (RelationshipEvent, RelationshipEvent.audit.filter(account_id=account.pk), _("event")),
        (CompetitorPresence, CompetitorPresence.audit.filter(account_id=account.pk), _("competitor")),
    ]
    names = Names(known)
    collected = []
    for model, history, what in sources:
        for record in with_previous(history, limit):
            diff = changed_fields(record, model)
            for f, old, new in diff:
                if f.is_relation:
                    names.want(f.related_model, old)
                    names.want(f.related_model, new)
            if model is CompetitorPresence:
                names.want(Competitor, record.competitor_id)
            collected.append((model, record, what, diff))
    collected.sort(key=lambda item: (item[1].history_date, item[1].history_id), reverse=True)
    collected = collected[:limit]
    names.load()
    changes = []
    for model, record, what, diff in collected:
        if model is KeyAccount:
            label = record.name
        elif model is DecisionMaker:
            label = record.name
        elif model is RelationshipEvent:
            label = f"{record.get_kind_display()} {record.date.isoformat()}"
        else:
            label = names.name(Competitor, record.competitor_id)
        changes.append(Change(
            when=record.history_date, who=record.history_user, action=record.history_type, what=str(what), label=label,
            fields=[(str(f.verbose_name), display(f, old, names), display(f, new, names)) for f, old, new in diff],
            reason=record.history_change_reason or "",
        ))
    return changes
