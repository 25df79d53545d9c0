"""The audit trail reads as sentences: who decided what, with the comment, by which way; API keys
by their name, never by their secret's prefix."""

import re

import pytest
from django.core import mail

from tests.dashboard.test_emails import links_in
from tests.helpers import TOKENS
from tests.notifications.support import queued_emails
from waitpoints.environments.services import api_key_create
from waitpoints.models import AuditEvent
from waitpoints.tokens.services.complete import token_complete

pytestmark = pytest.mark.django_db


def trail(client, token_id: str) -> list[str]:
    page = client.get(f"/dashboard/tokens/{token_id}/").content.decode()
    return [chunk.split("</span>", 1)[0] for chunk in page.split("data-audit-sentence>")[1:]]


def test_dashboard_rejection_says_who_what_and_why(reviewer_client, make_token):
    token = make_token(title="Post #5010")
    reviewer_client.post(
        f"/dashboard/tokens/{token.id}/decide/", {"choice": "rejected", "comment": "spam"}
    )
    assert (
        trail(reviewer_client, token.id)[-1] == "Rejected by alice — &#x27;spam&#x27; (dashboard)"
    )


def test_approval_without_comment(reviewer_client, make_token):
    token = make_token()
    reviewer_client.post(f"/dashboard/tokens/{token.id}/decide/", {"choice": "approved"})
    assert trail(reviewer_client, token.id)[-1] == "Approved by alice (dashboard)"


def test_forced_timeout_names_the_reviewer(reviewer_client, make_token):
    token = make_token()
    reviewer_client.post(f"/dashboard/tokens/{token.id}/timeout/")
    assert trail(reviewer_client, token.id)[-1] == "Timed out by alice (forced)"


def test_api_key_appears_by_its_name(
    reviewer_client, environment, monkeypatch, django_capture_on_commit_callbacks
):
    from rest_framework.test import APIClient

    issued = api_key_create(environment=environment, name="billing service")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    queue = queued_emails(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        with_email = api.post(TOKENS, {"notify": ["x@example.com"]}, format="json").json()
    queue.deliver_now()
    completed = api.post(TOKENS, {}, format="json").json()
    api.post(f"{TOKENS}/{completed['id']}/complete", {"data": {"ok": 1}}, format="json")

    assert trail(reviewer_client, with_email["id"]) == [
        "Approval email sent to x@example.com (API key &#x27;billing service&#x27;)"
    ]
    assert trail(reviewer_client, completed["id"]) == [
        "Completed by API key &#x27;billing service&#x27; (API)"
    ]
    prefix = issued.api_key.prefix
    assert not AuditEvent.objects.filter(actor__contains=prefix).exists()
    for token_id in (with_email["id"], completed["id"]):
        page = reviewer_client.get(f"/dashboard/tokens/{token_id}/").content.decode()
        assert prefix not in page


def test_emailed_decision_and_callback_and_deadline(
    client, reviewer_client, make_token, monkeypatch, django_capture_on_commit_callbacks
):
    from waitpoints import wait

    queue = queued_emails(monkeypatch)
    emailed = make_token()
    with django_capture_on_commit_callbacks(execute=True):
        wait.send_approval_email(emailed.id, to="ann@example.com", environment="prod")
    queue.deliver_now()
    confirm = links_in(mail.outbox[0])["reject"]
    client.get(confirm)
    client.post(confirm, {"comment": "not ours"})
    assert trail(reviewer_client, emailed.id) == [
        "Approval email sent to ann@example.com (the Python SDK)",
        "Rejected by ann@example.com — &#x27;not ours&#x27; (emailed link)",
    ]

    called_back = make_token()
    client.post(_callback(called_back), {}, content_type="application/json")
    assert trail(reviewer_client, called_back.id) == ["Completed (callback URL)"]


def _callback(token) -> str:
    from tests.helpers import path_of
    from waitpoints.tokens.callbacks import callback_url

    return path_of(callback_url(token))


def test_legacy_events_never_show_a_key_prefix(reviewer_client, make_token, environment):
    token = make_token()
    token_complete(
        environment=environment, token_id=token.id, data=1, via="api", actor="wp_prod_LccgO0"
    )
    assert trail(reviewer_client, token.id) == ["Completed by an API key (API)"]


def test_a_new_action_is_one_entry(monkeypatch):
    from types import SimpleNamespace

    from waitpoints.display import audit

    monkeypatch.setitem(audit.SENTENCES, "extended", "Deadline extended{by}{how}")
    event = SimpleNamespace(
        action="extended", via="dashboard", actor="bob", data=None, created_at=None
    )
    assert audit.audit_line(event).sentence == "Deadline extended by bob (dashboard)"
    choice = SimpleNamespace(
        action="completed",
        via="api",
        actor="API key 'ci'",
        data={"choice": "retry"},
        created_at=None,
    )
    assert audit.audit_line(choice).sentence == "Chose 'retry' by API key 'ci' (API)"


def test_failure_extension_and_a_deciding_deadline_read_as_sentences(
    reviewer_client, make_token, environment
):
    from datetime import timedelta

    from django.utils import timezone

    from waitpoints.tokens.services.complete import token_fail
    from waitpoints.tokens.services.expiry import waitpoints_sweep_due
    from waitpoints.tokens.services.extend import token_extend

    failed = make_token()
    token_extend(
        environment=environment, token_id=failed.id, timeout="2h", via="api", actor="ci-bot"
    )
    token_fail(
        environment=environment,
        token_id=failed.id,
        error={"message": "card declined"},
        actor="ci-bot",
    )
    lines = trail(reviewer_client, failed.id)
    # The new deadline as a date, not a raw ISO string: "2026-12-01 20:34 UTC".
    assert re.fullmatch(
        r"Deadline extended to \d{4}-\d\d-\d\d \d\d:\d\d UTC by ci-bot \(API\)", lines[-2]
    )
    assert lines[-1] == "Failed by ci-bot — &#x27;card declined&#x27;"

    decided = make_token(
        timeout="1s",
        timeout_output={"choice": "skip"},
        response={"options": [{"value": "ship"}, {"value": "skip"}]},
    )
    waitpoints_sweep_due(now=timezone.now() + timedelta(seconds=5))
    assert trail(reviewer_client, decided.id)[-1] == "Chose &#x27;skip&#x27; (the deadline decided)"
