import time
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from alerts import evaluation as alert_services
from analytics import services


class Command(BaseCommand):
    help = "Recompute store and account analytics (SPEC §3, §4) and evaluate alerts (§5) for one day, synchronously."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=date.fromisoformat, help="YYYY-MM-DD (default: yesterday)")

    def handle(self, *args, as_of=None, **options):
        try:
            run = services.recompute(as_of=as_of)
        except services.RunInProgress as busy:
            raise CommandError(str(busy))
        tick = time.perf_counter()
        alerts = alert_services.evaluate_nightly(as_of=run.as_of)  # the nightly part of SPEC §5
        alert_summary = " alerts=skipped (a later day is scored)" if alerts is None else (
            f" alerts_evaluated={alerts.evaluated} alerts_opened={len(alerts.opened)} "
            f"alerts_recovered={len(alerts.recovered)} alerts={time.perf_counter() - tick:.2f}s"
        )
        c, t = run.counts, run.timings
        self.stdout.write(
            f"recompute as_of={run.as_of} status={run.status} stores={c['stores']} accounts={c['accounts']} "
            f"visits={c['visits']} observed={c['observed']} potential_known={c['potential_known']} "
            f"suspects={c['suspects']} attack={c.get('zone_attack', 0)} defend={c.get('zone_defend', 0)} "
            f"model_usable={c['model_usable']} observe={t['observe']:.2f}s score={t['score']:.2f}s "
            f"save={t['save']:.2f}s total={t['total']:.2f}s"
            f"{alert_summary}"
        )
