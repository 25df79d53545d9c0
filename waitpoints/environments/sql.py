"""PostgreSQL fast path of the API key lookup (docs/architecture.md, "Fast paths").

Its portable twin is the ORM query in `selectors.api_key_for_secret`.
"""

from __future__ import annotations

import functools

from django.db import connection

from waitpoints.models import ApiKey, Environment


def api_key_with_environment(secret_hash: str) -> ApiKey | None:
    """One plain query: it runs on every API request, and loading it through the ORM's join cost
    a third of a create request's CPU, through a RawQuerySet still a tenth (measured with py-spy,
    docs/benchmarks.md)."""
    with connection.cursor() as cursor:
        cursor.execute(_api_key_with_environment_sql(), [secret_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    # psycopg returns these columns as the fields hold them (no field needs a converter, which
    # tests/waitpoints/test_create_paths.py checks), so the row goes to the models as it is.
    split = len(ApiKey._meta.concrete_fields)
    api_key = ApiKey.from_db(connection.alias, None, row[:split])
    api_key.environment = Environment.from_db(connection.alias, None, row[split:])
    return api_key


@functools.cache
def _api_key_with_environment_sql() -> str:
    # Every column of both tables in field order, so a new field needs no change here.
    columns = [f"k.{connection.ops.quote_name(f.column)}" for f in ApiKey._meta.concrete_fields]
    columns += [
        f"e.{connection.ops.quote_name(f.column)}" for f in Environment._meta.concrete_fields
    ]
    return (
        f"SELECT {', '.join(columns)} FROM {ApiKey._meta.db_table} k "
        f"JOIN {Environment._meta.db_table} e ON e.id = k.environment_id WHERE k.secret_hash = %s"
    )
