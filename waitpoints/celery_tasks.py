"""The Celery tasks, all of them: thin, idempotent, arguments are ids. Logic lives in services.

Each has a stable `name=` (queued messages and the beat schedule carry it; the wake-up layer
sends by name). The module is not called `tasks` so that `from waitpoints import tasks` is always
the SDK's `tasks`, never this module.
"""

from __future__ import annotations

import logging
import smtplib

from celery import shared_task
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

from waitpoints.notifications.delivery import SEND_APPROVAL_EMAIL_TASK, approval_email_deliver
from waitpoints.ops import retention
from waitpoints.ops.leader import exclusive
from waitpoints.presenters import webhook_event_data
from waitpoints.runs.runtime.execute import run_execute
from waitpoints.runs.services.maintenance import runs_requeue_stalled
from waitpoints.tokens.services.expiry import waitpoints_sweep_due
from waitpoints.tokens.services.reminders import escalations_send_due, reminders_send_due
from waitpoints.wakeups.services import EXECUTE_RUN_TASK, EXECUTE_RUNS_TASK
from waitpoints.webhooks import events as webhook_events
from waitpoints.webhooks.delivery import webhook_deliver, webhooks_send_due

logger = logging.getLogger(__name__)

SWEEP_DUE_WAITPOINTS_TASK = "waitpoints.tasks.sweep_due_waitpoints"
REQUEUE_STALLED_RUNS_TASK = "waitpoints.tasks.requeue_stalled_runs"
PURGE_EXPIRED_TASK = "waitpoints.tasks.purge_expired"
SEND_DUE_REMINDERS_TASK = "waitpoints.tasks.send_due_reminders"

# A mail server that refuses, times out (EMAIL_TIMEOUT) or answers 4xx: retried after jittered
# waits of at most 30 s, 1, 2, 4, 8 and 10 minutes (a ~25-minute outage), then given up, logged.
EMAIL_SEND_ERRORS = (smtplib.SMTPException, OSError)
EMAIL_MAX_RETRIES = 6


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
    complete. Every periodic task runs under `exclusive`: with several beats (README,
    "Production"), a copy that starts while another runs does nothing."""
    with exclusive(SWEEP_DUE_WAITPOINTS_TASK) as leader:
        return waitpoints_sweep_due() if leader else 0


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
    with exclusive(REQUEUE_STALLED_RUNS_TASK) as leader:
        return runs_requeue_stalled() if leader else 0


@shared_task(
    name=SEND_APPROVAL_EMAIL_TASK,
    bind=True,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=EMAIL_SEND_ERRORS,
    max_retries=EMAIL_MAX_RETRIES,
    retry_backoff=30,
    retry_backoff_max=600,
    retry_jitter=True,
)
def send_approval_email(
    self,
    waitpoint_id: str,
    recipient: str,
    *,
    subject: str = "",
    message: str = "",
    sent_by: str = "",
    delivery: str = "",
) -> None:
    """One recipient's approval email (queued on commit by `notifications.delivery`).

    A failed send is logged and retried; a redelivered message that was already sent, or a
    token finished meanwhile, sends nothing.
    """
    try:
        approval_email_deliver(
            waitpoint_id=waitpoint_id,
            recipient=recipient,
            subject=subject,
            message=message,
            sent_by=sent_by,
            delivery=delivery,
        )
    except EMAIL_SEND_ERRORS as exc:
        attempt = self.request.retries + 1
        final = attempt > self.max_retries
        logger.log(
            logging.ERROR if final else logging.WARNING,
            "Approval email for %s to %s failed (attempt %d of %d%s): %r",
            waitpoint_id,
            recipient,
            attempt,
            self.max_retries + 1,
            ", giving up" if final else ", will retry",
            exc,
        )
        raise


@shared_task(
    name=webhook_events.DELIVER_WEBHOOK_TASK,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
)
def deliver_webhook(delivery_id: str) -> None:
    """One attempt of one webhook delivery (queued on commit by `webhooks.events`). A failure
    schedules the next attempt, which beat's `send_due_webhooks` sends when it is due."""
    webhook_deliver(delivery_id=delivery_id, render=webhook_event_data)


@shared_task(name=webhook_events.DISPATCH_WEBHOOKS_TASK, ignore_result=True, acks_late=True)
def dispatch_webhooks(delivery_ids: list[str]) -> None:
    """Fan a chunk of deliveries (a mass timeout, a completion with several endpoints) out into
    one message each."""
    webhook_events.send_each(delivery_ids)


@shared_task(name=webhook_events.SEND_DUE_WEBHOOKS_TASK, ignore_result=True)
def send_due_webhooks() -> int:
    """Beat, every WAITPOINTS_WEBHOOKS_SCAN_SECONDS: retries that are due, lost messages."""
    with exclusive(webhook_events.SEND_DUE_WEBHOOKS_TASK) as leader:
        return webhooks_send_due() if leader else 0


@shared_task(name=SEND_DUE_REMINDERS_TASK, ignore_result=True)
def send_due_reminders() -> int:
    """Beat, every WAITPOINTS_REMINDERS_SCAN_SECONDS: due escalations, then due reminders
    (README, "Who decides"). Each due time is claimed by one conditional UPDATE, so several
    beats never send one twice."""
    with exclusive(SEND_DUE_REMINDERS_TASK) as leader:
        if not leader:
            return 0
        return escalations_send_due() + reminders_send_due()


@shared_task(name=PURGE_EXPIRED_TASK, ignore_result=True)
def purge_expired() -> None:
    """Beat, every WAITPOINTS_RETENTION_INTERVAL_SECONDS: delete what WAITPOINTS_RETENTION no
    longer keeps (nothing when it is unset)."""
    with exclusive(PURGE_EXPIRED_TASK) as leader:
        deleted = retention.purge_expired() if leader else None
    if deleted and any(deleted.values()):
        logger.info(
            "Retention: deleted %s", ", ".join(f"{n} {name}" for name, n in deleted.items())
        )
