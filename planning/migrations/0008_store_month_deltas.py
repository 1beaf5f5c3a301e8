# planning_storemonth's triggers upserted one row per (store, month): concurrent bulk batches of adjacent days
# upsert the same rows, so each waited for the other's commit (16,200 visits/s instead of 20,000-22,000 into
# 5 million visits, bench/README.md). On PostgreSQL it becomes a ledger of deltas (kacrm.tallies): the triggers
# only insert, readers sum a (store, month)'s rows, and the nightly planning task folds them. SQLite (one writer at
# a time) keeps its unique (store, month) row and upserting row triggers.
import importlib

import django.db.models.deletion
from django.db import migrations, models

earlier = importlib.import_module("planning.migrations.0006_store_months")
VALID, MONTH = earlier.VALID, earlier.MONTH

APPLY = f"""
    CREATE OR REPLACE FUNCTION planning_store_month_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO planning_storemonth (store_id, month, valid_days, own_sales)
            SELECT v.store_id, {MONTH}, count(*), sum(v.own_sales)
            FROM new_visits AS v WHERE {VALID.format(row="v")} GROUP BY 1, 2;
        ELSIF TG_OP = 'UPDATE' THEN
            INSERT INTO planning_storemonth (store_id, month, valid_days, own_sales)
            SELECT store_id, month, sum(n), sum(own) FROM (
                SELECT v.store_id, {MONTH} AS month, 1 AS n, v.own_sales AS own
                FROM new_visits AS v WHERE {VALID.format(row="v")}
                UNION ALL
                SELECT v.store_id, {MONTH}, -1, -v.own_sales FROM old_visits AS v WHERE {VALID.format(row="v")}
            ) AS delta
            GROUP BY 1, 2 HAVING sum(delta.n) <> 0 OR sum(delta.own) <> 0;
        ELSE
            INSERT INTO planning_storemonth (store_id, month, valid_days, own_sales)
            SELECT v.store_id, {MONTH}, -count(*), -sum(v.own_sales)
            FROM old_visits AS v WHERE {VALID.format(row="v")} GROUP BY 1, 2;
        END IF;
        RETURN NULL;
    END $$
"""


def to_deltas(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("ALTER TABLE planning_storemonth DROP CONSTRAINT one_store_month", params=None)
    # An account's year stays an index-only scan: the sums ride in the index.
    schema_editor.execute(
        "CREATE INDEX store_month_idx ON planning_storemonth (store_id, month) INCLUDE (valid_days, own_sales)", params=None
    )
    schema_editor.execute(APPLY, params=None)


def to_upserts(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("LOCK TABLE stores_storevisit IN SHARE MODE", params=None)
    schema_editor.execute("""
        WITH gone AS (DELETE FROM planning_storemonth RETURNING store_id, month, valid_days, own_sales)
        INSERT INTO planning_storemonth (store_id, month, valid_days, own_sales)
        SELECT store_id, month, sum(valid_days), sum(own_sales) FROM gone GROUP BY 1, 2""", params=None)
    schema_editor.execute("DROP INDEX store_month_idx", params=None)
    for statement in earlier.POSTGRES[:3]:
        schema_editor.execute(statement.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION").replace(
            "ALTER TABLE planning_storemonth DROP CONSTRAINT one_store_month", "SELECT 1"), params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('planning', '0007_month_in_range'),
    ]

    operations = [
        # Django deleted a store's months before its visits, whose delete deltas then stayed negative.
        migrations.AlterField(
            model_name='storemonth',
            name='store',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='stores.store'),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.RemoveConstraint(model_name='storemonth', name='one_store_month')],
            database_operations=[migrations.RunPython(to_deltas, to_upserts)],
        ),
    ]
