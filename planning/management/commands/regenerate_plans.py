from datetime import date

from django.core.management.base import BaseCommand, CommandError

from planning import services


class Command(BaseCommand):
    help = ("Regenerate the month's targets (next month by default) and the visit-plan defaults from the latest "
            "scores; edited targets and plans are kept.")

    def add_arguments(self, parser):
        parser.add_argument("--month", help="YYYY-MM: the month to target instead of next month.")

    def handle(self, *args, month=None, **options):
        if month:
            try:
                first = date.fromisoformat(f"{month}-01")
            except ValueError:
                raise CommandError("Give --month as YYYY-MM, such as 2026-12.")
            result = {"month": first.isoformat(), "targets": services.generate_targets(month=first),
                      "visit_plans": services.generate_visit_plans()}
        else:
            try:
                result = services.regenerate_plans()
            except services.ScoresBusy:
                raise CommandError("An analytics run is computing; try again when it has finished.")
        self.stdout.write(f"Planning {result['month'][:7]}: targets {result['targets']}, visit plans {result['visit_plans']}")
