"""Approval emails are queued on commit and sent by a Celery task: a create never waits on SMTP,
a failed send is retried and logged, a retry never mails anyone twice, and everything about the
emails is validated before the token is stored.

Transactional: the task runs here through Celery's `apply` (its database hooks need a real
commit), with the real SMTP backend against servers on loopback.
"""

import logging
import socket
import threading
import time
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from django.core import mail

from tests.helpers import TOKENS
from tests.notifications.support import queued_emails
from tests.processes import free_port
from waitpoints import wait
from waitpoints.celery_tasks import EMAIL_MAX_RETRIES
from waitpoints.errors import InvalidInput
from waitpoints.models import AuditEvent, Waitpoint
from waitpoints.notifications.emails import MAX_SUBJECT_LENGTH
from waitpoints.tokens.services.complete import token_complete
from waitpoints.tokens.services.create import token_create

pytestmark = pytest.mark.django_db(transaction=True)


class SilentSMTPServer:
    """Accepts connections and never answers: not even the greeting.

    Each connection is held for `hold_seconds`, so code without a mail timeout is stuck that
    long (and then fails the assertions) instead of hanging the suite.
    """

    def __init__(self, hold_seconds: float = 5) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.hold_seconds = hold_seconds
        self.connections = 0
        self._held: list[tuple[float, socket.socket]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                pass
            else:
                self.connections += 1
                self._held.append((time.monotonic() + self.hold_seconds, connection))
            for entry in [held for held in self._held if held[0] < time.monotonic()]:
                self._held.remove(entry)
                entry[1].close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        for _, connection in self._held:
            connection.close()
        self.listener.close()


class RecordingHandler:
    """An aiosmtpd handler that keeps every message; `refuse[address] = n` answers 451 to that
    recipient the next n times."""

    def __init__(self) -> None:
        self.messages = []
        self.refuse: dict[str, int] = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse.get(address, 0) > 0:
            self.refuse[address] -= 1
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 Message accepted"

    def sent_to(self, address: str) -> list:
        return [message for message in self.messages if message["To"] == address]


def use_smtp(settings, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port


@pytest.fixture
def silent_smtp(settings):
    server = SilentSMTPServer()
    use_smtp(settings, server.port)
    yield server
    server.stop()


@pytest.fixture
def smtp(settings):
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    use_smtp(settings, controller.port)
    yield handler
    controller.stop()


@pytest.fixture
def queue(monkeypatch):
    return queued_emails(monkeypatch)


def emails_audited(token_id: str) -> list[str]:
    events = AuditEvent.objects.filter(waitpoint_id=token_id, action=AuditEvent.Action.EMAIL_SENT)
    return sorted(event.data["to"] for event in events)


def test_create_with_notify_answers_without_waiting_on_a_silent_mail_server(
    api, silent_smtp, queue, settings, caplog
):
    assert 0 < settings.EMAIL_TIMEOUT <= 60  # set by default: no send can hang a worker
    response = api.post(
        TOKENS, {"title": "Deploy v2", "notify": ["ops@example.com"]}, format="json"
    )

    assert response.status_code == 200
    token_id = response.json()["id"]
    assert Waitpoint.objects.filter(id=token_id).exists()
    assert silent_smtp.connections == 0  # the create never talked to the mail server
    assert queue.recipients == ["ops@example.com"]

    settings.EMAIL_TIMEOUT = 0.3
    with caplog.at_level(logging.WARNING, logger="waitpoints.celery_tasks"):
        (result,) = queue.deliver()

    assert result.failed()  # every attempt timed out; the last one gave up
    assert silent_smtp.connections == EMAIL_MAX_RETRIES + 1
    failures = [r for r in caplog.records if r.name == "waitpoints.celery_tasks"]
    assert len(failures) == EMAIL_MAX_RETRIES + 1
    assert all(token_id in r.getMessage() and "ops@example.com" in r.getMessage() for r in failures)
    assert "will retry" in failures[0].getMessage() and "giving up" in failures[-1].getMessage()
    assert emails_audited(token_id) == []
    assert Waitpoint.objects.filter(id=token_id).exists()


def test_each_recipient_gets_one_email_and_a_retry_mails_nobody_twice(api, smtp, queue, settings):
    settings.WAITPOINTS_PUBLIC_URL = "https://wp.example.com"
    smtp.refuse["bo@example.com"] = EMAIL_MAX_RETRIES + 1  # more than one task can take
    body = {"title": "Deploy v2", "notify": ["ann@example.com", "bo@example.com"]}
    token_id = api.post(TOKENS, body, format="json").json()["id"]

    first = queue.deliver()

    assert [result.successful() for result in first] == [True, False]
    assert len(smtp.sent_to("ann@example.com")) == 1 and smtp.sent_to("bo@example.com") == []
    assert emails_audited(token_id) == ["ann@example.com"]

    # Both messages again, as a broker redelivers them: ann's finds its audit row and sends
    # nothing; bo's is sent now (the server answers 451 once more, so it is retried first).
    smtp.refuse["bo@example.com"] = 1
    again = queue.deliver()

    assert all(result.successful() for result in again)
    assert len(smtp.sent_to("ann@example.com")) == 1 and len(smtp.sent_to("bo@example.com")) == 1
    assert emails_audited(token_id) == ["ann@example.com", "bo@example.com"]
    links = set()
    for message in smtp.messages:
        assert message["Subject"] == "Approval needed: Deploy v2"
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        for label in ("Approve", "Reject"):
            url = text.split(f"{label}: ", 1)[1].split()[0]
            assert url.startswith("https://wp.example.com/approve/") and url in html
            links.add(url)
        assert token_id in text
    assert len(links) == 4  # signed per recipient and decision


def test_a_token_finished_before_sending_gets_no_email(api, environment, smtp, queue, caplog):
    token_id = api.post(TOKENS, {"notify": ["ann@example.com"]}, format="json").json()["id"]
    token_complete(environment=environment, token_id=token_id, data={}, via="api", actor="x")

    with caplog.at_level(logging.INFO, logger="waitpoints.notifications.delivery"):
        (result,) = queue.deliver()

    assert result.successful() and smtp.messages == []
    assert emails_audited(token_id) == []
    assert any("already COMPLETED" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("title", ["R" * 190, "Deploy\nv2\r\nnow", "\n"])
def test_a_title_that_cannot_be_a_subject_is_flattened_and_cut(api, queue, title):
    response = api.post(TOKENS, {"title": title, "notify": ["ops@example.com"]}, format="json")

    assert response.status_code == 200
    token = Waitpoint.objects.get(id=response.json()["id"])
    assert token.title == title  # the token keeps its title as given
    assert queue.deliver_now() == [True]
    subject = mail.outbox[0].subject
    mail.outbox[0].message()  # what the SMTP backend sends: refuses a header with a newline
    assert len(subject) <= MAX_SUBJECT_LENGTH and "\n" not in subject and "\r" not in subject
    assert (
        subject
        == {
            "R" * 190: "Approval needed: " + "R" * 182 + "\u2026",
            "Deploy\nv2\r\nnow": "Approval needed: Deploy v2 now",
            "\n": f"Approval needed: {token.id}",
        }[title]
    )


def test_bad_notify_is_refused_with_the_other_fields_and_nothing_is_stored(environment, queue):
    with pytest.raises(InvalidInput) as refused:
        token_create(
            environment=environment, timeout="soon", title="Deploy", notify=["ops@", "a@b.co"]
        )

    assert set(refused.value.details) == {"timeout", "notify"}
    assert "'ops@'" in refused.value.details["notify"]
    for notify in ([], [7], "not an address", [f"u{i}@example.com" for i in range(21)]):
        with pytest.raises(InvalidInput) as refused:
            token_create(environment=environment, notify=notify)
        assert set(refused.value.details) == {"notify"}
    assert not Waitpoint.objects.exists() and queue.messages == []


def test_api_bad_notify_is_a_422_and_nothing_is_stored(api, queue):
    response = api.post(
        TOKENS, {"title": "R" * 190, "notify": ["ops@example.com", "nope"]}, format="json"
    )

    assert response.status_code == 422
    assert any(field.startswith("notify") for field in response.json()["details"])
    assert not Waitpoint.objects.exists() and queue.messages == []


def test_an_idempotent_replay_queues_nothing(api, queue):
    body = {"idempotencyKey": "deploy-2", "notify": ["ops@example.com"]}
    first = api.post(TOKENS, body, format="json").json()
    second = api.post(TOKENS, body, format="json").json()

    assert second["isCached"] is True and second["id"] == first["id"]
    assert queue.recipients == ["ops@example.com"]


def test_sdk_validates_before_queuing(environment, queue):
    token = token_create(environment=environment, title="Deploy").waitpoint
    for fields in (
        {"to": ["ops@example.com"], "subject": "two\nlines"},
        {"to": ["ops@example.com"], "subject": "s" * (MAX_SUBJECT_LENGTH + 1)},
        {"to": ["ops@example.com"], "message": "m" * 5001},
        {"to": ["ops@example.com"], "subject": "nul\x00"},
        {"to": ["ops@example.com"], "message": "lone \ud800"},
        {"to": ["nope"]},
    ):
        with pytest.raises(InvalidInput):
            wait.send_approval_email(token.id, environment="prod", **fields)
    assert queue.messages == []

    sent = wait.send_approval_email(
        token.id, to=["ops@example.com", "OPS@example.com", "cto@example.com"], environment="prod"
    )

    assert sent == ["ops@example.com", "cto@example.com"] == queue.recipients
