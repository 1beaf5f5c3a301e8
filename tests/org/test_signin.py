"""Signing in at /login/ and POST /api/v1/auth/token/: one lockout, per username and address, kept in the database.

Thresholds (kacrm/settings.py defaults): 10 failures for one username from one address, or 100 from one address
for any usernames, within 15 minutes.
"""
import datetime as dt

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from org.signin import client_address
from tests import other_process
from tests.factories import RepFactory, UserFactory

pytestmark = pytest.mark.django_db

X, Y = "198.51.100.10", "203.0.113.20"
TOKEN = "/api/v1/auth/token/"


def locked(minutes):
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed sign-in attempts. For your security, wait {minutes} {unit} and try again."


def sign_in(client, username, password, ip=X, **headers):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip, **headers)


def token(api, username, password, ip=X, **headers):
    return api.post(TOKEN, {"username": username, "password": password}, format="json", REMOTE_ADDR=ip, **headers)


def signed_in(response):
    return response.status_code == 302 and response.url == reverse("home")


@pytest.fixture
def rep_b(region):
    return RepFactory(username="rep2", region=region)


# The login page


def test_the_login_page_signs_in(client, rep):
    assert signed_in(sign_in(client, "rep1", "pw"))


def test_ten_wrong_passwords_lock_the_username_from_that_address_even_with_the_right_password(client, rep):
    wrong = "Please enter a correct username and password. Note that both fields may be case-sensitive."
    for _ in range(9):
        assert sign_in(client, "rep1", "wrong").context["form"].non_field_errors() == [wrong]
    tenth = sign_in(client, "rep1", "wrong")

    response = sign_in(client, "REP1", "pw")

    assert tenth.context["form"].non_field_errors() == [locked(15)]  # told at once
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [locked(15)]
    assert "_auth_user_id" not in client.session


def test_the_lock_spares_other_usernames_from_that_address_and_that_username_from_elsewhere(client, rep, rep_b):
    for _ in range(10):
        sign_in(client, "rep1", "wrong", ip=X)

    assert sign_in(client, "rep1", "pw", ip=X).context["form"].non_field_errors() == [locked(15)]
    assert signed_in(sign_in(client, "rep2", "pw", ip=X))
    client.logout()
    assert signed_in(sign_in(client, "rep1", "pw", ip=Y))


def test_the_message_counts_down_and_the_lock_ends_after_15_minutes(client, rep, monkeypatch):
    start = timezone.now()
    for _ in range(10):
        sign_in(client, "rep1", "wrong")

    monkeypatch.setattr(timezone, "now", lambda: start + dt.timedelta(minutes=10, seconds=30))
    after_10_minutes = sign_in(client, "rep1", "pw")
    monkeypatch.setattr(timezone, "now", lambda: start + dt.timedelta(minutes=14, seconds=30))
    after_14_minutes = sign_in(client, "rep1", "pw")
    monkeypatch.setattr(timezone, "now", lambda: start + dt.timedelta(minutes=15, seconds=1))

    assert after_10_minutes.context["form"].non_field_errors() == [locked(5)]
    assert after_14_minutes.context["form"].non_field_errors() == [locked(1)]
    assert signed_in(sign_in(client, "rep1", "pw"))


def test_a_successful_sign_in_forgets_that_usernames_failures_from_that_address(client, rep):
    for _ in range(9):
        sign_in(client, "rep1", "wrong")
    assert signed_in(sign_in(client, "rep1", "pw"))
    client.logout()

    for _ in range(9):
        sign_in(client, "rep1", "wrong")

    assert signed_in(sign_in(client, "rep1", "pw"))


def test_a_hundred_failures_from_one_address_lock_it_for_every_username(client, api, rep, rep_b):
    for n in range(99):
        token(api, f"guess{n}", "wrong")
    assert signed_in(sign_in(client, "rep2", "pw"))  # 99: still open (and a success forgives only rep2's)
    client.logout()
    token(api, "guess99", "wrong")

    assert sign_in(client, "rep1", "pw").context["form"].non_field_errors() == [locked(15)]
    assert signed_in(sign_in(client, "rep1", "pw", ip=Y))


def test_an_ipv6_subscriber_is_one_address_its_whole_64_network(client, rep):
    for n in range(10):
        sign_in(client, "rep1", "wrong", ip=f"2001:db8:1:2::{n + 1:x}")

    assert sign_in(client, "rep1", "pw", ip="2001:db8:1:2:ffff::1").context["form"].non_field_errors() == [locked(15)]
    assert signed_in(sign_in(client, "rep1", "pw", ip="2001:db8:1:3::1"))


def test_the_django_admin_login_counts_and_locks_like_the_login_page(client, api):
    UserFactory(username="admin", is_staff=True, is_superuser=True)
    for _ in range(10):
        client.post("/admin/login/", {"username": "admin", "password": "wrong"}, REMOTE_ADDR=X)

    response = client.post("/admin/login/", {"username": "admin", "password": "pw"}, REMOTE_ADDR=X)

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [locked(15)]
    assert token(api, "admin", "pw").status_code == 429


