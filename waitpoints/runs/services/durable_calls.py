"""The durable calls of a run that touch other rows: creating a token, triggering a child run,
sleeping, and blocking on a waitpoint (the heart of `wait.for_token`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from waitpoints.errors import NotFound
from waitpoints.models import Environment, Run, RunBlock, RunJournalEntry, RunStatus, Waitpoint
from waitpoints.runs.services.execution import (
    Execution,
    RunLeaseLost,
    record,
    record_later,
    write_deferred,
)
from waitpoints.runs.services.trigger import run_trigger
from waitpoints.tokens.services.create import sleep_create, token_create

# Test seam: called as hook(run_id, waitpoint_id) while `run_block_on` holds the waitpoint row
# lock, has seen it WAITING and has not yet recorded the block. Race tests use it to complete the
# token inside that window.
BLOCK_HOOKS: list[Callable[[str, str], None]] = []


def run_token_create(
    *, execution: Execution, sequence: int, result_of: Callable[[Any], Any], **token_fields: Any
) -> RunJournalEntry:
    """Create a token and journal it in one transaction: a replay never creates a second one."""
    now = timezone.now()
    with transaction.atomic():
        created = token_create(environment=execution.run.environment, **token_fields)
        return record(
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
        return record(
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
            waitpoint = sleep_create(environment=execution.run.environment, until=until)
        return record(
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
        write_deferred(execution)  # the next wake-up replays past them
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
        record_later(
            execution,
            sequence=journal.sequence,
            kind=journal.kind,
            name=journal.name,
            result=journal.result_of(waitpoint),
            waitpoint_id=waitpoint.id,
            now=now,
        )
