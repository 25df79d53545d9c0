"""Deadlines: the sweep that times out due tokens and completes due sleeps."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from waitpoints.conf import waitpoints_settings
from waitpoints.core import database
from waitpoints.models import (
    AuditEvent,
    CompletionVia,
    Waitpoint,
    WaitpointKind,
    WaitpointStatus,
    WebhookEvent,
)
from waitpoints.ops import metrics
from waitpoints.tokens import sql
from waitpoints.wakeups import services as wakeups
from waitpoints.webhooks import events as webhook_events


def waitpoints_sweep_due(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Finish every WAITING waitpoint past its deadline; returns how many.

    Tokens time out, durable sleeps complete. Each batch is claimed with SKIP LOCKED, so
    several sweepers (and completers holding a row) never block each other.
    """
    batch_size = batch_size or waitpoints_settings.sweep_batch_size
    finished = 0
    while True:
        now_for_batch = now or timezone.now()
        with transaction.atomic():
            if database.postgresql():
                due_ids, deliveries = sql.finish_due_batch(now=now_for_batch, limit=batch_size)
                metrics.count_timed_out_ids(due_ids)
                wakeups.wake_runs_blocked_on(due_ids)
                webhook_events.send_on_commit(deliveries)
            else:
                due_ids = list(
                    Waitpoint.objects.select_for_update(skip_locked=True)
                    .filter(status=WaitpointStatus.WAITING, timeout_at__lte=now_for_batch)
                    .order_by("timeout_at")
                    .values_list("id", flat=True)[:batch_size]
                )
                if due_ids:
                    finish_due(due_ids, now=now_for_batch)
        finished += len(due_ids)
        if len(due_ids) < batch_size:
            return finished


def finish_due(waitpoint_ids: list[str], *, now: datetime) -> None:
    """Mark locked, due waitpoints finished and wake their runs (caller holds the locks)."""
    due = Waitpoint.objects.filter(id__in=waitpoint_ids, status=WaitpointStatus.WAITING)
    tokens = list(due.filter(kind=WaitpointKind.MANUAL).values_list("environment_id", "id"))
    token_ids = [token_id for _, token_id in tokens]
    # The timeout error itself is derived from timeout_at (Waitpoint.result_output), and so is
    # completed_at: readers saw the token finish at its deadline, however late the sweeper is.
    # A token with a timeoutOutput is COMPLETED with it instead ("Deadlines").
    decided = dict(
        Waitpoint.objects.filter(id__in=token_ids, timeout_output__isnull=False).values_list(
            "id", "timeout_output"
        )
    )
    Waitpoint.objects.filter(id__in=token_ids, timeout_output__isnull=True).update(
        status=WaitpointStatus.TIMED_OUT,
        output=None,
        output_is_error=True,
        completed_at=F("timeout_at"),
        completed_via=CompletionVia.TIMEOUT,
        completed_by="",
    )
    for token_id, timeout_output in decided.items():
        Waitpoint.objects.filter(id=token_id).update(
            status=WaitpointStatus.COMPLETED,
            output=timeout_output["value"],
            output_is_error=False,
            completed_at=F("timeout_at"),
            completed_via=CompletionVia.TIMEOUT,
            completed_by="",
        )
    due.filter(kind=WaitpointKind.DATETIME).update(
        status=WaitpointStatus.COMPLETED, completed_at=now, completed_via=CompletionVia.TIMEOUT
    )
    AuditEvent.objects.bulk_create(
        AuditEvent(
            waitpoint_id=token_id,
            action=AuditEvent.Action.COMPLETED
            if token_id in decided
            else AuditEvent.Action.TIMED_OUT,
            via=CompletionVia.TIMEOUT,
            data=decided[token_id]["value"] if token_id in decided else None,
            created_at=now,
        )
        for token_id in token_ids
    )
    metrics.count_timed_out(tokens)
    wakeups.wake_runs_blocked_on(waitpoint_ids)
    webhook_events.record(event=WebhookEvent.WAITPOINT_TIMED_OUT, subjects=tokens, now=now)
