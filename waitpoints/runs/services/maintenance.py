"""Beat's care of runs: re-enqueue the ones whose lease expired."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from waitpoints.conf import run_lease
from waitpoints.models import Run, RunStatus
from waitpoints.runs.registry import RetryPolicy, task_or_none
from waitpoints.wakeups.services import enqueue_runs_on_commit

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
                enqueue_runs_on_commit(to_enqueue)
        if lost or exhausted:
            logger.warning(
                "Stalled runs: %d re-enqueued after a lost worker, %d failed",
                len(lost),
                len(exhausted),
            )
        handled += len(stalled)
        if len(stalled) < batch_size:
            return handled
