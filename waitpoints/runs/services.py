"""State changes of runs: trigger, claim, journal, block on waitpoints, wake, finish, cancel.

Every write an executing run makes is *fenced*: it only applies while the run is still EXECUTING
under the lease this execution claimed (`lease_expires_at` doubles as the fencing token). A
duplicate execution, a run canceled meanwhile, or one taken over by the stalled-run sweeper loses
its fence at its next durable call and stops (`RunLeaseLost`).

Lock order is always waitpoint row, then run row (as in `token_complete`), so a run blocking on a
token and a completer of that token never deadlock.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from waitpoints import services as token_services
from waitpoints.errors import InvalidInput, NotFound
from waitpoints.models import (
    Environment,
    Run,
    RunBlock,
    RunJournalEntry,
    RunStatus,
    Waitpoint,
    WaitpointStatus,
)
from waitpoints.validation import MAX_IDEMPOTENCY_KEY_LENGTH, clean_json, clean_tags, clean_text

logger = logging.getLogger(__name__)

TERMINAL_STATUSES = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED)

# Test seam: called as hook(run_id, waitpoint_id) while `run_block_on` holds the waitpoint row
# lock, has seen it WAITING and has not yet recorded the block. Race tests use it to complete the
# token inside that window.
BLOCK_HOOKS: list[Callable[[str, str], None]] = []


class RunLeaseLost(BaseException):  # noqa: N818 (a control-flow signal, not an error)
    """This execution no longer owns the run (canceled, finished, or taken over): stop quietly.

    A BaseException so that `except Exception` in task code cannot swallow it.
    """


def lease_duration() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "WAITPOINTS_RUN_LEASE_SECONDS", 300)))


# --- Trigger -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TriggeredRun:
    id: str
    is_cached: bool
    run: Run


def run_trigger(
    *,
    environment: Environment,
    task_id: str,
    payload: Any = None,
    idempotency_key: str | None = None,
    tags: str | list[str] | None = None,
) -> TriggeredRun:
    """Create a QUEUED run of a registered task and enqueue it on commit.

    With an idempotency key, a second trigger of the same task in the same environment returns
    the first run (`is_cached=True`), also under concurrent triggers.
    """
    from waitpoints.registry import task_get

    task_get(task_id)
    details: dict[str, str] = {}
    try:
        payload = clean_json(payload, field="payload")
    except InvalidInput as exc:
        details.update(exc.details)
    try:
        tags = clean_tags(tags)
    except InvalidInput as exc:
        details.update(exc.details)
    if idempotency_key is not None:
        try:
            clean_text(
                idempotency_key, field="idempotencyKey", max_length=MAX_IDEMPOTENCY_KEY_LENGTH
            )
        except InvalidInput as exc:
            details.update(exc.details)
    if details:
        raise InvalidInput(details)
    now = timezone.now()
    try:
        with transaction.atomic():
            run = Run.objects.create(
                environment=environment,
                task_id=task_id,
                payload=payload,
                idempotency_key=idempotency_key,
                tags=tags,
                created_at=now,
                updated_at=now,
                lease_expires_at=now + lease_duration(),
            )
            run_id = run.id
            transaction.on_commit(lambda: enqueue_runs([run_id]), robust=True)
    except IntegrityError:
        existing = Run.objects.filter(
            environment=environment, task_id=task_id, idempotency_key=idempotency_key
        ).first()
        if idempotency_key is None or existing is None:
            raise
        return TriggeredRun(id=existing.id, is_cached=True, run=existing)
    return TriggeredRun(id=run.id, is_cached=False, run=run)


# Publishing one Celery message costs about 1 ms here, so waking 100,000 runs one message each
# took 70 s (docs/benchmarks.md, P4). A large wake (a sweep timing out many tokens) sends chunks;
# a small one keeps a message per run, for the lowest latency and the widest spread over workers.
# A chunk's runs execute one after another (~5 ms each), so 250 keeps a chunk to about a second
# of a worker's time while 100,000 runs take 400 messages (1,000 with chunks of 100: ~1.5 s).
WAKE_CHUNK_THRESHOLD = 32
WAKE_CHUNK_SIZE = 250


def enqueue_runs(run_ids: list[str], *, countdown: float | None = None) -> None:
    from waitpoints.tasks import execute_run, execute_runs

    if len(run_ids) > WAKE_CHUNK_THRESHOLD and not countdown:
        for start in range(0, len(run_ids), WAKE_CHUNK_SIZE):
            execute_runs.delay(run_ids[start : start + WAKE_CHUNK_SIZE])
        return
    for run_id in run_ids:
        if countdown:
            execute_run.apply_async((run_id,), countdown=countdown)
        else:
            execute_run.delay(run_id)


# --- Cancel ------------------------------------------------------------------------------------


def run_cancel(*, environment: Environment, run_id: str) -> Run:
    """Cancel a run that has not finished; it never executes again. A finished run is left as is.

    A WAITING run stays blocked on its waitpoints, but waking skips runs that are not WAITING.
    An EXECUTING run stops at its next durable call (its fence is gone) and its result is dropped.
    """
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(environment=environment, id=run_id).first()
        if run is None:
            raise NotFound(f"Run {run_id!r} not found")
        if run.status in TERMINAL_STATUSES:
            return run
        now = timezone.now()
        run.status = RunStatus.CANCELED
        run.finished_at = now
        run.updated_at = now
        run.lease_expires_at = None
        run.retry_at = None
        run.save(
            update_fields=["status", "finished_at", "updated_at", "lease_expires_at", "retry_at"]
        )
    return run


# --- Wake (called by the token services, in the completing transaction) -------------------------


def runs_wake_blocked_on(*, waitpoint_ids: list[str]) -> list[str]:
    """Resume each run blocked on these (now finished, locked) waitpoints exactly once.

    The caller holds the waitpoint row locks, and `resumed_at` is set here in the same
    transaction, so a second completion or a racing sweeper finds nothing left to wake. A blocked
    run is WAITING here (the block and WAITING are written together under the same lock), so it
    becomes QUEUED; a canceled one stays canceled. The message is sent on commit; if it is lost,
    the lease makes the stalled-run sweeper send it again.
    """
    now = timezone.now()
    lease = now + lease_duration()
    if connection.vendor == "postgresql":
        # One round trip on the completion's path: mark the blocks resumed, queue their runs.
        with connection.cursor() as cursor:
            cursor.execute(
                f"""WITH woken AS (
                        UPDATE {RunBlock._meta.db_table} SET resumed_at = %s
                        WHERE waitpoint_id = ANY(%s) AND resumed_at IS NULL
                        RETURNING run_id
                    ), queued AS (
                        UPDATE {Run._meta.db_table} SET status = %s, updated_at = %s,
                            lease_expires_at = %s
                        WHERE id IN (SELECT run_id FROM woken) AND status = %s
                    )
                    SELECT DISTINCT run_id FROM woken ORDER BY run_id""",
                [now, list(waitpoint_ids), RunStatus.QUEUED, now, lease, RunStatus.WAITING],
            )
            run_ids = [row[0] for row in cursor.fetchall()]
        if not run_ids:
            return []
    else:
        pending = RunBlock.objects.filter(waitpoint_id__in=waitpoint_ids, resumed_at__isnull=True)
        run_ids = sorted(set(pending.values_list("run_id", flat=True)))
        if not run_ids:
            return []
        pending.update(resumed_at=now)
        Run.objects.filter(id__in=run_ids, status=RunStatus.WAITING).update(
            status=RunStatus.QUEUED, updated_at=now, lease_expires_at=lease
        )
    # Enqueue every woken run, whatever status the update found: a message for a run that is
    # not QUEUED is a harmless no-op (the claim fails), a missing one would strand the run.
    transaction.on_commit(lambda: enqueue_runs(run_ids), robust=True)
    return run_ids


# --- Execution: claim, journal, block, finish ---------------------------------------------------


@dataclass
class Execution:
    """The fence of one execution of a run: it owns the run while `lease_expires_at` matches."""

    run: Run
    lease_expires_at: datetime
    # The journal as it was when this execution claimed the run.
    journal: dict[int, RunJournalEntry] = field(default_factory=dict)
    # The finished waitpoint whose completion woke this run, read by the claim (PostgreSQL):
    # resuming past `for_token` then needs no query. It never changes once finished.
    woken_by: Waitpoint | None = None

    @property
    def run_id(self) -> str:
        return self.run.id


def run_claim(*, run_id: str) -> Execution | None:
    """QUEUED → EXECUTING with a fresh lease, or None (a duplicate message, or not runnable).

    One conditional UPDATE decides, so of two deliveries of the same message exactly one runs.
    """
    now = timezone.now()
    lease = now + lease_duration()
    if connection.vendor == "postgresql":
        return _claim_returning(run_id, now=now, lease=lease)
    claimed = (
        Run.objects.filter(id=run_id, status=RunStatus.QUEUED)
        .exclude(retry_at__gt=now)
        .update(
            status=RunStatus.EXECUTING,
            lease_expires_at=lease,
            updated_at=now,
            retry_at=None,
            started_at=Coalesce(F("started_at"), Value(now)),
            attempt_count=Greatest(F("attempt_count"), Value(1)),
        )
    )
    if not claimed:
        return None
    run = Run.objects.select_related("environment").get(id=run_id)
    return Execution(run=run, lease_expires_at=lease, journal=run_journal(run_id=run_id))


def run_reschedule_if_early(*, run_id: str) -> bool:
    """A message that arrived before the run's retry time (clock skew): send it again for then."""
    now = timezone.now()
    retry_at = (
        Run.objects.filter(id=run_id, status=RunStatus.QUEUED, retry_at__gt=now)
        .values_list("retry_at", flat=True)
        .first()
    )
    if retry_at is None:
        return False
    enqueue_runs([run_id], countdown=max((retry_at - now).total_seconds(), 0.01))
    return True


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


