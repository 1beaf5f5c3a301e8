"""A small cast for tests: regions, people, accounts, stores and visits."""
import datetime as dt

import factory
from django.utils import timezone

from accounts.models import KeyAccount
from org.models import Region, Role, User
from stores.models import MarketShare, Store, StoreVisit


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region

    code = factory.Sequence(lambda n: f"r{n}")
    name = factory.Sequence(lambda n: f"Region {n}")
    country = "CN"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    role = Role.SALES_MANAGER
    password = factory.django.Password("pw")


class RepFactory(UserFactory):
    role = Role.SALES_MANAGER
    region = factory.SubFactory(RegionFactory)


class SupervisorFactory(UserFactory):
    role = Role.SUPERVISOR


class KAManagerFactory(UserFactory):
    role = Role.KA_MANAGER


class AnalystFactory(UserFactory):
    role = Role.ANALYST


class KeyAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KeyAccount

    code = factory.Sequence(lambda n: f"acc{n}")
    name = factory.Sequence(lambda n: f"Chain {n}")
    kind = KeyAccount.Kind.CHAIN
    owner = factory.SubFactory(KAManagerFactory)


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    code = factory.Sequence(lambda n: f"s{n:05d}")
    name = factory.Sequence(lambda n: f"Store {n}")
    region = factory.SubFactory(RegionFactory)
    format = Store.Format.MEDIUM
    floor_area_m2 = 1200.0
    checkouts = 8
    open_24h = False
    shelves = 6
    rep = None


class StoreVisitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StoreVisit

    store = factory.SubFactory(StoreFactory)
    date = factory.LazyFunction(timezone.localdate)
    rep = factory.LazyAttribute(lambda v: v.store.rep)
    total_sales = 100
    own_sales = 20


class MarketShareFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MarketShare

    country = "CN"
    region = None
    period_start = dt.date(2000, 1, 1)
    period_end = dt.date(2100, 12, 31)
    share = 0.25
    source = "panel"
