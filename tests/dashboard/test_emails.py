"""Emailed approval links: what is sent, GET/HEAD change nothing, POST decides once, and the
pages for tampered, expired and reused links.

Emails are queued on commit; here they are sent in-process by the task's sending function
(the Celery task itself, its retries and real SMTP servers: tests/notifications).
"""

import re
from datetime import timedelta

import pytest
from django.core import mail, signing
from django.test import Client
from django.utils import timezone

from tests.helpers import TOKENS, stored
from waitpoints import wait
from waitpoints.decisions.contract import Contract
from waitpoints.errors import InvalidInput
from waitpoints.models import AuditEvent, CompletionVia, Waitpoint, WaitpointStatus
from waitpoints.notifications import emails
from waitpoints.tokens.services.complete import token_complete, token_force_timeout
from waitpoints.tokens.services.create import token_create

pytestmark = pytest.mark.django_db


def links_in(message) -> dict[str, str]:
    """{"approve": path, "reject": path} from the text body (public URL stripped)."""
    found = re.findall(r"(Approve|Reject): https?://[^/]+(/approve/[^\s]+/)", message.body)
    return {label.lower(): path for label, path in found}


@pytest.fixture
def token(environment):
    return token_create(
        environment=environment,
        timeout="2h",
        title="Refund order #77",
        context={"amount": "129.00", "currency": "EUR"},
    ).waitpoint


def test_sdk_sends_one_email_per_recipient_with_its_own_links(token, settings, send_email):
    settings.WAITPOINTS_PUBLIC_URL = "https://wp.example.com"

    sent = send_email(
        token.id,
        to=["ann@example.com", "bo@example.com"],
        subject="Refund needs you",
        message="Customer says the parcel never arrived.",
    )

    assert sent == ["ann@example.com", "bo@example.com"]
    assert [message.to for message in mail.outbox] == [["ann@example.com"], ["bo@example.com"]]
    first, second = mail.outbox
    assert first.subject == "Refund needs you"
    assert "Refund order #77" in first.body and "parcel never arrived" in first.body
    assert "https://wp.example.com/approve/" in first.body
    html, mimetype = first.alternatives[0]
    assert mimetype == "text/html" and links_in(first)["approve"] in html
    assert links_in(first) != links_in(second)  # signed per recipient
    events = AuditEvent.objects.filter(waitpoint=token, action=AuditEvent.Action.EMAIL_SENT)
    assert sorted(event.data["to"] for event in events) == ["ann@example.com", "bo@example.com"]
    assert {event.actor for event in events} == {"sdk"}


def test_opening_a_link_changes_nothing(client, token, send_email):
    send_email(token.id, to=["ann@example.com"])
    approve = links_in(mail.outbox[0])["approve"]

    page = client.get(approve)
    head = client.head(approve)

    assert page.status_code == 200 and head.status_code == 200
    html = page.content.decode()
    assert "Refund order #77" in html and "&quot;amount&quot;" in html
    assert "Confirm approval" in html and html.count("<form") == 1
    assert (
        page["Cache-Control"].startswith("max-age=0") and page["Referrer-Policy"] == "same-origin"
    )
    assert stored(token.id).status == WaitpointStatus.WAITING
    assert not AuditEvent.objects.filter(waitpoint=token, action="completed").exists()


def test_confirming_decides_once_as_the_recipient(token, send_email):
    send_email(token.id, to=["ann@example.com"])
    reject = links_in(mail.outbox[0])["reject"]
    client = Client(enforce_csrf_checks=True)
    client.get(reject)
    csrf = client.cookies["csrftoken"].value

    response = client.post(reject, {"comment": "not eligible", "csrfmiddlewaretoken": csrf})

    assert response.status_code == 200 and b"Rejected" in response.content
    waitpoint = stored(token.id)
    assert waitpoint.status == WaitpointStatus.COMPLETED
    assert waitpoint.output == {
        "approved": False,
        "status": "rejected",
        "choice": "rejected",
        "fields": {},
        "comment": "not eligible",
        "reviewedBy": "ann@example.com",
    }
    assert (waitpoint.completed_via, waitpoint.completed_by) == (
        CompletionVia.EMAIL,
        "ann@example.com",
    )

    # The same link, or the other decision's link, now only shows the outcome.
    again = client.post(reject, {"csrfmiddlewaretoken": csrf})
    assert b"Already decided" in again.content
    assert b"Rejected by ann@example.com via an emailed link" in again.content
    approve_page = client.get(links_in(mail.outbox[0])["approve"])
    assert b"Already decided" in approve_page.content and b"<form" not in approve_page.content
    assert stored(token.id).output["status"] == "rejected"
    assert AuditEvent.objects.filter(waitpoint=token, action="completed").count() == 1


def test_confirm_post_needs_csrf(token, send_email):
    send_email(token.id, to=["ann@example.com"])
    client = Client(enforce_csrf_checks=True)
    response = client.post(links_in(mail.outbox[0])["approve"], {})
    assert response.status_code == 403
    assert stored(token.id).status == WaitpointStatus.WAITING


