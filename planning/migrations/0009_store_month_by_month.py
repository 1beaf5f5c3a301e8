# The targets' summary reads one month of every store in scope from the store months: an index on (month, store)
# with the sums inside makes it an index-only scan of that month's rows instead of a scan of every month of every
# store (1.3 million rows at 100,000 stores). PostgreSQL only (kacrm.tallies: the tally's migrations make its
# indexes); CONCURRENTLY, so the visits' triggers keep inserting deltas while it is built.
from django.db import migrations

INDEX = "store_month_by_month_idx"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON planning_storemonth (month, store_id) "
            "INCLUDE (valid_days, own_sales)", params=None,
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}", params=None)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('planning', '0008_store_month_deltas'),
    ]

    operations = [migrations.RunPython(create, drop)]
