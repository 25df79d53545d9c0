"""The Celery tasks, all of them: thin, idempotent, arguments are ids. Logic lives in services.

Each has a stable `name=` (queued messages and the beat schedule carry it; the wake-up layer
sends by name). The module is not called `tasks` so that `from waitpoints import tasks` is always
the SDK's `tasks`, never this module.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

from waitpoints.runs.runtime.execute import run_execute
from waitpoints.runs.services.maintenance import runs_requeue_stalled
from waitpoints.tokens.services.expiry import waitpoints_sweep_due
from waitpoints.wakeups.services import EXECUTE_RUN_TASK, EXECUTE_RUNS_TASK

logger = logging.getLogger(__name__)

SWEEP_DUE_WAITPOINTS_TASK = "waitpoints.tasks.sweep_due_waitpoints"
REQUEUE_STALLED_RUNS_TASK = "waitpoints.tasks.requeue_stalled_runs"


@task_prerun.connect
@task_postrun.connect
def _recycle_database_connections(**kwargs) -> None:
    """Django's request policy for tasks: keep a connection up to CONN_MAX_AGE, drop a broken one.

    (With CELERY_DB_REUSE_MAX set, Celery no longer force-closes it around every task.)
    """
    close_old_connections()


@shared_task(name=SWEEP_DUE_WAITPOINTS_TASK, ignore_result=True)
def sweep_due_waitpoints() -> int:
    """Beat runs this every WAITPOINTS_SWEEP_INTERVAL_SECONDS: due tokens time out, due sleeps
    complete."""
    return waitpoints_sweep_due()


@shared_task(name=EXECUTE_RUN_TASK, ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def execute_run(run_id: str) -> None:
    """Execute (or resume, by replay) one run. A duplicate message is a no-op: the run is
    claimed with a conditional QUEUED → EXECUTING update."""
    run_execute(run_id=run_id)


@shared_task(name=EXECUTE_RUNS_TASK, ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def execute_runs(run_ids: list[str]) -> None:
    """Execute a chunk of woken runs one after another (a mass wake, see `enqueue_runs`).

    Each execution is claimed on its own, so a redelivered chunk re-runs only what is still
    QUEUED; a run that raises does not stop the rest of the chunk.
    """
    for run_id in run_ids:
        try:
            run_execute(run_id=run_id)
        except Exception:
            logger.exception("Run %s failed to execute; the stalled-run sweeper retries it", run_id)


@shared_task(name=REQUEUE_STALLED_RUNS_TASK, ignore_result=True)
def requeue_stalled_runs() -> int:
    """Beat: re-enqueue runs whose lease expired (lost message, or a worker that died mid-run)."""
    return runs_requeue_stalled()
