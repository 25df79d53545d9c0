"""Starting runs (with idempotency keys) and canceling them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from waitpoints.conf import run_lease
from waitpoints.core.ids import idempotency_key_hash
from waitpoints.core.validation import (
    MAX_IDEMPOTENCY_KEY_LENGTH,
    clean_json,
    clean_tags,
    clean_text,
)
from waitpoints.errors import InvalidInput, NotFound
from waitpoints.models import Environment, Run, RunStatus, WebhookEvent
from waitpoints.runs.registry import task_get
from waitpoints.wakeups.services import enqueue_runs_on_commit
from waitpoints.webhooks import events as webhook_events

TERMINAL_STATUSES = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED)


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
                idempotency_key_hash=(
                    None if idempotency_key is None else idempotency_key_hash(idempotency_key)
                ),
                tags=tags,
                created_at=now,
                updated_at=now,
                lease_expires_at=now + run_lease(),
            )
            enqueue_runs_on_commit([run.id])
    except IntegrityError:
        if idempotency_key is None:
            raise
        existing = Run.objects.filter(
            environment=environment,
            task_id=task_id,
            idempotency_key_hash=idempotency_key_hash(idempotency_key),
        ).first()
        if existing is None:
            raise
        return TriggeredRun(id=existing.id, is_cached=True, run=existing)
    return TriggeredRun(id=run.id, is_cached=False, run=run)


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
        webhook_events.record(
            event=WebhookEvent.RUN_CANCELED, subjects=[(run.environment_id, run.id)], now=now
        )
    return run
