"""Reminders and escalation of tokens waiting for people, run by beat (docs/architecture.md,
"Who decides").

Each due time is claimed by a conditional UPDATE of `remind_at` / `escalate_at` from the value
read: of two beats (or workers) that both see it due, exactly one moves it on and sends; the
other's UPDATE matches no row. The periodic task's advisory lock only saves the duplicate work.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from waitpoints.models import (
    AuditEvent,
    Waitpoint,
    WaitpointAssignee,
    WaitpointStatus,
    assignee_keys,
)
from waitpoints.notifications.delivery import queue_approval_emails
from waitpoints.notifications.emails import ApprovalRequest
from waitpoints.tokens import assignment

BATCH = 200
REMINDER_SENDER = "reminder"
ESCALATION_SENDER = "escalation"


def _due(field: str, now: datetime) -> list[Waitpoint]:
    return list(
        Waitpoint.objects.filter(
            status=WaitpointStatus.WAITING, timeout_at__gt=now, **{f"{field}__lte": now}
        ).order_by(field)[:BATCH]
    )


def reminders_send_due(*, now: datetime | None = None) -> int:
    """Re-send the approval email of each token whose reminder is due to the people who may
    decide it and have not voted; returns how many reminders were sent."""
    now = now or timezone.now()
    sent = 0
    for waitpoint in _due("remind_at", now):
        policy = waitpoint.decision_policy
        number = waitpoint.reminders_sent + 1
        following = (
            waitpoint.remind_at + timedelta(seconds=policy.remind_every)
            if number < policy.remind_max
            else None
        )
        with transaction.atomic():
            claimed = Waitpoint.objects.filter(
                pk=waitpoint.pk, status=WaitpointStatus.WAITING, remind_at=waitpoint.remind_at
            ).update(remind_at=following, reminders_sent=F("reminders_sent") + 1)
            if not claimed:
                continue  # another beat sent this one, or the token finished meanwhile
            recipients = _waiting_on(waitpoint)
            _email(waitpoint, recipients, sent_by=REMINDER_SENDER)
            _audit(
                waitpoint,
                AuditEvent.Action.REMINDER_SENT,
                REMINDER_SENDER,
                now,
                to=recipients,
                number=number,
            )
        sent += 1
    return sent


def escalations_send_due(*, now: datetime | None = None) -> int:
    """Add the `escalate.to` people of each token whose escalation is due to its reviewers and
    email them; returns how many tokens were escalated. (A token open to everyone permitted
    stays open: its escalation only emails them.)"""
    now = now or timezone.now()
    escalated = 0
    for due in _due("escalate_at", now):
        with transaction.atomic():
            waitpoint = (
                Waitpoint.objects.select_for_update()
                .filter(pk=due.pk, status=WaitpointStatus.WAITING, escalate_at=due.escalate_at)
                .first()
            )
            if waitpoint is None:
                continue  # another beat escalated it, or it finished meanwhile
            stored = dict(waitpoint.policy)
            names = list(stored["escalate"]["to"])
            if "reviewers" in stored:
                users = stored["reviewers"].get("users", [])
                stored["reviewers"] = {
                    **stored["reviewers"],
                    "users": users + [name for name in names if name not in users],
                }
            Waitpoint.objects.filter(pk=waitpoint.pk).update(escalate_at=None, policy=stored)
            if "reviewers" in stored:
                WaitpointAssignee.objects.bulk_create(
                    [
                        WaitpointAssignee(waitpoint=waitpoint, key=k)
                        for k in assignee_keys(names, ())
                    ],
                    ignore_conflicts=True,
                )
            waitpoint.policy = stored
            waitpoint.__dict__.pop("decision_policy", None)  # the cached one predates it
            recipients = [
                address
                for address in assignment.addresses_of(names)
                if assignment.may_be_emailed(waitpoint.decision_policy, address)
            ]
            _email(waitpoint, recipients, sent_by=ESCALATION_SENDER)
            _audit(
                waitpoint,
                AuditEvent.Action.ESCALATED,
                ESCALATION_SENDER,
                now,
                to=names,
                emailed=recipients,
            )
        escalated += 1
    return escalated


def _waiting_on(waitpoint: Waitpoint) -> list[str]:
    """The addresses of the assigned and notified people who may decide and have not voted."""
    policy = waitpoint.decision_policy
    candidates = [
        *assignment.addresses_of(policy.users),
        *assignment.group_addresses(policy.groups),
        *policy.notify,
    ]
    voted = assignment.keys_of_voters(waitpoint.votes.values_list("reviewer", flat=True))
    recipients: list[str] = []
    for address in candidates:
        address = address.lower()
        if address in recipients or address in voted:
            continue
        if assignment.may_be_emailed(policy, address):
            recipients.append(address)
    return recipients


def _audit(waitpoint: Waitpoint, action: str, actor: str, now: datetime, **data) -> None:
    AuditEvent.objects.create(
        waitpoint=waitpoint, action=action, via="email", actor=actor, data=data, created_at=now
    )


def _email(waitpoint: Waitpoint, recipients: list[str], *, sent_by: str) -> None:
    if recipients:
        request = ApprovalRequest(recipients=tuple(recipients), subject="", message="")
        queue_approval_emails(waitpoint.id, request, sent_by=sent_by)
