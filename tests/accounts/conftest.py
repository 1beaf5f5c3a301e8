import pytest

from tests.factories import KAManagerFactory, KeyAccountFactory, RegionFactory, RepFactory, StoreFactory, SupervisorFactory


@pytest.fixture
def ka1():
    return KAManagerFactory(username="ka1", first_name="Fang", last_name="Wang")


@pytest.fixture
def ka2():
    return KAManagerFactory(username="ka2")


@pytest.fixture
def wm(ka1, rep, region):
    """ka1's account, with a store of rep1 in region `north` (so rep1 and its supervisor read it)."""
    account = KeyAccountFactory(code="wm", name="Walmart China", owner=ka1)
    StoreFactory(code="wm-001", account=account, region=region, rep=rep)
    return account


@pytest.fixture
def cf(ka2):
    """ka2's account in another region, with its own rep and supervisor: must never leak to ka1 or rep1."""
    south = RegionFactory(code="south")
    south.supervisors.add(SupervisorFactory(username="sup9"))
    account = KeyAccountFactory(code="cf", name="Carrefour", owner=ka2)
    StoreFactory(code="cf-001", account=account, region=south, rep=RepFactory(username="rep9", region=south))
    return account
