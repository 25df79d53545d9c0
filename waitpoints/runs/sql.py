"""PostgreSQL fast paths of the run services (docs/architecture.md, "Fast paths").

Each function does in one statement what its portable twin (named in its docstring) does through
the ORM; the services choose with `waitpoints.core.database.postgresql()`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, models, transaction
from django.utils.dateparse import parse_datetime

from waitpoints.models import (
    Environment,
    Run,
    RunBlock,
    RunJournalEntry,
    RunStatus,
    Waitpoint,
    WaitpointStatus,
    WebhookEvent,
)
from waitpoints.webhooks import sql as webhooks_sql


@dataclass(frozen=True)
class _NoFlushWait:
    cte: str = ""
    join: str = ""


def _no_flush_wait() -> _NoFlushWait:
    """SQL pieces that let a single autocommitted statement commit without waiting for the WAL
    flush (`synchronous_commit = off` for its own transaction only).

    Only for writes whose loss in a database crash repeats work that at-least-once execution
    repeats anyway: the claim (lost, the run is QUEUED again and its lease resends it) and the
    journaled result of an already finished waitpoint (lost, the replay reads the waitpoint
    again: it never changes once finished). A flush costs ~1-3 ms here, twice per resumed run.
    Inside a caller's transaction the setting would cover the whole transaction: not used there.
    """
    if connection.in_atomic_block:
        return _NoFlushWait()
    return _NoFlushWait(
        cte="no_flush_wait AS (SELECT set_config('synchronous_commit', 'off', true) AS setting),",
        join="CROSS JOIN no_flush_wait",
    )


# What the resume path needs of the waitpoint that woke the run (the rest loads on access).
_WOKEN_BY_FIELDS = ("id", "environment_id", "kind", "status", "output", "output_is_error",
                    "timeout_at", "completed_at")  # fmt: skip


@dataclass(frozen=True)
class Claimed:
    run: Run  # with its environment
    journal: dict[int, RunJournalEntry]
    woken_by: Waitpoint | None


def claim(run_id: str, *, now: datetime, lease: datetime) -> Claimed | None:
    """The claim as one round trip (it is on every resume's path): the same conditional UPDATE
    as the portable twin in `services.execution.run_claim`, returning the run, its environment,
    its journal and the finished waitpoint it was last blocked on."""
    run_columns = [model_field.column for model_field in Run._meta.concrete_fields]
    environment_columns = [model_field.column for model_field in Environment._meta.concrete_fields]
    returning = ", ".join(
        [f'r."{column}"' for column in run_columns]
        + [f'e."{column}"' for column in environment_columns]
    )
    journal_table = RunJournalEntry._meta.db_table
    woken_by_columns = ", ".join(f"'{name}', w.{name}" for name in _WOKEN_BY_FIELDS)
    no_flush_wait = _no_flush_wait()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH {no_flush_wait.cte} claimed AS (
                    UPDATE {Run._meta.db_table} AS r
                    SET status = %s, lease_expires_at = %s, updated_at = %s, retry_at = NULL,
                        started_at = COALESCE(r.started_at, %s),
                        attempt_count = GREATEST(r.attempt_count, 1)
                    FROM {Environment._meta.db_table} AS e
                    WHERE r.id = %s AND r.status = %s AND e.id = r.environment_id
                      AND (r.retry_at IS NULL OR r.retry_at <= %s)
                    RETURNING {returning}
                )
                SELECT claimed.*, (
                    SELECT json_agg(json_build_object(
                        'id', j.id, 'sequence', j.sequence, 'kind', j.kind, 'name', j.name,
                        'result', j.result, 'waitpoint_id', j.waitpoint_id) ORDER BY j.sequence)
                    FROM {journal_table} AS j WHERE j.run_id = %s
                ), (
                    SELECT json_build_object({woken_by_columns})
                    FROM {RunBlock._meta.db_table} AS b
                    JOIN {Waitpoint._meta.db_table} AS w ON w.id = b.waitpoint_id
                    WHERE b.run_id = %s AND b.resumed_at IS NOT NULL AND w.status <> %s
                    ORDER BY b.resumed_at DESC LIMIT 1
                ) FROM claimed {no_flush_wait.join}""",
            [
                RunStatus.EXECUTING, lease, now, now, run_id, RunStatus.QUEUED, now, run_id,
                run_id, WaitpointStatus.WAITING,
            ],
        )  # fmt: skip
        row = cursor.fetchone()
    if row is None:
        return None
    journal_json, woken_by_json = row[-2:]
    row = row[:-2]
    run_values = row[: len(run_columns)]
    environment_values = row[len(run_columns) :]
    run = Run.from_db(connection.alias, [f.attname for f in Run._meta.concrete_fields], run_values)
    # JSON columns come back from a raw cursor undecoded: decode them as the ORM would.
    for model_field in Run._meta.concrete_fields:
        if isinstance(model_field, models.JSONField):
            value = getattr(run, model_field.attname)
            setattr(run, model_field.attname, model_field.from_db_value(value, None, connection))
    run.environment = Environment.from_db(
        connection.alias,
        [f.attname for f in Environment._meta.concrete_fields],
        environment_values,
    )
    if isinstance(journal_json, str):
        journal_json = json.loads(journal_json)
    journal = {item["sequence"]: RunJournalEntry(run=run, **item) for item in journal_json or []}
    return Claimed(run=run, journal=journal, woken_by=_woken_by(woken_by_json))


