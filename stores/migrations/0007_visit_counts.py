# The visit lists' exact count (SPEC §7) counted every visible visit: 25 million index entries for an analyst at
# 100,000 stores (0.75 s). stores_storevisitcount tallies the visits per store (kacrm.tallies): on PostgreSQL a
# ledger of deltas that statement triggers insert and never update (so concurrent bulk batches never wait on each
# other's rows), on SQLite one row per store that row triggers upsert.
from django.db import migrations, models

# PostgreSQL: one grouped insert of the statement's deltas per event, from its transition tables.
DELTAS = """
    INSERT INTO stores_storevisitcount (store_id, visits)
    SELECT store_id, sum(n) FROM ({rows}) AS delta GROUP BY store_id HAVING sum(n) <> 0;"""
POSTGRES = [
    "CREATE INDEX visit_count_store_idx ON stores_storevisitcount (store_id) INCLUDE (visits)",
    f"""
    CREATE FUNCTION stores_visit_count_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            {DELTAS.format(rows="SELECT store_id, 1 AS n FROM new_rows")}
        ELSIF TG_OP = 'UPDATE' THEN
            {DELTAS.format(rows="SELECT store_id, 1 AS n FROM new_rows UNION ALL SELECT store_id, -1 FROM old_rows")}
        ELSIF TG_OP = 'DELETE' THEN
            {DELTAS.format(rows="SELECT store_id, -1 AS n FROM old_rows")}
        ELSE
            DELETE FROM stores_storevisitcount;
        END IF;
        RETURN NULL;
    END $$
    """,
    """CREATE TRIGGER stores_visit_count_insert AFTER INSERT ON stores_storevisit
       REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stores_visit_count_apply()""",
    """CREATE TRIGGER stores_visit_count_update AFTER UPDATE ON stores_storevisit
       REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stores_visit_count_apply()""",
    """CREATE TRIGGER stores_visit_count_delete AFTER DELETE ON stores_storevisit
       REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION stores_visit_count_apply()""",
    """CREATE TRIGGER stores_visit_count_truncate AFTER TRUNCATE ON stores_storevisit
       FOR EACH STATEMENT EXECUTE FUNCTION stores_visit_count_apply()""",
]
POSTGRES_REVERSE = [
    "DROP TRIGGER IF EXISTS stores_visit_count_insert ON stores_storevisit",
    "DROP TRIGGER IF EXISTS stores_visit_count_update ON stores_storevisit",
    "DROP TRIGGER IF EXISTS stores_visit_count_delete ON stores_storevisit",
    "DROP TRIGGER IF EXISTS stores_visit_count_truncate ON stores_storevisit",
    "DROP FUNCTION IF EXISTS stores_visit_count_apply()",
]
# SQLite (the embedded default): row-level triggers upserting one row per store.
_ADD = ("INSERT INTO stores_storevisitcount (store_id, visits) VALUES ({row}.store_id, {n}) "
        "ON CONFLICT (store_id) DO UPDATE SET visits = visits + {n};")
SQLITE = [
    "CREATE UNIQUE INDEX visit_count_store_idx ON stores_storevisitcount (store_id)",
    f"CREATE TRIGGER stores_visit_count_insert AFTER INSERT ON stores_storevisit BEGIN {_ADD.format(row='NEW', n=1)} END",
    f"CREATE TRIGGER stores_visit_count_delete AFTER DELETE ON stores_storevisit BEGIN {_ADD.format(row='OLD', n=-1)} END",
    f"CREATE TRIGGER stores_visit_count_update AFTER UPDATE OF store_id ON stores_storevisit "
    f"WHEN OLD.store_id <> NEW.store_id BEGIN {_ADD.format(row='OLD', n=-1)} {_ADD.format(row='NEW', n=1)} END",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS stores_visit_count_insert",
    "DROP TRIGGER IF EXISTS stores_visit_count_delete",
    "DROP TRIGGER IF EXISTS stores_visit_count_update",
]


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"stores_storevisitcount has no triggers for {vendor}")
    for statement in POSTGRES if vendor == "postgresql" else SQLITE:
        schema_editor.execute(statement, params=None)
    # The triggers first: on PostgreSQL CREATE TRIGGER locks out writers until this transaction commits.
    schema_editor.execute(
        "INSERT INTO stores_storevisitcount (store_id, visits) "
        "SELECT store_id, count(*) FROM stores_storevisit GROUP BY store_id", params=None,
    )


def drop_triggers(apps, schema_editor):
    for statement in POSTGRES_REVERSE if schema_editor.connection.vendor == "postgresql" else SQLITE_REVERSE:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('stores', '0006_fewer_visit_indexes'),
    ]

    operations = [
        migrations.CreateModel(
            name='StoreVisitCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('visits', models.BigIntegerField()),
                ('store', models.ForeignKey(db_constraint=False, db_index=False, on_delete=models.DO_NOTHING, related_name='+', to='stores.store')),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