def _claim_returning(run_id: str, *, now: datetime, lease: datetime) -> Execution | None:
    """The claim as one round trip on PostgreSQL (it is on every resume's path): the same
    conditional UPDATE, returning the run, its environment, its journal and the finished
    waitpoint it was last blocked on."""
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
    return Execution(
        run=run, lease_expires_at=lease, journal=journal, woken_by=_woken_by(woken_by_json)
    )


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


def run_journal(*, run_id: str) -> dict[int, RunJournalEntry]:
    return {entry.sequence: entry for entry in RunJournalEntry.objects.filter(run_id=run_id)}


def _renew(execution: Execution, now: datetime) -> None:
    """Check the fence and extend the lease (inside the caller's transaction)."""
    lease = now + lease_duration()
    renewed = Run.objects.filter(
        id=execution.run_id,
        status=RunStatus.EXECUTING,
        lease_expires_at=execution.lease_expires_at,
    ).update(lease_expires_at=lease, updated_at=now)
    if not renewed:
        raise RunLeaseLost(execution.run_id)
    execution.lease_expires_at = lease


def run_heartbeat(*, execution: Execution) -> None:
    """Extend the lease of a live execution; RunLeaseLost if it no longer owns the run."""
    _renew(execution, timezone.now())


def _journal_insert(
    execution: Execution,
    *,
    sequence: int,
    kind: str,
    name: str,
    result: Any,
    waitpoint_id: str | None = None,
    now: datetime,
) -> RunJournalEntry:
    # No savepoint (two round trips saved on the resume path): on a conflict the caller's whole
    # transaction is rolled back by the RunLeaseLost raised here, nothing runs in between.
    try:
        return RunJournalEntry.objects.create(
            run_id=execution.run_id,
            sequence=sequence,
            kind=kind,
            name=name[:200],
            result=result,
            waitpoint_id=waitpoint_id,
            created_at=now,
        )
    except IntegrityError:
        # Another execution of this run recorded this call first: it owns the run.
        raise RunLeaseLost(execution.run_id) from None


