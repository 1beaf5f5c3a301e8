# The account plan's actuals (planning.services.account_actuals) summed every valid visit of an account's year:
# 280,000 rows for the largest account at 20,000 stores, 2.3 million at 100,000. planning_storemonth holds, per
# store and month, the valid days and their own units; triggers on stores_storevisit keep it exact for every
# writer (the services, the analytics run's suspect flags, the admin, COPY), then the table is filled once.
import django.db.models.deletion
from django.db import migrations, models

VALID = "{row}.total_sales > 0 AND (NOT {row}.suspect OR {row}.suspect_confirmed)"  # StoreVisit.objects.valid()

# PostgreSQL: one statement-level trigger per event, reading the transition tables, so a bulk upsert of 1000
# visits costs one grouped upsert of its (store, month) deltas. A delete only subtracts from existing rows.
MONTH = "date_trunc('month', v.date::timestamp)::date"
UPSERT = """
            ORDER BY 1, 2
            ON CONFLICT (store_id, month) DO UPDATE SET
                valid_days = planning_storemonth.valid_days + EXCLUDED.valid_days,
                own_sales = planning_storemonth.own_sales + EXCLUDED.own_sales;"""
POSTGRES = [
    # The key also carries the sums, so an account's year is an index-only scan of 12 entries per store.
    "ALTER TABLE planning_storemonth DROP CONSTRAINT one_store_month",
    "ALTER TABLE planning_storemonth ADD CONSTRAINT one_store_month UNIQUE (store_id, month) INCLUDE (valid_days, own_sales)",
    f"""
    CREATE FUNCTION planning_store_month_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO planning_storemonth (store_id, month, valid_days, own_sales)
            SELECT v.store_id, {MONTH}, count(*) AS n, sum(v.own_sales) AS own
            FROM new_visits AS v WHERE {VALID.format(row="v")} GROUP BY 1, 2{UPSERT}
        ELSIF TG_OP = 'UPDATE' THEN
            INSERT INTO planning_storemonth (store_id, month, valid_days, own_sales)
            SELECT store_id, month, sum(n) AS n, sum(own) AS own FROM (
                SELECT v.store_id, {MONTH} AS month, 1 AS n, v.own_sales AS own
                FROM new_visits AS v WHERE {VALID.format(row="v")}
                UNION ALL
                SELECT v.store_id, {MONTH}, -1, -v.own_sales FROM old_visits AS v WHERE {VALID.format(row="v")}
            ) AS delta
            GROUP BY 1, 2 HAVING sum(delta.n) <> 0 OR sum(delta.own) <> 0{UPSERT}
        ELSE
            UPDATE planning_storemonth AS sm SET valid_days = sm.valid_days - d.n, own_sales = sm.own_sales - d.own
            FROM (
                SELECT v.store_id, {MONTH} AS month, count(*) AS n, sum(v.own_sales) AS own
                FROM old_visits AS v WHERE {VALID.format(row="v")} GROUP BY 1, 2
            ) AS d
            WHERE sm.store_id = d.store_id AND sm.month = d.month;
        END IF;
        RETURN NULL;
    END $$
    """,
    """CREATE TRIGGER planning_store_month_insert AFTER INSERT ON stores_storevisit
       REFERENCING NEW TABLE AS new_visits FOR EACH STATEMENT EXECUTE FUNCTION planning_store_month_apply()""",
    """CREATE TRIGGER planning_store_month_update AFTER UPDATE ON stores_storevisit
       REFERENCING OLD TABLE AS old_visits NEW TABLE AS new_visits FOR EACH STATEMENT
       EXECUTE FUNCTION planning_store_month_apply()""",
    """CREATE TRIGGER planning_store_month_delete AFTER DELETE ON stores_storevisit
       REFERENCING OLD TABLE AS old_visits FOR EACH STATEMENT EXECUTE FUNCTION planning_store_month_apply()""",
]
POSTGRES_REVERSE = [
    "DROP TRIGGER IF EXISTS planning_store_month_insert ON stores_storevisit",
    "DROP TRIGGER IF EXISTS planning_store_month_update ON stores_storevisit",
    "DROP TRIGGER IF EXISTS planning_store_month_delete ON stores_storevisit",
    "DROP FUNCTION IF EXISTS planning_store_month_apply()",
]

# SQLite (the embedded default): row-level triggers; dates are ISO text there.
_ADD = """INSERT INTO planning_storemonth (store_id, month, valid_days, own_sales)
    SELECT NEW.store_id, strftime('%Y-%m-01', NEW.date), 1, NEW.own_sales WHERE {valid}
    ON CONFLICT (store_id, month) DO UPDATE SET valid_days = valid_days + 1, own_sales = own_sales + excluded.own_sales;"""
_SUBTRACT = """UPDATE planning_storemonth SET valid_days = valid_days - 1, own_sales = own_sales - OLD.own_sales
    WHERE store_id = OLD.store_id AND month = strftime('%Y-%m-01', OLD.date) AND {valid};"""
SQLITE = [
    f"CREATE TRIGGER planning_store_month_insert AFTER INSERT ON stores_storevisit BEGIN "
    f"{_ADD.format(valid=VALID.format(row='NEW'))} END",
    f"CREATE TRIGGER planning_store_month_update AFTER UPDATE ON stores_storevisit BEGIN "
    f"{_SUBTRACT.format(valid=VALID.format(row='OLD'))} {_ADD.format(valid=VALID.format(row='NEW'))} END",
    f"CREATE TRIGGER planning_store_month_delete AFTER DELETE ON stores_storevisit BEGIN "
    f"{_SUBTRACT.format(valid=VALID.format(row='OLD'))} END",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS planning_store_month_insert",
    "DROP TRIGGER IF EXISTS planning_store_month_update",
    "DROP TRIGGER IF EXISTS planning_store_month_delete",
]

FILL = {
    "postgresql": "date_trunc('month', date::timestamp)::date",
    "sqlite": "strftime('%Y-%m-01', date)",
}


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in FILL:
        raise NotImplementedError(f"planning_storemonth has no triggers for {vendor}")
    for statement in POSTGRES if vendor == "postgresql" else SQLITE:
        schema_editor.execute(statement, params=None)
    # The triggers first: on PostgreSQL CREATE TRIGGER locks out writers until this transaction commits.
    schema_editor.execute(
        f"INSERT INTO planning_storemonth (store_id, month, valid_days, own_sales) "
        f"SELECT store_id, {FILL[vendor]}, count(*), sum(own_sales) FROM stores_storevisit AS v "
        f"WHERE {VALID.format(row='v')} GROUP BY 1, 2", params=None,
    )
    schema_editor.execute("ANALYZE planning_storemonth", params=None)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in POSTGRES_REVERSE if vendor == "postgresql" else SQLITE_REVERSE:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('planning', '0005_date_range'),
        ('stores', '0004_date_range'),
    ]

    operations = [
        migrations.CreateModel(
            name='StoreMonth',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.DateField()),
                ('valid_days', models.IntegerField(default=0)),
                ('own_sales', models.BigIntegerField(default=0)),
                ('store', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='stores.store')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('store', 'month'), name='one_store_month')],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
