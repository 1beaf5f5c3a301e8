from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from planning import services
from planning.forms import MonthField


class Command(BaseCommand):
    help = ("Regenerate the month's targets (next month by default) and the visit-plan defaults from the latest "
            "scores; edited targets and plans are kept.")

    def add_arguments(self, parser):
        parser.add_argument("--month", help="YYYY-MM: the month to target instead of next month.")

    def handle(self, *args, month=None, **options):
        if month:
            try:
                first = MonthField().clean(month)
            except ValidationError as error:
                raise CommandError(" ".join(error.messages))
            result = {"month": first.isoformat(), "targets": services.generate_targets(month=first),
                      "visit_plans": services.generate_visit_plans()}
        else:
            try:
                result = services.regenerate_plans()
            except services.ScoresBusy:
                raise CommandError("An analytics run is computing; try again when it has finished.")
        self.stdout.write(f"Planning {result['month'][:7]}: targets {result['targets']}, visit plans {result['visit_plans']}")