def _record(
    execution: Execution,
    *,
    sequence: int,
    kind: str,
    name: str,
    result: Any,
    waitpoint_id: str | None = None,
    now: datetime,
    wait_for_flush: bool = True,
) -> RunJournalEntry:
    """Fence check, lease renewal and journal insert together.

    On PostgreSQL this is one statement (the resume path's only write), atomic on its own: if the
    fence fails nothing is inserted, if the sequence is taken the whole statement fails. Inside a
    caller's transaction it runs in a savepoint, so a conflict leaves that transaction usable.
    """
    if connection.vendor != "postgresql":
        with transaction.atomic():
            _renew(execution, now)
            return _journal_insert(
                execution,
                sequence=sequence,
                kind=kind,
                name=name,
                result=result,
                waitpoint_id=waitpoint_id,
                now=now,
            )
    lease = now + lease_duration()
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
        lease, now, execution.run_id, RunStatus.EXECUTING, execution.lease_expires_at,
        sequence, kind, name[:200], json.dumps(result), waitpoint_id, now,
    ]  # fmt: skip
    try:
        if connection.in_atomic_block:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement, parameters)
                row = cursor.fetchone()
        else:
            with connection.cursor() as cursor:
                cursor.execute(statement, parameters)
                row = cursor.fetchone()
    except IntegrityError:
        # Another execution of this run recorded this call first: it owns the run.
        raise RunLeaseLost(execution.run_id) from None
    if row is None:
        raise RunLeaseLost(execution.run_id)
    execution.lease_expires_at = lease
    return RunJournalEntry(
        id=row[0],
        run_id=execution.run_id,
        sequence=sequence,
        kind=kind,
        name=name[:200],
        result=json.loads(json.dumps(result)),
        waitpoint_id=waitpoint_id,
        created_at=now,
    )


