"""Dashboard fixtures: tokens to review (the reviewer and viewer are in tests/conftest.py)."""

import pytest

from tests.notifications.support import queued_emails
from waitpoints import wait
from waitpoints.tokens.services.create import token_create


@pytest.fixture
def make_token(environment):
    def make(**fields):
        fields.setdefault("timeout", "1h")
        env = fields.pop("environment", environment)
        return token_create(environment=env, **fields).waitpoint

    return make


@pytest.fixture(autouse=True)
def decide_at_once(settings):
    """Dashboard decisions are recorded at once here; test_undo.py sets the undo window."""
    settings.WAITPOINTS_DASHBOARD_UNDO_SECONDS = 0


@pytest.fixture
def queue(monkeypatch):
    return queued_emails(monkeypatch)


@pytest.fixture
def send_email(queue, django_capture_on_commit_callbacks):
    """`wait.send_approval_email` in "prod", then its queued emails sent, as the task sends them."""

    def send(token_id: str, **fields):
        queue.messages.clear()
        with django_capture_on_commit_callbacks(execute=True):
            addresses = wait.send_approval_email(token_id, environment="prod", **fields)
        queue.deliver_now()
        return addresses

    return send
