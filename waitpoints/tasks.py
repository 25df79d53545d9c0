"""Celery tasks: thin, idempotent, arguments are ids. Business logic lives in services.

Once this module is imported, `waitpoints.tasks` (the package attribute) is this module, not the
SDK's `tasks` object, so `from waitpoints import tasks` may give either: the module therefore offers
the same verbs, `tasks.trigger(...)`, `tasks.retrieve(...)` and `tasks.cancel(...)`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from celery import shared_task
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

from waitpoints import services

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from waitpoints.models import Run
    from waitpoints.runs.services import TriggeredRun


@task_prerun.connect
@task_postrun.connect
def _recycle_database_connections(**kwargs) -> None:
    """Django's request policy for tasks: keep a connection up to CONN_MAX_AGE, drop a broken one.

    (With CELERY_DB_REUSE_MAX set, Celery no longer force-closes it around every task.)
    """
    close_old_connections()


@shared_task(ignore_result=True)
def sweep_due_waitpoints() -> int:
    """Beat runs this every WAITPOINTS_SWEEP_INTERVAL_SECONDS: due tokens time out, due sleeps
    complete."""
    return services.waitpoints_sweep_due()


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def execute_run(run_id: str) -> None:
    """Execute (or resume, by replay) one run. A duplicate message is a no-op: the run is
    claimed with a conditional QUEUED → EXECUTING update."""
    from waitpoints.runs.runtime import run_execute

    run_execute(run_id=run_id)


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def execute_runs(run_ids: list[str]) -> None:
    """Execute a chunk of woken runs one after another (a mass wake, see `enqueue_runs`).

    Each execution is claimed on its own, so a redelivered chunk re-runs only what is still
    QUEUED; a run that raises does not stop the rest of the chunk.
    """
    from waitpoints.runs.runtime import run_execute

    for run_id in run_ids:
        try:
            run_execute(run_id=run_id)
        except Exception:
            logger.exception("Run %s failed to execute; the stalled-run sweeper retries it", run_id)


@shared_task(ignore_result=True)
def requeue_stalled_runs() -> int:
    """Beat: re-enqueue runs whose lease expired (lost message, or a worker that died mid-run)."""
    from waitpoints.runs.services import runs_requeue_stalled

    return runs_requeue_stalled()


def trigger(task_id: str, payload: Any = None, **options: Any) -> TriggeredRun:
    """`tasks.trigger("moderation", payload, idempotency_key=..., tags=..., environment=...)`."""
    from waitpoints.registry import tasks

    return tasks.trigger(task_id, payload, **options)


def retrieve(run_id: str, **options: Any) -> Run:
    from waitpoints.registry import tasks

    return tasks.retrieve(run_id, **options)


def cancel(run_id: str, **options: Any) -> Run:
    from waitpoints.registry import tasks

    return tasks.cancel(run_id, **options)
