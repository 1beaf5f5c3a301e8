import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from demo.world import DEMO_PASSWORD, MIN_DAYS, MIN_STORES, REGION_ONE, demo_data_present, seed_demo_world
from stores.models import Store


class Command(BaseCommand):
    help = (
        "Build a deterministic demo world (SPEC §8): regions in CN, ES and MX with supervisors and reps, "
        "chains of each tier, institutions and independents, stores with drivers, visits ending today, "
        "market shares; then one recompute when a `recompute` command is installed. Every demo login "
        "has the password 'demo'. Refuses to run with DEBUG off unless --force. When demo data are "
        "already present it changes nothing and exits with an error; --reset deletes the demo world "
        "(demo users, regions, accounts, teams, every store of the demo regions with its visits, "
        "demo market shares) and builds it again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--stores", type=int, default=300, help="Number of stores (at least %d; default 300)." % MIN_STORES)
        parser.add_argument("--days", type=int, default=400, help="Days of visits ending today (at least %d; default 400)." % MIN_DAYS)
        parser.add_argument("--seed", type=int, default=42, help="Random seed; the same seed on the same day gives the same world.")
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off (a throwaway database only).")
        parser.add_argument("--reset", action="store_true", help="Delete an existing demo world first and build it again.")
        parser.add_argument("--if-empty", action="store_true", help="Do nothing (and succeed) unless the database has no store and no user; `make run` uses it.")
        parser.add_argument("--skip-recompute", action="store_true", help="Do not run the analytics recompute at the end.")

    def handle(self, *args, stores, days, seed, force, reset, skip_recompute, if_empty=False, **options):
        if if_empty and (Store.objects.exists() or get_user_model().objects.exists()):
            self.stdout.write("The database already holds data; demo not seeded.")
            return
        if not settings.DEBUG and not force:
            raise CommandError(
                "DEBUG is off: seed_demo creates logins with the public password 'demo'. "
                "Pass --force if this really is a throwaway database."
            )
        if stores < MIN_STORES:
            raise CommandError(f"--stores must be at least {MIN_STORES}.")
        if days < MIN_DAYS:
            raise CommandError(f"--days must be at least {MIN_DAYS}.")
        present = demo_data_present()
        if present and not reset:
            raise CommandError(f"Demo data already present ({'; '.join(present)}); use --reset to delete and rebuild it.")

        started = time.monotonic()
        world = seed_demo_world(stores=stores, days=days, seed=seed, today=timezone.localdate(), reset=reset)
        self.stdout.write(
            f"Demo world: {world.regions} regions, {sum(map(len, world.accounts.values()))} accounts, "
            f"{world.stores} stores, {world.visits} visits from {world.first_day} to {world.last_day}, "
            f"{world.market_shares} market shares ({time.monotonic() - started:.1f} s)."
        )
        if skip_recompute:
            self.stdout.write("Recompute: skipped (--skip-recompute).")
        else:
            self._recompute()
        self._print_logins(world)

    def _recompute(self):
        """The final "one recompute" of SPEC §8."""
        self.stdout.write("Recompute: running `manage.py recompute` ...")
        try:
            call_command("recompute", stdout=self.stdout, stderr=self.stderr)
            # Zone-driven targets and visit plans follow the scores, as the nightly job does.
            call_command("regenerate_plans", stdout=self.stdout, stderr=self.stderr)
        except Exception as exc:  # the world is committed; say so rather than leave a bare traceback
            raise CommandError(
                f"The demo world is saved, but the recompute failed: {exc!r}. Fix it, then run `manage.py recompute`."
            ) from exc

    def _print_logins(self, world):
        owners = {owner: ", ".join(codes) for owner, codes in world.accounts.items()}
        rows = [
            ("admin", "analyst + superuser", "", "Django admin, sees everything"),
            ("analyst", "analyst", "", "market shares, model, recomputes"),
            ("ka1", "ka_manager", "", f"owns {owners['ka1']}"),
            ("sup1", "supervisor", REGION_ONE, f"heads {REGION_ONE}"),
            ("rep1", "sales_manager", REGION_ONE, f"{world.stores_by_rep.get('rep1', 0)} stores"),
            ("rep2", "sales_manager", REGION_ONE, f"{world.stores_by_rep.get('rep2', 0)} stores"),
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        self.stdout.write(f'\nDemo logins (password "{DEMO_PASSWORD}"):')
        for row in rows:
            self.stdout.write("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[3])
        self.stdout.write(f"  Also ka2 (owns {owners['ka2']}), sup2-sup4 and rep3-rep8, same password.")