def run_journal_record(
    *, execution: Execution, sequence: int, kind: str, name: str, result: Any
) -> RunJournalEntry:
    """Record a durable call's result (a `wait.step`, a past-due sleep) under the fence."""
    return _record(
        execution, sequence=sequence, kind=kind, name=name, result=result, now=timezone.now()
    )


def run_token_create(
    *, execution: Execution, sequence: int, result_of: Callable[[Any], Any], **token_fields: Any
) -> RunJournalEntry:
    """Create a token and journal it in one transaction: a replay never creates a second one."""
    now = timezone.now()
    with transaction.atomic():
        created = token_services.token_create(environment=execution.run.environment, **token_fields)
        return _record(
            execution,
            sequence=sequence,
            kind="create_token",
            name="",
            result=result_of(created),
            waitpoint_id=created.waitpoint.id,
            now=now,
        )


def run_trigger_journaled(
    *, execution: Execution, sequence: int, environment: Environment, task_id: str, **fields: Any
) -> RunJournalEntry:
    """Trigger a child run and journal it in one transaction: a replay never triggers it again
    (the child is only enqueued if the journal row commits with it)."""
    now = timezone.now()
    with transaction.atomic():
        triggered = run_trigger(environment=environment, task_id=task_id, **fields)
        return _record(
            execution,
            sequence=sequence,
            kind="trigger",
            name=task_id,
            result={"id": triggered.id, "is_cached": triggered.is_cached},
            now=now,
        )


def run_sleep_create(*, execution: Execution, sequence: int, until: datetime) -> RunJournalEntry:
    """A durable sleep: a DATETIME waitpoint due at `until`, journaled with it."""
    now = timezone.now()
    with transaction.atomic():
        waitpoint = None
        if until > now:
            waitpoint = token_services.sleep_create(
                environment=execution.run.environment, until=until
            )
        return _record(
            execution,
            sequence=sequence,
            kind="sleep",
            name="",
            result={"until": until.isoformat()},
            waitpoint_id=waitpoint.id if waitpoint else None,
            now=now,
        )


@dataclass(frozen=True)
class Journaled:
    """Where `run_block_on` records the result when the waitpoint is already finished."""

    sequence: int
    kind: str
    name: str
    result_of: Callable[[Waitpoint], Any]


def run_block_on(
    *, execution: Execution, waitpoint_id: str, journal: Journaled | None = None
) -> Waitpoint | None:
    """The heart of `wait.for_token`: the finished waitpoint, or None when the run now waits.

    A finished waitpoint (read without a lock: it never changes again) has its result journaled
    and returned. Otherwise, under the waitpoint's row lock (the same lock every completer and the
    sweeper take), it is checked again and, still waiting, the block is recorded and the run set
    WAITING in this same transaction. A completion therefore either happened before (we see it) or
    happens after commit (it sees the block and wakes the run): no lost wake-up.
    """
    now = timezone.now()
    # A finished waitpoint never changes again, so the common resume case (the token this run
    # waited on is now complete) needs no lock: read it (the claim did, if it woke the run),
    # journal the result, go on.
    waitpoint = execution.woken_by
    if waitpoint is None or waitpoint.id != waitpoint_id:
        waitpoint = Waitpoint.objects.filter(
            id=waitpoint_id, environment_id=execution.run.environment_id
        ).first()
    if waitpoint is None:
        raise NotFound(f"Waitpoint {waitpoint_id!r} not found in this run's environment")
    if waitpoint.is_finished:
        _record_finished(execution, waitpoint, journal, now)
        return waitpoint
    with transaction.atomic():
        waitpoint = Waitpoint.objects.select_for_update().get(id=waitpoint_id)
        if waitpoint.is_finished:  # finished since the read above
            _record_finished(execution, waitpoint, journal, now)
            return waitpoint
        for hook in BLOCK_HOOKS:
            hook(execution.run_id, waitpoint_id)
        RunBlock.objects.get_or_create(
            run_id=execution.run_id, waitpoint_id=waitpoint_id, defaults={"created_at": now}
        )
        suspended = Run.objects.filter(
            id=execution.run_id,
            status=RunStatus.EXECUTING,
            lease_expires_at=execution.lease_expires_at,
        ).update(status=RunStatus.WAITING, lease_expires_at=None, updated_at=now)
        if not suspended:
            raise RunLeaseLost(execution.run_id)  # rolls the block back too
    return None


def _record_finished(
    execution: Execution, waitpoint: Waitpoint, journal: Journaled | None, now: datetime
) -> None:
    if journal is not None:
        _record(
            execution,
            sequence=journal.sequence,
            kind=journal.kind,
            name=journal.name,
            result=journal.result_of(waitpoint),
            waitpoint_id=waitpoint.id,
            now=now,
            wait_for_flush=False,  # re-derivable: a finished waitpoint never changes
        )


