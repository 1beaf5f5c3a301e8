import pytest
from rest_framework.test import APIClient

from tests.factories import AnalystFactory, RegionFactory, RepFactory, StoreFactory, SupervisorFactory


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def region():
    return RegionFactory(code="north", country="CN")


@pytest.fixture
def rep(region):
    return RepFactory(username="rep1", region=region)


@pytest.fixture
def other_rep(region):
    return RepFactory(username="rep2", region=region)


@pytest.fixture
def supervisor(region):
    sup = SupervisorFactory(username="sup1")
    region.supervisors.add(sup)
    return sup


@pytest.fixture
def analyst():
    return AnalystFactory(username="analyst")


@pytest.fixture
def my_store(rep, region):
    return StoreFactory(code="mine", rep=rep, region=region)


@pytest.fixture
def their_store(other_rep, region):
    return StoreFactory(code="theirs", rep=other_rep, region=region)


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters and cached figures never leak from one test into the next."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _english_by_default():
    """A request in another language leaves it active in this thread; no test inherits it."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.activate("en")
