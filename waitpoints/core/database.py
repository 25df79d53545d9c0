"""Which database this process runs on, for the services' choice of fast path or portable twin.

The rule (docs/architecture.md, "Fast paths"): a PostgreSQL statement lives in a `sql.py` module
behind a small function, and the service that calls it keeps an ORM twin with the same effect,
run on every other database (SQLite in `make run`) and by the embedded test run in CI.
"""

from django.db import connection


def postgresql() -> bool:
    return connection.vendor == "postgresql"
