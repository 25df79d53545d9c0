"""PostgreSQL fast path of the wake-up (docs/architecture.md, "Fast paths")."""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from waitpoints.models import Run, RunBlock, RunStatus, Waitpoint, WaitpointStatus

# One round trip on the completion's path: mark the blocks resumed, queue their runs. The ids
# come through ARRAY(SELECT unnest(...)): given the array itself, the planner saw 5,000 of a sweep
# batch's ids and scanned the whole block table (~30 ms a batch); now it probes the block's
# `waitpoint` index. Setting `resumed_at` is a HOT update (no index covers the column, the table
# keeps free space: migration 0009): ~30 % off the wake of a mass expiry
# (docs/benchmarks.md, P4).
_WAKE_SQL = f"""
WITH woken AS (
    UPDATE {RunBlock._meta.db_table} SET resumed_at = %s
    WHERE waitpoint_id = ANY(ARRAY(SELECT unnest(%s::text[]))) AND resumed_at IS NULL
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
        cursor.execute(_WAKE_SQL, wake_params(waitpoint_ids, now=now, lease=lease))
        return [row[0] for row in cursor.fetchall()]


# The same wake for a statement sent before the caller knows whether its waitpoint finished (the
# pipelined completion, `tokens.sql.complete_and_wake`): it only touches blocks of waitpoints that
# are finished. Every finisher resumes a waitpoint's blocks in the transaction that finishes it,
# so for a waitpoint finished earlier this finds nothing, and a WAITING one is never woken.
WAKE_IF_FINISHED_SQL = _WAKE_SQL.replace(
    "AND resumed_at IS NULL",
    f"AND resumed_at IS NULL AND EXISTS (SELECT 1 FROM {Waitpoint._meta.db_table} AS w "
    f"WHERE w.id = {RunBlock._meta.db_table}.waitpoint_id AND w.status <> '{WaitpointStatus.WAITING}')",
)


def wake_params(waitpoint_ids: list[str], *, now: datetime, lease: datetime) -> list:
    """The parameters of both wake statements; their result rows are the woken runs' ids."""
    return [now, list(waitpoint_ids), RunStatus.QUEUED, now, lease, RunStatus.WAITING]
