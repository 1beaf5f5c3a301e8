"""Dossier rows for tests; the cast (users, accounts, stores) comes from tests.factories."""
import datetime as dt

import factory

from accounts.models import Competitor, CompetitorPresence, DecisionMaker, RelationshipEvent
from tests.factories import KeyAccountFactory


class DecisionMakerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DecisionMaker

    account = factory.SubFactory(KeyAccountFactory)
    name = factory.Sequence(lambda n: f"Person {n}")
    title = "Buyer"
    buying_role = "purchaser"
    influence = 3
    attitude = "neutral"


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RelationshipEvent

    account = factory.SubFactory(KeyAccountFactory)
    date = dt.date(2026, 3, 2)
    kind = "meeting"
    summary = "Quarterly review"


class CompetitorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Competitor
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Brand {n}")


class PresenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CompetitorPresence

    account = factory.SubFactory(KeyAccountFactory)
    competitor = factory.SubFactory(CompetitorFactory)
    estimated_share = 0.2
