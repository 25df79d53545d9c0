"""One execution at a time of a periodic task, however many beats send it.

Several beats (one per node, so that losing one stops nothing) each send every periodic task.
Each task runs inside `exclusive(name)`: a PostgreSQL session advisory lock taken with
`pg_try_advisory_lock`, so a second copy that starts while the first runs returns at once and
does nothing. The lock is released at the end, or by PostgreSQL when the worker's connection
dies with it: no lease to expire, no leader to elect, and the next tick of any surviving beat
runs the task. The tasks themselves stay idempotent (SKIP LOCKED batches), so the lock saves
work and duplicate sends; it is not what keeps the data right.

Elsewhere (SQLite: one machine, `make run`) there is nothing to coordinate and the body runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

from waitpoints.core import database

# Keys of the advisory locks: the first 8 bytes of a hash of the name, as a signed bigint.
_NAMESPACE = "waitpoints.periodic:"


def lock_key(name: str) -> int:
    digest = hashlib.sha256((_NAMESPACE + name).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def exclusive(name: str) -> Iterator[bool]:
    """`with exclusive("sweep") as leader: if leader: ...` — True for exactly one holder."""
    if not database.postgresql():
        yield True
        return
    key = lock_key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = cursor.fetchone()[0]
    if not acquired:
        yield False
        return
    try:
        yield True
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        except Exception:
            # The connection broke: PostgreSQL released the lock with the session. Drop it so
            # that the next task opens a fresh one.
            connection.close()
