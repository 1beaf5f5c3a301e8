"""The visit table's indexes after the migrations: each one a query needs, none twice."""
import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def constraints(table):
    with connection.cursor() as cursor:
        return connection.introspection.get_constraints(cursor, table)


def indexes(table):
    return {name: c for name, c in constraints(table).items() if c["index"]}


def test_the_visits_keep_the_suspect_and_date_indexes_and_lose_the_store_index_the_unique_key_covers():
    visits = indexes("stores_storevisit")
    assert {"visit_suspect_idx", "visit_date_store_idx", "visit_rep_date_idx"} <= set(visits)
    unique = [c["columns"] for c in constraints("stores_storevisit").values() if c["unique"] and c["columns"][:1] == ["store_id"]]
    assert unique == [["store_id", "date"]]
    assert "stores_storevisit_store_id_6800e5ec" not in visits


def test_the_visits_index_rep_with_the_date_only_and_confirmers_where_there_is_one():
    visits = indexes("stores_storevisit")
    by_columns = sorted(c["columns"] for c in visits.values())
    assert ["rep_id"] not in by_columns and ["rep_id", "date"] in by_columns
    assert by_columns.count(["suspect_confirmed_by_id"]) == 1 and "visit_confirmed_by_idx" in visits


def test_the_audit_table_has_the_corrections_index_and_no_store_or_rep_index():
    audit = indexes("stores_historicalstorevisit")
    assert "visit_history_corrections_idx" in audit
    assert not [name for name, c in audit.items() if c["columns"] in (["store_id"], ["rep_id"], ["suspect_confirmed_by_id"])]


def test_the_audit_table_checks_no_foreign_key_on_postgresql():
    foreign = [c["columns"] for c in constraints("stores_historicalstorevisit").values() if c["foreign_key"]]
    # SQLite keeps the user's in the table it created (dropping one means copying the table; its checks are free).
    assert foreign == ([] if connection.vendor == "postgresql" else [["history_user_id"]])
