"""Queued approval emails in tests: record the Celery messages, then run them here.

The suite uses a real broker and no eager mode, so `queued_emails(monkeypatch)` stands in for the
Celery app that `notifications.delivery` sends with; a test then runs the recorded messages
through the real task (`deliver`) or just the sending function (`deliver_now`).
"""

from dataclasses import dataclass, field
from typing import Any

from waitpoints import celery_tasks
from waitpoints.notifications import delivery


@dataclass
class QueuedEmails:
    messages: list[tuple[tuple, dict[str, Any]]] = field(default_factory=list)

    def send_task(self, name: str, args=(), kwargs=None, **options) -> None:
        assert name == delivery.SEND_APPROVAL_EMAIL_TASK
        self.messages.append((tuple(args), dict(kwargs or {})))

    @property
    def recipients(self) -> list[str]:
        return [args[1] for args, _ in self.messages]

    def deliver(self) -> list:
        """Each message through the Celery task, as a worker runs it (retries included)."""
        return [
            celery_tasks.send_approval_email.apply(args=args, kwargs=kwargs)
            for args, kwargs in self.messages
        ]

    def deliver_now(self) -> list[bool]:
        """Each message through the sending function alone (no Celery, no retry)."""
        return [
            delivery.approval_email_deliver(waitpoint_id=args[0], recipient=args[1], **kwargs)
            for args, kwargs in self.messages
        ]


def queued_emails(monkeypatch) -> QueuedEmails:
    queue = QueuedEmails()
    monkeypatch.setattr(delivery, "current_app", queue)
    return queue
