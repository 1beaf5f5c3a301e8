"""Server-side parameter binding, for the statements of a bulk request that carry thousands of values.

Django's psycopg cursors bind parameters client-side: each value is quoted into the statement's text in Python, and
PostgreSQL parses a new text every time. These send the values apart (psycopg.Cursor), and psycopg prepares a
statement once a connection has run it a few times. They stay in Django's cursor wrapper, so query logging and
execute wrappers (assertNumQueries) see them. PostgreSQL only.
"""
import psycopg
from django.core.exceptions import EmptyResultSet
from django.db import connection


def server_bound_cursor():
    """A cursor of Django's connection that binds its parameters server-side."""
    connection.ensure_connection()
    wrap = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
    return wrap(psycopg.Cursor(connection.connection))


def rows(queryset) -> list[tuple]:
    """The rows of a `values_list()` queryset, bound server-side on PostgreSQL (as the ORM would elsewhere)."""
    if connection.vendor != "postgresql":
        return list(queryset)
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:  # e.g. `__in=[]`: the ORM answers without asking the database
        return []
    with server_bound_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
