"""Emailed one-click approval links: signing and verifying them, validating and rendering emails.

A link is signed for one token, one of its options and one recipient, and expires with the token.
Opening it only shows a confirmation page; the POST from that page decides (mail scanners
open links, they don't submit forms).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from waitpoints.conf import waitpoints_settings
from waitpoints.core.validation import clean_text, has_control_characters
from waitpoints.display.context import context_fields, context_text
from waitpoints.errors import ErrorCode, InvalidInput, WaitpointsError
from waitpoints.models import Waitpoint

# One salt per purpose, so a value signed elsewhere with SECRET_KEY can never pass as a link
# (its old module path, kept: links already sent stay valid).
APPROVAL_LINK_SALT = "waitpoints.dashboard.approval-link"
# Links sent before options existed sign one of these verbs; each names a default option.
LEGACY_DECISIONS = {"approve": "approved", "reject": "rejected"}
MAX_RECIPIENTS = 20
MAX_SUBJECT_LENGTH = 200
MAX_MESSAGE_LENGTH = 5000
DEFAULT_SUBJECT_PREFIX = "Approval needed: "


class LinkInvalid(WaitpointsError):
    """The link was tampered with or was never issued by this service."""

    code = ErrorCode.INVALID_APPROVAL_LINK

    def __init__(self) -> None:
        super().__init__("approval link invalid")


class LinkExpired(WaitpointsError):
    """The link's token deadline has passed."""

    code = ErrorCode.APPROVAL_LINK_EXPIRED

    def __init__(self, link: ApprovalLink) -> None:
        super().__init__("approval link expired")
        self.link = link


@dataclass(frozen=True)
class ApprovalLink:
    token_id: str
    choice: str  # the value of one of the token's options
    recipient: str
    expires_at: datetime


def sign_approval_link(*, waitpoint: Waitpoint, choice: str, recipient: str) -> str:
    if waitpoint.contract.option(choice) is None:
        raise ValueError(f"{choice!r} is not an option of {waitpoint.id}")
    payload = {
        "t": waitpoint.id,
        "c": choice,
        "r": recipient,
        # The link expires with the token: the signed expiry cannot be edited.
        "e": int(waitpoint.timeout_at.timestamp()),
    }
    return signing.dumps(payload, salt=APPROVAL_LINK_SALT, compress=True)


def read_approval_link(signed: str, *, now: datetime | None = None) -> ApprovalLink:
    """The link's content; raises LinkInvalid (tampered) or LinkExpired (past the deadline).
    Whether its choice is still an option of the token is the page's check (it has the token)."""
    try:
        payload = signing.loads(signed, salt=APPROVAL_LINK_SALT)
        choice = payload["c"] if "c" in payload else LEGACY_DECISIONS[payload["d"]]
        link = ApprovalLink(
            token_id=str(payload["t"]),
            choice=str(choice),
            recipient=str(payload["r"]),
            expires_at=datetime.fromtimestamp(int(payload["e"]), tz=UTC),
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise LinkInvalid() from None
    if (now or timezone.now()) >= link.expires_at:
        raise LinkExpired(link)
    return link


def approval_url(*, waitpoint: Waitpoint, choice: str, recipient: str) -> str:
    signed = sign_approval_link(waitpoint=waitpoint, choice=choice, recipient=recipient)
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
        if has_control_characters(address):
            # CR/LF and friends would end up in the To: header (Django refuses some at send
            # time, a retry loop; others make a malformed header): refuse them up front.
            raise InvalidInput({field: f"{address!r} contains control characters"})
        try:
            validate_email(address)
        except ValidationError:
            raise InvalidInput({field: f"{address!r} is not a valid email address"}) from None
        if address.lower() not in (existing.lower() for existing in cleaned):
            cleaned.append(address)
    if len(cleaned) > MAX_RECIPIENTS:
        raise InvalidInput({field: f"at most {MAX_RECIPIENTS} recipients (got {len(cleaned)})"})
    return cleaned


@dataclass(frozen=True)
class ApprovalRequest:
    """Validated approval emails to queue: nothing about it can fail at send time but SMTP."""

    recipients: tuple[str, ...]
    subject: str  # "" is the default subject, built from the token at send time
    message: str


def clean_approval_request(
    *, to: object, subject: str | None = None, message: str = "", field: str = "to"
) -> ApprovalRequest:
    """Validate recipients, subject and message before anything is stored or queued.

    Every bad field is reported in one InvalidInput; the recipients under `field` (the API's
    create calls them `notify`).
    """
    details: dict[str, str] = {}
    recipients: list[str] = []
    try:
        recipients = clean_recipients(to, field=field)
    except InvalidInput as exc:
        details.update(exc.details)
    # NUL or a lone surrogate would only fail at send time (encoding) or in the audit row.
    try:
        subject = clean_text(
            subject or "", field="subject", max_length=MAX_SUBJECT_LENGTH, allow_empty=True
        ).strip()
        if "\n" in subject or "\r" in subject:
            raise InvalidInput({"subject": "must be one line"})
    except InvalidInput as exc:
        details.update(exc.details)
    try:
        clean_text(message, field="message", max_length=MAX_MESSAGE_LENGTH, allow_empty=True)
    except InvalidInput as exc:
        details.update(exc.details)
    if details:
        raise InvalidInput(details)
    return ApprovalRequest(recipients=tuple(recipients), subject=subject, message=message)


def default_subject(waitpoint: Waitpoint) -> str:
    """The subject "Approval needed: <title or id>": one line of at most MAX_SUBJECT_LENGTH.

    A title may hold newlines and be as long as the subject limit: it is flattened and cut
    rather than refused, so a title valid for the token never fails its emails.
    """
    title = "".join(char if char.isprintable() else " " for char in waitpoint.title or "")
    title = " ".join(title.split()) or waitpoint.id
    room = MAX_SUBJECT_LENGTH - len(DEFAULT_SUBJECT_PREFIX)
    if len(title) > room:
        title = title[: room - 1].rstrip() + "\u2026"
    return DEFAULT_SUBJECT_PREFIX + title


def approval_email(
    waitpoint: Waitpoint, recipient: str, subject: str, message: str
) -> EmailMultiAlternatives:
    """One recipient's email (HTML + text) with its own signed link per option of the token
    (each opens a confirm page; with a form, the form is on that page)."""
    contract = waitpoint.contract
    context = {
        "token": waitpoint,
        "message": message,
        "recipient": recipient,
        "has_form": contract.schema is not None,
        "links": [
            (option, approval_url(waitpoint=waitpoint, choice=option.value, recipient=recipient))
            for option in contract.options
        ],
        "context_fields": context_fields(waitpoint.context, waitpoint.display),
        "context_text": context_text(waitpoint.context, waitpoint.display),
    }
    email = EmailMultiAlternatives(
        subject=subject or default_subject(waitpoint),
        body=render_to_string("emails/approval.txt", context),
        to=[recipient],
    )
    email.attach_alternative(render_to_string("emails/approval.html", context), "text/html")
    return email
