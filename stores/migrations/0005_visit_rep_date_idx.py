from django.db import migrations

# The rep list's "visits, 7 days" and "last visit" per rep (stores.views.rep_list): a range and a
# backward scan of this index per rep, instead of every visit the rep ever logged (7.5 s for 50 reps
# at 20,000 stores through stores_storevisit_rep_id). Raw SQL, as the index belongs to the page's
# read path rather than to the StoreVisit model's state; the same statement works on SQLite.


class Migration(migrations.Migration):

    dependencies = [
        ("stores", "0004_date_range"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS visit_rep_date_idx ON stores_storevisit (rep_id, date)",
            reverse_sql="DROP INDEX IF EXISTS visit_rep_date_idx",
        ),
    ]
