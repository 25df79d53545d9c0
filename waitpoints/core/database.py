"""Which database this process runs on, for the services' choice of fast path or portable twin.

The rule (docs/architecture.md, "Fast paths"): a PostgreSQL statement lives in a `sql.py` module
behind a small function, and the service that calls it keeps an ORM twin with the same effect,
run on every other database (SQLite in `make run`) and by the embedded test run in CI.
"""

from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection

T = TypeVar("T")


def postgresql() -> bool:
    return connection.vendor == "postgresql"


def without_health_check(statement: Callable[[], T]) -> T:
    """Run one self-contained, retryable statement as a task's first use of its connection,
    without Django's health check (`CONN_HEALTH_CHECKS`): a `SELECT 1` round trip before it.
    A connection found broken is closed and the statement runs once more on a new one, which is
    what the check would have done. For the claim of a resumed run, where that round trip was a
    tenth of the wake-up (docs/benchmarks.md, P2).
    """
    if connection.in_atomic_block:
        return statement()
    if connection.connection is not None:
        connection.health_check_done = True  # Django's flag: "checked in this request"
    try:
        return statement()
    except (InterfaceError, OperationalError):
        if connection.is_usable():
            raise
        connection.close()
        return statement()
