"""`POST .../fail` and `POST .../extend` (README, "Fail and extend")."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tests.helpers import TOKENS, assert_unchanged, stored
from waitpoints.models import AuditEvent, WaitpointStatus
from waitpoints.tokens.services.expiry import waitpoints_sweep_due

pytestmark = pytest.mark.django_db

ERROR = {"message": "Card declined", "name": "PaymentError", "data": {"code": 51}}


def fail(client, token, error):
    return client.post(f"{TOKENS}/{token['id']}/fail", {"error": error}, format="json")


def extend(client, token, timeout):
    return client.post(f"{TOKENS}/{token['id']}/extend", {"timeout": timeout}, format="json")


def test_fail_ends_the_token_with_its_error(api, create_token):
    token = create_token()
    assert fail(api, token, ERROR).json() == {"success": True}
    body = api.get(f"{TOKENS}/{token['id']}").json()
    assert body["status"] == "COMPLETED"
    assert body["outputIsError"] is True
    assert body["output"] == body["error"] == ERROR
    assert body["resolution"]["via"] == "fail"
    assert AuditEvent.objects.filter(waitpoint_id=token["id"], action="failed").count() == 1


def test_fail_with_the_tokens_public_access_token(anonymous_api, create_token):
    token = create_token()
    anonymous_api.credentials(HTTP_AUTHORIZATION=f"Bearer {token['publicAccessToken']}")
    assert fail(anonymous_api, token, {"message": "no"}).status_code == 200
    assert stored(token).output == {"message": "no"}
    other = create_token()
    assert fail(anonymous_api, other, {"message": "no"}).status_code == 403
    assert_unchanged(other)


@pytest.mark.parametrize(
    ("error", "field"),
    [
        ("boom", "error"),
        ({}, "error.message"),
        ({"message": ""}, "error.message"),
        ({"message": 5}, "error.message"),
        ({"message": "x", "name": 3}, "error.name"),
        ({"message": "x", "stack": "..."}, "error.stack"),
    ],
)
def test_a_bad_error_is_refused(api, create_token, error, field):
    token = create_token()
    response = fail(api, token, error)
    assert response.status_code == 422 and field in response.json()["details"], response.content
    assert_unchanged(token)


def test_first_finish_wins_between_complete_and_fail(api, create_token):
    completed_first, failed_first = create_token(), create_token()
    api.post(f"{TOKENS}/{completed_first['id']}/complete", {"data": 1}, format="json")
    assert fail(api, completed_first, ERROR).status_code == 200
    assert stored(completed_first).output == 1 and not stored(completed_first).output_is_error
    assert fail(api, failed_first, ERROR).status_code == 200
    api.post(f"{TOKENS}/{failed_first['id']}/complete", {"data": 1}, format="json")
    assert stored(failed_first).output == ERROR and stored(failed_first).output_is_error


def test_extend_moves_the_deadline_by_a_duration_or_to_a_date(api, create_token):
    token = create_token(timeout="1h")
    before = timezone.now()
    response = extend(api, token, "3h")
    assert response.status_code == 200, response.content
    deadline = stored(token).timeout_at
    assert before + timedelta(hours=3) <= deadline <= timezone.now() + timedelta(hours=3)
    assert response.json()["timeoutAt"] == deadline.isoformat().replace("+00:00", "Z")
    later = (deadline + timedelta(days=1)).astimezone(UTC).replace(microsecond=0)
    assert extend(api, token, later.isoformat()).status_code == 200
    assert stored(token).timeout_at == later
    events = AuditEvent.objects.filter(waitpoint_id=token["id"], action="extended")
    assert events.count() == 2 and events.first().actor


@pytest.mark.parametrize("timeout", ["30m", "2020-01-01T00:00:00Z", "soon", ""])
def test_extend_refuses_a_deadline_not_later(api, create_token, timeout):
    token = create_token(timeout="1h")
    deadline = stored(token).timeout_at
    response = extend(api, token, timeout)
    assert response.status_code == 422 and "timeout" in response.json()["details"]
    assert stored(token).timeout_at == deadline


def test_extend_a_finished_token_is_409(api, create_token):
    token = create_token()
    api.post(f"{TOKENS}/{token['id']}/complete", {"data": 1}, format="json")
    response = extend(api, token, "2h")
    assert response.status_code == 409 and response.json()["code"] == "already_finished"


def test_the_sweeper_respects_the_new_deadline(api, create_token):
    token = create_token(timeout="1h")
    old_deadline = stored(token).timeout_at
    assert extend(api, token, "2h").status_code == 200
    assert waitpoints_sweep_due(now=old_deadline + timedelta(seconds=1)) == 0
    assert stored(token).status == WaitpointStatus.WAITING
    assert waitpoints_sweep_due(now=stored(token).timeout_at + timedelta(seconds=1)) == 1
    assert stored(token).status == WaitpointStatus.TIMED_OUT


def test_extend_refuses_a_token_past_its_deadline(api, create_token):
    token = create_token(timeout="1h")
    waitpoint = stored(token)
    waitpoint.timeout_at = datetime.now(UTC) - timedelta(seconds=1)
    waitpoint.save(update_fields=["timeout_at"])
    assert extend(api, token, "2h").status_code == 409
