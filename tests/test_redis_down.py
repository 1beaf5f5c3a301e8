"""REDIS_URL set but nothing listening: signing in, pages and the API work; a run request fails at once, cleanly."""
import datetime as dt
import socket
import time

import pytest
from django.utils import timezone

from analytics.models import AnalyticsRun
from tests import other_process
from tests.alerts.test_redis import broker
from tests.conftest import client_for
from tests.factories import AnalystFactory, RepFactory, StoreFactory

CLOSED = ("127.0.0.1", 6390)
REDIS_DOWN = f"redis://{CLOSED[0]}:{CLOSED[1]}/0"


@pytest.fixture(autouse=True)
def _nothing_listens():
    with socket.socket() as probe:
        if probe.connect_ex(CLOSED) == 0:
            pytest.skip(f"something listens on {CLOSED}")


SESSION = """
from django.test import Client
from django.urls import reverse
from analytics.models import AnalyticsRun
from org.models import User
from stores.models import StoreVisit

for user in User.objects.all():  # this process hashes with the production hasher
    user.set_password("pw")
    user.save()
found = {}

def timed(name, request):
    start = time.monotonic()
    response = request()
    found[name] = [response.status_code, round(time.monotonic() - start, 2)]
    return response

page = Client()
timed("login page", lambda: page.get("/login/"))
timed("wrong password", lambda: page.post("/login/", {"username": "rep1", "password": "nope"}))
timed("sign in", lambda: page.post("/login/", {"username": "rep1", "password": "pw"}))
timed("store list", lambda: page.get(reverse("store-list")))
timed("visit", lambda: page.post("/api/v1/visits/", {"store": "mine", "date": os.environ["TODAY"], "total_sales": 100,
                                                     "own_sales": 20}, content_type="application/json"))
api = Client()
token = timed("token", lambda: api.post("/api/v1/auth/token/", {"username": "analyst", "password": "pw"})).json()["token"]
auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
timed("api list", lambda: api.get("/api/v1/stores/", **auth))
found["run body"] = timed("run", lambda: api.post("/api/v1/analytics/runs/", {}, content_type="application/json", **auth)).json()
found["runs"] = list(AnalyticsRun.objects.values_list("status", flat=True))
found["visits"] = StoreVisit.objects.count()
print(json.dumps(found))
"""


@pytest.mark.django_db(transaction=True)
def test_with_redis_unreachable_sign_in_pages_and_the_api_work_and_a_run_is_refused_at_once(tmp_path):
    rep = RepFactory(username="rep1")
    StoreFactory(code="mine", region=rep.region, rep=rep)
    AnalystFactory(username="analyst")
    database = other_process.database_url(tmp_path)

    found = other_process.result(other_process.start(
        SESSION, database=database, settings_module="kacrm.settings", REDIS_URL=REDIS_DOWN,
        TODAY=timezone.localdate().isoformat(),
    ))

    statuses = {name: found[name][0] for name in
                ("login page", "wrong password", "sign in", "store list", "visit", "token", "api list", "run")}
    assert statuses == {"login page": 200, "wrong password": 200, "sign in": 302, "store list": 200, "visit": 201,
                        "token": 200, "api list": 200, "run": 503}
    assert found["run"][1] < 3
    assert found["run body"]["detail"] == (
        "The task queue is unreachable, so the run was not queued. Try again in a few minutes.")
    assert found["runs"] == ["failed"]
    assert found["visits"] == 1


@pytest.mark.django_db(transaction=True)
def test_a_run_refused_by_the_broker_is_listed_as_failed_with_the_reason(settings):
    client = client_for(AnalystFactory(username="analyst"))
    assert client.get("/api/v1/analytics/runs/").status_code == 200  # the URLconf is loaded: time the request alone
    with broker(REDIS_DOWN):
        start = time.monotonic()
        response = client.post("/api/v1/analytics/runs/", {"as_of": (timezone.localdate() - dt.timedelta(days=1)).isoformat()},
                               format="json")
        took = time.monotonic() - start

    run = AnalyticsRun.objects.get()
    listed = client.get("/api/v1/analytics/runs/").json()["results"]
    assert response.status_code == 503 and took < 3
    assert response.json()["id"] == run.pk
    assert [(r["id"], r["status"]) for r in listed] == [(run.pk, "failed")]
    assert run.error.startswith("Not queued: the task queue is unreachable (")
    assert run.finished_at is not None
