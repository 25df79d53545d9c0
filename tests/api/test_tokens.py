"""The waitpoint-token REST API: happy paths with Trigger.dev's exact fields, and every error."""

from datetime import timedelta

import pytest
from django.utils import timezone

from waitpoints.models import AuditEvent, Waitpoint, WaitpointStatus

TOKENS = "/api/v1/waitpoints/tokens"
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
}

pytestmark = pytest.mark.django_db


def create(api, **body):
    response = api.post(TOKENS, body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_create_returns_id_callback_url_and_public_token(api, settings):
    settings.WAITPOINTS_PUBLIC_URL = "https://wp.example.com"
    body = create(api, timeout="1h", tags=["moderation", "user:42"], title="Post #9")

    assert set(body) == {"id", "url", "isCached", "publicAccessToken"}
    assert body["id"].startswith("waitpoint_") and len(body["id"]) >= len("waitpoint_") + 20
    assert body["url"].startswith(f"https://wp.example.com{TOKENS}/{body['id']}/callback/")
    assert body["isCached"] is False
    stored = Waitpoint.objects.get(id=body["id"])
    assert stored.status == WaitpointStatus.WAITING
    assert stored.title == "Post #9"
    assert stored.tag_names == ["moderation", "user:42"]
    assert abs(stored.timeout_at - (timezone.now() + timedelta(hours=1))) < timedelta(seconds=5)


def test_timeout_defaults_to_ten_minutes(api):
    body = create(api)
    stored = Waitpoint.objects.get(id=body["id"])
    expected = stored.created_at + timedelta(minutes=10)
    assert abs(stored.timeout_at - expected) < timedelta(seconds=1)


def test_timeout_accepts_an_iso_date(api):
    moment = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    body = create(api, timeout=moment.isoformat())
    assert Waitpoint.objects.get(id=body["id"]).timeout_at == moment


def test_retrieve_has_token_fields_and_output(api):
    token = create(api, tags="single", idempotencyKey="order-1")
    api.post(f"{TOKENS}/{token['id']}/complete", {"data": {"approved": True}}, format="json")

    body = api.get(f"{TOKENS}/{token['id']}").json()

    assert set(body) == TOKEN_FIELDS | {"output", "outputType", "outputIsError", "error"}
    assert body["status"] == "COMPLETED"
    assert body["output"] == {"approved": True}
    assert body["outputType"] == "application/json"
    assert body["outputIsError"] is False
    assert body["error"] is None
    assert body["tags"] == ["single"]
    assert body["idempotencyKey"] == "order-1"
    assert body["completedAt"].endswith("Z")


def test_complete_stores_output_once_and_audits(api):
    token = create(api)
    first = api.post(f"{TOKENS}/{token['id']}/complete", {"data": {"n": 1}}, format="json")
    second = api.post(f"{TOKENS}/{token['id']}/complete", {"data": {"n": 2}}, format="json")

    assert first.json() == {"success": True}
    assert second.json() == {"success": True}
    stored = Waitpoint.objects.get(id=token["id"])
    assert stored.output == {"n": 1}
    assert stored.completed_via == "api"
    assert AuditEvent.objects.filter(waitpoint=stored, action="completed").count() == 1


def test_callback_with_empty_body_completes_with_empty_object(api, anonymous_api):
    token = create(api)
    response = anonymous_api.post(token["url"].split("http://127.0.0.1:8000")[-1])
    assert response.status_code == 200
    assert response.json() == {"success": True}
    stored = Waitpoint.objects.get(id=token["id"])
    assert (stored.status, stored.output, stored.completed_via) == ("COMPLETED", {}, "callback")


def test_callback_with_wrong_hash_is_401_and_changes_nothing(api, anonymous_api):
    token = create(api)
    response = anonymous_api.post(f"{TOKENS}/{token['id']}/callback/{'0' * 64}", {"x": 1})
    assert response.status_code == 401
    assert "hash" in response.json()["error"]
    assert Waitpoint.objects.get(id=token["id"]).status == WaitpointStatus.WAITING


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timeout": "soon"}, "timeout"),
        ({"timeout": "2001-01-01T00:00:00Z"}, "timeout"),
        ({"idempotencyKey": "k" * 2049}, "idempotencyKey"),
        ({"idempotencyKey": "k", "idempotencyKeyTTL": "1x"}, "idempotencyKeyTTL"),
        ({"tags": [f"t{i}" for i in range(11)]}, "tags"),
        ({"tags": ["x" * 128]}, "tags"),
        ({"tags": {"a": 1}}, "tags"),
        ({"title": "t" * 201}, "title"),
    ],
)
def test_invalid_create_fields_are_422_naming_the_field(api, body, field):
    response = api.post(TOKENS, body, format="json")
    assert response.status_code == 422, response.content
    assert field in response.json()["details"]
    assert field in response.json()["error"]
    assert Waitpoint.objects.count() == 0


def test_non_json_body_is_400(api):
    response = api.post(TOKENS, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.json()["error"]


def test_oversize_create_body_is_413(api):
    response = api.post(TOKENS, {"context": "x" * (65 * 1024)}, format="json")
    assert response.status_code == 413
    assert Waitpoint.objects.count() == 0


def test_missing_and_bad_credentials_are_401(anonymous_api):
    assert anonymous_api.get(TOKENS).status_code == 401
    anonymous_api.credentials(HTTP_AUTHORIZATION="Bearer wp_prod_nope")
    response = anonymous_api.get(TOKENS)
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid API key"}


def test_unknown_token_is_404(api):
    response = api.get(f"{TOKENS}/waitpoint_doesnotexist")
    assert response.status_code == 404
    assert "not found" in response.json()["error"]


def test_wrong_method_is_405(api):
    response = api.delete(TOKENS)
    assert response.status_code == 405
    assert "DELETE" in response.json()["error"]


def test_other_environment_cannot_see_or_complete(api, other_api):
    token = create(api)
    assert other_api.get(f"{TOKENS}/{token['id']}").status_code == 404
    response = other_api.post(f"{TOKENS}/{token['id']}/complete", {"data": 1}, format="json")
    assert response.status_code == 404
    assert other_api.get(TOKENS).json()["data"] == []
    assert Waitpoint.objects.get(id=token["id"]).status == WaitpointStatus.WAITING