# The token endpoint: the same rule and the same counters


def test_ten_wrong_passwords_on_the_api_answer_429_with_the_wait(api, rep):
    answers = [token(api, "rep1", "wrong").status_code for _ in range(10)]

    response = token(api, "rep1", "pw")

    assert answers == [400] * 9 + [429]
    assert response.status_code == 429
    assert response.json() == {"detail": locked(15), "retry_after": 900}
    assert response["Retry-After"] == "900"


def test_the_api_lock_spares_other_usernames_and_other_addresses(api, rep, rep_b):
    for _ in range(10):
        token(api, "rep1", "wrong", ip=X)

    assert token(api, "rep1", "pw", ip=X).status_code == 429
    assert "token" in token(api, "rep2", "pw", ip=X).json()
    assert "token" in token(api, "rep1", "pw", ip=Y).json()


def test_failures_on_the_page_and_on_the_api_add_up(client, api, rep):
    for _ in range(5):
        sign_in(client, "rep1", "wrong")
        token(api, "rep1", "wrong")

    assert token(api, "rep1", "pw").status_code == 429
    assert sign_in(client, "rep1", "pw").context["form"].non_field_errors() == [locked(15)]


def test_a_stale_token_header_does_not_stop_getting_a_new_token(api, rep):
    response = token(api, "rep1", "pw", HTTP_AUTHORIZATION="Token not-a-token")

    assert response.status_code == 200 and set(response.json()) == {"token"}


# The client's address: REMOTE_ADDR unless a trusted proxy (DJANGO_TRUSTED_PROXIES) relays the request

PROXY = "10.0.0.2"


@pytest.mark.parametrize(("trusted", "remote", "forwarded", "client"), [
    ([], PROXY, "203.0.113.5", PROXY),  # default: the header is ignored, whoever sends it
    (["10.0.0.0/24"], PROXY, "203.0.113.5", "203.0.113.5"),
    (["10.0.0.0/24"], PROXY, "192.0.2.66, 203.0.113.5", "203.0.113.5"),  # the client's own header is not believed
    (["10.0.0.0/24"], PROXY, "203.0.113.5, 10.0.0.7", "203.0.113.5"),  # through two of our proxies
    (["10.0.0.0/24"], "198.51.100.9", "203.0.113.5", "198.51.100.9"),  # not from our proxy: ignored
    (["10.0.0.0/24"], PROXY, "", PROXY),
    (["10.0.0.0/24"], PROXY, "not-an-address", PROXY),
])
def test_the_client_address_is_forwarded_only_by_trusted_proxies(settings, trusted, remote, forwarded, client):
    import ipaddress

    settings.TRUSTED_PROXIES = [ipaddress.ip_network(net) for net in trusted]
    request = RequestFactory().post("/login/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)

    assert client_address(request) == client


def test_by_default_a_forged_x_forwarded_for_does_not_escape_the_lock(client, rep):
    for n in range(10):
        sign_in(client, "rep1", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")

    response = sign_in(client, "rep1", "pw", HTTP_X_FORWARDED_FOR="192.0.2.200")

    assert response.context["form"].non_field_errors() == [locked(15)]


def test_behind_a_trusted_proxy_each_client_has_its_own_count(client, api, rep, settings):
    import ipaddress

    settings.TRUSTED_PROXIES = [ipaddress.ip_network(PROXY)]
    for _ in range(10):
        token(api, "rep1", "wrong", ip=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.5")

    assert token(api, "rep1", "pw", ip=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 429
    assert signed_in(sign_in(client, "rep1", "pw", ip=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.6"))


# Several processes (gunicorn workers) share the counters: they are rows in the database

WRONG_PASSWORDS = """
from django.test import Client
codes = [Client().post("/api/v1/auth/token/", {"username": "rep1", "password": "wrong"},
                       REMOTE_ADDR="198.51.100.10").status_code for _ in range(10)]
print(json.dumps(codes))
"""
RIGHT_PASSWORD = """
from django.test import Client
page = Client().post("/login/", {"username": "rep1", "password": "pw"}, REMOTE_ADDR="198.51.100.10")
api = Client().post("/api/v1/auth/token/", {"username": "rep1", "password": "pw"}, REMOTE_ADDR="198.51.100.10")
print(json.dumps([page.status_code, "Too many failed sign-in attempts" in page.content.decode(), api.status_code]))
"""


@pytest.mark.django_db(transaction=True)
def test_two_processes_guessing_at_once_get_ten_guesses_between_them_not_ten_each(tmp_path):
    RepFactory(username="rep1")
    database = other_process.database_url(tmp_path)

    guessers = [other_process.start(WRONG_PASSWORDS, database=database) for _ in range(2)]
    codes = sum((other_process.result(p) for p in guessers), [])
    after = other_process.result(other_process.start(RIGHT_PASSWORD, database=database))

    assert sorted(set(codes)) == [400, 429]
    assert codes.count(400) <= 9  # wrong passwords; the tenth failure answers 429 at once, the rest unseen
    assert after == [200, True, 429]  # a third process: the page and the API both refuse