def _woken_by(values: dict[str, Any] | str | None) -> Waitpoint | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = json.loads(values)
    for name in ("timeout_at", "completed_at"):
        values[name] = parse_datetime(values[name]) if values[name] else None
    return Waitpoint.from_db(
        connection.alias, list(_WOKEN_BY_FIELDS), [values[name] for name in _WOKEN_BY_FIELDS]
    )


def fenced_journal_insert(
    *,
    run_id: str,
    fence: datetime,
    lease: datetime,
    now: datetime,
    sequence: int,
    kind: str,
    name: str,
    result: Any,
    waitpoint_id: str | None,
    wait_for_flush: bool,
) -> int | None:
    """Fence check, lease renewal and journal insert in one statement, atomic on its own: the new
    entry's id, or None when the fence failed (nothing inserted). A taken sequence raises
    IntegrityError. Inside a caller's transaction it runs in a savepoint, so a conflict leaves
    that transaction usable. Portable twin: `services.execution.record`."""
    no_flush_wait = _NoFlushWait() if wait_for_flush else _no_flush_wait()
    statement = f"""
        WITH {no_flush_wait.cte} fence AS (
            UPDATE {Run._meta.db_table} SET lease_expires_at = %s, updated_at = %s
            WHERE id = %s AND status = %s AND lease_expires_at = %s
            RETURNING id
        )
        INSERT INTO {RunJournalEntry._meta.db_table}
            (run_id, sequence, kind, name, result, waitpoint_id, created_at)
        SELECT fence.id, %s, %s, %s, %s::jsonb, %s, %s FROM fence {no_flush_wait.join}
        RETURNING id"""
    parameters = [
        lease, now, run_id, RunStatus.EXECUTING, fence,
        sequence, kind, name, json.dumps(result), waitpoint_id, now,
    ]  # fmt: skip
    if connection.in_atomic_block:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, parameters)
            row = cursor.fetchone()
    else:
        with connection.cursor() as cursor:
            cursor.execute(statement, parameters)
            row = cursor.fetchone()
    return None if row is None else row[0]


# A run's completion and its `run.completed` webhook deliveries in one statement: the end of
# every run costs no more round trips than before, and nothing but an index probe when no
# endpoint is subscribed.
_RUN_COMPLETED_WEBHOOKS = webhooks_sql.deliveries_cte(
    source="done", subject="done.id", environment="done.environment_id"
)
_COMPLETE_SQL = f"""
WITH done AS (
    UPDATE {Run._meta.db_table}
    SET status = 'COMPLETED', output = %(output)s, error = NULL, finished_at = %(now)s,
        updated_at = %(now)s, lease_expires_at = NULL
    WHERE id = %(id)s AND status = 'EXECUTING' AND lease_expires_at = %(fence)s
    RETURNING id, environment_id
), journaled AS (
    INSERT INTO {RunJournalEntry._meta.db_table}
        (run_id, sequence, kind, name, result, waitpoint_id, created_at)
    SELECT done.id, entry.sequence, entry.kind, entry.name, entry.result, entry.waitpoint_id,
        entry.created_at
    FROM done, jsonb_to_recordset(%(journal)s::jsonb) AS entry(
        sequence integer, kind text, name text, result jsonb, waitpoint_id text,
        created_at timestamptz)
), webhooks AS (
    {_RUN_COMPLETED_WEBHOOKS}
)
SELECT (SELECT count(*) FROM done), ARRAY(SELECT id FROM webhooks)
"""


def complete(
    *, run_id: str, fence: datetime, output: Any, now: datetime, journal: list[dict[str, Any]]
) -> tuple[bool, list[str]]:
    """EXECUTING → COMPLETED under the fence, with the run's webhook deliveries and its deferred
    journal entries (`services.execution.record_later`): (whether it was completed, the
    deliveries' ids). Portable twin: the fenced ORM update, the journal rows and
    `webhooks.events.record` in `services.execution.run_complete`."""
    params = {
        "id": run_id,
        "fence": fence,
        "now": now,
        "output": Run._meta.get_field("output").get_db_prep_save(output, connection),
        "journal": json.dumps(
            [{**entry, "created_at": entry["created_at"].isoformat()} for entry in journal]
        ),
        **webhooks_sql.event_params(WebhookEvent.RUN_COMPLETED),
    }
    with connection.cursor() as cursor:
        cursor.execute(_COMPLETE_SQL, params)
        completed, deliveries = cursor.fetchone()
        return completed == 1, deliveries
