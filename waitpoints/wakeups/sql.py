"""PostgreSQL fast path of the wake-up (docs/architecture.md, "Fast paths")."""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from waitpoints.models import Run, RunBlock, RunStatus

# One round trip on the completion's path: mark the blocks resumed, queue their runs.
_WAKE_SQL = f"""
WITH woken AS (
    UPDATE {RunBlock._meta.db_table} SET resumed_at = %s
    WHERE waitpoint_id = ANY(%s) AND resumed_at IS NULL
    RETURNING run_id
), queued AS (
    UPDATE {Run._meta.db_table} SET status = %s, updated_at = %s, lease_expires_at = %s
    WHERE id IN (SELECT run_id FROM woken) AND status = %s
)
SELECT DISTINCT run_id FROM woken ORDER BY run_id
"""


def resume_blocks(waitpoint_ids: list[str], *, now: datetime, lease: datetime) -> list[str]:
    """Portable twin: the two ORM updates in `services.wake_runs_blocked_on`."""
    with connection.cursor() as cursor:
        cursor.execute(
            _WAKE_SQL,
            [now, list(waitpoint_ids), RunStatus.QUEUED, now, lease, RunStatus.WAITING],
        )
        return [row[0] for row in cursor.fetchall()]
