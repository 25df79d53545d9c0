"""The dashboard's Celery tasks (found by `autodiscover_tasks(related_name="celery_tasks")`):
thin, idempotent, stable names; the undo window's logic lives in `dashboard.undo`."""

from __future__ import annotations

from celery import shared_task

from dashboard import undo
from waitpoints.ops.leader import exclusive


@shared_task(name=undo.APPLY_PENDING_DECISION_TASK, ignore_result=True, acks_late=True)
def apply_pending_decision(pending_id: int) -> None:
    undo.pending_decision_apply(pending_id=pending_id)


@shared_task(name=undo.SWEEP_PENDING_DECISIONS_TASK, ignore_result=True)
def sweep_pending_decisions() -> int:
    with exclusive(undo.SWEEP_PENDING_DECISIONS_TASK) as leader:
        return undo.pending_decisions_apply_due() if leader else 0