def run_complete(*, execution: Execution, output: Any) -> bool:
    """EXECUTING → COMPLETED with the output; False if this execution had lost the run."""
    now = timezone.now()
    return bool(
        Run.objects.filter(
            id=execution.run_id,
            status=RunStatus.EXECUTING,
            lease_expires_at=execution.lease_expires_at,
        ).update(
            status=RunStatus.COMPLETED,
            output=output,
            error=None,
            finished_at=now,
            updated_at=now,
            lease_expires_at=None,
        )
    )


def run_fail_attempt(
    *, execution: Execution, error: dict[str, Any], retry_delay: float | None
) -> str | None:
    """A failed attempt: QUEUED again after `retry_delay` seconds, or FAILED when it is None.

    Returns the new status, or None if this execution had lost the run.
    """
    now = timezone.now()
    fence = Run.objects.filter(
        id=execution.run_id,
        status=RunStatus.EXECUTING,
        lease_expires_at=execution.lease_expires_at,
    )
    with transaction.atomic():
        if retry_delay is None:
            updated = fence.update(
                status=RunStatus.FAILED,
                error=error,
                finished_at=now,
                updated_at=now,
                lease_expires_at=None,
            )
            return RunStatus.FAILED if updated else None
        retry_at = now + timedelta(seconds=retry_delay)
        updated = fence.update(
            status=RunStatus.QUEUED,
            error=error,  # the last attempt's error, shown while the retry waits
            attempt_count=F("attempt_count") + 1,
            retry_at=retry_at,
            updated_at=now,
            lease_expires_at=retry_at + lease_duration(),
        )
        if not updated:
            return None
        run_id = execution.run_id
        transaction.on_commit(lambda: enqueue_runs([run_id], countdown=retry_delay), robust=True)
    return RunStatus.QUEUED


# --- Stalled runs (beat) ----------------------------------------------------------------------


WORKER_LOST_ERROR = {
    "type": "WorkerLost",
    "message": "The worker executing this run stopped (its lease expired) and no attempts are left",
}


def runs_requeue_stalled(*, now: datetime | None = None, batch_size: int = 1000) -> int:
    """Re-enqueue runs whose lease expired: QUEUED ones whose message was lost, and EXECUTING
    ones whose worker died (that counts as a failed attempt). Returns how many were handled.

    Claimed with SKIP LOCKED, so several sweepers and a run being canceled never block each other.
    """
    from waitpoints.registry import RetryPolicy, _registry

    handled = 0
    while True:
        now_for_batch = now or timezone.now()
        lease = now_for_batch + lease_duration()
        with transaction.atomic():
            stalled = list(
                Run.objects.select_for_update(skip_locked=True)
                .filter(
                    status__in=[RunStatus.QUEUED, RunStatus.EXECUTING],
                    lease_expires_at__lte=now_for_batch,
                )
                .order_by("lease_expires_at")
                .values_list("id", "status", "attempt_count", "task_id")[:batch_size]
            )
            requeue: list[str] = []
            lost: list[str] = []
            exhausted: list[str] = []
            for run_id, status, attempt_count, task_id in stalled:
                if status == RunStatus.QUEUED:
                    requeue.append(run_id)
                    continue
                task = _registry.get(task_id)
                max_attempts = (task.retry if task else RetryPolicy()).max_attempts
                (exhausted if attempt_count >= max_attempts else lost).append(run_id)
            if requeue:
                Run.objects.filter(id__in=requeue).update(lease_expires_at=lease)
            if lost:
                Run.objects.filter(id__in=lost).update(
                    status=RunStatus.QUEUED,
                    attempt_count=F("attempt_count") + 1,
                    retry_at=None,
                    lease_expires_at=lease,
                    updated_at=now_for_batch,
                )
            if exhausted:
                Run.objects.filter(id__in=exhausted).update(
                    status=RunStatus.FAILED,
                    error=WORKER_LOST_ERROR,
                    finished_at=now_for_batch,
                    lease_expires_at=None,
                    updated_at=now_for_batch,
                )
            to_enqueue = requeue + lost
            if to_enqueue:
                transaction.on_commit(lambda ids=to_enqueue: enqueue_runs(ids), robust=True)
        if lost or exhausted:
            logger.warning(
                "Stalled runs: %d re-enqueued after a lost worker, %d failed",
                len(lost),
                len(exhausted),
            )
        handled += len(stalled)
        if len(stalled) < batch_size:
            return handled
