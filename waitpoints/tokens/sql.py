"""PostgreSQL fast paths of the token services (docs/architecture.md, "Fast paths").

Each function here does in one statement what its portable twin (named in its docstring) does
through the ORM; the services choose by `connection.vendor`, and the SQLite test run executes
every twin.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from waitpoints.models import AuditEvent, Waitpoint, WaitpointTag, WebhookEvent
from waitpoints.wakeups import sql as wakeups_sql
from waitpoints.webhooks import sql as webhooks_sql


def insert_token(waitpoint: Waitpoint, tags: list[str]) -> None:
    """The token row and its tag rows in one INSERT statement: atomic without BEGIN/COMMIT.

    Portable twin: `save()` and `bulk_create()` in a transaction (`services.create`).

    Creating is the API's hottest write; the ORM's two INSERTs in a transaction cost four
    round trips and most of the request's CPU, keeping create below half the throughput of a
    bare one-INSERT endpoint (docs/benchmarks.md, P1). Columns come from the model, so a new
    field needs no change here.
    """
    params = [
        field.get_db_prep_save(getattr(waitpoint, field.attname), connection)
        for field in Waitpoint._meta.concrete_fields
    ]
    if tags:
        params += [waitpoint.environment_id, tags]
    with connection.cursor() as cursor:
        cursor.execute(_insert_token_sql(with_tags=bool(tags)), params)


@functools.cache
def _insert_token_sql(*, with_tags: bool) -> str:
    fields = Waitpoint._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {Waitpoint._meta.db_table} ({columns}) VALUES ({placeholders})"
    if not with_tags:
        return sql
    return (
        f"WITH waitpoint AS ({sql} RETURNING id) "
        f"INSERT INTO {WaitpointTag._meta.db_table} (waitpoint_id, environment_id, name, position) "
        "SELECT waitpoint.id, %s, tag.name, tag.position - 1 "
        "FROM waitpoint, unnest(%s::text[]) WITH ORDINALITY AS tag(name, position)"
    )


# The conditional UPDATE is the lock and the check at once: PostgreSQL re-evaluates the WHERE
# clause on the latest row version after waiting for a concurrent writer, so exactly one
# completer (or the sweeper) matches. Same effect as the locked path of `token_complete`, in one
# round trip instead of four; completion is on the path of every resumed run
# (docs/benchmarks.md, P2). Its webhook event (a delivery per subscribed endpoint) is part of the
# same statement: no round trip, and an index probe that finds nothing when none is subscribed.
_COMPLETED_WEBHOOKS = webhooks_sql.deliveries_cte(
    source="completed", subject="completed.id", environment="%(environment_id)s"
)
_COMPLETE_IF_WAITING_SQL = f"""
WITH completed AS (
    UPDATE {Waitpoint._meta.db_table}
    SET status = 'COMPLETED', output = %(output)s, output_is_error = false,
        completed_at = %(now)s, completed_via = %(via)s, completed_by = %(actor)s
    WHERE id = %(id)s AND environment_id = %(environment_id)s AND kind = 'MANUAL'
      AND status = 'WAITING' AND timeout_at > %(now)s AND response IS NULL
    RETURNING id
), audited AS (
    INSERT INTO {AuditEvent._meta.db_table} (waitpoint_id, action, via, actor, data, created_at)
    SELECT id, 'completed', %(via)s, %(actor)s, %(output)s, %(now)s FROM completed
), webhooks AS (
    {_COMPLETED_WEBHOOKS}
)
SELECT (SELECT count(*) FROM completed), ARRAY(SELECT id FROM webhooks)
"""


def complete_if_waiting(
    *, environment_id: int, token_id: str, data: Any, via: str, actor: str, now: datetime
) -> tuple[bool, list[str]]:
    """Complete and audit a WAITING, not overdue token without a response contract and record
    its `waitpoint.completed` webhook deliveries: (True, their ids). (False, []) when it is not
    one (unknown, finished, overdue, or with a contract to check: the caller then decides under
    the row lock, the portable twin)."""
    params = _complete_params(environment_id, token_id, data, via, actor, now)
    with connection.cursor() as cursor:
        cursor.execute(_COMPLETE_IF_WAITING_SQL, params)
        completed, deliveries = cursor.fetchone()
        return completed == 1, deliveries


def _complete_params(environment_id, token_id, data, via, actor, now) -> dict[str, Any]:
    return {
        "id": token_id,
        "environment_id": environment_id,
        "output": Waitpoint._meta.get_field("output").get_db_prep_save(data, connection),
        "now": now,
        "via": str(via),
        "actor": actor,
        **webhooks_sql.event_params(WebhookEvent.WAITPOINT_COMPLETED),
    }


@dataclass(frozen=True)
class CompletedAndWoken:
    completed: bool
    run_ids: list[str]  # the runs queued, their messages not yet sent
    deliveries: list[str]  # the webhook deliveries recorded, their messages not yet sent


def pipeline_supported() -> bool:
    return psycopg.Pipeline.is_supported()


def complete_and_wake(
    *,
    environment_id: int,
    token_id: str,
    data: Any,
    via: str,
    actor: str,
    now: datetime,
    lease: datetime,
) -> CompletedAndWoken:
    """`complete_if_waiting` and the wake of its runs, committed, in one round trip: BEGIN, the
    two statements and COMMIT go out together in psycopg's pipeline mode. Only outside a
    transaction (it commits its own).

    Portable twin: the locked path of `services.complete.token_complete`; the two-statement
    version there is the fallback inside a caller's transaction. The wake stays a statement of its
    own, so its snapshot sees a block committed while the UPDATE waited for the token's row lock
    (no lost wake-up); being sent before the UPDATE's result is known, it wakes only blocks of
    finished waitpoints (`wakeups.sql.WAKE_IF_FINISHED_SQL`). On the wake-up path the two
    statements and COMMIT, a round trip each, were 1.8 of the 4.1 ms before the wake message went
    out (docs/benchmarks.md, P2).
    """
    params = _complete_params(environment_id, token_id, data, via, actor, now)
    wake = wakeups_sql.wake_params([token_id], now=now, lease=lease)
    with connection.cursor() as django_cursor, connection.wrap_database_errors:
        raw = django_cursor.cursor.connection
        completing, waking = raw.cursor(), raw.cursor()
        try:
            # Plain BEGIN and COMMIT: psycopg's `transaction()` would wait for each of them.
            with raw.pipeline():
                raw.execute("BEGIN")
                completing.execute(_COMPLETE_IF_WAITING_SQL, params)
                waking.execute(wakeups_sql.WAKE_IF_FINISHED_SQL, wake)
                raw.execute("COMMIT")
        except BaseException:
            # A failed statement leaves the transaction open and aborted: end it.
            if raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                raw.execute("ROLLBACK")
            raise
        completed, deliveries = completing.fetchone()
        run_ids = [row[0] for row in waking.fetchall()]
    return CompletedAndWoken(completed=completed == 1, run_ids=run_ids, deliveries=deliveries)


# The same changes as `expiry.finish_due`, as one statement: claiming, finishing and auditing a
# batch through the ORM took several round trips and a Python object per audit row, and a mass
# expiry of 100,000 tokens took 13 s instead of the 10 s goal (docs/benchmarks.md, P4). The
# claimed rows are handed over as an array of their `ctid`s, so the UPDATE fetches them by tuple
# id (a TID scan) instead of 5,000 probes of the primary key, ~8 ms of a batch's ~105; joining a
# CTE of them instead got a hash join over the whole table, once per batch. A locked row cannot
# move (no one else may update it before this transaction ends), and should a row's `ctid` ever
# be stale, the UPDATE re-checks the condition on the newest version and skips it: it stays due
# for the next batch, never finished twice.
_TIMED_OUT_WEBHOOKS = webhooks_sql.deliveries_cte(
    source="finished",
    subject="finished.id",
    environment="finished.environment_id",
    where="finished.kind = 'MANUAL'",
)
_FINISH_DUE_BATCH_SQL = f"""
WITH finished AS (
    UPDATE {Waitpoint._meta.db_table} AS waitpoint
    SET status = CASE WHEN waitpoint.kind = 'MANUAL' AND waitpoint.timeout_output IS NULL
                      THEN 'TIMED_OUT' ELSE 'COMPLETED' END,
        output = waitpoint.timeout_output -> 'value',
        output_is_error = (waitpoint.kind = 'MANUAL' AND waitpoint.timeout_output IS NULL),
        completed_at = CASE WHEN waitpoint.kind = 'MANUAL' THEN waitpoint.timeout_at ELSE %(now)s END,
        completed_via = 'timeout',
        completed_by = ''
    WHERE waitpoint.ctid = ANY(ARRAY(
        SELECT ctid FROM {Waitpoint._meta.db_table}
        WHERE status = 'WAITING' AND timeout_at <= %(now)s
        ORDER BY timeout_at LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    ))
    RETURNING waitpoint.id, waitpoint.kind, waitpoint.environment_id, waitpoint.output,
        waitpoint.status
), audited AS (
    INSERT INTO {AuditEvent._meta.db_table} (waitpoint_id, action, via, actor, data, created_at)
    SELECT id, CASE WHEN status = 'COMPLETED' THEN 'completed' ELSE 'timed_out' END,
        'timeout', '', output, %(now)s
    FROM finished WHERE kind = 'MANUAL'
), webhooks AS (
    {_TIMED_OUT_WEBHOOKS}
)
SELECT ARRAY(SELECT id FROM finished), ARRAY(SELECT id FROM webhooks), (
    -- The metrics' timed-out tokens per environment: counting them afterwards by id was a query
    -- with 5,000 parameters per batch, a quarter of a mass expiry (docs/benchmarks.md, P4).
    SELECT json_object_agg(environment_id, n) FROM (
        SELECT environment_id, count(*) AS n FROM finished WHERE kind = 'MANUAL'
        GROUP BY environment_id
    ) AS timed_out
)
"""


@dataclass(frozen=True)
class FinishedBatch:
    ids: list[str]  # the waitpoints finished
    deliveries: list[str]  # their `waitpoint.timed_out` webhook deliveries
    timed_out_by_environment: dict[int, int]  # tokens timed out (sleeps complete instead)


def finish_due_batch(*, now: datetime, limit: int) -> FinishedBatch:
    """Claim (SKIP LOCKED), finish and audit up to `limit` due waitpoints and record the
    `waitpoint.timed_out` webhook deliveries of the tokens.

    Portable twin: `select_for_update(skip_locked=True)` then `expiry.finish_due`."""
    params = {
        "now": now,
        "limit": limit,
        **webhooks_sql.event_params(WebhookEvent.WAITPOINT_TIMED_OUT),
    }
    with connection.cursor() as cursor:
        cursor.execute(_FINISH_DUE_BATCH_SQL, params)
        finished, deliveries, timed_out = cursor.fetchone()
    if isinstance(timed_out, str):  # json, not jsonb: psycopg may hand it over undecoded
        timed_out = json.loads(timed_out)
    return FinishedBatch(
        ids=finished,
        deliveries=deliveries,
        timed_out_by_environment={int(env): n for env, n in (timed_out or {}).items()},
    )


# --- Search -------------------------------------------------------------------------------------

# The document the full-text index `waitpoint_search_idx` holds (migration 0007, which must spell
# it identically, or the planner will not use the index): the title's words and the context's
# string and number values, with the "simple" configuration (no stemming: names, order numbers
# and any language match as typed, lower-cased).
SEARCH_DOCUMENT = (
    "(to_tsvector('simple'::regconfig, title::text) || jsonb_to_tsvector('simple'::regconfig, "
    "COALESCE(context, '{}'::jsonb), '[\"string\", \"numeric\"]'::jsonb))"
)


def search_matches(words: list[str]) -> RawSQL:
    """A condition: the token's title or context has every word (whole words: a prefix query,
    `refu:*`, gets no estimate from the index's statistics, and the planner then chose plans 20
    times slower, docs/benchmarks.md "Inbox at 1M tokens"). Words are `\\w+` runs: no quoting needed.

    Portable twin: a case-insensitive substring per word (`selectors.search_q`)."""
    terms = [f"'{word.lower()}'" for word in words]
    return RawSQL(
        f"{SEARCH_DOCUMENT} @@ to_tsquery('simple'::regconfig, %s)",
        [" & ".join(terms)],
        output_field=BooleanField(),
    )
