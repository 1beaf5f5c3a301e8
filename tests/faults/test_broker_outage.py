"""The broker down while 1,000 visits are logged: every visit is stored at once, every alert opens once it is back."""
import time
from email import message_from_string

import pytest

from alerts.models import Alert, Notification, PendingEvaluation
from alerts.tasks import evaluate_pending_task
from stores.models import Store, StoreVisit
from tests.alerts.conftest import day
from tests.conftest import client_for
from tests.factories import MarketShareFactory, RegionFactory, RepFactory, StoreFactory, SupervisorFactory
from tests.faults.conftest import (
    RedisServer, broker, free_port, needs_postgresql, needs_redis_server, sigkill, spawn, wait_for,
)

pytestmark = [pytest.mark.redis, needs_postgresql, needs_redis_server, pytest.mark.django_db(transaction=True)]

LOW = [f"low{i:02d}" for i in range(10)]  # FSI 72: each opens an alert
HEALTHY = [f"ok{i:02d}" for i in range(10)]  # FSI 120: none
DAYS = 50  # 20 stores x 50 days = the 1,000 visits of the outage


@pytest.fixture
def world():
    region = RegionFactory(code="north", country="CN")
    region.supervisors.add(SupervisorFactory(username="sup1"))
    rep = RepFactory(username="rep1", region=region)
    for code in LOW + HEALTHY:
        StoreFactory(code=code, region=region, rep=rep)
    MarketShareFactory(country="CN", region=region, share=0.25)
    return rep


def visit(code, n):
    """With 100 sold a day and a 25% market share, FSI = 4 x own."""
    return {"store": code, "date": day(n).isoformat(), "total_sales": 100, "own_sales": 18 if code in LOW else 30}


@pytest.fixture
def server():
    redis = RedisServer(free_port())
    redis.start()
    yield redis
    redis.kill()


def timed(request):
    started = time.monotonic()
    response = request()
    return response, time.monotonic() - started


def emails(folder) -> list[str]:
    """The subjects of the emails the worker sent (its backend writes them to files)."""
    return sorted(message_from_string(part).get("Subject") for path in folder.iterdir()
                  for part in path.read_text().split("-" * 79 + "\n") if part.strip())


def test_with_the_broker_down_1000_visits_are_stored_fast_and_each_alert_opens_once_it_is_back(world, server, tmp_path):
    client = client_for(world)
    (outbox := tmp_path / "outbox").mkdir()
    log = tmp_path / "worker.log"
    # A worker in its own process, as deployed, living through the outage.
    survivor = spawn("-m", "celery", "-A", "kacrm", "worker", "--pool=solo", "--without-mingle", "--without-gossip",
                     "-l", "info", log=log, settings_module="kacrm.settings", REDIS_URL=server.url,
                     EMAIL_URL=f"filemail:///{outbox}")  # filemail:////tmp/...: an absolute path
    try:
        assert wait_for(lambda: " ready." in log.read_text(), timeout=120), log.read_text()
        with broker(server.url):
            assert client.get("/api/v1/visits/").status_code == 200  # the first request's imports are not the broker's
            server.kill()

            bulk = [visit(code, n) for code in LOW + HEALTHY for n in range(DAYS - 5)]  # 900 in 9 batches of 100
            responses = [timed(lambda: client.post("/api/v1/visits/bulk/", bulk[i : i + 100], format="json"))
                         for i in range(0, len(bulk), 100)]
            responses += [timed(lambda: client.post("/api/v1/visits/", visit(code, n), format="json"))
                          for n in range(DAYS - 5, DAYS) for code in LOW + HEALTHY]  # 100 one by one

            assert [r.status_code for r, _ in responses] == [200] * 9 + [201] * 100
            assert max(seconds for _, seconds in responses) < 2.0
            assert StoreVisit.objects.count() == 1000
            assert (Alert.objects.count(), PendingEvaluation.objects.values("store").distinct().count()) == (0, 20)
            server.start()

            # The first visit after the outage goes through at once: web process and worker reconnect by themselves.
            assert client.post("/api/v1/visits/", visit("low00", DAYS), format="json").status_code == 201
            assert wait_for(lambda: Alert.objects.exists(), timeout=60), log.read_text()
            assert list(Alert.objects.values_list("store__code", "opened_on")) == [("low00", day(DAYS))]
            assert PendingEvaluation.objects.values("store").distinct().count() == 19  # the other stores wait for the sweep

            evaluate_pending_task.delay()  # the sweeps beat sends every 5 minutes
            evaluate_pending_task.delay()
            assert wait_for(lambda: log.read_text().count("] succeeded in ") == 3, timeout=60), log.read_text()
    finally:
        sigkill(survivor)

    opened = dict(Alert.objects.values_list("store__code", "opened_on"))
    assert opened == {code: day(DAYS if code == "low00" else DAYS - 1) for code in LOW}
    assert Alert.objects.filter(status="open").count() == 10
    assert PendingEvaluation.objects.count() == 0
    assert Notification.objects.count() == 10
    low00 = Store.objects.get(code="low00").name
    assert emails(outbox) == ["9 new alerts: stores below market share", f"Alert: {low00} (low00) below market share, FSI 72"]
