"""Beat's care of runs: re-enqueue the ones whose lease expired, and re-send the message of a
run that stays QUEUED unclaimed (a message lost with the broker) long before that."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from waitpoints.conf import run_lease, waitpoints_settings
from waitpoints.models import Run, RunStatus, WebhookEvent
from waitpoints.runs.registry import RetryPolicy, task_or_none
from waitpoints.wakeups.services import enqueue_runs_on_commit
from waitpoints.webhooks import events as webhook_events

logger = logging.getLogger(__name__)


WORKER_LOST_ERROR = {
    "type": "WorkerLost",
    "message": "The worker executing this run stopped (its lease expired) and no attempts are left",
}


def runs_requeue_stalled(*, now: datetime | None = None, batch_size: int = 1000) -> int:
    """Re-enqueue runs whose lease expired: QUEUED ones whose message was lost, and EXECUTING
    ones whose worker died (that counts as a failed attempt). Returns how many were handled.

    Claimed with SKIP LOCKED, so several sweepers and a run being canceled never block each other.
    """
    handled = 0
    while True:
        now_for_batch = now or timezone.now()
        lease = now_for_batch + run_lease()
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
                task = task_or_none(task_id)
                max_attempts = (task.retry if task else RetryPolicy()).max_attempts
                (exhausted if attempt_count >= max_attempts else lost).append(run_id)
            if requeue:
                Run.objects.filter(id__in=requeue).update(
                    lease_expires_at=lease, updated_at=now_for_batch
                )
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
                webhook_events.record(
                    event=WebhookEvent.RUN_FAILED,
                    subjects=Run.objects.filter(id__in=exhausted).values_list(
                        "environment_id", "id"
                    ),
                    now=now_for_batch,
                )
            to_enqueue = requeue + lost
            if to_enqueue:
                enqueue_runs_on_commit(to_enqueue)
        if lost or exhausted:
            logger.warning(
                "Stalled runs: %d re-enqueued after a lost worker, %d failed",
                len(lost),
                len(exhausted),
            )
        handled += len(stalled)
        if len(stalled) < batch_size:
            return handled + runs_resend_unclaimed(now=now)


# At most this many messages re-sent per beat tick: a backlog is not made worse by more than that.
RESEND_BATCH_SIZE = 200


def runs_resend_unclaimed(*, now: datetime | None = None) -> int:
    """Send again the message of QUEUED runs nobody claimed for WAITPOINTS_QUEUED_RESEND_SECONDS
    (a message lost with a restarted broker), long before their lease expires.

    A run that is merely waiting in a backlog must not be sent over and over: the wait before
    each re-send doubles (30 s, 60 s, 120 s, … after it was queued; `updated_at` is the last
    send, the lease's start is when it was queued), at most RESEND_BATCH_SIZE per tick, oldest
    first. A duplicate message is harmless (one claim wins). Returns how many were re-sent.
    """
    now = now or timezone.now()
    first_wait = timedelta(seconds=waitpoints_settings.queued_resend_seconds)
    if first_wait <= timedelta(0):
        return 0
    lease = run_lease()
    with transaction.atomic():
        candidates = (
            Run.objects.select_for_update(skip_locked=True)
            .filter(
                status=RunStatus.QUEUED,
                lease_expires_at__gt=now,  # the lease path handles the others
                updated_at__lte=now - first_wait,
            )
            .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now - first_wait))
            .order_by("updated_at")
            .values_list("id", "updated_at", "lease_expires_at")[: RESEND_BATCH_SIZE * 5]
        )
        due = []
        for run_id, last_sent, lease_expires_at in candidates:
            queued_at = lease_expires_at - lease
            if now - last_sent >= max(first_wait, last_sent - queued_at):
                due.append(run_id)
            if len(due) >= RESEND_BATCH_SIZE:
                break
        if due:
            Run.objects.filter(id__in=due).update(updated_at=now)
            enqueue_runs_on_commit(due)
    if due:
        logger.info("Re-sent %d QUEUED runs that no worker claimed", len(due))
    return len(due)
