"""Sign-in at /login/ and the navigation, which asks the access policy (`may`) rather than roles."""
import re

import pytest

from tests.factories import AnalystFactory, KAManagerFactory, KeyAccountFactory, RepFactory, SupervisorFactory

pytestmark = pytest.mark.django_db

NAV_LINKS = re.compile(r'<a href="/(reps|alerts|analytics/model)/"')


@pytest.mark.parametrize(("factory", "links"), [
    (RepFactory, []),
    (KAManagerFactory, []),
    (SupervisorFactory, ["reps", "alerts"]),
    (AnalystFactory, ["reps", "alerts", "analytics/model"]),
])
def test_the_navigation_shows_each_role_the_pages_its_actions_allow(client, factory, links):
    client.force_login(factory())

    page = client.get("/visits/").content.decode()

    assert NAV_LINKS.findall(page) == links


def test_sign_in_lives_at_its_own_url_so_an_account_may_be_coded_login(client):
    ka = KAManagerFactory(username="ka1")
    ka.set_password("demo")
    ka.save()
    KeyAccountFactory(code="login", name="Login Mart", owner=ka)

    assert client.get("/login/").status_code == 200
    assert client.post("/login/", {"username": "ka1", "password": "demo"}).status_code == 302
    assert b"Login Mart" in client.get("/accounts/login/").content
