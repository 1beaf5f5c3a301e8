from django.core.management.base import BaseCommand, CommandError

from analytics import services
from kacrm.dates import iso_day


class Command(BaseCommand):
    help = "Recompute store and account analytics (SPEC §3, §4) and evaluate alerts (§5) for one day, synchronously."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=iso_day, help="YYYY-MM-DD (default: yesterday)")

    def handle(self, *args, as_of=None, **options):
        try:
            run = services.recompute(as_of=as_of)
        except services.RunInProgress as busy:
            raise CommandError(str(busy))
        summaries = services.announce(run)  # alerts: the nightly part of SPEC §5
        c, t = run.counts, run.timings
        self.stdout.write(
            f"recompute as_of={run.as_of} status={run.status} stores={c['stores']} accounts={c['accounts']} "
            f"visits={c['visits']} observed={c['observed']} potential_known={c['potential_known']} "
            f"suspects={c['suspects']} attack={c.get('zone_attack', 0)} defend={c.get('zone_defend', 0)} "
            f"model_usable={c['model_usable']} observe={t['observe']:.2f}s score={t['score']:.2f}s "
            f"save={t['save']:.2f}s total={t['total']:.2f}s"
            + "".join(f" {summary}" for summary in summaries)
        )
