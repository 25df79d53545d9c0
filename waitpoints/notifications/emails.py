"""Emailed one-click approval links: signing, verifying and sending them.

A link is signed for one token, one decision and one recipient, and expires with the token.
Opening it only shows a confirmation page; the POST from that page decides (mail scanners
open links, they don't submit forms).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from waitpoints.conf import waitpoints_settings
from waitpoints.errors import InvalidInput
from waitpoints.models import AuditEvent, Waitpoint

logger = logging.getLogger(__name__)

# One salt per purpose, so a value signed elsewhere with SECRET_KEY can never pass as a link
# (its old module path, kept: links already sent stay valid).
APPROVAL_LINK_SALT = "waitpoints.dashboard.approval-link"
DECISIONS = ("approve", "reject")
MAX_RECIPIENTS = 20
MAX_SUBJECT_LENGTH = 200
MAX_MESSAGE_LENGTH = 5000


class LinkInvalid(Exception):
    """The link was tampered with or was never issued by this service."""


class LinkExpired(Exception):
    """The link's token deadline has passed."""

    def __init__(self, link: ApprovalLink) -> None:
        super().__init__("approval link expired")
        self.link = link


@dataclass(frozen=True)
class ApprovalLink:
    token_id: str
    decision: str  # "approve" | "reject"
    recipient: str
    expires_at: datetime


def sign_approval_link(*, waitpoint: Waitpoint, decision: str, recipient: str) -> str:
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}")
    payload = {
        "t": waitpoint.id,
        "d": decision,
        "r": recipient,
        # The link expires with the token: the signed expiry cannot be edited.
        "e": int(waitpoint.timeout_at.timestamp()),
    }
    return signing.dumps(payload, salt=APPROVAL_LINK_SALT, compress=True)


def read_approval_link(signed: str, *, now: datetime | None = None) -> ApprovalLink:
    """The link's content; raises LinkInvalid (tampered) or LinkExpired (past the deadline)."""
    try:
        payload = signing.loads(signed, salt=APPROVAL_LINK_SALT)
        link = ApprovalLink(
            token_id=str(payload["t"]),
            decision=str(payload["d"]),
            recipient=str(payload["r"]),
            expires_at=datetime.fromtimestamp(int(payload["e"]), tz=UTC),
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise LinkInvalid() from None
    if link.decision not in DECISIONS:
        raise LinkInvalid()
    if (now or timezone.now()) >= link.expires_at:
        raise LinkExpired(link)
    return link


def approval_url(*, waitpoint: Waitpoint, decision: str, recipient: str) -> str:
    signed = sign_approval_link(waitpoint=waitpoint, decision=decision, recipient=recipient)
    return waitpoints_settings.public_url + reverse("approval-link", args=[signed])


def clean_recipients(value: object, *, field: str = "to") -> list[str]:
    """A list of 1–20 distinct, valid email addresses (one address as a string is fine too)."""
    recipients = [value] if isinstance(value, str) else value
    if not isinstance(recipients, list | tuple) or not recipients:
        raise InvalidInput({field: "must be a non-empty list of email addresses"})
    cleaned: list[str] = []
    for address in recipients:
        if not isinstance(address, str):
            raise InvalidInput({field: "must be a list of email addresses"})
        address = address.strip()
        try:
            validate_email(address)
        except ValidationError:
            raise InvalidInput({field: f"{address!r} is not a valid email address"}) from None
        if address.lower() not in (existing.lower() for existing in cleaned):
            cleaned.append(address)
    if len(cleaned) > MAX_RECIPIENTS:
        raise InvalidInput({field: f"at most {MAX_RECIPIENTS} recipients (got {len(cleaned)})"})
    return cleaned


def approval_emails_send(
    *,
    waitpoint: Waitpoint,
    to: Iterable[str] | str,
    subject: str | None = None,
    message: str = "",
    sent_by: str = "",
    fail_silently: bool = False,
) -> list[str]:
    """Send one HTML + text email per recipient with its own Approve and Reject links.

    Each sent email is audited (EMAIL_SENT). Returns the addresses mailed. A token that is
    already finished gets no email: its links could only show the outcome. With
    `fail_silently`, a recipient whose email cannot be sent is logged and skipped.
    """
    recipients = clean_recipients(list(to) if not isinstance(to, str) else to)
    subject = (subject or "").strip() or f"Approval needed: {waitpoint.title or waitpoint.id}"
    if len(subject) > MAX_SUBJECT_LENGTH or "\n" in subject or "\r" in subject:
        raise InvalidInput({"subject": f"must be one line of at most {MAX_SUBJECT_LENGTH} chars"})
    if not isinstance(message, str) or len(message) > MAX_MESSAGE_LENGTH:
        raise InvalidInput({"message": f"must be text of at most {MAX_MESSAGE_LENGTH} chars"})
    if waitpoint.is_finished:
        raise InvalidInput({"token": f"is already {waitpoint.current_status}"})

    sent: list[str] = []
    connection = get_connection()
    try:
        for recipient in recipients:
            email = _approval_email(waitpoint, recipient, subject, message, connection)
            try:
                email.send()
            except Exception:
                if not fail_silently:
                    raise
                logger.exception("Approval email for %s to %s failed", waitpoint.id, recipient)
                continue
            AuditEvent.objects.create(
                waitpoint=waitpoint,
                action=AuditEvent.Action.EMAIL_SENT,
                via="email",
                actor=sent_by,
                data={"to": recipient, "subject": subject},
            )
            sent.append(recipient)
    finally:
        connection.close()
    return sent


def _approval_email(
    waitpoint: Waitpoint, recipient: str, subject: str, message: str, connection
) -> EmailMultiAlternatives:
    context = {
        "token": waitpoint,
        "message": message,
        "recipient": recipient,
        "approve_url": approval_url(waitpoint=waitpoint, decision="approve", recipient=recipient),
        "reject_url": approval_url(waitpoint=waitpoint, decision="reject", recipient=recipient),
    }
    email = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("emails/approval.txt", context),
        to=[recipient],
        connection=connection,
    )
    email.attach_alternative(render_to_string("emails/approval.html", context), "text/html")
    return email
