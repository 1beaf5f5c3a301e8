"""`manage.py recompute` SIGKILLed in the middle of saving its snapshot: the previous one stays whole, the next run works."""
import datetime as dt
import io

import pytest
from django.core.management import call_command

from accounts.models import KeyAccount
from analytics import services
from analytics.models import AnalyticsRun, StoreScore
from tests.analytics.test_services import AS_OF, build_world, snapshot
from tests.conftest import client_for
from tests.factories import AnalystFactory
from tests.faults.conftest import backend_gone, blocked_by, needs_postgresql, session, sigkill, spawn, wait_for

pytestmark = [needs_postgresql, pytest.mark.django_db(transaction=True)]

D = AS_OF
BEFORE = AS_OF - dt.timedelta(days=1)


def readings(client, day):
    """What the API shows: the stores and accounts of `day`, and the latest of each."""
    return {
        path: client.get(f"/api/v1/scores/{path}&page_size=100").json()
        for path in [f"stores/?as_of={day}", "stores/?", f"accounts/?as_of={day}", "accounts/?"]
    }


@pytest.mark.parametrize("day", [D, BEFORE], ids=["a new day", "the same day again"])
def test_a_recompute_killed_while_saving_leaves_the_previous_snapshot_whole_and_the_next_run_succeeds(day, tmp_path):
    build_world(n_stores=12, days=120)
    client = client_for(AnalystFactory())
    services.recompute(as_of=BEFORE)
    before, api_before = snapshot(BEFORE), readings(client, BEFORE)
    assert len(before[0]) == 12 and api_before[f"stores/?as_of={BEFORE}"]["count"] == 12
    # The save's last statement writes the computed tier on the account: hold that row to stop the run there,
    # after every row of the new snapshot was written in its transaction.
    KeyAccount.objects.filter(code="wm").update(tier="")

    with session() as other:
        other.execute("SELECT id FROM accounts_keyaccount WHERE code = 'wm' FOR UPDATE")
        log = tmp_path / "recompute.log"
        recompute = spawn("manage.py", "recompute", "--as-of", day.isoformat(), log=log)
        waiting = wait_for(lambda: blocked_by(other), timeout=120)
        assert waiting, log.read_text()
        [(pid, query)] = waiting
        assert query.startswith('UPDATE "accounts_keyaccount" SET "tier"'), query
        assert AnalyticsRun.objects.latest("id").status == "running"
        assert readings(client, BEFORE) == api_before  # mid-save, readers see the previous snapshot
        sigkill(recompute)
    assert wait_for(lambda: backend_gone(pid), timeout=10)

    assert snapshot(BEFORE) == before
    assert readings(client, BEFORE) == api_before
    assert StoreScore.objects.filter(as_of=D).count() == 0
    assert KeyAccount.objects.get(code="wm").tier == ""
    killed = AnalyticsRun.objects.latest("id")
    assert killed.status == "running"  # until the next run finds its process gone

    out = io.StringIO()
    call_command("recompute", "--as-of", day.isoformat(), stdout=out)

    assert out.getvalue().startswith(f"recompute as_of={day} status=succeeded stores=12 accounts=1 ")
    killed.refresh_from_db()
    assert (killed.status, killed.error) == ("failed", "Abandoned: the worker stopped before finishing.")
    assert StoreScore.objects.filter(as_of=day).count() == 12
    assert snapshot(BEFORE) == before  # a re-run of the same day gives the same rows
    assert KeyAccount.objects.get(code="wm").tier == "NKA"
    assert client.get("/api/v1/scores/stores/").json()["results"][0]["as_of"] == day.isoformat()
