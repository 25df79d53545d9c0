"""The waitpoint-token REST API: happy paths with Trigger.dev's exact fields.

Error answers are in test_errors.py, the callback URL in test_callback.py, environments' isolation
in test_environments.py.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.helpers import TOKENS
from waitpoints.models import AuditEvent, Waitpoint, WaitpointStatus

TOKEN_FIELDS = {
    "id",
    "url",
    "status",
    "completedAt",
    "timeoutAt",
    "idempotencyKey",
    "idempotencyKeyExpiresAt",
    "tags",
    "createdAt",
    "title",
    "context",
    "response",
    "resolution",
    "display",
}

pytestmark = pytest.mark.django_db


def test_create_returns_id_callback_url_and_public_token(create_token, settings):
    settings.WAITPOINTS_PUBLIC_URL = "https://wp.example.com"
    body = create_token(timeout="1h", tags=["moderation", "user:42"], title="Post #9")

    assert set(body) == {"id", "url", "isCached", "publicAccessToken"}
    assert body["id"].startswith("waitpoint_") and len(body["id"]) >= len("waitpoint_") + 20
    assert body["url"].startswith(f"https://wp.example.com{TOKENS}/{body['id']}/callback/")
    assert body["isCached"] is False
    stored = Waitpoint.objects.get(id=body["id"])
    assert stored.status == WaitpointStatus.WAITING
    assert stored.title == "Post #9"
    assert stored.tag_names == ["moderation", "user:42"]
    assert abs(stored.timeout_at - (timezone.now() + timedelta(hours=1))) < timedelta(seconds=5)


def test_timeout_defaults_to_ten_minutes(create_token):
    body = create_token()
    stored = Waitpoint.objects.get(id=body["id"])
    expected = stored.created_at + timedelta(minutes=10)
    assert abs(stored.timeout_at - expected) < timedelta(seconds=1)


def test_timeout_accepts_an_iso_date(create_token):
    moment = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    body = create_token(timeout=moment.isoformat())
    assert Waitpoint.objects.get(id=body["id"]).timeout_at == moment


def test_retrieve_has_token_fields_and_output(api, create_token):
    token = create_token(tags="single", idempotencyKey="order-1")
    api.post(f"{TOKENS}/{token['id']}/complete", {"data": {"approved": True}}, format="json")

    body = api.get(f"{TOKENS}/{token['id']}").json()

    assert set(body) == TOKEN_FIELDS | {
        "output",
        "outputType",
        "outputIsError",
        "reviewers",
        "requestedBy",
        "approvals",
        "votes",
        "error",
        "timeoutOutput",
    }
    assert body["status"] == "COMPLETED"
    assert body["output"] == {"approved": True}
    assert body["outputType"] == "application/json"
    assert body["outputIsError"] is False
    assert body["error"] is None
    assert body["tags"] == ["single"]
    assert body["idempotencyKey"] == "order-1"
    assert body["completedAt"].endswith("Z")


def test_complete_stores_output_once_and_audits(api, create_token):
    token = create_token()
    first = api.post(f"{TOKENS}/{token['id']}/complete", {"data": {"n": 1}}, format="json")
    second = api.post(f"{TOKENS}/{token['id']}/complete", {"data": {"n": 2}}, format="json")

    assert first.json() == {"success": True}
    assert second.json() == {"success": True}
    stored = Waitpoint.objects.get(id=token["id"])
    assert stored.output == {"n": 1}
    assert stored.completed_via == "api"
    assert AuditEvent.objects.filter(waitpoint=stored, action="completed").count() == 1
