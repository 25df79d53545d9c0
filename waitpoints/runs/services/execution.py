"""Executing a run under its fence: claim, lease renewal, journal, finish or fail."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from waitpoints.conf import run_lease
from waitpoints.core import database
from waitpoints.models import Run, RunJournalEntry, RunStatus, Waitpoint, WebhookEvent
from waitpoints.ops import metrics
from waitpoints.runs import sql
from waitpoints.wakeups import services as wakeups
from waitpoints.webhooks import events as webhook_events


class RunLeaseLost(BaseException):  # noqa: N818 (a control-flow signal, not an error)
    """This execution no longer owns the run (canceled, finished, or taken over): stop quietly.

    A BaseException so that `except Exception` in task code cannot swallow it.
    """


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
    # Journal rows of re-derivable results (RunJournalEntry's fields), written with this
    # execution's next write (`record_later`).
    deferred: list[dict[str, Any]] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return self.run.id


def run_claim(*, run_id: str) -> Execution | None:
    """QUEUED → EXECUTING with a fresh lease, or None (a duplicate message, or not runnable).

    One conditional UPDATE decides, so of two deliveries of the same message exactly one runs.
    """
    now = timezone.now()
    lease = now + run_lease()
    if database.postgresql():
        claimed = database.without_health_check(lambda: sql.claim(run_id, now=now, lease=lease))
        if claimed is None:
            return None
        _observe_wakeup(claimed.woken_by, claimed.journal, now)
        return Execution(
            run=claimed.run,
            lease_expires_at=lease,
            journal=claimed.journal,
            woken_by=claimed.woken_by,
        )
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


def _observe_wakeup(
    woken_by: Waitpoint | None, journal: dict[int, RunJournalEntry], now: datetime
) -> None:
    """Wake-up latency: the waitpoint finished → this claim. Only the first claim after the
    wake counts (a later one finds the wait's result journaled already). PostgreSQL only: the
    portable twin does not read the waking waitpoint."""
    if woken_by is None or woken_by.completed_at is None:
        return
    if any(
        entry.kind == "for_token" and woken_by.id in (entry.waitpoint_id, entry.name)
        for entry in journal.values()
    ):
        return
    metrics.observe_wakeup(now - woken_by.completed_at)


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
    wakeups.enqueue_runs([run_id], countdown=max((retry_at - now).total_seconds(), 0.01))
    return True


def run_journal(*, run_id: str) -> dict[int, RunJournalEntry]:
    return {entry.sequence: entry for entry in RunJournalEntry.objects.filter(run_id=run_id)}


def _renew(execution: Execution, now: datetime) -> None:
    """Check the fence and extend the lease (inside the caller's transaction)."""
    lease = now + run_lease()
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


def record(
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
    """Fence check, lease renewal and journal insert together (on PostgreSQL one statement);
    RunLeaseLost when this execution no longer owns the run. Deferred entries go first."""
    write_deferred(execution)
    name = name[:200]
    if not database.postgresql():
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
    lease = now + run_lease()
    try:
        entry_id = sql.fenced_journal_insert(
            run_id=execution.run_id,
            fence=execution.lease_expires_at,
            lease=lease,
            now=now,
            sequence=sequence,
            kind=kind,
            name=name,
            result=result,
            waitpoint_id=waitpoint_id,
            wait_for_flush=wait_for_flush,
        )
    except IntegrityError:
        # Another execution of this run recorded this call first: it owns the run.
        raise RunLeaseLost(execution.run_id) from None
    if entry_id is None:
        raise RunLeaseLost(execution.run_id)
    execution.lease_expires_at = lease
    return RunJournalEntry(
        id=entry_id,
        run_id=execution.run_id,
        sequence=sequence,
        kind=kind,
        name=name,
        result=json.loads(json.dumps(result)),
        waitpoint_id=waitpoint_id,
        created_at=now,
    )


def record_later(
    execution: Execution,
    *,
    sequence: int,
    kind: str,
    name: str,
    result: Any,
    waitpoint_id: str | None,
    now: datetime,
) -> None:
    """Journal a result that a replay can derive again, with this execution's next journal write,
    its suspension, its retry or its completion, instead of in a round trip of its own now. A
    finished waitpoint's result is one: it never changes. So `wait.for_token` resumes with no write
    on its way to the next line (docs/benchmarks.md, P2); an execution that crashes first leaves
    its replay to read the waitpoint again."""
    execution.deferred.append(
        {
            "sequence": sequence,
            "kind": kind,
            "name": name[:200],
            "result": result,
            "waitpoint_id": waitpoint_id,
            "created_at": now,
        }
    )


def write_deferred(execution: Execution) -> None:
    """Write the entries `record_later` kept (under the fence, without waiting for the WAL flush:
    a lost one is derived again)."""
    entries, execution.deferred = execution.deferred, []
    for entry in entries:  # in the order they were kept
        fields = {key: value for key, value in entry.items() if key != "created_at"}
        record(execution, **fields, now=entry["created_at"], wait_for_flush=False)


def run_journal_record(
    *, execution: Execution, sequence: int, kind: str, name: str, result: Any
) -> RunJournalEntry:
    """Record a durable call's result (a `wait.step`, a past-due sleep) under the fence."""
    return record(
        execution, sequence=sequence, kind=kind, name=name, result=result, now=timezone.now()
    )


def run_complete(*, execution: Execution, output: Any) -> bool:
    """EXECUTING → COMPLETED with the output (and its `run.completed` webhook event and deferred
    journal entries, in the same statement); False if this execution had lost the run."""
    now = timezone.now()
    deferred, execution.deferred = execution.deferred, []
    if database.postgresql():
        completed, deliveries = sql.complete(
            run_id=execution.run_id,
            fence=execution.lease_expires_at,
            output=output,
            now=now,
            journal=deferred,
        )
        webhook_events.send_on_commit(deliveries)
        return completed
    with transaction.atomic():
        completed = bool(
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
        if completed:
            RunJournalEntry.objects.bulk_create(
                RunJournalEntry(run_id=execution.run_id, **entry) for entry in deferred
            )
            webhook_events.record(
                event=WebhookEvent.RUN_COMPLETED,
                subjects=[(execution.run.environment_id, execution.run_id)],
                now=now,
            )
    return completed


def run_fail_attempt(
    *, execution: Execution, error: dict[str, Any], retry_delay: float | None
) -> str | None:
    """A failed attempt: QUEUED again after `retry_delay` seconds, or FAILED when it is None.

    Returns the new status, or None if this execution had lost the run.
    """
    now = timezone.now()
    with transaction.atomic():
        if retry_delay is not None:
            try:  # the retry replays: let it find what this attempt resumed past
                write_deferred(execution)
            except RunLeaseLost:
                return None
        fence = Run.objects.filter(
            id=execution.run_id,
            status=RunStatus.EXECUTING,
            lease_expires_at=execution.lease_expires_at,
        )
        if retry_delay is None:
            updated = fence.update(
                status=RunStatus.FAILED,
                error=error,
                finished_at=now,
                updated_at=now,
                lease_expires_at=None,
            )
            if not updated:
                return None
            webhook_events.record(
                event=WebhookEvent.RUN_FAILED,
                subjects=[(execution.run.environment_id, execution.run_id)],
                now=now,
            )
            return RunStatus.FAILED
        retry_at = now + timedelta(seconds=retry_delay)
        updated = fence.update(
            status=RunStatus.QUEUED,
            error=error,  # the last attempt's error, shown while the retry waits
            attempt_count=F("attempt_count") + 1,
            retry_at=retry_at,
            updated_at=now,
            lease_expires_at=retry_at + run_lease(),
        )
        if not updated:
            return None
        wakeups.enqueue_runs_on_commit([execution.run_id], countdown=retry_delay)
    return RunStatus.QUEUED