def test_link_decided_elsewhere_shows_that_outcome(client, token, environment, send_email):
    send_email(token.id, to=["ann@example.com"])
    token_complete(
        environment=environment, token_id=token.id, data={"ok": 1}, via="api", actor="wp_prod_x"
    )
    response = client.post(links_in(mail.outbox[0])["approve"])
    assert b"Already decided" in response.content and b"via the API" in response.content
    assert stored(token.id).output == {"ok": 1}


def test_tampered_link_shows_a_clear_page(client, token, send_email):
    send_email(token.id, to=["ann@example.com"])
    approve = links_in(mail.outbox[0])["approve"]
    signed = approve.split("/")[2]
    forged = signing.dumps(
        {"t": token.id, "d": "approve", "r": "eve@example.com", "e": 9999999999},
        salt="some-other-purpose",
        compress=True,
    )
    for path in (f"/approve/{signed[:-3]}xyz/", f"/approve/{forged}/", "/approve/nonsense/"):
        for response in (client.get(path), client.post(path)):
            assert response.status_code == 400
            assert b"This link is not valid" in response.content
    assert stored(token.id).status == WaitpointStatus.WAITING


def test_expired_link_shows_a_clear_page(client, token):
    # A link signed when the token's deadline was already past: it must not decide anything.
    token.timeout_at = timezone.now() - timedelta(seconds=1)
    signed = emails.sign_approval_link(waitpoint=token, choice="approved", recipient="a@b.co")

    for response in (client.get(f"/approve/{signed}/"), client.post(f"/approve/{signed}/")):
        assert response.status_code == 410
        assert b"This link has expired" in response.content
    assert stored(token.id).status == WaitpointStatus.WAITING


def test_link_expires_with_the_token():
    class Token:
        id = "waitpoint_x"
        timeout_at = timezone.now() + timedelta(hours=2)
        contract = Contract()

    signed = emails.sign_approval_link(waitpoint=Token, choice="rejected", recipient="a@b.co")
    link = emails.read_approval_link(signed)
    assert (link.token_id, link.choice, link.recipient) == ("waitpoint_x", "rejected", "a@b.co")
    assert abs(link.expires_at - Token.timeout_at) < timedelta(seconds=1)
    with pytest.raises(emails.LinkExpired):
        emails.read_approval_link(signed, now=Token.timeout_at + timedelta(seconds=1))


def test_recipients_are_validated(token, queue):
    for bad in ([], ["not-an-address"], [f"u{i}@example.com" for i in range(21)], [7]):
        with pytest.raises(InvalidInput):
            wait.send_approval_email(token.id, to=bad, environment="prod")
    assert queue.messages == []


def test_finished_token_gets_no_email(token, environment, queue):
    token_force_timeout(environment=environment, token_id=token.id, actor="x")
    with pytest.raises(InvalidInput):
        wait.send_approval_email(token.id, to=["ann@example.com"], environment="prod")
    assert queue.messages == []


def test_api_create_with_notify_emails_each_address(api, queue, django_capture_on_commit_callbacks):
    body = {"timeout": "1h", "title": "Deploy v2", "notify": ["ops@example.com", "cto@example.com"]}
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(TOKENS, body, format="json")

    assert response.status_code == 200
    token_id = response.json()["id"]
    assert mail.outbox == [] and queue.recipients == ["ops@example.com", "cto@example.com"]
    queue.deliver_now()
    assert sorted(message.to[0] for message in mail.outbox) == [
        "cto@example.com",
        "ops@example.com",
    ]
    assert all(token_id in message.body for message in mail.outbox)
    actors = set(
        AuditEvent.objects.filter(waitpoint_id=token_id, action="email_sent").values_list(
            "actor", flat=True
        )
    )
    # Recorded by the key's name (here unnamed: its number), never by its secret's prefix.
    (actor,) = actors
    assert actor.startswith("API key #") and "wp_" not in actor


def test_api_cached_answer_sends_no_email(api, queue, django_capture_on_commit_callbacks):
    body = {"idempotencyKey": "deploy-2", "notify": ["ops@example.com"]}
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post(TOKENS, body, format="json").json()
        second = api.post(TOKENS, body, format="json").json()
    assert second["isCached"] is True and second["id"] == first["id"]
    assert queue.recipients == ["ops@example.com"]


def test_api_rejects_bad_notify_before_creating(api, queue):
    for notify in (["nope"], [f"u{i}@example.com" for i in range(21)], "ops@example.com"):
        response = api.post(TOKENS, {"notify": notify}, format="json")
        assert response.status_code == 422
        assert any(field.startswith("notify") for field in response.json()["details"])
    assert not Waitpoint.objects.exists() and queue.messages == []


def test_api_create_succeeds_when_the_mail_server_fails(
    api, settings, queue, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens there
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(TOKENS, {"notify": ["ops@example.com"]}, format="json")
    assert response.status_code == 200 and queue.recipients == ["ops@example.com"]
    with pytest.raises(OSError):  # the task retries it (tests/notifications)
        queue.deliver_now()
    assert not AuditEvent.objects.filter(action="email_sent").exists()
