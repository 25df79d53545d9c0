"""Sending approval emails after commit: one Celery message per recipient, sent by task name.

A create or an SDK call only validates and queues (see `emails.clean_approval_request`), so no
caller ever waits on SMTP. The worker's task (`celery_tasks.send_approval_email`) calls
`approval_email_deliver` and retries a failed send; each recipient's message is retried alone,
so a retry never mails the others again.
"""

from __future__ import annotations

import logging
import uuid

from celery import current_app
from django.db import transaction

from waitpoints.models import AuditEvent, Waitpoint
from waitpoints.notifications.emails import ApprovalRequest, approval_email

logger = logging.getLogger(__name__)

# The stable name of the Celery task in `waitpoints.celery_tasks` (queued messages carry it).
SEND_APPROVAL_EMAIL_TASK = "waitpoints.tasks.send_approval_email"


def queue_approval_emails(waitpoint_id: str, request: ApprovalRequest, *, sent_by: str) -> None:
    """After the current transaction commits, send one task message per recipient."""
    # One id for this request: a redelivered message finds its own audit row and sends nothing,
    # while a later request to the same address (a reminder) is still sent.
    delivery = uuid.uuid4().hex
    messages = [
        (
            (waitpoint_id, recipient),
            {
                "subject": request.subject,
                "message": request.message,
                "sent_by": sent_by,
                "delivery": delivery,
            },
        )
        for recipient in request.recipients
    ]
    # robust: a broker down at commit must not fail the committed create; the loss is logged.
    transaction.on_commit(lambda: _send_tasks(messages), robust=True)


def _send_tasks(messages: list[tuple[tuple[str, str], dict[str, str]]]) -> None:
    for args, kwargs in messages:
        try:
            current_app.send_task(SEND_APPROVAL_EMAIL_TASK, args=args, kwargs=kwargs)
        except Exception:
            logger.exception("Could not queue the approval email for %s to %s", *args)


def approval_email_deliver(
    *,
    waitpoint_id: str,
    recipient: str,
    subject: str = "",
    message: str = "",
    sent_by: str = "",
    delivery: str = "",
) -> bool:
    """Send one recipient's approval email and audit it (EMAIL_SENT); False when skipped.

    Skipped: a token that no longer exists or is finished (its links could only show the
    outcome), or an email this delivery already sent (a redelivered message). A failed send
    raises (SMTP errors, OSError for timeouts and refused connections) for the task to retry.
    """
    waitpoint = Waitpoint.objects.filter(id=waitpoint_id).first()
    if waitpoint is None:
        logger.info("Approval email to %s skipped: token %s is gone", recipient, waitpoint_id)
        return False
    if waitpoint.is_finished:
        logger.info(
            "Approval email to %s skipped: token %s is already %s",
            recipient,
            waitpoint_id,
            waitpoint.current_status,
        )
        return False
    already_sent = AuditEvent.objects.filter(
        waitpoint=waitpoint,
        action=AuditEvent.Action.EMAIL_SENT,
        data__to=recipient,
        data__delivery=delivery,
    )
    if delivery and already_sent.exists():
        logger.info("Approval email for %s to %s was already sent", waitpoint_id, recipient)
        return False
    email = approval_email(waitpoint, recipient, subject, message)
    email.send()
    AuditEvent.objects.create(
        waitpoint=waitpoint,
        action=AuditEvent.Action.EMAIL_SENT,
        via="email",
        actor=sent_by,
        data={"to": recipient, "subject": email.subject, "delivery": delivery},
    )
    return True
